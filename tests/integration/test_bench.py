"""A smoke run of every devnet benchmark at tiny sizes: each starts a real devnet, prints
one JSON result of the documented shape, and appends its row to the benchmark ledger with
the command. Shapes only: how fast this machine is is never asserted.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.processes import ROOT, TIMEOUT_FACTOR

pytestmark = pytest.mark.xdist_group("processes")


def bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "node", "bench", *args, "--output", str(out), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300 * TIMEOUT_FACTOR,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["benchmark"] == args[0] and "cores" in result["machine"]
    assert result["command"] == f"swapnet bench {args[0]}" or result["command"].startswith(
        f"swapnet bench {args[0]} "
    )
    text = out.read_text()
    assert f"## {args[0]}" in text and f"`{result['command']}`" in text
    return result


def number(value: Any) -> float:
    x = float(str(value).rstrip("%"))
    assert not math.isnan(x), value
    return x


def test_throughput_reports_rate_latency_cpu_rss_and_the_verification_bound(
    tmp_path: Path,
) -> None:
    result = bench(
        tmp_path, "throughput", "-n", "2", "--seconds", "1", "--callers", "1", "--chunk", "5"
    )
    (row,) = result["rows"]
    assert row["nodes"] == 2 and row["certified orders"] > 0 and row["refused"] == 0
    for key in (
        "certified orders/s",
        "p50 to certificate (ms)",
        "p99 to certificate (ms)",
        "p50 to checkpoint (ms)",
        "p99 to checkpoint (ms)",
        "CPU ms per order",
        "peak RSS per node (MB)",
        "verify/s (1 core)",
        "verifications per order",
        "verification bound (orders/s)",
        "of bound",
    ):
        assert number(row[key]) > 0, key
    # every order is verified by every node at least once
    assert number(row["verifications per order"]) >= 2


def test_gas_has_a_row_per_group_wallet_call(tmp_path: Path) -> None:
    result = bench(tmp_path, "gas")
    calls = {row["call"]: row for row in result["rows"]}
    assert {"open", "signature check", "revoke", "crawl back", "finalize", "settle"} <= set(calls)
    assert all(number(row["gas"].replace(",", "")) > 0 for row in calls.values())
    assert {row["hardfork"] for row in calls.values()} == {"prague"}


def test_stewards_has_a_row_per_committee_size(tmp_path: Path) -> None:
    result = bench(tmp_path, "stewards", "--reps", "1", "--sizes", "4,7")
    assert [r["stewards"] for r in result["rows"]] == ["4 (t = 3)", "7 (t = 5)"]
    for row in result["rows"]:
        for column in ("reshare, add one (ms)", "refresh (ms)", "repair one share (ms)"):
            assert number(row[column]) > 0
        assert number(row["check a hand-over (ms)"]) > 0


def test_latency_at_an_offered_rate(tmp_path: Path) -> None:
    result = bench(tmp_path, "latency", "--rate", "20", "--seconds", "1", "-n", "2", "--chunk", "2")
    (row,) = result["rows"]
    assert row["offered orders/s"] == 20 and row["certified orders"] == 20
    p50, p99, top = (number(row[f"{q} to certificate (ms)"]) for q in ("p50", "p99", "max"))
    assert 0 < p50 <= p99 <= top


def test_recovery_restarts_a_filled_node(tmp_path: Path) -> None:
    result = bench(tmp_path, "recovery", "--orders", "50", "-n", "2")
    (row,) = result["rows"]
    assert row["certified orders stored"] >= 50
    assert number(row["start to ready (s)"]) > 0 and number(row["RSS when ready (MB)"]) > 0


def test_scale_has_a_row_per_size(tmp_path: Path) -> None:
    result = bench(tmp_path, "scale", "--sizes", "2,3", "--seconds", "1", "--stewards", "2")
    assert [r["nodes"] for r in result["rows"]] == [2, 3]
    assert [r["stewards"] for r in result["rows"]] == [2, 2]  # the third node is a member
    for row in result["rows"]:
        assert row["stopped"] == ""
        assert number(row["certified orders/s"]) > 0 and number(row["checkpoint (ms, mean)"]) > 0


def test_bad_sizes_are_one_line_and_exit_1(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "node", "bench", "scale", "--sizes", "5,x"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and done.stderr.startswith("error: sizes")
