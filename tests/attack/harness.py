"""The attacker harness: two real devnets and a rogue node, after Bitcoin Core's
adversarial functional tests (a ``P2PInterface`` that sends any message) and Core
Lightning's ``dev-`` misbehaving peers.

* ``Arena``: two 4-steward devnets of real processes with the same keys (seed
  ``attack``): the **attacked** group and a **control** group that sees no attack. In both,
  ``steward3``'s node is stopped, so the two groups differ only in what the attacker does:
  in the attacked one, the rogue speaks with ``steward3``'s real key (one Byzantine
  steward, the f = 1 the committee of 4 tolerates). ``mallory`` (``Arena.member_key``), a
  member and no steward, joined both groups from the test process with the same deposit,
  so the test speaks for a Byzantine member too.
* ``Rogue``: a real libp2p host (``node.p2p``) with that key (or mallory's, or a
  stranger's), connected to the three honest nodes; it sends any bytes on any stream
  protocol or gossip topic, keeps what it saw to replay it, and answers the honest
  nodes' own requests as a liar.
* ``Arena.verdict()`` after each attack: the honest nodes are alive, none banned another
  honest node, both groups run the same round of payments, and every honest node of the
  attacked group ends with the members' balances and seqs of the control group; and the
  attacked group still completes checkpoints.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from libp2p.peer.peerinfo import info_from_p2p_addr
from multiaddr import Multiaddr
from nacl.signing import SigningKey

from devnet import local_http
from devnet.cluster import seeded_key
from devnet.manage import alive
from node.certification import SYNC_PROTOCOL, VOTE_PROTOCOL
from node.checkpoints import CHECKPOINT_PROTOCOL, STATE_PROTOCOL
from node.handovers import HANDOVER_PROTOCOL
from node.p2p import P2P, open_p2p, peer_id_of
from node.runtime import HELLO_PROTOCOL
from node.stewardship import RESHARE_PROTOCOL
from tests.integration.joining import join_as
from tests.integration.processes import TIMEOUT_FACTOR, devnet_up, swapnet, wait_for

SEED = "attack"
ROGUE = "steward3"
HONEST = ("steward0", "steward1", "steward2")
MEMBER = "mallory"
MEMBER_DEPOSIT = {"USD": 5_000}


@dataclass
class Devnet:
    """One running devnet (its devnet.json record)."""

    base: Path
    record: dict[str, Any]

    def node(self, name: str) -> dict[str, Any]:
        return next(n for n in self.record["nodes"] if n["name"] == name)

    def status(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = local_http.get(
            f"{self.node(name)['api']}/status", timeout=10
        ).json()
        return answer

    def call(self, name: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a control call to ``name``'s node (its cookie); the answer must be 200."""
        node = self.node(name)
        token = Path(node["cookie"]).read_text().strip()
        answer = local_http.post(
            f"{node['api']}{path}",
            json=body,
            headers={"authorization": f"Bearer {token}"},
            timeout=60 * TIMEOUT_FACTOR,
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def pay(self, payer: str, payee: str, amount: int, request_id: str) -> None:
        body = {
            "to": self.node(payee)["member"],
            "asset": "USD",
            "amount": amount,
            "request_id": request_id,
        }
        assert self.call(payer, "/v1/pay", body)["certified"]

    def content(self, name: str) -> tuple[Any, Any]:
        """What the group's state says of every member: balances and seqs (the state
        digest itself differs between two groups: it commits to the group id)."""
        group = self.status(name)["group"]
        return group["balances"], group["last_seqs"]


@dataclass
class Arena:
    attacked: Devnet
    control: Devnet
    rounds: int = 0
    rogue_key: SigningKey = field(default_factory=lambda: seeded_key(SEED, ROGUE))
    member_key: SigningKey = field(default_factory=lambda: seeded_key(SEED, MEMBER))
    """A member (no steward) of both groups, that only the test speaks for."""
    seen: dict[str, list[bytes]] = field(default_factory=dict)
    """Gossip the rogues received, per topic (``gid/topic`` for another group's)."""

    @property
    def group_id(self) -> str:
        return str(self.attacked.status(HONEST[0])["group"]["group_id"])

    def topic(self, name: str) -> str:
        return f"swapnet/1/{self.group_id}/{name}"

    async def admit_member(self) -> None:
        """``member_key`` joins both groups (the same deposit in each)."""

        async def join(devnet: Devnet) -> None:
            gid = bytes.fromhex(devnet.status(HONEST[0])["group"]["group_id"])
            terms = (devnet.base / "nodes" / "terms.txt").read_text()
            addrs = [devnet.status(n)["addresses"][0] for n in HONEST]
            url = devnet.record["ledger"]["url"]
            async with open_p2p(self.member_key) as p2p:
                await join_as(p2p, self.member_key, url, gid, terms, addrs, MEMBER_DEPOSIT, "rogue")
            me = bytes(self.member_key.verify_key).hex()
            await trio.to_thread.run_sync(
                lambda: wait_for(
                    f"{MEMBER}'s admission",
                    lambda: all(
                        devnet.status(n)["group"]["balances"].get(me) == MEMBER_DEPOSIT
                        for n in HONEST
                    ),
                )
            )

        async with trio.open_nursery() as nursery:
            for devnet in (self.attacked, self.control):
                nursery.start_soon(join, devnet)

    def verdict(self) -> None:
        """The attacked group's honest nodes: alive, banning no honest node, agreeing
        with the control group after one more round of payments, still checkpointing."""
        honest = {self.attacked.node(n)["member"] for n in HONEST}
        for name in HONEST:
            node = self.attacked.node(name)
            assert alive(node["pid"]), f"{name} died"
            assert set(self.attacked.status(name)["banned"]).isdisjoint(honest), name
        before = self.attacked.status(HONEST[0])["group"]["checkpoint"]["number"]
        self.rounds += 1
        for devnet in (self.attacked, self.control):
            for i, payer in enumerate(HONEST):
                payee = HONEST[(i + 1) % len(HONEST)]
                devnet.pay(payer, payee, self.rounds + i, f"round-{self.rounds}-{payer}")
        expected = self._settled(self.control)
        for name in HONEST:
            wait_for(
                f"{name} to apply the round", lambda n=name: self.attacked.content(n) == expected
            )
        wait_for(
            "a checkpoint after the attack",
            lambda: self.attacked.status(HONEST[0])["group"]["checkpoint"]["number"] > before,
            timeout=90,
        )

    def _settled(self, devnet: Devnet) -> tuple[Any, Any]:
        """The content every honest node of ``devnet`` agrees on, once they do."""
        seen: list[tuple[Any, Any]] = []

        def agree() -> bool:
            seen[:] = [devnet.content(n) for n in HONEST]
            return all(c == seen[0] for c in seen)

        wait_for("the control group's nodes to agree", agree)
        return seen[0]


@contextmanager
def arena(base: Path) -> Iterator[Arena]:
    """Both devnets up (started side by side), ``steward3`` stopped in each, ``mallory``
    a member of each; down whatever happens."""
    with ExitStack() as stack:

        def up(name: str) -> Devnet:
            stack.enter_context(devnet_up(base / name, 4, seed=SEED))
            swapnet("devnet", "stop", ROGUE, "--dir", str(base / name))
            return Devnet(base / name, json.loads((base / name / "devnet.json").read_text()))

        with ThreadPoolExecutor(2) as pool:
            devnets = [pool.submit(up, name) for name in ("attacked", "control")]
            a = Arena(*(d.result() for d in devnets))
        trio.run(a.admit_member)
        yield a


@dataclass
class Rogue:
    """The attacker's host. What it receives is kept in ``seen`` (the arena's: the next
    test's rogue may replay it). It publishes whether or not it listens: without a
    subscription its messages go to the peers it knows take the topic (gossipsub's
    fanout), which works even while honest nodes keep a departed rogue out of their
    meshes (the prune backoff)."""

    p2p: P2P
    arena: Arena
    subscriptions: dict[str, Any] = field(default_factory=dict)

    @property
    def seen(self) -> dict[str, list[bytes]]:
        return self.arena.seen

    @property
    def honest_members(self) -> list[bytes]:
        return [bytes.fromhex(self.arena.attacked.node(n)["member"]) for n in HONEST]

    async def listen(self, *topics: str, group_id: str | None = None) -> None:
        """Subscribe to ``topics`` of the attacked group (or of ``group_id``'s) and wait
        until an honest node takes the rogue into its mesh."""
        for name in topics:
            topic = f"swapnet/1/{group_id or self.arena.group_id}/{name}"
            self.subscriptions[topic] = await self.p2p.subscribe(topic)
            with trio.fail_after(30 * TIMEOUT_FACTOR):
                await self.p2p.wait_mesh(topic, 1)

    def collect(self) -> None:
        """Move what the subscriptions hold into ``seen``."""
        for topic, sub in self.subscriptions.items():
            while True:
                try:
                    msg = sub.receive_channel.receive_nowait()
                except trio.WouldBlock:
                    break
                _, _, gid, name = topic.split("/")
                kind = name if gid == self.arena.group_id else f"{gid}/{name}"
                self.seen.setdefault(kind, []).append(bytes(msg.data))

    async def publish(self, topic: str, data: bytes) -> None:
        """Publish on the attacked group's ``topic``, once the rogue knows an honest node
        takes it (else gossipsub sends it to nobody; the honest nodes forward what they
        accept to each other, and ``delivered`` checks what each of them refused)."""
        full = self.arena.topic(topic)
        honest = {peer_id_of(m) for m in self.honest_members}
        with trio.fail_after(30 * TIMEOUT_FACTOR):
            while not honest & set(self.p2p.pubsub.peer_topics.get(full, ())):
                await trio.sleep(0.05)
        # our own pubsub would drop a replay of what it saw (its seen cache, by content):
        # a liar's does not
        self.p2p.pubsub.seen_messages.cache.clear()
        await self.p2p.publish(full, data)

    def strikes(self) -> list[int]:
        return [self.arena.attacked.status(n)["refused"]["strikes"] for n in HONEST]

    async def delivered(self) -> None:
        """Wait until every honest node has refused a junk probe sent after everything
        the rogue published before (gossip on one connection is in order): else a test
        could pass on messages still queued when its host closed. The probe is a strike."""
        before = await trio.to_thread.run_sync(self.strikes)
        await self.publish("certificates", b"probe %d" % trio.current_time())
        await self.struck(1, before)

    async def struck(self, count: int, before: list[int]) -> None:
        """Wait until every honest node has struck the rogue ``count`` more times than
        ``before`` (or banned it: then it drops the rest at the door)."""
        me = self.p2p.member_id.hex()

        def arrived() -> bool:
            return all(
                after >= was + count or me in self.arena.attacked.status(name)["banned"]
                for name, after, was in zip(HONEST, self.strikes(), before, strict=True)
            )

        await trio.to_thread.run_sync(lambda: wait_for("the rogue's messages to arrive", arrived))

    async def ask(self, member: bytes, protocol: str, data: bytes) -> bytes | str:
        """A request; the answer, or why there was none."""
        try:
            return await self.p2p.request(member, protocol, data, timeout=10)
        except Exception as exc:  # the point is to see what the honest node does
            return f"{type(exc).__name__}: {exc}"


@asynccontextmanager
async def rogue(
    arena: Arena,
    key: SigningKey | None = None,
    devnet: Devnet | None = None,
    *,
    gossip: bool = True,
) -> AsyncIterator[Rogue]:
    """A rogue host with ``key`` (default: steward3's, a Byzantine steward; or
    ``arena.member_key``, a Byzantine member; or a stranger's), connected
    to the three honest nodes of the attacked group (or of ``devnet``: the two groups'
    nodes have the same peer ids, so one host cannot hold both). A rogue in the group
    waits until the honest nodes take it into their gossip, unless ``gossip`` is False
    (it uses streams only)."""
    stack = AsyncExitStack()
    try:
        p2p = await stack.enter_async_context(open_p2p(key or arena.rogue_key))
        target = devnet or arena.attacked
        addrs = [target.status(n)["addresses"][0] for n in HONEST]
        for addr in addrs:
            with trio.fail_after(30 * TIMEOUT_FACTOR):
                await p2p.connect(addr)
        if gossip and key in (None, arena.member_key):  # in the group: wait for its gossip
            topic = f"swapnet/1/{target.status(HONEST[0])['group']['group_id']}/certificates"
            await _in_gossip(p2p, addrs, topic)
        for protocol in ANSWERED:  # the honest nodes ask it too: it answers (junk), or
            p2p.set_handler(protocol, _junk)  # they reconnect and it misses gossip
        yield Rogue(p2p, arena)
    finally:
        await stack.aclose()  # (open_p2p takes py-libp2p's shutdown race out)


async def _in_gossip(p2p: P2P, addrs: list[str], topic: str) -> None:
    """Wait until every honest node has told the rogue what it subscribes to. A node that
    still holds the previous rogue host's connection (the same peer id, closed a moment
    ago) does not greet the new one: reconnect to it until it does."""
    for _ in range(GREETING_TRIES):
        with trio.move_on_after(5 * TIMEOUT_FACTOR):
            while True:
                known = set(p2p.pubsub.peer_topics.get(topic, ()))
                missing = [
                    a for a in addrs if a.rsplit("/p2p/", 1)[1] not in {str(k) for k in known}
                ]
                if not missing:
                    return
                await trio.sleep(0.1)
        for addr in missing:
            with contextlib.suppress(Exception):
                await p2p.host.disconnect(info_from_p2p_addr(Multiaddr(addr)).peer_id)
            with trio.fail_after(30 * TIMEOUT_FACTOR):
                await p2p.connect(addr)
    raise AssertionError(f"honest nodes never greeted the rogue: {missing}")


GREETING_TRIES = 12
"""Reconnects (5 s each) before a rogue gives up on an honest node's greeting: under a
loaded make test, six were once not enough for one node (stop 23's last run)."""

ANSWERED = (
    SYNC_PROTOCOL,
    STATE_PROTOCOL,
    HELLO_PROTOCOL,
    VOTE_PROTOCOL,
    CHECKPOINT_PROTOCOL,
    HANDOVER_PROTOCOL,  # anti-entropy asks every peer for hand-overs and changes under way
    RESHARE_PROTOCOL,
)


async def _junk(caller: bytes, request: bytes) -> bytes:
    return b"\xc0"
