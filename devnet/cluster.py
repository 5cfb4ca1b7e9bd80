"""A local group as real OS processes: the devnet ledger, stewards that form the group by
DKG, and members that join it by deposit and signed terms. Used by the integration tests
and the devnet commands.

Everything listens on 127.0.0.1 with ports from the OS. Since ports are known only once a
process is up, node i bootstraps to every node started before it (connections go both
ways, so the group ends fully connected); a restarted node bootstraps to all the others.

Devnet keys are encrypted with a fixed, public passphrase and the cheapest argon2id
parameters: they protect nothing and must never hold real funds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl import pwhash
from nacl.signing import SigningKey

from devnet import local_http
from devnet.chains import Chain, DevnetChain
from node.files import COOKIE_NAME
from node.keystore import save_key
from proto.formation import GroupSpec
from proto.genesis import AdmissionPolicy, terms_hash
from proto.pit import PitPolicy, pit_policy

ROOT = Path(__file__).resolve().parents[1]
DEVNET_PASSPHRASE = "devnet-keys-are-public"
ASSETS = ("BTC", "USD")
TERMS = "Devnet group terms: for testing only; nothing here is worth anything.\n"


class ClusterError(Exception):
    pass


def seeded_key(seed: str, name: str) -> SigningKey:
    """A devnet key that is the same for the same seed and name (never for real money)."""
    return SigningKey(hashlib.sha256(f"swapnet/devnet/{seed}/{name}".encode()).digest())


@dataclass
class NodeProc:
    name: str
    data: Path
    key: SigningKey
    args: list[str]
    proc: subprocess.Popen[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def member(self) -> bytes:
        return bytes(self.key.verify_key)

    @property
    def api(self) -> str:
        return str(self.info["api"])

    @property
    def addr(self) -> str:
        return str(self.info["addrs"][0])

    @property
    def stderr(self) -> Path:
        return self.data / "node.stderr"

    def token(self) -> str:
        return (self.data / COOKIE_NAME).read_text().strip()

    @property
    def stdout(self) -> Path:
        return self.data / "node.stdout"

    def start(self, bootstrap: list[str], timeout: float, *, detach: bool = False) -> None:
        """Start the node and wait for its ready line. ``detach`` puts it in a session of
        its own, so it outlives the process that started it (``swapnet devnet up``)."""
        self.info = self.wait_ready(timeout, self.launch(bootstrap, detach=detach))

    def launch(self, bootstrap: list[str], *, detach: bool = False) -> int:
        """Start the node's process; where its ready line will be in its stdout."""
        args = list(self.args)
        for addr in bootstrap:
            args += ["--bootstrap", addr]
        env = dict(os.environ, SWAPNET_PASSPHRASE=DEVNET_PASSPHRASE)
        self.data.mkdir(parents=True, exist_ok=True)
        offset = self.stdout.stat().st_size if self.stdout.exists() else 0
        with self.stderr.open("a") as err, self.stdout.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "node", "run", *args],
                stdout=out,
                stderr=err,
                text=True,
                cwd=ROOT,
                env=env,
                start_new_session=detach,
            )
        return offset

    def wait_ready(self, timeout: float, offset: int) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            with self.stdout.open() as fh:
                fh.seek(offset)
                for line in fh:
                    if line.startswith("{") and '"ready": true' in line and line.endswith("\n"):
                        info: dict[str, Any] = json.loads(line)
                        return info
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise ClusterError(f"{self.name}: exited before ready\n{self.tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{self.name}: not ready in {timeout}s\n{self.tail()}")
            time.sleep(0.05)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.stderr.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill_9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then its exit code (``ClusterError`` if it did not stop in time)."""
        self.ask_to_stop()
        return self.stopped(timeout)

    def ask_to_stop(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # once: a second one would kill it

    def stopped(self, timeout: float = 20) -> int:
        """Wait for the exit ``ask_to_stop`` asked for."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ClusterError(f"{self.name}: did not stop on SIGTERM in {timeout}s") from None

    # -- the control API ------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        response = local_http.request(
            method,
            f"{self.api}{path}",
            json=body,
            headers={"authorization": f"Bearer {self.token()}"},
            timeout=timeout,
        )
        if response.status_code >= 400:
            raise ClusterError(f"{self.name} {path}: {response.status_code} {response.text}")
        return response.json()

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = local_http.get(f"{self.api}/status", timeout=10).json()
        return result


@dataclass
class Cluster:
    base: Path
    ledger_url: str
    stewards: list[NodeProc]
    members: list[NodeProc]
    spec: GroupSpec
    timeout: float = 60.0
    detach: bool = False
    """Start nodes in sessions of their own, to outlive this process (``devnet up``)."""
    chain: Chain | None = None
    """The ledger, when not the devnet ledger at ``ledger_url`` (``devnet.chains``)."""

    @property
    def nodes(self) -> list[NodeProc]:
        return self.stewards + self.members

    @classmethod
    def create(
        cls,
        base: Path,
        ledger_url: str,
        *,
        chain: Chain | None = None,
        stewards: int = 4,
        members: int = 2,
        checkpoint_interval: int = 2,
        challenge_window: int = 20,
        timeout: float = 60.0,
        name: str = "devnet",
        policy: AdmissionPolicy | None = None,
        seed: str | None = None,
        detach: bool = False,
        pit: PitPolicy | None = None,
    ) -> Cluster:
        base.mkdir(parents=True, exist_ok=True)
        on = chain if chain is not None else DevnetChain(ledger_url, 0, "")
        names = [f"steward{i}" for i in range(stewards)] + [f"member{i}" for i in range(members)]
        keys = {
            who: SigningKey.generate() if seed is None else seeded_key(seed, who) for who in names
        }
        for who, key in keys.items():
            save_key(
                base / who / "trader.key",
                key,
                DEVNET_PASSPHRASE.encode(),
                opslimit=pwhash.argon2id.OPSLIMIT_MIN,
                memlimit=pwhash.argon2id.MEMLIMIT_MIN,
            )
        handles = {bytes(keys[n].verify_key): n for n in names[:stewards]}
        spec = GroupSpec(
            name,
            tuple(sorted(handles)),
            ASSETS,
            on.ledger_id(),
            challenge_window,
            100,
            checkpoint_interval,
            terms_hash(TERMS),
            AdmissionPolicy(0, 0, (), 0, 0) if policy is None else policy,
            pit_policy("USD") if pit is None else pit,
            steward_handles=tuple(handles[s] for s in sorted(handles)),
        )
        stewards_keys = [keys[n] for n in names[:stewards]]
        spec = dataclasses.replace(spec, **on.spec_fields(stewards_keys, ASSETS))
        (base / "group.spec").write_bytes(spec.encode())
        (base / "terms.txt").write_text(TERMS)

        def node(name: str, extra: list[str]) -> NodeProc:
            data = base / name
            args = ["--data-dir", str(data), *on.node_args(), *extra]
            args += ["--terms-file", str(base / "terms.txt")]
            return NodeProc(name, data, keys[name], args)

        spec_args = ["--group-spec", str(base / "group.spec")]
        genesis_args = ["--genesis-file", str(base / "group.genesis")]
        return cls(
            base,
            ledger_url,
            [node(n, spec_args) for n in names[:stewards]],
            [node(n, genesis_args) for n in names[stewards:]],
            spec,
            timeout,
            detach,
            on,
        )

    # -- ledger helpers -------------------------------------------------------------------
    def faucet(self, member: bytes, asset: str, amount: int) -> None:
        """The devnet ledger's faucet (``DevnetChain.faucet``)."""
        try:
            DevnetChain(self.ledger_url, 0, "", "-").faucet(member, asset, amount)
        except RuntimeError as exc:
            raise ClusterError(str(exc)) from exc

    def ledger_balance(self, member: bytes, asset: str) -> int:
        body = local_http.get(f"{self.ledger_url}/account/{member.hex()}", timeout=10).json()
        return int(body["balances"].get(asset, 0))

    # -- bringing it up -------------------------------------------------------------------
    def start_stewards(self) -> None:
        """Start the stewards in parallel-friendly order (each bootstraps to the earlier
        ones) and wait until the DKG is done and every steward is ready."""
        started: list[str] = []
        offsets = []
        # The first steward must be up (listening) before the others can dial it, but its
        # ready line comes only after the DKG, which needs the others: start each process,
        # wait for its libp2p address from the log, then start the next; the ready lines
        # are waited for once all are started (a loaded machine starts a node slowly).
        for n in self.stewards:
            n.info = {}
            offsets.append(n.launch(list(started), detach=self.detach))
            started.append(self._listening_addr(n))
        for n, offset in zip(self.stewards, offsets, strict=True):
            n.info = n.wait_ready(self.timeout, offset)

    def _listening_addr(self, n: NodeProc) -> str:
        """The /p2p multiaddr a starting node logs as soon as its host listens."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                for line in n.stderr.read_text().splitlines():
                    if "libp2p listening" in line and "addr=" in line:
                        return line.split("addr=", 1)[1].strip()
            except OSError:
                pass
            time.sleep(0.05)
        raise ClusterError(f"{n.name}: never started listening\n{n.tail()}")

    def write_genesis(self) -> None:
        group = self.stewards[0].call("GET", "/v1/group")
        (self.base / "group.genesis").write_bytes(bytes.fromhex(group["genesis"]))

    def guest(self, name: str, key: SigningKey) -> NodeProc:
        """A member node for ``key`` (a trader of another group, say), not started yet."""
        data = self.base / name
        save_key(
            data / "trader.key",
            key,
            DEVNET_PASSPHRASE.encode(),
            opslimit=pwhash.argon2id.OPSLIMIT_MIN,
            memlimit=pwhash.argon2id.MEMLIMIT_MIN,
        )
        chain = self.chain if self.chain is not None else DevnetChain(self.ledger_url, 0, "")
        args = ["--data-dir", str(data), *chain.node_args()]
        args += ["--genesis-file", str(self.base / "group.genesis")]
        args += ["--terms-file", str(self.base / "terms.txt")]
        node = NodeProc(name, data, key, args)
        self.members.append(node)
        return node

    def start_members(self) -> None:
        boot = [s.addr for s in self.stewards]
        for m in self.members:
            m.start(boot, self.timeout, detach=self.detach)

    def restart(self, n: NodeProc) -> None:
        boot = [o.addr for o in self.nodes if o is not n and o.running()]
        n.start(boot, self.timeout, detach=self.detach)

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.timeout)
        while not predicate():
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def stop_all(self) -> dict[str, int]:
        """Stop every running node at once (each shuts down on its own); their exit codes."""
        running = [n for n in self.nodes if n.proc is not None and n.running()]
        for n in running:
            n.ask_to_stop()
        return {n.name: n.stopped() for n in running}

    def kill_all(self) -> None:
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait()


@dataclass
class LedgerProc:
    """``swapnet ledger run`` as a child process on 127.0.0.1, port from the OS."""

    proc: subprocess.Popen[str]
    url: str

    @classmethod
    def start(
        cls,
        data: Path,
        block_interval: float = 0.5,
        timeout: float = 30,
        *,
        detach: bool = False,
        stderr: Path | None = None,
    ) -> LedgerProc:
        """Start it and wait for its ready line; its log goes to ``stderr`` (default:
        ``ledger.stderr`` beside the data dir), appended across restarts."""
        data.parent.mkdir(parents=True, exist_ok=True)
        stdout = data.parent / "ledger.stdout"
        offset = stdout.stat().st_size if stdout.exists() else 0
        log = stderr if stderr is not None else data.parent / "ledger.stderr"
        with log.open("a") as err, stdout.open("a") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "node",
                    "ledger",
                    "run",
                    "--data",
                    str(data),
                    "--port",
                    "0",
                    "--block-interval",
                    str(block_interval),
                ],
                stdout=out,
                stderr=err,
                text=True,
                cwd=ROOT,
                start_new_session=detach,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            with stdout.open() as fh:
                fh.seek(offset)
                for line in fh:
                    if "swapnet ledger ready" in line and line.endswith("\n"):
                        return cls(proc, line.split("url=", 1)[1].split()[0])
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        raise ClusterError(f"the ledger did not start:\n{log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
