"""The trader's own orders: sequence numbers, signing and batching.

Payments asked for at the same moment are signed with consecutive seqs and submitted as one
batch, so one round of votes certifies them all (``MAX_BATCH`` at a time). Before anything
is signed, the order is checked against the node's own view (membership, balance net of
what is already in flight): an order that would be refused is refused here, and no seq is
spent on it.

A seq, once signed, is never reused for another order (a steward may have locked it):
every signed order goes to the outbox (``storage.outbox``, fsynced) before it leaves, and
stays there until the replica has applied it. If the stewards do not certify a batch it is
offered again, as it is (less what is applied meanwhile), until they do or until
``MAX_ATTEMPTS``; after that the sequencer stops taking orders and says why (``stuck``)
rather than risk equivocating. A restarted node submits its outbox again first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import trio
from nacl.signing import SigningKey

from node.certification import GroupNode, NotCertified
from proto.orders import Order, SignedOrder, sign_order
from proto.signing import public_key_of
from proto.votes import Certificate
from storage.outbox import OutboxRepo

log = logging.getLogger(__name__)

MAX_BATCH = 256
MAX_ATTEMPTS = 30
RETRY = 0.25
MAX_RETRY = 2.0


class OrderRefused(Exception):
    """The order was not signed: ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass
class _Pending:
    signed: SignedOrder
    done: trio.Event = field(default_factory=trio.Event)
    certificate: Certificate | None = None
    error: str | None = None


class Trader:
    def __init__(self, node: GroupNode, key: SigningKey, outbox: OutboxRepo) -> None:
        self.node = node
        self.key = key
        self.id = public_key_of(key)
        self.outbox = outbox
        self.next_seq = node.replica.state.next_seq(self.id)
        self.queue: list[_Pending] = []
        kept = outbox.load()
        applied = [o for o in kept if not self._unapplied(o)]
        outbox.remove(applied)
        for signed in kept:
            if self._unapplied(signed):  # signed before a restart: offer it again, first
                self.queue.append(_Pending(signed))
                self.next_seq = max(self.next_seq, self._my_seq(signed) + 1)
        self.in_flight: list[_Pending] = []
        self.wakeup = trio.Event()
        self.stuck: str | None = None

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

    def _my_seq(self, signed: SignedOrder) -> int:
        return next(p.seq for p in signed.order.parties if p.member == self.id)

    def _unapplied(self, signed: SignedOrder) -> bool:
        return self._my_seq(signed) >= self.node.replica.state.next_seq(self.id)

    async def _certify(self, batch: list[_Pending]) -> None:
        self.outbox.put(p.signed for p in batch)  # fsync: before any of them leaves
        last: Exception | None = None
        for attempt in range(MAX_ATTEMPTS):
            orders = [p.signed for p in batch if self._unapplied(p.signed)]
            if not orders:  # certified meanwhile (a sync brought the certificate)
                self._finish(batch, None)
                return
            try:
                cert = await self.node.submit(orders)
            except NotCertified as exc:
                last = exc
                log.info("batch of %d not certified (attempt %d): %s", len(orders), attempt, exc)
                await trio.sleep(min(MAX_RETRY, RETRY * (attempt + 1)))
                continue
            self._finish(batch, cert)
            return
        self.stuck = f"a signed batch was not certified: {last}"
        for p in batch + self.queue:
            p.error = self.stuck
            p.done.set()
        self.queue = []

    def _finish(self, batch: list[_Pending], cert: Certificate | None) -> None:
        self.outbox.remove(p.signed for p in batch)
        for p in batch:
            p.certificate = cert
            p.done.set()

    def _spendable(self, asset: str) -> int:
        held = self.node.replica.state.balance(self.id, asset)
        for p in self.in_flight + self.queue:
            held -= p.signed.order.debits().get((self.id, asset), 0)
        return held

    async def place(self, make: Callable[[int], Order]) -> Certificate | None:
        """Sign ``make(seq)`` with this trader's next seq and wait until it is certified;
        return the certificate (None if it arrived by sync rather than by our votes)."""
        if self.stuck:
            raise OrderRefused(self.stuck)
        state = self.node.replica.state
        if not state.is_member(self.id):
            raise OrderRefused("not a member of the group (yet)")
        if state.has_exited(self.id):
            raise OrderRefused("this member has exited the group")
        self.next_seq = max(self.next_seq, state.next_seq(self.id))
        order = make(self.next_seq)
        for leg in order.legs:
            if not state.is_member(leg.payee):
                raise OrderRefused(f"{leg.payee.hex()} is not a member")
            if state.has_exited(leg.payee):
                raise OrderRefused(f"{leg.payee.hex()} has exited the group")
        for (payer, asset), amount in order.debits().items():
            if payer == self.id and self._spendable(asset) < amount:
                raise OrderRefused(f"insufficient {asset}")
        signed = sign_order(order, {self.id: self.key}, self.node.group_id)
        self.next_seq += 1
        pending = _Pending(signed)
        self.queue.append(pending)
        self.wakeup.set()
        await pending.done.wait()
        if pending.error is not None:
            raise OrderRefused(pending.error)
        return pending.certificate
