"""A web page in the operator's browser must not read or drive the node's API (it shares
127.0.0.1 with the browser): before, a request with ``Host: evil.example`` got 200 from
``/status``, ``/metrics`` and ``/``, so any page could read every member's balances by DNS
rebinding. ``node.api.http_api.SameOrigin`` refuses a foreign ``Host`` or ``Origin``."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from node.api.http_api import LOCAL_HOSTS, SameOrigin


async def status(request: object) -> JSONResponse:
    return JSONResponse({"balances": {"alice": 100}})


def client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/status", status), Route("/v1/pay", status, methods=["POST"])],
        middleware=[Middleware(SameOrigin, hosts=LOCAL_HOSTS)],
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:9999"
    )


async def test_the_api_answers_its_own_address() -> None:
    async with client() as c:
        for host in ("127.0.0.1:9999", "localhost:9999", "[::1]:9999", "127.0.0.1"):
            assert (await c.get("/status", headers={"host": host})).status_code == 200
        same = {"origin": "http://127.0.0.1:9999"}
        assert (await c.post("/v1/pay", headers=same)).status_code == 200


async def test_a_rebound_name_or_a_foreign_page_is_refused_before_any_route() -> None:
    async with client() as c:
        for host in ("evil.example", "evil.example:9999", "127.0.0.1.evil.example", "", "[::1"):
            r = await c.get("/status", headers={"host": host})
            assert r.status_code == 403 and r.json()["error"] == "forbidden-origin"
            assert "alice" not in r.text
        for origin in ("http://evil.example", "null", "file://", "https://evil.example:9999"):
            r = await c.post("/v1/pay", headers={"origin": origin})
            assert r.status_code == 403
