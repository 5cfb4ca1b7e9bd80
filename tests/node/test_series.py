"""The dashboard's time series (``node.series``): sampled from the node's own status,
orders per second from what it applied, bounded, in columns of one length."""

from __future__ import annotations

from node.series import MAX_SAMPLES, Series
from node.statistics import NodeStatistics
from tests.node.snapshots import no_group, position, snapshot


def status(age: float, usd: int, debt: int | None = None) -> NodeStatistics:
    return snapshot(age=age, ours={"USD": usd}, pit=None if debt is None else position(debt=debt))


def test_samples_become_columns_of_one_length() -> None:
    s = Series()
    s.sample(100.0, no_group())  # no group yet: nothing
    s.sample(100.0, status(1.0, 10))
    s.on_applied([object(), object(), object(), object()])  # type: ignore[list-item]
    s.sample(102.0, status(3.0, 12, debt=1_000))
    c = s.columns()
    assert c["t"] == [100.0, 102.0]
    assert c["orders_per_s"] == [None, 2.0]
    assert c["checkpoint_age"] == [1.0, 3.0] and c["at_risk"] == [3, 3]
    assert c["balances"] == {"USD": [10, 12]}
    assert c["equity"] == [None, 500] and c["maintenance"] == [None, 200]  # 20% of the debt
    assert all(len(v) == 2 for k, v in c.items() if k != "balances")


def test_the_series_is_bounded() -> None:
    s = Series()
    for i in range(MAX_SAMPLES + 10):
        s.sample(float(i), status(1.0, i))
    c = s.columns()
    assert len(c["t"]) == MAX_SAMPLES and c["t"][0] == 10.0
