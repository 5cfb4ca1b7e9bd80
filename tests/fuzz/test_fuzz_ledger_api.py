"""The devnet ledger's HTTP API fuzzed from its OpenAPI description (``/openapi.json``),
against a real ledger process: every answer is one the description lists, no 5xx, and a
refused request changes nothing (height, tip, mempool, and the faucet's balance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from schemathesis.generation.case import Case

from devnet import local_http
from node.api.openapi import ledger_openapi
from tests.fuzz.http import fuzz_api
from tests.integration.processes import ledger_process


def test_the_ledger_api_answers_every_request_as_described_and_refusals_change_nothing(
    tmp_path: Path,
) -> None:
    with ledger_process(tmp_path / "chain") as ledger:
        served = local_http.get(f"{ledger.url}/openapi.json", timeout=10).json()
        assert served == ledger_openapi()
        faucet = local_http.get(f"{ledger.url}/info", timeout=10).json()["faucet"]
        # found by the hello target: JSON nested past the parser's recursion limit raised
        # RecursionError (not ValueError) out of every JSON reader: a 500 here
        deep = local_http.post(
            f"{ledger.url}/mine",
            content=b"[" * 4000,
            headers={"content-type": "application/json"},
            timeout=10,
        )
        assert deep.status_code == 400 and deep.json()["error"] == "bad-request"
        # numbers are ASCII digits (the control API answered "\u00b3" with a 500)
        for path in ("/block/\u0661\u0662", "/block/+1", "/events?from=\u00b3", "/events?wait=1_0"):
            answer = local_http.get(f"{ledger.url}{path}", timeout=10)
            assert answer.status_code == 400 and answer.json()["error"] == "bad-request", path

        client = httpx.Client(base_url=ledger.url, timeout=10)  # one connection, reused

        def observe() -> Any:
            info = client.get("/info").json()
            account = client.get(f"/account/{faucet}").json()
            return info, account

        def no_long_polls(case: Case) -> None:
            if case.query and "wait" in case.query:  # bounded by 30 s; not worth the wait
                case.query["wait"] = 0

        tally = fuzz_api(
            served,
            ledger.url,
            observe=observe,
            adjust=no_long_polls,
            opaque=frozenset({"POST /tx", "POST /faucet"}),
        )
        assert set(tally.calls) == {
            f"{method.upper()} {path}" for path, ops in served["paths"].items() for method in ops
        }
        assert not [s for s in tally.statuses if s >= 500 and s != 503]
        assert local_http.get(f"{ledger.url}/livez", timeout=10).json() == {"ok": True}
