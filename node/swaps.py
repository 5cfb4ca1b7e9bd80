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
otherwise stall everyone who swapped with it, and everyone who swapped with them).
If the maker's answer to a signed swap is lost, the taker keeps its seq taken (it signed
it) and learns the outcome by sync: a member should quote only to counterparties it is
willing to wait for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trio

from node.p2p import P2P, P2PError
from node.trader import OrderRefused, Pending, Trader
from proto.codec import Wire, decode
from proto.errors import RemoteProtocolError
from proto.orders import SignedOrder, order_signature
from proto.rfq import SwapAsk, SwapSign, SwapSigned, SwapTerms, swap_of
from proto.votes import Certificate

log = logging.getLogger(__name__)

SWAP_PROTOCOL = "/swapnet/swap/1"


class SwapDeclined(Exception):
    """The maker will not do this swap (not a protocol breach: the stream just closes)."""


SIGN_WINDOW = 10.0
QUIET_WAIT = 0.5


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
    ask: SwapAsk
    seq: int
    signed: trio.MemorySendChannel[SwapSign]
    done: trio.Event
    taker_seq: int
    result: bytes | None = None


class SwapDesk:
    def __init__(self, p2p: P2P, trader: Trader, nursery: trio.Nursery) -> None:
        self.p2p = p2p
        self.trader = trader
        self.nursery = nursery
        self.quotes: list[Quote] = []
        self.sessions: dict[bytes, _Session] = {}
        p2p.set_handler(SWAP_PROTOCOL, self._on_request)

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

    async def _on_ask(self, caller: bytes, ask: SwapAsk) -> SwapTerms:
        quote = next((q for q in self.quotes if q.matches(caller, ask)), None)
        if quote is None or caller in self.sessions:
            raise SwapDeclined("no quote for that swap")
        if self.trader.signing.locked():  # busy: never queue asks ahead of our own orders
            raise SwapDeclined("busy signing; ask again")
        reserved: trio.Event = trio.Event()
        holder: list[int] = []

        async def hold() -> None:
            send, receive = trio.open_memory_channel[SwapSign](1)
            try:
                async with self.trader.reserved_seq() as seq:
                    state = self.trader.node.replica.state
                    if not await self.trader.wait_settled(seq, QUIET_WAIT):
                        reserved.set()  # our own orders are in flight: decline
                        return
                    session = _Session(ask, seq, send, trio.Event(), state.next_seq(caller))
                    self.sessions[caller] = session
                    holder.append(seq)
                    reserved.set()
                    with trio.move_on_after(SIGN_WINDOW):
                        sign = await receive.receive()
                        self._take(caller, session, sign, quote)
            except OrderRefused:
                reserved.set()
            finally:
                self.sessions.pop(caller, None)

        self.nursery.start_soon(hold)
        await reserved.wait()
        if not holder:
            raise SwapDeclined("this member cannot sign orders now")
        return SwapTerms(holder[0])

    def _take(self, taker: bytes, session: _Session, sign: SwapSign, quote: Quote) -> None:
        """Check the taker's swap against the session, sign it, queue the whole order."""
        me = self.trader.id
        gid = self.trader.node.group_id
        expected = swap_of(taker, session.taker_seq, me, session.seq, session.ask)
        if sign.swap != expected:  # not the quoted swap, or not the taker's next seq
            session.done.set()
            return
        mine = order_signature(sign.swap, self.trader.key, gid)
        sigs = {taker: sign.taker_signature, me: mine}
        signed = SignedOrder(sign.swap, tuple(sigs[p.member] for p in sign.swap.parties))
        try:
            signed.verify(gid)
            self.trader.check(sign.swap)
        except Exception:  # a bad taker signature or no longer payable: sign nothing
            session.done.set()
            return
        quote.fills -= 1
        self.trader.queue_signed(signed)
        session.result = mine
        session.done.set()

    async def _on_sign(self, caller: bytes, sign: SwapSign) -> SwapSigned:
        session = self.sessions.get(caller)
        if session is None:
            raise SwapDeclined("no open swap with this member")
        await session.signed.send(sign)
        await session.done.wait()
        if session.result is None:
            raise SwapDeclined("swap refused")
        return SwapSigned(session.result)

    # -- taker ----------------------------------------------------------------------------
    async def take(
        self, maker: bytes, ask: SwapAsk, request: bytes | None = None
    ) -> Certificate | None:
        """Ask ``maker`` for ``ask`` and, if it agrees, certify the swap. A ``request`` id
        seen before gets the first swap's outcome, never a second swap."""
        async with self.trader.reserved_seq() as seq:
            earlier = self.trader.earlier(request)
            if earlier is False:
                earlier = await self._negotiate(maker, ask, seq, request)
        if earlier is True:
            return None
        return await self.trader.outcome(earlier)

    async def _negotiate(
        self, maker: bytes, ask: SwapAsk, seq: int, request: bytes | None
    ) -> Pending:
        me = self.trader.id
        gid = self.trader.node.group_id
        if not await self.trader.wait_settled(seq, QUIET_WAIT):
            raise OrderRefused("our earlier orders are still in flight; try again")
        try:
            raw = await self.p2p.request(maker, SWAP_PROTOCOL, ask.encode())
            terms = decode(raw, SwapTerms)
        except (P2PError, RemoteProtocolError) as exc:
            raise OrderRefused(f"the maker did not quote: {exc}") from exc
        if terms.maker_seq != self.trader.node.replica.state.next_seq(maker):
            raise OrderRefused("the maker has orders in flight; try again")
        swap = swap_of(me, seq, maker, terms.maker_seq, ask)
        self.trader.check(swap)
        mine = order_signature(swap, self.trader.key, gid)
        # From here our seq is signed: whatever happens, it is never given to another
        # order (on a lost answer the trader stays behind it until sync shows it).
        try:
            raw = await self.p2p.request(maker, SWAP_PROTOCOL, SwapSign(swap, mine).encode())
            theirs = decode(raw, SwapSigned).maker_signature
        except (P2PError, RemoteProtocolError) as exc:
            self.trader.next_seq = seq + 1
            raise OrderRefused(f"the maker did not sign: {exc}") from exc
        sigs = {me: mine, maker: theirs}
        signed = SignedOrder(swap, tuple(sigs[p.member] for p in swap.parties))
        try:
            signed.verify(gid)
        except Exception as exc:
            self.trader.next_seq = seq + 1
            raise OrderRefused("the maker's signature is not valid") from exc
        return self.trader.queue_signed(signed, request)
