"""Attacks on the S&L pit by members: a usurious rate that would overflow a loan and stop
every node's checkpoints, and one member (or fewer than the genesis's mark quorum) setting
the price to draw a line against worthless collateral. The rules under attack: every pit
parameter a member sends is bounded by the genesis policy at vote time; the arithmetic of
a checkpoint never leaves its fields; a group mark needs ``2q - 1`` independent markers
and moves a bounded step per checkpoint; no line is carved against an unmarked asset."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import example, given, settings
from hypothesis import strategies as st

from proto.checkpoint import checkpoint_of
from proto.orders import LendOffer
from proto.pit import BPS, MAX_RATE_BPS, PRICE_SCALE, U64_MAX, median, pit_policy
from proto.state import GroupState
from tests.unit.test_pit import ASSETS, BTC_PRICE, GID, IDS, Book, fresh_state

SAFE = pit_policy("USD")


def test_a_usurious_offer_is_refused_not_booked() -> None:
    a = IDS[0]
    book = Book(fresh_state(policy=SAFE))
    usury = LendOffer(a, book.seq(a), "USD", 10_000, 2**32 - 1, 15_000, 0)
    assert book.state.apply_problem(usury) == "rate-too-high"
    assert book.place(usury) == "rate-too-high" and not book.state.pit.offers
    assert book.offer(a, "USD", 10_000, rate=SAFE.max_rate_bps) is None


def test_a_genesis_cannot_name_pit_parameters_out_of_bounds() -> None:
    for bad in (
        {"max_rate_bps": MAX_RATE_BPS + 1},
        {"mark_quorum": 0},
        {"mark_step_bps": 0},
        {"maintenance_bps": BPS - 1},
        {"mark_fresh": 0},
        {"outlier_bps": BPS + 1},
    ):
        try:
            replace(SAFE, **bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")


@settings(max_examples=60, deadline=None)
@given(
    interval=st.sampled_from([86_400, 2**32 - 1]) | st.integers(1, 2**32 - 1),
    rate=st.just(MAX_RATE_BPS) | st.integers(0, MAX_RATE_BPS),
    usd=st.integers(1, (U64_MAX - 1) // 4),
    btc=st.integers(1, (U64_MAX - 1) // 4),
    price=st.integers(1, U64_MAX),
    draw=st.integers(1, 100),
    checkpoints=st.integers(1, 40),
    lent=st.sampled_from(["BTC", "USD"]),
)
@example(86_400, MAX_RATE_BPS, 10**6, 10**6, PRICE_SCALE, 100, 40, "BTC")
@example(2**32 - 1, MAX_RATE_BPS, 10**6, 10**6, PRICE_SCALE, 100, 3, "USD")
def test_no_amount_leaves_its_field_at_any_checkpoint(
    interval: int,
    rate: int,
    usd: int,
    btc: int,
    price: int,
    draw: int,
    checkpoints: int,
    lent: str,
) -> None:
    """Every amount at its limits: the whole supply deposited, the highest rate the
    protocol allows, any checkpoint interval, any price; a loan that nobody can value once
    its marks go stale accrues for as many checkpoints as drawn (in BTC the loan is never
    called once BTC has no mark). Every checkpoint encodes (before the fix: ``ValueError``
    in ``checkpoint_of`` once a loan passed 2**64 - 1, on every node, at every restart)."""
    a, _b, c, d = IDS
    policy = replace(SAFE, max_rate_bps=MAX_RATE_BPS, mark_quorum=1, mark_fresh=1)
    state = GroupState(GID, ASSETS, policy, interval)
    for m in IDS:
        state.admit(m)
        state.deposit(m, "USD", usd)
        state.deposit(m, "BTC", btc)
    book = Book(state)
    held = {"USD": usd, "BTC": btc}[lent]
    book.offer(a, lent, held, rate=rate, minimum=10_000)
    book.mark(d, "BTC", price)
    book.checkpoint()
    line = state.pit.line(c, lent)
    if line:
        book.pay(c, d, lent, held + max(1, line * draw // 100))
    for _ in range(checkpoints):
        book.checkpoint()
        snap = checkpoint_of(state, book.number)  # raised ValueError before the fix
        assert snap.number == book.number
        assert GroupState.decode(state.encode()).encode() == state.encode()
    for loan in state.pit.loans.values():
        assert 0 < loan.owed <= U64_MAX


def test_a_lone_marker_sets_no_price_and_gets_no_line() -> None:
    """The exploit: one member marks 1 BTC base unit at 10**18, takes a large line
    against its BTC and pays it to an accomplice. Now one mark is no group mark."""
    a, b, c, _ = IDS
    book = Book(fresh_state(policy=SAFE))
    assert book.offer(a, "USD", 100_000, rate=50, minimum=15_000) is None
    assert book.pay(c, b, "USD", 100_000) is None  # it holds BTC only
    assert book.mark(c, "BTC", 10**18) is None
    book.checkpoint()
    assert "BTC" not in book.state.pit.group_marks
    assert book.state.pit.line(c, "USD") == 0
    assert book.pay(c, b, "USD", 1) == "insufficient-funds"


def test_fewer_than_the_quorum_cannot_set_the_mark_outside_the_honest_marks() -> None:
    a, b, c, _d = IDS
    book = Book(fresh_state(policy=SAFE))  # q = 2: three markers needed, one liar at most
    book.mark(a, "BTC", BTC_PRICE)
    book.mark(b, "BTC", BTC_PRICE + 10)
    book.mark(c, "BTC", 10**18)  # the liar
    book.checkpoint()
    assert BTC_PRICE <= book.state.pit.group_marks["BTC"] <= BTC_PRICE + 10


@settings(max_examples=300, deadline=None)
@given(
    quorum=st.integers(1, 6),
    honest=st.lists(st.integers(1, 10**12), min_size=1, max_size=12),
    liars=st.lists(st.integers(1, U64_MAX), max_size=5),
)
def test_the_group_mark_lies_between_honest_marks_whatever_fewer_than_q_liars_say(
    quorum: int, honest: list[int], liars: list[int]
) -> None:
    liars = liars[: quorum - 1]  # below the quorum
    prices = honest + liars
    policy = replace(SAFE, mark_quorum=quorum, outlier_bps=0)
    if len(prices) < policy.markers_needed:
        return  # no group mark at all: nothing can be lent against it
    assert min(honest) <= median(sorted(prices)) <= max(honest)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, U64_MAX), min_size=1, max_size=20))
def test_a_group_mark_moves_a_bounded_step_per_checkpoint(prices: list[int]) -> None:
    a, b, c, _ = IDS
    book = Book(fresh_state(policy=SAFE))
    for m in (a, b, c):
        book.mark(m, "BTC", BTC_PRICE)
    book.checkpoint()
    last = book.state.pit.group_marks["BTC"]
    for price in prices:
        for m in (a, b, c):  # even every marker at once
            book.mark(m, "BTC", price)
        book.checkpoint()
        mark = book.state.pit.group_marks["BTC"]
        step = last * SAFE.mark_step_bps // BPS
        assert max(1, last - step) <= mark <= last + step
        last = mark


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["mark", "pay", "checkpoint"]), st.integers(1, U64_MAX)),
        max_size=30,
    )
)
def test_an_attacker_below_the_mark_quorum_makes_no_honest_lender_lose(
    script: list[tuple[str, int]],
) -> None:
    """Two honest members mark BTC at its price; the attacker (one marker, below q = 2)
    marks whatever it likes, draws all it may and pays it to an accomplice who holds no
    BTC. Stewards' rules apply. Whatever it does, nothing is written off."""
    lender, honest, attacker, accomplice = IDS
    book = Book(fresh_state(policy=SAFE), votes=True)
    assert book.offer(lender, "USD", 100_000, rate=50, minimum=15_000) is None
    book.pay(accomplice, honest, "BTC", book.state.balance(accomplice, "BTC"))
    for m in (lender, honest):
        book.mark(m, "BTC", BTC_PRICE)
    for kind, n in script:
        if kind == "mark":
            book.mark(attacker, "BTC", n)
        elif kind == "pay":
            may = book.state.spendable(attacker, "USD")
            if may > 0:
                book.pay(attacker, accomplice, "USD", max(1, may * (n % 100 + 1) // 100))
        else:
            book.checkpoint()
        for m in (lender, honest):  # the honest keep their marks fresh
            if book.number % 10 == 0:
                book.mark(m, "BTC", BTC_PRICE)
    for _ in range(8):  # the calls run out their grace
        book.checkpoint()
    assert book.state.pit.written_off == {}
    assert book.state.losses == {}
