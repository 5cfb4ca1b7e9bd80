"""Small pieces every swapnet HTTP API shares (the node's control API, the devnet
ledger): JSON errors with a stable code, strict parsing of JSON bodies and hex ids, and
serving a Starlette app with hypercorn under trio until a shutdown event."""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any, cast
from urllib.parse import urlsplit

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from node.numbers import ascii_int


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


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _hostname(value: str) -> str | None:
    """The host name of a ``Host`` header (``name[:port]``, ``[v6][:port]``)."""
    try:
        return urlsplit(f"//{value}").hostname
    except ValueError:
        return None


class SameOrigin:
    """ASGI middleware: a request whose ``Host`` is not one of ``hosts``, or whose
    ``Origin`` (when a browser sends one) is not on one of them, is refused with 403
    before any route runs. A page on another origin, DNS rebinding included (the
    attacker's name resolving to 127.0.0.1), can then neither read nor drive the API."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] = LOCAL_HOSTS) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            host = _hostname(headers.get(b"host", b"").decode("latin-1"))
            origin = headers.get(b"origin")
            from_page = None if origin is None else _origin_host(origin.decode("latin-1"))
            if host not in self.hosts or (origin is not None and from_page not in self.hosts):
                refusal = JSONResponse(
                    {"error": "forbidden-origin", "detail": "not this node's own address"}, 403
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _origin_host(origin: str) -> str | None:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    return parts.hostname if parts.scheme in ("http", "https") else None


MAX_JSON_BODY = 1 << 20
"""The largest JSON body any route reads (``/v1/pay/many`` with 1,000 payments is ~200 KB)."""


async def read_bounded(request: Request, max_bytes: int, drain: int = 0) -> bytes:
    """The request body, at most ``max_bytes`` held: a larger one is 413. A body declared
    larger than ``max_bytes + drain`` is refused before anything is read; otherwise an
    oversized one is read on (not kept) up to ``drain`` more bytes first, so a client that
    sends it whole reliably gets the answer instead of a connection closed under it."""
    too_large = BadRequest("too-large", f"the body is at most {max_bytes} bytes", 413)
    declared = request.headers.get("content-length")
    size = ascii_int(declared) if declared is not None else None
    if size is not None and size > max_bytes + drain:
        raise too_large
    body = bytearray()
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen <= max_bytes:
            body += chunk
        elif seen > max_bytes + drain:
            break
    if seen > max_bytes:
        raise too_large
    return bytes(body)


def untrusted_json(raw: bytes | str) -> Any:
    """``json.loads`` for bytes a peer or a caller sent: ``ValueError`` for anything that
    is not JSON, including nesting deep enough to exhaust the parser's recursion (which
    ``json.loads`` raises as ``RecursionError``, outside ``ValueError``)."""
    try:
        return json.loads(raw)
    except RecursionError as exc:
        raise ValueError("JSON nested too deep") from exc


async def json_body(request: Request, max_bytes: int = MAX_JSON_BODY) -> dict[str, Any]:
    """A JSON object body: ``application/json`` only (a page on another origin cannot send
    that without a CORS preflight, which we never answer), at most ``max_bytes``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise BadRequest("bad-content-type", "the body must be application/json", 415)
    raw = await read_bounded(request, max_bytes)
    try:
        body = untrusted_json(raw)
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
