"""The trader's outbox: its own signed orders, from before they leave the node until they
are applied.

A signed seq is never given to another order (a steward may hold a vote lock on it), and
the orders after it cannot be certified until it is. So every order is written here,
fsynced, before it is submitted; a restarted node submits again whatever is still here,
and drops what its replica shows applied.

Client request ids (idempotency keys) are recorded in the same atomic write as the order
they asked for (``put``), and kept: a client that retries after a crash or a lost answer
finds its order (``seq_of_request``) instead of paying twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from proto.orders import SignedOrder
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

    def _seq(self, signed: SignedOrder) -> int:
        for p in signed.order.parties:
            if p.member == self.member:
                return p.seq
        raise ValueError("an order this trader is not a party of")

    def put(self, orders: Iterable[tuple[SignedOrder, bytes | None]]) -> None:
        """Durably keep ``orders`` with their request ids (fsync): call before they leave
        the node."""
        with self.store.batch(sync=True) as batch:
            for signed, request in orders:
                seq = self._seq(signed)
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
        with self.store.batch(sync=False) as batch:
            for signed in orders:
                batch.delete(self._key(self._seq(signed)))

    def load(self) -> list[SignedOrder]:
        """Everything kept, by seq."""
        prefix = schema.member_seq_key(schema.OUTBOX, self.group_id, self.member, 0)[:-8]
        return [decode_record(k, v, SignedOrder) for k, v in self.store.iterate(prefix)]
