"""The exit game with real processes: a ledger, a group of 4 stewards and 2 members, and a
second, strict group of 2 stewards.

A member revokes with a stale checkpoint while only one notary is online: it is crawled
back in the window, the revoker loses the revoke fee to the notary, the evidence is
gossiped, the next checkpoint freezes the revoker and puts the premature revoke on its
record, its badge shows it and the strict group's admission policy refuses it. A steward
cheats the same way while no notary runs; the one notary, restarted in the middle of the
window, resumes from its ledger cursor and still crawls it back in time. An honest revoke
(the newest state) is left alone, finalizes and pays exactly the member's balance. The
evidence bundle verifies offline and fails after any single-byte change.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devnet import local_http
from devnet.cluster import Cluster, NodeProc
from node.ledger_devnet import MINE_PER_CALL
from proto.evidence import read_bundle
from proto.genesis import AdmissionPolicy
from tests.integration.processes import (
    ROOT,
    TIMEOUT_FACTOR,
    Ledger,
    ledger_process,
    node_tracebacks,
)

WINDOW = 400  # blocks of 0.3 s: two minutes, so a loaded CI machine still restarts in time
DEPOSIT = {"USD": 100_000}
REVOKE_FEE = 100  # what Cluster.create registers

pytestmark = pytest.mark.xdist_group("processes")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Ledger, Cluster, list[Cluster]]]:
    with ledger_process(tmp_path / "ledger", block_interval=0.3) as ledger:
        c = Cluster.create(
            tmp_path / "g1",
            ledger.url,
            challenge_window=WINDOW,
            timeout=60 * TIMEOUT_FACTOR,
        )
        others: list[Cluster] = []
        try:
            yield ledger, c, others
            for cluster in (c, *others):
                codes = cluster.stop_all()
                assert set(codes.values()) <= {0}, codes
                for n in cluster.nodes:
                    assert not node_tracebacks(n.stderr), n.tail()
        finally:
            for cluster in (c, *others):
                cluster.kill_all()


def group(n: NodeProc) -> dict[str, Any]:
    result: dict[str, Any] = n.status()["group"]
    return result


def wallet(c: Cluster) -> dict[str, Any]:
    gid = group(c.stewards[0])["group_id"]
    result: dict[str, Any] = local_http.get(f"{c.ledger_url}/wallet/{gid}", timeout=10).json()
    return result


def claim_of(c: Cluster, member: NodeProc) -> dict[str, Any] | None:
    for claim in wallet(c).get("claims", []):
        if claim["member"] == member.member.hex():
            return dict(claim)
    return None


def events(c: Cluster, kind: str, member: NodeProc) -> list[dict[str, Any]]:
    body = local_http.get(f"{c.ledger_url}/events", params={"from": 1}, timeout=10).json()
    found, start = [], 1
    while True:
        found += [
            e for e in body["events"] if e["kind"] == kind and e["member"] == member.member.hex()
        ]
        if body["next"] > body["height"]:
            return found
        start = body["next"]
        body = local_http.get(f"{c.ledger_url}/events", params={"from": start}, timeout=10).json()


def swapnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def mine(c: Cluster, blocks: int) -> None:
    for start in range(0, blocks, MINE_PER_CALL):  # the ledger's cap per call
        step = min(MINE_PER_CALL, blocks - start)
        local_http.post(
            f"{c.ledger_url}/mine", json={"blocks": step}, timeout=60
        ).raise_for_status()


def test_notaries_crawl_back_stale_revokes_and_the_evidence_holds(  # noqa: PLR0915
    world: tuple[Ledger, Cluster, list[Cluster]], tmp_path: Path
) -> None:
    ledger, c, others = world
    s1, s2, s3, s4 = c.stewards
    cheat, honest = c.members
    fee_asset = local_http.get(f"{c.ledger_url}/info", timeout=10).json()["fee_asset"]
    for n in c.nodes:
        for asset in ("USD", fee_asset):
            c.faucet(n.member, asset, 1_000_000)
    c.start_stewards()
    c.write_genesis()
    c.start_members()
    c.wait("the wallet to open", lambda: all(group(n)["wallet_open"] for n in c.nodes))
    for n in c.nodes:
        n.call("POST", "/v1/join", {"deposits": DEPOSIT, "handle": n.name})
    c.wait("every join", lambda: all(len(group(n)["balances"]) == 6 for n in c.nodes))

    # the stale checkpoint: everyone holds 100,000; then the cheats pay most of it away
    stale = group(cheat)["checkpoint"]["number"]
    cheat.call("POST", "/v1/pay", {"to": honest.member.hex(), "asset": "USD", "amount": 60_000})
    s3.call("POST", "/v1/pay", {"to": s2.member.hex(), "asset": "USD", "amount": 50_000})

    def settled() -> bool:
        g = group(cheat)
        return (
            g["checkpoint"]["number"] > stale
            and g["orders_since_checkpoint"] == 0
            and all(group(n)["checkpoint"]["number"] > stale for n in c.nodes)
        )

    c.wait("a checkpoint after the payments", settled, timeout=120 * TIMEOUT_FACTOR)
    assert group(cheat)["balances"][cheat.member.hex()] == {"USD": 40_000}

    # 1. only one notary online (s1): the cheat revokes with the stale checkpoint
    for n in (s2, s3, s4, honest):
        assert n.stop() == 0
    fee_before = c.ledger_balance(cheat.member, fee_asset)
    notary_before = c.ledger_balance(s1.member, fee_asset)
    answer = cheat.call("POST", "/v1/revoke", {"checkpoint": stale})
    assert answer["checkpoint"] == stale and answer["claim"] == {"USD": 100_000}
    c.wait(
        "the crawl back in a block",
        lambda: bool(events(c, "crawl-back", cheat)),
        timeout=90 * TIMEOUT_FACTOR,
    )
    claim = claim_of(c, cheat)
    assert claim is not None and claim["balances"] == {"USD": 40_000}
    assert claim["deadline"] > events(c, "crawl-back", cheat)[0]["height"]  # in the window
    (crawl,) = events(c, "crawl-back", cheat)
    assert crawl["detail"]["fee-forfeited"] == REVOKE_FEE
    tx_fee = int(local_http.get(f"{c.ledger_url}/info", timeout=10).json()["min_fee"])
    assert c.ledger_balance(cheat.member, fee_asset) == fee_before - tx_fee - REVOKE_FEE
    assert c.ledger_balance(s1.member, fee_asset) == notary_before - tx_fee  # no bounty
    assert wallet(c)["forfeited"] == REVOKE_FEE  # the cheat's fee stays in the wallet
    c.wait(
        "the evidence at the notary",
        lambda: any(e["revoker"] == cheat.member.hex() for e in group(s1)["notary"]["evidence"]),
    )

    # 2. a notary restarted in the middle of the window. The ledger now refuses revokes
    # below the checkpoint the crawl back showed, so the second cheat (steward s3) starts
    # from the group's newest checkpoint and pays after it.
    for n in (s2, s3, s4):
        c.restart(n)
    highest = wallet(c)["highest_checkpoint"]
    c.wait(
        "s3 at the newest checkpoint",
        lambda: (
            group(s3)["checkpoint"]["number"] >= highest
            and group(s3)["orders_since_checkpoint"] == 0
        ),
        timeout=120 * TIMEOUT_FACTOR,
    )
    stale2 = group(s3)["checkpoint"]["number"]
    s3.call("POST", "/v1/pay", {"to": s2.member.hex(), "asset": "USD", "amount": 30_000})
    c.wait(
        "the notary holding a checkpoint after s3's payment",
        lambda: (
            group(s1)["checkpoint"]["number"] > stale2
            and group(s1)["balances"][s3.member.hex()] == {"USD": 20_000}
            and group(s1)["orders_since_checkpoint"] == 0
        ),
        timeout=120 * TIMEOUT_FACTOR,
    )
    for n in (s2, s4, cheat):
        assert n.stop() == 0
    s1.kill_9()  # no notary runs now (s3 never crawls back its own claim)
    answer = s3.call("POST", "/v1/revoke", {"checkpoint": stale2})
    assert answer["claim"] == {"USD": 50_000}
    c.wait("s3's revoke in a block", lambda: bool(events(c, "revoke", s3)))
    mine(c, 5)
    assert events(c, "crawl-back", s3) == []  # nobody crawled it back
    c.restart(s1)  # resumes from its ledger cursor, in the middle of the window
    c.wait(
        "the restarted notary's crawl back",
        lambda: bool(events(c, "crawl-back", s3)),
        timeout=90 * TIMEOUT_FACTOR,
    )
    assert claim_of(c, s3)["balances"] == {"USD": 20_000}  # type: ignore[index]

    # 3. everyone back: the next checkpoint books both revokes against the revokers
    for n in (s2, s4, honest, cheat):
        c.restart(n)

    def booked() -> bool:
        for n in c.nodes:
            g = group(n)
            if set(g["frozen"]) != {cheat.member.hex(), s3.member.hex()}:
                return False
        return True

    c.wait("the revokes booked everywhere", booked, timeout=120 * TIMEOUT_FACTOR)
    record = group(s2)["revokes"][cheat.member.hex()]
    assert record == {"revokes": 1, "crawl_backs": 1, "premature": 1, "uncovered": 0}

    # 4. the cheat's badge shows it; the strict group's policy refuses it
    badge_file = tmp_path / "cheat.prequal"
    fetched = swapnet(
        "prequal", "fetch", "--api", cheat.api, "--data", str(cheat.data), "--out", str(badge_file)
    )
    assert fetched.returncode == 0, fetched.stderr
    checked = swapnet("prequal", "verify", str(badge_file), "--ledger-url", c.ledger_url, "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["history"]["premature_revokes"] == 1
    strict = Cluster.create(
        tmp_path / "g2",
        ledger.url,
        stewards=2,
        members=0,
        checkpoint_interval=30,
        timeout=60 * TIMEOUT_FACTOR,
        name="strict",
        policy=AdmissionPolicy(0, 0, (bytes.fromhex(wallet(c)["key"]),), 1, 100_000),
    )
    others.append(strict)
    for n in strict.nodes:
        strict.faucet(n.member, fee_asset, 1_000_000)
    strict.start_stewards()
    strict.write_genesis()
    refused = swapnet(
        "prequal", "verify", str(badge_file), "--policy", str(strict.base / "group.genesis")
    )
    assert refused.returncode == 1 and "premature" in refused.stderr
    guest = strict.guest("cheat-elsewhere", cheat.key)
    guest.start([s.addr for s in strict.stewards], strict.timeout)
    # its signing timeout is two checkpoint intervals (60 s): a first FROST attempt that
    # starts before both stewards are up stalls once and is retried, so wait out a retry
    strict.wait("the strict wallet", lambda: group(guest)["wallet_open"], 150 * TIMEOUT_FACTOR)
    usd_before = c.ledger_balance(cheat.member, "USD")
    with pytest.raises(Exception, match=r"join-refused.*premature"):
        guest.call(
            "POST",
            "/v1/join",
            {
                "deposits": {"USD": 10},
                "prequals": [badge_file.read_bytes().hex()],
                "handle": "cheat",
            },
        )
    assert c.ledger_balance(cheat.member, "USD") == usd_before  # refused before any deposit

    # 5. the evidence bundle, from the notary, verifies offline; any changed byte breaks it
    bundle_file = tmp_path / "cheat.evidence"
    exported = swapnet(
        "evidence",
        "export",
        "--api",
        s1.api,
        "--data",
        str(s1.data),
        "--member",
        cheat.member.hex(),
        "--out",
        str(bundle_file),
    )
    assert exported.returncode == 0, exported.stderr
    verified = swapnet("evidence", "verify", str(bundle_file))
    assert verified.returncode == 0, verified.stderr
    assert "premature revoke" in verified.stdout and "100000 USD" in verified.stdout
    facts = json.loads(swapnet("evidence", "verify", str(bundle_file), "--json").stdout)
    assert facts["premature"] and facts["revoker"] == cheat.member.hex()
    assert facts["stale"]["balances"] == {"USD": 100_000}
    assert facts["newer"]["balances"] == {"USD": 40_000}
    data = bundle_file.read_bytes()
    assert read_bundle(data).verify().premature
    broken = 0
    for i in range(len(data)):
        altered = bytearray(data)
        altered[i] ^= 0x01
        try:
            read_bundle(bytes(altered)).verify()
        except Exception:  # any refusal counts; only success would be the bug
            broken += 1
    assert broken == len(data)
    altered_file = tmp_path / "altered.evidence"
    altered_file.write_bytes(data[:40] + bytes([data[40] ^ 1]) + data[41:])
    assert swapnet("evidence", "verify", str(altered_file)).returncode == 1

    # 6. an honest revoke with the newest state: left alone, finalized, paid exactly
    owed = group(honest)["balances"][honest.member.hex()]
    assert owed == {"USD": 160_000}
    usd_before = c.ledger_balance(honest.member, "USD")
    answer = honest.call("POST", "/v1/revoke", {})
    assert answer["claim"] == owed
    c.wait("the honest revoke in a block", lambda: bool(events(c, "revoke", honest)))
    mine(c, WINDOW + 1)  # past every window: the revokers' own nodes finalize
    c.wait(
        "the honest claim paid",
        lambda: c.ledger_balance(honest.member, "USD") == usd_before + 160_000,
        timeout=90 * TIMEOUT_FACTOR,
    )
    assert events(c, "crawl-back", honest) == [] and events(c, "crawl-back-honest", honest) == []
    c.wait(
        "the cheat's corrected claim paid",
        lambda: claim_of(c, cheat) is None and claim_of(c, s3) is None,
        timeout=90 * TIMEOUT_FACTOR,
    )
    c.wait(
        "the payouts booked",
        lambda: (
            all(
                group(n)["balances"][m.member.hex()] == {}
                for n in c.nodes
                for m in (cheat, honest, s3)
            )
            and all(group(n)["losses"] == {} for n in c.nodes)
        ),
        timeout=120 * TIMEOUT_FACTOR,
    )
    w = wallet(c)
    supply = group(s1)["supply"]
    assert w["balances"]["USD"] == supply["USD"]
