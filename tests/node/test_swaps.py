"""Swaps between two members' nodes over real libp2p hosts on 127.0.0.1 (one trio run): 4
stewards, Alice the taker and Bob the maker, each node with its trader and swap desk.

The taker signs first, so its seq is taken from then on; these tests hold the maker to
never leaving it there when the maker is honest:
- a maker whose replica has not seen the taker's latest orders catches up by syncing
  with the taker, instead of refusing the signed swap later;
- a lost answer is asked for again and the maker gives the same signature;
- a signed swap that reaches the maker only after its window is signed then, if the
  maker's seq is still free;
- a swap the maker never countersigns is reported as pending (the seq stays taken), not
  as refused; and the taker's later orders wait for it, as they must;
- the taker's half-signed swap is on disk before its signature leaves, so a restarted
  taker still holds that seq, offers the swap again and completes it;
- a trader refused because the other side's copy of the swap was certified first is done
  when that certificate arrives, not after its back-off.
Each checks that the taker's next order is certified, i.e. that its seq chain goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
from nacl.signing import SigningKey

from node import swaps
from node import trader as trader_module
from node.certification import GroupNode
from node.p2p import P2PError, open_p2p
from node.swaps import SWAP_PROTOCOL, Quote, SwapDesk, SwapUnanswered
from node.trader import OrderPending, OrderRefused, Trader
from proto.codec import Wire, decode
from proto.orders import Swap, Transfer, Void
from proto.rfq import SwapAsk, SwapSign, SwapTerms
from proto.votes import Batch
from storage import LevelDBStore
from storage.outbox import OutboxRepo
from tests.support import make_group, pub

G = make_group(seed="swaps", stewards=4, members=2, funding=1000)
ALICE, BOB = G.members
GIVE, GET = ("USD", 30), ("BTC", 2)
"""What Alice gives and gets; Bob's quote is the mirror."""


@dataclass
class Side:
    node: GroupNode
    trader: Trader
    desk: SwapDesk


async def start(
    stack: AsyncExitStack, tmp_path: Path, key: SigningKey, nursery: trio.Nursery
) -> Side:
    p2p = await stack.enter_async_context(open_p2p(key))
    store = stack.enter_context(LevelDBStore(tmp_path / pub(key).hex()[:12]))
    steward_key = key if key in G.stewards else None
    node = GroupNode(p2p, store, G.epochs, G.genesis_state(), steward_key)
    await node.start(nursery)
    trader = Trader(node, key, OutboxRepo(store, G.group_id, pub(key)))
    nursery.start_soon(trader.run)
    return Side(node, trader, SwapDesk(p2p, trader, nursery))


async def connect(side: Side, others: list[Side]) -> None:
    for other in others:
        await side.node.p2p.connect(other.node.p2p.addrs[0])


@asynccontextmanager
async def stewards_and_alice(
    tmp_path: Path, nursery: trio.Nursery
) -> AsyncIterator[tuple[AsyncExitStack, list[Side], Side]]:
    async with AsyncExitStack() as stack:
        sides: list[Side] = []
        for key in [*G.stewards, ALICE]:
            side = await start(stack, tmp_path, key, nursery)
            await connect(side, sides)
            sides.append(side)
        alice = sides[-1]
        with trio.fail_after(30):
            await alice.node.p2p.wait_mesh(alice.node.topic, 4)
        yield stack, sides, alice


@asynccontextmanager
async def alice_alone(tmp_path: Path, others: list[Side]) -> AsyncIterator[Side]:
    """Alice's node with its own nursery, so it can stop and start again on its store."""
    async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
        alice = await start(stack, tmp_path, ALICE, nursery)
        await connect(alice, others)
        yield alice
        nursery.cancel_scope.cancel()


async def join_bob(
    stack: AsyncExitStack, tmp_path: Path, nursery: trio.Nursery, sides: list[Side]
) -> Side:
    bob = await start(stack, tmp_path, BOB, nursery)
    await connect(bob, sides)
    bob.desk.quote(Quote(GET[0], GET[1], GIVE[0], GIVE[1], fills=10))
    return bob


async def pay(side: Side, to: bytes, amount: int) -> None:
    with trio.fail_after(30):
        cert = await side.trader.place(
            lambda seq: Transfer(side.trader.id, seq, to, "USD", amount, b"")
        )
    assert cert is not None


async def take(alice: Side, bob: Side) -> Swap:
    """Alice takes Bob's quote; the swap that took her seq (her certificate, or Bob's copy
    if it was certified first)."""
    seq = alice.trader.next_seq
    with trio.fail_after(60):
        await alice.desk.take(bob.trader.id, GIVE, GET)
        await alice.node.wait_for(lambda: alice.node.replica.state.next_seq(pub(ALICE)) > seq)
    cert = alice.node.certificates.lookup(pub(ALICE), seq)
    assert cert is not None
    (signed,) = cert.batch.orders
    assert isinstance(signed.order, Swap)
    return signed.order


Handler = Callable[[bytes, bytes], Awaitable[bytes]]


def intercept_signs(
    bob: Side, on_sign: Callable[[Handler, bytes, bytes], Awaitable[bytes]]
) -> None:
    """Route every ``SwapSign`` Bob receives through ``on_sign(handler, caller, request)``."""
    handler = bob.desk._on_request

    async def wrapped(caller: bytes, request: bytes) -> bytes:
        if isinstance(decode(request, Wire), SwapSign):
            return await on_sign(handler, caller, request)
        return await handler(caller, request)

    bob.node.p2p.set_handler(SWAP_PROTOCOL, wrapped)


async def never(handler: Handler, caller: bytes, request: bytes) -> bytes:
    """Bob never answers a signed swap (and never sees it)."""
    raise RuntimeError("no answer")


@pytest.fixture
def short_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bob's window and Alice's pauses short, so a test waits on conditions, not clocks."""
    monkeypatch.setattr(swaps, "SIGN_WINDOW", 1.0)
    monkeypatch.setattr(swaps, "SIGN_RETRY", 0.05)
    monkeypatch.setattr(swaps, "COMPLETE_EVERY", 0.2)


async def test_a_maker_behind_the_taker_catches_up_instead_of_refusing(tmp_path: Path) -> None:
    async with (
        trio.open_nursery() as nursery,
        stewards_and_alice(tmp_path, nursery) as (stack, sides, alice),
    ):
        bob = await join_bob(stack, tmp_path, nursery, sides)
        bob.node.p2p.set_validator(bob.node.topic, lambda publisher, data: False)
        for _ in range(3):  # gossip brings Bob none of these
            await pay(alice, pub(G.stewards[0]), 5)
        assert bob.node.replica.state.next_seq(alice.trader.id) == 1
        swap = await take(alice, bob)
        assert {p.member: p.seq for p in swap.parties} == {alice.trader.id: 4, bob.trader.id: 1}
        await pay(alice, bob.trader.id, 1)  # Alice's chain goes on after the swap
        state = alice.node.replica.state
        assert state.balance(alice.trader.id, "BTC") == 1000 + GET[1]
        assert state.balance(alice.trader.id, "USD") == 1000 - 15 - GIVE[1] - 1
        nursery.cancel_scope.cancel()


@pytest.mark.usefixtures("short_windows")
async def test_lost_answers_are_asked_for_again_and_a_swap_never_answered_is_pending(
    tmp_path: Path,
) -> None:
    async with (
        trio.open_nursery() as nursery,
        stewards_and_alice(tmp_path, nursery) as (stack, sides, alice),
    ):
        bob = await join_bob(stack, tmp_path, nursery, sides)
        seen: list[str] = []

        # 0. a swap Bob has no quote for: declined, and Alice is told why; no seq taken
        seq = alice.trader.next_seq
        with trio.fail_after(30), pytest.raises(OrderRefused, match="no quote for that swap"):
            await alice.desk.take(bob.trader.id, GIVE, (GET[0], GET[1] + 1))
        assert alice.trader.next_seq == seq

        # 1. Bob signs and queues, and his answer is lost: asked again, he answers the same
        async def answer_lost(handler: Handler, caller: bytes, request: bytes) -> bytes:
            answer = await handler(caller, request)
            if not seen:
                seen.append("answer lost")
                raise RuntimeError("the answer is lost")
            seen.append("answered")
            return answer

        intercept_signs(bob, answer_lost)
        first = await take(alice, bob)
        assert seen == ["answer lost", "answered"]
        assert bob.desk.quotes[0].fills == 9  # signed once, not twice

        # 2. the signed swap is lost on the way, and comes again after Bob's window
        seen.clear()

        async def sign_late(handler: Handler, caller: bytes, request: bytes) -> bytes:
            if not seen:
                seen.append("sign lost")
                with trio.fail_after(10):  # Bob's window passes: nothing was signed
                    while caller in bob.desk.sessions:
                        await trio.sleep(0.01)
                raise RuntimeError("the signed swap is lost")
            seen.append("signed late")
            return await handler(caller, request)

        intercept_signs(bob, sign_late)
        second = await take(alice, bob)
        assert seen == ["sign lost", "signed late"]
        assert second != first and bob.desk.quotes[0].fills == 8

        # 3. Bob never countersigns: pending (Alice's seq is taken), never "refused"
        intercept_signs(bob, never)
        seq = alice.trader.next_seq
        with trio.fail_after(60), pytest.raises(SwapUnanswered, match=f"our seq {seq}"):
            await alice.desk.take(bob.trader.id, GIVE, GET)
        assert alice.trader.next_seq == seq + 1  # never given to another order
        assert alice.node.replica.state.next_seq(alice.trader.id) == seq
        nursery.cancel_scope.cancel()


@pytest.mark.usefixtures("short_windows")
async def test_a_half_signed_swap_outlives_a_restart_and_is_completed(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
        stewards: list[Side] = []
        for key in G.stewards:
            side = await start(stack, tmp_path, key, nursery)
            await connect(side, stewards)
            stewards.append(side)
        bob = await join_bob(stack, tmp_path, nursery, stewards)
        intercept_signs(bob, never)
        async with alice_alone(tmp_path, [*stewards, bob]) as alice:
            await pay(alice, bob.trader.id, 1)
            seq = alice.trader.next_seq
            with trio.fail_after(60), pytest.raises(SwapUnanswered):
                await alice.desk.take(bob.trader.id, GIVE, GET, b"swap-1")
            # the client retries (its answer lost): the same swap, never a second one
            with trio.fail_after(60), pytest.raises(OrderPending, match=f"seq {seq}"):
                await alice.desk.take(bob.trader.id, GIVE, GET, b"swap-1")
            assert alice.trader.next_seq == seq + 1
        # Alice is down with her signature out; Bob's window has passed, his seq is free
        bob.node.p2p.set_handler(SWAP_PROTOCOL, bob.desk._on_request)
        async with alice_alone(tmp_path, [*stewards, bob]) as alice:
            assert list(alice.trader.held) == [seq] and alice.trader.next_seq == seq + 1
            with trio.fail_after(60):
                await alice.node.wait_for(
                    lambda: alice.node.replica.state.next_seq(pub(ALICE)) > seq
                )
            swap = alice.node.certificates.lookup(pub(ALICE), seq)
            assert swap is not None and isinstance(swap.batch.orders[0].order, Swap)
            with trio.fail_after(60):  # a retry after the restart finds it applied
                assert await alice.desk.take(bob.trader.id, GIVE, GET, b"swap-1") is None
            assert alice.trader.next_seq == seq + 1
            await pay(alice, bob.trader.id, 1)  # and her chain goes on
            with trio.fail_after(30):  # the record that held the seq goes once it is applied
                while alice.trader.outbox.held():
                    await trio.sleep(0.01)
        nursery.cancel_scope.cancel()


@pytest.mark.usefixtures("short_windows")
async def test_a_dead_swap_is_voided_and_the_takers_chain_goes_on(tmp_path: Path) -> None:
    """Alice signs a swap Bob never sees, and Bob's seq in it goes to another order of
    his: the swap can never be applied. Alice fills her seq with a void, her next payment
    is certified, and a retry of the swap's request id asks for a new swap."""
    async with (
        trio.open_nursery() as nursery,
        stewards_and_alice(tmp_path, nursery) as (stack, sides, alice),
    ):
        bob = await join_bob(stack, tmp_path, nursery, sides)
        intercept_signs(bob, never)
        seq = alice.trader.next_seq
        orders = alice.node.replica.state.history(alice.trader.id).orders
        with trio.fail_after(60), pytest.raises(SwapUnanswered):
            await alice.desk.take(bob.trader.id, GIVE, GET, b"swap-1")
        await pay(bob, pub(G.stewards[0]), 1)  # Bob's window passed: his seq goes to this
        with trio.fail_after(60):
            await alice.node.wait_for(
                lambda: alice.node.replica.state.next_seq(alice.trader.id) > seq
            )
        cert = alice.node.certificates.lookup(alice.trader.id, seq)
        assert cert is not None and cert.batch.orders[0].order == Void(alice.trader.id, seq)
        await pay(alice, bob.trader.id, 1)  # her chain goes on
        with trio.fail_after(30):
            while alice.trader.unanswered_swaps() or alice.trader.outbox.load():
                await trio.sleep(0.01)
        bob.node.p2p.set_handler(SWAP_PROTOCOL, bob.desk._on_request)
        with trio.fail_after(60):  # the request never took effect: a retry asks again
            await alice.desk.take(bob.trader.id, GIVE, GET, b"swap-1")
        state = alice.node.replica.state
        assert state.balance(alice.trader.id, "BTC") == 1000 + GET[1]  # one swap, not two
        assert state.history(alice.trader.id).orders == orders + 2  # the void is no trade
        nursery.cancel_scope.cancel()


@pytest.mark.usefixtures("short_windows")
async def test_a_taker_that_never_signs_cannot_hold_the_makers_seq(tmp_path: Path) -> None:
    """Issue 17 (suspected): each ask holds the maker's seq (its signing lock) for the
    sign window; a member asking again and again and never signing kept the maker from
    paying anyone. Now the maker's own order waits at most one window (the lock is fair,
    and an ask is declined while anyone holds it), and after ``UNSIGNED_ASKS`` asks left
    unsigned the taker's asks are declined for a while."""
    async with (
        trio.open_nursery() as nursery,
        stewards_and_alice(tmp_path, nursery) as (stack, sides, alice),
    ):
        bob = await join_bob(stack, tmp_path, nursery, sides)
        rogue, maker = alice.node.p2p, bob.trader.id
        answers: list[str] = []

        async def ask_and_walk_away() -> None:
            seq = alice.node.replica.state.next_seq(alice.trader.id)
            ask = SwapAsk(*GIVE, *GET, seq).encode()
            try:
                decode(await rogue.request(maker, SWAP_PROTOCOL, ask), SwapTerms)
                answers.append("terms")
            except P2PError as exc:
                answers.append(str(exc))

        await ask_and_walk_away()  # bob's seq is held now
        assert answers == ["terms"]
        await pay(bob, alice.trader.id, 5)  # waits for one window at most, then signs
        for _ in range(swaps.UNSIGNED_ASKS + 2):
            await ask_and_walk_away()
            with trio.fail_after(30):
                while pub(ALICE) in bob.desk.sessions:
                    await trio.sleep(0.01)
        assert answers.count("terms") == swaps.UNSIGNED_ASKS
        assert "unsigned" in answers[-1]
        await pay(bob, alice.trader.id, 5)  # nothing holds bob's seq now
        assert bob.node.replica.state.balance(maker, "USD") == 1000 - 10
        nursery.cancel_scope.cancel()


async def test_a_refused_batch_that_another_hand_certified_does_not_wait_out_its_back_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A swap's two sides both submit it, so one of them is refused (``bad-seq``: the
    stewards applied the other's certificate). That trader is done as soon as the
    certificate reaches it, not when its back-off ends (made an hour here)."""
    monkeypatch.setattr(trader_module, "RETRY", 3600.0)
    monkeypatch.setattr(trader_module, "MAX_RETRY", 3600.0)
    order = Transfer(pub(ALICE), 1, pub(BOB), "USD", 5, b"")
    cert = G.certify(Batch((G.sign(order),)))
    async with (
        trio.open_nursery() as nursery,
        stewards_and_alice(tmp_path, nursery) as (_, sides, alice),
    ):
        for steward in sides[:-1]:
            steward.node.apply(cert)  # the other hand's certificate: alice has not got it

        async def certificate_arrives() -> None:
            while alice.trader.retrying is None:  # refused, and backing off
                await trio.sleep(0.01)
            alice.node.apply(cert)

        nursery.start_soon(certificate_arrives)
        with trio.fail_after(30):
            assert await alice.trader.place(lambda seq: order) is None  # not by our votes
        assert alice.node.replica.state.next_seq(pub(ALICE)) == 2
        nursery.cancel_scope.cancel()
