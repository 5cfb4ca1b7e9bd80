"""Each HTTP app's routes and its OpenAPI description are the same set of operations, so
a route added without a description (and so without fuzzing) fails here."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import trio
from starlette.routing import Route

from devnet.ledger_service import build_app as ledger_app
from node.api.control import build_app as control_app
from node.api.openapi import control_openapi, ledger_openapi


def operations_of(app: Any) -> set[str]:
    return {
        f"{method} {route.path}"
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }


def described(spec: dict[str, Any]) -> set[str]:
    return {f"{m.upper()} {path}" for path, ops in spec["paths"].items() for m in ops}


def test_every_route_is_described_and_nothing_else() -> None:
    node = SimpleNamespace()  # routes are made without calling the node
    assert operations_of(control_app(node, None, "127.0.0.1")) == described(control_openapi())  # type: ignore[arg-type]
    assert operations_of(ledger_app(None, trio.Lock())) == described(ledger_openapi())  # type: ignore[arg-type]
