"""libp2p glue: a host whose peer id is the trader's own Ed25519 key, gossipsub set up as
../shared/notes/libp2p.md advises, and one-request-per-stream protocols.

Identity: the peer id is derived from the trader's key, so "the peer that speaks" and "the
member that signed" are one key (``member_of`` maps a peer id back to a member id).

Gossip: heartbeat 1 s and no adaptive stretching; ``/meshsub/1.1.0`` (1.2's IDONTWANT
halves throughput in small meshes); content-addressed message ids (identical payloads
are one message); subscription channels of ``SUBSCRIPTION_QUEUE`` entries; the per-topic
spam limit off, since the node applies its own per-member limits in its validators.
Gossip is best effort: correctness comes from the sync protocol over streams.

Streams: a request is one varint-prefixed message on a new stream; the reply is one
varint-prefixed frame back: a kind byte, then the answer (``ANSWER``) or the reason the
handler declined (``REFUSAL``, UTF-8, at most ``MAX_REASON`` bytes). Messages are bounded
by ``MAX_FRAME``. The handler learns the caller's member id from the authenticated
connection, never from the payload. A request always returns within its timeout. A
handler that declines raises ``Refused`` and the caller gets ``NoAnswer`` with the
reason; one that fails closes the stream unanswered (``NoAnswer`` too). A peer whose
streams cannot be opened or time out ``RESET_AFTER_FAILURES`` times in a row is
reconnected, since its connection is wedged.

Gating (``admits``): the node says who may open a stream of each protocol and who may take
part in gossip (``GOSSIP``): its group's members, and a stranger only the join protocol.
A peer whose id is not an Ed25519 key is disconnected as soon as it connects; a stream
from a peer not admitted to its protocol is declined before its request is read; gossip
from peers not admitted is held or dropped and pubsub opens no stream to them, so a
stranger neither receives nor sends a group message (a member admitted later is let in
as soon as it is). At most
``MAX_STRANGERS`` peers that are not members stay connected, each at most
``STRANGER_SECONDS``.

Bounds per peer: at most ``MAX_STREAMS_PER_PEER`` requests served at once (more are a
strike); a request must arrive whole within ``READ_TIMEOUT`` (a slow one is a strike) and
an answer leave within ``WRITE_TIMEOUT``; a protocol whose answers cost us reads may set a
``Limit`` per caller (requests at once and per second; past it: declined "busy", no
strike).

Hygiene (``PeerGuard``): every gossip message counts against its publisher's token bucket
(a flood is dropped and counts as a strike); a message the topic validator refuses, or a
stream request the handler cannot decode, is a strike; at ``max_strikes`` the member is
banned for ``ban_seconds``: disconnected at once, its messages and streams refused while
the ban lasts, and disconnected again as soon as it reconnects.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import Ed25519PublicKey, create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub import pubsub as pubsub_module
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pubsub import Pubsub, get_content_addressed_msg_id
from libp2p.tools.anyio_service import background_trio_service
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited
from multiaddr import Multiaddr
from nacl.signing import SigningKey

from node.background import spawn
from proto.codec import Wire, decode
from proto.errors import RemoteProtocolError

logging.getLogger("libp2p").setLevel(logging.WARNING)

GOSSIP_PROTOCOL = TProtocol("/meshsub/1.1.0")
SUBSCRIPTION_QUEUE = 4096
MAX_FRAME = 1 << 20
ANSWER, REFUSAL = 0, 1
"""The kind byte that starts a reply frame."""
MAX_REASON = 200
REQUEST_TIMEOUT = 10.0
RESET_AFTER_FAILURES = 3
GOSSIP = "gossip"
"""What ``admits`` is asked for the group's gossip (any topic)."""
MAX_STREAMS_PER_PEER = 32
READ_TIMEOUT = 10.0
WRITE_TIMEOUT = 10.0
MAX_STRANGERS = 32
STRANGER_SECONDS = 60.0
NOT_ADMITTED = b"not a member of this group"
MAX_HELD_SUBSCRIPTIONS = 16
KEPT_BUCKETS = 4096
"""Token buckets kept per limit before the full ones are forgotten."""

Validator = Callable[[bytes, bytes], bool]
"""(member id of the publisher, payload) -> deliver and forward?"""
Handler = Callable[[bytes, bytes], Awaitable[bytes]]
"""(member id of the caller, request) -> response."""


class P2PError(Exception):
    """A peer could not be reached, or broke the stream protocol."""


class NoAnswer(P2PError):
    """The peer took the request and gave no answer: it declined (the message says why),
    its handler failed, or it went away. Not a sign of a wedged connection, so it does
    not count towards a reconnect."""


async def wire_messages(subscription: Any) -> AsyncIterator[Wire]:
    """What a topic subscription delivers, decoded (its validator let it through; one
    that does not decode now is skipped)."""
    async for msg in subscription:
        try:
            yield decode(bytes(msg.data), Wire)
        except RemoteProtocolError:
            continue


class NotNow(Exception):
    """Raised by a topic validator for a message that may be good but that this node
    cannot judge yet (a certificate of an epoch it has not entered): dropped, not
    forwarded, and no strike against its publisher."""


class Refused(Exception):
    """Raised by a handler that declines a request (not a protocol breach: no strike);
    the caller gets ``NoAnswer`` with this reason."""


@dataclass
class TokenBuckets:
    """A token bucket per member: ``rate`` per second sustained, ``burst`` at once (pure
    bookkeeping; time is handed in)."""

    rate: float
    burst: float

    def __post_init__(self) -> None:
        self._buckets: dict[bytes, tuple[float, float]] = {}

    def allow(self, member: bytes, now: float) -> bool:
        tokens, last = self._buckets.get(member, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if len(self._buckets) >= KEPT_BUCKETS and member not in self._buckets:
            self._forget_full(now)  # strangers rotating keys must not grow this for ever
        if tokens < 1:
            self._buckets[member] = (tokens, now)
            return False
        self._buckets[member] = (tokens - 1, now)
        return True

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled (a missing bucket is a full one)."""
        self._buckets = {
            m: (tokens, last)
            for m, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate < self.burst
        }


@dataclass(frozen=True)
class Limit:
    """What one caller may ask of one stream protocol: ``at_once`` requests being served,
    ``per_second`` sustained (``burst`` at once). A request beyond it is declined
    ("busy", no strike: an honest peer that asks too eagerly just asks again later)."""

    at_once: int = MAX_STREAMS_PER_PEER
    per_second: float = 1_000.0
    burst: float = 1_000.0


BUSY = b"busy: ask again later"


@dataclass
class PeerGuard:
    """Per-member rate limits and strikes (pure bookkeeping; time is handed in)."""

    rate: float = 200.0
    """Gossip messages per second a member may publish, sustained."""
    burst: float = 1000.0
    max_strikes: int = 5
    ban_seconds: float = 300.0
    strike_window: float = 60.0
    """Strikes older than this are forgotten: a peer that misbehaves in earnest reaches
    ``max_strikes`` within seconds, while a rare transport glitch under load (py-libp2p
    has handed us a mangled stream frame from an honest peer) never adds up to a ban."""

    def __post_init__(self) -> None:
        self._buckets = TokenBuckets(self.rate, self.burst)
        self._strikes: dict[bytes, list[float]] = {}
        self._banned_until: dict[bytes, float] = {}

    def allow(self, member: bytes, now: float) -> bool:
        return self._buckets.allow(member, now)

    def strike(self, member: bytes, now: float) -> bool:
        """Count a strike; True when it bans the member (the caller disconnects it)."""
        recent = [t for t in self._strikes.get(member, []) if now - t < self.strike_window]
        recent.append(now)
        if len(recent) >= self.max_strikes:
            self._strikes[member] = []
            self._banned_until[member] = now + self.ban_seconds
            return True
        self._strikes[member] = recent
        return False

    def is_banned(self, member: bytes, now: float) -> bool:
        return self._banned_until.get(member, float("-inf")) > now

    def banned(self, now: float) -> list[bytes]:
        return sorted(m for m, until in self._banned_until.items() if until > now)

    def strikes(self, member: bytes, now: float) -> int:
        """Strikes within the window before ``now``."""
        return sum(1 for t in self._strikes.get(member, []) if now - t < self.strike_window)


@contextmanager
def counted(counts: dict[bytes, int], key: bytes) -> Iterator[None]:
    """``counts[key]`` one higher while the block runs (a key at zero is dropped, so the
    map holds only callers with something in progress)."""
    counts[key] = counts.get(key, 0) + 1
    try:
        yield
    finally:
        left = counts.pop(key) - 1
        if left:
            counts[key] = left


def peer_id_of(member: bytes) -> ID:
    return ID.from_pubkey(Ed25519PublicKey.from_bytes(member))


def member_of(peer: ID | bytes) -> bytes | None:
    """The member id (raw Ed25519 key) behind a peer id, or None for other key types.
    Asked for every gossip frame and stream, so the parse is remembered per peer id."""
    return _member_of_raw(peer.to_bytes() if isinstance(peer, ID) else bytes(peer))


@lru_cache(maxsize=4096)
def _member_of_raw(raw: bytes) -> bytes | None:
    try:
        key = ID(raw).extract_public_key()
    except Exception:
        return None
    if not isinstance(key, Ed25519PublicKey):
        return None
    return key.to_bytes()


@dataclass
class P2P:
    key: SigningKey
    host: Any
    pubsub: Pubsub
    gossipsub: GossipSub
    nursery: trio.Nursery
    guard: PeerGuard
    failures: dict[bytes, int] = field(default_factory=dict)
    """Requests to each member that failed in a row: at ``RESET_AFTER_FAILURES`` the
    connection is closed, so the dial loop dials afresh (py-libp2p can leave a yamux
    connection that opens no more streams under heavy load)."""
    admits: Callable[[bytes, str], bool] = field(default=lambda member, what: True)
    """May ``member`` open a stream of protocol ``what`` (or take part in ``GOSSIP``)?
    The node sets it from its group; until then everyone may."""
    serving: dict[bytes, int] = field(default_factory=dict)
    """Requests being served per peer."""
    strangers: dict[bytes, float] = field(default_factory=dict)
    """Connected peers that are not admitted to gossip, by when we first saw them."""
    held_subscriptions: dict[ID, list[Any]] = field(default_factory=dict)
    """Gossip subscriptions of connected peers not admitted (yet): taken if they are."""
    declined: int = 0
    """Streams declined because the caller was not admitted to their protocol."""
    busy: int = 0
    """Streams declined because the caller was past its protocol's ``Limit``."""
    strikes: int = 0
    """Strikes given (refused gossip, undecodable or slow requests, too many streams)."""
    read_timeout: float = READ_TIMEOUT
    max_streams_per_peer: int = MAX_STREAMS_PER_PEER
    max_strangers: int = MAX_STRANGERS

    def punish(self, member: bytes) -> None:
        """A strike against ``member``; on a ban, disconnect it in the background."""
        self.strikes += 1
        if self.guard.strike(member, trio.current_time()):
            logging.getLogger(__name__).warning("banning %s", member.hex()[:16])
            self._later(self._disconnect, member)

    async def keep_banned_out(self) -> None:
        """Every half second: drop banned peers that dialled again and strangers beyond
        ``MAX_STRANGERS`` or ``STRANGER_SECONDS``, and let in the gossip of peers admitted
        since they connected."""
        while True:
            await trio.sleep(0.5)
            now = trio.current_time()
            connected = self.connected_members()
            for member in connected:
                if self.guard.is_banned(member, now):
                    await self._disconnect(member)
                elif self.admits(member, GOSSIP):
                    self.strangers.pop(member, None)
                    if peer_id_of(member) in self.held_subscriptions:
                        await self._let_in(peer_id_of(member))
                else:
                    self.strangers.setdefault(member, now)
            for member in list(self.strangers):
                if member not in connected:
                    del self.strangers[member]
                    self.held_subscriptions.pop(peer_id_of(member), None)
            by_age = sorted(self.strangers, key=self.strangers.__getitem__)
            for i, member in enumerate(by_age):
                if i >= self.max_strangers or now - self.strangers[member] > STRANGER_SECONDS:
                    del self.strangers[member]
                    await self._disconnect(member)

    def gate(self) -> None:
        """Put ``admits`` in front of gossip: pubsub opens no stream to a peer that is not
        admitted and takes nothing from one (its subscriptions are held, its messages and
        control frames dropped), so a stranger neither receives nor sends a group message;
        and a non-Ed25519 or banned peer is disconnected as soon as it connects."""
        pubsub, router = self.pubsub, self.gossipsub
        open_to, subscribe = pubsub._handle_new_peer, pubsub.handle_subscription
        push, control = pubsub.push_msg, router.handle_rpc
        self._open_to: Callable[[ID], Awaitable[None]] = open_to
        self._subscribe: Callable[[ID, Any], None] = subscribe

        def admitted(peer: ID) -> bool:
            member = member_of(peer)
            return member is not None and self.admits(member, GOSSIP)

        async def handle_new_peer(peer: ID) -> None:
            if admitted(peer):
                await open_to(peer)
            elif member_of(peer) is not None:  # held until it is admitted or leaves
                self.held_subscriptions.setdefault(peer, [])

        def handle_subscription(peer: ID, message: Any) -> None:
            if admitted(peer):
                subscribe(peer, message)
            elif member_of(peer) is not None:  # no entry a non-Ed25519 peer could pile up
                held = self.held_subscriptions.setdefault(peer, [])
                if len(held) < MAX_HELD_SUBSCRIPTIONS:
                    held.append(message)

        async def push_msg(forwarder: ID, msg: Any) -> None:
            if admitted(forwarder):
                await push(forwarder, msg)

        async def handle_rpc(rpc: Any, peer: ID) -> None:
            if admitted(peer):
                await control(rpc, peer)

        pubsub._handle_new_peer = handle_new_peer  # type: ignore[method-assign,assignment]
        pubsub.handle_subscription = handle_subscription  # type: ignore[method-assign,assignment]
        pubsub.push_msg = push_msg  # type: ignore[method-assign,assignment]
        router.handle_rpc = handle_rpc  # type: ignore[method-assign,assignment]
        self.host.get_network().register_notifee(_Doorman(self))

    async def _let_in(self, peer: ID) -> None:
        """A peer whose gossip we held is admitted now: open to it and take its held
        subscriptions, as if it had just connected."""
        held = self.held_subscriptions.pop(peer, [])
        try:
            await self._open_to(peer)
        except Exception as exc:
            logging.getLogger(__name__).info("gossip with %s not opened: %r", peer, exc)
        for message in held:
            self._subscribe(peer, message)

    def _later(self, task: Callable[[bytes], Awaitable[None]], member: bytes) -> None:
        """Run ``task(member)`` in the background; nothing once the host is stopping (a
        validator may still run while pubsub shuts down)."""
        spawn(self.nursery, task, member)

    async def _disconnect(self, member: bytes) -> None:
        try:
            await self.host.disconnect(peer_id_of(member))
        except Exception as exc:
            logging.getLogger(__name__).info("disconnect of %s: %s", member.hex()[:16], exc)

    @property
    def member_id(self) -> bytes:
        return bytes(self.key.verify_key)

    @property
    def peer_id(self) -> ID:
        peer: ID = self.host.get_id()
        return peer

    @property
    def addrs(self) -> list[str]:
        return [str(a) for a in self.host.get_addrs()]

    async def connect(self, addr: str) -> bytes:
        """Dial a peer at a full multiaddr (ending in /p2p/...); return its member id."""
        info = info_from_p2p_addr(Multiaddr(addr))
        unblock = getattr(self.host.get_network(), "unblock_peer", None)
        if unblock is not None:  # a failed dial bars the peer for 60 s; we redial on purpose
            unblock(info.peer_id)
        self._forget_closed(info.peer_id)
        try:
            await self.host.connect(info)
        except Exception as exc:
            raise P2PError(f"cannot connect to {addr}: {exc}") from exc
        member = member_of(info.peer_id)
        if member is None:
            raise P2PError(f"{addr} is not an Ed25519 peer")
        return member

    def connected_members(self) -> set[bytes]:
        """Members we hold an open connection to (py-libp2p keeps closed ones listed)."""
        out = set()
        for peer, conns in list(self.host.get_network().connections.items()):
            if _alive(conns if isinstance(conns, list) else [conns]):
                member = member_of(peer)
                if member is not None:
                    out.add(member)
        return out

    def _forget_closed(self, peer: ID) -> None:
        """Drop closed connections py-libp2p still lists for ``peer``: while one is
        listed, ``host.connect`` believes it is connected and never dials again."""
        connections = self.host.get_network().connections
        listed = connections.get(peer)
        if not isinstance(listed, list):
            return
        alive = _alive(listed)
        if not alive:
            del connections[peer]
        elif len(alive) != len(listed):
            connections[peer] = alive

    # -- gossip -------------------------------------------------------------------------
    def set_validator(self, topic: str, validator: Validator) -> None:
        def check(forwarder: ID, msg: Any) -> bool:
            now = trio.current_time()
            publisher = member_of(msg.from_id)
            relay = member_of(forwarder)
            if publisher is None:
                if relay is not None:
                    self.punish(relay)
                return False
            if not self.admits(publisher, GOSSIP):
                return False  # a stranger's message, whoever relays it
            if self.guard.is_banned(publisher, now):
                self._later(self._disconnect, publisher)  # back again: out again
                return False
            if not self.guard.allow(publisher, now):
                self.punish(publisher)
                return False
            try:
                if validator(publisher, bytes(msg.data)):
                    return True
            except NotNow:
                return False
            self.punish(publisher)
            return False

        self.pubsub.set_topic_validator(topic, check, False)

    async def subscribe(self, topic: str) -> Any:
        pubsub_module.SUBSCRIPTION_CHANNEL_SIZE = SUBSCRIPTION_QUEUE  # read at subscribe()
        return await self.pubsub.subscribe(topic)

    async def publish(self, topic: str, data: bytes) -> None:
        await self.pubsub.publish(topic, data)

    async def wait_mesh(self, topic: str, peers: int) -> None:
        """Wait until ``peers`` peers are in this node's mesh (or fanout) for ``topic``."""
        while len(self.gossipsub.mesh.get(topic, set())) < peers:
            await trio.sleep(0.05)

    # -- request/response over streams --------------------------------------------------
    def set_handler(self, protocol: str, handler: Handler, limit: Limit | None = None) -> None:
        """Serve ``protocol`` with ``handler``, each caller within ``limit`` (by default
        only the per-peer stream cap)."""
        limit = limit or Limit()
        buckets = TokenBuckets(limit.per_second, limit.burst)
        serving: dict[bytes, int] = {}  # this protocol's requests being served, per caller

        async def decline(stream: Any, reason: bytes) -> None:
            with trio.move_on_after(WRITE_TIMEOUT):
                await stream.write(encode_varint_prefixed(bytes([REFUSAL]) + reason))
                await stream.close()

        async def serve(stream: Any) -> None:
            caller = member_of(stream.muxed_conn.peer_id)
            now = trio.current_time()
            if caller is None or self.guard.is_banned(caller, now):
                await stream.reset()
                return
            if not self.admits(caller, protocol):  # declined unread: no strike, a joiner
                self.declined += 1  # may ask before the checkpoint that admits it
                await decline(stream, NOT_ADMITTED)
                return
            if self.serving.get(caller, 0) >= self.max_streams_per_peer:
                self.punish(caller)
                await stream.reset()
                return
            if serving.get(caller, 0) >= limit.at_once or not buckets.allow(caller, now):
                self.busy += 1
                await decline(stream, BUSY)
                return
            try:
                with counted(self.serving, caller), counted(serving, caller):
                    with trio.fail_after(self.read_timeout):
                        request = await read_varint_prefixed_bytes_limited(stream, MAX_FRAME)
                    try:
                        reply = bytes([ANSWER]) + await handler(caller, request)
                    except Refused as exc:
                        reply = bytes([REFUSAL]) + str(exc).encode()[:MAX_REASON]
                    with trio.fail_after(WRITE_TIMEOUT):
                        await stream.write(encode_varint_prefixed(reply))
            except (RemoteProtocolError, trio.TooSlowError) as exc:  # garbage or slowloris
                self.punish(caller)
                logging.getLogger(__name__).info(
                    "stream %s from %s broke the protocol: %r", protocol, caller.hex()[:16], exc
                )
            except Exception as exc:
                logging.getLogger(__name__).info(
                    "stream %s from %s failed: %r", protocol, caller.hex()[:16], exc
                )
            finally:
                with trio.move_on_after(WRITE_TIMEOUT):
                    await stream.close()

        self.host.set_stream_handler(TProtocol(protocol), serve)

    async def request(
        self, member: bytes, protocol: str, payload: bytes, timeout: float = REQUEST_TIMEOUT
    ) -> bytes:
        """Send ``payload`` on a new stream and read one framed answer, within ``timeout``.

        The stream work runs in a task of its own: when opening a stream fails or is
        cancelled, py-libp2p resets it inside a *shielded* scope, and on a wedged
        connection that reset never returns, so a timeout around it would never fire.
        The caller waits on the task's answer instead and always gets its timeout; a
        stuck task ends when the reconnect (``_failed``) closes the connection."""
        if len(payload) > MAX_FRAME:
            raise P2PError("request larger than a frame")
        send, receive = trio.open_memory_channel[tuple[bytes | None, BaseException | None]](1)

        async def attempt() -> None:
            try:
                with trio.fail_after(timeout):
                    response = await self._exchange(member, protocol, payload)
                send.send_nowait((response, None))
            except Exception as exc:  # handed to the caller
                send.send_nowait((None, exc))

        try:
            self.nursery.start_soon(attempt)
        except RuntimeError as exc:  # its nursery is closed: the host is stopping
            raise P2PError(f"{protocol} request: the host is stopping") from exc
        with trio.move_on_after(timeout + 1):
            response, error = await receive.receive()
            if error is None and response is not None:
                self.failures.pop(member, None)
                return response
            if isinstance(error, NoAnswer):  # refused: the connection itself works
                self.failures.pop(member, None)
                raise error
            self._failed(member)
            if isinstance(error, trio.TooSlowError):
                raise P2PError(f"{protocol} request timed out") from error
            raise P2PError(f"{protocol} request failed: {error}") from error
        self._failed(member)
        raise P2PError(f"{protocol} request timed out (the stream is stuck)")

    async def _exchange(self, member: bytes, protocol: str, payload: bytes) -> bytes:
        stream = await self.host.new_stream(peer_id_of(member), [TProtocol(protocol)])
        try:
            await stream.write(encode_varint_prefixed(payload))
            try:
                reply: bytes = await read_varint_prefixed_bytes_limited(stream, MAX_FRAME + 1)
            except Exception as exc:
                raise NoAnswer(f"{protocol}: the peer closed the stream unanswered") from exc
        finally:
            await stream.close()
        if reply[:1] == bytes([REFUSAL]):
            reason = reply[1 : 1 + MAX_REASON].decode("utf-8", "replace")
            raise NoAnswer(f"{protocol}: declined: {reason}")
        if reply[:1] != bytes([ANSWER]):
            raise P2PError(f"{protocol}: a reply of no known kind")
        return reply[1:]

    def _failed(self, member: bytes) -> None:
        self.failures[member] = self.failures.get(member, 0) + 1
        if self.failures[member] >= RESET_AFTER_FAILURES:
            self.failures[member] = 0
            logging.getLogger(__name__).warning(
                "requests to %s keep failing: reconnecting", member.hex()[:16]
            )
            self._later(self._reconnect, member)

    async def _reconnect(self, member: bytes) -> None:
        """Close a connection that opens no more streams; the dial loop dials again."""
        await self._disconnect(member)
        self._forget_closed(peer_id_of(member))
        try:
            self.host.get_network().unblock_peer(peer_id_of(member))
        except Exception as exc:  # an older py-libp2p: the next dial waits out the block
            logging.getLogger(__name__).info("unblock of %s: %s", member.hex()[:16], exc)


class _Doorman:
    """A network notifee: a peer whose id is not an Ed25519 key (no member can have it),
    a banned one, or a stranger when ``max_strangers`` are connected already, is
    disconnected as soon as it connects (not at the next sweep: py-libp2p takes at most a
    few hundred inbound connections, and strangers dialling fast would fill them and
    keep members out)."""

    def __init__(self, p2p: P2P) -> None:
        self.p2p = p2p

    async def connected(self, network: Any, conn: Any) -> None:
        p2p, now = self.p2p, trio.current_time()
        member = member_of(conn.muxed_conn.peer_id)
        if member is None or p2p.guard.is_banned(member, now) or not self._room_for(member, now):
            with trio.move_on_after(WRITE_TIMEOUT):
                await conn.close()

    def _room_for(self, member: bytes, now: float) -> bool:
        """A member always; a stranger while fewer than ``max_strangers`` are here."""
        strangers = self.p2p.strangers
        if member in strangers or self.p2p.admits(member, GOSSIP):
            return True
        if len(strangers) >= self.p2p.max_strangers:
            return False
        strangers[member] = now
        return True

    async def disconnected(self, network: Any, conn: Any) -> None:
        pass

    async def opened_stream(self, network: Any, stream: Any) -> None:
        pass

    async def closed_stream(self, network: Any, stream: Any) -> None:
        pass

    async def listen(self, network: Any, multiaddr: Any) -> None:
        pass

    async def listen_close(self, network: Any, multiaddr: Any) -> None:
        pass


def _alive(connections: list[Any]) -> list[Any]:
    """The connections of a peer that are still open."""
    return [c for c in connections if c is not None and not getattr(c, "is_closed", False)]


@asynccontextmanager
async def open_p2p(
    key: SigningKey,
    listen: Sequence[str] = ("/ip4/127.0.0.1/tcp/0",),
    guard: PeerGuard | None = None,
) -> AsyncIterator[P2P]:
    """A running host, pubsub and gossipsub; on exit they stop in the order the field
    notes found safe (gossipsub, then pubsub, then the host)."""
    host = new_host(key_pair=create_new_key_pair(bytes(key)))
    gossipsub = GossipSub(
        [GOSSIP_PROTOCOL],
        degree=6,
        degree_low=4,
        degree_high=12,
        heartbeat_interval=1,
        adaptive_gossip_enabled=False,
        spam_protection_enabled=False,
    )
    pubsub = Pubsub(host, gossipsub, msg_id_constructor=get_content_addressed_msg_id)
    stopping = False
    try:
        async with (
            host.run([Multiaddr(a) for a in listen]),
            background_trio_service(pubsub),
            background_trio_service(gossipsub),
            trio.open_nursery() as nursery,
        ):
            await pubsub.wait_until_ready()
            # A restarted publisher must not reuse seqnos its peers have seen.
            pubsub.counter = time.time_ns()
            p2p = P2P(key, host, pubsub, gossipsub, nursery, guard or PeerGuard())
            p2p.gate()
            nursery.start_soon(p2p.keep_banned_out)
            yield p2p
            stopping = True
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if not stopping:
            raise
        # py-libp2p: a gossip frame read while pubsub stops spawns its handler into a
        # nursery that is already closed; on the way out that is not a failure (a node
        # stopped by SIGTERM exits 0), anything else still is
        _, rest = group.split(is_shutdown_race)
        if rest is not None:
            raise rest from None


def is_shutdown_race(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and "closed to new arrivals" in str(exc)
