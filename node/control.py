"""The node's HTTP surface on 127.0.0.1: health, status, and the control calls.

* ``GET /livez`` (the process answers), ``GET /readyz`` (503 until p2p, storage, the
  ledger and the group are all up), ``GET /status`` (JSON): no token needed; they reveal
  nothing a peer could not see.
* ``/v1/...``: control calls. Each needs ``Authorization: Bearer <token>`` where the token
  is the one in the node's cookie file (``<data_dir>/control.cookie``, mode 0600, written
  fresh at every start), which the CLI reads by itself. A missing token is 401, a wrong
  one 403.

Control calls: ``GET /v1/group`` (genesis, hex), ``GET /v1/balance``, ``POST /v1/pay``
``{"to": hex, "asset": str, "amount": int}``, ``POST /v1/exit`` ``{"pay_to": hex?}``,
``POST /v1/join`` ``{"deposits": {asset: amount}}`` (deposit on the ledger, then send the
signed join to the stewards). Errors are ``{"error": code, "detail": text}``.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from node.http_api import BadRequest, hex32, json_body
from node.ledger_client import LedgerError, LedgerUnavailable
from node.trader import OrderRefused
from proto.orders import Exit, Transfer

if TYPE_CHECKING:
    from node.runtime import NodeRuntime

COOKIE_NAME = "control.cookie"


def write_cookie(data_dir: Path) -> str:
    """A fresh token in ``data_dir/control.cookie`` (0600, atomic)."""
    token = secrets.token_hex(32)
    path = data_dir / COOKIE_NAME
    tmp = path.with_name(f".{COOKIE_NAME}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return token


def _amount(value: object, what: str = "amount") -> int:
    if type(value) is not int or not 1 <= value < 1 << 64:
        raise BadRequest("bad-request", f"{what} must be a positive integer below 2**64")
    return value


def build_app(runtime: NodeRuntime, token: str) -> Starlette:
    Handler = Callable[[Request], Awaitable[Response]]

    def guarded(handler: Handler) -> Handler:
        async def check(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            if not header.startswith("Bearer "):
                return JSONResponse(
                    {"error": "unauthorized", "detail": "a bearer token is required"},
                    status_code=401,
                )
            if not hmac.compare_digest(header[7:].encode(), token.encode()):
                return JSONResponse(
                    {"error": "forbidden", "detail": "that token is not valid here"},
                    status_code=403,
                )
            return await handler(request)

        return check

    async def livez(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def readyz(request: Request) -> Response:
        problems = runtime.not_ready()
        return JSONResponse(
            {"ready": not problems, "waiting_for": problems}, status_code=503 if problems else 200
        )

    async def status(request: Request) -> Response:
        return JSONResponse(runtime.status())

    async def group(request: Request) -> Response:
        genesis = runtime.require_group().genesis
        return JSONResponse(
            {"group_id": genesis.group_id().hex(), "genesis": genesis.encode().hex()}
        )

    async def balance(request: Request) -> Response:
        g = runtime.require_group()
        state = g.node.replica.state
        me = runtime.member_id
        return JSONResponse(
            {
                "member": me.hex(),
                "admitted": state.is_member(me),
                "balances": {a: state.balance(me, a) for a in state.assets},
                "next_seq": state.next_seq(me),
            }
        )

    async def pay(request: Request) -> Response:
        body = await json_body(request)
        g = runtime.require_group()
        to = hex32(body.get("to"), "to")
        asset = body.get("asset")
        if asset not in g.genesis.assets:
            raise BadRequest("bad-request", f"asset must be one of {list(g.genesis.assets)}")
        amount = _amount(body.get("amount"))
        memo = b""
        if to == runtime.member_id:
            raise BadRequest("bad-request", "a payment to oneself")
        cert = await g.trader.place(
            lambda seq: Transfer(runtime.member_id, seq, to, asset, amount, memo)
        )
        return JSONResponse(_certified(cert, g.node.group_id))

    async def exit_(request: Request) -> Response:
        body = await json_body(request)
        g = runtime.require_group()
        pay_to = hex32(body["pay_to"], "pay_to") if "pay_to" in body else runtime.member_id
        cert = await g.trader.place(lambda seq: Exit(runtime.member_id, seq, pay_to))
        return JSONResponse(_certified(cert, g.node.group_id))

    async def join(request: Request) -> Response:
        body = await json_body(request)
        g = runtime.require_group()
        deposits = body.get("deposits", {})
        if not isinstance(deposits, dict) or any(a not in g.genesis.assets for a in deposits):
            raise BadRequest("bad-request", f"deposits: {{asset: amount}} in {g.genesis.assets}")
        checked = {a: _amount(v, f"deposit of {a}") for a, v in sorted(deposits.items())}
        return JSONResponse(await runtime.join(checked))

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadRequest)
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=exc.status)

    async def refused(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "order-refused", "detail": str(exc)}, status_code=409)

    async def ledger_failed(request: Request, exc: Exception) -> Response:
        code = exc.code if isinstance(exc, LedgerError) else "ledger-unavailable"
        return JSONResponse({"error": code, "detail": str(exc)}, status_code=502)

    return Starlette(
        routes=[
            Route("/livez", livez),
            Route("/readyz", readyz),
            Route("/status", status),
            Route("/v1/group", guarded(group)),
            Route("/v1/balance", guarded(balance)),
            Route("/v1/pay", guarded(pay), methods=["POST"]),
            Route("/v1/exit", guarded(exit_), methods=["POST"]),
            Route("/v1/join", guarded(join), methods=["POST"]),
        ],
        exception_handlers={
            BadRequest: bad_request,
            OrderRefused: refused,
            LedgerError: ledger_failed,
            LedgerUnavailable: ledger_failed,
        },
    )


def _certified(cert: Any, group_id: bytes) -> dict[str, Any]:
    if cert is None:
        return {"certified": True, "batch": None, "orders": None, "votes": None}
    return {
        "certified": True,
        "batch": cert.batch.digest(group_id).hex(),
        "orders": len(cert.batch.orders),
        "votes": len(cert.votes),
    }
