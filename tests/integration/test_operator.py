"""The operator's surface against a real devnet, through the real CLI: `swapnet devnet up`
starts the ledger and three nodes as processes; every node command runs with --json and
its output is parsed; control calls without a token, with a wrong one, or with too small
a scope get 401/403; /metrics parses with prometheus_client's own parser; the dashboard
loads in headless Chromium with no console message and shows the members (the screenshot
is kept in test-artifacts/); devnet status, logs, stop, start and down do what they say.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devnet.manage import alive
from proto.codec import decode
from proto.formation import GroupSpec
from proto.genesis import AdmissionPolicy
from tests.integration.processes import ROOT, TIMEOUT_FACTOR

pytestmark = pytest.mark.xdist_group("processes")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium")


def swapnet(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "node", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180 * TIMEOUT_FACTOR,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"swapnet {' '.join(args)}:\n{done.stderr}"
    return done


def js(*args: str) -> Any:
    return json.loads(swapnet(*args, "--json").stdout)


@contextmanager
def devnet_up(base: Path, nodes: int) -> Iterator[Path]:
    """`swapnet devnet up -n N --detach`, and `devnet down` whatever happens."""
    try:
        up = js("devnet", "up", "-n", str(nodes), "--detach", "--dir", str(base), "--seed", "ops")
        assert [n["name"] for n in up["nodes"]] == [f"steward{i}" for i in range(nodes)]
        assert "public" in up["warning"]
        yield base
    finally:
        state = base / "devnet.json"
        if state.exists():
            record = json.loads(state.read_text())
            pids = [n["pid"] for n in record["nodes"]] + [record["ledger"]["pid"]]
            swapnet("devnet", "down", "--dir", str(base), check=False)
            assert not any(alive(p) for p in pids)


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[Path]:
    with devnet_up(tmp_path / "devnet", 3) as base:
        yield base


def test_every_scenario_plays_on_a_four_node_devnet(tmp_path: Path) -> None:
    with devnet_up(tmp_path / "devnet", 4) as base:
        for name in ("trade", "crash", "cheat", "exit"):
            played = swapnet("devnet", "scenario", name, "--dir", str(base), check=False)
            assert played.returncode == 0, f"{name}:\n{played.stdout}\n{played.stderr}"
            assert f"scenario {name}: every expectation held" in played.stdout
        unknown = swapnet("devnet", "scenario", "nonsense", "--dir", str(base), check=False)
        assert unknown.returncode == 1 and "choose one of" in unknown.stderr


def test_the_cli_tokens_metrics_and_dashboard_on_a_real_devnet(  # noqa: PLR0915
    devnet: Path, tmp_path: Path
) -> None:
    state = json.loads((devnet / "devnet.json").read_text())
    n0, n1, n2 = state["nodes"]
    d0 = ["--data", n0["data"]]

    # the banner for people, JSON logs for machines
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

    # every node command, --json parsed
    info = js("getinfo", *d0)
    assert info["member"] == n0["member"] and info["api"] == n0["api"] and info["ready"]
    status = js("status", *d0)
    assert status["group"]["members"] == 3 and status["ready"]
    before = js("balance", *d0)["balances"]
    paid = js("pay", n1["member"], "USD:250", *d0, "--request-id", "ops-1")
    assert paid["certified"]
    assert js("pay", n1["member"], "USD:250", *d0, "--request-id", "ops-1")["certified"]  # once
    assert js("balance", *d0)["balances"]["USD"] == before["USD"] - 250
    (last,) = js("history", *d0, "--limit", "1")
    assert last["kind"] == "transfer" and last["legs"][0]["amount"] == 250
    group = js("group", "show", *d0)
    assert len(group["stewards"]) == 3 and sorted(group["members"]) == sorted(
        n["member"] for n in state["nodes"]
    )
    refused = swapnet("pay", n1["member"], "USD:0", *d0, check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("error:")
    human = swapnet("balance", *d0).stdout
    assert "USD" in human and "{" not in human  # a table, not JSON

    # group create: the spec a set of stewards would form, with an admission policy
    terms = tmp_path / "terms.txt"
    terms.write_text("be excellent\n")
    spec_file = tmp_path / "new.spec"
    created = js(
        "group", "create", "--out", str(spec_file), "--name", "desk",
        *(a for m in (n0, n1) for a in ("--steward", m["member"])),
        "--ledger-url", state["ledger"]["url"], "--asset", "USD", "--terms", str(terms),
        "--max-premature-revokes", "1", "--trusted-wallet", group["wallet_key"],
        "--min-prequals", "1", "--max-prequal-age", "500",
    )  # fmt: skip
    spec = decode(spec_file.read_bytes(), GroupSpec)
    assert created["threshold"] == spec.threshold == 2
    assert spec.admission == AdmissionPolicy(1, 0, (bytes.fromhex(group["wallet_key"]),), 1, 500)
    broken = swapnet(
        "group", "create", "--out", str(spec_file), "--name", "x", "--steward", "zz",
        "--ledger-url", state["ledger"]["url"], "--asset", "USD", "--terms", str(terms),
        check=False,
    )  # fmt: skip
    assert broken.returncode == 1 and broken.stderr.startswith("error:")

    # tokens: none is 401, a wrong one 403, too small a scope 403
    api = n0["api"]
    assert httpx.get(f"{api}/v1/balance").status_code == 401
    bad = {"authorization": "Bearer nope"}
    assert httpx.get(f"{api}/v1/balance", headers=bad).status_code == 403
    read = js("token", "mint", "--scope", "read", "--label", "dash", *d0)["token"]
    pay = js("token", "mint", "--scope", "pay", "--label", "bot", *d0)["token"]
    remote = ["--api", api, "--token"]
    assert js("balance", *remote, read)["balances"]
    no = swapnet("pay", n2["member"], "USD:1", *remote, read, check=False)
    assert no.returncode == 1 and "needs a pay token" in no.stderr
    assert js("pay", n2["member"], "USD:1", *remote, pay)["certified"]
    as_pay = {"authorization": f"Bearer {pay}"}
    assert httpx.post(f"{api}/v1/exit", json={}, headers=as_pay).status_code == 403
    assert httpx.get(f"{api}/v1/tokens", headers=as_pay).status_code == 403
    listed = js("token", "list", *d0)
    assert {t["label"] for t in listed} == {"dash", "bot"}
    dash_id = next(t["id"] for t in listed if t["label"] == "dash")
    js("token", "revoke", dash_id, *d0)
    assert (
        httpx.get(f"{api}/v1/balance", headers={"authorization": f"Bearer {read}"}).status_code
        == 403
    )

    # metrics, read by Prometheus's own parser
    text = httpx.get(f"{api}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert all(name.startswith("swapnet_") for name in families)
    assert families["swapnet_orders_certified"].type == "counter"
    assert any(
        s.name == "swapnet_orders_certified_total" and s.value >= 2
        for s in families["swapnet_orders_certified"].samples
    )
    assert families["swapnet_certify_seconds"].type == "histogram"
    assert families["swapnet_members"].samples[0].value == 3
    labels = {tuple(s.labels) for f in families.values() for s in f.samples}
    assert all(set(k) <= {"asset", "le"} for k in labels)  # no per-peer labels

    # the dashboard in headless Chromium: no console message, the members shown
    if CHROMIUM is None:
        pytest.fail("chromium is missing: `make test` installs Debian's chromium package")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    flags = [
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
    for n in state["nodes"]:
        assert n["member"][:16] in dom.stdout, "a member is missing from the dashboard"
    assert "swapnet: devnet" in dom.stdout
    picture = subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", f"{api}/"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert picture.returncode == 0 and shot.stat().st_size > 10_000

    # devnet status, logs, stop, start
    rows = js("devnet", "status", "--dir", str(devnet))["nodes"]
    assert all(r["running"] and r["ready"] for r in rows)
    assert "node ready" in swapnet("devnet", "logs", "steward2", "--dir", str(devnet)).stdout
    assert "ledger ready" in swapnet("devnet", "logs", "ledger", "--dir", str(devnet)).stdout
    swapnet("devnet", "stop", "steward2", "--dir", str(devnet))
    rows = js("devnet", "status", "--dir", str(devnet))["nodes"]
    assert [r["running"] for r in rows] == [True, True, False]
    restarted = js("devnet", "start", "steward2", "--dir", str(devnet))
    assert restarted["member"] == n2["member"]
    missing = swapnet("devnet", "logs", "nobody", "--dir", str(devnet), check=False)
    assert missing.returncode == 1 and "no node 'nobody'" in missing.stderr
