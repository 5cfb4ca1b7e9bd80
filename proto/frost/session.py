"""FROST signing sessions as sans-IO state machines: a ``Coordinator`` and ``Signer``s that
exchange the encoded messages below. The driver (the node, or a test) carries messages
and calls ``tick(now)``; time and nonce randomness are handed in.

Coordinator, per attempt: ask ``threshold`` signers (the lowest identifiers not excluded)
for commitments; once all arrived, send each the signing package (message + commitment
list); verify every share as it arrives (RFC 9591 5.4); aggregate when all are in, and
check the result as a plain signature of the suite (Ed25519, or secp256k1 Schnorr). A
signer that sends a bad commitment or a bad share is excluded by identifier; one that
stays silent past the deadline is excluded as silent. Either way a new attempt starts
with a replacement, and fresh commitments from everyone (a changed commitment list
changes every binding factor). Fewer than ``threshold`` usable signers: the session
fails, naming who was excluded and why.

Signer: round one draws nonces from the randomness handed in and keeps them, keyed by
their commitment, in memory only. Round two pops them, so a second request for the same
commitment is refused: a nonce is used at most once, and since nonces are never written
to disk a restart cannot bring one back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from proto.codec import Bytes, ListOf, Obj, UInt, Wire, register, wf
from proto.frost.core import (
    Commitment,
    Nonces,
    aggregate,
    check_commitment_list,
    check_identifier,
    commit,
    sign,
    verify_signature_share,
)
from proto.frost.curve import FrostError
from proto.frost.keys import KeyPackage
from proto.frost.suite import ED25519, Ciphersuite
from proto.kinds import DIGEST

SCALAR = Bytes(32)
POINT = Bytes(min_size=32, max_size=33)
"""An element of either suite (Ed25519: 32 bytes, secp256k1: 33); the session's own suite
decodes it strictly."""
MAX_SIGNED_MESSAGE = 1 << 16
MAX_SIGNERS = 256


@register(40, "frost-commitment-request")
@dataclass(frozen=True)
class CommitmentRequest(Wire):
    session: bytes = wf(DIGEST)
    attempt: int = wf(UInt(32))


@register(41, "frost-commitment")
@dataclass(frozen=True)
class CommitmentMsg(Wire):
    session: bytes = wf(DIGEST)
    attempt: int = wf(UInt(32))
    identifier: bytes = wf(SCALAR)
    hiding: bytes = wf(POINT)
    binding: bytes = wf(POINT)

    def commitment(self, suite: Ciphersuite = ED25519) -> Commitment:
        """The commitment, strictly decoded (raises ``FrostError``)."""
        return Commitment(
            check_identifier(suite.decode_scalar(self.identifier), suite=suite),
            suite.decode_point(self.hiding),
            suite.decode_point(self.binding),
        )


@register(42, "frost-sign-request")
@dataclass(frozen=True)
class SignRequest(Wire):
    session: bytes = wf(DIGEST)
    attempt: int = wf(UInt(32))
    message: bytes = wf(Bytes(max_size=MAX_SIGNED_MESSAGE))
    commitments: tuple[CommitmentMsg, ...] = wf(
        ListOf(Obj(CommitmentMsg), min_items=1, max_items=MAX_SIGNERS)
    )

    def commitment_list(self, suite: Ciphersuite = ED25519) -> list[Commitment]:
        out = [c.commitment(suite) for c in self.commitments]
        check_commitment_list(out, suite=suite)
        return out


@register(43, "frost-share")
@dataclass(frozen=True)
class ShareMsg(Wire):
    session: bytes = wf(DIGEST)
    attempt: int = wf(UInt(32))
    identifier: bytes = wf(SCALAR)
    share: bytes = wf(SCALAR)


# -- effects ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SendTo:
    identifier: int
    message: Wire


@dataclass(frozen=True)
class SetTimer:
    deadline: float


@dataclass(frozen=True)
class SessionDone:
    signature: bytes
    signers: tuple[int, ...]


@dataclass(frozen=True)
class SessionFailed:
    reason: str
    excluded: tuple[tuple[int, str], ...]


SessionEffect = SendTo | SetTimer | SessionDone | SessionFailed


MAX_NONCES_PER_SESSION = 8
"""Commitments one session may hold at once (a coordinator retries with a new attempt when
a signer fails; more than this is a coordinator spending our memory)."""


class Signer:
    """Round one and two of FROST for one key share. Every nonce signs at most once and
    is erased when used or when its session is forgotten (``forget_session``); a session
    holds at most ``MAX_NONCES_PER_SESSION`` unused nonces. Which sessions to keep, and for
    how long, is the driver's policy (``proto.checkpointing``: per coordinator, by age)."""

    def __init__(self, key: KeyPackage) -> None:
        self.key = key
        self._nonces: dict[tuple[bytes, bytes, bytes], Nonces] = {}

    def on_commitment_request(self, request: CommitmentRequest, randomness: bytes) -> CommitmentMsg:
        """Round one; ``randomness`` is 64 fresh random bytes from the driver."""
        if len(randomness) != 64:
            raise FrostError("round one takes 64 bytes of randomness")
        if sum(1 for k in self._nonces if k[0] == request.session) >= MAX_NONCES_PER_SESSION:
            raise FrostError("too many commitments for one session")
        suite = self.key.suite
        nonces, c = commit(
            self.key.signing_share,
            randomness[:32],
            randomness[32:],
            self.key.identifier,
            suite=suite,
        )
        self._nonces[(request.session, c.hiding, c.binding)] = nonces
        return CommitmentMsg(
            request.session,
            request.attempt,
            suite.encode_scalar(c.identifier),
            c.hiding,
            c.binding,
        )

    def on_sign_request(self, request: SignRequest) -> ShareMsg:
        """Round two: the share over ``request.message``; each commitment signs once."""
        suite = self.key.suite
        commitments = request.commitment_list(suite)
        own = next((c for c in commitments if c.identifier == self.key.identifier), None)
        if own is None:
            raise FrostError("this signer is not in the commitment list")
        nonces = self._nonces.pop((request.session, own.hiding, own.binding), None)
        if nonces is None:
            raise FrostError("unknown or already used commitment: refusing to sign")
        z = sign(
            self.key.identifier,
            self.key.signing_share,
            nonces,
            request.message,
            commitments,
            self.key.group_public_key,
            suite=suite,
        )
        return ShareMsg(
            request.session,
            request.attempt,
            suite.encode_scalar(self.key.identifier),
            suite.encode_scalar(z),
        )

    def forget_session(self, session: bytes) -> None:
        """Erase unused nonces of a session that ended."""
        for k in [k for k in self._nonces if k[0] == session]:
            del self._nonces[k]

    @property
    def unused_nonces(self) -> int:
        return len(self._nonces)


class Coordinator:
    def __init__(
        self,
        *,
        session: bytes,
        message: bytes,
        group_public_key: bytes,
        public_shares: dict[int, bytes],
        threshold: int,
        available: Sequence[int],
        timeout: float,
        suite: Ciphersuite = ED25519,
    ) -> None:
        if not 1 <= threshold <= len(public_shares):
            raise FrostError("threshold out of range")
        self.suite = suite
        self.session = session
        self.message = message
        self.group_public_key = group_public_key
        self.public_shares = public_shares
        self.threshold = threshold
        self.available = sorted(i for i in set(available) if i in public_shares)
        self.timeout = timeout
        self.attempt = 0
        self.state: Literal["new", "commit", "sign", "done", "failed"] = "new"
        self.excluded: dict[int, str] = {}
        self.chosen: list[int] = []
        self.commitments: dict[int, Commitment] = {}
        self.shares: dict[int, int] = {}
        self.deadline = 0.0
        self.signature: bytes | None = None

    def start(self, now: float) -> list[SessionEffect]:
        if self.state != "new":
            raise FrostError("session already started")
        return self._begin_attempt(now)

    def receive(self, sender: int, msg: Wire, now: float) -> list[SessionEffect]:
        """A message from signer ``sender`` (its identifier, as authenticated by the
        transport). Stale, foreign or unexpected messages are ignored."""
        if (
            getattr(msg, "session", None) != self.session
            or getattr(msg, "attempt", None) != self.attempt
        ):
            return []
        if sender not in self.chosen:
            return []
        if isinstance(msg, CommitmentMsg) and self.state == "commit":
            return self._on_commitment(sender, msg, now)
        if isinstance(msg, ShareMsg) and self.state == "sign":
            return self._on_share(sender, msg, now)
        return []

    def tick(self, now: float) -> list[SessionEffect]:
        if self.state not in ("commit", "sign") or now < self.deadline:
            return []
        answered = self.commitments if self.state == "commit" else self.shares
        for i in self.chosen:
            if i not in answered:
                self.excluded[i] = "silent"
        return self._begin_attempt(now)

    # -- internals ----------------------------------------------------------------------
    def _begin_attempt(self, now: float) -> list[SessionEffect]:
        usable = [i for i in self.available if i not in self.excluded]
        if len(usable) < self.threshold:
            self.state = "failed"
            return [
                SessionFailed(
                    f"only {len(usable)} usable signers, {self.threshold} needed",
                    tuple(sorted(self.excluded.items())),
                )
            ]
        self.attempt += 1
        self.state = "commit"
        self.chosen = usable[: self.threshold]
        self.commitments = {}
        self.shares = {}
        self.deadline = now + self.timeout
        request = CommitmentRequest(self.session, self.attempt)
        return [*(SendTo(i, request) for i in self.chosen), SetTimer(self.deadline)]

    def _exclude(self, signer: int, reason: str, now: float) -> list[SessionEffect]:
        self.excluded[signer] = reason
        return self._begin_attempt(now)

    def _on_commitment(self, sender: int, msg: CommitmentMsg, now: float) -> list[SessionEffect]:
        try:
            c = msg.commitment(self.suite)
        except FrostError:
            return self._exclude(sender, "bad-commitment", now)
        if c.identifier != sender:
            return self._exclude(sender, "bad-commitment", now)
        self.commitments[sender] = c
        if len(self.commitments) < len(self.chosen):
            return []
        self.state = "sign"
        self.deadline = now + self.timeout
        ordered = [self.commitments[i] for i in sorted(self.commitments)]
        request = SignRequest(
            self.session,
            self.attempt,
            self.message,
            tuple(
                CommitmentMsg(
                    self.session,
                    self.attempt,
                    self.suite.encode_scalar(c.identifier),
                    c.hiding,
                    c.binding,
                )
                for c in ordered
            ),
        )
        return [*(SendTo(i, request) for i in self.chosen), SetTimer(self.deadline)]

    def _on_share(self, sender: int, msg: ShareMsg, now: float) -> list[SessionEffect]:
        ordered = [self.commitments[i] for i in sorted(self.commitments)]
        suite = self.suite
        try:
            z = suite.decode_scalar(msg.share)
            ok = suite.decode_scalar(msg.identifier) == sender and verify_signature_share(
                sender,
                self.public_shares[sender],
                z,
                ordered,
                self.group_public_key,
                self.message,
                suite=suite,
            )
        except FrostError:
            ok = False
        if not ok:
            return self._exclude(sender, "bad-share", now)
        self.shares[sender] = z
        if len(self.shares) < len(self.chosen):
            return []
        signature = aggregate(
            ordered, self.message, self.group_public_key, self.shares, suite=suite
        )
        if not suite.verify(self.group_public_key, self.message, signature):
            raise FrostError("aggregate signature does not verify")  # only a bug gets here
        self.state = "done"
        self.signature = signature
        return [SessionDone(signature, tuple(sorted(self.shares)))]
