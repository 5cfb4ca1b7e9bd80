"""The devnet ledger's HTTP client (``node.ledger_devnet.DevnetLedgerClient``) on a
connection the ledger closes: a read is asked again once, a transaction never twice."""

from __future__ import annotations

import httpx
import pytest

from node.ledger_devnet import DevnetLedgerClient
from node.ledger_port import LedgerUnavailable


class ClosesFirst(httpx.AsyncBaseTransport):
    """A ledger that drops the first ``drops`` requests without answering (a kept-alive
    connection it closed as the client reused it), then answers."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.seen: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        if self.drops:
            self.drops -= 1
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json={"height": 7})


async def test_a_read_is_asked_again_once_on_a_closed_connection() -> None:
    ledger = ClosesFirst(drops=1)
    client = DevnetLedgerClient("http://ledger.invalid", transport=ledger)
    assert (await client.info())["height"] == 7
    assert ledger.seen == ["GET /info", "GET /info"]
    twice = ClosesFirst(drops=2)  # closed again: the ledger is away, said once
    with pytest.raises(LedgerUnavailable, match="disconnected"):
        await DevnetLedgerClient("http://ledger.invalid", transport=twice).info()
    assert len(twice.seen) == 2


async def test_a_transaction_is_never_sent_twice() -> None:
    ledger = ClosesFirst(drops=1)
    client = DevnetLedgerClient("http://ledger.invalid", transport=ledger)
    with pytest.raises(LedgerUnavailable):
        await client._call("POST", "/tx", json={"tx": "00"})
    assert ledger.seen == ["POST /tx"]
