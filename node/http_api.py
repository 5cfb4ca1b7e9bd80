"""Small pieces every swapnet HTTP API shares (the node's control API, the devnet
ledger): JSON errors with a stable code, strict parsing of JSON bodies and hex ids, and
serving a Starlette app with hypercorn under trio until a shutdown event."""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any, cast

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request


class BadRequest(Exception):
    """Answered as ``{"error": code, "detail": detail}`` with ``status``."""

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        self.code, self.detail, self.status = code, detail, status
        super().__init__(detail)


def hex32(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise BadRequest("bad-request", f"{what} must be a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise BadRequest("bad-request", f"{what} must be hex") from exc
    if len(raw) != 32:
        raise BadRequest("bad-request", f"{what} must be 32 bytes")
    return raw


MAX_JSON_BODY = 1 << 20
"""The largest JSON body any route reads (``/v1/pay/many`` with 1,000 payments is ~200 KB)."""


async def read_bounded(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``max_bytes`` (a declared
    length is checked before anything is read): one caller cannot make us hold more."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest("too-large", f"the body is at most {max_bytes} bytes", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BadRequest("too-large", f"the body is at most {max_bytes} bytes", 413)
    return bytes(body)


async def json_body(request: Request, max_bytes: int = MAX_JSON_BODY) -> dict[str, Any]:
    """A JSON object body: ``application/json`` only (a page on another origin cannot send
    that without a CORS preflight, which we never answer), at most ``max_bytes``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise BadRequest("bad-content-type", "the body must be application/json", 415)
    raw = await read_bounded(request, max_bytes)
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadRequest("bad-request", "the body must be JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("bad-request", "the body must be a JSON object")
    return body


async def serve_app(
    app: Starlette,
    host: str,
    port: int,
    shutdown: trio.Event,
    nursery: trio.Nursery,
    graceful: float = 2.0,
) -> str:
    """Start serving ``app`` in ``nursery``; return its URL once bound."""
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = graceful
    binds = await nursery.start(
        partial(serve, cast(Any, app), config, shutdown_trigger=shutdown.wait)
    )
    return str(binds[0])
