"""anvil (a real EVM node, from the npm registry; ``make evm-tools``) as a child process on
127.0.0.1 with a port from the OS, for the EVM tests and the EVM devnet.

anvil prints ``Listening on 127.0.0.1:PORT`` once it serves JSON-RPC; ``start`` waits for
that line (failing fast, with the log, if anvil exits first). ``running`` stops it with
SIGTERM, and kills it whatever happens.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from node.evm.contracts import ANVIL, EVM_VERSION

LISTENING = re.compile(r"^Listening on (127\.0\.0\.1:\d+)$", re.MULTILINE)
CHAIN_ID = 31337


class AnvilError(Exception):
    pass


@dataclass
class AnvilProc:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    @classmethod
    def start(
        cls,
        log: Path,
        timeout: float = 30.0,
        *,
        block_time: float | None = None,
        detach: bool = False,
    ) -> AnvilProc:
        """``block_time``: mine a block every so many seconds, transactions or not (as a
        chain does: challenge windows pass), instead of one per transaction."""
        if not ANVIL.exists():
            raise AnvilError("anvil is not installed: run `make evm-tools`")
        args = [str(ANVIL), "--host", "127.0.0.1", "--port", "0"]
        args += ["--hardfork", EVM_VERSION, "--chain-id", str(CHAIN_ID)]
        if block_time is not None:
            args += ["--block-time", str(block_time)]
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, start_new_session=detach
            )
        deadline = time.monotonic() + timeout
        while True:
            found = LISTENING.search(log.read_text(errors="replace"))
            if found:
                return cls(proc, f"http://{found.group(1)}", log)
            if proc.poll() is not None:
                raise AnvilError(f"anvil exited with {proc.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AnvilError(f"anvil did not listen within {timeout} s")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def deploy(w3: Web3, built: dict[str, Any], *args: Any) -> Any:
    """A contract (``abi`` and ``bytecode``, as ``node.evm.contracts`` builds them),
    deployed by the chain's first account; its web3 handle."""
    factory = w3.eth.contract(abi=built["abi"], bytecode=built["bytecode"])
    tx = factory.constructor(*args).transact({"from": w3.eth.accounts[0]})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    if receipt["status"] != 1:
        raise AnvilError("the contract's deployment reverted")
    return w3.eth.contract(address=receipt["contractAddress"], abi=built["abi"])


@contextmanager
def running(log: Path) -> Iterator[AnvilProc]:
    """A running anvil; stopped (or killed) on the way out, whatever happens."""
    node = AnvilProc.start(log)
    try:
        yield node
    finally:
        if node.proc.poll() is None:
            node.stop()
