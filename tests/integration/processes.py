"""Real processes for integration tests, after Bitcoin Core's functional tests and
pyln-testing: start the process, wait for its ready line (failing fast, with its stderr,
if it dies first), stop it with SIGTERM and check it exited cleanly; kill it whatever
happens. Ports come from the OS (--port 0), everything listens on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devnet.cluster import LedgerProc

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_FACTOR = float(os.environ.get("SWAPNET_TEST_TIMEOUT_FACTOR", "1"))
_OWN_FRAME = re.compile(r'File "' + re.escape(str(ROOT)) + r"/(node|proto|storage|devnet)/")


def own_tracebacks(log: str) -> list[str]:
    """The tracebacks in ``log`` that pass through swapnet's own code. py-libp2p logs
    tracebacks of its own (a notifee cancelled while a connection closes, say) that are
    not ours to fail on; a process that died of an exception exits non-zero anyway."""
    chunks = log.split("Traceback (most recent call last):")[1:]
    return [c[:2000] for c in chunks if _OWN_FRAME.search(c.split("\n\n", 1)[0])]


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
