"""Frozen figures of a node (``node.statistics``) made by hand, for the tests of what
reads them (alerts, charts, metrics): only the fields a test names differ from a quiet,
healthy group."""

from __future__ import annotations

from collections.abc import Mapping

from node.statistics import (
    AlertFigures,
    CheckpointFigures,
    ClaimFigures,
    GroupStatistics,
    NodeStatistics,
    NotaryFigures,
    Position,
    frozen,
)
from proto.steward_health import HealthReport, StewardReport

ME, OTHER, STEWARD = b"\xaa" * 32, b"\xbb" * 32, b"\xcc" * 32


def claim(member: bytes, crawled: bool = False) -> ClaimFigures:
    return ClaimFigures(member, 3, frozen({"USD": 5}), 40, crawled)


def position(
    *, equity: int | None = 500, debt: int | None = None, call: int | None = None
) -> Position:
    empty = frozen({})
    return Position(empty, empty, empty, equity, debt, 11_000, call, empty)


def snapshot(
    *,
    silent: bool = False,
    age: float = 1.0,
    down: float | None = None,
    claims: tuple[ClaimFigures, ...] = (),
    crawls: int = 0,
    ours: Mapping[str, int] | None = None,
    at_risk: int = 3,
    pit: Position | None = None,
    liquidations: int = 0,
) -> NodeStatistics:
    health = HealthReport(
        quorum=3,
        margin=0 if silent else 1,
        stalled_total=int(silent),
        stewards=(StewardReport(STEWARD, 1.0, 1.0, 30.0, not silent, silent, int(silent)),),
        stalls=(),
    )
    group = GroupStatistics(
        group_id=b"\x01" * 32,
        name="test",
        wallet_key=b"\x02" * 32,
        steward=False,
        wallet_open=True,
        wallet_mismatch=None,
        checkpoint=CheckpointFigures(7, None, age, 0, None, 0),
        stewards=health,
        notary=NotaryFigures(10, down, crawls, claims, None),
        orders_since_checkpoint=at_risk,
        ours=frozen(ours or {}),
        position=pit,
        liquidations=liquidations,
        maintenance_bps=12_000,
        detail=None,
    )
    return NodeStatistics(
        version="0",
        member=ME,
        peer_id=None,
        addresses=(),
        ledger_height=10,
        ready=True,
        banned=(),
        refused=frozen({}),
        alerts=AlertFigures((), None),
        group=group,
    )


def no_group() -> NodeStatistics:
    return NodeStatistics("0", ME, None, (), 0, False, (), frozen({}), AlertFigures((), None), None)
