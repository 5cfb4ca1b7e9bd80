"""The hand-over between committees under adversity: seeded schedules of
``tests/unit/epoch_sim.py`` (stewards added, removed, the threshold changed; Byzantine
stewards in both committees; an equivocating member in both epochs; drops, duplicates,
reordering; crashes between persisting a lock, a seal or a hand-over and acting on it).
In each: no two conflicting orders are certified across the change (among every
certificate anyone formed, in either epoch), honest members end in the same epoch with
the same state, value is conserved, and every honest payer's orders took effect exactly
once, the payer told which epoch's certificate applied each. Each chunk also checks that
the adversary really acted (crashes, Byzantine stewards in each committee, orders carried
over the hand-over, refused messages).

``make test`` runs 1,040 schedules (each about 0.1 s on this machine);
``HYPOTHESIS_PROFILE=thorough`` (``make fuzz``) runs 13,000."""

from __future__ import annotations

import pytest

from tests.unit.epoch_sim import ByzantineSteward, EpochSim
from tests.unit.scale import SCALE

SCHEDULES = 130 * SCALE
CHUNK = SCHEDULES // 8


@pytest.mark.parametrize("start", range(0, SCHEDULES, CHUNK))
def test_no_order_is_certified_twice_or_lost_across_a_hand_over(start: int) -> None:
    totals = dict.fromkeys(("crashes", "byz_old", "byz_new", "carried", "refused", "late"), 0)
    for seed in range(start, start + CHUNK):
        sim = EpochSim(seed)
        try:
            sim.run()
            sim.check()
        except AssertionError as exc:
            raise AssertionError(f"schedule seed={seed} failed: {exc}") from exc
        assert sim.handover is not None
        byz = {s for s, n in sim.stewards.items() if isinstance(n, ByzantineSteward)}
        totals["crashes"] += sim.crashes
        totals["byz_old"] += len(byz & set(sim.genesis_epochs.current.stewards))
        totals["byz_new"] += len(byz & set(sim.handover.next.stewards))
        totals["carried"] += sum(len(s.locks) for s in sim.handover.seals)
        totals["refused"] += sim.refused
        totals["late"] += sum(1 for c in sim.clients for e in c.told.values() if e == 1)
    assert all(v > 0 for v in totals.values()), f"the adversary never acted: {totals}"
