"""Consensus-free payments under adversity: 1,000 seeded schedules of the simulator in
``tests/unit/sim.py``, with drops, duplicates, reordering, steward crashes, up to f
Byzantine stewards that vote for anything, a member that equivocates, and a member that
replays everything it saw and certificates of another group. In each:
honest members end with identical state, no balance goes negative, no two conflicting
orders are both certified, value is conserved, and every honest client's orders are
certified (liveness once the network heals); no replayed or foreign message changed an
honest member's state."""

from __future__ import annotations

import pytest

from tests.unit.sim import Sim

SCHEDULES = 1000
CHUNK = 100


@pytest.mark.parametrize("start", range(0, SCHEDULES, CHUNK))
def test_honest_members_converge_safely_in_random_schedules(start: int) -> None:
    for seed in range(start, start + CHUNK):
        sim = Sim(seed)
        try:
            sim.run()
            sim.check()
        except AssertionError as exc:
            raise AssertionError(f"schedule seed={seed} failed: {exc}") from exc


def test_the_adversary_really_acts() -> None:
    """Guard against a simulator that tests nothing: across some schedules, messages are
    dropped as invalid, stewards crash, the equivocator gets votes, orders get certified."""
    totals = {"certified": 0, "bad": 0, "crashes": 0, "byzantine": 0, "replays": 0}
    for seed in range(40):
        sim = Sim(seed)
        sim.run()
        sim.check()
        totals["certified"] += sum(len(c.batch.orders) for c in sim.all_certificates.values())
        totals["bad"] += sim.dropped_bad
        totals["crashes"] += sim.crashes
        totals["byzantine"] += sum(type(s).__name__ == "ByzantineSteward" for s in sim.stewards)
        totals["replays"] += sim.replayer.replays
    assert all(v > 0 for v in totals.values()), totals
