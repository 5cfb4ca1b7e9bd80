"""Consensus-free payments under adversity: seeded schedules of the simulator in
``tests/unit/sim.py``, with drops, duplicates, reordering, steward crashes, up to f
Byzantine stewards that vote for anything, a member that equivocates, and a member that
replays everything it saw and certificates of another group. In each:
honest members end with identical state, no balance goes negative, no two conflicting
orders are both certified, value is conserved, and every honest client's orders are
certified (liveness once the network heals); no replayed or foreign message changed an
honest member's state. Each chunk also checks that its adversary really acted (messages
dropped as invalid, stewards crashed and Byzantine, replays sent, orders certified).

``make test`` runs 240 schedules (CI's 15 minutes: the epoch simulator,
``test_epoch_simulator.py``, runs the same machines with a hand-over in 1,040 more);
``HYPOTHESIS_PROFILE=thorough`` (``make fuzz``) runs 3,000."""

from __future__ import annotations

import pytest

from tests.unit.scale import SCALE
from tests.unit.sim import Sim

SCHEDULES = 30 * SCALE
CHUNK = SCHEDULES // 10


@pytest.mark.parametrize("start", range(0, SCHEDULES, CHUNK))
def test_honest_members_converge_safely_in_random_schedules(start: int) -> None:
    totals = dict.fromkeys(("certified", "bad", "crashes", "byzantine", "replays"), 0)
    for seed in range(start, start + CHUNK):
        sim = Sim(seed)
        try:
            sim.run()
            sim.check()
        except AssertionError as exc:
            raise AssertionError(f"schedule seed={seed} failed: {exc}") from exc
        totals["certified"] += sum(len(c.batch.orders) for c in sim.all_certificates.values())
        totals["bad"] += sim.dropped_bad
        totals["crashes"] += sim.crashes
        totals["byzantine"] += sum(type(s).__name__ == "ByzantineSteward" for s in sim.stewards)
        totals["replays"] += sim.replayer.replays
    assert all(v > 0 for v in totals.values()), f"the adversary never acted: {totals}"
