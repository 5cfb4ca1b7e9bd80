"""The notary on a real EVM chain: anvil (a block every half second), the group wallet
contract and ERC-20 assets, a group of 4 stewards whose wallet key is FROST(secp256k1)
and 2 members, every node following the chain through the EVM adapter.

1. One notary online, another killed with -9 just before a member revokes with a stale
   checkpoint: the online one crawls it back inside the window, the cheat's bond is
   forfeited to the wallet; the killed one, restarted mid-window, resumes from its ledger
   cursor and neither crashes nor crawls back twice.
2. No notary online when the second member revokes stale (every node runs one: all are
   stopped but the cheat's own): the notary killed with -9 and restarted mid-window
   resumes from its cursor and still crawls it back in time.
Every node ends with both cheats frozen and their premature revokes on their records.
3. The notary holds the revoke evidence against both (the chain's raw transactions); the
   bundle it exports verifies offline and names the chain's own transactions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devnet.cluster import ASSETS, Cluster, NodeProc
from devnet.evm_chain import EvmChain
from node.evm.account import evm_account
from proto.codec import decode
from proto.genesis import Genesis
from tests.integration.processes import TIMEOUT_FACTOR, node_tracebacks, swapnet

WINDOW = 240  # blocks of 0.5 s: two minutes, so a loaded CI machine still restarts in time
DEPOSIT = {"USD": 100_000}
REVOKE_FEE = 100  # what Cluster.create registers

pytestmark = pytest.mark.xdist_group("evm")  # beside the other process tests' worker


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[EvmChain, Cluster]]:
    chain = EvmChain.start(tmp_path / "anvil", ASSETS, detach=False)
    assert chain.node is not None
    try:
        c = Cluster.create(
            tmp_path / "g1",
            chain.url,
            chain=chain,
            members=2,
            challenge_window=WINDOW,
            timeout=60 * TIMEOUT_FACTOR,
        )
        try:
            yield chain, c
            codes = c.stop_all()
            assert set(codes.values()) <= {0}, codes
            for n in c.nodes:
                assert not node_tracebacks(n.stderr), n.tail()
        finally:
            c.kill_all()
    finally:
        chain.node.stop()


def group(n: NodeProc) -> dict[str, Any]:
    result: dict[str, Any] = n.status()["group"]
    return result


def test_notaries_crawl_back_stale_revokes_on_an_evm_chain(
    world: tuple[EvmChain, Cluster], tmp_path: Path
) -> None:
    chain, c = world
    s1, s2, s3, s4 = c.stewards
    cheat, cheat2 = c.members
    for n in c.nodes:
        chain.fund(n.key, {"USD": 1_000_000})
    c.start_stewards()
    c.write_genesis()
    c.start_members()
    genesis = decode((c.base / "group.genesis").read_bytes(), Genesis)
    assert genesis.on_evm and len(genesis.wallet_key) == 33
    c.wait("the wallet to open", lambda: all(group(n)["wallet_open"] for n in c.nodes))
    for n in c.nodes:
        n.call("POST", "/v1/join", {"deposits": DEPOSIT, "handle": n.name})
    c.wait("every join", lambda: all(len(group(n)["balances"]) == 6 for n in c.nodes))

    # the stale checkpoint: everyone holds 100,000; then the cheat pays most of it away
    stale = group(cheat)["checkpoint"]["number"]
    cheat.call("POST", "/v1/pay", {"to": s2.member.hex(), "asset": "USD", "amount": 60_000})
    c.wait(
        "a checkpoint after the payment",
        lambda: all(
            group(n)["checkpoint"]["number"] > stale and group(n)["orders_since_checkpoint"] == 0
            for n in c.nodes
        ),
        timeout=120 * TIMEOUT_FACTOR,
    )

    # 1. s1 online, s2 killed -9 just before the revoke, s3 and s4 stopped
    for n in (s3, s4):
        assert n.stop() == 0
    s2.kill_9()
    answer = cheat.call("POST", "/v1/revoke", {"checkpoint": stale})
    assert answer["checkpoint"] == stale and answer["claim"] == {"USD": 100_000}
    c.wait(
        "the crawl back on chain",
        lambda: bool(chain.crawl_backs(genesis, cheat.member)),
        timeout=90 * TIMEOUT_FACTOR,
    )
    (crawl,) = chain.crawl_backs(genesis, cheat.member)
    assert crawl.amounts == {"BTC": 0, "USD": 40_000} and crawl.forfeited == REVOKE_FEE
    c.restart(s2)  # mid-window: resumes from its cursor, sees the claim crawled back
    c.wait(
        "the restarted notary following the claim",
        lambda: any(
            claim["member"] == cheat.member.hex() and claim["crawled_back"]
            for claim in group(s2)["notary"]["open_claims"]
        ),
        timeout=90 * TIMEOUT_FACTOR,
    )
    assert len(chain.crawl_backs(genesis, cheat.member)) == 1

    # 2. the contract now refuses revokes below the checkpoint the crawl back showed, so
    # the second cheat starts from the newest checkpoint and pays after it; then no
    # notary runs (every node runs one: all stopped but the cheat's own, which never
    # crawls back its own claim, and s1 killed -9) when it revokes with the stale one
    for n in (s3, s4):
        c.restart(n)
    highest = crawl.checkpoint
    c.wait(
        "the second cheat at the newest checkpoint",
        lambda: (
            group(cheat2)["checkpoint"]["number"] >= highest
            and group(cheat2)["orders_since_checkpoint"] == 0
        ),
        timeout=120 * TIMEOUT_FACTOR,
    )
    stale2 = group(cheat2)["checkpoint"]["number"]
    cheat2.call("POST", "/v1/pay", {"to": s2.member.hex(), "asset": "USD", "amount": 70_000})
    c.wait(
        "the notary holding a checkpoint after the payment",
        lambda: (
            group(s1)["checkpoint"]["number"] > stale2
            and group(s1)["balances"][cheat2.member.hex()] == {"USD": 30_000}
            and group(s1)["orders_since_checkpoint"] == 0
        ),
        timeout=120 * TIMEOUT_FACTOR,
    )
    for n in (s2, s3, s4, cheat):
        assert n.stop() == 0
    s1.kill_9()
    answer = cheat2.call("POST", "/v1/revoke", {"checkpoint": stale2})
    assert answer["claim"] == {"USD": 100_000}
    start = chain.w3.eth.block_number
    c.wait("a few blocks after the revoke", lambda: chain.w3.eth.block_number >= start + 6)
    assert chain.crawl_backs(genesis, cheat2.member) == []  # nobody crawled it back
    c.restart(s1)  # resumes from its ledger cursor, in the middle of the window
    c.wait(
        "the restarted notary's crawl back",
        lambda: bool(chain.crawl_backs(genesis, cheat2.member)),
        timeout=90 * TIMEOUT_FACTOR,
    )
    (crawl2,) = chain.crawl_backs(genesis, cheat2.member)
    assert crawl2.amounts["USD"] == 30_000 and crawl2.forfeited == REVOKE_FEE

    # everyone back: the next checkpoints book both revokes against the revokers
    for n in (s2, s3, s4, cheat):
        c.restart(n)
    frozen = {cheat.member.hex(), cheat2.member.hex()}
    c.wait(
        "the revokes booked everywhere",
        lambda: all(set(group(n)["frozen"]) == frozen for n in c.stewards),
        timeout=120 * TIMEOUT_FACTOR,
    )
    for who in (cheat, cheat2):
        record = group(s3)["revokes"][who.member.hex()]
        assert record == {"revokes": 1, "crawl_backs": 1, "premature": 1, "uncovered": 0}

    # 3. the evidence: the notary that crawled both back holds it (and gossiped it)
    c.wait(
        "the evidence at the notary",
        lambda: {e["revoker"] for e in group(s1)["notary"]["evidence"]} == frozen,
    )
    evidence_holds(chain, c, s1, cheat, (stale, crawl.checkpoint), tmp_path)


def evidence_holds(
    chain: EvmChain,
    c: Cluster,
    notary: NodeProc,
    cheat: NodeProc,
    numbers: tuple[int, int],
    tmp: Path,
) -> None:
    """The bundle the notary exports verifies offline and names the chain's own
    transactions: the cheat's revoke and a node's crawl back (every node runs a notary:
    whichever was first), in the blocks it says."""
    bundle_file = tmp / "cheat.evidence"
    swapnet(
        "evidence",
        "export",
        "--api",
        notary.api,
        "--data",
        str(notary.data),
        "--member",
        cheat.member.hex(),
        "--out",
        str(bundle_file),
    )
    verified = swapnet("evidence", "verify", str(bundle_file))
    assert "premature revoke" in verified.stdout
    assert f"chain {chain.w3.eth.chain_id}" in verified.stdout
    facts = json.loads(swapnet("evidence", "verify", str(bundle_file), "--json").stdout)
    assert facts["premature"] and facts["revoker"] == cheat.member.hex()
    assert facts["stale"] == {"checkpoint": numbers[0], "balances": {"USD": 100_000}}
    assert facts["newer"] == {"checkpoint": numbers[1], "balances": {"USD": 40_000}}
    accounts = {evm_account(n.key).hex() for n in c.nodes if n is not cheat}
    assert facts["notary"] in accounts
    for step, sender in (("revoke", evm_account(cheat.key).hex()), ("crawl_back", facts["notary"])):
        tx = chain.w3.eth.get_transaction("0x" + facts[step]["tx"])
        assert tx["blockNumber"] == facts[step]["height"]
        assert tx["from"].lower() == "0x" + sender
