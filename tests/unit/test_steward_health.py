"""Who is stalling the group (``proto.steward_health``): what a node records of each
steward, and the checkpoint machine naming the stewards a round waited for in vain."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from proto.steward_health import RESPONSIVE_WINDOW, STALLS_KEPT, StallReport, StewardHealth
from tests.support import key, pub
from tests.unit.checkpoint_sim import ByzantineNode, CheckpointSim, HonestNode

A, B, C, D = (pub(key("health", n)) for n in "abcd")


def test_a_steward_named_by_a_stall_is_not_signing_until_it_answers_again() -> None:
    h = StewardHealth([A, B, C, D], quorum=3, me=A)
    assert h.margin(0.0) == -2  # nobody else seen yet: as if stalled
    h.seen([B, C, D, b"\x09" * 32], 1.0)  # a stranger is not recorded
    assert h.margin(1.0) == 1 and set(h.stewards) == {A, B, C, D}
    h.voted(B, 2.0)
    h.stalled("checkpoint 7", [D, b"\x09" * 32], "FROST signing: silent", 3.0)
    assert h.stewards[D].not_signing and h.stewards[D].stalls == 1
    assert h.margin(3.0) == 0  # one failure from stalling
    report = h.report(4.0)
    row = {r.steward: r for r in report.stewards}
    assert row[B].last_vote_seconds == 2.0 and row[D].not_signing
    assert report.stalls == (StallReport("checkpoint 7", (D,), "FROST signing: silent", 1.0),)
    with pytest.raises(FrozenInstanceError):  # a snapshot: nothing reading it can change it
        report.margin = 5  # type: ignore[misc]
    assert report.json()["stalls"] == [
        {
            "what": "checkpoint 7",
            "waited_for": [D.hex()],
            "why": "FROST signing: silent",
            "seconds_ago": 1.0,
        }
    ]
    h.shared(D, 5.0)  # it signs again
    assert not h.stewards[D].not_signing and h.margin(5.0) == 1
    # later: we, B (voted at 2) and D (shared at 5) are fresh; C, seen at 1, is not
    assert h.margin(1.0 + RESPONSIVE_WINDOW + 1) == 0
    h.stalled("checkpoint 9", [C], "no proposal", 40.0)
    assert h.stewards[C].not_signing
    h.proposal_heard(10, 8, C, 41.0)  # it proposes the next one: signing, and seen
    assert not h.stewards[C].not_signing and h.responsive(C, 41.0)


def test_stalls_kept_are_bounded() -> None:
    h = StewardHealth([A, B, C, D], quorum=3)
    for i in range(3 * STALLS_KEPT):
        h.stalled(f"checkpoint {i}", [B], "no proposal", float(i))
    assert len(h.report(100.0).stalls) == STALLS_KEPT
    assert h.stewards[B].stalls == 3 * STALLS_KEPT


def test_the_checkpoint_machine_names_a_steward_that_stays_down() -> None:
    """A 4-steward group (quorum 3) with one honest steward down goes on signing
    checkpoints; the others name it: its numbers pass with no proposal, and a FROST attempt
    that chose it waits in vain."""
    seed = next(
        s
        for s in range(100)
        if len((sim := CheckpointSim(s)).nodes) == 4
        and not any(isinstance(n, ByzantineNode) for n in sim.nodes.values())
    )
    sim = CheckpointSim(seed)
    sim.drop = sim.dup = sim.crash_rate = sim.lie_rate = 0.0
    down = sim.honest[1]
    down.up, down.stays_down = False, True
    sim.run_healed(lambda: len(sim.signed) >= 6, 20_000)
    assert len(sim.signed) >= 6, "the group stopped signing checkpoints"
    up = [n for n in sim.honest if n is not down and isinstance(n, HonestNode)]
    named = [s for n in up for s in n.machine.health.stalls if down.id in s.waited_for]
    assert {s.why for s in named} >= {"no proposal"}
    assert all(s.waited_for == (down.id,) for s in named)  # nobody else is blamed
    assert all(n.machine.health.stewards[down.id].not_signing for n in up)
