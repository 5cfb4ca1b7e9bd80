"""The S&L pit as JSON (and as the frozen figures of ``node.statistics``), for
``/status``, the control API, the CLI and the dashboard.

Amounts are base units (integers); a price is both the integer the protocol uses
(``price``: numeraire base units per 10**8 base units of the asset) and a decimal string
(``per_unit``: numeraire base units per base unit); a ratio is in basis points.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from node.statistics import PitFigures, Position, frozen, frozen_rows
from proto.pit import PRICE_SCALE, Pit
from proto.state import GroupState


def per_unit(price: int) -> str:
    return str(Decimal(price) / PRICE_SCALE)


def offers_json(pit: Pit) -> list[dict[str, Any]]:
    return [
        {
            "lender": lender.hex(),
            "asset": asset,
            "amount": o.amount,
            "committed": o.committed,
            "rate_bps": o.rate_bps,
            "min_collateral_bps": o.min_collateral_bps,
            "expiry": o.expiry,
        }
        for (lender, asset), o in sorted(pit.offers.items())
    ]


def lines_json(pit: Pit) -> list[dict[str, Any]]:
    return [
        {
            "member": member.hex(),
            "asset": asset,
            "line": pit.line(member, asset),
            "from": [
                {"lender": lender.hex(), "amount": a, "carved_at": born}
                for lender, a, born in sources
            ],
        }
        for (member, asset), sources in sorted(pit.lines.items())
    ]


def loans_json(pit: Pit) -> list[dict[str, Any]]:
    return [
        {
            "loan_id": loan_id,
            "lender": x.lender.hex(),
            "borrower": x.borrower.hex(),
            "asset": x.asset,
            "owed": x.owed,
            "rate_bps": x.rate_bps,
            "opened": x.opened,
        }
        for loan_id, x in sorted(pit.loans.items())
    ]


def marks_json(pit: Pit) -> dict[str, Any]:
    return {
        "numeraire": pit.policy.numeraire,
        "group": {
            a: {"price": p, "per_unit": per_unit(p)} for a, p in sorted(pit.group_marks.items())
        },
        "members": [
            {"member": m.hex(), "asset": a, "price": p, "per_unit": per_unit(p), "booked": b}
            for (m, a), (p, b) in sorted(pit.marks.items())
        ],
    }


def margin_calls_json(pit: Pit) -> list[dict[str, Any]]:
    return [{"member": m.hex(), "since": since} for m, since in sorted(pit.calls.items())]


def positions(state: GroupState, only: bytes | None = None) -> dict[bytes, Position]:
    """Every member with a pit position (or ``only`` that one): equity and collateral
    ratio at the group marks, and what a revoke under a checkpoint of this state would pay
    it (``revocable``)."""
    pit = state.pit
    kept_back = state.revocable()
    out: dict[bytes, Position] = {}
    members = (
        sorted(state.accounts.items())
        if only is None
        else ([(only, state.accounts[only])] if only in state.accounts else [])
    )
    for member, account in members:
        owes = pit.owes(member)
        lent = pit.lent(member)
        drawn = {a: -v for a, v in account.balances.items() if v < 0}
        if not owes and not lent and not drawn:
            continue
        held = pit.collateral_value(pit.free(account.balances, member))
        debt = pit.value(owes)
        claims = pit.value(lent) or 0
        out[member] = Position(
            owes=frozen(owes),
            lent=frozen(lent),
            drawn=frozen(drawn),
            equity=None if debt is None else (held + claims - debt) // PRICE_SCALE,
            debt=None if debt is None else debt // PRICE_SCALE,
            ratio_bps=pit.ratio_bps(account.balances, member),
            margin_call_since=pit.calls.get(member),
            revocable=frozen(
                {b.asset: b.amount for b in kept_back[member]}
                if member in kept_back  # a borrower, or a lender: the pit keeps some back
                else {a: v for a, v in sorted(account.balances.items()) if v > 0}
            ),
        )
    return out


def positions_json(state: GroupState, only: bytes | None = None) -> dict[str, dict[str, Any]]:
    return {m.hex(): p.json() for m, p in positions(state, only).items()}


def pit_status(state: GroupState) -> PitFigures:
    """The pit figures ``/status`` shows."""
    pit = state.pit
    offered: dict[str, int] = {}
    for (_, asset), o in pit.offers.items():
        offered[asset] = offered.get(asset, 0) + o.amount
    owed: dict[str, int] = {}
    for loan in pit.loans.values():
        owed[loan.asset] = owed.get(loan.asset, 0) + loan.owed
    return PitFigures(
        on=pit.policy.on,
        numeraire=pit.policy.numeraire,
        maintenance_bps=pit.policy.maintenance_bps,
        grace=pit.policy.grace,
        cleared_at=pit.cleared,
        offers=len(pit.offers),
        offered=frozen(offered),
        lines=len(pit.lines),
        loans=len(pit.loans),
        owed=frozen(owed),
        margin_calls=frozen_rows(margin_calls_json(pit)),
        marks=frozen({a: per_unit(p) for a, p in sorted(pit.group_marks.items())}),
        written_off=frozen(dict(sorted(pit.written_off.items()))),
        liquidations=sum(a.history.pit_liquidations for a in state.accounts.values()),
        positions=frozen(positions(state)),
    )
