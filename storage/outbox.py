"""The trader's outbox: its own signed orders, from before they leave the node until they
are applied.

A signed seq is never given to another order (a steward may hold a vote lock on it), and
the orders after it cannot be certified until it is. So every order is written here,
fsynced, before it is submitted; a restarted node submits again whatever is still here,
and drops what its replica shows applied.

Client request ids (idempotency keys) are recorded in the same atomic write as the order
they asked for (``put``), and kept: a client that retries after a crash or a lost answer
finds its order (``seq_of_request``) instead of paying twice.

A swap's taker signs before the maker does, so its signature leaves the node on an order
it does not hold whole. ``hold`` records that half-signed swap (fsynced) before it
leaves: the seq is taken from then on, across restarts, until the swap is applied. The
client's request id is recorded in the same write, so a client that retries the swap
(its answer lost, or the node killed) finds that seq instead of signing a second swap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from proto.orders import SignedOrder
from proto.rfq import SwapSign
from storage import schema
from storage.records import decode_record
from storage.store import Store


class OutboxRepo:
    def __init__(self, store: Store, group_id: bytes, member: bytes) -> None:
        self.store = store
        self.group_id = group_id
        self.member = member

    def _key(self, seq: int) -> bytes:
        return schema.member_seq_key(schema.OUTBOX, self.group_id, self.member, seq)

    def put(self, orders: Iterable[tuple[SignedOrder, bytes | None]]) -> None:
        """Durably keep ``orders`` with their request ids (fsync): call before they leave
        the node."""
        with self.store.batch(sync=True) as batch:
            for signed, request in orders:
                seq = signed.order.seq_of(self.member)
                batch.put(self._key(seq), signed.encode())
                if request is not None:
                    batch.put(self._request_key(request), seq.to_bytes(8, "big"))

    def _request_key(self, request: bytes) -> bytes:
        digest = hashlib.sha256(b"swapnet/1/request\x00" + self.member + request).digest()
        return schema.request_key(self.group_id, digest)

    def seq_of_request(self, request: bytes) -> int | None:
        raw = self.store.get(self._request_key(request))
        return None if raw is None else int.from_bytes(raw, "big")

    def remove(self, orders: Iterable[SignedOrder]) -> None:
        """Forget applied ``orders`` (and what ``hold`` kept for their seqs)."""
        with self.store.batch(sync=False) as batch:
            for signed in orders:
                seq = signed.order.seq_of(self.member)
                batch.delete(self._key(seq))
                batch.delete(self._held_key(seq))

    def _held_key(self, seq: int) -> bytes:
        return schema.member_seq_key(schema.HELD, self.group_id, self.member, seq)

    def hold(self, sign: SwapSign, request: bytes | None = None) -> None:
        """Durably mark our seq in ``sign.swap`` taken by this half-signed swap, with the
        client's ``request`` id if any (fsync): call before our signature leaves the node."""
        seq = sign.swap.seq_of(self.member)
        with self.store.batch(sync=True) as batch:
            batch.put(self._held_key(seq), sign.encode())
            if request is not None:
                batch.put(self._request_key(request), seq.to_bytes(8, "big"))

    def held(self) -> dict[int, SwapSign]:
        """The half-signed swaps kept, by our seq."""
        prefix = schema.member_seq_key(schema.HELD, self.group_id, self.member, 0)[:-8]
        return {
            schema.parse_member_seq_key(k)[1]: decode_record(k, v, SwapSign)
            for k, v in self.store.iterate(prefix)
        }

    def release(self, seqs: Iterable[int]) -> None:
        """Forget the half-signed swaps at ``seqs`` (applied, or whole in the outbox)."""
        with self.store.batch(sync=False) as batch:
            for seq in seqs:
                batch.delete(self._held_key(seq))

    def load(self) -> list[SignedOrder]:
        """Everything kept, by seq."""
        prefix = schema.member_seq_key(schema.OUTBOX, self.group_id, self.member, 0)[:-8]
        return [decode_record(k, v, SignedOrder) for k, v in self.store.iterate(prefix)]
