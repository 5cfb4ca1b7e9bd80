"""Render wire objects as JSON-ready data for people and scripts: bytes as hex, nested
objects as ``{"type": name, ...fields}``."""

from __future__ import annotations

from typing import Any

from proto.codec import Wire
from proto.prequal import Prequal


def to_jsonable(value: Any) -> Any:
    if isinstance(value, Wire):
        out: dict[str, Any] = {"type": value.TYPE_NAME}
        for name, _ in value.WIRE_FIELDS:
            out[name] = to_jsonable(getattr(value, name))
        return out
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    return value


def badge_json(badge: Prequal) -> dict[str, Any]:
    """What a prequal badge states, for people and scripts (unchecked: verify first)."""
    h = badge.history
    cp = badge.checkpoint.checkpoint
    return {
        "member": badge.member.hex(),
        "handle": badge.handle,
        "group_id": cp.group_id.hex(),
        "wallet_key": badge.wallet_key.hex(),
        "checkpoint": cp.number,
        "ledger_height": cp.ledger_height,
        "history": {
            "joined_at_checkpoint": h.joined_at,
            "joined_at_height": h.joined_height,
            "orders": h.orders,
            "volume": {b.asset: b.amount for b in h.volume},
            "revokes": h.revokes,
            "crawl_backs": h.crawl_backs,
            "premature_revokes": h.premature_revokes,
            "uncovered_revokes": h.uncovered_revokes,
            "pit_defaults": h.pit_defaults,
            "pit_liquidations": h.pit_liquidations,
        },
        "balances": {b.asset: b.amount for b in badge.proof.leaf.balances},
    }
