"""The S&L pit (``proto.pit``): random offers, orders, marks and checkpoints, and the
properties that must hold whatever they are.

* value is conserved, interest included: balances per asset always sum to the supply;
  what borrowers owe always equals what lenders are owed; interest is exact (the whole
  part added plus the carried remainder equals the exact rational accrual);
* no lender is repaid more than it was owed (in value, at the marks, but for a
  liquidation rounding up to a whole base unit of collateral per loan);
* every member that applies the same certified orders and marks, in any arrival order,
  computes the same pit (the same snapshot bytes);
* a borrower below the maintenance ratio is always liquidated within the grace;
* a checkpoint never lowers what a member may spend (but for line portions that lapse and
  a liquidated borrower), so an order certified before it is never stranded after it;
* an honest revoke (paid what the newest checkpoint's leaf shows) costs the others
  nothing: no loss, no reserve taken from under other members' lines, and, unless the
  marks move, everyone else ends the next checkpoint exactly as if the revoker had been
  frozen and paid nothing.

And, by example: a payment beyond the balance borrows from the cheapest offer, a price
move brings a margin call, the grace ends in liquidation at the mark, the shortfall is a
pit default on the borrower's prequal record, and bad pit orders are refused with a
reason.
"""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from node.pit_view import positions_json
from proto.merkle import BalanceTree
from proto.orders import (
    Exit,
    Leg,
    LendOffer,
    Mark,
    Order,
    Party,
    SignedOrder,
    Swap,
    Transfer,
    sign_order,
)
from proto.pit import (
    BPS,
    DAY_SECONDS,
    LINE_LIFE,
    MAX_RATE_BPS,
    PRICE_SCALE,
    Pit,
    PitPolicy,
    median,
    pit_policy,
    water_fill,
)
from proto.replica import Replica
from proto.state import GroupState
from tests.support import key, pub

ASSETS = ("BTC", "USD")
INTERVAL = 3_600  # an hour a checkpoint, so a daily rate shows
KEYS = [key("pit", f"m{i}") for i in range(4)]
IDS = sorted(pub(k) for k in KEYS)
BY_ID = {pub(k): k for k in KEYS}
GID = b"\x07" * 32
BTC_PRICE = 600 * PRICE_SCALE  # one BTC base unit is worth 600 USD base units


LOOSE = replace(pit_policy("USD"), max_rate_bps=MAX_RATE_BPS, mark_quorum=1, mark_step_bps=10**6)
"""The rules of these older tests: any one mark sets the price, at once, and any rate up to
the protocol's cap (the bounds on marks have their own tests below)."""


def fresh_state(usd: int = 100_000, btc: int = 100, policy: PitPolicy = LOOSE) -> GroupState:
    state = GroupState(GID, ASSETS, policy, INTERVAL)
    for m in IDS:
        state.admit(m)
        state.deposit(m, "USD", usd)
        state.deposit(m, "BTC", btc)
    return state


class Book:
    """Applies orders to a state the way a replica does, keeping seqs."""

    def __init__(self, state: GroupState, votes: bool = False) -> None:
        self.state = state
        self.votes = votes
        """Also refuse what stewards refuse when they vote (``cover_problem``)."""
        self.number = 0
        self.applied: list[SignedOrder] = []
        self.paid_out: dict[str, int] = {}
        """What revokes took out of the wallet, per asset."""

    def place(self, order: Order) -> str | None:
        problem = self.state.apply_problem(order)
        if problem is None and self.votes:
            problem = self.state.cover_problem(order)
        if problem is None:
            self.state.apply(order)
            self.applied.append(sign_order(order, BY_ID, GID))
        return problem

    def seq(self, m: bytes) -> int:
        return self.state.next_seq(m)

    def offer(self, m: bytes, asset: str, amount: int, rate: int = 50, minimum: int = 15_000):
        return self.place(LendOffer(m, self.seq(m), asset, amount, rate, minimum, 0))

    def mark(self, m: bytes, asset: str, price: int) -> str | None:
        return self.place(Mark(m, self.seq(m), asset, price))

    def pay(self, m: bytes, to: bytes, asset: str, amount: int) -> str | None:
        return self.place(Transfer(m, self.seq(m), to, asset, amount, b""))

    def checkpoint(self) -> None:
        self.number += 1
        self.state.pit.clear(self.state, self.number)

    def revoke(self, m: bytes) -> dict[str, int]:
        """``m`` revokes under a checkpoint of the state as it is, and the ledger pays its
        leaf; the group books the payout the way it books what the ledger shows."""
        leaf = BalanceTree(self.state).proof(m).leaf
        taken = {b.asset: b.amount for b in leaf.balances}
        account = self.state.accounts[m]
        h = account.history
        paid = {a: account.claims_paid.get(a, 0) + taken.get(a, 0) for a in ASSETS}
        self.state.record_claims(m, h.revokes + 1, h.crawl_backs, h.premature_revokes, paid)
        for a, x in taken.items():
            self.paid_out[a] = self.paid_out.get(a, 0) + x
        return taken


def conserved(state: GroupState, supply: dict[str, int]) -> None:
    assert state.totals() == state.supply() == supply
    assert state.losses == {}  # no revoke took what others stand on
    owed_by_borrowers: dict[str, int] = {}
    owed_to_lenders: dict[str, int] = {}
    for m in IDS:
        for a, x in state.pit.owes(m).items():
            owed_by_borrowers[a] = owed_by_borrowers.get(a, 0) + x
        for a, x in state.pit.lent(m).items():
            owed_to_lenders[a] = owed_to_lenders.get(a, 0) + x
    assert owed_by_borrowers == owed_to_lenders


# -- the examples -------------------------------------------------------------------------
def test_a_payment_beyond_the_balance_borrows_from_the_cheapest_offer_at_the_checkpoint() -> None:
    a, b, c, d = IDS
    book = Book(fresh_state())
    assert book.offer(a, "USD", 50_000, rate=80) is None
    assert book.offer(b, "USD", 50_000, rate=30) is None  # cheaper
    assert book.mark(d, "BTC", BTC_PRICE) is None
    assert book.pay(a, c, "USD", 60_000) == "insufficient-funds"  # 50,000 is offered
    book.checkpoint()  # lines carved: c's collateral is worth 160,000 USD
    line = book.state.pit.line(c, "USD")
    assert line > 0 and book.state.spendable(c, "USD") == 100_000 + line
    assert book.pay(c, d, "USD", 100_000 + line + 1) == "insufficient-funds"
    assert book.pay(c, d, "USD", 100_000 + 20_000) is None
    assert book.state.balance(c, "USD") == -20_000  # drawn on the line
    book.checkpoint()
    (loan,) = book.state.pit.loans.values()
    assert (loan.lender, loan.borrower, loan.owed, loan.rate_bps) == (b, c, 20_000, 30)
    assert book.state.balance(c, "USD") == 0 and book.state.balance(b, "USD") == 80_000
    assert book.state.pit.offers[(b, "USD")].amount == 30_000
    conserved(book.state, {"USD": 400_000, "BTC": 400})
    book.checkpoint()  # an hour of interest at 30 bps a day: 20000 * 30 * 3600 / 864e6 = 2.5
    assert loan.owed == 20_002 and loan.carry == 20_000 * 30 * INTERVAL - 2 * BPS * DAY_SECONDS
    assert book.pay(d, c, "USD", 5_000) is None  # incoming funds repay first
    book.checkpoint()
    # the next hour's interest first: 2.5002 plus the carried 0.5 makes 3 whole units
    assert loan.owed == 20_002 + 3 - 5_000
    assert book.state.balance(c, "USD") == 0 and book.state.balance(b, "USD") == 85_000


def test_a_price_move_brings_a_margin_call_then_liquidation_and_a_pit_default() -> None:
    a, b, c, d = IDS
    state = fresh_state(usd=10_000, btc=100)
    book = Book(state)
    book.offer(a, "USD", 10_000, rate=10, minimum=12_000)
    for m in (a, b, d):
        book.mark(m, "BTC", BTC_PRICE)
    book.checkpoint()
    book.pay(c, d, "USD", 10_000 + state.pit.line(c, "USD"))  # everything it may
    book.checkpoint()
    owed = state.pit.owes(c)["USD"]
    assert owed > 0 and not state.pit.calls
    for m in (a, b, d):  # BTC falls to a sixtieth: 100 BTC are worth 1,000 USD
        book.mark(m, "BTC", BTC_PRICE // 60)
    book.checkpoint()
    assert c in state.pit.calls and state.pit.calls[c] == book.number  # the call
    book.checkpoint()  # grace: 2 checkpoints
    assert c in state.pit.calls
    held_btc = state.balance(c, "BTC")
    lender_before = state.balance(a, "BTC")
    book.checkpoint()  # liquidated at the mark, the rest written off
    assert c not in state.pit.calls and not state.pit.owes(c)
    assert state.balance(c, "BTC") < held_btc
    given = state.balance(a, "BTC") - lender_before
    assert 0 < given * (BTC_PRICE // 60) <= owed * 2 * PRICE_SCALE  # never above what is owed
    assert state.history(c).pit_defaults == 1 and state.pit.written_off["USD"] > 0
    assert state.history(c).pit_liquidations == 1  # on its record, for its prequals
    conserved(state, {"USD": 40_000, "BTC": 400})


def test_bad_pit_orders_are_refused_with_a_reason() -> None:
    a, b, c, _ = IDS
    book = Book(fresh_state())
    off = Book(GroupState(GID, ASSETS))
    off.state.admit(a)
    assert off.offer(a, "USD", 1) == "pit-off" and off.mark(a, "BTC", 5) == "pit-off"
    assert book.offer(a, "USD", 100_001) == "insufficient-funds"
    assert book.mark(a, "USD", 5) == "mark-of-numeraire"
    assert book.offer(a, "USD", 60_000) is None
    assert book.pay(a, b, "USD", 40_001) == "insufficient-funds"  # 60,000 is reserved
    book.mark(b, "BTC", BTC_PRICE)
    book.checkpoint()
    committed = book.state.pit.offers[(a, "USD")].committed
    assert committed > 0 and book.offer(a, "USD", 0) is None  # withdrawn...
    assert book.state.spendable(a, "USD") == 100_000 - committed  # ...lines hold it till then
    book.pay(c, b, "USD", 100_001)
    assert book.place(Exit(c, book.seq(c), c)) == "pit-owes"
    assert book.place(Exit(a, book.seq(a), a)) == "pit-lends"  # its offer still holds funds
    for _ in range(LINE_LIFE):  # the lines that hold it lapse; c's draw is a loan now
        book.checkpoint()
    assert (a, "USD") not in book.state.pit.offers  # the withdrawal took effect
    assert book.state.spendable(a, "USD") == book.state.balance(a, "USD")


def test_a_liquidation_leaves_the_reserve_behind_other_members_lines() -> None:
    """Found by the conservation property below: c lends BTC (its offer backs a and b's BTC
    lines) and borrows USD far past its collateral; it is liquidated, and then a draws on
    its BTC line. Only c's unreserved holdings may be liquidated (or repay, or count as
    collateral), so a's draw is still paid by c's reserve and nothing is lost."""
    a, _, c, _ = IDS
    checkpoint = ("checkpoint", 0, 0, "USD", 0, 0)
    script = [("offer", 0, 0, "USD", 0, 0), ("pay", 2, 0, "USD", 62496, 0)]
    book = play([*script, checkpoint, checkpoint, checkpoint])
    assert book.state.accounts[c].history.pit_defaults == 1  # liquidated, rest written off
    reserve = book.state.pit.reserved(c, "BTC")
    assert book.state.balance(c, "BTC") >= reserve > 0
    play_step(book, ("pay", 0, 1, "BTC", 93, 0))
    assert book.state.balance(a, "BTC") < 0  # drawn on c's line
    play_step(book, checkpoint)
    assert book.state.losses == {} and book.state.pit.owes(a) == {"BTC": 5}


def test_a_revoke_takes_out_only_what_the_pit_does_not_keep_back() -> None:
    """c borrows USD against its BTC and revokes: its leaf keeps back BTC worth 120% of
    its debt, so the revoke pays the rest, the next checkpoint liquidates
    the loan in full (c is frozen: it pays no more), and a later leaf frees what is left.
    The lender's leaf keeps back its offer's reserve."""
    a, b, c, d = IDS
    book = Book(fresh_state())
    state, pit = book.state, book.state.pit
    book.offer(a, "USD", 50_000, rate=10, minimum=15_000)
    for m in (a, b, d):
        book.mark(m, "BTC", BTC_PRICE)
    book.checkpoint()
    assert book.pay(c, d, "USD", 100_000 + 10_000) is None  # 10,000 drawn
    book.checkpoint()
    owed = pit.owes(c)["USD"]
    assert owed == 10_000 and pit.line(c, "USD") > 0
    tree = BalanceTree(state)
    (revocable,) = tree.proof(c).leaf.balances
    kept = 100 - revocable.amount
    # 120% of the debt in BTC, and a unit or two for a liquidation's rounding (its line is
    # not kept back: a draw before a revoke under this checkpoint makes it stale)
    need = -(-owed * PRICE_SCALE * 12 // 10 // BTC_PRICE)
    assert revocable.asset == "BTC" and need <= kept <= need + 3
    assert positions_json(state)[c.hex()]["revocable"] == {"BTC": 100 - kept}  # the API's
    reserve = pit.reserved(a, "USD")
    assert reserve > 0
    lender_leaf = {x.asset: x.amount for x in tree.proof(a).leaf.balances}
    assert lender_leaf == {"USD": state.balance(a, "USD") - reserve, "BTC": 100}
    assert book.revoke(c) == {"BTC": 100 - kept}
    assert state.is_frozen(c) and state.losses == {}
    lender_usd, lender_btc = state.balance(a, "USD"), state.balance(a, "BTC")
    book.checkpoint()  # frozen: liquidated at once, in full
    assert not pit.owes(c) and not pit.written_off and state.history(c).pit_defaults == 0
    assert state.history(c).pit_liquidations == 1  # liquidated, though nothing was lost
    got = (state.balance(a, "BTC") - lender_btc) * BTC_PRICE  # in full, rounded up
    assert state.balance(a, "USD") == lender_usd
    assert owed * PRICE_SCALE <= got < owed * PRICE_SCALE + BTC_PRICE
    assert pit.line(c, "USD") == 0
    left = state.balance(c, "BTC")
    assert 0 < left < kept
    assert {x.asset: x.amount for x in BalanceTree(state).proof(c).leaf.balances} == {
        "BTC": left
    }  # nothing kept back any more: a second revoke takes the rest
    conserved(state, {"USD": 400_000, "BTC": 400 - (100 - kept)})


def test_stewards_refuse_a_debit_that_leaves_the_pit_debt_uncovered() -> None:
    """c's line was carved against its BTC. It may pay the BTC away while it owes
    nothing, but it may then not draw on the line; and once in debt, it may pay away only
    the BTC beyond 120% of what it owes. A swap that brings in more than it takes passes."""
    a, b, c, d = IDS
    book = Book(fresh_state(), votes=True)
    state = book.state
    book.offer(a, "USD", 50_000, rate=10, minimum=15_000)
    for m in (a, b, d):
        book.mark(m, "BTC", BTC_PRICE)
    book.checkpoint()
    line = state.pit.line(c, "USD")
    assert line > 0
    assert book.pay(c, d, "USD", 100_000) is None  # its own USD: no debt, nothing to cover
    assert book.pay(c, d, "USD", line) is None  # a draw: 100 BTC cover it many times
    owed = line * PRICE_SCALE  # in value; 120% of it in BTC units, rounded up:
    kept = -(-owed * 12 // 10 // BTC_PRICE)
    assert book.pay(c, d, "BTC", 100 - kept + 1) == "uncovered"
    assert book.pay(c, d, "BTC", 100 - kept) is None  # down to the cover, not below
    swap = Swap(
        (Party(c, book.seq(c)), Party(d, book.seq(d))),
        (Leg(c, d, "BTC", 1), Leg(d, c, "USD", 1_000)),
        b"",
    )
    assert book.place(swap) is None  # 1 BTC out, 1,000 USD in: the debt is smaller
    lone = Book(fresh_state(), votes=True)  # and the group without a pit position: no rule
    assert lone.pay(c, d, "BTC", 100) is None and lone.state.cover_problem(swap) is None


def test_median_and_water_fill() -> None:
    assert median([5]) == 5 and median([1, 9]) == 1 and median([3, 1, 2]) == 2
    assert water_fill(10, {b"a": 2, b"b": 100, b"c": 100}) == {b"a": 2, b"b": 4, b"c": 4}
    assert water_fill(2, {b"a": 5, b"b": 5, b"c": 5}) == {}  # fewer units than borrowers
    assert water_fill(0, {b"a": 5}) == {}


def test_an_outlier_mark_is_dropped() -> None:
    a, b, c, d = IDS
    book = Book(fresh_state())
    book.mark(a, "BTC", 100)
    book.mark(b, "BTC", 102)
    book.mark(c, "BTC", 104)
    book.mark(d, "BTC", 10_000)  # far out
    book.checkpoint()
    assert book.state.pit.group_marks["BTC"] == 102
    for _ in range(31):  # marks go stale
        book.checkpoint()
    assert "BTC" not in book.state.pit.group_marks


# -- the properties -----------------------------------------------------------------------
KINDS = ["offer", "mark", "pay", "pay", "pay", "checkpoint", "checkpoint"]


def scripts(kinds: list[str]) -> st.SearchStrategy[list[tuple[str, int, int, str, int, int]]]:
    return st.lists(
        st.tuples(
            st.sampled_from(kinds),
            st.integers(0, 3),
            st.integers(0, 3),
            st.sampled_from(["USD", "USD", "BTC"]),
            st.integers(0, 1_000_000),
            st.integers(0, 500),
        ),
        max_size=60,
    )


ops = scripts(KINDS)
"""Orders and checkpoints: what replicas replay."""
ops_and_revokes = scripts([*KINDS, "revoke"])
"""And revokes, which come from the ledger: an honest revoke, under the newest checkpoint
(a stale one is crawled back to a newer one), booked at the next checkpoint."""
# every script starts with lenders and marks in place, so that borrowing happens
PROLOGUE = [
    ("offer", 0, 0, "USD", 80_000, 40),
    ("offer", 1, 0, "USD", 50_000, 20),
    ("offer", 2, 0, "BTC", 40, 5),
    ("mark", 0, 0, "BTC", 100, 0),
    ("mark", 1, 0, "BTC", 100, 0),
    ("mark", 3, 0, "BTC", 100, 0),
    ("checkpoint", 0, 0, "USD", 0, 0),
]


def play_step(book: Book, step: tuple[str, int, int, str, int, int]) -> None:
    """One step: an offer (amount n, capped), a mark (n % 300 percent of 600 USD a BTC
    unit: big moves), a payment (n % 100 + 1 percent of what the payer may spend, so
    often on credit), or a checkpoint."""
    kind, i, j, asset, n, rate = step
    m, other = IDS[i], IDS[j]
    if kind == "offer":
        book.offer(m, asset, n % 150_000, rate, 12_000 + rate * 10)
    elif kind == "mark" and asset != "USD":
        book.mark(m, asset, max(1, BTC_PRICE * (n % 300) // 100))
    elif kind == "pay" and m != other:
        spendable = book.state.spendable(m, asset)
        if spendable > 0:
            book.pay(m, other, asset, max(1, spendable * (n % 100 + 1) // 100))
    elif kind == "checkpoint":
        check_clear(book)
    elif kind == "revoke" and not book.state.is_frozen(m):
        check_clear(book)  # it revokes under the newest checkpoint, with no order since
        check_revoke(book, m)


def play(script: list[tuple[str, int, int, str, int, int]], votes: bool = False) -> Book:
    book = Book(fresh_state(), votes)
    for step in PROLOGUE + script:
        play_step(book, step)
        supply = {"USD": 400_000, "BTC": 400}
        conserved(book.state, {a: x - book.paid_out.get(a, 0) for a, x in supply.items()})
    return book


def check_revoke(book: Book, m: bytes) -> None:
    """``m`` revokes under the state as it is (just after a checkpoint), and the next
    checkpoint follows. Nothing is lost (``conserved``
    checks the losses), a second revoke at once takes nothing, and unless the marks move
    at that checkpoint, the revoke costs the others nothing: they end the checkpoint
    exactly as they would had ``m`` been frozen and paid nothing."""
    state, pit = book.state, book.state.pit
    unpaid = state.copy()
    unpaid.freeze(m)
    book.revoke(m)
    assert state.is_frozen(m)
    assert book.revoke(m) == {}  # everything revocable was taken
    marks = dict(pit.group_marks)
    check_clear(book)
    unpaid.pit.clear(unpaid, book.number)
    if pit.group_marks == marks:
        for x in IDS:
            if x != m:
                assert state.accounts[x].balances == unpaid.accounts[x].balances
                assert pit.lent(x) == unpaid.pit.lent(x)
        assert pit.written_off == unpaid.pit.written_off


def check_clear(book: Book) -> None:
    """One checkpoint, checking the accrual is exact and no lender gets more than owed."""
    state, pit = book.state, book.state.pit
    before = {i: (x.owed, x.carry, x.rate_bps, x.opened) for i, x in pit.loans.items()}
    lenders_before = {m: dict(state.accounts[m].balances) for m in IDS}
    owed_to = {m: pit.lent(m) for m in IDS}
    loans_of = {m: sum(1 for x in pit.loans.values() if x.lender == m) for m in IDS}
    for sources in pit.lines.values():  # a portion drawn now is a loan that may round too
        for lender, _, _ in sources:
            loans_of[lender] += 1
    spend_before = {(m, a): state.spendable(m, a) for m in IDS for a in ASSETS}
    number = book.number + 1
    lapsing = {
        key: sum(x for _, x, born in sources if born <= number - LINE_LIFE)
        for key, sources in pit.lines.items()
    }
    liquidated = {m for m, since in pit.calls.items() if number - since >= pit.policy.grace}
    liquidated |= {m for m in IDS if state.is_frozen(m)}  # a revoker pays no more
    book.checkpoint()
    # a checkpoint never lowers what a member may spend (so no certified order is stranded),
    # but for line portions that lapse and a liquidated borrower
    for (m, a), could in spend_before.items():
        if m not in liquidated:
            assert state.spendable(m, a) >= could - lapsing.get((m, a), 0), (m, a)
    # interest: whole + carry == exact accrual, loan by loan (for loans still open and not
    # repaid or liquidated this checkpoint, the owed figure shows it directly)
    for i, (owed, carry, rate, opened) in before.items():
        loan = pit.loans.get(i)
        if loan is None or opened >= book.number:
            continue
        exact = Fraction(owed * rate * INTERVAL + carry, BPS * DAY_SECONDS)
        assert loan.owed + Fraction(loan.carry, BPS * DAY_SECONDS) <= owed + exact
        assert 0 <= loan.carry < BPS * DAY_SECONDS
    # no lender repaid more than it was owed (value at the marks now, but for a liquidation
    # rounding up to a whole base unit of collateral per loan): the net value it
    # gained is within what it was owed before. A loan opened now and still open counts
    # as money it still has; one opened now and liquidated at once (its borrower was under
    # a call, or frozen) counts as money lent, and what the liquidation paid for it as
    # money got. What a member drew (a balance below zero) is its own loan, not money got.
    funded: dict[bytes, dict[str, int]] = {}  # lent out now
    for loan in pit.loans.values():
        if loan.opened == book.number:
            f = funded.setdefault(loan.lender, {})
            f[loan.asset] = f.get(loan.asset, 0) + loan.owed
    for m in IDS:
        got = 0
        for asset in ASSETS:
            delta = state.balance(m, asset) - max(lenders_before[m].get(asset, 0), 0)
            delta += funded.get(m, {}).get(asset, 0)
            price = pit.mark(asset)
            if price is not None:
                got += delta * price
        owed_value = sum(
            x * (pit.mark(a) or 0) for a, x in owed_to[m].items()
        )  # before interest: interest this checkpoint is at most one day's rate on it
        ceiling = owed_value + owed_value * 500 * INTERVAL // (BPS * DAY_SECONDS) + PRICE_SCALE
        ceiling += loans_of[m] * max(pit.group_marks.values(), default=0)  # rounded up
        if owed_to[m]:
            assert got <= ceiling * 2  # repaid in kind at the marks: within what is owed
    # a borrower below maintenance is under a call that started within the grace
    for m in IDS:
        if not pit.owes(m):
            continue
        ratio = pit.ratio_bps(state.accounts[m].balances, m)
        if ratio is not None and ratio < pit.policy.maintenance_bps:
            assert m in pit.calls and book.number - pit.calls[m] < pit.policy.grace


@settings(max_examples=400, deadline=None)
@given(ops_and_revokes)
def test_value_is_conserved_and_the_pit_rules_hold(script: list) -> None:  # type: ignore[type-arg]
    book = play(script)
    for m in IDS:  # every default is a liquidation that left a loan unpaid, on the record
        h = book.state.history(m)
        assert h.pit_liquidations >= h.pit_defaults


@settings(max_examples=300, deadline=None)
@given(scripts(["offer", "pay", "pay", "pay", "checkpoint", "checkpoint", "revoke"]))
def test_with_the_stewards_rules_no_lender_loses_while_the_marks_hold(
    script: list,  # type: ignore[type-arg]
) -> None:
    """Orders as stewards vote (``cover_problem``), marks that do not move: every loan is
    repaid, nothing is written off, no borrower defaults."""
    book = play(script, votes=True)
    assert book.state.pit.group_marks == {"BTC": BTC_PRICE}  # still fresh
    assert book.state.pit.written_off == {}
    assert all(book.state.history(m).pit_defaults == 0 for m in IDS)


@settings(max_examples=150, deadline=None)
@given(ops, st.randoms(use_true_random=False))
def test_every_member_computes_the_same_pit_from_the_same_orders(
    script: list,  # type: ignore[type-arg]
    rng: random.Random,
) -> None:
    book = Book(fresh_state())
    # play it once, cutting the orders into intervals at each checkpoint
    intervals: list[list[SignedOrder]] = [[]]
    for step in PROLOGUE + script:
        if step[0] == "checkpoint":
            book.checkpoint()
            intervals.append([])
            continue
        before = len(book.applied)
        play_step(book, step)
        intervals[-1].extend(book.applied[before:])
    # another member receives each interval's orders in a shuffled order
    other = Replica(fresh_state(), epochs=None)  # type: ignore[arg-type]
    mine = Replica(fresh_state(), epochs=None)  # type: ignore[arg-type]
    for k, orders in enumerate(intervals):
        shuffled = list(orders)
        rng.shuffle(shuffled)
        mine.add_certified(orders)
        other.add_certified(shuffled)
        assert not other.waiting and not mine.waiting
        assert mine.state.snapshot() == other.state.snapshot()
        if k < len(intervals) - 1:
            mine.state.pit.clear(mine.state, k + 1)
            other.state.pit.clear(other.state, k + 1)
    assert mine.state.encode() == other.state.encode() == book.state.encode()


def test_a_state_with_a_pit_round_trips_through_its_snapshot() -> None:
    a, b, c, d = IDS
    book = Book(fresh_state())
    book.offer(a, "USD", 50_000)
    book.mark(b, "BTC", BTC_PRICE)
    book.checkpoint()
    book.pay(c, d, "USD", 100_000 + book.state.pit.line(c, "USD"))
    copy = GroupState.decode(book.state.encode())
    assert copy.encode() == book.state.encode()
    assert copy.balance(c, "USD") < 0 and isinstance(copy.pit, Pit)
    assert copy.spendable(c, "USD") == book.state.spendable(c, "USD") == 0
