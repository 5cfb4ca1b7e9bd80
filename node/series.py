"""The node's own time series, for the dashboard's charts: orders per second, checkpoint
age and orders at risk, our balances, and our pit equity against what the pit's
maintenance ratio asks of it.

Invariants: a sample is taken from a frozen snapshot of the node's own figures (nothing a
peer says directly); at most ``MAX_SAMPLES`` are kept (the oldest dropped), so the memory is
bounded whatever runs; the series are columns of equal length (one value per sample, None
where there is none), as a chart library takes them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from node.statistics import NodeStatistics
from proto.orders import SignedOrder

MAX_SAMPLES = 1_800
"""An hour at the runtime's one sample every two seconds."""
BPS = 10_000


@dataclass(frozen=True)
class Sample:
    t: float
    orders_per_s: float | None
    checkpoint_age: float | None
    at_risk: int | None
    balances: dict[str, int]
    equity: int | None
    maintenance: int | None


class Series:
    """Samples of the node's status; ``on_applied`` counts the orders it applies."""

    def __init__(self) -> None:
        self.samples: deque[Sample] = deque(maxlen=MAX_SAMPLES)
        self.orders = 0
        self._last: tuple[float, int] | None = None

    def on_applied(self, orders: Iterable[SignedOrder]) -> None:
        self.orders += sum(1 for _ in orders)

    def sample(self, t: float, now: NodeStatistics) -> None:
        g = now.group
        if g is None:
            return
        rate = None
        if self._last is not None and t > self._last[0]:
            rate = round((self.orders - self._last[1]) / (t - self._last[0]), 3)
        self._last = (t, self.orders)
        position = g.position
        debt = None if position is None else position.debt
        maintenance = None
        if debt is not None and g.maintenance_bps:
            maintenance = debt * (g.maintenance_bps - BPS) // BPS
        self.samples.append(
            Sample(
                round(t, 3),
                rate,
                g.checkpoint.age_seconds,
                g.orders_since_checkpoint,
                dict(g.ours),
                None if position is None else position.equity,
                maintenance,
            )
        )

    def columns(self) -> dict[str, Any]:
        """The samples as columns: ``t`` (seconds since the epoch) and one list per series;
        ``balances`` per asset we held at any sample (0 where we held none)."""
        samples = list(self.samples)
        assets = sorted({a for s in samples for a in s.balances})
        return {
            "t": [s.t for s in samples],
            "orders_per_s": [s.orders_per_s for s in samples],
            "checkpoint_age": [s.checkpoint_age for s in samples],
            "at_risk": [s.at_risk for s in samples],
            "balances": {a: [s.balances.get(a, 0) for s in samples] for a in assets},
            "equity": [s.equity for s in samples],
            "maintenance": [s.maintenance for s in samples],
        }
