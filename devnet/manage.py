"""``swapnet devnet``: a local group on this machine, after bitcoind regtest, anvil and
Polar. ``up`` starts the embedded ledger and N steward nodes as processes, forms the group
by DKG, funds every node from the faucet and joins it, and records where everything is in
``DIR/devnet.json``; ``status``, ``logs``, ``stop``, ``start`` and ``down`` work from that
file, so they work from another shell too.

Every key of a devnet is derived from its seed and its passphrase is public: a devnet is
for testing, never for anything of value.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devnet import local_http
from devnet.chains import Chain, DevnetChain, chain_of
from devnet.cluster import (
    ASSETS,
    DEVNET_PASSPHRASE,
    Cluster,
    ClusterError,
    LedgerProc,
    NodeProc,
    seeded_key,
)

STATE_FILE = "devnet.json"
LEDGERS = ("devnet", "evm")
DEPOSIT = {"USD": 1_000_000, "BTC": 100_000}
FUNDING = 10_000_000
WARNING = (
    f"devnet keys come from the seed and the passphrase is public ({DEVNET_PASSPHRASE!r}): "
    "never use them for anything of value"
)


class DevnetError(Exception):
    pass


def alive(pid: int) -> bool:
    """The process runs (a zombie, dead but not reaped yet, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: trust the signal
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@dataclass
class Devnet:
    base: Path
    state: dict[str, Any]

    @classmethod
    def load(cls, base: Path) -> Devnet:
        try:
            return cls(base, json.loads((base / STATE_FILE).read_text()))
        except (OSError, ValueError) as exc:
            raise DevnetError(f"no devnet in {base} (`swapnet devnet up` first)") from exc

    def save(self) -> None:
        tmp = self.base / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(self.state, indent=2))
        tmp.replace(self.base / STATE_FILE)

    def node(self, name: str) -> dict[str, Any]:
        for n in self.state["nodes"]:
            if n["name"] == name:
                return dict(n)
        names = ", ".join(n["name"] for n in self.state["nodes"])
        raise DevnetError(f"no node {name!r} in this devnet (nodes: {names})")

    def processes(self) -> list[tuple[str, int]]:
        return [("ledger", self.state["ledger"]["pid"])] + [
            (n["name"], n["pid"]) for n in self.state["nodes"]
        ]

    def rows(self) -> list[dict[str, Any]]:
        """One row per node: where it is and how it is."""
        out = []
        for n in self.state["nodes"]:
            row = {
                "name": n["name"],
                "handle": f"@{n['name']}",
                "member": n["member"],
                "id": n["member"][:8],
                "peer_id": n["peer_id"],
                "api": n["api"],
                "dashboard": f"{n['api']}/",
                "status_url": f"{n['api']}/status",
                "data_dir": n["data"],
                "cookie": n["cookie"],
                "running": alive(n["pid"]),
            }
            if row["running"]:
                try:
                    s = local_http.get(f"{n['api']}/status", timeout=5).json()
                    g = s.get("group") or {}
                    row["ready"] = s["ready"]
                    row["checkpoint"] = g.get("checkpoint", {}).get("number")
                except (httpx.HTTPError, ValueError, KeyError):
                    row["ready"] = False
            out.append(row)
        return out


def up(
    base: Path,
    n: int,
    seed: str,
    *,
    detach: bool,
    timeout: float = 120.0,
    ledger: str = "devnet",
) -> Devnet:
    """Start a fresh devnet in ``base`` (anything there from an earlier one is wiped), on
    the embedded devnet ledger or (``ledger="evm"``) on anvil with the group wallet
    contract (``devnet.chains``)."""
    if ledger not in LEDGERS:
        raise DevnetError(f"--ledger must be one of {', '.join(LEDGERS)}")
    if n < 2:
        raise DevnetError("a group needs at least 2 stewards (-n 2 or more)")
    if (base / STATE_FILE).exists():
        old = Devnet.load(base)
        if any(alive(pid) for _, pid in old.processes()):
            raise DevnetError(f"a devnet is already up in {base}: `swapnet devnet down` first")
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    chain = _start_chain(base / "ledger", ledger, detach)
    cluster: Cluster | None = None
    try:
        cluster = Cluster.create(
            base / "nodes",
            chain.url,
            chain=chain,
            stewards=n,
            members=0,
            seed=seed,
            detach=detach,
            timeout=timeout,
        )
        for node in cluster.nodes:
            chain.fund(node.key, dict.fromkeys(DEPOSIT, FUNDING))
        cluster.start_stewards()
        cluster.write_genesis()
        cluster.wait(
            "the wallet to open", lambda: all(_group(x)["wallet_open"] for x in cluster.nodes)
        )
        for node in cluster.nodes:
            node.call("POST", "/v1/join", {"deposits": DEPOSIT, "handle": node.name})
        members = [x.member.hex() for x in cluster.nodes]
        cluster.wait(  # every deposit credited, as every node sees it
            "every node admitted and credited",
            lambda: all(
                all(_group(x)["balances"].get(m) == DEPOSIT for m in members) for x in cluster.nodes
            ),
        )
    except BaseException:
        if cluster is not None:
            cluster.kill_all()
        with contextlib.suppress(ProcessLookupError):
            os.kill(chain.pid, signal.SIGKILL)
        raise
    devnet = Devnet(
        base,
        {
            "seed": seed,
            "ledger": chain.record(),
            "nodes": [_record(x, chain) for x in cluster.nodes],
            "genesis": str(base / "nodes" / "group.genesis"),
        },
    )
    devnet.save()
    return devnet


def _group(node: NodeProc) -> dict[str, Any]:
    g: dict[str, Any] = node.status()["group"]
    return g


def _start_chain(data: Path, ledger: str, detach: bool) -> Chain:
    if ledger == "evm":
        from devnet.evm_chain import EvmChain  # noqa: PLC0415 (web3 only for anvil)

        return EvmChain.start(data, ASSETS, detach=detach)
    proc = LedgerProc.start(data / "data", block_interval=0.5, detach=detach)
    return DevnetChain(proc.url, proc.proc.pid, str(data))


def _record(node: NodeProc, chain: Chain) -> dict[str, Any]:
    assert node.proc is not None
    return {
        "name": node.name,
        "pid": node.proc.pid,
        "member": node.member.hex(),
        "account": chain.account(node.key).hex(),
        "peer_id": node.info["peer_id"],
        "addr": node.addr,
        "api": node.api,
        "data": str(node.data),
        "cookie": str(node.data / "control.cookie"),
        "args": node.args,
    }


def stop_pid(pid: int, timeout: float = 20.0) -> None:
    stop_pids([pid], timeout)


def stop_pids(pids: list[int], timeout: float = 20.0) -> None:
    """SIGTERM to each at once, then wait; whichever has not exited by ``timeout`` is
    killed."""
    running = [pid for pid in pids if alive(pid)]
    for pid in running:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in running) and time.monotonic() < deadline:
        time.sleep(0.1)
        for pid in running:
            _reap(pid)
    for pid in running:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def down(base: Path) -> list[str]:
    devnet = Devnet.load(base)
    processes = list(reversed(devnet.processes()))  # nodes first, the ledger last
    stopped = [name for name, pid in processes if alive(pid)]
    stop_pids([pid for _, pid in processes[:-1]])  # every node at once
    stop_pids([pid for _, pid in processes[-1:]])
    (base / STATE_FILE).unlink()
    return stopped


def stop(base: Path, name: str) -> None:
    devnet = Devnet.load(base)
    pid = devnet.state["ledger"]["pid"] if name == "ledger" else devnet.node(name)["pid"]
    stop_pid(pid)


def start(base: Path, name: str, timeout: float = 120.0) -> dict[str, Any]:
    devnet = Devnet.load(base)
    record = devnet.node(name)
    if alive(record["pid"]):
        raise DevnetError(f"{name} is running already")
    node = NodeProc(
        name, Path(record["data"]), seeded_key(devnet.state["seed"], name), record["args"]
    )
    boot = [n["addr"] for n in devnet.state["nodes"] if n["name"] != name and alive(n["pid"])]
    try:
        node.start(boot, timeout, detach=True)
    except ClusterError as exc:
        raise DevnetError(str(exc)) from exc
    fresh = _record(node, chain_of(devnet.state["ledger"]))
    devnet.state["nodes"] = [fresh if n["name"] == name else n for n in devnet.state["nodes"]]
    devnet.save()
    return fresh


def logs(base: Path, name: str, lines: int) -> str:
    devnet = Devnet.load(base)
    if name == "ledger":
        ledger = devnet.state["ledger"]
        log = "anvil.log" if ledger.get("kind") == "evm" else "ledger.stderr"
        path = Path(ledger["data"]) / log
    else:
        path = Path(devnet.node(name)["data"]) / "node.stderr"
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except OSError as exc:
        raise DevnetError(f"no log at {path}: {exc}") from exc
