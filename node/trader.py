"""The trader's own orders: sequence numbers, signing and batching.

Payments asked for at the same moment are signed with consecutive seqs and submitted as one
batch, so one round of votes certifies them all (``MAX_BATCH`` at a time). Before anything
is signed, the order is checked against the node's own view (membership, balance net of
what is already in flight): an order that would be refused is refused here, and no seq is
spent on it.

A seq, once signed, is never reused for another order (a steward may have locked it):
every signed order goes to the outbox (``storage.outbox``, fsynced) before it leaves, and
stays there until the replica has applied it. If the stewards do not certify a batch it is
offered again, as it is (less what is applied meanwhile), with a capped backoff, until
they do (the backoff ends early when its orders are applied meanwhile: a swap's other side
submits it too, and the one refused for it is done): a signed order cannot be taken back,
and the orders after it wait for it. (The usual cause is transient: the other party of a
swap has earlier orders in flight, or a steward is down.) A caller waits ``PLACE_TIMEOUT``
and is then told the order is pending (``OrderPending``): it will still be certified. A
restarted node submits its outbox again first. A swap we signed first and never saw
countersigned is in the outbox as a held seq (``held``): a restarted trader never gives
that seq to another order either.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial

import trio
from nacl.signing import SigningKey

from node.certification import GroupNode, NotCertified
from proto.orders import LendOffer, Order, SignedOrder, Void, sign_order
from proto.signing import public_key_of
from proto.votes import Certificate
from storage.outbox import OutboxRepo

log = logging.getLogger(__name__)

MAX_BATCH = 256
PIT_REASONS = {
    "pit-off": "this group has no S&L pit (its genesis names no numeraire)",
    "insufficient-funds": "the offer is more than we hold",
    "offer-while-borrowing": "we have a credit line in this asset: cannot lend it too",
    "rate-too-high": "the rate is above the highest the group's genesis allows",
    "mark-of-numeraire": "the numeraire is always worth 1",
    "pit-owes": "we owe the pit: repay the loans first",
    "pit-lends": "we lend in the pit: withdraw the offers and wait for the loans first",
    "uncovered": "it would leave our pit debt less covered than the maintenance ratio",
}
RETRY = 0.25
MAX_RETRY = 2.0
PLACE_TIMEOUT = 30.0


class OrderPending(Exception):
    """Signed and queued, not certified yet: it stays queued and will be."""


class OrderRefused(Exception):
    """The order was not signed: ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass
class Pending:
    signed: SignedOrder
    request: bytes | None = None
    done: trio.Event = field(default_factory=trio.Event)
    certificate: Certificate | None = None
    queued_at: float = field(default_factory=trio.current_time)
    holds: dict[str, int] = field(default_factory=dict)
    """What it takes of our spendable funds per asset while waiting (debits, and what a
    lend offer reserves beyond the offer it replaces)."""


class Trader:
    def __init__(self, node: GroupNode, key: SigningKey, outbox: OutboxRepo) -> None:
        self.node = node
        self.key = key
        self.id = public_key_of(key)
        self.outbox = outbox
        self.next_seq = node.replica.state.next_seq(self.id)
        self.queue: list[Pending] = []
        self._owed: dict[str, int] = {}
        """Per asset, what our orders in flight and queued debit us (kept as they come
        and go, so a check costs the same however many orders are waiting)."""
        kept = outbox.load()
        applied = [o for o in kept if not self._unapplied(o)]
        outbox.remove(applied)
        for signed in kept:
            if self._unapplied(signed):  # signed before a restart: offer it again, first
                self._enqueue(Pending(signed))
                self.next_seq = max(self.next_seq, signed.order.seq_of(self.id) + 1)
        held, applied_seq = outbox.held(), node.replica.state.next_seq(self.id)
        self.held = {s: h for s, h in held.items() if s >= applied_seq}
        """Half-signed swaps of ours not applied yet, by seq: those seqs stay taken."""
        outbox.release(s for s in held if s < applied_seq)
        if self.held:
            self.next_seq = max(self.next_seq, max(self.held) + 1)
        self.in_flight: list[Pending] = []
        self.wakeup = trio.Event()
        self.retrying: str | None = None
        """Why the batch in flight is not certified yet (None when it went through)."""
        self.on_certified: Callable[[float], None] | None = None
        """Told each order's seconds from queued to certified (the metrics histogram)."""
        self.signing = trio.Lock()
        """Held from choosing a seq until the order that takes it is queued (or dropped
        unsigned), so no two orders ever get one seq."""

    async def run(self) -> None:
        while True:
            if not self.queue:
                await self.wakeup.wait()
                self.wakeup = trio.Event()
                continue
            batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
            self.in_flight = batch
            await self._certify(batch)
            self.in_flight = []
            for p in batch:
                self._count(p, -1)

    def _enqueue(self, pending: Pending) -> None:
        self.queue.append(pending)
        self._count(pending, 1)

    def _count(self, pending: Pending, sign: int) -> None:
        if sign > 0:
            order = pending.signed.order
            for (payer, asset), amount in order.debits().items():
                if payer == self.id:
                    pending.holds[asset] = pending.holds.get(asset, 0) + amount
            if isinstance(order, LendOffer) and order.lender == self.id:
                reserved = self.node.replica.state.pit.reserved(self.id, order.asset)
                if order.amount > reserved:
                    pending.holds[order.asset] = order.amount - reserved
        for asset, amount in pending.holds.items():
            self._owed[asset] = self._owed.get(asset, 0) + sign * amount

    def _all_applied(self, pending: list[Pending]) -> bool:
        return not any(self._unapplied(p.signed) for p in pending)

    def _unapplied(self, signed: SignedOrder) -> bool:
        return signed.order.seq_of(self.id) >= self.node.replica.state.next_seq(self.id)

    async def _certify(self, batch: list[Pending]) -> None:
        """Certify ``batch`` (in seq order). When the stewards refuse from some order on
        (a swap whose other party's earlier orders are not certified yet, say), the
        orders before it are certified alone, so two traders' batches that wait on each
        other never deadlock."""
        self.outbox.put((p.signed, p.request) for p in batch)  # fsync: before they leave
        last: Exception | None = None
        attempt = 0
        while True:
            left = [p for p in batch if p.certificate is None and self._unapplied(p.signed)]
            if not left:
                self._finish(batch)
                return
            size = len(left)
            while size > 0:
                try:
                    cert = await self.node.submit([p.signed for p in left[:size]])
                except NotCertified as exc:
                    last = exc
                    first = exc.first_refused()
                    size = first if first is not None and first < size else 0
                    continue
                now = trio.current_time()
                for p in left[:size]:
                    p.certificate = cert
                    if self.on_certified is not None:
                        self.on_certified(now - p.queued_at)
                break
            if size == 0:
                log.info("batch of %d not certified (attempt %d): %s", len(left), attempt, last)
                attempt += 1
                self.retrying = str(last)
                with trio.move_on_after(min(MAX_RETRY, RETRY * attempt)):
                    # the refused orders may be certified by another hand meanwhile (a
                    # swap's other side submits it too): then there is nothing to wait for
                    await self.node.wait_for(partial(self._all_applied, left))

    def _finish(self, batch: list[Pending]) -> None:
        self.retrying = None
        self.outbox.remove(p.signed for p in batch)
        for p in batch:
            p.done.set()

    def _spendable(self, asset: str) -> int:
        return self.node.replica.state.spendable(self.id, asset) - self._owed.get(asset, 0)

    @asynccontextmanager
    async def reserved_seq(self) -> AsyncIterator[int]:
        """The next seq, reserved while the block runs: the block either ``queue``s one
        order that takes it or signs nothing with it."""
        async with self.signing:
            state = self.node.replica.state
            if not state.is_member(self.id):
                raise OrderRefused("not a member of the group (yet)")
            if state.has_exited(self.id):
                raise OrderRefused("this member has exited the group")
            self.next_seq = max(self.next_seq, state.next_seq(self.id))
            yield self.next_seq

    async def wait_settled(self, seq: int, timeout: float) -> bool:
        """Wait until every order before ``seq`` is applied (nothing of ours in flight);
        False if that takes longer than ``timeout``."""
        with trio.move_on_after(timeout):
            await self.node.wait_for(lambda: self.node.replica.state.next_seq(self.id) >= seq)
            return True
        return False

    def check(self, order: Order) -> None:
        """Refuse (``OrderRefused``) an order our own view says the stewards would."""
        state = self.node.replica.state
        for leg in order.legs:
            if not state.is_member(leg.payee):
                raise OrderRefused(f"{leg.payee.hex()} is not a member")
            if state.has_exited(leg.payee):
                raise OrderRefused(f"{leg.payee.hex()} has exited the group")
        for (payer, asset), amount in order.debits().items():
            if payer == self.id and self._spendable(asset) < amount:
                line = state.pit.line(self.id, asset)
                more = f" (credit line {line})" if line else ""
                raise OrderRefused(
                    f"insufficient {asset}: {self._spendable(asset)} spendable{more}, "
                    f"{amount} needed"
                )
        if order.debits() and self.id in state.pit.calls:
            raise OrderRefused(
                "we are under a margin call: we may receive funds (they repay), not pay"
            )
        spent = {(self.id, a): v for a, v in self._owed.items()}
        problem = state.pit_problem(order, spent) or state.cover_problem(order, spent)
        if problem is not None:
            raise OrderRefused(PIT_REASONS.get(problem, problem))

    def queue_signed(
        self, signed: SignedOrder, request: bytes | None = None, *, durable: bool = False
    ) -> Pending:
        """Queue a fully signed order that takes the reserved seq (call inside
        ``reserved_seq``); ``request`` is the client's idempotency key, if any. An order
        whose signature leaves the node before it is submitted (a swap's, to the other
        side) is ``durable``: in the outbox (fsynced) before this returns."""
        assert self.signing.locked() and signed.order.seq_of(self.id) == self.next_seq
        if durable:
            self.outbox.put([(signed, request)])
        self.next_seq += 1
        pending = Pending(signed, request)
        self._enqueue(pending)
        self.wakeup.set()
        return pending

    def _voided(self, seq: int) -> bool:
        """Whether our applied ``seq`` was filled with a ``Void`` (by what we still hold
        of its certificate)."""
        cert = self.node.certificates.lookup(self.id, seq)
        if cert is None:
            return False
        return any(
            isinstance(o.order, Void) and o.order.member == self.id and o.order.seq == seq
            for o in cert.batch.orders
        )

    def unanswered_swaps(self) -> list[int]:
        """Our seqs taken by swaps we signed whose countersigned copy is not applied yet
        (``SwapDesk`` keeps offering them; our later orders wait on them)."""
        applied = self.node.replica.state.next_seq(self.id)
        return [seq for seq in self.outbox.held() if seq >= applied]

    def earlier(self, request: bytes | None) -> Pending | bool:
        """What a client's request id already asked for: its pending order, True if that
        order is applied, False if the id is new."""
        if request is None:
            return False
        for p in self.in_flight + self.queue:
            if p.request == request:
                return p
        seq = self.outbox.seq_of_request(request)
        if seq is None:
            return False
        if seq < self.node.replica.state.next_seq(self.id):
            return not self._voided(seq)  # a dead swap's seq: the request never took effect
        raise OrderPending(f"this request is seq {seq}, queued and not certified yet")

    async def place(
        self, make: Callable[[int], Order], request: bytes | None = None
    ) -> Certificate | None:
        """Sign ``make(seq)`` with this trader's next seq and wait until it is certified;
        return the certificate (None if it arrived by sync rather than by our votes).
        A ``request`` id seen before gets the first order's outcome, never a second order."""
        async with self.reserved_seq() as seq:
            earlier = self.earlier(request)
            if earlier is True:
                return None
            if earlier is False:
                order = make(seq)
                self.check(order)
                signed = sign_order(order, {self.id: self.key}, self.node.group_id)
                earlier = self.queue_signed(signed, request)
        return await self.outcome(earlier)

    async def place_many(self, makes: list[Callable[[int], Order]]) -> list[Pending | OrderRefused]:
        """Sign each ``make(seq)`` with consecutive seqs under one hold of the signing
        lock (a refused one takes no seq and is returned as its refusal); the caller
        waits on each pending one with ``outcome``."""
        out: list[Pending | OrderRefused] = []
        async with self.reserved_seq():
            for make in makes:
                order = make(self.next_seq)
                try:
                    self.check(order)
                except OrderRefused as exc:
                    out.append(exc)
                    continue
                signed = sign_order(order, {self.id: self.key}, self.node.group_id)
                out.append(self.queue_signed(signed))
        return out

    async def outcome(self, pending: Pending) -> Certificate | None:
        with trio.move_on_after(PLACE_TIMEOUT):
            await pending.done.wait()
        if not pending.done.is_set():
            raise OrderPending(f"signed and queued, not certified yet: {self.retrying}")
        return pending.certificate
