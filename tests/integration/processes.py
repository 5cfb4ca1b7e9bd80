"""Real processes for integration tests, after Bitcoin Core's functional tests and
pyln-testing: start the process, wait for its ready line (failing fast, with its stderr,
if it dies first), stop it with SIGTERM and check it exited cleanly; kill it whatever
happens. Ports come from the OS (--port 0), everything listens on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devnet.cluster import LedgerProc
from devnet.manage import alive

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_FACTOR = float(os.environ.get("SWAPNET_TEST_TIMEOUT_FACTOR", "1"))
_OWN_FRAME = re.compile(r'File "' + re.escape(str(ROOT)) + r"/(node|proto|storage|devnet)/")


def own_tracebacks(log: str) -> list[str]:
    """The tracebacks in ``log`` that pass through swapnet's own code. py-libp2p logs
    tracebacks of its own (a notifee cancelled while a connection closes, say) that are
    not ours to fail on; a process that died of an exception exits non-zero anyway."""
    chunks = log.split("Traceback (most recent call last):")[1:]
    return [c[:2000] for c in chunks if _OWN_FRAME.search(c.split("\n\n", 1)[0])]


def node_tracebacks(stderr: Path) -> list[str]:
    """``own_tracebacks`` of a node's stderr (none if the node never started)."""
    return own_tracebacks(stderr.read_text()) if stderr.exists() else []


@dataclass
class Ledger:
    proc: subprocess.Popen[str]
    url: str
    data: Path
    stderr: Path

    def kill_9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10 * TIMEOUT_FACTOR)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15 * TIMEOUT_FACTOR)


@contextmanager
def ledger_process(data: Path, block_interval: float = 0.0) -> Iterator[Ledger]:
    """A running ``swapnet ledger run``; on exit it must stop cleanly on SIGTERM."""
    stderr = data.with_suffix(".stderr")
    started = LedgerProc.start(data, block_interval, 30 * TIMEOUT_FACTOR, stderr=stderr)
    proc = started.proc
    try:
        ledger = Ledger(proc, started.url, data, stderr)
        yield ledger
        if proc.poll() is None:
            code = ledger.stop()
            assert code == 0, f"ledger exited {code} on SIGTERM:\n{stderr.read_text()}"
            assert "Traceback" not in stderr.read_text(), stderr.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll ``predicate`` until it holds (a condition, never a fixed sleep)."""
    deadline = time.monotonic() + timeout * TIMEOUT_FACTOR
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


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
def devnet_up(
    base: Path, nodes: int, seed: str = "ops", ledger: str = "devnet"
) -> Iterator[dict[str, Any]]:
    """`swapnet devnet up -n N --detach [--ledger evm]` (its parsed output), and `devnet
    down` whatever happens."""
    try:
        args = ["-n", str(nodes), "--detach", "--dir", str(base), "--seed", seed]
        up = js("devnet", "up", *args, "--ledger", ledger)
        assert [n["name"] for n in up["nodes"]] == [f"steward{i}" for i in range(nodes)]
        assert "public" in up["warning"]
        yield up
    finally:
        state = base / "devnet.json"
        if state.exists():
            record = json.loads(state.read_text())
            pids = [n["pid"] for n in record["nodes"]] + [record["ledger"]["pid"]]
            swapnet("devnet", "down", "--dir", str(base), check=False)
            assert not any(alive(p) for p in pids)
