"""Checkpoint consensus under adversity: seeded schedules of the simulator in
``tests/unit/checkpoint_sim.py`` (drops, duplicates, reordering, steward crashes and
restarts from disk, up to f Byzantine stewards that sign anything and equivocate as
proposers, uneven order delivery, a member answering state syncs with forged proposals
around real checkpoints and with wrong states). In every schedule: never two different signed
checkpoints with one number; seq vectors never decrease as numbers grow; with at most f
stewards down once the network heals, checkpoints keep completing; every adopted
checkpoint is a group-signed one whose state the steward rebuilt exactly; and nothing a
peer sent removed an order an honest steward had applied. Each chunk of schedules also
checks that its adversary really acted (a simulator that tests nothing fails).

``make test`` runs 240 schedules (CI's 15 minutes); ``HYPOTHESIS_PROFILE=thorough``
(``make fuzz``) runs 12.5 times as many."""

from __future__ import annotations

import pytest

from proto.checkpoint_proposals import covers, state_at, vector_of
from proto.checkpointing import attempt_at
from tests.support import make_group
from tests.unit.checkpoint_sim import ByzantineNode, CheckpointSim
from tests.unit.scale import SCALE

SCHEDULES = 30 * SCALE
CHUNK = SCHEDULES // 4


@pytest.mark.parametrize("start", range(0, SCHEDULES, CHUNK))
def test_checkpoints_stay_safe_and_live_in_random_schedules(start: int) -> None:
    totals = dict.fromkeys(
        ("before-healing", "crashes", "equivocations", "down-after-healing", "state lies"), 0
    )
    for seed in range(start, start + CHUNK):
        sim = CheckpointSim(seed)
        try:
            sim.run()
            sim.check()
        except AssertionError as exc:
            raise AssertionError(f"checkpoint schedule seed={seed} failed: {exc}") from exc
        totals["before-healing"] += sim.completed_before_healing
        totals["crashes"] += sim.crashes
        totals["down-after-healing"] += sim.down
        totals["state lies"] += sim.liar.lies
        totals["equivocations"] += sum(
            len(x.proposed) for x in sim.nodes.values() if isinstance(x, ByzantineNode)
        )
    assert all(v > 0 for v in totals.values()), f"the adversary never acted: {totals}"


def test_state_at_rebuilds_a_vector_and_names_what_it_cannot() -> None:
    g = make_group(seed="state-at", stewards=4, members=2, funding=100)
    a, b = g.ids[0], g.ids[1]
    base = g.genesis_state()
    orders = [g.transfer(a, 1, b, 10), g.transfer(b, 1, a, 110), g.transfer(a, 2, b, 5)]
    live = g.replica()
    live.add_certified(orders)
    full = state_at(base, orders, vector_of(live.state), g.epochs)
    assert not isinstance(full, str) and full.encode() == live.state.encode()
    # b's order spends the credit from a's first order: {b: 1} without {a: 1} is no state
    # any replay reaches, while {a: 1} alone is.
    only_b = tuple(e for e in vector_of(live.state) if e.member == b)
    assert state_at(base, orders, only_b, g.epochs) == "inconsistent"
    only_a1 = tuple(type(e)(e.member, 1) for e in vector_of(live.state) if e.member == a)
    first = state_at(base, orders, only_a1, g.epochs)
    assert not isinstance(first, str) and first.balance(b, "USD") == 110
    # Without the orders the vector names, the steward is behind and waits.
    assert state_at(base, orders[:1], vector_of(live.state), g.epochs) == "behind"
    assert covers(vector_of(live.state), only_b) and not covers(only_b, vector_of(live.state))


def test_each_checkpoint_attempt_lasts_longer_than_the_one_before() -> None:
    # attempt a runs from timeout * a(a+1)/2 for (a + 1) * timeout
    starts = [0.0, 4.0, 12.0, 24.0, 40.0]
    for a, start in enumerate(starts):
        assert attempt_at(start, 4.0) == a
        assert attempt_at(start + (a + 1) * 4.0 - 0.001, 4.0) == a
    assert attempt_at(0.0, 4.0) == 0 and attempt_at(1e6, 4.0) > 600
