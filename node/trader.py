"""The trader's own orders: sequence numbers, signing and batching.

Payments asked for at the same moment are signed with consecutive seqs and submitted as one
batch, so one round of votes certifies them all (``MAX_BATCH`` at a time). Before anything
is signed, the order is checked against the node's own view (membership, balance net of
what is already in flight): an order that would be refused is refused here, and no seq is
spent on it.

A seq, once signed, is never reused for another order (a steward may have locked it): if
the stewards do not certify a batch, it is offered again, as it is, until they do or until
``MAX_ATTEMPTS``; after that the sequencer stops taking orders and says why (``stuck``)
rather than risk equivocating.
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

log = logging.getLogger(__name__)

MAX_BATCH = 256
MAX_ATTEMPTS = 5
RETRY = 0.5


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
    def __init__(self, node: GroupNode, key: SigningKey) -> None:
        self.node = node
        self.key = key
        self.id = public_key_of(key)
        self.next_seq = node.replica.state.next_seq(self.id)
        self.queue: list[_Pending] = []
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

    async def _certify(self, batch: list[_Pending]) -> None:
        orders = [p.signed for p in batch]
        last: Exception | None = None
        for attempt in range(MAX_ATTEMPTS):
            try:
                cert = await self.node.submit(orders)
            except NotCertified as exc:
                last = exc
                log.info("batch of %d not certified (attempt %d): %s", len(orders), attempt, exc)
                await trio.sleep(RETRY * (attempt + 1))
                continue
            for p in batch:
                p.certificate = cert
                p.done.set()
            return
        self.stuck = f"a signed batch was not certified: {last}"
        for p in batch + self.queue:
            p.error = self.stuck
            p.done.set()
        self.queue = []

    def _spendable(self, asset: str) -> int:
        held = self.node.replica.state.balance(self.id, asset)
        for p in self.in_flight + self.queue:
            held -= p.signed.order.debits().get((self.id, asset), 0)
        return held

    async def place(self, make: Callable[[int], Order]) -> Certificate:
        """Sign ``make(seq)`` with this trader's next seq and wait for its certificate."""
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
        if pending.certificate is None:
            raise OrderRefused(pending.error or "not certified")
        return pending.certificate
