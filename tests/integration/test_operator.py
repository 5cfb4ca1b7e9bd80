"""The operator's surface against a real devnet, through the real CLI, one test per
command: `swapnet devnet up` starts the ledger and three nodes as processes once for the
module; every command runs with --json and its output is parsed (and once without, to see
a table); control calls without a token, with a wrong one, or with too small a scope get
401/403; /metrics parses with prometheus_client's own parser; the dashboard loads in
headless Chromium with no console message and shows the members (the screenshot is kept in
test-artifacts/); devnet status, logs, stop, start and down do what they say; the last
test takes a steward out of the group with `group exit`.

The tests share the devnet and run in file order on one worker (xdist group "processes");
each leaves the group as it found it, except the last.
"""

from __future__ import annotations

import html
import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright
from prometheus_client.parser import text_string_to_metric_families

from devnet import local_http
from node.alerts import signature
from node.api.openapi import control_openapi
from proto.codec import decode
from proto.formation import GroupSpec
from proto.genesis import AdmissionPolicy
from proto.pit import PitPolicy
from tests.fuzz.http import fuzz_api
from tests.integration.processes import ROOT, devnet_up, js, swapnet, wait_for
from tests.node.test_alerts import receiver
from tests.node.test_monitoring import promtool

pytestmark = pytest.mark.xdist_group("processes")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The 3-node devnet (its devnet.json record, plus the output of `devnet up`)."""
    base = tmp_path_factory.mktemp("ops") / "devnet"
    with devnet_up(base, 3) as up:
        state = json.loads((base / "devnet.json").read_text())
        yield {**state, "dir": str(base), "up": up}


def data(node: dict[str, Any]) -> list[str]:
    return ["--data", node["data"]]


def group_of(node: dict[str, Any]) -> dict[str, Any]:
    g: dict[str, Any] = local_http.get(f"{node['api']}/status", timeout=10).json()["group"]
    return g


def chromium_flags(tmp_path: Path) -> list[str]:
    """Headless Debian chromium, offline, its profile in ``tmp_path``."""
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--window-size=1200,900",
    ]


@contextmanager
def serve_directory(root: Path) -> Iterator[int]:
    """A static HTTP server for ``root`` on 127.0.0.1 (a port from the OS), in a thread."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_devnet_up_prints_every_node_and_warns_the_keys_are_public(
    devnet: dict[str, Any],
) -> None:
    up = devnet["up"]
    assert [n["name"] for n in up["nodes"]] == ["steward0", "steward1", "steward2"]
    assert "public" in up["warning"]
    for row in up["nodes"]:
        assert {"peer_id", "status_url", "data_dir", "cookie", "api"} <= set(row)
        assert row["running"] and row["ready"]
    assert up["ledger"]["url"].startswith("http://127.0.0.1:")


def test_the_banner_is_for_people_and_the_log_file_for_machines(devnet: dict[str, Any]) -> None:
    n0 = devnet["nodes"][0]
    lines = (Path(n0["data"]) / "node.stderr").read_text().splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("swapnet ") and "ready" in line)
    banner = "\n".join(lines[top : top + 12])
    for field in ("member", "peer id", "listening", "status", "data dir", "log file"):
        assert f"  {field} " in banner, field
    entries = [
        json.loads(line) for line in (Path(n0["data"]) / "node.log").read_text().splitlines()
    ]
    assert any(e["message"].startswith("node ready") for e in entries)
    assert {"time", "level", "logger", "message"} <= set(entries[0])


def test_getinfo(devnet: dict[str, Any]) -> None:
    n0 = devnet["nodes"][0]
    info = js("getinfo", *data(n0))
    assert info["member"] == n0["member"] and info["api"] == n0["api"] and info["ready"]
    assert info["peer_id"] == n0["peer_id"]


def test_status_lists_the_group_with_members_online_and_the_notary(
    devnet: dict[str, Any],
) -> None:
    status = js("status", *data(devnet["nodes"][0]))
    assert status["ready"] and status["version"] and status["ledger_height"] > 0
    (g,) = status["groups"]
    assert g == status["group"]
    assert g["members"] == 3 and g["members_online"] == 3 and g["steward"]
    assert {"number", "age_seconds"} <= set(g["checkpoint"])
    assert "orders_since_checkpoint" in g
    assert {"ledger_height", "open_claims", "crawl_backs_sent", "evidence"} <= set(g["notary"])


def test_balance_is_a_table_by_default_and_json_on_request(devnet: dict[str, Any]) -> None:
    n0 = devnet["nodes"][0]
    balances = js("balance", *data(n0))["balances"]
    assert balances["USD"] > 0 and balances["BTC"] > 0
    human = swapnet("balance", *data(n0)).stdout
    assert "USD" in human and "{" not in human


def test_pay_is_certified_once_per_request_id_and_bad_input_is_one_line(
    devnet: dict[str, Any],
) -> None:
    n0, n1, _ = devnet["nodes"]
    before = js("balance", *data(n0))["balances"]["USD"]
    paid = js("pay", n1["member"], "USD:250", *data(n0), "--request-id", "ops-1")
    assert paid["certified"]
    again = js("pay", n1["member"], "USD:250", *data(n0), "--request-id", "ops-1")
    assert again["certified"]  # the same order, not a second one
    assert js("balance", *data(n0))["balances"]["USD"] == before - 250
    for amount in ("USD:0", "USD", "XYZ:5"):
        refused = swapnet("pay", n1["member"], amount, *data(n0), check=False)
        assert refused.returncode == 1 and refused.stderr.startswith("error:"), amount
        assert len(refused.stderr.strip().splitlines()) == 1
    assert js("balance", *data(n0))["balances"]["USD"] == before - 250


def test_history_lists_the_newest_order_first(devnet: dict[str, Any]) -> None:
    n0, n1, _ = devnet["nodes"]
    js("pay", n1["member"], "USD:7", *data(n0))
    (last,) = js("history", *data(n0), "--limit", "1")
    assert last["kind"] == "transfer"
    assert last["legs"][0] == {
        "from": n0["member"],
        "to": n1["member"],
        "asset": "USD",
        "amount": 7,
    }


def test_quote_then_swap_is_one_order_both_sides_signed(devnet: dict[str, Any]) -> None:
    n0, n1, _ = devnet["nodes"]
    mine = js("balance", *data(n0))["balances"]
    quoted = js("quote", "--give", "BTC:3", "--get", "USD:90", *data(n1))
    assert quoted["quoted"]
    swapped = js("swap", n1["member"], "--give", "USD:90", "--get", "BTC:3", *data(n0))
    assert swapped["certified"]
    after = js("balance", *data(n0))["balances"]
    assert after == {"USD": mine["USD"] - 90, "BTC": mine["BTC"] + 3}
    gone = swapnet(
        "swap", n1["member"], "--give", "USD:90", "--get", "BTC:3", *data(n0), check=False
    )
    assert gone.returncode == 1 and gone.stderr.startswith("error:")  # the quote is used up


def test_group_show(devnet: dict[str, Any]) -> None:
    group = js("group", "show", *data(devnet["nodes"][0]))
    assert len(group["stewards"]) == 3 and group["threshold"] == 2
    assert sorted(group["members"]) == sorted(n["member"] for n in devnet["nodes"])
    assert group["assets"] == ["BTC", "USD"]


def test_group_create_writes_the_spec_with_its_admission_policy(
    devnet: dict[str, Any], tmp_path: Path
) -> None:
    n0, n1, _ = devnet["nodes"]
    wallet_key = js("group", "show", *data(n0))["wallet_key"]
    terms = tmp_path / "terms.txt"
    terms.write_text("be excellent\n")
    spec_file = tmp_path / "new.spec"
    created = js(
        "group", "create", "--out", str(spec_file), "--name", "desk",
        *(a for m in (n0, n1) for a in ("--steward", f"{m['name']}={m['member']}")),
        "--ledger-url", devnet["ledger"]["url"], "--asset", "USD", "--terms", str(terms),
        "--max-premature-revokes", "1", "--trusted-wallet", wallet_key,
        "--min-prequals", "1", "--max-prequal-age", "500", "--pit-numeraire", "usd",
        "--pit-grace", "3",
    )  # fmt: skip
    spec = decode(spec_file.read_bytes(), GroupSpec)
    assert created["threshold"] == spec.threshold == 2
    assert spec.admission == AdmissionPolicy(1, 0, (bytes.fromhex(wallet_key),), 1, 500)
    assert spec.pit == PitPolicy("USD", 12_000, 3, 30, 2_000, 100, 2, 5_000)
    named = dict(zip(spec.stewards, spec.steward_handles, strict=True))
    assert named == {bytes.fromhex(m["member"]): m["name"] for m in (n0, n1)}
    no_pit = swapnet(
        "group", "create", "--out", str(tmp_path / "p.spec"), "--name", "x",
        *(a for m in (n0, n1) for a in ("--steward", f"{m['name']}={m['member']}")),
        "--ledger-url", devnet["ledger"]["url"], "--asset", "USD", "--terms", str(terms),
        "--pit-numeraire", "EUR", check=False,
    )  # fmt: skip
    assert no_pit.returncode == 1 and "numeraire" in no_pit.stderr
    for stewards in ([n0["member"], n1["member"]], ["Bad=" + n0["member"], "x=" + n1["member"]]):
        unnamed = swapnet(
            "group", "create", "--out", str(tmp_path / "u.spec"), "--name", "x",
            *(a for m in stewards for a in ("--steward", m)),
            "--ledger-url", devnet["ledger"]["url"], "--asset", "USD", "--terms", str(terms),
            check=False,
        )  # fmt: skip
        assert unnamed.returncode == 1 and "--steward" in unnamed.stderr, unnamed.stderr
    assert not (tmp_path / "u.spec").exists()
    broken = swapnet(
        "group", "create", "--out", str(tmp_path / "x.spec"), "--name", "x", "--steward", "zz",
        "--ledger-url", devnet["ledger"]["url"], "--asset", "USD", "--terms", str(terms),
        check=False,
    )  # fmt: skip
    assert broken.returncode == 1 and broken.stderr.startswith("error:")
    assert not (tmp_path / "x.spec").exists()


def test_group_join_from_a_member_tops_up_its_deposit(devnet: dict[str, Any]) -> None:
    n2 = devnet["nodes"][2]
    before = group_of(n2)["balances"][n2["member"]]["USD"]
    joined = js("group", "join", "--deposit", "USD:100", *data(n2))
    assert joined["deposits"]
    wait_for(
        "the top-up credited",
        lambda: group_of(n2)["balances"][n2["member"]]["USD"] == before + 100,
    )
    bad = swapnet("group", "join", "--deposit", "USD:-5", *data(n2), check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error:")


def test_members_go_by_their_handles(
    devnet: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whom to pay, without hex: the members table, `pay @handle` or a unique id prefix,
    handles beside every id a table shows, and a devnet table that fits 80 columns."""
    monkeypatch.setenv("COLUMNS", "200")  # the commands' tables are not folded to 80
    n0, n1, n2 = devnet["nodes"]
    rows = js("members", *data(n0))
    assert {r["handle"]: r["member"] for r in rows} == {
        f"@{n['name']}": n["member"] for n in devnet["nodes"]
    }
    before = group_of(n0)["balances"][n1["member"]]["USD"]
    assert js("pay", f"@{n1['name']}", "USD:2", *data(n0))["certified"]
    assert js("pay", n1["member"][:10], "USD:3", *data(n0))["certified"]
    wait_for(
        "both payments in the payee's balance",
        lambda: group_of(n1)["balances"][n1["member"]]["USD"] == before + 5,
    )
    for who, words in (("@nobody", "no member goes by"), ("zz", "@handle or a hex id")):
        refused = swapnet("pay", who, "USD:1", *data(n0), check=False)
        assert refused.returncode == 1 and words in refused.stderr, refused.stderr
    history = swapnet("history", *data(n0)).stdout
    assert f"@{n1['name']} ({n1['member'][:8]})" in history
    for command in (["devnet", "status", "--dir", devnet["dir"]], ["status", *data(n2)]):
        out = swapnet(*command).stdout  # on a wide terminal (COLUMNS): no need for it
        assert f"@{n0['name']}" in out, out
        if command[0] == "devnet":
            assert max(len(line) for line in out.splitlines()) <= 80, out


def test_prequal_fetch_show_and_verify(devnet: dict[str, Any], tmp_path: Path) -> None:
    n0 = devnet["nodes"][0]
    badge = tmp_path / "n0.prequal"
    fetched = js("prequal", "fetch", "--out", str(badge), *data(n0))
    assert fetched["out"] == str(badge) and badge.stat().st_size > 0
    shown = js("prequal", "show", str(badge))
    assert shown["member"] == n0["member"] and shown["history"]["orders"] >= 1
    assert shown["handle"] == n0["name"]  # stated under the group's signature
    table = swapnet("prequal", "show", str(badge)).stdout.splitlines()
    assert any("handle" in line and n0["name"] in line for line in table), table
    checked = js("prequal", "verify", str(badge), "--ledger-url", devnet["ledger"]["url"])
    assert checked["valid"] and checked["ledger"]["wallet_key_matches"]
    assert "member" in swapnet("prequal", "show", str(badge)).stdout  # a table
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a badge")
    refused = swapnet("prequal", "verify", str(junk), check=False)
    assert refused.returncode == 1 and "not a prequal badge" in refused.stderr


def test_evidence_export_against_an_honest_member_is_refused(
    devnet: dict[str, Any], tmp_path: Path
) -> None:
    n0, n1, _ = devnet["nodes"]
    out = tmp_path / "none.evidence"
    refused = swapnet(
        "evidence", "export", "--member", n1["member"], "--out", str(out), *data(n0), check=False
    )
    assert refused.returncode == 1 and refused.stderr.startswith("error:")
    assert not out.exists()
    missing = swapnet("evidence", "verify", str(out), "--json", check=False)
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_lend_marks_and_loans_commands(devnet: dict[str, Any]) -> None:
    n0, n1, n2 = devnet["nodes"]
    offered = js("lend", "offer", "USD:1000", "--rate-bps", "7", *data(n0))
    assert offered["certified"]
    (offer,) = [o for o in js("lend", "list", *data(n1))["offers"] if o["lender"] == n0["member"]]
    assert offer["amount"] == 1000 and offer["rate_bps"] == 7
    assert js("balance", *data(n0))["balances"]["USD"] >= 1000
    assert js("mark", "BTC", "12.5", *data(n1))["certified"]
    mine = [m for m in js("marks", *data(n0))["members"] if m["member"] == n1["member"]]
    assert mine and mine[0]["price"] == 1_250_000_000 and mine[0]["per_unit"] == "12.5"
    for n in (n0, n2):  # a group mark needs three members' marks (a quorum of two)
        assert js("mark", "BTC", "12.5", *data(n))["certified"]
    wait_for("the group mark", lambda: "BTC" in js("marks", *data(n0))["group"])
    loans = js("loans", *data(n0))
    assert {"loans", "positions", "margin_calls", "written_off"} <= set(loans)
    assert "lend offers" in swapnet("lend", "list", *data(n0)).stdout  # a table
    bad = swapnet("mark", "BTC", "abc", *data(n1), check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error: price")
    numeraire = swapnet("mark", "USD", "2", *data(n1), check=False)
    assert numeraire.returncode == 1 and "numeraire" in numeraire.stderr
    assert js("lend", "withdraw", "USD", *data(n0))["certified"]
    wait_for(
        "the offer gone at a checkpoint",
        lambda: (
            not [o for o in js("lend", "list", *data(n0))["offers"] if o["lender"] == n0["member"]]
        ),
    )
    none = swapnet("lend", "withdraw", "USD", *data(n0), check=False)
    assert none.returncode == 1 and "no lend offer" in none.stderr


def test_tokens_scope_every_control_call(devnet: dict[str, Any]) -> None:
    n0, _, n2 = devnet["nodes"]
    api = n0["api"]
    assert local_http.get(f"{api}/v1/balance").status_code == 401
    assert local_http.get(f"{api}/v1/activity").status_code == 401  # our history: a token's
    bad = {"authorization": "Bearer nope"}
    assert local_http.get(f"{api}/v1/balance", headers=bad).status_code == 403
    read = js("token", "mint", "--scope", "read", "--label", "dash", *data(n0))["token"]
    pay = js("token", "mint", "--scope", "pay", "--label", "bot", *data(n0))["token"]
    remote = ["--api", api, "--token"]
    assert js("balance", *remote, read)["balances"]
    no = swapnet("pay", n2["member"], "USD:1", *remote, read, check=False)
    assert no.returncode == 1 and "needs a pay token" in no.stderr
    assert js("pay", n2["member"], "USD:1", *remote, pay)["certified"]
    as_pay = {"authorization": f"Bearer {pay}"}
    assert local_http.post(f"{api}/v1/exit", json={}, headers=as_pay).status_code == 403
    assert local_http.post(f"{api}/v1/revoke", json={}, headers=as_pay).status_code == 403
    change = {"action": "refresh"}  # a change of stewards is the operator's alone
    assert local_http.post(f"{api}/v1/stewards", json=change, headers=as_pay).status_code == 403
    assert local_http.get(f"{api}/v1/tokens", headers=as_pay).status_code == 403
    listed = js("token", "list", *data(n0))
    assert {t["label"] for t in listed} >= {"dash", "bot"}
    assert all("token" not in t for t in listed)  # only hashes are kept
    for t in listed:
        js("token", "revoke", t["id"], *data(n0))
    for token in (read, pay):
        header = {"authorization": f"Bearer {token}"}
        assert local_http.get(f"{api}/v1/balance", headers=header).status_code == 403


def test_the_control_api_answers_every_request_as_described_and_refusals_change_nothing(
    devnet: dict[str, Any],
) -> None:
    """Issue 17: the control API fuzzed from its own OpenAPI description (schemathesis,
    valid and invalid requests with the admin token): every answer is one it describes,
    no 5xx but the documented ledger and readiness ones, and a refused request leaves
    our balances, seq and tokens as they were. Exit and revoke are left out (they end
    this node's membership, which later tests need; they have tests of their own)."""
    n0 = devnet["nodes"][0]
    api = n0["api"]
    served = local_http.get(f"{api}/openapi.json", timeout=10).json()
    assert served == control_openapi(("BTC", "USD"))
    admin = {"authorization": f"Bearer {Path(n0['cookie']).read_text().strip()}"}

    client = httpx.Client(base_url=api, headers=admin, timeout=10)  # one connection, reused

    def observe() -> Any:
        return client.get("/v1/balance").json(), client.get("/v1/tokens").json()

    tally = fuzz_api(
        served,
        api,
        headers=admin,
        observe=observe,
        skip=frozenset({"POST /v1/exit", "POST /v1/revoke"}),
        per_operation=5,
        opaque=frozenset(  # rules across fields (two assets, not to ourselves, a member)
            {"POST /v1/join", "POST /v1/pay", "POST /v1/pay/many", "POST /v1/swap"}
            | {"POST /v1/swap/quote", "GET /v1/prequal", "GET /v1/evidence/{member}"}
        ),
    )
    assert len(tally.calls) == sum(len(ops) for ops in served["paths"].values()) - 2
    assert not [s for s in tally.statuses if s >= 500 and s not in (502, 503)]
    assert local_http.get(f"{api}/readyz", timeout=10).status_code == 200
    # found by the thorough run (100,000 requests): "³".isdigit() is True, int("³") raises
    for limit in ("\u00b3", "\u0661\u0662", "0", "1001"):
        answer = client.get("/v1/history", params={"limit": limit})
        assert answer.status_code == 400 and answer.json()["error"] == "bad-request", limit
    # and an explicit null for an optional string was taken as "not given"
    for path, body in (
        ("/v1/marks", {"asset": "BTC", "price": 1, "request_id": None}),
        ("/v1/swap/quote", {"give": {"asset": "BTC", "amount": 1}, "counterparty": None}),
    ):
        answer = client.post(path, json={"get": {"asset": "USD", "amount": 1}, **body})
        assert answer.status_code == 400 and answer.json()["error"] == "bad-request", path

    def hooked() -> Any:
        return (client.get("/v1/alerts").json()["webhook"] or {}).get("url")

    # found by a CI run: a test request with other keys beside it, and a URL naming no host
    before = hooked()
    for body in (
        {"test": True, "url": "https://hooks.example.com/x"},
        {"url": "https://hooks.example.com/x", "colour": "blue"},
        {"url": "http://08{Kt$"},
    ):
        answer = client.post("/v1/alerts", json=body)
        assert answer.status_code == 400 and answer.json()["error"] == "bad-request", body
    assert hooked() == before
    for t in js("token", "list", *data(n0)):  # what the fuzzer minted
        js("token", "revoke", t["id"], *data(n0))


def test_a_page_on_another_origin_can_neither_read_nor_drive_the_api(
    devnet: dict[str, Any],
) -> None:
    """DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1. Before,
    its requests got 200 from /status, /metrics and /; now 403 before any route runs."""
    n0, _, n2 = devnet["nodes"]
    api = n0["api"]
    for path in ("/status", "/metrics", "/"):
        assert local_http.get(f"{api}{path}").status_code == 200
        rebound = local_http.get(f"{api}{path}", headers={"host": "evil.example"})
        assert rebound.status_code == 403 and n2["member"] not in rebound.text
    token = {"authorization": f"Bearer {Path(n0['cookie']).read_text().strip()}"}
    page = {**token, "origin": "http://evil.example"}
    pay = {"to": n2["member"], "asset": "USD", "amount": 1}
    before = local_http.get(f"{api}/v1/balance", headers=token).json()["next_seq"]
    assert local_http.post(f"{api}/v1/pay", json=pay, headers=page).status_code == 403
    assert local_http.get(f"{api}/v1/balance", headers=token).json()["next_seq"] == before


HOSTILE_PAGE = """<!doctype html><title>free money</title><pre id="out">running</pre>
<script>
const targets = {%(how)s: "%(api)s"};
async function attack() {
  const seen = {};
  for (const [how, api] of Object.entries(targets)) {
    for (const path of ["/status", "/metrics", "/", "/v1/balance"]) {
      try {
        const r = await fetch(api + path);
        seen[how + " " + path] = r.status + " " + (await r.text()).slice(0, 300);
      } catch (e) { seen[how + " " + path] = "blocked " + e.name; }
    }
    try {  // a "simple" request: no preflight, no token (a page cannot have one)
      const r = await fetch(api + "/v1/pay", {method: "POST", body: %(pay)s,
        headers: {"content-type": "text/plain"}});
      seen[how + " pay"] = r.status + "";
    } catch (e) { seen[how + " pay"] = "blocked " + e.name; }
  }
  document.getElementById("out").textContent = "DONE " + JSON.stringify(seen);
}
attack();
</script>"""


def test_a_hostile_page_in_headless_chromium_reads_and_drives_nothing(
    devnet: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 17 item 5, in a real browser: a page of evil.example tries to read /status,
    /metrics, the dashboard and a balance, and to pay. (1) By the name evil.example, which
    the browser resolves to 127.0.0.1 as after DNS rebinding, with web security off: the
    worst case, what a rebound page may do as same-origin, so only the node's Host check
    stands in its way. (2) By the node's own address, cross-origin, with the browser as
    shipped (it sends the page's Origin). Every read is refused or blocked, no member id
    reaches the page, and the pay changes nothing."""
    if CHROMIUM is None:
        pytest.fail("chromium is missing: `make test` installs Debian's chromium package")
    n0, _, n2 = devnet["nodes"]
    api, port = n0["api"], int(n0["api"].rsplit(":", 1)[1])
    token = {"authorization": f"Bearer {Path(n0['cookie']).read_text().strip()}"}
    before = local_http.get(f"{api}/v1/balance", headers=token).json()
    pay = json.dumps(json.dumps({"to": n2["member"], "asset": "USD", "amount": 1}))
    site = tmp_path / "evil"
    site.mkdir()
    attacks = {
        "rebound": (f"http://evil.example:{port}", ["--disable-web-security"]),
        "direct": (f"http://127.0.0.1:{port}", []),
    }
    seen: dict[str, str] = {}
    with serve_directory(site) as page_port:
        for how, (target, extra) in attacks.items():
            page = HOSTILE_PAGE % {"how": how, "api": target, "pay": pay}
            (site / f"{how}.html").write_text(page)
            dom = subprocess.run(
                [
                    CHROMIUM,
                    *chromium_flags(tmp_path / how),
                    *extra,
                    "--host-resolver-rules=MAP evil.example 127.0.0.1",
                    "--dump-dom",
                    f"http://evil.example:{page_port}/{how}.html",
                ],
                check=False,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert dom.returncode == 0, dom.stderr[-2000:]
            assert "DONE " in dom.stdout, dom.stdout[-2000:]
            done = dom.stdout.split("DONE ", 1)[1].split("</pre>", 1)[0]
            seen.update(json.loads(html.unescape(done)))
    assert len(seen) == 10
    for what, answer in seen.items():
        assert answer.startswith(("403", "blocked")), (what, answer)
        assert n0["member"] not in answer and n2["member"] not in answer, what
    assert seen["rebound /status"].startswith("403")  # refused by the node, not the browser
    after = local_http.get(f"{api}/v1/balance", headers=token).json()
    assert after == before


def test_metrics_parse_with_prometheus_own_parser(devnet: dict[str, Any]) -> None:
    text = local_http.get(f"{devnet['nodes'][0]['api']}/metrics").text
    linted = promtool("check", "metrics", stdin=text)  # Prometheus's own naming lint
    assert linted.returncode == 0, linted.stdout + linted.stderr
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert all(name.startswith("swapnet_") for name in families)
    assert families["swapnet_orders_certified"].type == "counter"
    assert any(
        s.name == "swapnet_orders_certified_total" and s.value >= 2
        for s in families["swapnet_orders_certified"].samples
    )
    assert families["swapnet_certify_seconds"].type == "histogram"
    assert families["swapnet_members"].samples[0].value == 3
    assert families["swapnet_pit_loans"].type == "gauge"
    labels = {tuple(s.labels) for f in families.values() for s in f.samples}
    assert all(set(k) <= {"asset", "le"} for k in labels)  # no per-peer labels
    samples = {s.name for f in families.values() for s in f.samples}
    grafana = json.loads((ROOT / "node" / "monitoring" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in grafana["panels"] for t in p["targets"]]
    assert len(exprs) >= 12
    for expr in exprs:  # every panel reads series the node exports
        assert any(re.search(rf"\b{name}\b", expr) for name in samples), expr


def test_the_dashboard_loads_in_headless_chromium_and_shows_the_members(
    devnet: dict[str, Any], tmp_path: Path
) -> None:
    if CHROMIUM is None:
        pytest.fail("chromium is missing: `make test` installs Debian's chromium package")
    api = devnet["nodes"][0]["api"]
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    flags = chromium_flags(tmp_path)
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", f"{api}/"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    for n in devnet["nodes"]:
        shown = f"@{n['name']} ({n['member'][:8]})"  # by handle, beside its id
        assert shown in dom.stdout, "a member is missing from the dashboard"
    assert "swapnet: devnet" in dom.stdout
    assert "S&amp;L pit" in dom.stdout and 'id="positions"' in dom.stdout
    # the stewards' health, drawn from /status (a rendered row, not the empty one)
    assert "stewards may fail before the group stalls" in dom.stdout
    assert dom.stdout.count(" s ago</td>") >= 3 and "no group yet" not in dom.stdout
    picture = subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", f"{api}/"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert picture.returncode == 0 and shot.stat().st_size > 10_000


def _dashboard_with_token(browser: Browser, node: dict[str, Any], scope: str) -> Page:
    """``node``'s dashboard in a new page, served with its policy, a token of ``scope``
    pasted into it; any error the page reports fails the test at its end."""
    page = browser.new_page()
    page.on("pageerror", lambda e: pytest.fail(f"the page threw: {e}"))
    page.on("console", lambda m: m.type == "error" and pytest.fail(f"console: {m.text}"))
    served = page.goto(f"{node['api']}/")
    assert served is not None
    policy = served.headers["content-security-policy"]  # none of it is reported
    assert "frame-ancestors 'none'" in policy and "connect-src 'self'" in policy
    token = js("token", "mint", "--scope", scope, "--label", "browser", *data(node))["token"]
    page.fill("#token", token)
    page.click("#token-save")
    expect(page.locator("#token-state")).to_contain_text("token is in use")
    return page


def test_pay_from_the_dashboard_as_a_person_would(devnet: dict[str, Any]) -> None:
    """Playwright drives Debian's chromium: the operator pastes a pay token once, pays
    @steward1 from the form, sees the payment in its history, exports it as CSV, and the
    payee's dashboard shows it arrive; a bad amount is refused in the page, nothing sent.
    A screenshot of each dashboard is kept in test-artifacts/."""
    if CHROMIUM is None:
        pytest.fail("chromium is missing: `make test` installs Debian's chromium package")
    n0, n1, _ = devnet["nodes"]
    payee = f"@{n1['name']}"
    paid_before = group_of(n1)["balances"][n1["member"]]["USD"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = _dashboard_with_token(browser, n0, "pay")
            expect(page.locator("#pay-asset option")).to_have_count(2)
            page.fill("#pay-to", payee)
            page.fill("#pay-amount", "abc")
            page.select_option("#pay-asset", "USD")
            page.click("#pay-send")
            expect(page.locator("#result")).to_contain_text("whole number")
            page.fill("#pay-amount", "7")
            page.click("#pay-send")
            expect(page.locator("#result")).to_contain_text("certified", timeout=60_000)
            row = page.locator("#history tr", has_text=payee)
            expect(row.first).to_contain_text("-7 USD")
            with page.expect_download() as download:
                page.click("#history-csv")
            csv = Path(download.value.path()).read_text()
            header = "time,kind,seq,from,from_handle,to,to_handle,asset,amount"
            assert csv.splitlines()[0] == header, csv
            assert f'"{n1["member"]}","{n1["name"]}","USD","7"' in csv, csv
            for chart in ("orders", "checkpoint", "balances", "pit"):  # drawn by uPlot
                expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)
            drawn = "charts['chart-balances'].plot.data[0].length"
            page.wait_for_function(f"{drawn} >= 2", timeout=30_000)  # samples of time
            page.screenshot(path=str(ARTIFACTS / "dashboard-payer.png"), full_page=True)
            wait_for(
                "the payment in the payee's balance",
                lambda: group_of(n1)["balances"][n1["member"]]["USD"] == paid_before + 7,
            )
            theirs = _dashboard_with_token(browser, n1, "read")
            arrived = theirs.locator("#history tr", has_text=f"@{n0['name']}")
            expect(arrived.first).to_contain_text("+7 USD", timeout=30_000)
            theirs.screenshot(path=str(ARTIFACTS / "dashboard-payee.png"), full_page=True)
        finally:
            browser.close()


def test_ledger_commands_read_and_drive_the_devnet_ledger(devnet: dict[str, Any]) -> None:
    url = ["--url", devnet["ledger"]["url"]]
    n0 = devnet["nodes"][0]
    info = js("ledger", "info", *url)
    assert info["height"] > 0 and set(info["assets"]) >= {"BTC", "USD"}
    mined = js("ledger", "mine", "3", *url)
    assert mined["height"] >= info["height"] + 3
    account = js("ledger", "account", n0["member"], *url)
    before = account["balances"].get("USD", 0)
    tx = js("ledger", "faucet", n0["member"], "USD", "5", *url)["tx_id"]
    js("ledger", "mine", *url)
    assert js("ledger", "tx", tx, *url)["status"] == "included"
    assert js("ledger", "account", n0["member"], *url)["balances"]["USD"] == before + 5
    group_id = js("group", "show", *data(n0))["group_id"]
    wallet = js("ledger", "wallet", group_id, *url)
    assert wallet["key"] == js("group", "show", *data(n0))["wallet_key"]
    events = js("ledger", "events", "--from", "1", *url)["events"]
    assert any(e["kind"] == "deposit" for e in events)
    height = next(e["height"] for e in events if e["kind"] == "deposit")
    block = js("ledger", "block", str(height), *url)
    assert block["height"] == height and block["txs"]
    assert "block" in swapnet("ledger", "block", str(height), *url).stdout  # a table
    for args in (("account", "zz"), ("wallet", "00" * 32), ("block", "999999")):
        refused = swapnet("ledger", *args, *url, check=False)
        assert refused.returncode == 1 and refused.stderr.startswith("error:"), args


def test_devnet_status_logs_stop_and_start(devnet: dict[str, Any]) -> None:
    where = ["--dir", devnet["dir"]]
    rows = js("devnet", "status", *where)["nodes"]
    assert all(r["running"] and r["ready"] for r in rows)
    assert "node ready" in swapnet("devnet", "logs", "steward2", *where).stdout
    assert "ledger ready" in swapnet("devnet", "logs", "ledger", *where).stdout
    n0, n1, n2 = devnet["nodes"]
    try:
        with receiver(fail=1) as hook:  # the operator's webhook: down at first, then up
            js("alerts", "set", hook.url, *data(n0))  # type: ignore[attr-defined]
            swapnet("devnet", "stop", "steward2", *where)
            rows = js("devnet", "status", *where)["nodes"]
            assert [r["running"] for r in rows] == [True, True, False]
            stalled_by_the_stopped_steward(devnet)
            wait_for(  # the first post is refused (500): every later one is taken
                "the steward-silent alert taken by the webhook",
                lambda: any(json.loads(b)["kind"] == "steward-silent" for _, b in hook.got[1:]),
                timeout=60,
            )
            alert_on_the_dashboard(n0, "steward-silent", f"@{n2['name']}", "steward-silent")
            listed = js("alerts", *data(n0))  # before the receiver goes (later posts fail)
            js("alerts", "clear", *data(n0))
        assert listed["webhook"]["last_error"] == "HTTP 500"
        assert any(a["kind"] == "steward-silent" for a in listed["recent"])
        secret = (Path(n0["data"]) / "webhook.secret").read_bytes().strip()
        posted = [
            json.loads(body)
            for headers, body in hook.got
            if headers["X-Swapnet-Signature"] == signature(secret, body)
        ]
        assert len(posted) == len(hook.got) >= 2  # every post signed
        assert ("steward-silent", n2["member"]) in {(a["kind"], a["subject"]) for a in posted}
        assert {a["kind"] for a in posted} <= {"steward-silent", "checkpoint-late"}
    finally:  # later tests share this devnet: steward2 comes back even if this failed
        rows = js("devnet", "status", *where)["nodes"]
        if not rows[2]["running"]:
            restarted = js("devnet", "start", "steward2", *where)
    assert restarted["member"] == n2["member"]
    wait_for(  # it votes for the next order, so it signs again: the margin is back
        "the restarted steward signing",
        lambda: (
            bool(js("pay", n1["member"], "USD:1", *data(n0))["certified"])
            and group_of(n0)["stewards"]["margin"] == 1
        ),
        timeout=120,
    )
    missing = swapnet("devnet", "logs", "nobody", *where, check=False)
    assert missing.returncode == 1 and "no node 'nobody'" in missing.stderr


def alert_on_the_dashboard(node: dict[str, Any], kind: str, about: str, shot: str) -> None:
    """The operator opens ``node``'s dashboard: the alert ``kind`` about ``about`` is
    listed, with where alerts go (a screenshot in test-artifacts/)."""
    if CHROMIUM is None:
        pytest.fail("chromium is missing: `make test` installs Debian's chromium package")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = _dashboard_with_token(browser, node, "read")
            row = page.locator("#alerts tr", has_text=kind)
            expect(row.first).to_contain_text(about, timeout=30_000)
            expect(page.locator("#alerts-where")).not_to_have_text("-")
            page.screenshot(path=str(ARTIFACTS / f"dashboard-alert-{shot}.png"), full_page=True)
        finally:
            browser.close()


def stalled_by_the_stopped_steward(devnet: dict[str, Any]) -> None:
    """With steward2 stopped, the others name it: its checkpoint numbers pass with no
    proposal, so it is "not signing"; 2 of 3 stewards answer, a quorum of 2, so the group
    is one failure from stalling, in the status, the CLI and the metrics the shipped alert
    rule reads."""
    n0, _, n2 = devnet["nodes"]
    wait_for(
        "the stopped steward named by a stalled round",
        lambda: any(
            n2["member"] in stall["waited_for"] for stall in group_of(n0)["stewards"]["stalls"]
        ),
        timeout=120,
    )
    health = group_of(n0)["stewards"]
    (row,) = [r for r in health["stewards"] if r["steward"] == n2["member"]]
    assert row["not_signing"] and not row["responsive"]
    assert (health["quorum"], health["margin"]) == (2, 0)
    status = swapnet("status", *data(n0)).stdout
    assert "one failure from stalling" in status and "NOT SIGNING" in status
    families = {
        f.name: f
        for f in text_string_to_metric_families(local_http.get(f"{n0['api']}/metrics").text)
    }
    assert families["swapnet_stall_margin"].samples[0].value == 0
    assert families["swapnet_stewards_not_signing"].samples[0].value == 1
    rules = yaml.safe_load((ROOT / "node" / "monitoring" / "alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert "swapnet_stall_margin == 0" in exprs  # the rule that fires now
    for expr in exprs:  # every rule reads a metric the node exports
        assert any(name in expr for name in families), expr


def test_group_exit_settles_a_steward_on_the_ledger(devnet: dict[str, Any]) -> None:
    """Last: it takes steward2 out of the group for good: out of the committee first (a
    steward's exit is refused until a change of stewards removed it)."""
    n0, _, n2 = devnet["nodes"]
    url = ["--url", devnet["ledger"]["url"]]
    owed = group_of(n0)["balances"][n2["member"]]
    on_ledger = js("ledger", "account", n2["member"], *url)["balances"]
    refused = swapnet("group", "exit", *data(n2), check=False)  # a steward: removed first
    assert refused.returncode == 1 and "steward remove" in refused.stderr, refused.stderr
    for n in (n0, n2):  # a quorum of the three (n2 asks to leave the committee too)
        js("steward", "remove", n2["member"], *data(n))
    wait_for("epoch 1", lambda: group_of(n0)["epoch"]["number"] == 1, timeout=120)
    asked = js("group", "exit", *data(n2))
    assert asked
    wait_for(
        "the exit booked in a checkpoint",
        lambda: group_of(n0)["balances"].get(n2["member"], {}) == {},
        timeout=120,
    )
    wait_for(
        "the settle paid on the ledger",
        lambda: (
            js("ledger", "account", n2["member"], *url)["balances"]["USD"]
            >= on_ledger["USD"] + owed["USD"] - 1_000
        ),  # less the ledger fees
        timeout=120,
    )


def test_every_scenario_plays_on_a_four_node_devnet(tmp_path: Path) -> None:
    """The seed's stories on a real EVM chain (anvil, the group wallet contract, ERC-20
    assets, a FROST(secp256k1) wallet key): the same scenario code as on the embedded
    ledger, whose reads of both ledgers (``devnet.chains``) the ledger port's behaviour
    suite checks, and whose stories the group lifecycle and notary tests play on the
    embedded ledger (one run of the five here, for CI's time)."""
    base = tmp_path / "devnet"
    with devnet_up(base, 4, ledger="evm") as up:
        assert up["ledger"]["kind"] == "evm"
        for name in ("trade", "crash", "pit", "cheat", "exit"):
            played = swapnet("devnet", "scenario", name, "--dir", str(base), check=False)
            assert played.returncode == 0, f"{name}:\n{played.stdout}\n{played.stderr}"
            assert f"scenario {name}: every expectation held" in played.stdout
            if name == "pit":  # the borrower's operator sees its margin call come
                called = re.search(r"(\w+) is under a margin call", played.stdout)
                assert called is not None, played.stdout
                nodes = json.loads((base / "devnet.json").read_text())["nodes"]
                (borrower,) = [n for n in nodes if n["name"] == called.group(1)]
                alert_on_the_dashboard(borrower, "margin-call", "since checkpoint", "margin-call")
        unknown = swapnet("devnet", "scenario", "nonsense", "--dir", str(base), check=False)
        assert unknown.returncode == 1 and "choose one of" in unknown.stderr
