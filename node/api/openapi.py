"""OpenAPI 3.0 descriptions of the two HTTP APIs swapnet serves: the node's control API
(``node/api/control.py``) and the devnet ledger's API (``devnet/ledger_service.py``). Each is
served at ``GET /openapi.json`` and is what ``tests/fuzz`` drives schemathesis from, so
it says exactly what a route takes (types, bounds, required fields) and every status it
may answer; a status not listed here is a failure of the fuzz tests.

Invariant: a route added to either app is described here
(``tests/fuzz/test_openapi_covers_routes.py`` checks that they are the same set).
"""

from __future__ import annotations

from typing import Any

from node.config import MAX_URL, URL_PATTERN
from proto.epoch_changes import ACTIONS
from proto.kinds import MAX_STEWARDS
from proto.orders import ORDER_KINDS

ORDER_KIND_NAMES = tuple(sorted(k.TYPE_NAME for k in ORDER_KINDS))
HEX32 = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
MEMBER = {"type": "string", "pattern": "^(@[a-z][a-z0-9_]{2,19}|[0-9a-fA-F]{4,64})$"}
"""A member as people name one: @handle, a unique id prefix, or the whole id (hex)."""
HANDLE = {"type": "string", "pattern": "^[a-z][a-z0-9_]{2,19}$"}
AMOUNT = {"type": "integer", "minimum": 1, "maximum": 2**64 - 1}
U32 = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
ASSET = {"type": "string", "pattern": "^[A-Z][A-Z0-9._-]{0,11}$"}
OBJECT = {"type": "object"}
ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}
WHY = {
    400: "bad request: a field is missing, of the wrong type or out of bounds",
    401: "no bearer token",
    403: "a token of too small a scope, or a Host or Origin that is not ours",
    404: "no such thing",
    409: "refused by the group's rules or the exit game",
    413: "body too large",
    415: "not application/json",
    502: "the ledger refused or could not be reached",
    503: "not ready, or the store failed",
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: tuple[int, ...] = (200,),
    errors: tuple[int, ...] = (),
    body: dict[str, Any] | None = None,
    params: tuple[dict[str, Any], ...] = (),
    secured: bool = False,
    media: str = "application/json",
    answer: str = "application/json",
) -> dict[str, Any]:
    content = _json(OBJECT) if answer == "application/json" else {"content": {answer: {}}}
    responses: dict[str, Any] = {str(code): {"description": "answered", **content} for code in ok}
    codes = (*errors, *((401, 403) if secured else (403,)))
    for code in sorted(set(codes)):
        responses[str(code)] = {"description": WHY[code], **_json(ERROR)}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = list(params)
    if body is not None:
        op["requestBody"] = {"required": True, "content": {media: {"schema": body}}}
    if secured:
        op["security"] = [{"bearer": []}]
    return op


def _obj(required: tuple[str, ...] = (), **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def _only(required: tuple[str, ...], **properties: dict[str, Any]) -> dict[str, Any]:
    """An object of exactly these properties: the route refuses any other key."""
    return {**_obj(required, **properties), "additionalProperties": False}


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _document(title: str, paths: dict[str, Any], secured: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1"},
        "paths": paths,
    }
    if secured:
        doc["components"] = {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    return doc


REQUEST_ID = {"type": "string", "minLength": 1, "maxLength": 128}
BODY = (400, 413, 415)
ORDER = (*BODY, 409, 503)
NAMED = (*ORDER, 404)
"""An order that names a member: 404 ``unknown-member`` when the name fits nobody."""


def _order(
    summary: str, required: tuple[str, ...], errors: tuple[int, ...] = ORDER, **props: Any
) -> dict[str, Any]:
    """A POST that places one order of ours: certified (200) or still pending (202), with
    an optional idempotency key."""
    body = _obj(required, **props, request_id=REQUEST_ID)
    return _op(summary, ok=(200, 202), errors=errors, secured=True, body=body)


def _read(summary: str) -> dict[str, Any]:
    """A GET that needs a read token and the group."""
    return _op(summary, errors=(503,), secured=True)


def control_openapi(assets: tuple[str, ...] = ()) -> dict[str, Any]:
    """The node's control API; ``assets``: its group's, once it has one (an asset field
    then takes only those)."""
    asset = {"type": "string", "enum": list(assets)} if assets else ASSET
    leg = _obj(("asset", "amount"), asset=asset, amount=AMOUNT)
    paths: dict[str, Any] = {
        "/livez": {"get": _op("the process answers")},
        "/readyz": {"get": _op("ready: p2p, storage, ledger and group up", errors=(503,))},
        "/status": {"get": _op("the node's status (no token)")},
        "/metrics": {"get": _op("Prometheus metrics", answer="text/plain")},
        "/series": {"get": _op("the dashboard's time series, sampled every 2 s (no token)")},
        "/static/{name}": {
            "get": _op(
                "the charting library the dashboard uses",
                answer="text/javascript",
                errors=(404,),
                params=(_path("name", {"type": "string"}),),
            )
        },
        "/": {"get": _op("the dashboard", answer="text/html")},
        "/openapi.json": {"get": _op("this description")},
        "/v1/getinfo": {"get": _read("who this node is")},
        "/v1/group": {"get": _read("the group's genesis")},
        "/v1/stewards": {
            "get": _read("the committee signing now, and changes of stewards under way"),
            "post": _op(
                "ask for a change of stewards (add, remove, threshold, refresh, repair)",
                errors=(*BODY, 404, 409, 503),
                secured=True,
                body=_obj(
                    ("action",),
                    action={"type": "string", "enum": list(ACTIONS)},
                    member=MEMBER,
                    threshold={"type": "integer", "minimum": 1, "maximum": MAX_STEWARDS},
                ),
            ),
        },
        "/v1/balance": {"get": _read("our balances")},
        "/v1/history": {
            "get": _op(
                "our newest orders",
                errors=(400, 503),
                secured=True,
                params=(_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),),
            )
        },
        "/v1/alerts": {
            "get": _read("the newest alerts and the webhook's state"),
            "post": _op(
                "set or clear the webhook alerts go to, or send a test alert",
                errors=(*BODY, 409, 503),
                secured=True,
                body={
                    "oneOf": [
                        _only(
                            ("url",),
                            url={
                                "type": "string",
                                "nullable": True,
                                "maxLength": MAX_URL,
                                "pattern": URL_PATTERN,
                            },
                        ),
                        _only(("test",), test={"type": "boolean", "enum": [True]}),
                    ]
                },
            ),
        },
        "/v1/activity": {
            "get": _op(
                "the orders that touched us (paid or received), newest first",
                errors=(400, 404, 503),
                secured=True,
                params=(
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 5000}),
                    _query("kind", {"type": "string", "enum": list(ORDER_KIND_NAMES)}),
                    _query("member", MEMBER),
                ),
            )
        },
        "/v1/prequal": {
            "get": _op(
                "a badge from the newest checkpoint",
                errors=(400, 404, 409, 503),
                secured=True,
                params=(_query("member", MEMBER),),
            )
        },
        "/v1/pay": {
            "post": _order(
                "pay a member",
                ("to", "asset", "amount"),
                NAMED,
                to=MEMBER,
                asset=asset,
                amount=AMOUNT,
            )
        },
        "/v1/pay/many": {
            "post": _op(
                "many payments in one call",
                errors=NAMED,
                secured=True,
                body=_obj(
                    ("payments",),
                    payments={
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1000,
                        "items": _obj(
                            ("to", "asset", "amount"), to=MEMBER, asset=asset, amount=AMOUNT
                        ),
                    },
                ),
            )
        },
        "/v1/swap": {
            "post": _order(
                "take a maker's quote",
                ("counterparty", "give", "get"),
                NAMED,
                counterparty=MEMBER,
                give=leg,
                get=leg,
            )
        },
        "/v1/swap/quote": {
            "post": _op(
                "post a standing quote",
                errors=(*BODY, 404, 503),
                secured=True,
                body=_obj(("give", "get"), give=leg, get=leg, fills=AMOUNT, counterparty=MEMBER),
            )
        },
        "/v1/lend": {"get": _read("pit offers and credit lines")},
        "/v1/lend/offer": {
            "post": _order(
                "offer to lend",
                ("asset", "amount"),
                asset=asset,
                amount=AMOUNT,
                rate_bps=U32,
                min_collateral_bps={"type": "integer", "minimum": 10_000, "maximum": 2**32 - 1},
                expiry={"type": "integer", "minimum": 0, "maximum": 2**64 - 1},
            )
        },
        "/v1/lend/withdraw": {
            "post": _order("withdraw our lend offer", ("asset",), (*ORDER, 404), asset=asset)
        },
        "/v1/loans": {"get": _read("loans, positions, margin calls")},
        "/v1/marks": {
            "get": _read("the pit's marks"),
            "post": _order("mark an asset's price", ("asset", "price"), asset=asset, price=AMOUNT),
        },
        "/v1/exit": {"post": _order("leave the group", (), pay_to=HEX32)},
        "/v1/join": {
            "post": _op(
                "deposit and ask to join",
                errors=(*BODY, 409, 502, 503),
                secured=True,
                body=_obj(
                    deposits={"type": "object", "additionalProperties": AMOUNT},
                    prequals={"type": "array", "maxItems": 8, "items": {"type": "string"}},
                    handle=HANDLE,
                ),
            )
        },
        "/v1/revoke": {
            "post": _op(
                "claim our balance on the ledger",
                errors=(*BODY, 409, 502, 503),
                secured=True,
                body=_obj(checkpoint={"type": "integer", "minimum": 1}),
            )
        },
        "/v1/evidence/{member}": {
            "get": _op(
                "the evidence bundle against a revoker",
                errors=(400, 404, 409, 503),
                secured=True,
                params=(_path("member", MEMBER),),
            )
        },
        "/v1/tokens": {
            "get": _op("the tokens minted", secured=True),
            "post": _op(
                "mint a token",
                errors=BODY,
                secured=True,
                body=_obj(
                    ("scope", "label"),
                    scope={"type": "string", "enum": ["read", "pay", "admin"]},
                    label={"type": "string", "minLength": 1, "maxLength": 64},
                ),
            ),
        },
        "/v1/tokens/{token_id}": {
            "delete": _op(
                "revoke a token",
                errors=(404,),
                secured=True,
                params=(_path("token_id", {"type": "string", "pattern": "^[0-9a-f]{8,64}$"}),),
            )
        },
    }
    return _document("swapnet node control API", paths, secured=True)


def ledger_openapi() -> dict[str, Any]:
    """The devnet ledger's API."""
    height = {"type": "integer", "minimum": 0, "maximum": 2**63}
    paths: dict[str, Any] = {
        "/info": {"get": _op("the ledger's id, height, assets and fees")},
        "/livez": {"get": _op("the process answers")},
        "/openapi.json": {"get": _op("this description")},
        "/tx": {
            "post": _op(
                "submit a signed transaction (msgpack SignedTx)",
                ok=(202,),
                errors=(400, 413, 503),
                body={"type": "string", "format": "binary"},
                media="application/octet-stream",
            )
        },
        "/tx/{tx_id}": {
            "get": _op("a transaction's status", errors=(400, 404), params=(_path("tx_id", HEX32),))
        },
        "/account/{key}": {"get": _op("an account", errors=(400,), params=(_path("key", HEX32),))},
        "/wallet/{group_id}": {
            "get": _op("a group wallet", errors=(400, 404), params=(_path("group_id", HEX32),))
        },
        "/block/{height}": {
            "get": _op("a block", errors=(400, 404), params=(_path("height", height),))
        },
        "/events": {
            "get": _op(
                "events from a height",
                errors=(400,),
                params=(
                    _query("from", {"type": "integer", "minimum": 1, "maximum": 2**63}),
                    _query("wait", {"type": "integer", "minimum": 0, "maximum": 30}),
                ),
            )
        },
        "/mine": {
            "post": _op(
                "mine blocks (devnet)",
                errors=(400, 413, 415, 503),
                body=_obj(blocks={"type": "integer", "minimum": 1, "maximum": 10}),
            )
        },
        "/faucet": {
            "post": _op(
                "fund an account (devnet)",
                ok=(202,),
                errors=(400, 413, 415, 503),
                body=_obj(
                    ("account", "asset", "amount"),
                    account=HEX32,
                    asset=ASSET,
                    amount={"type": "integer", "minimum": 1, "maximum": 10**12},
                ),
            )
        },
    }
    return _document("swapnet devnet ledger API", paths, secured=False)
