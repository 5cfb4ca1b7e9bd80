"""Checkpoint proposals and the state they imply: the records the stewards exchange to
agree on a checkpoint (``Proposal``, ``Completed``, the applied seq vector) and
``state_at``, the state a proposal's vector, admissions, claims and settles give over the
last adopted checkpoint. Pure: ``proto.checkpointing`` runs the consensus over them.

Invariants: a proposal's vector is sorted by member without repeats; ``state_at`` never
raises on a peer's proposal (it says ``"behind"`` or ``"inconsistent"``), and the state it
returns is the one every honest steward computes from the same base, log and proposal.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from proto.admission import Admission, apply_admissions
from proto.admission import by_member as admission_key
from proto.checkpoint import Checkpoint, SignedCheckpoint
from proto.claims import ClaimRecord, apply_claims
from proto.claims import by_member as claim_key
from proto.codec import ListOf, Obj, UInt, Wire, register, wf
from proto.epochs import Epoch, Epochs
from proto.errors import LocalProtocolError
from proto.kinds import MAX_MEMBERS, MEMBER_ID, SEQ, SIGNATURE, WALLET_SIGNATURE
from proto.orders import SignedOrder
from proto.replica import Replica
from proto.settles import SettleRecord, apply_settles
from proto.state import GroupState

PROPOSAL_DOMAIN = "checkpoint-proposal"

EMPTY = Checkpoint(bytes(32), 1, bytes(32), 0, bytes(32), 0, bytes(32), bytes(32))
"""A placeholder checkpoint for a proposal that is still being drafted."""


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
    ledger_height: int = wf(UInt(64))
    admissions: tuple[Admission, ...] = wf(
        ListOf(Obj(Admission), max_items=MAX_MEMBERS, strictly_sorted=True, sort_key=admission_key)
    )
    claims: tuple[ClaimRecord, ...] = wf(
        ListOf(Obj(ClaimRecord), max_items=MAX_MEMBERS, strictly_sorted=True, sort_key=claim_key)
    )
    settles: tuple[SettleRecord, ...] = wf(ListOf(Obj(SettleRecord), max_items=MAX_MEMBERS))
    """The wallet's settles the ledger shows by ``ledger_height`` (``proto.settles``)."""
    checkpoint: Checkpoint = wf(Obj(Checkpoint))
    signature: bytes = wf(SIGNATURE)
    epoch: int = wf(UInt(32), default=0)
    """The epoch whose committee signs this checkpoint (``Epochs.at(number)``)."""
    next_epoch: tuple[Epoch, ...] = wf(ListOf(Obj(Epoch), max_items=1), default=())
    """The epoch this checkpoint hands over to, if any (its digest is in the checkpoint,
    which the group signs): the next number, first checkpoint the one after this."""

    def next_digest(self, group_id: bytes) -> bytes:
        return self.next_epoch[0].digest(group_id) if self.next_epoch else bytes(32)

    def body(self) -> bytes:
        return replace(self, signature=bytes(64)).encode()

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
    signature: bytes = wf(WALLET_SIGNATURE)

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
    base: GroupState,
    log: list[SignedOrder],
    vector: tuple[SeqEntry, ...],
    epochs: Epochs,
    admissions: tuple[Admission, ...] = (),
    *,
    claims: tuple[ClaimRecord, ...] = (),
    settles: tuple[SettleRecord, ...] = (),
    ledger_height: int | None = None,
    number: int = 0,
) -> GroupState | str:
    """The state of checkpoint ``number``: ``base`` less the settles the ledger paid, plus
    the logged orders within ``vector``, plus ``admissions`` and ``claims`` read at
    ``ledger_height``
    (``None``: the base's); or ``"behind"`` (orders missing from the log) or
    ``"inconsistent"`` (no replay reaches the vector, the ledger height goes back, or the
    admissions or claims do not fit)."""
    target = {e.member: e.seq for e in vector}
    height = base.ledger_height if ledger_height is None else ledger_height
    if not covers(vector, vector_of(base)) or height < base.ledger_height:
        return "inconsistent"
    within = [o for o in log if all(p.seq <= target.get(p.member, 0) for p in o.order.parties)]
    state = base.copy()
    try:
        apply_settles(state, settles)
    except LocalProtocolError:
        return "inconsistent"
    replica = Replica(state, epochs)
    replica.add_certified(within)
    reached = {e.member: e.seq for e in vector_of(replica.state)}
    if replica.waiting or any(reached.get(m, 0) > s for m, s in target.items()):
        return "inconsistent"
    if reached != target:
        return "behind"
    state.pit.clear(state, number)  # the interval's draws, interest, marks, calls, lines
    try:
        apply_admissions(state, admissions, number, height)
        apply_claims(state, claims)
    except LocalProtocolError:
        return "inconsistent"
    state.ledger_height = height
    return state
