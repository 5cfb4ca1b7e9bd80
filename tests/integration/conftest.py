"""Fixtures of the real-process tests, and the node logs a failed one shows.

A real-process test that fails under CI's load leaves no process to look at: the report
of a failed test carries the last lines of every node's log (``node.log``) of the devnet
or cluster it used, so a flake can be read from CI's output alone.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from devnet.cluster import Cluster
from tests.integration.processes import TIMEOUT_FACTOR, ledger_process, node_tracebacks


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A ledger, 4 stewards and 2 members (not started); every node must stop cleanly
    (exit 0, no traceback), and every process is killed whatever happens."""
    with ledger_process(tmp_path / "ledger", block_interval=0.3) as ledger:
        c = Cluster.create(tmp_path / "nodes", ledger.url, timeout=60 * TIMEOUT_FACTOR)
        try:
            yield c
            codes = c.stop_all()
            assert set(codes.values()) <= {0}, codes
            for n in c.nodes:
                assert not node_tracebacks(n.stderr), n.tail()
        finally:
            c.kill_all()


LOG_LINES = 60


def _node_logs(value: Any) -> list[Path]:
    """The node logs of a fixture value: a devnet record (its ``dir``) or a ``Cluster``."""
    if isinstance(value, Cluster):
        return [n.data / "node.log" for n in value.nodes]
    if isinstance(value, dict) and isinstance(value.get("dir"), str):
        return sorted(Path(value["dir"]).glob("nodes/*/node.log"))
    return []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.when != "call":
        return
    for value in getattr(item, "funcargs", {}).values():
        for log in _node_logs(value):
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-LOG_LINES:]
                report.sections.append((f"node log {log.parent.name}", "\n".join(tail)))
