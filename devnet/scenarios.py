"""``swapnet devnet scenario NAME``: the seed's stories, played on a running devnet.

* ``trade``: payments between nodes and a swap; every node ends with the same balances.
* ``cheat``: a node pays most of a balance away, then revokes with the checkpoint from
  before: the other nodes' notaries crawl it back, the cheat loses the revoke fee, and
  every node freezes it.
* ``crash``: a steward is killed with -9 while payments flow; the group goes on
  checkpointing; the steward is started again and catches up.
* ``exit``: a node (the next to last) leaves cooperatively; a steward first leaves the
  committee (a change of stewards, asked by it and others of the committee), then its
  ledger account receives exactly its final balance.
* ``pit``: the S&L pit. A node offers to lend USD, the nodes mark BTC, and a trade that
  pays beyond the payer's USD borrows on its credit line; the checkpoint books the loan.
  Then BTC crashes in the marks: the borrower gets a margin call, and after the grace its
  BTC is liquidated to the lender at the mark; what is still owed is written off, a pit
  default on the borrower's prequal. At every checkpoint along the way every node holds
  the same loans and positions.

Each step says what happened; an expectation that does not hold raises
``ScenarioFailed`` (the CLI exits 1). A scenario changes the devnet (the cheat stays
frozen, the leaver stays gone): bring a fresh one up to play it again.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from devnet import local_http
from devnet.chains import Chain, CrawlBack, chain_of
from devnet.manage import Devnet, alive, start
from proto.codec import decode
from proto.committee import Committee
from proto.genesis import Genesis

Say = Callable[[str], None]
SCENARIOS = ("trade", "cheat", "crash", "exit", "pit")


class ScenarioFailed(Exception):
    pass


class Node:
    def __init__(self, record: dict[str, Any]) -> None:
        self.name = record["name"]
        self.member = record["member"]
        self.record = record

    @property
    def api(self) -> str:
        return str(self.record["api"])

    def call(self, method: str, path: str, body: Any = None) -> Any:
        token = Path(self.record["cookie"]).read_text().strip()
        reply = local_http.request(
            method,
            f"{self.api}{path}",
            json=body,
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
        )
        if reply.status_code >= 400:
            raise ScenarioFailed(f"{self.name} {path}: {reply.status_code} {reply.text}")
        return reply.json()

    def group(self) -> dict[str, Any]:
        g: dict[str, Any] = local_http.get(f"{self.api}/status", timeout=10).json()["group"]
        return g


def wait(what: str, predicate: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except (httpx.HTTPError, KeyError, TypeError):
            pass  # a node restarting: ask again
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"timed out waiting for {what}")
        time.sleep(0.2)


def agree(nodes: list[Node]) -> bool:
    groups = [n.group() for n in nodes]
    views = {(g["checkpoint"]["number"], g["state_digest"]) for g in groups}
    return len(views) == 1 and all(g["orders_since_checkpoint"] == 0 for g in groups)


def _nodes(devnet: Devnet) -> list[Node]:
    nodes = [Node(r) for r in devnet.state["nodes"] if alive(r["pid"])]
    if len(nodes) < 2:
        raise ScenarioFailed("fewer than 2 nodes are running")
    return nodes


def _chain(devnet: Devnet) -> tuple[Chain, Genesis]:
    """The devnet's ledger (``devnet.chains``) and the group's genesis."""
    genesis = decode(Path(devnet.state["genesis"]).read_bytes(), Genesis)
    return chain_of(devnet.state["ledger"]), genesis


def trade(devnet: Devnet, say: Say) -> None:
    nodes = _nodes(devnet)
    a, b = nodes[0], nodes[1]
    before = a.group()["balances"]
    a.call("POST", "/v1/pay", {"to": b.member, "asset": "USD", "amount": 1_000})
    say(f"{a.name} paid {b.name} 1000 USD: certified")
    b.call(
        "POST",
        "/v1/swap/quote",
        {
            "give": {"asset": "BTC", "amount": 10},
            "get": {"asset": "USD", "amount": 500},
            "fills": 1,
        },
    )
    a.call(
        "POST",
        "/v1/swap",
        {
            "counterparty": b.member,
            "give": {"asset": "USD", "amount": 500},
            "get": {"asset": "BTC", "amount": 10},
        },
    )
    say(f"{a.name} took {b.name}'s quote: 500 USD for 10 BTC, one order both signed")
    wait("every node to agree at a checkpoint", lambda: agree(nodes))
    after = a.group()["balances"]
    want_a = {
        "USD": before[a.member]["USD"] - 1_500,
        "BTC": before[a.member]["BTC"] + 10,
    }
    if after[a.member] != want_a:
        raise ScenarioFailed(f"{a.name} holds {after[a.member]}, expected {want_a}")
    say(f"every node agrees at checkpoint {a.group()['checkpoint']['number']}: {after[a.member]}")


def cheat(devnet: Devnet, say: Say) -> None:
    nodes = _nodes(devnet)
    cheater, payee, others = nodes[-1], nodes[0], nodes[:-1]
    chain, genesis = _chain(devnet)
    highest = chain.highest_checkpoint(genesis)
    wait(
        "the cheat at the newest checkpoint",
        lambda: (
            cheater.group()["checkpoint"]["number"] >= highest
            and cheater.group()["orders_since_checkpoint"] == 0
        ),
    )
    stale = cheater.group()["checkpoint"]["number"]
    held = cheater.group()["balances"][cheater.member]["USD"]
    cheater.call("POST", "/v1/pay", {"to": payee.member, "asset": "USD", "amount": held - 1})
    say(f"{cheater.name} paid away {held - 1} of its {held} USD")
    wait(
        "a checkpoint after the payment",
        lambda: all(n.group()["checkpoint"]["number"] > stale for n in nodes) and agree(nodes),
    )
    answer = cheater.call("POST", "/v1/revoke", {"checkpoint": stale})
    say(f"{cheater.name} revoked with checkpoint {stale}, claiming {answer['claim']}")

    def crawled() -> list[CrawlBack]:
        return chain.crawl_backs(genesis, bytes.fromhex(cheater.member))

    wait("a notary's crawl back", lambda: bool(crawled()))
    event = crawled()[0]
    say(
        f"crawled back at height {event.height} with checkpoint {event.checkpoint}: "
        f"the claim is now {event.amounts}, "
        f"the cheat forfeited the revoke fee ({event.forfeited})"
    )
    if event.amounts.get("USD", 0) != 1:
        raise ScenarioFailed(f"the corrected claim is {event.amounts}, expected 1 USD")
    wait(
        "every node to freeze the cheat",
        lambda: all(cheater.member in n.group()["frozen"] for n in others),
    )

    def record() -> dict[str, int]:
        found: dict[str, int] = others[0].group()["revokes"][cheater.member]
        return found

    try:  # the freeze is booked at the revoke, the premature mark at the crawl back
        wait("the crawl back in the cheat's record", lambda: record()["premature"] == 1, 30)
    except ScenarioFailed as exc:
        raise ScenarioFailed(f"the record shows {record()}, expected one premature revoke") from exc
    say(f"every node froze {cheater.name}; its record: {record()}")


def crash(devnet: Devnet, say: Say) -> None:
    nodes = _nodes(devnet)
    if len(nodes) < 4:
        raise ScenarioFailed("the crash scenario needs 4 running nodes (one can fail)")
    victim, payer, payee = nodes[1], nodes[0], nodes[2]
    survivors = [n for n in nodes if n is not victim]
    stop = threading.Event()
    paid: list[int] = []

    def load() -> None:
        while not stop.is_set():
            try:
                payer.call("POST", "/v1/pay", {"to": payee.member, "asset": "USD", "amount": 1})
                paid.append(1)
            except (ScenarioFailed, httpx.HTTPError):
                time.sleep(0.2)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        wait("some payments", lambda: len(paid) >= 20)
        os.kill(victim.record["pid"], signal.SIGKILL)
        number = payer.group()["checkpoint"]["number"]
        say(f"killed {victim.name} with -9 after {len(paid)} payments, at checkpoint {number}")
        wait(
            "progress without it",
            lambda: payer.group()["checkpoint"]["number"] >= number + 2 and len(paid) >= 40,
        )
        now = payer.group()["checkpoint"]["number"]
        say(f"the group went on: checkpoint {now}, {len(paid)} payments")
    finally:
        stop.set()
        worker.join(timeout=60)
    victim.record = start(devnet.base, victim.name)
    say(f"started {victim.name} again")
    wait("it to catch up and agree", lambda: agree([*survivors, victim]), timeout=180)
    number = victim.group()["checkpoint"]["number"]
    say(f"{victim.name} caught up: every node at checkpoint {number}")


def exit_(devnet: Devnet, say: Say) -> None:
    nodes = _nodes(devnet)
    leaver, stayer = nodes[-2], nodes[0]  # the last node is the cheat's
    final = stayer.group()["balances"][leaver.member]
    chain, _ = _chain(devnet)
    account = bytes.fromhex(leaver.record["account"])
    before = chain.balances(account)
    if leaver.member in stayer.group()["epoch"]["stewards"]:
        remove_steward(nodes, leaver, say)
    leaver.call("POST", "/v1/exit", {})
    say(f"{leaver.name} asked to leave holding {final}")

    def paid() -> bool:
        now = chain.balances(account)
        return all(now.get(a, 0) == before.get(a, 0) + n for a, n in final.items())

    wait("the settle on the ledger", paid)
    say(f"the stewards settled it: {leaver.name}'s ledger account received exactly {final}")
    wait("the exit closed in a checkpoint", lambda: stayer.group()["balances"][leaver.member] == {})
    say("the next checkpoint shows it holding nothing in the group")


def remove_steward(nodes: list[Node], leaver: Node, say: Say) -> None:
    """A steward leaves the committee before it leaves the group (its share must sign
    nothing once it is gone): it and others of the committee, a quorum, ask for it."""
    epoch = leaver.group()["epoch"]
    stewards = epoch["stewards"]
    askers = [leaver, *(n for n in nodes if n is not leaver and n.member in stewards)]
    quorum = Committee(tuple(bytes.fromhex(s) for s in stewards)).quorum
    for n in askers[:quorum]:
        n.call("POST", "/v1/stewards", {"action": "remove", "member": leaver.member})
    number = epoch["number"] + 1
    wait(f"epoch {number}", lambda: all(n.group()["epoch"]["number"] >= number for n in nodes))
    say(f"{leaver.name} asked to leave the committee; from epoch {number} it signs nothing")


def _active(nodes: list[Node]) -> list[Node]:
    """Nodes that may still sign orders (not frozen by a revoke, not exited)."""
    g = nodes[0].group()
    return [n for n in nodes if n.member not in g["frozen"] and n.member not in g["exited"]]


def pit_agree(nodes: list[Node], after: int) -> int:
    """Wait until every node has adopted the same checkpoint after ``after`` and holds
    the same loans and positions at it; return its number."""
    seen: dict[str, Any] = {}

    def same() -> bool:
        views = [n.group() for n in nodes]
        numbers = {v["checkpoint"]["number"] for v in views}
        if len(numbers) != 1 or min(numbers) <= after:
            return False
        pits = {repr(v["pit_at_checkpoint"]) for v in views}
        digests = {v["checkpoint"]["state_digest"] for v in views}
        seen["number"] = numbers.pop()
        return len(pits) == 1 and len(digests) == 1

    wait("every node to agree on the pit at a checkpoint", same)
    return int(seen["number"])


def _usd_line(node: Node) -> int:
    """The node's own USD credit line (0: none)."""
    lines = node.call("GET", "/v1/lend")["lines"]
    return next((x["line"] for x in lines if (x["member"], x["asset"]) == (node.member, "USD")), 0)


def pit(devnet: Devnet, say: Say) -> None:
    nodes = _nodes(devnet)
    active = _active(nodes)
    if len(active) < 2:
        raise ScenarioFailed("the pit scenario needs 2 nodes that may still trade")
    lender, borrower = active[0], active[1]
    if not lender.group()["pit"]["on"]:
        raise ScenarioFailed("this group has no S&L pit")
    lender.call(
        "POST",
        "/v1/lend/offer",
        {"asset": "USD", "amount": 300_000, "rate_bps": 50, "min_collateral_bps": 15_000},
    )
    say(f"{lender.name} offers 300000 USD at 50 bps a day (collateral at least 150%)")
    for n in active:
        n.call("POST", "/v1/marks", {"asset": "BTC", "price": 10 * 10**8})
    say(f"{len(active)} nodes mark BTC at 10 USD")
    wait("a credit line for the borrower", lambda: _usd_line(borrower) > 0)
    wait(  # the line and the marks may reach a checkpoint apart: pay once both have
        "the BTC mark in every node's pit",
        lambda: all("BTC" in n.group()["pit"]["marks"] for n in active),
    )
    start = pit_agree(nodes, 0)
    line = _usd_line(borrower)
    held = borrower.call("GET", "/v1/balance")["balances"]["USD"]
    borrowed = line // 2
    borrower.call(
        "POST", "/v1/pay", {"to": lender.member, "asset": "USD", "amount": held + borrowed}
    )
    say(f"{borrower.name} pays {held + borrowed} USD holding {held}: {borrowed} on its line")
    wait(
        "the loan booked at a checkpoint",
        lambda: borrower.group()["pit"]["positions"].get(borrower.member, {}).get("owes"),
    )
    booked = pit_agree(nodes, start)
    position = borrower.group()["pit"]["positions"][borrower.member]
    if position["owes"].get("USD", 0) < borrowed:
        raise ScenarioFailed(f"{borrower.name} owes {position['owes']}, borrowed {borrowed}")
    say(f"checkpoint {booked} booked the loan; ratio {position['ratio_bps'] / 100:.0f}%")
    btc_before = lender.call("GET", "/v1/balance")["balances"]["BTC"]
    for n in active:
        n.call("POST", "/v1/marks", {"asset": "BTC", "price": 10**7})
    say("BTC falls to 0.1 USD in every mark")
    wait(
        "a margin call",
        lambda: any(
            c["member"] == borrower.member for c in borrower.group()["pit"]["margin_calls"]
        ),
    )
    called = pit_agree(nodes, booked)
    say(f"{borrower.name} is under a margin call (all nodes agree at checkpoint {called})")
    wait(
        "the liquidation",
        lambda: not borrower.group()["pit"]["positions"].get(borrower.member, {}).get("owes"),
    )
    done = pit_agree(nodes, called)
    btc_after = lender.call("GET", "/v1/balance")["balances"]["BTC"]
    if btc_after <= btc_before:
        raise ScenarioFailed(f"{lender.name} got no BTC from the liquidation")
    badge = lender.call("GET", f"/v1/prequal?member={borrower.member}")
    defaults = badge["history"]["pit_defaults"]
    if defaults < 1 or badge["history"]["pit_liquidations"] < 1:
        raise ScenarioFailed(f"the borrower's record shows {badge['history']}: no liquidation")
    say(
        f"checkpoint {done} liquidated it: {lender.name} took {btc_after - btc_before} BTC at "
        f"the mark; the rest was written off, a pit default on {borrower.name}'s prequal"
    )


PLAYS: dict[str, Callable[[Devnet, Say], None]] = {
    "trade": trade,
    "cheat": cheat,
    "crash": crash,
    "exit": exit_,
    "pit": pit,
}
