"""Attacks on the libp2p layer by strangers and members, with real hosts on 127.0.0.1:
the gate (``P2P.admits``) that keeps a stranger out of the group's gossip and streams, a
peer id that is no Ed25519 key, a banned peer that dials again, and requests sent
half-way (slowloris) or many at once. After each attack the honest hosts still serve
their members."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import trio
from libp2p import new_host
from libp2p.crypto.secp256k1 import create_new_key_pair as secp256k1_pair
from libp2p.peer.peerinfo import info_from_p2p_addr
from multiaddr import Multiaddr
from nacl.signing import SigningKey

from node.p2p import (
    GOSSIP,
    P2P,
    Limit,
    NoAnswer,
    P2PError,
    PeerGuard,
    open_p2p,
    peer_id_of,
)

TOPIC = "swapnet/test-group"
SYNC, JOIN = "/test/sync/1", "/test/join/1"


@asynccontextmanager
async def group_and_stranger(
    guard: PeerGuard | None = None,
) -> AsyncIterator[tuple[P2P, P2P, P2P, set[bytes]]]:
    """Members a and b (a gates: members everything, strangers only ``JOIN``), and a
    stranger s; a and b share a mesh on ``TOPIC``. Yields (a, b, s, members)."""
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_p2p(SigningKey(b"\x31" * 32), guard=guard))
        b = await stack.enter_async_context(open_p2p(SigningKey(b"\x32" * 32)))
        s = await stack.enter_async_context(open_p2p(SigningKey(b"\x33" * 32)))
        members = {a.member_id, b.member_id}
        a.admits = lambda m, what: what == JOIN or m in members

        async def answer(caller: bytes, request: bytes) -> bytes:
            return b"state of the group"

        a.set_handler(SYNC, answer)
        a.set_handler(JOIN, answer)
        for host in (a, b):
            host.set_validator(TOPIC, lambda publisher, data: True)
        yield a, b, s, members


def drained(subscription: object) -> list[bytes]:
    """What a subscription holds now (its own publishes are delivered to it too)."""
    out = []
    while True:
        try:
            out.append(bytes(subscription.receive_channel.receive_nowait().data))  # type: ignore[attr-defined]
        except trio.WouldBlock:
            return out


async def test_a_stranger_neither_reads_nor_writes_the_group() -> None:
    """Before: a peer that is no member dialled a steward, joined the mesh and received
    every certificate, checkpoint and evidence message. Now it gets nothing, its messages
    go nowhere, and of the streams it may use only the join."""
    async with group_and_stranger() as (a, b, s, members):
        sub_b = await b.subscribe(TOPIC)
        await a.subscribe(TOPIC)
        sub_s = await s.subscribe(TOPIC)
        await b.connect(a.addrs[0])
        await s.connect(a.addrs[0])
        with trio.fail_after(20):
            await b.wait_mesh(TOPIC, 1)
        for i in range(5):
            await a.publish(TOPIC, b"certificate %d" % i)
            await s.publish(TOPIC, b"junk from a stranger %d" % i)
        got = []
        with trio.fail_after(20):
            while len(got) < 5:
                got.append((await sub_b.get()).data)
        assert got == [b"certificate %d" % i for i in range(5)]  # nothing of the stranger's
        assert s.gossipsub.mesh.get(TOPIC, set()) == set()  # nobody took it into a mesh
        assert not [m for m in drained(sub_s) if m.startswith(b"certificate")]
        with pytest.raises(NoAnswer, match="not a member"):
            await s.request(a.member_id, SYNC, b"give me your state")
        assert await s.request(a.member_id, JOIN, b"let me in") == b"state of the group"
        assert a.declined == 1 and not a.guard.strikes(s.member_id, trio.current_time())
        # admitted later (a checkpoint admits the joiner): its gossip is let in
        members.add(s.member_id)
        with trio.fail_after(20):
            await s.wait_mesh(TOPIC, 1)
        await a.publish(TOPIC, b"certificate after the join")
        with trio.fail_after(20):
            while (await sub_s.get()).data != b"certificate after the join":
                pass
        assert await s.request(a.member_id, SYNC, b"now?") == b"state of the group"


async def test_a_lagging_node_strikes_neither_a_new_member_nor_who_relays_it() -> None:
    """Issue 17 (suspected): a node that has not adopted the checkpoint admitting a new
    member yet sees the member's gossip relayed by another member. It drops it (not a
    member here, yet) without a strike against the new member or the relay, so no
    honest peer is banned for being ahead; once admitted here, its gossip flows."""
    async with group_and_stranger() as (a, b, s, members):
        sub_a = await a.subscribe(TOPIC)
        sub_b = await b.subscribe(TOPIC)
        await s.subscribe(TOPIC)
        await b.connect(a.addrs[0])
        await s.connect(b.addrs[0])  # b (ahead) admits s; a (lagging) does not yet
        with trio.fail_after(20):
            await s.wait_mesh(TOPIC, 1)
            await b.wait_mesh(TOPIC, 2)
        for i in range(20):
            await s.publish(TOPIC, b"order %d from the new member" % i)
        with trio.fail_after(20):
            while len([m for m in drained(sub_b) if m.startswith(b"order")]) < 1:
                await trio.sleep(0.05)
        await b.publish(TOPIC, b"marker")
        with trio.fail_after(20):
            while (await sub_a.get()).data != b"marker":
                pass
        now = trio.current_time()
        assert not a.guard.strikes(s.member_id, now) and not a.guard.strikes(b.member_id, now)
        assert not a.guard.banned(now)
        members.add(s.member_id)  # a adopts the checkpoint that admits s
        await s.publish(TOPIC, b"after the checkpoint")
        with trio.fail_after(20):
            while (await sub_a.get()).data != b"after the checkpoint":
                pass


async def test_strangers_dialling_fast_get_few_slots_and_members_still_get_in() -> None:
    """Issue 17 (suspected): py-libp2p takes a few hundred inbound connections, and
    strangers were swept out only every half second, so a burst of fresh keys could fill
    the slots and keep members out. Now a stranger beyond ``max_strangers`` is dropped as
    it connects, and a member connects and is served all along."""
    async with group_and_stranger() as (a, b, _, _), AsyncExitStack() as stack:
        a.max_strangers = 3
        strangers = [
            await stack.enter_async_context(open_p2p(SigningKey(bytes([0x60 + i]) * 32)))
            for i in range(10)
        ]

        async def dial(host: P2P) -> None:
            with contextlib.suppress(P2PError):
                await host.connect(a.addrs[0])

        async with trio.open_nursery() as nursery:
            for host in strangers:
                nursery.start_soon(dial, host)
        ids = {h.member_id for h in strangers}
        assert len(a.connected_members() & ids) <= 3  # at once, not at the next sweep
        assert len(a.strangers) <= 3
        await b.connect(a.addrs[0])
        assert await b.request(a.member_id, SYNC, b"hello") == b"state of the group"
        assert strangers[0].member_id not in a.guard.banned(trio.current_time())


async def test_a_protocols_limit_declines_an_eager_member_without_a_strike() -> None:
    """Issue 17 (suspected): ``/swapnet/sync/1`` served up to 256 certificate reads per
    request, as fast as a member asked. A protocol whose answers cost us reads now has a
    ``Limit`` per caller; past it the request is declined "busy" unread (no strike: an
    honest node that asks eagerly asks again), and other members are served meanwhile."""
    async with group_and_stranger() as (a, b, s, members):
        members.add(s.member_id)
        calls = []

        async def costly(caller: bytes, request: bytes) -> bytes:
            calls.append(caller)
            await trio.sleep(0.5)  # as if reading many certificates
            return b"certificates"

        a.set_handler(SYNC, costly, Limit(at_once=1, per_second=1.0, burst=3.0))
        await b.connect(a.addrs[0])
        await s.connect(a.addrs[0])
        outcomes: list[bytes | str] = []

        async def ask() -> None:
            try:
                outcomes.append(await b.request(a.member_id, SYNC, b"all of it"))
            except NoAnswer as exc:
                outcomes.append(str(exc))

        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(ask)
            with trio.fail_after(20):  # the other member asks while b's is served
                while not calls:
                    await trio.sleep(0.01)
            assert await s.request(a.member_id, SYNC, b"mine") == b"certificates"
        assert outcomes.count(b"certificates") == 1 and a.busy == 9
        assert all("busy" in str(o) for o in outcomes if o != b"certificates")
        assert calls.count(b.member_id) == 1
        assert not a.guard.strikes(b.member_id, trio.current_time())


async def test_a_peer_whose_id_is_no_ed25519_key_is_dropped_at_once() -> None:
    """Before: a secp256k1 peer sent junk without a strike (strikes are kept per member
    id, and it has none). Now it is disconnected as soon as it connects."""
    async with group_and_stranger() as (a, _, _, _):
        host = new_host(key_pair=secp256k1_pair(b"\x44" * 32))
        async with host.run([Multiaddr("/ip4/127.0.0.1/tcp/0")]):
            info = info_from_p2p_addr(Multiaddr(a.addrs[0]))
            with contextlib.suppress(Exception):
                await host.connect(info)
            network = a.host.get_network()
            with trio.fail_after(20):
                while any(
                    not getattr(c, "is_closed", False)
                    for c in network.connections.get(host.get_id(), [])
                ):
                    await trio.sleep(0.05)


async def test_a_banned_peer_that_dials_again_is_dropped_at_once() -> None:
    guard = PeerGuard(max_strikes=2)
    async with group_and_stranger(guard) as (a, b, _, _):
        await b.connect(a.addrs[0])
        for _ in range(2):
            with contextlib.suppress(P2PError):
                await b.request(a.member_id, SYNC, b"")  # answered: no strike
        a.punish(b.member_id)
        a.punish(b.member_id)
        assert a.guard.is_banned(b.member_id, trio.current_time())
        with trio.fail_after(20):
            while b.member_id in a.connected_members():
                await trio.sleep(0.05)
        with contextlib.suppress(P2PError):
            await b.connect(a.addrs[0])
        with trio.fail_after(20):
            while b.member_id in a.connected_members():
                await trio.sleep(0.05)
        with pytest.raises(P2PError):
            await b.request(a.member_id, SYNC, b"still there?", timeout=5)


async def test_half_sent_and_too_many_requests_are_cut_off() -> None:
    """Before: half-sent requests were held with no read timeout and no cap per peer (800
    streams from one peer took a steward from 108 to 961 MiB in 12 s). Now a request must
    arrive whole within the read timeout, and a peer has at most a few served at once;
    past that, strikes and a ban. The honest member is still served."""
    guard = PeerGuard(max_strikes=3)
    async with group_and_stranger(guard) as (a, b, s, members):
        a.read_timeout, a.max_streams_per_peer = 1.0, 4
        members.add(s.member_id)  # a member, this time: the gate lets its streams in
        await s.connect(a.addrs[0])
        await b.connect(a.addrs[0])
        opened = []
        for _ in range(12):  # streams that never send their request
            with contextlib.suppress(Exception):
                opened.append(await s.host.new_stream(peer_id_of(a.member_id), [SYNC]))
        with trio.fail_after(20):
            while not a.guard.is_banned(s.member_id, trio.current_time()):
                await trio.sleep(0.05)
        assert max(a.serving.values(), default=0) <= 4
        assert await b.request(a.member_id, SYNC, b"hello") == b"state of the group"
        with trio.fail_after(20):  # the half-sent ones are dropped, not held
            while a.serving:
                await trio.sleep(0.05)
        assert GOSSIP == "gossip"


async def test_a_dial_to_a_peer_that_goes_silent_can_be_given_up() -> None:
    """Before: one silent peer (a listener that takes the connection and never speaks)
    froze the node's dial loop for good. A dial is cancellable, so the loop's timeout
    (``node.runtime.DIAL_TIMEOUT``) moves on."""
    async with group_and_stranger() as (a, _, s, _):
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        held = []

        async def accept_and_stay_silent() -> None:
            while True:
                held.append(await listeners[0].accept())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept_and_stay_silent)
            addr = f"/ip4/127.0.0.1/tcp/{port}/p2p/{s.peer_id}"
            start = trio.current_time()
            with trio.move_on_after(2) as dial:
                with contextlib.suppress(P2PError):
                    await a.connect(addr)
            assert dial.cancelled_caught or trio.current_time() - start < 2
            assert trio.current_time() - start < 10
            nursery.cancel_scope.cancel()
        for stream in held:
            await stream.aclose()
