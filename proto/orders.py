"""Orders: the signed off-ledger balance updates, and equivocation evidence.

Six kinds of order exist today:

* ``Transfer``: one sender pays one recipient an amount of one asset.
* ``Swap``: several parties exchange assets atomically. Every party that pays in some leg
  is a party of the swap, signs it, and consumes its own next sequence number.
* ``Exit``: a member's last order; it moves nothing and marks the member as leaving.
* ``LendOffer`` and ``Mark``: a lender's standing offer to the S&L pit and a member's price
  mark (``proto.pit``); they move nothing themselves.
* ``Void``: takes a seq and does nothing, to fill a seq a swap took that can never be
  applied (``node.swaps``).

Both expose the same view: ``parties`` (who is debited, each with the seq it consumes,
sorted by member id) and ``legs`` (payer, payee, asset, amount). The rest of the protocol
works on that view only, so a new order kind is a new class and nothing else.

Invariants (checked at construction, so any order object that exists holds them):

* a payer never pays itself; every amount is at least 1 base unit;
* a swap's parties are sorted by member id without repeats, every leg's payer is a party
  and every party pays in at least one leg; its legs are sorted by (payer, payee, asset)
  without repeats, so a swap has exactly one encoding;
* a ``SignedOrder`` carries one signature per party, in party order, over the domain
  message ``swapnet/1/order`` + group id + the order's canonical bytes.

Identity: an order's id is SHA-256 of its canonical bytes (signatures excluded, since an
Ed25519 signer can produce many valid signatures for one message). A steward's vote lock
and the equivocation rule speak of (member, seq) -> order id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

from nacl.signing import SigningKey

from proto import signing
from proto.codec import ListOf, Obj, UInt, Wire, register, wf
from proto.errors import InvalidProof, InvalidSignature, LocalProtocolError
from proto.kinds import (
    AMOUNT,
    ASSET,
    BALANCE,
    MAX_SWAP_LEGS,
    MAX_SWAP_PARTIES,
    MEMBER_ID,
    MEMO,
    SEQ,
    SIGNATURE,
)

ORDER_DOMAIN = "order"


@register(1, "party")
@dataclass(frozen=True)
class Party(Wire):
    """A debited party of an order and the sequence number the order consumes."""

    member: bytes = wf(MEMBER_ID)
    seq: int = wf(SEQ)


@register(2, "leg")
@dataclass(frozen=True)
class Leg(Wire):
    """One movement of value inside an order."""

    payer: bytes = wf(MEMBER_ID)
    payee: bytes = wf(MEMBER_ID)
    asset: str = wf(ASSET)
    amount: int = wf(AMOUNT)

    def check_fields(self) -> None:
        if self.payer == self.payee:
            raise ValueError("a leg cannot pay its payer")


class Order(Wire):
    """The common view of every order kind."""

    @property
    def parties(self) -> tuple[Party, ...]:
        raise LocalProtocolError(f"{type(self).__name__} must define parties")

    @property
    def legs(self) -> tuple[Leg, ...]:
        raise LocalProtocolError(f"{type(self).__name__} must define legs")

    @cached_property
    def order_id(self) -> bytes:
        return order_id_of(self.encode())

    def debits(self) -> dict[tuple[bytes, str], int]:
        """Gross amount each (payer, asset) pays in this order."""
        out: dict[tuple[bytes, str], int] = {}
        for leg in self.legs:
            key = (leg.payer, leg.asset)
            out[key] = out.get(key, 0) + leg.amount
        return out

    def seq_of(self, member: bytes) -> int:
        """The seq ``member`` consumes in this order (``ValueError`` if it is no party)."""
        for p in self.parties:
            if p.member == member:
                return p.seq
        raise ValueError(f"{member.hex()[:16]} is not a party of this order")

    def members_touched(self) -> set[bytes]:
        legs = {leg.payer for leg in self.legs} | {leg.payee for leg in self.legs}
        return legs | {p.member for p in self.parties}


def order_id_of(order_bytes: bytes) -> bytes:
    return hashlib.sha256(b"swapnet/1/order-id\x00" + order_bytes).digest()


@register(3, "transfer")
@dataclass(frozen=True)
class Transfer(Order):
    sender: bytes = wf(MEMBER_ID)
    seq: int = wf(SEQ)
    recipient: bytes = wf(MEMBER_ID)
    asset: str = wf(ASSET)
    amount: int = wf(AMOUNT)
    memo: bytes = wf(MEMO)

    def check_fields(self) -> None:
        if self.sender == self.recipient:
            raise ValueError("a transfer cannot pay its sender")

    @cached_property
    def parties(self) -> tuple[Party, ...]:
        return (Party(self.sender, self.seq),)

    @cached_property
    def legs(self) -> tuple[Leg, ...]:
        return (Leg(self.sender, self.recipient, self.asset, self.amount),)


def _party_key(p: Party) -> bytes:
    return p.member


def _leg_key(leg: Leg) -> tuple[bytes, bytes, str]:
    return (leg.payer, leg.payee, leg.asset)


@register(4, "swap")
@dataclass(frozen=True)
class Swap(Order):
    swap_parties: tuple[Party, ...] = wf(
        ListOf(
            Obj(Party),
            min_items=1,
            max_items=MAX_SWAP_PARTIES,
            strictly_sorted=True,
            sort_key=_party_key,
        )
    )
    swap_legs: tuple[Leg, ...] = wf(
        ListOf(
            Obj(Leg), min_items=1, max_items=MAX_SWAP_LEGS, strictly_sorted=True, sort_key=_leg_key
        )
    )
    memo: bytes = wf(MEMO)

    def check_fields(self) -> None:
        party_ids = {p.member for p in self.swap_parties}
        payers = {leg.payer for leg in self.swap_legs}
        if not payers <= party_ids:
            raise ValueError("every payer of a swap must be one of its parties")
        if party_ids - payers:
            raise ValueError("every party of a swap must pay in one of its legs")

    @property
    def parties(self) -> tuple[Party, ...]:
        return self.swap_parties

    @property
    def legs(self) -> tuple[Leg, ...]:
        return self.swap_legs


class SoloOrder(Order):
    """An order of one party that moves nothing by itself (an exit, a lend offer, a
    mark): its party is the member in field ``PARTY`` with its ``seq``."""

    PARTY: ClassVar[str] = "member"
    seq: int  # (each subclass declares it as a wire field)

    @cached_property
    def parties(self) -> tuple[Party, ...]:
        return (Party(getattr(self, self.PARTY), self.seq),)

    @cached_property
    def legs(self) -> tuple[Leg, ...]:
        return ()


@register(7, "exit")
@dataclass(frozen=True)
class Exit(SoloOrder):
    """A member leaves cooperatively: its last order. Once applied the member can pay no
    more; the checkpoint that covers it fixes the balance the group settles to ``pay_to``
    (a ledger account) on the ledger."""

    member: bytes = wf(MEMBER_ID)
    seq: int = wf(SEQ)
    pay_to: bytes = wf(MEMBER_ID)


@register(8, "lend-offer")
@dataclass(frozen=True)
class LendOffer(SoloOrder):
    """A lender's standing offer to the S&L pit (``proto.pit``): up to ``amount`` of
    ``asset`` at ``rate_bps`` basis points a day, to borrowers whose collateral is worth at
    least ``min_collateral_bps`` of their debt, until checkpoint ``expiry`` (0: no expiry).
    A new offer in the same asset replaces the lender's last one; amount 0 withdraws it.
    What is offered is reserved out of the lender's balance. It moves nothing itself."""

    PARTY: ClassVar[str] = "lender"

    lender: bytes = wf(MEMBER_ID)
    seq: int = wf(SEQ)
    asset: str = wf(ASSET)
    amount: int = wf(BALANCE)
    rate_bps: int = wf(UInt(32))
    min_collateral_bps: int = wf(UInt(32, minimum=10_000))
    expiry: int = wf(UInt(64))


@register(9, "mark")
@dataclass(frozen=True)
class Mark(SoloOrder):
    """A member's price mark: one base unit of ``asset`` is worth ``price`` / 10**8 base
    units of the group's numeraire (its pit policy). The group's mark is the median of
    fresh marks from distinct members (``proto.pit``)."""

    member: bytes = wf(MEMBER_ID)
    seq: int = wf(SEQ)
    asset: str = wf(ASSET)
    price: int = wf(AMOUNT)


@register(16, "void")
@dataclass(frozen=True)
class Void(SoloOrder):
    """Takes the member's seq and does nothing else. A trader fills a seq with it that no
    other order can take: one it gave a swap it signed first, whose maker never signed it
    and has since used its own seq in that swap for another order (so the swap can never
    be applied, and no steward ever voted for it)."""

    member: bytes = wf(MEMBER_ID)
    seq: int = wf(SEQ)


ORDER_KINDS: tuple[type[Order], ...] = (Transfer, Swap, Exit, LendOffer, Mark, Void)


@register(5, "signed-order")
@dataclass(frozen=True)
class SignedOrder(Wire):
    """An order with one signature per party, in party order."""

    order: Order = wf(Obj(*ORDER_KINDS))
    signatures: tuple[bytes, ...] = wf(ListOf(SIGNATURE, min_items=1, max_items=MAX_SWAP_PARTIES))

    def check_fields(self) -> None:
        if len(self.signatures) != len(self.order.parties):
            raise ValueError("a signed order needs exactly one signature per party")

    @property
    def order_id(self) -> bytes:
        return self.order.order_id

    def verify(self, group_id: bytes) -> None:
        """Raise ``InvalidSignature`` unless every party signed this order in this group."""
        body = self.order.encode()
        for party, sig in zip(self.order.parties, self.signatures, strict=True):
            signing.verify(party.member, sig, ORDER_DOMAIN, group_id, body)

    def signature_of(self, member: bytes) -> bytes:
        for party, sig in zip(self.order.parties, self.signatures, strict=True):
            if party.member == member:
                return sig
        raise LocalProtocolError("member is not a party of this order")


def order_signature(order: Order, key: SigningKey, group_id: bytes) -> bytes:
    """One party's signature on ``order`` (a swap collects one from each party)."""
    return signing.sign(key, ORDER_DOMAIN, group_id, order.encode())


def sign_order(order: Order, keys: Mapping[bytes, SigningKey], group_id: bytes) -> SignedOrder:
    """Sign ``order`` with the key of every party, found in ``keys`` by member id."""
    try:
        sigs = tuple(order_signature(order, keys[p.member], group_id) for p in order.parties)
    except KeyError as exc:
        raise LocalProtocolError("no key for a party of the order") from exc
    return SignedOrder(order, sigs)


@register(6, "equivocation")
@dataclass(frozen=True)
class EquivocationProof(Wire):
    """Two different orders, both signed by ``member``, that consume the same seq.

    Anyone holding the group id can check it; it is held against the member.
    """

    member: bytes = wf(MEMBER_ID)
    seq: int = wf(SEQ)
    first: SignedOrder = wf(Obj(SignedOrder))
    second: SignedOrder = wf(Obj(SignedOrder))

    def check_fields(self) -> None:
        if self.first.order_id >= self.second.order_id:
            raise ValueError("the two orders must differ and be ordered by order id")

    def verify(self, group_id: bytes) -> None:
        """Raise ``InvalidProof`` unless this proves equivocation by ``member``."""
        for signed in (self.first, self.second):
            if Party(self.member, self.seq) not in signed.order.parties:
                raise InvalidProof("an order of the proof does not consume that (member, seq)")
            try:
                signing.verify(
                    self.member,
                    signed.signature_of(self.member),
                    ORDER_DOMAIN,
                    group_id,
                    signed.order.encode(),
                )
            except InvalidSignature as exc:
                raise InvalidProof("an order of the proof is not signed by the member") from exc


def equivocation_proof(
    member: bytes, seq: int, a: SignedOrder, b: SignedOrder
) -> EquivocationProof:
    first, second = sorted((a, b), key=lambda s: s.order_id)
    return EquivocationProof(member, seq, first, second)
