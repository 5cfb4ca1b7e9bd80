"""Hypothesis strategies for every wire object (shapes only: signatures are random bytes
unless a test signs for real)."""

from __future__ import annotations

from hypothesis import strategies as st

from proto.merkle import BalanceLeaf, BalanceProof
from proto.orders import Leg, Party, SignedOrder, Swap, Transfer
from proto.state import AccountRecord, AssetBalance, History, StateSnapshot
from proto.votes import Batch, Certificate, StewardSignature, Vote

member_ids = st.binary(min_size=32, max_size=32)
digests = st.binary(min_size=32, max_size=32)
signatures = st.binary(min_size=64, max_size=64)
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
assets = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(_UPPER),
    st.text(alphabet=_UPPER + "0123456789._-", max_size=11),
)
amounts = st.integers(min_value=1, max_value=2**64 - 1)
seqs = st.integers(min_value=1, max_value=2**64 - 1)
memos = st.binary(max_size=256)


@st.composite
def transfers(draw: st.DrawFn) -> Transfer:
    sender = draw(member_ids)
    recipient = draw(member_ids.filter(lambda m: m != sender))
    return Transfer(sender, draw(seqs), recipient, draw(assets), draw(amounts), draw(memos))


@st.composite
def swaps(draw: st.DrawFn) -> Swap:
    party_ids = sorted(draw(st.sets(member_ids, min_size=1, max_size=4)))
    parties = tuple(Party(m, draw(seqs)) for m in party_ids)
    legs: dict[tuple[bytes, bytes, str], Leg] = {}
    for payer in party_ids:
        payee = draw(member_ids.filter(lambda m, p=payer: m != p))
        asset = draw(assets)
        legs[(payer, payee, asset)] = Leg(payer, payee, asset, draw(amounts))
    return Swap(parties, tuple(legs[k] for k in sorted(legs)), draw(memos))


orders = st.one_of(transfers(), swaps())


@st.composite
def signed_orders(draw: st.DrawFn) -> SignedOrder:
    order = draw(orders)
    return SignedOrder(order, tuple(draw(signatures) for _ in order.parties))


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    chosen: list[SignedOrder] = []
    used: set[tuple[bytes, int]] = set()
    for signed in draw(st.lists(signed_orders(), min_size=1, max_size=4)):
        keys = {(p.member, p.seq) for p in signed.order.parties}
        if not keys & used:
            chosen.append(signed)
            used |= keys
    return Batch(tuple(chosen))


@st.composite
def certificates(draw: st.DrawFn) -> Certificate:
    stewards = sorted(draw(st.sets(member_ids, min_size=1, max_size=5)))
    return Certificate(
        draw(st.integers(0, 3)),
        draw(batches()),
        tuple(StewardSignature(s, draw(signatures)) for s in stewards),
    )


votes = st.builds(Vote, st.integers(0, 3), digests, member_ids, signatures)


@st.composite
def snapshots(draw: st.DrawFn) -> StateSnapshot:
    asset_list = sorted(draw(st.sets(assets, min_size=1, max_size=3)))
    accounts = []
    for member in sorted(draw(st.sets(member_ids, max_size=4))):
        held = sorted(draw(st.sets(st.sampled_from(asset_list), max_size=len(asset_list))))
        balances = tuple(AssetBalance(a, draw(st.integers(1, 2**60))) for a in held)
        exit_to = draw(st.one_of(st.just(b""), member_ids))
        accounts.append(
            AccountRecord(
                member,
                draw(st.booleans()),
                draw(st.integers(0, 2**64 - 1)),
                balances,
                balances,
                exit_to,
                draw(histories(asset_list)),
                balances[:1],
                draw(st.one_of(st.just(b""), st.binary(min_size=20, max_size=20))),
                f"m{member.hex()[:8]}",  # distinct, as a group's handles are
            )
        )
    nonce = draw(st.integers(1, 2**64 - 1))
    height = draw(st.integers(0, 2**64 - 1))
    return StateSnapshot(draw(digests), tuple(asset_list), tuple(accounts), nonce, height, ())


@st.composite
def histories(draw: st.DrawFn, asset_list: list[str]) -> History:
    small = st.integers(0, 2**32 - 1)
    revokes = draw(small)
    crawl_backs = draw(st.integers(0, revokes))
    return History(
        joined_at=draw(st.integers(0, 2**64 - 1)),
        joined_height=draw(st.integers(0, 2**64 - 1)),
        orders=draw(st.integers(0, 2**64 - 1)),
        volume=tuple(AssetBalance(a, draw(amounts)) for a in asset_list[:2]),
        revokes=revokes,
        crawl_backs=crawl_backs,
        premature_revokes=draw(st.integers(0, crawl_backs)),
        uncovered_revokes=draw(small),
        pit_defaults=draw(small),
        pit_liquidations=draw(small),
    )


@st.composite
def balance_proofs(draw: st.DrawFn) -> BalanceProof:
    held = sorted(draw(st.sets(assets, max_size=3)))
    leaf = BalanceLeaf(
        draw(member_ids),
        tuple(AssetBalance(a, draw(amounts)) for a in held),
        draw(histories(sorted(held))),
        draw(st.sampled_from(("", "alice", "bob_2"))),
    )
    size = draw(st.integers(1, 2**20))
    return BalanceProof(
        leaf, draw(st.integers(0, size - 1)), size, tuple(draw(st.lists(digests, max_size=20)))
    )


any_object = st.one_of(
    transfers(),
    swaps(),
    signed_orders(),
    batches(),
    certificates(),
    votes,
    snapshots(),
    balance_proofs(),
)
