"""Swaps between members over ``/swapnet/swap/1`` (the protocol is ``proto.rfq``).

The maker side keeps a quote book: an operator posts quotes (what it gives, what it gets,
with whom or with anyone, how many times). A taker's ``SwapAsk`` that matches a quote
with fills left is answered with the maker's reserved seq; the maker's trader signs
nothing else until the taker's signed swap arrives (``SIGN_WINDOW``) or the window
passes, in which case the seq was never signed and is simply used by the next order.

The taker side holds its own seq reserved for the whole exchange, so it too signs no
other order meanwhile. Once the maker has signed, both queue the same fully signed order.

A swap ties two traders' order chains together, so both sides insist that the other's
seq is its next one by their own replica and that their own earlier orders are all
applied (``QUIET_WAIT``): a swap is then certifiable at once and never makes one trader
wait on the other's orders in flight (a trader that crashed with orders in flight would
otherwise stall everyone who swapped with it, and everyone who swapped with them). A side
whose replica is behind the other's seq syncs with the other first (``CATCH_UP``):
gossip may simply not have brought the other's latest certificates yet.

The taker signs first, and from then on its seq is taken: signing another order with it
would be equivocation. So the maker checks everything before it answers the ask (the
ask names the taker's seq), and an honest maker never refuses the signed swap it agreed
to. If the maker's answer is lost, the taker sends its signed swap again
(``SIGN_TRIES``): the maker answers a swap it signed with the same signature, and signs
one whose window passed before it arrived if its seq is still free. If no answer comes,
the taker's seq stays taken and the API says so (``SwapUnanswered``, a pending outcome,
never "refused"); the taker keeps offering the swap until it is applied or dead: once the
maker's seq in it is used by another order, the maker never signed it (an honest maker
gives no other order a seq it signed), no steward voted for it, and it can never be
applied, so the taker fills its seq with a ``Void`` and its chain goes on. A client that
retries the swap's request id then asks for a new swap.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass

import trio

from node.background import spawn
from node.certification import NotCertified
from node.p2p import P2P, Limit, P2PError, Refused
from node.trader import OrderPending, OrderRefused, Pending, Trader
from proto.codec import Wire, decode
from proto.errors import RemoteProtocolError
from proto.orders import SignedOrder, Swap, Void, order_signature, sign_order
from proto.rfq import SwapAsk, SwapSign, SwapSigned, SwapTerms, ask_of, swap_of
from proto.votes import Certificate

log = logging.getLogger(__name__)

SWAP_PROTOCOL = "/swapnet/swap/1"
SWAP_LIMIT = Limit(at_once=4, per_second=10.0, burst=20.0)


class SwapDeclined(Refused):
    """The maker will not do this swap (not a protocol breach: the taker gets the reason)."""


class SwapUnanswered(OrderPending):
    """We signed the swap and the maker's countersignature never came: our seq stays
    taken by it, and whether the maker submitted it shows by sync."""


SIGN_WINDOW = 10.0
QUIET_WAIT = 0.5
CATCH_UP = 2.0
SIGN_TRIES = 4
SIGN_RETRY = 0.5
"""The pause before the taker's second delivery of its signed swap (doubled after)."""
SIGNED_KEPT = 1024
UNSIGNED_ASKS = 2
"""Asks a taker may leave unsigned (holding our seq for ``SIGN_WINDOW`` each) within
``UNSIGNED_MEMORY`` seconds; past that its asks are declined until the oldest is
forgotten. Our own orders wait for at most one window: the signing lock is fair, and an
ask is declined while anyone holds it."""
UNSIGNED_MEMORY = 60.0
COMPLETE_EVERY = 30.0
"""How often a taker offers a swap it signed and never saw countersigned again."""


@dataclass
class Quote:
    """The maker gives ``give_amount`` of ``give_asset`` for ``get_amount`` of
    ``get_asset``, up to ``fills`` times, to ``counterparty`` (None: anyone)."""

    give_asset: str
    give_amount: int
    get_asset: str
    get_amount: int
    fills: int
    counterparty: bytes | None = None

    def matches(self, taker: bytes, ask: SwapAsk) -> bool:
        return (
            self.fills > 0
            and self.counterparty in (None, taker)
            and (ask.give_asset, ask.give_amount) == (self.get_asset, self.get_amount)
            and (ask.get_asset, ask.get_amount) == (self.give_asset, self.give_amount)
        )


@dataclass
class _Session:
    signed: trio.MemorySendChannel[SwapSign]
    done: trio.Event
    result: bytes | None = None


class SwapDesk:
    def __init__(self, p2p: P2P, trader: Trader, nursery: trio.Nursery) -> None:
        self.p2p = p2p
        self.trader = trader
        self.nursery = nursery
        self.quotes: list[Quote] = []
        self.sessions: dict[bytes, _Session] = {}
        self.signed: OrderedDict[bytes, bytes] = OrderedDict()
        """Order id -> our signature, for the swaps we signed lately (a taker that lost
        our answer and asks again gets the same one)."""
        self.unsigned: dict[bytes, list[float]] = {}
        """Taker -> when its asks we reserved a seq for ran out unsigned, lately."""
        p2p.set_handler(SWAP_PROTOCOL, self._on_request, SWAP_LIMIT)
        for sign in trader.held.values():  # signed before a restart, never countersigned
            maker = next(p.member for p in sign.swap.parties if p.member != trader.id)
            self._keep_offering(maker, sign)

    # -- maker ----------------------------------------------------------------------------
    def quote(self, quote: Quote) -> None:
        self.quotes.append(quote)

    async def _on_request(self, caller: bytes, request: bytes) -> bytes:
        msg = decode(request, Wire)
        if isinstance(msg, SwapAsk):
            return (await self._on_ask(caller, msg)).encode()
        if isinstance(msg, SwapSign):
            return (await self._on_sign(caller, msg)).encode()
        raise RemoteProtocolError("not a swap message")

    def _quote_for(self, taker: bytes, ask: SwapAsk) -> Quote:
        quote = next((q for q in self.quotes if q.matches(taker, ask)), None)
        if quote is None:
            raise SwapDeclined("no quote for that swap")
        if taker in self.sessions:
            raise SwapDeclined("a swap with you is open already")
        if len(self._unsigned_lately(taker)) >= UNSIGNED_ASKS:
            raise SwapDeclined("you left our last swaps unsigned; ask again in a minute")
        if self.trader.signing.locked():  # busy: never queue asks ahead of our own orders
            raise SwapDeclined("busy signing; ask again")
        return quote

    async def _on_ask(self, caller: bytes, ask: SwapAsk) -> SwapTerms:
        quote = self._quote_for(caller, ask)
        reserved = trio.Event()
        agreed: list[Swap] = []
        declined: list[str] = ["this member cannot sign orders now"]

        async def hold() -> None:
            send, receive = trio.open_memory_channel[SwapSign](1)
            session: _Session | None = None
            try:
                async with self.trader.reserved_seq() as seq:
                    swap = swap_of(caller, self.trader.id, seq, ask)
                    problem = await self._problem(caller, swap, seq)
                    if problem is not None:
                        declined.append(problem)
                        return
                    session = _Session(send, trio.Event())
                    self.sessions[caller] = session
                    agreed.append(swap)
                    reserved.set()
                    with trio.move_on_after(SIGN_WINDOW) as window:
                        sign = await receive.receive()
                        session.result = self._sign(caller, sign, swap, quote)
                    if window.cancelled_caught:  # our seq held for nothing
                        self.unsigned[caller] = [
                            *self._unsigned_lately(caller),
                            trio.current_time(),
                        ]
            except OrderRefused as exc:
                declined.append(exc.reason)
            finally:
                reserved.set()
                self.sessions.pop(caller, None)
                if session is not None:
                    session.done.set()

        self.nursery.start_soon(hold)
        await reserved.wait()
        if not agreed:
            raise SwapDeclined(declined[-1])
        return SwapTerms(agreed[0].seq_of(self.trader.id))

    def _unsigned_lately(self, taker: bytes) -> list[float]:
        now = trio.current_time()
        recent = [t for t in self.unsigned.pop(taker, []) if now - t < UNSIGNED_MEMORY]
        if recent:
            self.unsigned[taker] = recent
        return recent

    async def _problem(self, taker: bytes, swap: Swap, seq: int) -> str | None:
        """Why we would not sign ``swap`` with our reserved ``seq`` (None: we would)."""
        if not await self.trader.wait_settled(seq, QUIET_WAIT):
            return "our own orders are in flight; ask again"
        taker_seq = swap.seq_of(taker)
        if not await self._sees(taker, taker_seq):
            return f"seq {taker_seq} is not your next one by our replica"
        try:
            self.trader.check(swap)
        except OrderRefused as exc:
            return exc.reason
        return None

    def _sign(self, taker: bytes, sign: SwapSign, swap: Swap, quote: Quote) -> bytes | None:
        """Countersign the taker's ``sign`` if it is exactly the agreed ``swap`` with a
        valid taker signature; queue the whole order and return our signature."""
        if sign.swap != swap:
            return None
        gid = self.trader.node.group_id
        mine = order_signature(swap, self.trader.key, gid)
        sigs = {taker: sign.taker_signature, self.trader.id: mine}
        signed = SignedOrder(swap, tuple(sigs[p.member] for p in swap.parties))
        try:
            signed.verify(gid)
            self.trader.check(swap)
        except Exception as exc:  # a bad taker signature or no longer payable: sign nothing
            log.warning("not signing the swap from %s: %s", taker.hex()[:16], exc)
            return None
        quote.fills -= 1
        self.trader.queue_signed(signed, durable=True)  # fsync: before our signature leaves
        self.signed[signed.order_id] = mine
        while len(self.signed) > SIGNED_KEPT:
            self.signed.popitem(last=False)
        return mine

    async def _on_sign(self, caller: bytes, sign: SwapSign) -> SwapSigned:
        known = self.signed.get(sign.swap.order_id)
        if known is not None:  # our answer was lost: the same signature again
            return SwapSigned(known)
        session = self.sessions.get(caller)
        if session is None:
            return SwapSigned(await self._sign_late(caller, sign))
        with contextlib.suppress(trio.WouldBlock):  # a second delivery waits on the first
            session.signed.send_nowait(sign)
        await session.done.wait()
        if session.result is None:
            raise SwapDeclined("swap refused")
        return SwapSigned(session.result)

    async def _sign_late(self, taker: bytes, sign: SwapSign) -> bytes:
        """The signed swap came after its window (its first delivery was lost): sign it
        now if our seq in it is still our next one and the ask's checks still hold."""
        ask = ask_of(sign.swap, taker, self.trader.id)
        if ask is None:
            raise SwapDeclined("not a swap between us")
        quote = self._quote_for(taker, ask)
        async with self.trader.reserved_seq() as seq:
            if swap_of(taker, self.trader.id, seq, ask) != sign.swap:
                raise SwapDeclined("our seq in that swap is taken by another order")
            problem = await self._problem(taker, sign.swap, seq)
            if problem is not None:
                raise SwapDeclined(problem)
            mine = self._sign(taker, sign, sign.swap, quote)
        if mine is None:
            raise SwapDeclined("swap refused")
        return mine

    async def _sees(self, member: bytes, seq: int) -> bool:
        """Whether ``seq`` is ``member``'s next seq by our replica, after syncing with it
        if we are behind (gossip may not have brought its latest certificates yet)."""
        node = self.trader.node
        if node.replica.state.next_seq(member) < seq:
            with trio.move_on_after(CATCH_UP):
                try:
                    await node.sync_with(member)
                except (P2PError, RemoteProtocolError) as exc:
                    log.info("sync with %s failed: %s", member.hex()[:16], exc)
        return node.replica.state.next_seq(member) == seq

    # -- taker ----------------------------------------------------------------------------
    async def take(
        self,
        maker: bytes,
        give: tuple[str, int],
        get: tuple[str, int],
        request: bytes | None = None,
    ) -> Certificate | None:
        """Ask ``maker`` to take ``give`` for ``get`` and, if it agrees, certify the swap.
        A ``request`` id seen before gets the first swap's outcome, never a second swap."""
        async with self.trader.reserved_seq() as seq:
            earlier = self.trader.earlier(request)
            if earlier is False:
                earlier = await self._negotiate(maker, SwapAsk(*give, *get, seq), request)
        if not isinstance(earlier, Pending):  # applied already
            return None
        return await self.trader.outcome(earlier)

    async def _negotiate(self, maker: bytes, ask: SwapAsk, request: bytes | None) -> Pending | bool:
        me, seq = self.trader.id, ask.taker_seq
        gid = self.trader.node.group_id
        if not await self.trader.wait_settled(seq, QUIET_WAIT):
            raise OrderRefused("our earlier orders are still in flight; try again")
        try:
            raw = await self.p2p.request(maker, SWAP_PROTOCOL, ask.encode())
            terms = decode(raw, SwapTerms)
        except (P2PError, RemoteProtocolError) as exc:
            raise OrderRefused(f"the maker did not quote: {exc}") from exc
        if not await self._sees(maker, terms.maker_seq):
            raise OrderRefused("the maker has orders in flight; try again")
        swap = swap_of(me, maker, terms.maker_seq, ask)
        self.trader.check(swap)
        sign = SwapSign(swap, order_signature(swap, self.trader.key, gid))
        self.trader.outbox.hold(sign, request)  # fsync: our seq is taken, across restarts
        queued: Pending | None = None
        try:
            signed = await self._countersigned(maker, sign)
            if signed is not None:
                queued = self.trader.queue_signed(signed, request, durable=True)
                return queued
        finally:  # even when cancelled: the seq is never given to another order
            self.trader.next_seq = max(self.trader.next_seq, seq + 1)
            if queued is None:
                self._keep_offering(maker, sign)
        if self.trader.node.replica.state.next_seq(me) > seq:
            return True  # the maker's copy is certified already
        raise SwapUnanswered(
            f"we signed the swap with our seq {seq} and {maker.hex()[:16]} has not "
            "countersigned it: our later orders wait until its copy is certified"
        )

    async def _countersigned(self, maker: bytes, sign: SwapSign) -> SignedOrder | None:
        """The whole swap, once the maker's signature on it came back (None: it did not)."""
        theirs = await self._deliver(maker, sign)
        if theirs is None:
            return None
        sigs = {self.trader.id: sign.taker_signature, maker: theirs}
        signed = SignedOrder(sign.swap, tuple(sigs[p.member] for p in sign.swap.parties))
        try:
            signed.verify(self.trader.node.group_id)
        except RemoteProtocolError as exc:
            log.warning("the maker %s countersigned badly: %s", maker.hex()[:16], exc)
            return None
        return signed

    def _keep_offering(self, maker: bytes, sign: SwapSign) -> None:
        if not spawn(self.nursery, self._complete, maker, sign):  # held on disk meanwhile
            log.info("stopping with a half-signed swap held: offered again at the next start")

    async def _complete(self, maker: bytes, sign: SwapSign) -> None:
        """Offer a half-signed swap of ours to its maker again, every ``COMPLETE_EVERY``,
        until it is applied: a maker that signed it answers with its signature, one that
        never saw it signs it if its seq is still free. Then submit it ourselves. Once the
        maker's seq in it is taken by another order, the swap can never be applied: we
        fill our seq with a ``Void`` instead."""
        me, node = self.trader.id, self.trader.node
        seq = sign.swap.seq_of(me)
        while node.replica.state.next_seq(me) <= seq:
            if node.replica.state.next_seq(maker) > sign.swap.seq_of(maker):
                await self._void(seq)
                break
            signed = await self._countersigned(maker, sign)
            if signed is not None:
                try:
                    await node.submit([signed])
                except NotCertified as exc:
                    log.info("our half-signed swap at seq %d: %s", seq, exc)
            with trio.move_on_after(COMPLETE_EVERY):
                await node.wait_for(lambda: node.replica.state.next_seq(me) > seq)
        self.trader.outbox.release([seq])

    async def _void(self, seq: int) -> None:
        """Fill our ``seq`` with a ``Void`` and certify it (the swap that took it is dead:
        its maker never signed it, so no steward voted for it, and the maker's seq in it
        is used). It goes in the outbox first (fsync), like every order we sign."""
        me, node = self.trader.id, self.trader.node
        void = sign_order(Void(me, seq), {me: self.trader.key}, node.group_id)
        self.trader.outbox.put([(void, None)])
        log.warning("our swap at seq %d can never be applied: filling the seq with a void", seq)
        attempt = 0
        while node.replica.state.next_seq(me) <= seq:
            try:
                await node.submit([void])
            except NotCertified as exc:
                attempt += 1
                log.info("the void at seq %d: %s", seq, exc)
                await trio.sleep(min(COMPLETE_EVERY, SIGN_RETRY * attempt))
        self.trader.outbox.remove([void])

    async def _deliver(self, maker: bytes, sign: SwapSign) -> bytes | None:
        """Send our signed swap until the maker answers with its signature (sending it
        again is safe: the maker answers a swap it signed with the same signature);
        None if it never does."""
        for attempt in range(SIGN_TRIES):
            if attempt:
                await trio.sleep(SIGN_RETRY * 2 ** (attempt - 1))
            try:
                raw = await self.p2p.request(maker, SWAP_PROTOCOL, sign.encode())
                return decode(raw, SwapSigned).maker_signature
            except (P2PError, RemoteProtocolError) as exc:
                log.warning(
                    "signed swap to %s not countersigned (try %d): %s",
                    maker.hex()[:16],
                    attempt + 1,
                    exc,
                )
        return None
