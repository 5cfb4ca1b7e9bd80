"""``swapnet bench devnet``: certified orders per second and latency from submit to
certificate in a real devnet: the ledger and 4 steward nodes as separate processes on
127.0.0.1, the group formed by DKG and funded by deposits, then closed-loop payments
through every node's control API (``clients`` callers per node, each waiting for its
certificate before sending the next) until ``orders`` are certified.

Latency is what a caller of ``POST /v1/pay`` sees: HTTP, signing, the vote round over
libp2p, the certificate, and the fsync of the outbox and of the certificate.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from devnet.cluster import Cluster, LedgerProc, NodeProc


def bench_devnet(orders: int = 2000, clients: int = 8, stewards: int = 4) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="swapnet-bench-") as tmp:
        base = Path(tmp)
        ledger = LedgerProc.start(base / "ledger", block_interval=0.3)
        cluster = Cluster.create(base / "nodes", ledger.url, stewards=stewards, members=0)
        try:
            return _run(cluster, orders, clients)
        finally:
            try:
                cluster.stop_all()
            finally:
                cluster.kill_all()
                ledger.stop()


def _run(c: Cluster, orders: int, clients: int) -> dict[str, str]:
    for n in c.nodes:
        for asset in ("USD", "SWAP"):
            c.faucet(n.member, asset, 10**9)
    c.start_stewards()
    c.wait("the wallet", lambda: all(n.status()["group"]["wallet_open"] for n in c.nodes))
    for n in c.nodes:
        n.call("POST", "/v1/join", {"deposits": {"USD": 10**8}})
    c.wait("the joins", lambda: all(_funded(n, len(c.nodes)) for n in c.nodes))
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = [orders]

    def client(node: NodeProc, seed: int) -> None:
        rng = random.Random(seed)
        others = [o.member.hex() for o in c.nodes if o is not node]
        with httpx.Client(timeout=60) as http:
            headers = {"authorization": f"Bearer {node.token()}"}
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                body = {"to": rng.choice(others), "asset": "USD", "amount": 1}
                start = time.perf_counter()
                r = http.post(f"{node.api}/v1/pay", json=body, headers=headers)
                took = time.perf_counter() - start
                if r.status_code != 200:
                    raise RuntimeError(f"{node.name}: {r.status_code} {r.text}")
                with lock:
                    latencies.append(took)

    threads = [
        threading.Thread(target=client, args=(n, i * 1000 + j))
        for i, n in enumerate(c.nodes)
        for j in range(clients)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "stewards": str(len(c.nodes)),
        "callers": str(len(threads)),
        "orders": str(len(latencies)),
        "certified orders/s": f"{len(latencies) / elapsed:.0f}",
        "p50 (ms)": f"{statistics.median(latencies) * 1000:.1f}",
        "p99 (ms)": f"{latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f}",
    }


def _funded(n: NodeProc, members: int) -> bool:
    balances = n.status()["group"]["balances"]
    return len(balances) == members and all(b.get("USD") for b in balances.values())
