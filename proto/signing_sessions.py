"""What a steward keeps in memory for FROST signing sessions other stewards open with it,
and when it forgets it. Sans-IO: times are handed in.

A coordinator (any steward of the committee) asks us for a commitment, then a share. Our
``Signer`` keeps one nonce per commitment until the share is made; requests that come
before the proposal they are for are held until it comes. Left alone, both grow without
bound: a steward could open sessions it never finishes. So:

* a session holds at most ``MAX_NONCES_PER_SESSION`` unused nonces (``Signer``);
* a coordinator has at most ``MAX_SESSIONS_PER_COORDINATOR`` sessions with nonces of
  ours; opening one more forgets its oldest;
* at most ``MAX_PENDING_SESSIONS`` sessions of early requests are held, at most
  ``MAX_PENDING_PER_SESSION`` requests each, each with the sender it came from (a request
  is answered as its sender's, never as someone else's);
* a session is forgotten when it ends (its proposal is adopted or its wallet transaction
  done: the caller says which sessions are live) or ``SESSION_TTL`` timeouts after it
  began. A forgotten nonce is erased, never used again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proto.codec import Wire
from proto.frost.session import Signer

MAX_SESSIONS_PER_COORDINATOR = 8
MAX_PENDING_SESSIONS = 64
MAX_PENDING_PER_SESSION = 4
SESSION_TTL = 16
"""Timeouts after which a session's nonces and held requests are forgotten."""


@dataclass(frozen=True)
class SigningStatistics:
    """What the checkpoint machine holds in memory for signing (``/status``)."""

    sessions: int
    unused_nonces: int
    held_requests: int
    coordinating: int
    wallet_jobs: int
    pending_adoptions: int
    log: int


@dataclass
class SigningSessions:
    signer: Signer | None
    opened: dict[bytes, tuple[bytes, float]] = field(default_factory=dict)
    """Sessions our signer holds nonces for: session -> (coordinator, first seen)."""
    held: dict[bytes, tuple[float, list[tuple[bytes, Wire]]]] = field(default_factory=dict)
    """Requests that came before their proposal: session -> (first seen, [(sender, msg)])."""

    def hold(self, session: bytes, sender: bytes, msg: Wire, now: float) -> None:
        since, held = self.held.get(session, (now, []))
        if session not in self.held and len(self.held) >= MAX_PENDING_SESSIONS:
            del self.held[min(self.held, key=lambda k: self.held[k][0])]
        if len(held) < MAX_PENDING_PER_SESSION:
            held.append((sender, msg))
        self.held[session] = (since, held)

    def release(self, session: bytes) -> list[tuple[bytes, Wire]]:
        """The requests held for ``session``, with their senders, now that it came."""
        return self.held.pop(session, (0.0, []))[1]

    def open(self, session: bytes, coordinator: bytes, now: float) -> None:
        """Our signer is about to hold a nonce for ``session``."""
        if session in self.opened:
            return
        theirs = sorted((since, s) for s, (c, since) in self.opened.items() if c == coordinator)
        for _, old in theirs[: max(0, len(theirs) - MAX_SESSIONS_PER_COORDINATOR + 1)]:
            self.forget(old)
        self.opened[session] = (coordinator, now)

    def forget(self, session: bytes) -> None:
        if self.signer is not None:
            self.signer.forget_session(session)
        self.opened.pop(session, None)

    def forget_ended(self, live: set[bytes], now: float, ttl: float) -> None:
        """Forget every session not in ``live``, and any ``ttl`` seconds old."""
        for session, (_, since) in list(self.opened.items()):
            if session not in live or now - since > ttl:
                self.forget(session)
        for session, (since, _) in list(self.held.items()):
            if now - since > ttl:
                del self.held[session]

    @property
    def unused_nonces(self) -> int:
        return 0 if self.signer is None else self.signer.unused_nonces

    @property
    def held_requests(self) -> int:
        return sum(len(h) for _, h in self.held.values())
