"""The devnet benchmarks behind ``swapnet bench throughput|latency|recovery|scale``.

Each one starts a real devnet in a temporary directory (the ledger and N steward nodes as
processes on 127.0.0.1, the group formed by DKG, every node funded and joined), drives it
through the nodes' control APIs, reads what the nodes themselves report (``/metrics``,
``/status``) and what the kernel reports about their processes (``/proc``), and tears it
all down, whatever happens.

Load goes through ``POST /v1/pay/many``: a caller sends ``chunk`` payments per call, the
node signs and places each one as ``POST /v1/pay`` would (so they ride the trader's
batches), and answers each with its seconds from placement to certificate. That is the
latency reported "to certificate"; "to checkpoint" is an upper bound: the time from the
call to the second checkpoint node 0 adopts after the order's certificate (the first one
may have been proposed before the order was certified), sampled every 50 ms.

Closed loop (``throughput``): ``callers`` threads per node, each with one call in flight.
Open loop (``latency``): calls of ``chunk`` payments sent on a fixed schedule to reach the
offered rate, round robin over the nodes, whatever the answers.

The verification bound: every Ed25519 check the protocol makes goes through
``proto.signing.verify``, which each node counts (``swapnet_signature_verifications_total``);
verifications per order = the sum over nodes of that counter's growth / orders certified.
With the machine's raw single-core verification rate, the bound is cores x rate /
verifications per order.
"""

from __future__ import annotations

import concurrent.futures
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from nacl.signing import SigningKey
from prometheus_client.parser import text_string_to_metric_families

from devnet import local_http
from devnet.cluster import Cluster, LedgerProc, NodeProc

CLOCK_TICK = os.sysconf("SC_CLK_TCK")
FUNDS = 10**12
DEPOSIT = 10**11


# -- a devnet for benchmarks ------------------------------------------------------------
@contextmanager
def bench_net(
    nodes: int, *, stewards: int | None = None, checkpoint_interval: int = 2
) -> Iterator[Cluster]:
    """A formed, funded group of ``nodes`` members, the first ``stewards`` of them (all,
    by default) stewards; everything is stopped on exit."""
    stewards = nodes if stewards is None else min(stewards, nodes)
    timeout = 60.0 + 6.0 * nodes
    with tempfile.TemporaryDirectory(prefix="swapnet-bench-") as tmp:
        base = Path(tmp)
        ledger = LedgerProc.start(base / "ledger", block_interval=0.3)
        cluster = Cluster.create(
            base / "nodes",
            ledger.url,
            stewards=stewards,
            members=nodes - stewards,
            checkpoint_interval=checkpoint_interval,
            timeout=timeout,
        )
        try:
            for n in cluster.nodes:
                for asset in ("USD", "SWAP"):
                    cluster.faucet(n.member, asset, FUNDS)
            cluster.start_stewards()
            cluster.write_genesis()
            cluster.start_members()
            cluster.wait("the wallet", lambda: all(_group(n)["wallet_open"] for n in cluster.nodes))
            for n in cluster.nodes:
                n.call("POST", "/v1/join", {"deposits": {"USD": DEPOSIT}, "handle": n.name})
            cluster.wait(
                "every member credited",
                lambda: all(
                    len(b := _group(n)["balances"]) == nodes
                    and all(v.get("USD") for v in b.values())
                    for n in cluster.nodes
                ),
            )
            yield cluster
        finally:
            try:
                cluster.stop_all()
            finally:
                cluster.kill_all()
                ledger.stop()


def _group(n: NodeProc) -> dict[str, Any]:
    g: dict[str, Any] = n.status()["group"]
    return g


# -- what the nodes and the kernel report ------------------------------------------------
def scrape(node: NodeProc) -> dict[str, float]:
    """A node's /metrics as {sample name: value} (labelled samples summed)."""
    text = local_http.get(f"{node.api}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if "le" in s.labels:
                continue
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime + stime


def _status_mb(pid: int, field_name: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmRSS")


def pid(node: NodeProc) -> int:
    assert node.proc is not None
    return node.proc.pid


def verify_rate(seconds: float = 1.0) -> float:
    """Raw Ed25519 verifications per second on one core (PyNaCl, 150-byte messages)."""
    key = SigningKey(bytes(range(32)))
    message = bytes(150)
    signed = key.sign(message)
    verify = key.verify_key.verify
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            verify(signed)
        count += 200
    return count / elapsed


# -- load -------------------------------------------------------------------------------
@dataclass
class Load:
    """Outcomes of a load run: per certified order, its seconds to certificate and the
    wall time (monotonic) its call was sent and answered."""

    to_certificate: list[float] = field(default_factory=list)
    sent_answered: list[tuple[float, float]] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, http: httpx.Client, node: NodeProc, others: list[str], chunk: int) -> None:
        body = {"payments": [{"to": random.choice(others), "asset": "USD", "amount": 1}] * chunk}
        sent = time.monotonic()
        reply = http.post(f"{node.api}/v1/pay/many", json=body, timeout=120)
        answered = time.monotonic()
        if reply.status_code != 200:
            raise RuntimeError(f"{node.name}: {reply.status_code} {reply.text[:200]}")
        results = reply.json()["results"]
        with self.lock:
            for r in results:
                if r["certified"]:
                    self.to_certificate.append(r["seconds"])
                    self.sent_answered.append((sent, answered))
                else:
                    self.refused += 1


class CheckpointWatch:
    """Samples node 0's checkpoint number every 50 ms: when each one was adopted."""

    def __init__(self, node: NodeProc) -> None:
        self.node = node
        self.adopted: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = -1
        with httpx.Client(timeout=10) as http:
            while not self.stop.is_set():
                try:
                    number = http.get(f"{self.node.api}/status").json()["group"]["checkpoint"][
                        "number"
                    ]
                except (httpx.HTTPError, ValueError, KeyError):
                    number = last
                if number != last:
                    self.adopted.append((time.monotonic(), number))
                    last = number
                self.stop.wait(0.05)

    def __enter__(self) -> CheckpointWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def to_checkpoint(self, load: Load) -> list[float]:
        """Per order: from its call to the second adoption after its certificate."""
        times = [t for t, _ in self.adopted[1:]]
        out = []
        k = 0
        for sent, answered in sorted(load.sent_answered, key=lambda x: x[1]):
            while k < len(times) and times[k] < answered:
                k += 1
            if k + 1 < len(times):
                out.append(times[k + 1] - sent)
        return out


def others_of(cluster: Cluster, node: NodeProc) -> list[str]:
    return [o.member.hex() for o in cluster.nodes if o is not node]


def closed_loop(cluster: Cluster, seconds: float, callers: int, chunk: int) -> tuple[Load, float]:
    """``callers`` threads per node, one call in flight each, until ``seconds`` pass."""
    load = Load()
    deadline = time.monotonic() + seconds
    errors: list[BaseException] = []

    def caller(node: NodeProc) -> None:
        others = others_of(cluster, node)
        headers = {"authorization": f"Bearer {node.token()}"}
        try:
            with httpx.Client(headers=headers) as http:
                while time.monotonic() < deadline:
                    load.call(http, node, others, chunk)
        except BaseException as exc:  # reported by the caller of closed_loop
            errors.append(exc)

    threads = [
        threading.Thread(target=caller, args=(n,)) for n in cluster.nodes for _ in range(callers)
    ]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return load, time.monotonic() - start


def open_loop(cluster: Cluster, rate: float, seconds: float, chunk: int) -> tuple[Load, float]:
    """Calls of ``chunk`` payments on a fixed schedule (``rate`` orders/s in all), round
    robin over the nodes; a slow answer never delays the next call."""
    load = Load()
    period = chunk / rate
    calls = max(1, int(seconds * rate / chunk))
    clients = {
        n.name: httpx.Client(headers={"authorization": f"Bearer {n.token()}"})
        for n in cluster.nodes
    }
    others = {n.name: others_of(cluster, n) for n in cluster.nodes}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
            start = time.monotonic()
            futures = []
            for i in range(calls):
                wake = start + i * period
                if (delay := wake - time.monotonic()) > 0:
                    time.sleep(delay)
                node = cluster.nodes[i % len(cluster.nodes)]
                futures.append(
                    pool.submit(load.call, clients[node.name], node, others[node.name], chunk)
                )
            for f in futures:
                f.result()
            return load, time.monotonic() - start
    finally:
        for c in clients.values():
            c.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f}"


# -- the benchmarks ---------------------------------------------------------------------
def throughput(
    nodes: int = 5, seconds: float = 10.0, callers: int = 4, chunk: int = 100
) -> dict[str, Any]:
    """Closed-loop load from every node: certified orders/s, latency to certificate and
    to checkpoint, CPU seconds per order, peak RSS, and the verification bound."""
    rate = verify_rate()
    with bench_net(nodes) as cluster:
        closed_loop(cluster, min(2.0, seconds), callers, chunk)  # warm up
        before = {n.name: scrape(n) for n in cluster.nodes}
        cpu_before = {n.name: cpu_seconds(pid(n)) for n in cluster.nodes}
        with CheckpointWatch(cluster.nodes[0]) as watch:
            load, elapsed = closed_loop(cluster, seconds, callers, chunk)
            seen = len(watch.adopted)  # sample on until two checkpoints after the load
            cluster.wait("two more checkpoints", lambda: len(watch.adopted) >= seen + 2)
        after = {n.name: scrape(n) for n in cluster.nodes}
        cpu = sum(cpu_seconds(pid(n)) - cpu_before[n.name] for n in cluster.nodes)
        rss = [peak_rss_mb(pid(n)) for n in cluster.nodes]
    certified = len(load.to_certificate)
    verifications = sum(
        after[k].get("swapnet_signature_verifications_total", 0)
        - before[k].get("swapnet_signature_verifications_total", 0)
        for k in after
    )
    per_order = verifications / certified if certified else float("nan")
    cores = os.cpu_count() or 1
    bound = cores * rate / per_order if certified else float("nan")
    achieved = certified / elapsed
    checkpoint = watch.to_checkpoint(load)
    return {
        "nodes": nodes,
        "seconds": round(elapsed, 1),
        "callers per node": callers,
        "orders per call": chunk,
        "certified orders": certified,
        "refused": load.refused,
        "certified orders/s": round(achieved),
        "p50 to certificate (ms)": ms(percentile(load.to_certificate, 0.5)),
        "p99 to certificate (ms)": ms(percentile(load.to_certificate, 0.99)),
        "p50 to checkpoint (ms)": ms(percentile(checkpoint, 0.5)),
        "p99 to checkpoint (ms)": ms(percentile(checkpoint, 0.99)),
        "CPU ms per order": f"{cpu / certified * 1000:.2f}" if certified else "nan",
        "peak RSS per node (MB)": f"{max(rss):.0f}",
        "verify/s (1 core)": round(rate),
        "verifications per order": f"{per_order:.2f}",
        "verification bound (orders/s)": round(bound) if certified else "nan",
        "of bound": f"{achieved / bound:.1%}" if certified else "nan",
    }


def latency(
    rate: float = 1000.0, seconds: float = 10.0, nodes: int = 5, chunk: int = 10
) -> dict[str, Any]:
    """Open loop at ``rate`` orders/s: latency to certificate."""
    with bench_net(nodes) as cluster:
        closed_loop(cluster, 1.0, 1, chunk)  # warm up
        load, elapsed = open_loop(cluster, rate, seconds, chunk)
    values = load.to_certificate
    return {
        "nodes": nodes,
        "offered orders/s": round(rate),
        "orders per call": chunk,
        "certified orders": len(values),
        "achieved orders/s": round(len(values) / elapsed),
        "p50 to certificate (ms)": ms(percentile(values, 0.5)),
        "p99 to certificate (ms)": ms(percentile(values, 0.99)),
        "max to certificate (ms)": ms(max(values) if values else float("nan")),
    }


def recovery(
    orders: int = 1_000_000, nodes: int = 3, callers: int = 1, chunk: int = 250
) -> dict[str, Any]:
    """Fill a group's stores with ``orders`` certified orders (real load), then restart
    node 0 and time its start to ready; its RSS once ready."""
    with bench_net(nodes) as cluster:
        first = cluster.nodes[0]
        filled_in = time.monotonic()
        while scrape(first).get("swapnet_orders_certified_total", 0) < orders:
            closed_loop(cluster, 2.0, callers, chunk)
        filled_in = time.monotonic() - filled_in
        held = int(scrape(first)["swapnet_orders_certified_total"])
        first.stop()
        store = sum(f.stat().st_size for f in (first.data / "store").rglob("*") if f.is_file())
        start = time.monotonic()
        cluster.restart(first)
        ready = time.monotonic() - start
        resident = rss_mb(pid(first))
        peak = peak_rss_mb(pid(first))
    return {
        "nodes": nodes,
        "certified orders stored": held,
        "store (MB)": f"{store / 2**20:.0f}",
        "fill time (s)": f"{filled_in:.0f}",
        "start to ready (s)": f"{ready:.2f}",
        "RSS when ready (MB)": f"{resident:.0f}",
        "peak RSS (MB)": f"{peak:.0f}",
    }


def scale(
    sizes: tuple[int, ...] = (5, 10, 20, 50),
    seconds: float = 10.0,
    callers: int = 2,
    chunk: int = 100,
    stewards: int | None = None,
    say: Callable[[str], None] = lambda text: None,
) -> list[dict[str, Any]]:
    """Throughput and checkpoint time per group size (at most ``stewards`` of them
    stewards, the rest members; all stewards by default), up to the first size this
    machine cannot hold (that row says why)."""
    rows: list[dict[str, Any]] = []
    for size in sizes:
        say(f"scale: {size} nodes")
        formed = time.monotonic()
        try:
            with bench_net(size, stewards=stewards) as cluster:
                formed = time.monotonic() - formed
                load, elapsed = closed_loop(cluster, seconds, callers, chunk)
                cluster.wait(
                    "a checkpoint under load",
                    lambda: scrape(cluster.nodes[0]).get("swapnet_checkpoint_seconds_count", 0) > 0,
                )
                m = [scrape(n) for n in cluster.nodes]
                rss = sum(peak_rss_mb(pid(n)) for n in cluster.nodes)
        except Exception as exc:  # the size this machine cannot hold: say why, and stop
            first = str(exc).splitlines()[0] if str(exc) else ""
            rows.append({"nodes": size, "stopped": f"{type(exc).__name__}: {first[:160]}"})
            break
        count = sum(x.get("swapnet_checkpoint_seconds_count", 0) for x in m)
        total = sum(x.get("swapnet_checkpoint_seconds_sum", 0.0) for x in m)
        rows.append(
            {
                "nodes": size,
                "stewards": min(size, stewards or size),
                "form + fund (s)": f"{formed:.0f}",
                "certified orders/s": round(len(load.to_certificate) / elapsed),
                "p50 to certificate (ms)": ms(percentile(load.to_certificate, 0.5)),
                "checkpoint (ms, mean)": ms(total / count) if count else "nan",
                "RSS all nodes (MB)": f"{rss:.0f}",
                "stopped": "",
            }
        )
    return rows
