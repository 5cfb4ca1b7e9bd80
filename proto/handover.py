"""The hand-over from one epoch's committee to the next: the rule, and its records.

The rule, in DESIGN terms. Epoch e's committee certifies orders by quorum votes behind
vote locks (``proto.steward``). To hand over to epoch e+1, a quorum of e's stewards each
**seal** e: a signed ``Seal`` that names the next epoch, the last checkpoint the steward
adopted (its base), and every order it holds a vote lock on that its base does not cover.
Before the seal leaves, the steward persists it and from then on never votes in e again
(persist before you promise). A ``Handover`` is the next epoch with a quorum of e's seals
for it. Epoch e+1 starts from the highest base any of them names (its honest stewards
vote only once they have adopted that checkpoint, or a later one) and **carries** the
union of the seals' locks: for a (member, seq) that some seal carries, an honest steward
of e+1 votes only for the one order carried there, and for none if the seals carry two
(the member signed both: it equivocated, and its seq stays frozen until a certificate of
epoch e for one of them turns up).

Why no (member, seq) gets two certified conflicting orders across the change, with at
most f Byzantine stewards in each committee, any message dropped, duplicated or late, and
stewards crashing (every lock and seal is on disk before what it forbids could leave):

* within an epoch the vote locks do it (two quorums share an honest steward);
* an order O certified in e was voted by a quorum Q1; the hand-over's seals come from a
  quorum Q2; Q1 and Q2 share at least f + 1 stewards, so an honest one, h. h voted for O
  before it sealed (after, it never votes in e). So either h's base covers O (then the
  hand-over's base, a later state of the same history, consumes O's seqs in e+1), or h's
  seal carries O (then e+1's honest stewards vote for no other order at O's seqs). Either
  way no quorum of e+1 (which needs an honest steward) certifies a conflicting order;
* a certificate of e that forms late (votes cast before their stewards sealed, gathered
  after) is for an order that some honest sealer locked, by the same argument: carried, or
  consumed by the base. So replicas accept certificates of a closed epoch as they come;
* two different hand-overs of e cannot both exist: each needs a quorum of seals, and an
  honest steward seals e once (its seal is on disk).

Which next epoch a steward seals for is not its own choice: it is the one the checkpoint
that closes e names (agreed and FROST-signed under e's committee like any checkpoint, its
first checkpoint the one after), with the new committee's shares already dealt
(``proto.resharing``). So every honest steward seals for the same next epoch, once it has
adopted that checkpoint, and a seal is never spent on a change that does not happen (a
seal cannot be taken back: a quorum's worth of seals for a change that stalls would stop
e's voting). Putting the change into a checkpoint proposal is the node's part, not built
yet (SECURITY.md, "Not covered yet").

An order in flight at the hand-over takes effect exactly once: either a certificate of e
or one of e+1 (for its carried order, the only one e+1 may certify there) applies it, and
a replica applies a (member, seq) once. The payer is told which epoch's certificate
applied it (``Certificate.epoch``).

Bounds: a seal carries at most ``MAX_SEAL_LOCKS`` orders (a steward with more open locks
than that cannot seal until checkpoints cover them); a hand-over at most one seal per
steward of the old committee. Verifying one costs a signature per seal and per party of
each distinct carried order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from nacl.signing import SigningKey

from proto import signing
from proto.codec import ListOf, Obj, UInt, Wire, register, wf
from proto.epochs import Epoch, Epochs
from proto.errors import InvalidCertificate, InvalidSignature
from proto.kinds import DIGEST, MAX_STEWARDS, MEMBER_ID, SIGNATURE
from proto.orders import SignedOrder

SEAL_DOMAIN = "seal"
MAX_SEAL_LOCKS = 512

Key = tuple[bytes, int]


@register(24, "seal")
@dataclass(frozen=True)
class Seal(Wire):
    """A steward of ``epoch`` ends its voting in it and names the next epoch."""

    epoch: int = wf(UInt(32))
    next_digest: bytes = wf(DIGEST)
    base: int = wf(UInt(64))
    """The last checkpoint this steward adopted (0: none yet)."""
    locks: tuple[SignedOrder, ...] = wf(ListOf(Obj(SignedOrder), max_items=MAX_SEAL_LOCKS))
    steward: bytes = wf(MEMBER_ID)
    signature: bytes = wf(SIGNATURE)

    def body(self) -> bytes:
        return replace(self, signature=bytes(64)).encode()

    def verify(self, group_id: bytes) -> None:
        signing.verify(self.steward, self.signature, SEAL_DOMAIN, group_id, self.body())


def make_seal(
    key: SigningKey,
    group_id: bytes,
    epoch: int,
    next_epoch: Epoch,
    base: int,
    locks: Iterable[SignedOrder],
) -> Seal:
    unique = {s.order_id: s for s in locks}
    ordered = tuple(unique[k] for k in sorted(unique))
    steward = signing.public_key_of(key)
    draft = Seal(epoch, next_epoch.digest(group_id), base, ordered, steward, bytes(64))
    return Seal(
        epoch,
        draft.next_digest,
        base,
        ordered,
        steward,
        signing.sign(key, SEAL_DOMAIN, group_id, draft.body()),
    )


def _seal_steward(seal: Seal) -> bytes:
    return seal.steward


@register(25, "handover")
@dataclass(frozen=True)
class Handover(Wire):
    """The next epoch and a quorum of the old committee's seals for it."""

    next: Epoch = wf(Obj(Epoch))
    seals: tuple[Seal, ...] = wf(
        ListOf(
            Obj(Seal),
            min_items=1,
            max_items=MAX_STEWARDS,
            strictly_sorted=True,
            sort_key=_seal_steward,
        )
    )

    @property
    def base(self) -> int:
        """The checkpoint the new epoch starts from: the highest any sealer adopted."""
        return max(s.base for s in self.seals)


class Carried:
    """What a hand-over carries into the new epoch: per (member, seq), the orders some
    seal held a lock on. One order: the only one the new epoch may certify there; two or
    more: the member equivocated, and the seq is frozen."""

    def __init__(self, orders: Iterable[SignedOrder] = ()) -> None:
        self.at: dict[Key, dict[bytes, SignedOrder]] = {}
        for signed in orders:
            for p in signed.order.parties:
                self.at.setdefault((p.member, p.seq), {})[signed.order_id] = signed

    def allows(self, signed: SignedOrder) -> bool:
        """Whether an honest steward of the new epoch may vote for ``signed``."""
        for p in signed.order.parties:
            held = self.at.get((p.member, p.seq))
            if held is not None and (len(held) > 1 or signed.order_id not in held):
                return False
        return True

    def frozen(self) -> list[Key]:
        return sorted(k for k, held in self.at.items() if len(held) > 1)

    def orders(self) -> list[SignedOrder]:
        unique = {i: s for held in self.at.values() for i, s in held.items()}
        return [unique[k] for k in sorted(unique)]

    def forget_consumed(self, next_seq: dict[bytes, int]) -> None:
        """Drop (member, seq)s below the member's next seq: they can never be voted again."""
        for key in [k for k in self.at if k[1] < next_seq.get(k[0], 1)]:
            del self.at[key]

    def __len__(self) -> int:
        return len(self.at)


def verify_handover(handover: Handover, epochs: Epochs, group_id: bytes) -> Carried:
    """Check ``handover`` against the schedule it extends and return what it carries;
    raise ``InvalidCertificate`` (nothing changes) unless it is the next epoch with a
    quorum of valid seals of the current one, every carried order signed by its parties."""
    old = epochs.current
    nxt = handover.next
    if nxt.number != old.number + 1:
        raise InvalidCertificate(f"a hand-over to epoch {nxt.number} after epoch {old.number}")
    if nxt.first_checkpoint <= max(old.first_checkpoint, handover.base):
        raise InvalidCertificate("the next epoch must start after its base checkpoint")
    if len(handover.seals) < old.quorum:
        raise InvalidCertificate(f"{len(handover.seals)} seals, quorum is {old.quorum}")
    digest = nxt.digest(group_id)
    orders: dict[bytes, SignedOrder] = {}
    for seal in handover.seals:
        if seal.steward not in old.committee:
            raise InvalidCertificate("a seal from outside the committee")
        if seal.epoch != old.number or seal.next_digest != digest:
            raise InvalidCertificate("a seal of another epoch or for another next epoch")
        try:
            seal.verify(group_id)
        except InvalidSignature as exc:
            raise InvalidCertificate("a seal does not verify") from exc
        orders.update((o.encode(), o) for o in seal.locks)
    for signed in orders.values():  # each distinct signed order once
        try:
            signed.verify(group_id)
        except InvalidSignature as exc:
            raise InvalidCertificate("a carried order does not verify") from exc
    return Carried(orders.values())


@register(35, "handover-pull")
@dataclass(frozen=True)
class HandoverPull(Wire):
    """A node that knows ``known`` epochs asks a peer for the hand-over into the next
    (a node that missed the hand-over's gossip cannot check the new epoch's certificates)."""

    known: int = wf(UInt(32, minimum=1))
