"""Whether a view accepts a batch of signed orders: the check a steward makes before it
votes, and a member before it submits.

A batch is checked order by order, in batch order, against the view's applied state
(``GroupState``) plus what earlier orders of the same batch already consume:

* every party signed (``bad-signature``);
* every payer and payee is an admitted member (``not-member``), no party or payee is
  frozen (``frozen``: a member that revoked on the ledger), every asset is one of the
  group's (``unknown-asset``);
* each party's seq is its next one: one past its last applied seq, or one past the seq
  it consumed earlier in this batch (``bad-seq``);
* each party holds what it pays (``insufficient-funds``): its applied balance, less what it
  pays earlier in the batch. Credits from orders in the same batch are not counted: they
  are not final until the batch is, and a certified order must be payable from state that
  every member will reach.

Invariant: if every order a steward votes for passes this check against certified state,
then every certified order becomes applicable at every member once the member holds the
certificates the steward held (credits only grow, and each party's debits are in seq
order). ``proto.replica`` relies on that.
"""

from __future__ import annotations

from dataclasses import dataclass

from proto.codec import ListOf, Obj, Text, UInt, Wire, register, wf
from proto.errors import InvalidSignature
from proto.kinds import DIGEST, MAX_BATCH_ORDERS
from proto.orders import LendOffer, SignedOrder
from proto.state import GroupState


class VerifiedOrders:
    """A bounded memory of signed orders whose signatures already verified, so that a
    batch re-sent (retransmission, a second batch with the same order) is not verified
    twice. Keyed by the whole signed order, signatures included."""

    def __init__(self, capacity: int = 65536) -> None:
        self.capacity = capacity
        self._seen: dict[SignedOrder, None] = {}

    def __contains__(self, signed: SignedOrder) -> bool:
        return signed in self._seen

    def add(self, signed: SignedOrder) -> None:
        self._seen[signed] = None
        if len(self._seen) > self.capacity:
            del self._seen[next(iter(self._seen))]


@register(14, "refusal")
@dataclass(frozen=True)
class Refusal(Wire):
    """Why the order at ``index`` of a batch is refused (``reason`` is a stable code)."""

    index: int = wf(UInt(16))
    reason: str = wf(Text(32))


@register(15, "batch-refused")
@dataclass(frozen=True)
class BatchRefused(Wire):
    """A steward's answer to a batch it will not vote for."""

    batch_digest: bytes = wf(DIGEST)
    refusals: tuple[Refusal, ...] = wf(
        ListOf(Obj(Refusal), min_items=1, max_items=2 * MAX_BATCH_ORDERS)
    )


def seqs_ahead(state: GroupState, orders: tuple[SignedOrder, ...]) -> int:
    """How far the party of ``orders`` furthest ahead starts past its next seq in
    ``state`` (0: none is ahead). A batch is ahead of a view when the certificates of the
    party's previous orders have not reached it yet: they travel by gossip, and the next
    batch's vote request can overtake them."""
    first: dict[bytes, int] = {}
    for signed in orders:
        for party in signed.order.parties:
            first.setdefault(party.member, party.seq)
    return max([0, *(seq - state.next_seq(m) for m, seq in first.items())])


def check_batch(
    state: GroupState,
    orders: tuple[SignedOrder, ...],
    group_id: bytes,
    *,
    verified: VerifiedOrders | None = None,
) -> list[Refusal]:
    """Every refusal for ``orders`` against ``state``; an empty list means all pass.

    ``verified`` (optional) remembers orders whose signatures checked out before."""
    refusals: list[Refusal] = []
    next_seq: dict[bytes, int] = {}
    spent: dict[tuple[bytes, str], int] = {}
    offered: dict[tuple[bytes, str], int] = {}
    for index, signed in enumerate(orders):
        reason = _order_problem(state, signed, group_id, next_seq, spent, verified)
        if reason is not None:
            refusals.append(Refusal(index, reason))
            continue
        for party in signed.order.parties:
            next_seq[party.member] = party.seq + 1
        for key, amount in signed.order.debits().items():
            spent[key] = spent.get(key, 0) + amount
        order = signed.order
        if isinstance(order, LendOffer):  # what it reserves beyond the offer it replaces
            key = (order.lender, order.asset)
            before = offered.get(key, state.pit.reserved(*key))
            spent[key] = spent.get(key, 0) + max(0, order.amount - before)
            offered[key] = max(order.amount, before)
    return refusals


def _order_problem(
    state: GroupState,
    signed: SignedOrder,
    group_id: bytes,
    next_seq: dict[bytes, int],
    spent: dict[tuple[bytes, str], int],
    verified: VerifiedOrders | None,
) -> str | None:
    order = signed.order
    for leg in order.legs:
        if leg.asset not in state.assets:
            return "unknown-asset"
        if not state.is_member(leg.payer) or not state.is_member(leg.payee):
            return "not-member"
    for leg in order.legs:
        if state.has_exited(leg.payee):
            return "member-exited"
        if state.is_frozen(leg.payee):
            return "frozen"  # a revoker: its claim is being paid out on the ledger
    for party in order.parties:
        if not state.is_member(party.member):
            return "not-member"
        if state.has_exited(party.member):
            return "member-exited"
        if state.is_frozen(party.member):
            return "frozen"
        expected = next_seq.get(party.member, state.next_seq(party.member))
        if party.seq != expected:
            return "bad-seq"
    for (payer, asset), amount in order.debits().items():
        if state.spendable(payer, asset) - spent.get((payer, asset), 0) < amount:
            return "insufficient-funds"
        if payer in state.pit.calls:
            return "margin-call"  # it may receive (that repays), not pay, until it is over
    pit = state.pit_problem(order, spent) or state.cover_problem(order, spent)
    if pit is not None:
        return pit
    if verified is None or signed not in verified:
        try:
            signed.verify(group_id)
        except InvalidSignature:
            return "bad-signature"
        if verified is not None:
            verified.add(signed)
    return None
