"""What this node's member did and received, as the orders were applied: the dashboard's
history (with incoming payments, which the certificate store's per-seq index does not
find) and its filters and CSV export.

Invariants: only orders the replica applied are recorded (certified, so final); one entry
per order that touches us (a party, or the payee of a leg), its legs in the order's own
order; the record is bounded (``MAX_ENTRIES``, oldest dropped) and lives in memory: after
a restart it starts from the orders the node re-applied since its base checkpoint (the
node's own orders stay in ``GET /v1/history``, read from the certificate store).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proto.orders import SignedOrder

if TYPE_CHECKING:
    from node.certification import GroupNode

MAX_ENTRIES = 5_000


@dataclass(frozen=True)
class Entry:
    at: float
    """Wall-clock seconds when our node applied the order."""
    kind: str
    seq: int
    """Our seq in the order, 0 when we are only paid by it."""
    legs: tuple[tuple[bytes, bytes, str, int], ...]
    """(payer, payee, asset, amount) of every leg."""

    def json(self) -> dict[str, Any]:
        return {
            "at": round(self.at, 3),
            "kind": self.kind,
            "seq": self.seq,
            "legs": [
                {"from": p.hex(), "to": q.hex(), "asset": a, "amount": n}
                for p, q, a, n in self.legs
            ],
        }


class Activity:
    """The newest orders that touch ``member``, newest last."""

    def __init__(
        self,
        member: bytes,
        node: GroupNode | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Follows ``node``'s applied orders (from those it re-applied at start), if given."""
        self.member = member
        self.clock = clock
        self.entries: deque[Entry] = deque(maxlen=MAX_ENTRIES)
        if node is not None:
            self.on_applied(node.recovered)
            node.listeners.append(self.on_applied)

    def on_applied(self, orders: Iterable[SignedOrder]) -> None:
        now = self.clock()
        for signed in orders:
            order = signed.order
            seq = next((p.seq for p in order.parties if p.member == self.member), 0)
            legs = tuple((g.payer, g.payee, g.asset, g.amount) for g in order.legs)
            if seq or any(payee == self.member for _, payee, _, _ in legs):
                self.entries.append(Entry(now, order.TYPE_NAME, seq, legs))

    def newest(
        self, limit: int, kind: str | None = None, other: bytes | None = None
    ) -> list[Entry]:
        """Up to ``limit`` entries, newest first: of one ``kind``, and/or with ``other``
        paying or paid in one of its legs."""
        out: list[Entry] = []
        for e in reversed(self.entries):
            if kind is not None and e.kind != kind:
                continue
            if other is not None and not any(other in (p, q) for p, q, _, _ in e.legs):
                continue
            out.append(e)
            if len(out) >= limit:
                break
        return out
