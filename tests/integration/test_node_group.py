"""The node as real processes: a ledger, 4 stewards and 2 members on 127.0.0.1.

One group's whole story, in order (each step needs the one before it, so it is one test
with named phases; a failure names its phase):

1. formation: the stewards run the DKG over libp2p, sign the wallet's opening on the
   ledger, and every node reports the same group;
2. joins: everyone deposits on the ledger and sends its signed join; all are admitted at a
   checkpoint, with exactly what they deposited;
3. load: 1,000 random transfers and swaps through the nodes' control APIs, while one
   steward is killed with SIGKILL and restarted; afterwards every node reports the same
   checkpoint and state, the checkpoint covers every order, and the balances equal a replay
   of what the APIs said was certified;
4. a rogue member (this test process, joined like anyone) sends a forged order and garbage:
   nothing changes and the stewards disconnect it;
5. exit: a member exits cooperatively; its ledger account receives exactly its final
   balance, and later checkpoints show it holding nothing;
6. every node stops cleanly on SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import trio
from nacl.signing import SigningKey

from devnet.cluster import Cluster, ClusterError, NodeProc
from node.certification import VOTE_PROTOCOL, certificate_topic
from node.p2p import P2PError, open_p2p
from node.runtime import HANDLE_TAKEN, JOIN_PROTOCOL
from proto.admission import sign_join
from proto.codec import decode
from proto.genesis import terms_hash
from proto.orders import Transfer, sign_order
from proto.prequal import Prequal
from proto.votes import Batch
from tests.integration.joining import join_as
from tests.integration.processes import TIMEOUT_FACTOR

pytestmark = pytest.mark.xdist_group("processes")

ORDERS = 1000
SWAP_TRIES = 20
Job = tuple[str, int, int, str, int, int]
"""kind, from (node index), to, asset, amount, request id"""
DEPOSIT = {"USD": 100_000, "BTC": 10_000}


def group_of(n: NodeProc) -> dict[str, Any]:
    group: dict[str, Any] = n.status()["group"]
    return group


def all_agree(c: Cluster) -> bool:
    groups = [group_of(n) for n in c.nodes]
    views = {
        (g["checkpoint"]["number"], g["state_digest"], g["checkpoint"]["state_digest"])
        for g in groups
    }
    settled = all(
        g["orders_since_checkpoint"] == 0
        and g["trader"]["queued"] == 0
        and g["trader"]["unanswered_swaps"] == 0
        for g in groups
    )
    return len(views) == 1 and settled


def test_a_group_forms_trades_survives_a_crash_and_settles_an_exit(cluster: Cluster) -> None:
    c = cluster
    expected = form_and_join(c)
    load_with_a_crash(c, expected)

    # 4. a rogue member: forged order, garbage; nothing changes and it is cut off
    trio.run(rogue_member, c)
    c.wait("agreement after the rogue", lambda: all_agree(c))
    groups = [group_of(n) for n in c.nodes]
    assert all(g["balances"] == groups[0]["balances"] for g in groups)
    leaver, stayer = c.members[1], c.members[0]
    assert groups[0]["balances"][leaver.member.hex()] == expected[leaver.member.hex()]

    # 5. a cooperative exit pays exactly the final balance on the ledger
    final = expected[leaver.member.hex()]
    on_ledger = {a: c.ledger_balance(leaver.member, a) for a in final}
    leaver.call("POST", "/v1/exit", {})
    c.wait(
        "the settle",
        lambda: all(c.ledger_balance(leaver.member, a) == on_ledger[a] + final[a] for a in final),
        timeout=90 * TIMEOUT_FACTOR,
    )
    c.wait(
        "the exit to be closed in a checkpoint",
        lambda: group_of(stayer)["balances"][leaver.member.hex()] == {} and all_agree(c),
        timeout=90 * TIMEOUT_FACTOR,
    )
    # 6. the leaver's node wrote its badge: its record here, vouched for by the wallet key
    badge_file = leaver.data / "prequal-final.swapnet"
    c.wait("the exit badge", badge_file.exists)
    badge = decode(badge_file.read_bytes(), Prequal)
    history = badge.verify()
    assert badge.member == leaver.member
    assert badge.wallet_key.hex() == group_of(stayer)["wallet_key"]
    assert history.orders > 0 and history.revokes == 0
    assert history.joined_at >= 1 and history.joined_height >= 1


def form_and_join(c: Cluster) -> dict[str, dict[str, int]]:
    for n in c.nodes:
        for asset in ("USD", "BTC", "SWAP"):
            c.faucet(n.member, asset, 1_000_000)

    # 1. formation
    c.start_stewards()
    c.write_genesis()
    c.start_members()
    c.wait("the wallet to open", lambda: all(group_of(n)["wallet_open"] for n in c.nodes))
    assert len({group_of(n)["group_id"] for n in c.nodes}) == 1

    # 2. joins
    for n in c.nodes:
        n.call("POST", "/v1/join", {"deposits": DEPOSIT, "handle": n.name})
    expected = {n.member.hex(): dict(DEPOSIT) for n in c.nodes}
    # each deposit is its own ledger tx: a checkpoint may credit one before the other
    c.wait("every deposit", lambda: all(group_of(n)["balances"] == expected for n in c.nodes))
    c.wait("agreement after joins", lambda: all_agree(c))
    assert group_of(c.members[0])["balances"] == expected
    return expected


def load_with_a_crash(c: Cluster, expected: dict[str, dict[str, int]]) -> None:
    # 3. load, with a steward killed and restarted in the middle
    for m in c.members:  # makers; stewards take (no two nodes wait on each other)
        m.call(
            "POST",
            "/v1/swap/quote",
            {
                "give": {"asset": "BTC", "amount": 2},
                "get": {"asset": "USD", "amount": 30},
                "fills": ORDERS,
            },
        )
    rng = random.Random(5)
    jobs: list[Job] = []
    for _ in range(ORDERS):
        if rng.random() < 0.1:
            jobs.append(("swap", rng.randrange(4), 4 + rng.randrange(2), "", 0, len(jobs)))
        else:
            src = rng.randrange(6)
            dst = rng.choice([j for j in range(6) if j != src])
            asset, amount = rng.choice(["USD", "BTC"]), rng.randint(1, 9)
            jobs.append(("pay", src, dst, asset, amount, len(jobs)))
    victim = c.stewards[1]
    nodes = c.nodes

    with ThreadPoolExecutor(48) as pool:
        futures = [pool.submit(run_job, nodes, job) for job in jobs]
        try:
            c.wait(
                "some load",
                lambda: sum(f.done() for f in futures) >= ORDERS // 5,
                timeout=180 * TIMEOUT_FACTOR,
            )
            victim.kill_9()
            at_kill = sum(f.done() for f in futures)
            number = group_of(c.stewards[0])["checkpoint"]["number"]
            c.wait(  # the group goes on certifying and checkpointing without it
                "progress without the victim",
                lambda: (
                    sum(f.done() for f in futures) > at_kill
                    and group_of(c.stewards[0])["checkpoint"]["number"] >= number + 2
                ),
                timeout=120 * TIMEOUT_FACTOR,
            )
            c.restart(victim)
            answers = [f.result() for f in futures]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # do not run the rest
            raise
    # A pending answer (202) is not an outcome: a swap the maker never countersigned is
    # voided later. Ask again with the same request id until the node says which.
    done = [
        job
        for job, answer in zip(jobs, answers, strict=True)
        if answer == "certified" or (answer == "pending" and outcome_of(nodes, job))
    ]
    for job in done:
        kind, src, dst, asset, amount, _ = job
        a, b = nodes[src].member.hex(), nodes[dst].member.hex()
        legs = [(a, b, asset, amount)] if kind == "pay" else [(a, b, "USD", 30), (b, a, "BTC", 2)]
        for payer, payee, leg_asset, leg_amount in legs:
            expected[payer][leg_asset] -= leg_amount
            expected[payee][leg_asset] += leg_amount
    swaps = sum(1 for j in done if j[0] == "swap")
    assert swaps >= 20, f"only {swaps} swaps went through"
    c.wait("agreement after the load", lambda: all_agree(c), timeout=180 * TIMEOUT_FACTOR)
    for n in c.nodes:
        assert group_of(n)["balances"] == expected, n.name


def outcome_of(nodes: list[NodeProc], job: Job) -> bool:
    """Whether a job that was answered "pending" took effect: the same request again gets
    the first order's outcome once there is one (or, for a swap that was voided, a new
    swap under the same request id, whose outcome this is)."""
    deadline = time.monotonic() + 300 * TIMEOUT_FACTOR
    while time.monotonic() < deadline:
        answer = run_job(nodes, job)
        if answer != "pending":
            return answer == "certified"
        time.sleep(0.2)
    raise AssertionError(f"{job} stayed pending")


def run_job(nodes: list[NodeProc], job: Job) -> str:
    """Send one job through its node's API, waiting out the killed steward: "certified",
    "pending" (signed, not certified yet) or "declined" (nothing was signed)."""
    kind, src, dst, asset, amount, request = job
    deadline = time.monotonic() + 300 * TIMEOUT_FACTOR
    declined = 0
    while time.monotonic() < deadline:
        if not nodes[src].running():
            time.sleep(0.1)
            continue
        try:
            if kind == "pay":
                body = {
                    "to": nodes[dst].member.hex(),
                    "asset": asset,
                    "amount": amount,
                    "request_id": str(request),
                }
                answer = nodes[src].call("POST", "/v1/pay", body)
            else:
                body = {
                    "counterparty": nodes[dst].member.hex(),
                    "give": {"asset": "USD", "amount": 30},
                    "get": {"asset": "BTC", "amount": 2},
                    "request_id": str(request),
                }
                answer = nodes[src].call("POST", "/v1/swap", body)
            return "pending" if answer.get("pending") else "certified"
        except httpx.TransportError:  # the victim's API is down: wait for it
            time.sleep(0.1)
        except ClusterError as exc:
            if "409" not in str(exc) or kind != "swap":
                raise
            declined += 1  # nothing was signed: a swap waits for both sides to be quiet
            if declined == SWAP_TRIES:
                return "declined"
            time.sleep(0.05 * declined)
    raise AssertionError(f"{job} never went through")


async def rogue_member(c: Cluster) -> None:
    """Join the group as a new member from this process, then misbehave."""
    mallory = SigningKey.generate()
    me = bytes(mallory.verify_key)
    group = c.stewards[0].call("GET", "/v1/group")
    gid = bytes.fromhex(group["group_id"])
    terms = (c.base / "terms.txt").read_text()
    async with open_p2p(mallory) as p2p:
        addrs = [s.addr for s in c.stewards]
        taken = c.members[0].name  # first, a signed join for a handle a member goes by
        squat = sign_join(mallory, gid, terms_hash(terms), handle=taken).encode()
        for addr in addrs:
            answer = json.loads(await p2p.request(await p2p.connect(addr), JOIN_PROTOCOL, squat))
            assert not answer["ok"] and answer["reason"].startswith(HANDLE_TAKEN), answer
        await join_as(p2p, mallory, c.ledger_url, gid, terms, addrs, {"USD": 500}, "mallory")
        await trio.to_thread.run_sync(
            lambda: c.wait(
                "mallory's admission",
                lambda: all(me.hex() in group_of(n)["balances"] for n in c.nodes),
            )
        )
        for n in c.nodes:  # the squat changed nobody's handle
            handles = group_of(n)["handles"]
            assert handles[me.hex()] == "mallory" and handles[c.members[0].member.hex()] == taken
        # balances, not state digests: each checkpoint also records the ledger height
        snapshot = [group_of(n)["balances"] for n in c.nodes]
        victim = c.members[0].member
        seq = c.members[0].call("GET", "/v1/balance")["next_seq"]
        forged = sign_order(Transfer(victim, seq, me, "USD", 50, b""), {victim: mallory}, gid)
        topic = certificate_topic(gid)
        await p2p.subscribe(topic)
        with trio.fail_after(30 * TIMEOUT_FACTOR):
            await p2p.wait_mesh(topic, 1)
        for _ in range(3):
            for s in c.stewards:
                with contextlib.suppress(P2PError):  # refused, or already cut off
                    await p2p.request(s.member, VOTE_PROTOCOL, Batch((forged,)).encode())
                with contextlib.suppress(P2PError):
                    await p2p.request(s.member, VOTE_PROTOCOL, b"\x93garbage")
            await p2p.publish(topic, b"\xc1 not a certificate")
        stewards = c.stewards
        await trio.to_thread.run_sync(
            lambda: c.wait(
                "every steward to ban mallory",
                lambda: all(me.hex() in s.status()["banned"] for s in stewards),
            )
        )
        for s in stewards:  # and it is refused: nothing it sends is taken any more
            with pytest.raises(P2PError):
                await p2p.request(s.member, JOIN_PROTOCOL, b"\x90", timeout=5)
        assert [group_of(n)["balances"] for n in c.nodes] == snapshot
