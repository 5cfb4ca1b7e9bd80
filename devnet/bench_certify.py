"""``swapnet bench certify``: certified orders per second, and latency from submit to
certificate, with 4 stewards and some members as libp2p hosts on 127.0.0.1 in ONE process
(one trio thread, so all signature checks share one core). It measures the certification
path of ``node.certification``; the multi-process devnet version comes with the devnet.

Orders are signed before the clock starts (signing is the client's work); each member
keeps one batch in flight, as a member does.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import trio
from nacl.signing import SigningKey

from node.certification import GroupNode
from node.p2p import open_p2p
from proto.committee import Committee
from proto.epochs import single
from proto.orders import SignedOrder, Transfer, sign_order
from proto.state import GroupState
from storage import LevelDBStore


def _key(name: str) -> SigningKey:
    return SigningKey(hashlib.sha256(f"bench/{name}".encode()).digest())


async def _run(orders: int, batch: int, members: int, data: Path) -> dict[str, str]:
    stewards = [_key(f"steward{i}") for i in range(4)]
    payers = [_key(f"member{i}") for i in range(members)]
    committee = Committee(tuple(sorted(bytes(k.verify_key) for k in stewards)))
    group_id = hashlib.sha256(b"bench group").digest()
    genesis = GroupState(group_id, ("USD",))
    for k in stewards + payers:
        genesis.admit(bytes(k.verify_key))
        genesis.deposit(bytes(k.verify_key), "USD", 10**12)
    per_member = orders // members // batch
    work: list[list[list[SignedOrder]]] = []
    for payer in payers:
        me = bytes(payer.verify_key)
        to = bytes(stewards[0].verify_key)
        batches = []
        for b in range(per_member):
            batches.append(
                [
                    sign_order(
                        Transfer(me, b * batch + i + 1, to, "USD", 1, b""), {me: payer}, group_id
                    )
                    for i in range(batch)
                ]
            )
        work.append(batches)
    latencies: list[float] = []
    elapsed = 0.0
    # The nursery is outermost (hosts close inside it); it is cancelled before the stack
    # unwinds, so no reader touches a store or host that is closing.
    async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
        nodes: list[GroupNode] = []
        for k in stewards + payers:
            p2p = await stack.enter_async_context(open_p2p(k))
            store = stack.enter_context(LevelDBStore(data / bytes(k.verify_key).hex()[:12]))
            node = GroupNode(p2p, store, single(committee), genesis, k if k in stewards else None)
            for other in nodes:
                await p2p.connect(other.p2p.addrs[0])
            await node.start(nursery)
            nodes.append(node)

        async def pay(node: GroupNode, batches: list[list[SignedOrder]]) -> None:
            for orders_ in batches:
                start = time.perf_counter()
                await node.submit(orders_)
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        async with trio.open_nursery() as payers_nursery:
            for node, batches in zip(nodes[len(stewards) :], work, strict=True):
                payers_nursery.start_soon(pay, node, batches)
        elapsed = time.perf_counter() - started
        nursery.cancel_scope.cancel()  # readers stop before stores and hosts close
    certified = len(latencies) * batch
    ordered = sorted(latencies)
    return {
        "setup": f"4 stewards + {members} members, 1 process",
        "batch": str(batch),
        "orders": str(certified),
        "certified orders/s": f"{certified / elapsed:.0f}",
        "p50 submit->cert (ms)": f"{statistics.median(ordered) * 1000:.1f}",
        "p99 submit->cert (ms)": f"{_percentile(ordered, 0.99) * 1000:.1f}",
    }


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def bench_certify(orders: int = 4000, batch: int = 100, members: int = 2) -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        return [trio.run(_run, orders, batch, members, Path(tmp))]
