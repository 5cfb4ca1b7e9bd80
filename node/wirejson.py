"""Render wire objects as JSON-ready data for people and scripts: bytes as hex, nested
objects as ``{"type": name, ...fields}``."""

from __future__ import annotations

from typing import Any

from proto.codec import Wire


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
