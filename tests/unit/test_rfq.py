"""The swap messages: an ask names the whole swap but the maker's seq, and ``ask_of`` reads
back from a swap exactly the ask ``swap_of`` built it from (the maker relies on it to sign
a taker's swap that came after its window), and nothing from any other swap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proto.codec import decode
from proto.orders import Leg, Party, Swap
from proto.rfq import SwapAsk, ask_of, swap_of
from tests.unit.strategies import amounts, assets, member_ids, seqs, swaps

two_assets = st.lists(assets, min_size=2, max_size=2, unique=True)
asks = st.builds(
    lambda pair, give, get, seq: SwapAsk(pair[0], give, pair[1], get, seq),
    two_assets,
    amounts,
    amounts,
    seqs,
)
two_members = st.lists(member_ids, min_size=2, max_size=2, unique=True)


@given(asks, two_members, seqs)
def test_ask_of_reads_back_the_ask_a_swap_was_built_from(
    ask: SwapAsk, pair: list[bytes], maker_seq: int
) -> None:
    taker, maker = pair
    swap = swap_of(taker, maker, maker_seq, ask)
    assert {p.member: p.seq for p in swap.parties} == {taker: ask.taker_seq, maker: maker_seq}
    assert ask_of(swap, taker, maker) == ask
    assert decode(ask.encode(), SwapAsk) == ask
    flipped = ask_of(swap, maker, taker)  # the other way round it is another ask
    assert flipped is not None and flipped != ask
    assert (flipped.give_asset, flipped.give_amount) == (ask.get_asset, ask.get_amount)


@given(swaps(), two_members)
def test_ask_of_finds_no_ask_in_a_swap_of_another_shape(swap: Swap, pair: list[bytes]) -> None:
    taker, maker = pair
    if {p.member for p in swap.parties} != {taker, maker}:
        assert ask_of(swap, taker, maker) is None


def test_ask_of_refuses_extra_legs_a_memo_and_one_asset_both_ways() -> None:
    taker, maker = b"t" * 32, b"m" * 32
    ask = SwapAsk("USD", 30, "BTC", 2, 7)
    swap = swap_of(taker, maker, 3, ask)
    extra = Leg(taker, maker, "ETH", 1)
    legs = tuple(sorted((*swap.legs, extra), key=lambda leg: (leg.payer, leg.payee, leg.asset)))
    assert ask_of(Swap(swap.parties, legs, b""), taker, maker) is None
    assert ask_of(Swap(swap.parties, swap.legs, b"memo"), taker, maker) is None
    same = (Leg(maker, taker, "USD", 2), Leg(taker, maker, "USD", 30))
    parties = tuple(sorted((Party(taker, 7), Party(maker, 3)), key=lambda p: p.member))
    assert ask_of(Swap(parties, same, b""), taker, maker) is None
    with pytest.raises(ValueError, match="two different assets"):
        SwapAsk("USD", 30, "USD", 2, 7)
