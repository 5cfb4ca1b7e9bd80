"""Who is stalling the group: what one node saw of each steward, and the rounds that
waited for a steward that did not answer. Sans-IO: every input carries ``now``.

A group moves while a quorum of its stewards answers: ``q`` votes certify a batch of
orders, and ``q`` FROST shares (the wallet threshold is the quorum) sign a checkpoint or a
wallet transaction. This node records, per steward, the last time it voted for one of our
batches (``voted``), sent a FROST commitment or share to a session we coordinated
(``shared``), and was connected to us (``seen``). A round that gave up on some stewards
(a batch that got no quorum, a FROST attempt whose chosen signers went silent, a
checkpoint number whose proposer never proposed) is a ``Stall`` naming them; a steward
named by a stall is "not signing" until it votes, shares or proposes again.

``margin`` is how many more stewards can fail before the group stalls: the stewards
that are responsive (seen within ``RESPONSIVE_WINDOW`` and not marked "not signing") less
the quorum. At 0 the group is one failure from stalling; below 0 it has stalled.

Invariants: only committee members are recorded; at most ``STALLS_KEPT`` stalls are kept
(the newest), so what a peer can make us remember is bounded by the committee's size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

RESPONSIVE_WINDOW = 30.0
"""Seconds since a steward was last connected for it to count as responsive."""
STALLS_KEPT = 16
NUMBERS_WATCHED = 64
"""Checkpoint numbers above the base for which we note that a proposal arrived."""


@dataclass(frozen=True)
class Stall:
    what: str
    """The round: ``checkpoint 12``, ``orders``, ``wallet transaction``."""
    waited_for: tuple[bytes, ...]
    why: str
    at: float


@dataclass
class StewardSeen:
    last_vote: float | None = None
    last_share: float | None = None
    last_seen: float | None = None
    stalls: int = 0
    """How many stalls named it."""
    not_signing: bool = False


class StewardHealth:
    def __init__(self, stewards: Sequence[bytes], quorum: int, me: bytes | None = None) -> None:
        self.quorum = quorum
        self.me = me
        self.stewards = {s: StewardSeen() for s in stewards}
        self.stalls: deque[Stall] = deque(maxlen=STALLS_KEPT)
        self.stalled_total = 0
        """Stalls ever recorded (the newest ``STALLS_KEPT`` are kept)."""
        self._heard: set[int] = set()
        self._over: set[int] = set()

    def reset(self, stewards: Sequence[bytes], quorum: int) -> None:
        """A new epoch's committee: its stewards are watched (what we knew of those that
        stay is kept), the others are no longer."""
        self.quorum = quorum
        self.stewards = {s: self.stewards.get(s, StewardSeen()) for s in stewards}

    def voted(self, steward: bytes, now: float) -> None:
        seen = self.stewards.get(steward)
        if seen is not None:
            seen.last_vote = seen.last_seen = now
            seen.not_signing = False

    def shared(self, steward: bytes, now: float) -> None:
        seen = self.stewards.get(steward)
        if seen is not None:
            seen.last_share = seen.last_seen = now
            seen.not_signing = False

    def seen(self, connected: Iterable[bytes], now: float) -> None:
        """The stewards connected to us now (we see ourselves)."""
        for steward in {*connected, *([self.me] if self.me else [])}:
            seen = self.stewards.get(steward)
            if seen is not None:
                seen.last_seen = now

    def stalled(self, what: str, waited_for: Iterable[bytes], why: str, now: float) -> None:
        named = tuple(sorted(s for s in set(waited_for) if s in self.stewards))
        if not named:
            return
        self.stalls.append(Stall(what, named, why, now))
        self.stalled_total += 1
        for steward in named:
            self.stewards[steward].stalls += 1
            self.stewards[steward].not_signing = True

    def proposal_heard(self, number: int, base: int, proposer: bytes, now: float) -> None:
        """A proposal for ``number``, signed by its proposer, reached us (``base``: our
        adopted checkpoint; numbers far above it are not noted, whatever a peer signs).
        A proposer that proposes is signing again."""
        if base < number <= base + NUMBERS_WATCHED:
            self._heard.add(number)
        seen = self.stewards.get(proposer)
        if seen is not None:
            seen.last_seen = now
            seen.not_signing = False

    def attempt_over(self, number: int, proposer: bytes, base: int, now: float) -> None:
        """The attempt for checkpoint ``number`` is over: a stall if its proposer (not us)
        never proposed. Each number is judged once."""
        self._heard = {n for n in self._heard if n > base}
        self._over = {n for n in self._over if n > base}
        if number <= base or number in self._over:
            return
        self._over.add(number)
        if proposer != self.me and number not in self._heard:
            self.stalled(f"checkpoint {number}", (proposer,), "no proposal", now)

    def responsive(self, steward: bytes, now: float) -> bool:
        if steward == self.me:
            return True  # we are running
        seen = self.stewards[steward]
        recent = seen.last_seen is not None and now - seen.last_seen <= RESPONSIVE_WINDOW
        return recent and not seen.not_signing

    def margin(self, now: float) -> int:
        """Stewards that may still fail before the group stalls (negative: stalled)."""
        return sum(self.responsive(s, now) for s in self.stewards) - self.quorum

    def report(self, now: float) -> HealthReport:
        """A frozen snapshot for ``/status``: ages in seconds (None: never), newest stalls
        last."""

        def age(t: float | None) -> float | None:
            return None if t is None else round(max(0.0, now - t), 1)

        return HealthReport(
            quorum=self.quorum,
            margin=self.margin(now),
            stalled_total=self.stalled_total,
            stewards=tuple(
                StewardReport(
                    steward=steward,
                    last_vote_seconds=age(seen.last_vote),
                    last_share_seconds=age(seen.last_share),
                    last_seen_seconds=age(seen.last_seen),
                    responsive=self.responsive(steward, now),
                    not_signing=seen.not_signing,
                    stalls=seen.stalls,
                )
                for steward, seen in self.stewards.items()
            ),
            stalls=tuple(StallReport(s.what, s.waited_for, s.why, age(s.at)) for s in self.stalls),
        )


@dataclass(frozen=True, slots=True)
class StewardReport:
    steward: bytes
    last_vote_seconds: float | None
    last_share_seconds: float | None
    last_seen_seconds: float | None
    responsive: bool
    not_signing: bool
    stalls: int

    def json(self) -> dict[str, object]:
        return {
            "steward": self.steward.hex(),
            "last_vote_seconds": self.last_vote_seconds,
            "last_share_seconds": self.last_share_seconds,
            "last_seen_seconds": self.last_seen_seconds,
            "responsive": self.responsive,
            "not_signing": self.not_signing,
            "stalls": self.stalls,
        }


@dataclass(frozen=True, slots=True)
class StallReport:
    what: str
    waited_for: tuple[bytes, ...]
    why: str
    seconds_ago: float | None

    def json(self) -> dict[str, object]:
        return {
            "what": self.what,
            "waited_for": [w.hex() for w in self.waited_for],
            "why": self.why,
            "seconds_ago": self.seconds_ago,
        }


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The stewards' health at one moment (``StewardHealth.report``)."""

    quorum: int
    margin: int
    stalled_total: int
    stewards: tuple[StewardReport, ...]
    stalls: tuple[StallReport, ...]

    def json(self) -> dict[str, object]:
        return {
            "quorum": self.quorum,
            "margin": self.margin,
            "stalled_total": self.stalled_total,
            "stewards": [s.json() for s in self.stewards],
            "stalls": [s.json() for s in self.stalls],
        }
