"""Frozen snapshots of a node's figures: what ``NodeRuntime.statistics()`` returns, and
what ``/status`` (and through it the dashboard and ``swapnet status``), the Prometheus
metrics, the alerts and the dashboard's time series read.

Invariants: a snapshot is taken at one moment and never changes after (frozen dataclasses;
mappings are read-only views of copies; sequences are tuples), so a reader can keep it,
compare two of them (``node.alerts``) or render it at leisure while the node moves on.
Nothing here imports the runtime or the services: they build snapshots, readers read them.
``json()`` gives the ``/status`` shape operators script against (ids in hex).

``GroupStatistics.detail`` holds what costs a walk over every member (balances, last seqs,
the pit's positions, the state digest): ``statistics(detail=False)``, which the alerts and
charts take every two seconds, leaves it out and keeps only our own figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from proto.steward_health import HealthReport

Figures = Mapping[str, int]
"""An amount per asset."""


def frozen(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    """A read-only view of a copy of ``mapping``."""
    return MappingProxyType(dict(mapping))


def frozen_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    """Rows of a JSON view (flat dicts of numbers and strings) as read-only mappings."""
    return tuple(frozen(r) for r in rows)


def _hexed(mapping: Mapping[bytes, Any]) -> dict[str, Any]:
    return {k.hex(): (dict(v) if isinstance(v, Mapping) else v) for k, v in mapping.items()}


@dataclass(frozen=True, slots=True)
class ClaimFigures:
    """A revoke claim open on the ledger against the group wallet."""

    member: bytes
    checkpoint: int
    claim: Figures
    deadline: int
    crawled_back: bool

    def json(self) -> dict[str, Any]:
        return {
            "member": self.member.hex(),
            "checkpoint": self.checkpoint,
            "claim": dict(self.claim),
            "deadline": self.deadline,
            "crawled_back": self.crawled_back,
        }


@dataclass(frozen=True, slots=True)
class HeldEvidence:
    """A crawl back's evidence this notary keeps (the bundle is ``/v1/evidence``)."""

    revoker: bytes
    revoke_tx: bytes
    crawl_back_tx: bytes
    reporter: bytes

    def json(self) -> dict[str, str]:
        return {
            "revoker": self.revoker.hex(),
            "revoke_tx": self.revoke_tx.hex(),
            "crawl_back_tx": self.crawl_back_tx.hex(),
            "reporter": self.reporter.hex(),
        }


@dataclass(frozen=True, slots=True)
class NotaryFigures:
    """The notary (``node.exit_game``): the ledger as it follows it, claims, evidence."""

    ledger_height: int
    ledger_unreachable_seconds: float | None
    crawl_backs_sent: int
    open_claims: tuple[ClaimFigures, ...]
    evidence: tuple[HeldEvidence, ...] | None
    """None: not read (a snapshot without detail: it is on disk, and the alerts need not
    read it every two seconds)."""

    def json(self) -> dict[str, Any]:
        return {
            "ledger_height": self.ledger_height,
            "ledger_unreachable_seconds": self.ledger_unreachable_seconds,
            "crawl_backs_sent": self.crawl_backs_sent,
            "open_claims": [c.json() for c in self.open_claims],
            "evidence": None if self.evidence is None else [e.json() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Position:
    """A member's pit position at the group marks (``node.pit_view.positions``)."""

    owes: Figures
    lent: Figures
    drawn: Figures
    equity: int | None
    """Collateral and claims less debt, in numeraire base units (None: an asset unmarked)."""
    debt: int | None
    ratio_bps: int | None
    margin_call_since: int | None
    revocable: Figures
    """What a revoke under a checkpoint of this state would pay the member."""

    def json(self) -> dict[str, Any]:
        return {
            "owes": dict(self.owes),
            "lent": dict(self.lent),
            "drawn": dict(self.drawn),
            "equity": self.equity,
            "debt": self.debt,
            "ratio_bps": self.ratio_bps,
            "margin_call_since": self.margin_call_since,
            "revocable": dict(self.revocable),
        }


@dataclass(frozen=True, slots=True)
class PitFigures:
    """The S&L pit of the live state (``node.pit_view.pit_status``)."""

    on: bool
    numeraire: str
    maintenance_bps: int
    grace: int
    cleared_at: int
    offers: int
    offered: Figures
    lines: int
    loans: int
    owed: Figures
    margin_calls: tuple[Mapping[str, Any], ...]
    marks: Mapping[str, Any]
    written_off: Figures
    liquidations: int
    """Liquidations on the members' records (their histories' ``pit_liquidations``)."""
    positions: Mapping[bytes, Position]

    def json(self) -> dict[str, Any]:
        return {
            "on": self.on,
            "numeraire": self.numeraire,
            "maintenance_bps": self.maintenance_bps,
            "grace": self.grace,
            "cleared_at": self.cleared_at,
            "offers": self.offers,
            "offered": dict(self.offered),
            "lines": self.lines,
            "loans": self.loans,
            "owed": dict(self.owed),
            "margin_calls": [dict(c) for c in self.margin_calls],
            "marks": dict(self.marks),
            "written_off": dict(self.written_off),
            "liquidations": self.liquidations,
            "positions": {m.hex(): p.json() for m, p in self.positions.items()},
        }


@dataclass(frozen=True, slots=True)
class CheckpointFigures:
    number: int
    state_digest: bytes | None
    """The base state's digest (None in a snapshot without detail: it costs a hash of the
    whole state)."""
    age_seconds: float
    faults: int
    last_fault: str | None
    dropped_inputs: int

    def json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state_digest": None if self.state_digest is None else self.state_digest.hex(),
            "age_seconds": self.age_seconds,
            "faults": self.faults,
            "last_fault": self.last_fault,
            "dropped_inputs": self.dropped_inputs,
        }


@dataclass(frozen=True, slots=True)
class EpochFigures:
    """The committee voting now (``steward status`` has the changes)."""

    number: int
    stewards: tuple[bytes, ...]
    threshold: int
    signing: int
    """The epoch whose key signs checkpoints here (one behind during a hand-over)."""
    changes_under_way: int
    refused: int

    def json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "stewards": [s.hex() for s in self.stewards],
            "threshold": self.threshold,
            "signing": self.signing,
            "changes_under_way": self.changes_under_way,
            "refused": self.refused,
        }


@dataclass(frozen=True, slots=True)
class RevokeRecord:
    revokes: int
    crawl_backs: int
    premature: int
    uncovered: int

    def json(self) -> dict[str, int]:
        return {
            "revokes": self.revokes,
            "crawl_backs": self.crawl_backs,
            "premature": self.premature,
            "uncovered": self.uncovered,
        }


@dataclass(frozen=True, slots=True)
class PitAtCheckpoint:
    """The pit in the last checkpoint: what a revoke under it would be judged on."""

    number: int
    loans: tuple[Mapping[str, Any], ...]
    positions: Mapping[bytes, Position]

    def json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "loans": [dict(x) for x in self.loans],
            "positions": {m.hex(): p.json() for m, p in self.positions.items()},
        }


@dataclass(frozen=True, slots=True)
class GroupDetail:
    """The figures that cost a walk over every member: ``statistics(detail=True)``."""

    members: int
    members_online: int
    balances: Mapping[bytes, Figures]
    last_seqs: Mapping[bytes, int]
    handles: Mapping[bytes, str]
    supply: Figures
    state_digest: bytes
    memory: Mapping[str, int]
    """What grows with peers' requests (the checkpoint machine's tables), by name."""
    epoch: EpochFigures
    waiting: int
    retrying: str | None
    queued: int
    unanswered_swaps: int
    frozen: tuple[bytes, ...]
    exited: tuple[bytes, ...]
    revokes: Mapping[bytes, RevokeRecord]
    losses: Figures
    pit: PitFigures
    pit_at_checkpoint: PitAtCheckpoint


@dataclass(frozen=True, slots=True)
class GroupStatistics:
    group_id: bytes
    name: str
    wallet_key: bytes
    steward: bool
    wallet_open: bool
    wallet_mismatch: str | None
    checkpoint: CheckpointFigures
    stewards: HealthReport
    notary: NotaryFigures
    orders_since_checkpoint: int
    ours: Figures
    """Our balances."""
    position: Position | None
    """Our pit position, if the pit is on and we have one."""
    liquidations: int
    """Times the pit liquidated our collateral (our history's ``pit_liquidations``)."""
    maintenance_bps: int
    detail: GroupDetail | None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "group_id": self.group_id.hex(),
            "name": self.name,
            "wallet_key": self.wallet_key.hex(),
            "steward": self.steward,
            "wallet_open": self.wallet_open,
            "wallet_mismatch": self.wallet_mismatch,
            "checkpoint": self.checkpoint.json(),
            "stewards": self.stewards.json(),
            "notary": self.notary.json(),
            "orders_since_checkpoint": self.orders_since_checkpoint,
        }
        d = self.detail
        if d is None:
            return out
        return {
            **out,
            "members": d.members,
            "members_online": d.members_online,
            "balances": _hexed(d.balances),
            "last_seqs": _hexed(d.last_seqs),
            "handles": _hexed(d.handles),
            "supply": dict(d.supply),
            "state_digest": d.state_digest.hex(),
            "memory": dict(d.memory),
            "epoch": d.epoch.json(),
            "waiting": d.waiting,
            "trader": {
                "retrying": d.retrying,
                "queued": d.queued,
                "unanswered_swaps": d.unanswered_swaps,
            },
            "frozen": [m.hex() for m in d.frozen],
            "exited": [m.hex() for m in d.exited],
            "revokes": {m.hex(): r.json() for m, r in d.revokes.items()},
            "losses": dict(d.losses),
            "pit": d.pit.json(),
            "pit_at_checkpoint": d.pit_at_checkpoint.json(),
        }


@dataclass(frozen=True, slots=True)
class AlertFigures:
    recent: tuple[Mapping[str, Any], ...]
    """The newest alerts (``node.alerts``), oldest first."""
    webhook: Mapping[str, Any] | None
    """Where alerts are posted and how that goes; None: nowhere."""

    def json(self) -> dict[str, Any]:
        return {
            "recent": [dict(a) for a in self.recent],
            "webhook": None if self.webhook is None else dict(self.webhook),
        }


@dataclass(frozen=True, slots=True)
class NodeStatistics:
    version: str
    member: bytes
    peer_id: str | None
    addresses: tuple[str, ...]
    ledger_height: int
    ready: bool
    banned: tuple[bytes, ...]
    refused: Mapping[str, int]
    """What peers sent that we turned away, since start (strikes, declined, busy)."""
    alerts: AlertFigures
    group: GroupStatistics | None

    def json(self) -> dict[str, Any]:
        """``/status``. A node holds one group today; ``groups`` is the list shape
        operators script against (one entry per group), ``group`` the same object for the
        dashboard."""
        group = None if self.group is None else self.group.json()
        out: dict[str, Any] = {
            "version": self.version,
            "member": self.member.hex(),
            "peer_id": self.peer_id,
            "addresses": list(self.addresses),
            "ledger_height": self.ledger_height,
            "ready": self.ready,
            "banned": [m.hex() for m in self.banned],
            "refused": dict(self.refused),
            "alerts": self.alerts.json(),
            "groups": [] if group is None else [group],
        }
        if group is not None:
            out["group"] = group
        return out
