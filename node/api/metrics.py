"""Prometheus metrics of a node, after the Prometheus naming rules: the ``swapnet_``
prefix, base units (seconds, base units of an asset), ``_total`` for counters, and no
per-peer labels (the only label is ``asset``, bounded by the genesis).

Counters and the histogram are updated where things happen (orders certified, checkpoints
adopted, submit-to-certificate latency); gauges are read from the node at scrape time
(``StatusCollector``, from a frozen ``NodeStatistics``), so they are never stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from node.statistics import NodeStatistics
from proto.signing import verifications

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class StatusCollector(Collector):
    """Gauges from a frozen snapshot of the node's figures (``node.statistics``), taken
    when Prometheus scrapes."""

    def __init__(self, statistics: Callable[[], NodeStatistics]) -> None:
        self.statistics = statistics

    def collect(self) -> Iterator[Any]:
        s = self.statistics()
        yield _gauge("swapnet_ready", "1 when libp2p, storage, ledger and API are up", s.ready)
        yield _gauge("swapnet_ledger_height", "ledger height followed", s.ledger_height)
        yield _gauge("swapnet_banned_peers", "peers banned for misbehaving", len(s.banned))
        checked = CounterMetricFamily(
            "swapnet_signature_verifications", "Ed25519 signatures this process verified"
        )
        checked.add_metric([], verifications())
        yield checked
        g = s.group
        if g is None or g.detail is None:
            return
        d = g.detail
        yield _gauge("swapnet_members", "admitted members", d.members)
        yield _gauge("swapnet_members_online", "members connected", d.members_online)
        yield _gauge("swapnet_checkpoint_number", "last adopted checkpoint", g.checkpoint.number)
        yield _gauge(
            "swapnet_checkpoint_age_seconds", "since it was adopted", g.checkpoint.age_seconds
        )
        yield _gauge(
            "swapnet_orders_at_risk",
            "certified orders not in a checkpoint yet",
            g.orders_since_checkpoint,
        )
        yield _gauge("swapnet_frozen_members", "members frozen by a revoke", len(d.frozen))
        health = g.stewards
        yield _gauge(
            "swapnet_stewards_responsive",
            "stewards connected lately and not named by a stalled round since",
            sum(r.responsive for r in health.stewards),
        )
        yield _gauge(
            "swapnet_stewards_not_signing",
            "stewards a stalled round waited for, silent since",
            sum(r.not_signing for r in health.stewards),
        )
        yield _gauge("swapnet_steward_quorum", "votes or shares a round needs", health.quorum)
        stalled = CounterMetricFamily(
            "swapnet_stalled_rounds", "rounds that waited for stewards in vain (votes, signing)"
        )
        stalled.add_metric([], health.stalled_total)
        yield stalled
        yield _gauge(
            "swapnet_stall_margin",
            "stewards that may still fail before the group stalls (0: one failure from it)",
            health.margin,
        )
        notary = g.notary
        claims = len(notary.open_claims)
        yield _gauge("swapnet_open_claims", "revoke claims open on the ledger", claims)
        yield _gauge("swapnet_evidence_held", "revoke evidence kept", len(notary.evidence or ()))
        crawls = CounterMetricFamily("swapnet_crawl_backs_sent", "crawl backs this notary sent")
        crawls.add_metric([], notary.crawl_backs_sent)
        yield crawls
        pit = d.pit
        if pit.on:
            yield _gauge("swapnet_pit_loans", "open loans in the S&L pit", pit.loans)
            yield _gauge("swapnet_pit_offers", "lend offers standing", pit.offers)
            yield _gauge("swapnet_pit_credit_lines", "credit lines carved", pit.lines)
            calls = len(pit.margin_calls)
            yield _gauge("swapnet_pit_margin_calls", "borrowers under a margin call", calls)
            liquidated = CounterMetricFamily(
                "swapnet_pit_liquidations", "liquidations on the members' records"
            )
            liquidated.add_metric([], pit.liquidations)
            yield liquidated
            for name, doc, figures in (
                ("swapnet_pit_owed_base_units", "owed on pit loans per asset", pit.owed),
                ("swapnet_pit_offered_base_units", "offered to lend per asset", pit.offered),
                (
                    "swapnet_pit_written_off_base_units",
                    "pit loans written off per asset",
                    pit.written_off,
                ),
            ):
                yield _per_asset(name, doc, figures)
        yield _per_asset("swapnet_group_supply_base_units", "group supply per asset", d.supply)
        yield _per_asset("swapnet_balance_base_units", "this trader's balance per asset", g.ours)


def _per_asset(name: str, doc: str, figures: Mapping[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["asset"])
    for asset, amount in sorted(figures.items()):
        family.add_metric([asset], amount)
    return family


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


class NodeMetrics:
    def __init__(self, statistics: Callable[[], NodeStatistics]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.orders_certified = Counter(
            "swapnet_orders_certified",
            "certified orders this node applied",
            registry=self.registry,
        )
        self.checkpoints_adopted = Counter(
            "swapnet_checkpoints_adopted",
            "signed checkpoints this node adopted",
            registry=self.registry,
        )
        self.certify_seconds = Histogram(
            "swapnet_certify_seconds",
            "this trader's orders, from queued to certified",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.checkpoint_seconds = Histogram(
            "swapnet_checkpoint_seconds",
            "a checkpoint, from this steward locking its proposal to adopting it signed",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(StatusCollector(statistics))

    def render(self) -> bytes:
        return generate_latest(self.registry)
