"""Checkpoints by consensus: stewards agree on the group's state and sign it with the
group wallet's FROST key. Sans-IO: messages and ``now`` in, effects out.

Numbers and proposers. After the last adopted checkpoint ``b`` (adopted at time T), the
checkpoint for attempt ``a`` gets number ``b + 1 + a`` and is proposed by
``stewards[number mod n]`` once ``now >= T + interval + a * timeout``. A stalled attempt is
never resumed: the next one takes the next number (numbers may be skipped).

A proposal carries the proposer's applied seq vector and the checkpoint of the state it
implies. A steward accepts it only when:

* it comes, signed, from the proposer of its number;
* its number is above every number the steward has accepted before, or it is the very
  proposal the steward accepted last (a retry of the same signing);
* its vector covers (sender by sender, at least) the vector the steward accepted last;
* replaying the steward's own certified orders up to that vector over its last adopted
  checkpoint gives exactly the proposed checkpoint. A steward that lacks some of those
  orders waits (``behind``); one that computes another state refuses.

Accepting writes a lock (``PersistCheckpointLock``) that the driver must make durable
before any later effect: only then do the steward's FROST commitment and share leave. So
an honest steward never contributes to two different checkpoints with one number, nor to
a checkpoint whose vector is below one it signed; with a FROST threshold of
ceil((n + f + 1) / 2) any two completed checkpoints share an honest signer, so no number
has two signed checkpoints and vectors never decrease as numbers grow.

A ``SignedCheckpoint`` that verifies under the wallet key and is newer than the last
adopted one is adopted once the steward can rebuild its state; the certified orders it
covers leave the steward's order log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from nacl.signing import SigningKey

from proto import signing
from proto.checkpoint import Checkpoint, SignedCheckpoint, checkpoint_of
from proto.codec import ListOf, Obj, UInt, Wire, register, wf
from proto.committee import Committee
from proto.errors import InvalidSignature
from proto.frost.curve import FrostError
from proto.frost.keys import KeyPackage
from proto.frost.session import (
    CommitmentMsg,
    CommitmentRequest,
    Coordinator,
    SendTo,
    SessionDone,
    SessionEffect,
    SessionFailed,
    ShareMsg,
    Signer,
    SignRequest,
)
from proto.kinds import MAX_MEMBERS, MEMBER_ID, SEQ, SIGNATURE
from proto.orders import SignedOrder
from proto.replica import Replica
from proto.state import GroupState

PROPOSAL_DOMAIN = "checkpoint-proposal"


@register(52, "seq-entry")
@dataclass(frozen=True)
class SeqEntry(Wire):
    member: bytes = wf(MEMBER_ID)
    seq: int = wf(SEQ)


def by_member(e: SeqEntry) -> bytes:
    return e.member


@register(53, "checkpoint-proposal")
@dataclass(frozen=True)
class Proposal(Wire):
    attempt: int = wf(UInt(32))
    proposer: bytes = wf(MEMBER_ID)
    vector: tuple[SeqEntry, ...] = wf(
        ListOf(Obj(SeqEntry), max_items=MAX_MEMBERS, strictly_sorted=True, sort_key=by_member)
    )
    checkpoint: Checkpoint = wf(Obj(Checkpoint))
    signature: bytes = wf(SIGNATURE)

    def body(self) -> bytes:
        unsigned = Proposal(self.attempt, self.proposer, self.vector, self.checkpoint, bytes(64))
        return unsigned.encode()

    def session_id(self) -> bytes:
        return hashlib.sha256(b"swapnet/1/checkpoint-session\x00" + self.body()).digest()

    @property
    def number(self) -> int:
        return self.checkpoint.number


@register(54, "checkpoint-completed")
@dataclass(frozen=True)
class Completed(Wire):
    """A proposal with the group's signature over its checkpoint: what stewards gossip when
    a checkpoint completes (the vector lets anyone rebuild the state it commits to)."""

    proposal: Proposal = wf(Obj(Proposal))
    signature: bytes = wf(SIGNATURE)

    @property
    def signed(self) -> SignedCheckpoint:
        return SignedCheckpoint(self.proposal.checkpoint, self.signature)


def vector_of(state: GroupState) -> tuple[SeqEntry, ...]:
    return tuple(
        SeqEntry(m, a.last_seq) for m, a in sorted(state.accounts.items()) if a.last_seq > 0
    )


def covers(newer: tuple[SeqEntry, ...], older: tuple[SeqEntry, ...]) -> bool:
    have = {e.member: e.seq for e in newer}
    return all(have.get(e.member, 0) >= e.seq for e in older)


def state_at(
    base: GroupState, log: list[SignedOrder], vector: tuple[SeqEntry, ...], committee: Committee
) -> GroupState | str:
    """The state after applying, over ``base``, the logged orders within ``vector``; or
    ``"behind"`` (orders missing from the log) or ``"inconsistent"`` (the vector is not a
    state any replay reaches)."""
    target = {e.member: e.seq for e in vector}
    if not covers(vector, vector_of(base)):
        return "inconsistent"
    within = [o for o in log if all(p.seq <= target.get(p.member, 0) for p in o.order.parties)]
    replica = Replica(base.copy(), committee)
    replica.add_certified(within)
    reached = {e.member: e.seq for e in vector_of(replica.state)}
    if replica.waiting or any(reached.get(m, 0) > s for m, s in target.items()):
        return "inconsistent"
    if reached != target:
        return "behind"
    return replica.state


# -- effects ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Broadcast:
    message: Wire


@dataclass(frozen=True)
class SendToSteward:
    steward: bytes
    message: Wire


@dataclass(frozen=True)
class PersistCheckpointLock:
    """Durably record the accepted proposal before any later effect is carried out."""

    proposal: Proposal


@dataclass(frozen=True)
class CheckpointAdopted:
    completed: Completed
    state: GroupState


CheckpointEffect = Broadcast | SendToSteward | PersistCheckpointLock | CheckpointAdopted


class CheckpointSteward:
    def __init__(
        self,
        *,
        identity: SigningKey,
        key: KeyPackage,
        committee: Committee,
        base: GroupState,
        base_number: int,
        adopted_at: float,
        interval: float,
        timeout: float,
        random_bytes: Callable[[int], bytes],
        lock: Proposal | None = None,
        log: list[SignedOrder] | None = None,
    ) -> None:
        self.identity = identity
        self.id = signing.public_key_of(identity)
        self.key = key
        self.committee = committee
        self.group_id = base.group_id
        self.wallet_key = key.group_public_key
        self.base = base
        self.base_number = base_number
        self.adopted_at = adopted_at
        self.interval = interval
        self.timeout = timeout
        self.random_bytes = random_bytes
        self.lock = lock
        self.log: list[SignedOrder] = list(log or [])
        self.live: GroupState = base.copy()
        Replica(self.live, committee).add_certified(self.log)
        self.signer = Signer(key)
        self.coordinators: dict[bytes, Coordinator] = {}
        self.accepted: dict[bytes, Proposal] = {}
        self.pending_proposals: dict[bytes, Proposal] = {}
        self.pending_requests: dict[bytes, list[Wire]] = {}
        self.pending_adoptions: dict[int, Completed] = {}
        self.proposed: set[int] = set()
        self.completed: dict[int, Completed] = {}
        if lock is not None and lock.number > base_number:
            # Checked before it was locked; after a restart we may go on signing it (with
            # fresh nonces: the old ones died with the process).
            self.accepted[lock.session_id()] = lock

    # -- identity helpers ---------------------------------------------------------------
    def identifier_of(self, steward: bytes) -> int:
        return self.committee.index_of(steward) + 1

    def steward_of(self, identifier: int) -> bytes:
        return self.committee.stewards[identifier - 1]

    def proposer_of(self, number: int) -> bytes:
        return self.committee.stewards[number % self.committee.n]

    # -- inputs -------------------------------------------------------------------------
    def on_applied(self, orders: list[SignedOrder], now: float) -> list[CheckpointEffect]:
        """Certified orders the steward's replica just applied (in order)."""
        Replica(self.live, self.committee).add_certified(orders)
        self.log.extend(orders)
        return self._retry_pending(now)

    def tick(self, now: float) -> list[CheckpointEffect]:
        effects: list[CheckpointEffect] = []
        for coordinator in list(self.coordinators.values()):
            effects += self._coordinator_effects(coordinator, coordinator.tick(now), now)
        due = now - self.adopted_at - self.interval
        if due >= 0:
            attempt = int(due // self.timeout)
            number = self.base_number + 1 + attempt
            if self.proposer_of(number) == self.id and number not in self.proposed:
                effects += self._propose(number, attempt, now)
        return effects

    def receive(self, sender: bytes, msg: Wire, now: float) -> list[CheckpointEffect]:
        if isinstance(msg, Proposal):
            return self._on_proposal(msg, now)
        if isinstance(msg, Completed):
            return self._on_completed(msg, now)
        if isinstance(msg, CommitmentRequest | SignRequest):
            if sender not in self.committee:
                return []
            return self._on_signing_request(sender, msg, now)
        if isinstance(msg, CommitmentMsg | ShareMsg):
            coordinator = self.coordinators.get(msg.session)
            if coordinator is None or sender not in self.committee:
                return []
            out = coordinator.receive(self.identifier_of(sender), msg, now)
            return self._coordinator_effects(coordinator, out, now)
        return []

    # -- proposing ----------------------------------------------------------------------
    def _propose(self, number: int, attempt: int, now: float) -> list[CheckpointEffect]:
        self.proposed.add(number)
        vector = vector_of(self.live)
        if self.lock is not None and (
            number <= self.lock.number or not covers(vector, self.lock.vector)
        ):
            return []  # cannot sign it ourselves: let the next proposer try
        unsigned = Proposal(attempt, self.id, vector, checkpoint_of(self.live, number), bytes(64))
        sig = signing.sign(self.identity, PROPOSAL_DOMAIN, self.group_id, unsigned.body())
        proposal = Proposal(attempt, self.id, vector, unsigned.checkpoint, sig)
        effects: list[CheckpointEffect] = [Broadcast(proposal)]
        effects += self._on_proposal(proposal, now)
        coordinator = Coordinator(
            session=proposal.session_id(),
            message=proposal.checkpoint.signing_message(),
            group_public_key=self.wallet_key,
            public_shares=dict(self.key.public_shares),
            threshold=self.key.threshold,
            available=list(self.key.public_shares),
            timeout=self.timeout / 4,
        )
        self.coordinators[proposal.session_id()] = coordinator
        effects += self._coordinator_effects(coordinator, coordinator.start(now), now)
        return effects

    def _coordinator_effects(
        self, coordinator: Coordinator, out: list[SessionEffect], now: float
    ) -> list[CheckpointEffect]:
        effects: list[CheckpointEffect] = []
        for e in out:
            if isinstance(e, SendTo):
                target = self.steward_of(e.identifier)
                if target == self.id:
                    effects += self._on_signing_request(self.id, e.message, now)
                else:
                    effects.append(SendToSteward(target, e.message))
            elif isinstance(e, SessionDone):
                proposal = self.accepted.get(coordinator.session)
                del self.coordinators[coordinator.session]
                if proposal is not None:
                    completed = Completed(proposal, e.signature)
                    effects.append(Broadcast(completed))
                    effects += self._on_completed(completed, now)
            elif isinstance(e, SessionFailed):
                del self.coordinators[coordinator.session]
        return effects

    # -- accepting ----------------------------------------------------------------------
    def _on_proposal(self, p: Proposal, now: float) -> list[CheckpointEffect]:
        if p.checkpoint.group_id != self.group_id or p.number <= self.base_number:
            return []
        if p.proposer != self.proposer_of(p.number) or not signing.is_valid(
            p.proposer, p.signature, PROPOSAL_DOMAIN, self.group_id, p.body()
        ):
            return []
        session = p.session_id()
        if session in self.accepted:
            return []
        if (
            self.lock is not None
            and self.lock.session_id() != session
            and (p.number <= self.lock.number or not covers(p.vector, self.lock.vector))
        ):
            return []
        state = state_at(self.base, self.log, p.vector, self.committee)
        if state == "behind":
            self.pending_proposals[session] = p
            return []
        if isinstance(state, str) or checkpoint_of(state, p.number) != p.checkpoint:
            return []
        self.pending_proposals.pop(session, None)
        self.lock = p
        self.accepted[session] = p
        effects: list[CheckpointEffect] = [PersistCheckpointLock(p)]
        for request in self.pending_requests.pop(session, []):
            effects += self._on_signing_request(p.proposer, request, now)
        return effects

    def _on_signing_request(self, sender: bytes, msg: Wire, now: float) -> list[CheckpointEffect]:
        session = getattr(msg, "session", b"")
        proposal = self.accepted.get(session)
        if proposal is None:
            self.pending_requests.setdefault(session, []).append(msg)
            return []
        if proposal.proposer != sender or self.lock is None or self.lock.session_id() != session:
            return []  # only the proposer of the proposal we hold the lock for
        try:
            if isinstance(msg, CommitmentRequest):
                reply: Wire = self.signer.on_commitment_request(msg, self.random_bytes(64))
            elif isinstance(msg, SignRequest):
                if msg.message != proposal.checkpoint.signing_message():
                    return []
                reply = self.signer.on_sign_request(msg)
            else:
                return []
        except FrostError:
            return []
        if sender == self.id:
            coordinator = self.coordinators.get(session)
            if coordinator is None:
                return []
            out = coordinator.receive(self.key.identifier, reply, now)
            return self._coordinator_effects(coordinator, out, now)
        return [SendToSteward(sender, reply)]

    # -- adopting -----------------------------------------------------------------------
    def _on_completed(self, completed: Completed, now: float) -> list[CheckpointEffect]:
        p = completed.proposal
        if p.checkpoint.group_id != self.group_id or p.number <= self.base_number:
            return []
        try:
            completed.signed.verify(self.wallet_key)
        except InvalidSignature:
            return []
        self.completed.setdefault(p.number, completed)
        self.pending_adoptions[p.number] = completed
        return self._retry_pending(now)

    def _retry_pending(self, now: float) -> list[CheckpointEffect]:
        effects: list[CheckpointEffect] = []
        for number in sorted(self.pending_adoptions, reverse=True):  # the newest we can
            adopted = self._adopt(self.pending_adoptions[number], now)
            if adopted is not None:
                effects.append(adopted)
                break
        if self.pending_proposals:
            have = vector_of(self.live)
            for proposal in list(self.pending_proposals.values()):
                if covers(have, proposal.vector):  # only then can the replay succeed
                    effects += self._on_proposal(proposal, now)
        return effects

    def _adopt(self, completed: Completed, now: float) -> CheckpointAdopted | None:
        p = completed.proposal
        state = state_at(self.base, self.log, p.vector, self.committee)
        if isinstance(state, str) or checkpoint_of(state, p.number) != p.checkpoint:
            return None  # behind (sync brings the orders) or not our history
        target = {e.member: e.seq for e in p.vector}
        self.log = [
            o
            for o in self.log
            if not all(q.seq <= target.get(q.member, 0) for q in o.order.parties)
        ]
        self.base, self.base_number, self.adopted_at = state, p.number, now
        keep = self.base_number
        self.pending_adoptions = {k: v for k, v in self.pending_adoptions.items() if k > keep}
        self.accepted = {k: v for k, v in self.accepted.items() if v.number > keep}
        self.pending_proposals = {
            k: v for k, v in self.pending_proposals.items() if v.number > keep
        }
        return CheckpointAdopted(completed, state)
