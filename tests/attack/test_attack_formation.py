"""Attacks on forming a group (``/swapnet/dkg/1``) with real steward processes: a dealer
that equivocates, dealing one polynomial to some stewards and another to the rest (each
package signed, each proof of knowledge valid). Without the echo, the honest stewards
would finish with two wallet keys (``tests/unit/test_group_lifecycle.py`` shows the old
outcome); here three honest steward processes and the rogue dealer (the fourth steward's
real key on a libp2p host of the test's) run the ceremony over the network.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
import trio

from devnet.cluster import Cluster, ClusterError, NodeProc
from node.formation import DKG_PROTOCOL, EQUIVOCATION_FILE, dealer_from_seed, pull_all
from node.p2p import P2P, Refused, open_p2p
from node.runtime import HELLO_PROTOCOL
from proto.codec import Wire, decode
from proto.errors import RemoteProtocolError
from proto.formation import (
    Dealer,
    DkgEcho,
    DkgEchoPull,
    DkgEquivocationProof,
    DkgPull,
    DkgReply,
    equivocation_proven,
)
from tests.integration.processes import TIMEOUT_FACTOR, ledger_process

pytestmark = pytest.mark.xdist_group("processes")


def test_a_dealer_that_deals_two_polynomials_stops_the_ceremony_with_its_proof(
    tmp_path: Path,
) -> None:
    with ledger_process(tmp_path / "ledger") as ledger:
        c = Cluster.create(
            tmp_path / "nodes", ledger.url, members=0, seed="dkg", timeout=60 * TIMEOUT_FACTOR
        )
        cheat, honest = c.stewards[3], c.stewards[:3]
        try:
            trio.run(_equivocate, c, cheat, honest)
        finally:
            c.kill_all()
    spec = c.spec
    culprit = spec.identifier_of(cheat.member)
    for n in honest:
        assert n.proc is not None and n.proc.returncode == 1, n.tail()
        last = n.stderr.read_text().strip().splitlines()[-1]
        assert "equivocation" in last and f"participants [{culprit}]" in last, last
        assert not (n.data / "node.stdout").read_text().strip(), "it must never be ready"
        proof = decode((n.data / EQUIVOCATION_FILE).read_bytes(), DkgEquivocationProof)
        assert proof.dealer == cheat.member
        assert equivocation_proven(spec, cheat.member, proof.proof)  # anyone can check it
        others = [o.member for o in honest]
        assert not any(equivocation_proven(spec, o, proof.proof) for o in others)


async def _equivocate(c: Cluster, cheat: NodeProc, honest: list[NodeProc]) -> None:
    spec = c.spec
    twins = [dealer_from_seed(spec, cheat.key, os.urandom(32)) for _ in range(2)]
    echo: list[DkgEcho] = []

    def view(caller: bytes) -> Dealer:  # two halves, two polynomials
        return twins[spec.identifier_of(caller) % 2]

    async def deal(caller: bytes, request: bytes) -> bytes:
        pull = decode(request, Wire)
        if isinstance(pull, DkgPull):
            reply = view(caller).reply_to(caller)
            if reply is None:
                raise RemoteProtocolError("not a steward")
            return reply.encode()
        if isinstance(pull, DkgEchoPull) and echo:
            return echo[0].encode()
        raise Refused("no echo yet")

    async def echo_one_view() -> None:
        replies = await pull_all(p2p, twins[0], DkgPull(spec.ceremony()), DkgReply)
        echo.append(twins[0].echo(replies))

    async def hello(caller: bytes, request: bytes) -> bytes:
        return json.dumps(p2p.addrs).encode()

    async with open_p2p(cheat.key) as p2p, trio.open_nursery() as nursery:
        p2p.set_handler(DKG_PROTOCOL, deal)
        p2p.set_handler(HELLO_PROTOCOL, hello)
        nursery.start_soon(echo_one_view)  # the honest stewards wait for every echo
        exits = await trio.to_thread.run_sync(_start_honest, c, honest, p2p)
        nursery.cancel_scope.cancel()
    assert echo, "the cheat's echo was never made: the ceremony did not get that far"
    assert all(isinstance(e, ClusterError) and "exited before ready" in str(e) for e in exits)


def _start_honest(c: Cluster, honest: list[NodeProc], p2p: P2P) -> list[BaseException | None]:
    """Start the honest stewards as ``Cluster.start_stewards`` does (each bootstraps to
    the cheat and the ones before it); each start ends when the process exits."""
    started = [p2p.addrs[0]]
    results: list[BaseException | None] = [None] * len(honest)
    threads = []
    for i, n in enumerate(honest):

        def go(i: int, n: NodeProc, boot: list[str]) -> None:
            try:
                n.start(boot, c.timeout)
            except BaseException as exc:
                results[i] = exc

        t = threading.Thread(target=go, args=(i, n, list(started)))
        t.start()
        threads.append(t)
        started.append(c._listening_addr(n))
    for t in threads:
        t.join()
    return results
