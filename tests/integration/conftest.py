"""Fixtures of the real-process tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
