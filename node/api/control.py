"""The node's HTTP surface on 127.0.0.1: health, status, and the control calls.

* ``GET /livez`` (the process answers), ``GET /readyz`` (503 until p2p, storage, the
  ledger and the group are all up), ``GET /status`` (JSON): no token needed; they reveal
  nothing a peer could not see.
* ``/v1/...``: control calls. Each needs ``Authorization: Bearer <token>`` where the token
  is the one in the node's cookie file (``<data_dir>/control.cookie``, mode 0600, written
  fresh at every start), which the CLI reads by itself. A missing token is 401, a wrong
  one 403.

Orders accept a ``request_id`` (an idempotency key): a retried call with the same id gets
the first call's order, never a second one.

Control calls: ``GET /v1/group`` (genesis, hex), ``GET /v1/balance``, ``POST /v1/pay``
``{"to": member, "asset": str, "amount": int}`` (a member, wherever one is named: ``@handle``,
a unique id prefix or the whole id in hex; one that names nobody is 404
``unknown-member``), ``POST /v1/pay/many`` ``{"payments": [{to, asset, amount}, ...]}``
(up to 1000; all checked first, then each placed and answered with its own outcome),
``POST /v1/exit`` ``{"pay_to": hex?}``,
``POST /v1/join`` ``{"deposits": {asset: amount}, "prequals": [hex]?, "handle": str}``
(the handle to go by: a joiner must choose one, a member keeps its own; check the
admission policy, deposit on the ledger, then send the signed join to the stewards; a
refused join is 409 ``join-refused`` and deposits nothing), ``POST /v1/revoke``
``{"checkpoint": n?}`` (claim our balance on the ledger under our receipt of checkpoint n,
the newest by default), ``GET /v1/prequal?member=hex`` (a badge from the newest
checkpoint), ``GET /v1/evidence/{member}`` (the evidence bundle against a revoker, signed
by this node), ``POST /v1/swap/quote`` ``{"give": {asset, amount}, "get":
{asset, amount}, "fills": n, "counterparty": hex?}`` (a maker's standing quote), ``POST
/v1/swap`` ``{"counterparty": hex, "give": {...}, "get": {...}}`` (take a maker's
quote). The S&L pit: ``GET /v1/lend`` (offers and credit lines), ``POST /v1/lend/offer``
``{"asset", "amount", "rate_bps", "min_collateral_bps"?, "expiry"?}``, ``POST
/v1/lend/withdraw`` ``{"asset"}``, ``GET /v1/loans`` (loans, positions, margin calls),
``GET /v1/marks``, ``POST /v1/marks`` ``{"asset", "price"}`` (numeraire base units per
10**8 base units). Errors are ``{"error": code, "detail": text}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import trio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from node.api.dashboard import DASHBOARD_CSP, DASHBOARD_HTML
from node.api.facade import NodeFacade
from node.api.http_api import LOCAL_HOSTS, BadRequest, SameOrigin, hex32, json_body
from node.api.metrics import CONTENT_TYPE
from node.api.openapi import control_openapi
from node.api.tokens import SCOPES, TokenBook, TokenError
from node.config import ConfigError, checked_url
from node.exit_game import ExitGameError
from node.ledger_port import LedgerError, LedgerUnavailable
from node.numbers import ascii_int
from node.pit_view import (
    lines_json,
    loans_json,
    margin_calls_json,
    marks_json,
    offers_json,
    positions_json,
)
from node.swaps import Quote
from node.trader import OrderPending, OrderRefused, Pending
from node.wirejson import badge_json
from proto.admission import MAX_JOIN_PREQUALS
from proto.codec import Wire, decode
from proto.epoch_changes import ACTIONS
from proto.errors import DecodeError, LocalProtocolError
from proto.handles import UnknownMember, handle_problem, resolve
from proto.kinds import MAX_STEWARDS
from proto.orders import ORDER_KINDS, Exit, LendOffer, Mark, Transfer
from proto.prequal import Prequal
from proto.steward import STEWARD_EXIT
from proto.votes import Certificate

W = TypeVar("W", bound=Wire)

MAX_PAY_MANY = 1000
MAX_ACTIVITY = 5_000
STATIC_DIR = Path(__file__).parent / "static"
STATIC = {
    name: ((STATIC_DIR / name).read_bytes(), media)
    for name, media in (
        ("uPlot.iife.min.js", "text/javascript"),
        ("uPlot.min.css", "text/css"),
    )
}
"""What ``/static/`` serves: the charting library, read once, a fixed list (no path from
a request ever reaches the file system)."""
ORDER_KIND_NAMES = frozenset(k.TYPE_NAME for k in ORDER_KINDS)
MAX_MEMBER_REF = 65
"""The longest way to name a member: a whole id in hex, or @ and a handle."""


def _asset(value: object, assets: tuple[str, ...]) -> str:
    if value not in assets:
        raise BadRequest("bad-request", f"asset must be one of {list(assets)}")
    return str(value)


def _int(value: object, what: str, low: int = 0, high: int = 2**32 - 1) -> int:
    if type(value) is not int or not low <= value <= high:
        raise BadRequest("bad-request", f"{what} must be an integer from {low} to {high}")
    return value


def _amount(value: object, what: str = "amount") -> int:
    if type(value) is not int or not 1 <= value < 1 << 64:
        raise BadRequest("bad-request", f"{what} must be a positive integer below 2**64")
    return value


def _decoded(value: object, cls: type[W], what: str) -> W:
    try:
        if not isinstance(value, str):
            raise ValueError("not a hex string")
        return decode(bytes.fromhex(value), cls)
    except (ValueError, DecodeError) as exc:
        raise BadRequest("bad-request", f"{what}: hex of an encoded {what} ({exc})") from exc


def build_app(node: NodeFacade, tokens: TokenBook, listen_host: str) -> Starlette:  # noqa: PLR0915
    """The control API of a node (only what ``NodeFacade`` offers), checking ``tokens``;
    ``listen_host``: the address the API is bound to (a Host header it takes)."""
    Handler = Callable[[Request], Awaitable[Response]]

    def guarded(handler: Handler, scope: str = "read") -> Handler:
        async def check(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            if not header.startswith("Bearer "):
                return JSONResponse(
                    {"error": "unauthorized", "detail": "a bearer token is required"},
                    status_code=401,
                )
            granted = tokens.scope_of(header[7:])
            if granted is None:
                return JSONResponse(
                    {"error": "forbidden", "detail": "that token is not valid here"},
                    status_code=403,
                )
            if not tokens.allows(granted, scope):
                return JSONResponse(
                    {"error": "forbidden", "detail": f"this call needs a {scope} token"},
                    status_code=403,
                )
            return await handler(request)

        return check

    def _member(value: object, what: str) -> bytes:
        """A member named as people name one: ``@handle``, a unique hex prefix or a whole
        id (``proto.handles.resolve``, against our replica's members)."""
        if not isinstance(value, str) or len(value) > MAX_MEMBER_REF:
            raise BadRequest("bad-request", f"{what}: @handle or a member id (hex)")
        try:
            return resolve(value, node.require_group().state.handles())
        except UnknownMember as exc:
            raise BadRequest("unknown-member", f"{what}: {exc}", 404) from exc
        except ValueError as exc:
            raise BadRequest("bad-request", f"{what}: {exc}") from exc

    def _handles_in(rows: list[dict[str, Any]]) -> dict[str, str]:
        """The handles of the members in ``rows``' legs (``from``, ``to``; hex)."""
        named = node.require_group().state.handles()
        seen = {bytes.fromhex(x[k]) for r in rows for x in r["legs"] for k in ("from", "to")}
        return {m.hex(): named[m] for m in sorted(seen) if named.get(m)}

    async def livez(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def readyz(request: Request) -> Response:
        problems = node.not_ready()
        return JSONResponse(
            {"ready": not problems, "waiting_for": problems}, status_code=503 if problems else 200
        )

    async def status(request: Request) -> Response:
        return JSONResponse(node.statistics().json())

    async def series(request: Request) -> Response:
        return JSONResponse(node.series_columns())

    async def static(request: Request) -> Response:
        found = STATIC.get(request.path_params["name"])
        if found is None:
            raise BadRequest("not-found", "no such file", 404)
        body, media = found
        return Response(body, media_type=media, headers={"Cache-Control": "max-age=3600"})

    async def metrics(request: Request) -> Response:
        return Response(node.metrics_text(), media_type=CONTENT_TYPE)

    async def dashboard(request: Request) -> Response:
        return HTMLResponse(
            DASHBOARD_HTML,
            headers={
                "Content-Security-Policy": DASHBOARD_CSP,
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def openapi(request: Request) -> Response:
        return JSONResponse(control_openapi(node.assets()))

    async def getinfo(request: Request) -> Response:
        return JSONResponse(node.getinfo())

    async def history(request: Request) -> Response:
        limit = ascii_int(request.query_params.get("limit", "50"))
        if limit is None or not 1 <= limit <= 1000:
            raise BadRequest("bad-request", "limit: 1 to 1000")
        orders = node.require_group().history(limit)
        return JSONResponse({"orders": orders, "handles": _handles_in(orders)})

    async def activity(request: Request) -> Response:
        """The orders that touched us, newest first (``node.activity``), with filters."""
        q = request.query_params
        limit = ascii_int(q.get("limit", "100"))
        if limit is None or not 1 <= limit <= MAX_ACTIVITY:
            raise BadRequest("bad-request", f"limit: 1 to {MAX_ACTIVITY}")
        kind = q.get("kind")
        if kind is not None and kind not in ORDER_KIND_NAMES:
            raise BadRequest("bad-request", f"kind: one of {sorted(ORDER_KIND_NAMES)}")
        other = _member(q["member"], "member") if "member" in q else None
        entries = [e.json() for e in node.require_group().activity_since(limit, kind, other)]
        return JSONResponse({"entries": entries, "handles": _handles_in(entries)})

    async def alerts(request: Request) -> Response:
        return JSONResponse(node.alerts_status())

    async def alerts_set(request: Request) -> Response:
        """Set (``{"url": "https://..."}``), clear (``{"url": null}``) or try
        (``{"test": true}``) where alerts are posted."""
        body = await json_body(request)
        node.require_group()
        if set(body) not in ({"url"}, {"test"}):
            raise BadRequest("bad-request", 'give {"url": URL or null} or {"test": true}')
        if body.get("test") is True:
            node.test_alert()
        elif "url" in body:
            url = body["url"]
            if url is not None:
                try:
                    url = checked_url(url, "url")
                except ConfigError as exc:
                    raise BadRequest("bad-request", str(exc)) from exc
            node.set_webhook(url)
        else:
            raise BadRequest("bad-request", 'give {"url": URL or null} or {"test": true}')
        return JSONResponse(node.alerts_status())

    async def tokens_list(request: Request) -> Response:
        return JSONResponse({"tokens": tokens.listing(), "scopes": list(SCOPES)})

    async def tokens_mint(request: Request) -> Response:
        body = await json_body(request)
        scope, label = body.get("scope"), body.get("label")
        if not isinstance(scope, str) or not isinstance(label, str):
            raise BadRequest("bad-request", "scope and label must be strings")
        try:
            token, token_id = tokens.mint(scope, label)
        except TokenError as exc:
            raise BadRequest("bad-request", str(exc)) from exc
        return JSONResponse({"token": token, "id": token_id, "scope": scope})

    async def tokens_revoke(request: Request) -> Response:
        if not tokens.revoke(request.path_params["token_id"]):
            raise BadRequest("unknown-token", "no one token with that id (8+ hex digits)", 404)
        return JSONResponse({"revoked": request.path_params["token_id"]})

    async def stewards(request: Request) -> Response:
        return JSONResponse(node.require_group().stewards_view())

    async def stewards_change(request: Request) -> Response:
        body = await json_body(request)
        action = body.get("action")
        if action not in ACTIONS:
            raise BadRequest("bad-request", f"action: one of {list(ACTIONS)}")
        member = _member(body["member"], "member") if "member" in body else None
        threshold = body.get("threshold")
        if threshold is not None:
            threshold = _int(threshold, "threshold", 1, MAX_STEWARDS)
        try:
            spec = node.require_group().change_stewards(action, member, threshold)
        except LocalProtocolError as exc:
            raise BadRequest("change-refused", str(exc), 409) from exc
        return JSONResponse(
            {
                "ceremony": spec.ceremony().hex(),
                "epoch": spec.epoch + 1,
                "stewards": [s.hex() for s in spec.new_stewards],
                "threshold": spec.new_threshold,
            }
        )

    async def group(request: Request) -> Response:
        genesis = node.require_group().genesis
        return JSONResponse(
            {"group_id": genesis.group_id().hex(), "genesis": genesis.encode().hex()}
        )

    async def balance(request: Request) -> Response:
        g = node.require_group()
        state = g.state
        me = node.member_id
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
        g = node.require_group()
        to = _member(body.get("to"), "to")
        asset = _asset(body.get("asset"), g.genesis.assets)
        amount = _amount(body.get("amount"))
        memo = b""
        if to == node.member_id:
            raise BadRequest("bad-request", "a payment to oneself")
        cert = await g.place(
            lambda seq: Transfer(node.member_id, seq, to, asset, amount, memo),
            _request_id(body),
        )
        return JSONResponse(_certified(cert, g.group_id))

    async def pay_many(request: Request) -> Response:
        """Many payments in one call (payouts, and the benchmark's load): the request is
        checked whole before anything is signed; the payments are then signed with
        consecutive seqs (one refused by our own view takes no seq and is answered with its
        reason), ride the trader's batches, and each gets its own outcome and seconds from
        the call to its certificate."""
        body = await json_body(request)
        g = node.require_group()
        raw = body.get("payments")
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_PAY_MANY:
            raise BadRequest("bad-request", f"payments: a list of 1 to {MAX_PAY_MANY}")
        wanted = []
        for i, p in enumerate(raw):
            if not isinstance(p, dict):
                raise BadRequest("bad-request", f"payments[{i}]: {{to, asset, amount}}")
            to = _member(p.get("to"), f"payments[{i}].to")
            if p.get("asset") not in g.genesis.assets or to == node.member_id:
                raise BadRequest("bad-request", f"payments[{i}]: an asset of the group, to another")
            wanted.append((to, str(p["asset"]), _amount(p.get("amount"), f"payments[{i}].amount")))
        results: list[dict[str, Any]] = [{} for _ in wanted]
        start = trio.current_time()
        placed = await g.place_many(
            [
                partial(Transfer, node.member_id, recipient=to, asset=asset, amount=n, memo=b"")
                for to, asset, n in wanted
            ]
        )

        async def wait(i: int, pending: Pending) -> None:
            try:
                await g.outcome(pending)
                results[i] = {"certified": True, "seconds": trio.current_time() - start}
            except OrderPending as exc:
                results[i] = {"certified": False, "error": "order-pending", "detail": str(exc)}

        async with trio.open_nursery() as nursery:
            for i, p in enumerate(placed):
                if isinstance(p, OrderRefused):
                    results[i] = {"certified": False, "error": "order-refused", "detail": p.reason}
                else:
                    nursery.start_soon(wait, i, p)
        done = sum(1 for r in results if r["certified"])
        return JSONResponse({"certified": done, "results": results})

    async def lend_offer(request: Request) -> Response:
        body = await json_body(request)
        g = node.require_group()
        asset = _asset(body.get("asset"), g.genesis.assets)
        amount = _amount(body.get("amount"))
        rate = _int(body.get("rate_bps", 0), "rate_bps", 0, 2**32 - 1)
        minimum = _int(body.get("min_collateral_bps", 15_000), "min_collateral_bps", 10_000)
        expiry = _int(body.get("expiry", 0), "expiry", 0, 2**64 - 1)
        cert = await g.place(
            lambda seq: LendOffer(node.member_id, seq, asset, amount, rate, minimum, expiry),
            _request_id(body),
        )
        return JSONResponse(_certified(cert, g.group_id))

    async def lend_withdraw(request: Request) -> Response:
        body = await json_body(request)
        g = node.require_group()
        asset = _asset(body.get("asset"), g.genesis.assets)
        current = g.state.pit.offers.get((node.member_id, asset))
        if current is None:
            raise BadRequest("no-offer", "we have no lend offer in that asset", 404)
        cert = await g.place(
            lambda seq: LendOffer(
                node.member_id, seq, asset, 0, current.rate_bps, current.min_collateral_bps, 0
            ),
            _request_id(body),
        )
        return JSONResponse(_certified(cert, g.group_id))

    async def lend(request: Request) -> Response:
        pit = node.require_group().state.pit
        return JSONResponse({"offers": offers_json(pit), "lines": lines_json(pit)})

    async def loans(request: Request) -> Response:
        state = node.require_group().state
        return JSONResponse(
            {
                "loans": loans_json(state.pit),
                "positions": positions_json(state),
                "margin_calls": margin_calls_json(state.pit),
                "written_off": dict(state.pit.written_off),
            }
        )

    async def marks(request: Request) -> Response:
        return JSONResponse(marks_json(node.require_group().state.pit))

    async def mark(request: Request) -> Response:
        body = await json_body(request)
        g = node.require_group()
        asset = _asset(body.get("asset"), g.genesis.assets)
        price = _amount(body.get("price"), "price")
        cert = await g.place(lambda seq: Mark(node.member_id, seq, asset, price), _request_id(body))
        return JSONResponse(_certified(cert, g.group_id))

    async def exit_(request: Request) -> Response:
        body = await json_body(request)
        g = node.require_group()
        if node.member_id in g.committee:
            raise BadRequest(
                STEWARD_EXIT,
                "a steward leaves the committee first: a quorum of the stewards' operators "
                f"asks `swapnet steward remove {node.member_id.hex()}`",
                409,
            )
        pay_to = hex32(body["pay_to"], "pay_to") if "pay_to" in body else node.member_id
        cert = await g.place(lambda seq: Exit(node.member_id, seq, pay_to), _request_id(body))
        return JSONResponse(_certified(cert, g.group_id))

    def _leg(body: dict[str, Any], name: str, assets: tuple[str, ...]) -> tuple[str, int]:
        leg = body.get(name)
        if not isinstance(leg, dict) or leg.get("asset") not in assets:
            raise BadRequest("bad-request", f"{name} must be {{asset, amount}} in {assets}")
        return str(leg["asset"]), _amount(leg.get("amount"), f"{name}.amount")

    async def swap(request: Request) -> Response:
        body = await json_body(request)
        g = node.require_group()
        maker = _member(body.get("counterparty"), "counterparty")
        give = _leg(body, "give", g.genesis.assets)
        get = _leg(body, "get", g.genesis.assets)
        if give[0] == get[0] or maker == node.member_id:
            raise BadRequest("bad-request", "a swap exchanges two assets with someone else")
        cert = await g.take(maker, give, get, _request_id(body))
        return JSONResponse(_certified(cert, g.group_id))

    async def quote(request: Request) -> Response:
        body = await json_body(request)
        g = node.require_group()
        give = _leg(body, "give", g.genesis.assets)
        get = _leg(body, "get", g.genesis.assets)
        fills = _amount(body.get("fills", 1), "fills")
        counterparty = (
            _member(body["counterparty"], "counterparty") if "counterparty" in body else None
        )
        if give[0] == get[0]:
            raise BadRequest("bad-request", "a swap exchanges two different assets")
        standing = g.quote(Quote(*give, *get, fills, counterparty))
        return JSONResponse({"quoted": True, "quotes": standing})

    async def join(request: Request) -> Response:
        body = await json_body(request)
        g = node.require_group()
        deposits = body.get("deposits", {})
        if not isinstance(deposits, dict) or any(a not in g.genesis.assets for a in deposits):
            raise BadRequest("bad-request", f"deposits: {{asset: amount}} in {g.genesis.assets}")
        checked = {a: _amount(v, f"deposit of {a}") for a, v in sorted(deposits.items())}
        raw = body.get("prequals", [])
        if not isinstance(raw, list) or len(raw) > MAX_JOIN_PREQUALS:
            raise BadRequest("bad-request", f"prequals: a list of at most {MAX_JOIN_PREQUALS}")
        prequals = tuple(_decoded(p, Prequal, "prequal") for p in raw)
        handle = body.get("handle")
        if handle is not None and (not isinstance(handle, str) or handle_problem(handle)):
            raise BadRequest("bad-request", handle_problem(str(handle)) or "handle: a handle")
        return JSONResponse(await node.join(checked, handle, prequals))

    async def revoke(request: Request) -> Response:
        body = await json_body(request)
        number = body.get("checkpoint")
        if number is not None and (type(number) is not int or number < 1):
            raise BadRequest("bad-request", "checkpoint: a checkpoint number, or leave it out")
        return JSONResponse(await node.require_group().revoke(number))

    async def prequal(request: Request) -> Response:
        raw = request.query_params.get("member")
        member = None if raw is None else _member(raw, "member")
        badge = node.require_group().prequal(member)
        return JSONResponse({"prequal": badge.encode().hex(), **badge_json(badge)})

    async def evidence(request: Request) -> Response:
        member = _member(request.path_params["member"], "member")
        bundle = node.require_group().bundle(member)
        return JSONResponse({"bundle": bundle.encode().hex(), "account": bundle.account()})

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadRequest)
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=exc.status)

    async def refused(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "order-refused", "detail": str(exc)}, status_code=409)

    async def pending(request: Request, exc: Exception) -> Response:
        return JSONResponse({"certified": False, "pending": True, "detail": str(exc)}, 202)

    async def exit_game_failed(request: Request, exc: Exception) -> Response:
        code = exc.code if isinstance(exc, ExitGameError) else "exit-game"
        return JSONResponse({"error": code, "detail": str(exc)}, status_code=409)

    async def ledger_failed(request: Request, exc: Exception) -> Response:
        code = exc.code if isinstance(exc, LedgerError) else "ledger-unavailable"
        return JSONResponse({"error": code, "detail": str(exc)}, status_code=502)

    bound = listen_host.strip("[]")
    hosts = LOCAL_HOSTS | ({bound} if bound not in ("0.0.0.0", "::", "") else set())
    return Starlette(
        middleware=[Middleware(SameOrigin, hosts=frozenset(hosts))],
        routes=[
            Route("/livez", livez),
            Route("/readyz", readyz),
            Route("/status", status),
            Route("/metrics", metrics),
            Route("/series", series),
            Route("/static/{name}", static),
            Route("/", dashboard),
            Route("/openapi.json", openapi),
            Route("/v1/getinfo", guarded(getinfo)),
            Route("/v1/group", guarded(group)),
            Route("/v1/stewards", guarded(stewards)),
            Route("/v1/stewards", guarded(stewards_change, "admin"), methods=["POST"]),
            Route("/v1/balance", guarded(balance)),
            Route("/v1/history", guarded(history)),
            Route("/v1/prequal", guarded(prequal)),
            Route("/v1/pay", guarded(pay, "pay"), methods=["POST"]),
            Route("/v1/pay/many", guarded(pay_many, "pay"), methods=["POST"]),
            Route("/v1/swap", guarded(swap, "pay"), methods=["POST"]),
            Route("/v1/swap/quote", guarded(quote, "pay"), methods=["POST"]),
            Route("/v1/lend", guarded(lend)),
            Route("/v1/lend/offer", guarded(lend_offer, "pay"), methods=["POST"]),
            Route("/v1/lend/withdraw", guarded(lend_withdraw, "pay"), methods=["POST"]),
            Route("/v1/loans", guarded(loans)),
            Route("/v1/marks", guarded(marks)),
            Route("/v1/marks", guarded(mark, "pay"), methods=["POST"]),
            Route("/v1/exit", guarded(exit_, "admin"), methods=["POST"]),
            Route("/v1/join", guarded(join, "admin"), methods=["POST"]),
            Route("/v1/activity", guarded(activity)),
            Route("/v1/alerts", guarded(alerts)),
            Route("/v1/alerts", guarded(alerts_set, "admin"), methods=["POST"]),
            Route("/v1/revoke", guarded(revoke, "admin"), methods=["POST"]),
            Route("/v1/evidence/{member}", guarded(evidence, "admin")),
            Route("/v1/tokens", guarded(tokens_list, "admin")),
            Route("/v1/tokens", guarded(tokens_mint, "admin"), methods=["POST"]),
            Route("/v1/tokens/{token_id}", guarded(tokens_revoke, "admin"), methods=["DELETE"]),
        ],
        exception_handlers={
            BadRequest: bad_request,
            OrderRefused: refused,
            OrderPending: pending,
            LedgerError: ledger_failed,
            LedgerUnavailable: ledger_failed,
            ExitGameError: exit_game_failed,
        },
    )


def _request_id(body: dict[str, Any]) -> bytes | None:
    """The client's idempotency key (``request_id``, 1 to 128 characters), if given (an
    explicit ``null`` is no string: refused, as the description says; found by the control
    API's thorough fuzz)."""
    if "request_id" not in body:
        return None
    value = body["request_id"]
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise BadRequest("bad-request", "request_id must be a string of 1 to 128 characters")
    return value.encode()


def _certified(cert: Certificate | None, group_id: bytes) -> dict[str, Any]:
    """A certified order's answer: its batch, and the epoch whose committee certified it
    (an order in flight across a change of stewards is certified by one epoch or the
    other, never both). All None when it came by sync or an earlier call, not our votes."""
    if cert is None:
        return {"certified": True, "batch": None, "orders": None, "votes": None, "epoch": None}
    return {
        "certified": True,
        "batch": cert.batch.digest(group_id).hex(),
        "orders": len(cert.batch.orders),
        "votes": len(cert.votes),
        "epoch": cert.epoch,
    }
