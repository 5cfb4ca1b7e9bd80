"""Sync: how a member fetches the certified orders it is missing (gossip is best effort).

Anti-entropy by seq vectors. A member sends ``SyncHello`` with its applied seq vector and
the (member, seq) of the certified orders it already holds beyond it (waiting to become
payable); the peer answers ``SyncReply`` with certificates that carry orders beyond that
vector and not already held (sender by sender, oldest first), within a byte budget, and
its own vector, so the asker knows whether to ask again. Without the held list a reply
could fill its budget, round after round, with certificates the asker already has while
the one that would unblock them never fits: a livelock the sync tests found.

Certificates are self-proving: the asker verifies each one like any other
(``Replica.receive_certificate``), so a lying peer can withhold but never forge. Orders
that were folded into a checkpoint and pruned are fetched by checkpoint instead (the
node's job, with ``storage.repos.CheckpointRepo``).

``plan_reply`` is the peer's side, pure: it reads certificates through a lookup
function (the node backs it with ``storage.certificates``).

Invariant: if the peer holds, for every member, a certificate for each seq up to its
vector, repeated rounds bring the asker's vector up to the peer's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from proto.checkpoint_proposals import Completed, SeqEntry, by_member
from proto.codec import MAX_MESSAGE_BYTES, Bool, Bytes, ListOf, Obj, UInt, Wire, register, wf
from proto.kinds import MAX_MEMBERS
from proto.votes import Certificate

DEFAULT_BUDGET = MAX_MESSAGE_BYTES // 2
MAX_REPLY_CERTIFICATES = 256


def _vector_kind() -> ListOf:
    return ListOf(Obj(SeqEntry), max_items=MAX_MEMBERS, strictly_sorted=True, sort_key=by_member)


MAX_HELD = 4096


def _by_member_seq(e: SeqEntry) -> tuple[bytes, int]:
    return (e.member, e.seq)


@register(56, "sync-hello")
@dataclass(frozen=True)
class SyncHello(Wire):
    vector: tuple[SeqEntry, ...] = wf(_vector_kind())
    held: tuple[SeqEntry, ...] = wf(
        ListOf(Obj(SeqEntry), max_items=MAX_HELD, strictly_sorted=True, sort_key=_by_member_seq)
    )


def hello_of(vector: tuple[SeqEntry, ...], waiting: Iterable[tuple[bytes, int]]) -> SyncHello:
    """A hello from an applied vector and the (member, seq) keys of waiting orders (the
    oldest ``MAX_HELD`` of them, if there are more)."""
    held = sorted(waiting, key=lambda k: (k[1], k[0]))[:MAX_HELD]
    return SyncHello(vector, tuple(SeqEntry(m, s) for m, s in sorted(held)))


@register(57, "sync-reply")
@dataclass(frozen=True)
class SyncReply(Wire):
    certificates: tuple[Certificate, ...] = wf(
        ListOf(Obj(Certificate), max_items=MAX_REPLY_CERTIFICATES)
    )
    vector: tuple[SeqEntry, ...] = wf(_vector_kind())
    more: bool = wf(Bool())
    """True when the budget cut the reply short: ask again with the vector you reach."""


Lookup = Callable[[bytes, int], Certificate | None]
"""(member, seq) -> the certificate holding that member's order with that seq."""


def plan_reply(
    mine: tuple[SeqEntry, ...],
    hello: SyncHello,
    lookup: Lookup,
    budget: int = DEFAULT_BUDGET,
) -> SyncReply:
    """The certificates that take the asker towards ``mine``: for each member where we are
    ahead, its orders from the asker's next seq on that it does not hold yet, until the
    budget is spent."""
    have = {e.member: e.seq for e in hello.vector}
    held = {(e.member, e.seq) for e in hello.held}
    chosen: dict[bytes, Certificate] = {}  # keyed by batch bytes: one copy of each
    sent: set[tuple[bytes, int]] = set()  # every (member, seq) the chosen ones hold
    spent = 0
    for entry in mine:
        seq = have.get(entry.member, 0) + 1
        while seq <= entry.seq:
            if (entry.member, seq) in held or (entry.member, seq) in sent:
                seq += 1  # (a chosen certificate holds it: no second lookup)
                continue
            cert = lookup(entry.member, seq)
            if cert is None:
                break  # we cannot prove more for this member
            seq += 1
            key = cert.batch.encoded
            if key in chosen:
                continue
            size = len(cert.encode())
            full = spent + size > budget or len(chosen) >= MAX_REPLY_CERTIFICATES
            if chosen and full:  # (one certificate always goes, whatever its size)
                return SyncReply(tuple(chosen.values()), mine, True)
            chosen[key] = cert
            sent.update((p.member, p.seq) for o in cert.batch.orders for p in o.order.parties)
            spent += size
    return SyncReply(tuple(chosen.values()), mine, False)


@register(58, "checkpoint-state-request")
@dataclass(frozen=True)
class StateRequest(Wire):
    """Sync by checkpoint: "send me your last adopted checkpoint if it is above ``have``"."""

    have: int = wf(UInt(64))


@register(59, "checkpoint-state-reply")
@dataclass(frozen=True)
class StateReply(Wire):
    """Empty when the peer has nothing newer; else its adopted checkpoint and the encoded
    state it commits to (the asker checks both: ``CheckpointSteward.adopt_state``)."""

    completed: tuple[Completed, ...] = wf(ListOf(Obj(Completed), max_items=1))
    state: bytes = wf(Bytes(max_size=MAX_MESSAGE_BYTES - 64 * 1024))
