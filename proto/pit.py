"""The S&L pit: lend offers, automatic borrowing, interest, marks, margin calls and
liquidation, as deterministic group state that every checkpoint carries.

How it stays consensus-free between checkpoints. Payments need no global order (each
sender's orders are a chain of seqs), but a lender's offered funds are shared: two
borrowers drawing on one offer at once would spend them twice. So the pit moves in two
steps.

* During an interval, a member may pay more of an asset than it holds, down to its *credit
  line* in that asset: its balance goes negative (that is the automatic borrowing). A line
  is made of portions, each carved out of a named lender's offer at a checkpoint, so draws
  never compete: whether a debit is valid depends only on the member's own line and on
  credits, which only add. Offered funds are reserved out of the lender's balance (what it
  offers, or what lines hold of its offer if that is more); an offer can be changed or
  withdrawn at any time, and what lines hold of it stays reserved until they lapse. A
  reserve backs other members' lines, which they may have drawn on already, so it never
  repays the lender's own loans, never counts as its collateral and is never liquidated
  (``free``): a lender that also borrows is judged on what it holds beyond its reserve.
  A line is carved against collateral, so stewards vote for no order that takes from a
  member and leaves its debt (loans and drawn balances) covered less than the maintenance
  ratio (``GroupState.cover_problem``): it may not pay its collateral away and then draw.
* At each checkpoint (``clear``, run by ``state_at`` on the consensus-ordered state), in
  this order:

  1. every negative balance becomes loans from its line's portions, oldest first: the
     lender pays, the borrower is back at zero, a loan records what is owed, and the line
     shrinks by what was drawn (any other balance below zero, a reserve that left the
     wallet in a revoke, is the group's loss);
  2. portions carved ``LINE_LIFE`` checkpoints ago lapse, and so do the lines of frozen
     or exited members; an expired offer, or one of a frozen or exited lender, lends no
     more and goes once no line holds it;
  3. loans opened before this checkpoint accrue interest (below);
  4. what a borrower holds of a loan's asset repays its loans in that asset, oldest first,
     then the most expensive (incoming funds repay loans first); the line revolves: what
     was repaid comes back as a portion from the same lender, who keeps it reserved;
  5. the group's marks are set from fresh member marks (below);
  6. each borrower's collateral ratio is (value of what it holds) / (value of what it
     owes) at the marks. Below ``maintenance_bps`` it gets a margin call (while under
     one, stewards vote for no payment of its; it may still receive); a call still below
     after ``grace`` checkpoints is liquidated: loan by loan, its holdings go to the
     lender at the mark (never more than is owed, but for rounding up to a whole base
     unit of the holding, against the borrower), and what is still owed after that is
     written off: a pit default on the borrower's record (which its prequal shows) and a
     loss for the lender (``written_off``). Its lines lapse. A frozen borrower (it
     revoked, or cheated) will pay nothing more: it is liquidated at once;
  7. new portions are carved out of what the offers have free (below).

Why a checkpoint never strands a certified order. Stewards vote for an order against the
state they hold, and the order may be applied only after the next checkpoint's clearing
(it missed the proposal's cut). So clearing must not lower what a member may spend: step 1
turns a drawn balance into a loan and shrinks the line by the same amount, step 4 gives
back as line what it takes as repayment, interest and marks touch no balance, and a
lender's reserve falls only with its balance. Three things do lower it: a portion that
lapses after ``LINE_LIFE`` checkpoints, the lines of a liquidated borrower, and a
liquidation; an order certified that long before it is applied (or one that spends
collateral after a margin call was issued) could then wait for funds that never come.

Revokes. A revoke is paid from the wallet by the ledger, out of the group's sight, so
what a checkpoint's leaf lets a member take out (``revocable``) keeps back what the pit
needs of it: an offer's reserve (other members' lines stand on it, and may be drawn at
any time), and collateral for what it owes. The cover is the maintenance ratio of the
debt (its margin also pays the interest until the revoke is booked), taken from holdings
of the debt's own asset first, the rest from other holdings at the marks; an unmarked
debt keeps everything back. A line is not kept back: a member that draws on it and
revokes under the checkpoint before the draw makes a stale revoke, which the notaries
crawl back with the next checkpoint (its leaf keeps back the cover of the new loan), and
its record shows it premature. What is kept back stays in the group's state: a revoke
freezes the member, its loans are repaid or liquidated at the next checkpoint after
that, its offers and lines wind down, and a later checkpoint's leaf shows what is left,
for a second revoke. The margin is what protects the lenders between the leaf's
checkpoint and the one that books the revoke: a price fall beyond it in that time is a
loss, as it is for any borrower.

Interest. A loan accrues ``owed * rate_bps * interval / (10_000 * 86_400)`` per checkpoint
(``interval``: the genesis checkpoint interval, in seconds): the whole part is added to
what is owed, the remainder is carried to the next checkpoint. Rounding never creates or
loses value, and lender and borrower always see one figure: the loan's.

Marks. A member's latest mark of an asset counts while it is fresh: booked at most
``mark_fresh`` checkpoints ago. The group mark is the median (the lower one of an even
count) of the fresh marks of distinct members, after dropping every mark more than
``outlier_bps`` away from the median of them all. The numeraire's mark is 1. An asset
without a group mark is worth nothing as collateral and cannot be lent (no line is carved
in it), and a debt in it cannot be valued (no margin call, no new line for that borrower).

Lines. Offers are shared out cheapest first (rate, then lender id). For each, every member
that may borrow (admitted, not the lender, not frozen or exited, no margin call, no offer
of its own in that asset) has a capacity: how much more it may owe, at the marks, keeping
its collateral ratio at the offer's minimum. The offer is split by water-filling: an equal
share each, capped by capacity, the rest shared again among the others, in whole base
units (a remainder of fewer units than borrowers stays with the lender). What a member
gets counts against its capacity for the next offer.

Prices are integers: one base unit of an asset is worth ``price / PRICE_SCALE`` base units
of the numeraire. Values are compared exactly, as ``amount * price``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from proto.codec import ListOf, Obj, Text, UInt, Wire, register, wf
from proto.errors import LocalProtocolError
from proto.kinds import AMOUNT, ASSET, BALANCE, MAX_ASSETS, MAX_MEMBERS, MEMBER_ID

if TYPE_CHECKING:
    from proto.state import GroupState

PRICE_SCALE = 10**8
BPS = 10_000
DAY_SECONDS = 86_400
MAX_OFFERS = MAX_MEMBERS * 4
MAX_LOANS = MAX_MEMBERS * 16
MAX_LINE_SOURCES = 256
LINE_LIFE = 3
U64_MAX = 2**64 - 1
MAX_RATE_BPS = 10 * BPS
"""No genesis may allow more than 1,000% a day (bounds a loan's growth per checkpoint)."""
MAX_MAINTENANCE_BPS = 100 * BPS
MAX_GRACE = 10_000
MAX_MARK_FRESH = 1_000_000
MAX_MARK_STEP_BPS = 100 * BPS


@register(100, "pit-policy")
@dataclass(frozen=True)
class PitPolicy(Wire):
    """A group's pit rules, fixed in its genesis. An empty numeraire turns the pit off."""

    numeraire: str = wf(Text(12, r"(|[A-Z][A-Z0-9._-]{0,11})"))
    maintenance_bps: int = wf(UInt(32))
    grace: int = wf(UInt(32))
    """Checkpoints a margin call may last before the collateral is liquidated."""
    mark_fresh: int = wf(UInt(32))
    """Checkpoints a member's mark counts for after it is booked."""
    outlier_bps: int = wf(UInt(32))
    max_rate_bps: int = wf(UInt(32), default=0)
    """The highest rate (bps a day) an offer may ask: stewards refuse a higher one."""
    mark_quorum: int = wf(UInt(16), default=0)
    """``q``: a group mark needs fresh marks of at least ``2q - 1`` distinct members, so
    that fewer than ``q`` colluding markers can never set it outside the honest marks
    (the median of ``2q - 1`` or more lies between the q-th lowest and q-th highest)."""
    mark_step_bps: int = wf(UInt(32), default=0)
    """How far a group mark may move per checkpoint, in bps of the previous mark."""

    def check_fields(self) -> None:
        if not self.numeraire:
            return
        bounds = (
            ("maintenance_bps", self.maintenance_bps, BPS, MAX_MAINTENANCE_BPS),
            ("grace", self.grace, 0, MAX_GRACE),
            ("mark_fresh", self.mark_fresh, 1, MAX_MARK_FRESH),
            ("outlier_bps", self.outlier_bps, 0, BPS),
            ("max_rate_bps", self.max_rate_bps, 0, MAX_RATE_BPS),
            ("mark_quorum", self.mark_quorum, 1, MAX_MEMBERS),
            ("mark_step_bps", self.mark_step_bps, 1, MAX_MARK_STEP_BPS),
        )
        for name, value, low, high in bounds:
            if not low <= value <= high:
                raise ValueError(f"the pit's {name} must be in [{low}, {high}]")

    @property
    def markers_needed(self) -> int:
        return 2 * self.mark_quorum - 1

    @property
    def on(self) -> bool:
        return bool(self.numeraire)


PIT_OFF = PitPolicy("", 0, 0, 0, 0)


def pit_policy(numeraire: str) -> PitPolicy:
    """The usual rules: maintenance at 120%, a grace of 2 checkpoints, marks fresh for 30
    checkpoints, outliers beyond 20% of the median dropped, rates up to 1% a day, a group
    mark from 3 or more members' marks (a quorum of 2: one liar cannot set it) moving at
    most 50% per checkpoint."""
    return PitPolicy(numeraire, 12_000, 2, 30, 2_000, 100, 2, 5_000)


@register(101, "pit-offer")
@dataclass(frozen=True)
class OfferRecord(Wire):
    lender: bytes = wf(MEMBER_ID)
    asset: str = wf(ASSET)
    amount: int = wf(BALANCE)
    """0 once withdrawn while lines still hold part of it (it goes at the checkpoint)."""
    rate_bps: int = wf(UInt(32))
    min_collateral_bps: int = wf(UInt(32, minimum=BPS))
    expiry: int = wf(UInt(64))
    committed: int = wf(BALANCE)
    """What credit lines of the current interval hold of it."""


@register(102, "pit-loan")
@dataclass(frozen=True)
class LoanRecord(Wire):
    loan_id: int = wf(UInt(64, minimum=1))
    lender: bytes = wf(MEMBER_ID)
    borrower: bytes = wf(MEMBER_ID)
    asset: str = wf(ASSET)
    owed: int = wf(AMOUNT)
    rate_bps: int = wf(UInt(32))
    opened: int = wf(UInt(64))
    """The checkpoint number that booked it."""
    carry: int = wf(UInt(64))
    """Interest not yet whole, in units of 1 / (10_000 * 86_400) base unit."""


@register(103, "pit-mark")
@dataclass(frozen=True)
class MarkRecord(Wire):
    member: bytes = wf(MEMBER_ID)
    asset: str = wf(ASSET)
    price: int = wf(AMOUNT)
    booked: int = wf(UInt(64))
    """The checkpoint that booked it (0: not booked yet)."""


@register(104, "pit-group-mark")
@dataclass(frozen=True)
class GroupMark(Wire):
    asset: str = wf(ASSET)
    price: int = wf(AMOUNT)


@register(105, "pit-line-source")
@dataclass(frozen=True)
class LineSource(Wire):
    lender: bytes = wf(MEMBER_ID)
    amount: int = wf(AMOUNT)
    born: int = wf(UInt(64))
    """The checkpoint that carved (or restored) it; it lapses ``LINE_LIFE`` later."""


@register(106, "pit-credit-line")
@dataclass(frozen=True)
class CreditLine(Wire):
    member: bytes = wf(MEMBER_ID)
    asset: str = wf(ASSET)
    sources: tuple[LineSource, ...] = wf(
        ListOf(Obj(LineSource), min_items=1, max_items=MAX_LINE_SOURCES)
    )


@register(107, "pit-margin-call")
@dataclass(frozen=True)
class MarginCall(Wire):
    member: bytes = wf(MEMBER_ID)
    since: int = wf(UInt(64))


@register(108, "pit-drawn")
@dataclass(frozen=True)
class Drawn(Wire):
    """A balance below zero: what a member has drawn on its line since the checkpoint."""

    member: bytes = wf(MEMBER_ID)
    asset: str = wf(ASSET)
    amount: int = wf(AMOUNT)


@register(109, "pit-loss")
@dataclass(frozen=True)
class PitLoss(Wire):
    asset: str = wf(ASSET)
    amount: int = wf(AMOUNT)


def _member_asset(r: OfferRecord | MarkRecord | CreditLine | Drawn) -> tuple[bytes, str]:
    return (r.lender if isinstance(r, OfferRecord) else r.member, r.asset)


def _loan_key(r: LoanRecord) -> int:
    return r.loan_id


def _asset_key(r: GroupMark | PitLoss) -> str:
    return r.asset


def _member_key(r: MarginCall) -> bytes:
    return r.member


@register(110, "pit-snapshot")
@dataclass(frozen=True)
class PitSnapshot(Wire):
    """The pit's part of a state snapshot, in canonical order."""

    policy: PitPolicy = wf(Obj(PitPolicy))
    interval: int = wf(UInt(32, minimum=1))
    cleared: int = wf(UInt(64))
    next_loan: int = wf(UInt(64, minimum=1))
    offers: tuple[OfferRecord, ...] = wf(
        ListOf(Obj(OfferRecord), max_items=MAX_OFFERS, strictly_sorted=True, sort_key=_member_asset)
    )
    loans: tuple[LoanRecord, ...] = wf(
        ListOf(Obj(LoanRecord), max_items=MAX_LOANS, strictly_sorted=True, sort_key=_loan_key)
    )
    marks: tuple[MarkRecord, ...] = wf(
        ListOf(Obj(MarkRecord), max_items=MAX_OFFERS, strictly_sorted=True, sort_key=_member_asset)
    )
    group_marks: tuple[GroupMark, ...] = wf(
        ListOf(Obj(GroupMark), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=_asset_key)
    )
    lines: tuple[CreditLine, ...] = wf(
        ListOf(Obj(CreditLine), max_items=MAX_OFFERS, strictly_sorted=True, sort_key=_member_asset)
    )
    calls: tuple[MarginCall, ...] = wf(
        ListOf(Obj(MarginCall), max_items=MAX_MEMBERS, strictly_sorted=True, sort_key=_member_key)
    )
    drawn: tuple[Drawn, ...] = wf(
        ListOf(Obj(Drawn), max_items=MAX_OFFERS, strictly_sorted=True, sort_key=_member_asset)
    )
    written_off: tuple[PitLoss, ...] = wf(
        ListOf(Obj(PitLoss), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=_asset_key)
    )


EMPTY_PIT = PitSnapshot(PIT_OFF, 1, 0, 1, (), (), (), (), (), (), (), ())


@dataclass
class Offer:
    amount: int
    rate_bps: int
    min_collateral_bps: int
    expiry: int
    committed: int = 0


@dataclass
class Loan:
    lender: bytes
    borrower: bytes
    asset: str
    owed: int
    rate_bps: int
    opened: int
    carry: int = 0


@dataclass
class Exposure:
    """What a member owes, per asset, and in how many pieces (loans: each is liquidated on
    its own, so each may round)."""

    amounts: dict[str, int] = field(default_factory=dict)
    pieces: int = 0

    def add(self, asset: str, amount: int) -> None:
        self.amounts[asset] = self.amounts.get(asset, 0) + amount
        self.pieces += 1


@dataclass
class Pit:
    """The mutable pit of a ``GroupState``; ``state.py`` calls it, nothing else does."""

    policy: PitPolicy = PIT_OFF
    interval: int = 1
    cleared: int = 0
    next_loan: int = 1
    offers: dict[tuple[bytes, str], Offer] = field(default_factory=dict)
    loans: dict[int, Loan] = field(default_factory=dict)
    marks: dict[tuple[bytes, str], tuple[int, int]] = field(default_factory=dict)
    group_marks: dict[str, int] = field(default_factory=dict)
    lines: dict[tuple[bytes, str], list[tuple[bytes, int, int]]] = field(default_factory=dict)
    calls: dict[bytes, int] = field(default_factory=dict)
    written_off: dict[str, int] = field(default_factory=dict)

    # -- reading ------------------------------------------------------------------------
    def line(self, member: bytes, asset: str) -> int:
        """How far below zero ``member`` may take its balance of ``asset`` now."""
        return sum(a for _, a, _ in self.lines.get((member, asset), ()))

    def reserved(self, member: bytes, asset: str) -> int:
        """What ``member``'s offer holds of ``asset`` (not spendable): what it offers, or
        what credit lines hold of it if that is more (a withdrawal takes effect at the
        next checkpoint)."""
        offer = self.offers.get((member, asset))
        return 0 if offer is None else max(offer.amount, offer.committed)

    def owes(self, member: bytes) -> dict[str, int]:
        """Per asset, what ``member`` owes on its loans."""
        return self._loans_of(member, borrower=True)

    def lent(self, member: bytes) -> dict[str, int]:
        """Per asset, what ``member`` is owed on the loans it made."""
        return self._loans_of(member, borrower=False)

    def _loans_of(self, member: bytes, *, borrower: bool) -> dict[str, int]:
        out: dict[str, int] = {}
        for loan in self.loans.values():
            if (loan.borrower if borrower else loan.lender) == member:
                out[loan.asset] = out.get(loan.asset, 0) + loan.owed
        return out

    def mark(self, asset: str) -> int | None:
        if asset == self.policy.numeraire:
            return PRICE_SCALE
        return self.group_marks.get(asset)

    def value(self, amounts: dict[str, int]) -> int | None:
        """Exact value (times ``PRICE_SCALE``) of positive amounts; None if an asset with
        an amount has no mark."""
        total = 0
        for asset, amount in amounts.items():
            if amount <= 0:
                continue
            price = self.mark(asset)
            if price is None:
                return None
            total += amount * price
        return total

    def free(self, balances: dict[str, int], member: bytes) -> dict[str, int]:
        """``member``'s holdings less what its offers reserve: what repays, counts as
        collateral and may be liquidated (a reserve backs other members' credit lines,
        which they may have drawn on already)."""
        return {a: v - self.reserved(member, a) for a, v in balances.items()}

    def collateral_value(self, balances: dict[str, int]) -> int:
        """What holdings are worth as collateral: unmarked assets count for nothing."""
        return sum(
            amount * price
            for asset, amount in balances.items()
            if amount > 0 and (price := self.mark(asset)) is not None
        )

    def ratio_bps(self, balances: dict[str, int], member: bytes) -> int | None:
        """Collateral ratio of a borrower (None: owes nothing, or a debt has no mark)."""
        debts = self.value(self.owes(member))
        if not debts:
            return None
        return self.collateral_value(self.free(balances, member)) * BPS // debts

    def exposures(self) -> dict[bytes, Exposure]:
        """Per borrower, what it owes (one pass over the loans)."""
        out: dict[bytes, Exposure] = {}
        for loan in self.loans.values():
            out.setdefault(loan.borrower, Exposure()).add(loan.asset, loan.owed)
        return out

    def revocable(
        self, balances: dict[str, int], member: bytes, exposure: Exposure
    ) -> dict[str, int]:
        """What a revoke may take out of the wallet for ``member`` under a checkpoint of
        this state (its leaf's balances): its holdings less what its offers reserve, less
        the cover of its loans (``exposure``): ``maintenance_bps`` of them (the margin
        also pays the interest until the revoke is booked), taken from holdings of the
        debt's asset first, one for one, the rest from other holdings at the marks, in
        asset order, plus what a liquidation may round up (one base unit of a holding and
        of the debt per asset, for each loan). A debt without a mark, or one the holdings
        cannot cover, keeps everything back: nothing is revocable."""
        free = {a: v for a, v in self.free(balances, member).items() if v > 0}
        short: dict[str, int] = {}
        for asset, amount in sorted(exposure.amounts.items()):
            cover = -(-amount * self.policy.maintenance_bps // BPS)
            direct = min(free.get(asset, 0), cover)
            if direct:
                free[asset] -= direct
            if cover > direct:
                short[asset] = cover - direct
        if not short:
            return {a: v for a, v in free.items() if v > 0}
        value = self.value(short)
        if value is None:
            return {}
        prices = [p for a in free if (p := self.mark(a)) is not None]
        debt_prices = [p for a in short if (p := self.mark(a)) is not None]
        rounding = exposure.pieces * (max(prices, default=0) + len(free) * max(debt_prices))
        need = value + rounding
        for asset in sorted(free):
            price = self.mark(asset)
            if need <= 0:
                break
            if price is None:
                continue
            units = min(free[asset], -(-need // price))
            free[asset] -= units
            need -= units * price
        if need > 0:
            return {}
        return {a: v for a, v in free.items() if v > 0}

    # -- orders -------------------------------------------------------------------------
    def offer_problem(
        self, lender: bytes, asset: str, amount: int, held: int, rate_bps: int
    ) -> str | None:
        if not self.policy.on:
            return "pit-off"
        if rate_bps > self.policy.max_rate_bps:
            return "rate-too-high"
        current = self.offers.get((lender, asset))
        if max(amount, 0 if current is None else current.committed) > held:
            return "insufficient-funds"
        if amount and self.lines.get((lender, asset)):
            return "offer-while-borrowing"
        return None

    def set_offer(
        self, lender: bytes, asset: str, amount: int, rate: int, minimum: int, expiry: int
    ) -> None:
        current = self.offers.get((lender, asset))
        committed = 0 if current is None else current.committed
        if amount == 0 and committed == 0:
            self.offers.pop((lender, asset), None)
            return
        self.offers[(lender, asset)] = Offer(amount, rate, minimum, expiry, committed)

    def mark_problem(self, asset: str) -> str | None:
        if not self.policy.on:
            return "pit-off"
        if asset == self.policy.numeraire:
            return "mark-of-numeraire"
        return None

    def set_mark(self, member: bytes, asset: str, price: int) -> None:
        self.marks[(member, asset)] = (price, 0)

    def exit_problem(self, member: bytes, balances: dict[str, int]) -> str | None:
        if any(v < 0 for v in balances.values()) or self.owes(member):
            return "pit-owes"
        if self.lent(member) or any(m == member for m, _ in self.offers):
            return "pit-lends"
        return None

    # -- the checkpoint -----------------------------------------------------------------
    def clear(self, state: GroupState, number: int) -> None:
        """Settle the interval into checkpoint ``number`` (steps 1-7 of the docstring)."""
        if not self.policy.on:
            return
        self._book_draws(state, number)
        self._expire_lines(state, number)
        self._release_offers(state, number)
        self._accrue(number)
        self._repay(state, number)
        self._set_marks(number)
        self._margin(state, number)
        self._carve_lines(state, number)
        self.cleared = number

    def _offer_of(self, lender: bytes, asset: str, rate: int) -> Offer:
        """The lender's offer record (one holding only committed funds if it withdrew)."""
        offer = self.offers.get((lender, asset))
        if offer is None:
            offer = self.offers[(lender, asset)] = Offer(0, rate, BPS, 0)
        return offer

    def _book_draws(self, state: GroupState, number: int) -> None:
        for (member, asset), sources in sorted(self.lines.items()):
            balances = state.accounts[member].balances
            need = -balances.get(asset, 0)
            kept = []
            for lender, amount, born in sources:
                held = max(state.accounts[lender].balances.get(asset, 0), 0)
                take = min(max(need, 0), amount, held)
                if take > 0:
                    state.move(lender, member, asset, take)
                    offer = self.offers[(lender, asset)]
                    offer.amount = max(0, offer.amount - take)
                    offer.committed -= take
                    self.loans[self.next_loan] = Loan(
                        lender, member, asset, take, offer.rate_bps, number
                    )
                    self.next_loan += 1
                    need -= take
                if amount > take:
                    kept.append((lender, amount - take, born))
            self.lines[(member, asset)] = kept
        for member, account in sorted(state.accounts.items()):  # a lender's reserve left
            for asset, amount in sorted(account.balances.items()):  # the wallet (a revoke),
                if amount < 0:  # or a line went with a liquidation: the group's loss
                    state.cover_shortfall(member, asset, -amount)

    def _expire_lines(self, state: GroupState, number: int) -> None:
        """Portions carved ``LINE_LIFE`` checkpoints ago lapse, and so do the lines of
        members that can no longer pay (frozen, exited)."""
        for (member, asset), sources in list(self.lines.items()):
            account = state.accounts[member]
            gone = account.frozen or bool(account.exit_to)
            kept = []
            for lender, amount, born in sources:
                if gone or born <= number - LINE_LIFE:
                    self.offers[(lender, asset)].committed -= amount
                else:
                    kept.append((lender, amount, born))
            if kept:
                self.lines[(member, asset)] = kept
            else:
                del self.lines[(member, asset)]

    def _release_offers(self, state: GroupState, number: int) -> None:
        for key, offer in list(self.offers.items()):
            lender = state.accounts.get(key[0])
            lapsed = offer.expiry and offer.expiry <= number
            if lapsed or lender is None or lender.frozen or lender.exit_to:
                offer.amount = 0  # nothing new is carved from it
            if offer.amount <= 0 and offer.committed <= 0:
                del self.offers[key]

    def _accrue(self, number: int) -> None:
        scale = BPS * DAY_SECONDS
        for loan in self.loans.values():
            if loan.opened >= number:
                continue
            accrued = loan.owed * loan.rate_bps * self.interval + loan.carry
            whole, loan.carry = divmod(accrued, scale)
            # saturates: a debt no one can value (unmarked) is never called, so it could
            # otherwise grow past its field; what it owes beyond 2**64 - 1 is not owed
            loan.owed = min(loan.owed + whole, U64_MAX)

    def _repayment_order(self, loans: Iterable[tuple[int, Loan]]) -> list[tuple[int, Loan]]:
        return sorted(loans, key=lambda kv: (kv[1].opened, -kv[1].rate_bps, kv[0]))

    def _repay(self, state: GroupState, number: int) -> None:
        """What a borrower holds of a loan's asset repays it; the line revolves: what was
        repaid is the borrower's to draw again (from the same lender, who holds it
        reserved), so a checkpoint never takes away what a member could spend."""
        for loan_id, loan in self._repayment_order(self.loans.items()):
            borrower = state.accounts[loan.borrower]
            held = borrower.balances.get(loan.asset, 0)
            pay = min(held - self.reserved(loan.borrower, loan.asset), loan.owed)
            if pay > 0:
                state.move(loan.borrower, loan.lender, loan.asset, pay)
                loan.owed -= pay
                if not borrower.frozen and not borrower.exit_to:
                    line = self.lines.setdefault((loan.borrower, loan.asset), [])
                    line.append((loan.lender, pay, number))
                    self._offer_of(loan.lender, loan.asset, loan.rate_bps).committed += pay
            if loan.owed == 0:
                del self.loans[loan_id]

    def _set_marks(self, number: int) -> None:
        fresh_from = number - self.policy.mark_fresh
        by_asset: dict[str, list[int]] = {}
        for key, (price, was) in sorted(self.marks.items()):
            booked = was or number  # booked by this checkpoint if it was new
            self.marks[key] = (price, booked)
            if booked >= fresh_from:
                by_asset.setdefault(key[1], []).append(price)
            else:
                del self.marks[key]
        before, self.group_marks = self.group_marks, {}
        for asset, prices in by_asset.items():
            if len(prices) < self.policy.markers_needed:
                continue  # too few independent markers: no group mark, no line in it
            middle = median(prices)
            band = [p for p in prices if abs(p - middle) * BPS <= middle * self.policy.outlier_bps]
            mark = median(band) if band else middle
            last = before.get(asset)
            if last is not None:  # a bounded step from the last group mark
                step = last * self.policy.mark_step_bps // BPS
                mark = max(1, last - step, min(mark, last + step))
            self.group_marks[asset] = min(mark, U64_MAX)

    def _margin(self, state: GroupState, number: int) -> None:
        borrowers = sorted({loan.borrower for loan in self.loans.values()})
        for member in borrowers:
            ratio = self.ratio_bps(state.accounts[member].balances, member)
            gone = state.accounts[member].frozen  # it revoked (or cheated): it pays no more
            if ratio is None or (ratio >= self.policy.maintenance_bps and not gone):
                self.calls.pop(member, None)
                continue
            since = self.calls.setdefault(member, number)
            if gone or number - since >= self.policy.grace:
                self._liquidate(state, member)
                self.calls.pop(member, None)
                for key in [k for k in self.lines if k[0] == member]:
                    for lender, amount, _ in self.lines.pop(key):
                        self.offers[(lender, key[1])].committed -= amount
        for member in list(self.calls):
            if member not in borrowers:
                del self.calls[member]

    def _liquidate(self, state: GroupState, member: bytes) -> None:
        balances = state.accounts[member].balances
        mine = [(i, loan) for i, loan in self.loans.items() if loan.borrower == member]
        defaulted = False
        for loan_id, loan in self._repayment_order(mine):
            owed_price = self.mark(loan.asset)
            assert owed_price is not None  # a margin call needs every debt marked
            for asset in sorted(balances):
                held = balances.get(asset, 0) - self.reserved(member, asset)
                price = self.mark(asset)
                if held <= 0 or price is None or loan.owed == 0:
                    continue
                # what pays it all, rounded up against the borrower: never a base unit more
                give = min(held, -(-loan.owed * owed_price // price))
                paid = min(loan.owed, give * price // owed_price)
                if give <= 0 or paid <= 0:
                    continue
                state.move(member, loan.lender, asset, give)
                loan.owed -= min(paid, loan.owed)
            if loan.owed:
                lost = self.written_off.get(loan.asset, 0) + loan.owed
                self.written_off[loan.asset] = min(lost, U64_MAX)  # a tally: saturates
                defaulted = True
            del self.loans[loan_id]
        state.record_pit_liquidation(member)
        if defaulted:
            state.record_pit_default(member)

    def _carve_lines(self, state: GroupState, number: int) -> None:
        debts: dict[bytes, int | None] = {}
        offers = sorted(self.offers.items(), key=lambda kv: (kv[1].rate_bps, kv[0][0], kv[0][1]))
        for (lender, asset), offer in offers:
            price = self.mark(asset)
            free = offer.amount - offer.committed
            if price is None or free <= 0:
                continue
            capacity: dict[bytes, int] = {}
            for member, account in sorted(state.accounts.items()):
                if (
                    member == lender
                    or account.frozen
                    or account.exit_to
                    or member in self.calls
                    or (member, asset) in self.offers
                ):
                    continue
                if member not in debts:
                    debts[member] = self._exposure(member)
                debt = debts[member]
                if debt is None:
                    continue
                held = self.collateral_value(self.free(account.balances, member))
                room = held * BPS // offer.min_collateral_bps
                units = (room - debt) // price
                if units > 0:
                    capacity[member] = units
            for member, units in water_fill(free, capacity).items():
                self.lines.setdefault((member, asset), []).append((lender, units, number))
                offer.committed += units
                debt = debts[member]
                assert debt is not None
                debts[member] = debt + units * price

    def _exposure(self, member: bytes) -> int | None:
        """What a member owes plus what its lines let it draw, in value (None: unmarked)."""
        owes = self.owes(member)
        for m, asset in self.lines:
            if m == member:
                owes[asset] = owes.get(asset, 0) + self.line(member, asset)
        return self.value(owes)

    # -- canonical form -----------------------------------------------------------------
    def snapshot(self, drawn: list[Drawn]) -> PitSnapshot:
        return PitSnapshot(
            self.policy,
            self.interval,
            self.cleared,
            self.next_loan,
            tuple(
                OfferRecord(m, a, o.amount, o.rate_bps, o.min_collateral_bps, o.expiry, o.committed)
                for (m, a), o in sorted(self.offers.items())
            ),
            tuple(
                LoanRecord(i, x.lender, x.borrower, x.asset, x.owed, x.rate_bps, x.opened, x.carry)
                for i, x in sorted(self.loans.items())
            ),
            tuple(MarkRecord(m, a, p, b) for (m, a), (p, b) in sorted(self.marks.items())),
            tuple(GroupMark(a, p) for a, p in sorted(self.group_marks.items())),
            tuple(
                CreditLine(m, a, tuple(LineSource(lender, x, b) for lender, x, b in sources))
                for (m, a), sources in sorted(self.lines.items())
                if sources
            ),
            tuple(MarginCall(m, s) for m, s in sorted(self.calls.items())),
            tuple(sorted(drawn, key=_member_asset)),
            tuple(PitLoss(a, x) for a, x in sorted(self.written_off.items()) if x),
        )

    @classmethod
    def from_snapshot(cls, snap: PitSnapshot) -> Pit:
        return cls(
            snap.policy,
            snap.interval,
            snap.cleared,
            snap.next_loan,
            {
                (o.lender, o.asset): Offer(
                    o.amount, o.rate_bps, o.min_collateral_bps, o.expiry, o.committed
                )
                for o in snap.offers
            },
            {
                x.loan_id: Loan(
                    x.lender, x.borrower, x.asset, x.owed, x.rate_bps, x.opened, x.carry
                )
                for x in snap.loans
            },
            {(m.member, m.asset): (m.price, m.booked) for m in snap.marks},
            {g.asset: g.price for g in snap.group_marks},
            {
                (c.member, c.asset): [(s.lender, s.amount, s.born) for s in c.sources]
                for c in snap.lines
            },
            {c.member: c.since for c in snap.calls},
            {x.asset: x.amount for x in snap.written_off},
        )


def median(values: list[int]) -> int:
    """The median of a non-empty list (the lower middle one of an even count)."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def water_fill(total: int, capacity: dict[bytes, int]) -> dict[bytes, int]:
    """Share ``total`` among members: equal whole shares each, capped by capacity, the
    rest shared again among those below their cap, in member order. Deterministic; the
    sum never exceeds ``total`` or any capacity."""
    if total < 0:
        raise LocalProtocolError("a negative total")
    given = dict.fromkeys(capacity, 0)
    open_ = sorted(m for m, c in capacity.items() if c > 0)
    left = total
    while open_ and left >= len(open_):
        share = left // len(open_)
        still = []
        for m in open_:
            take = min(share, capacity[m] - given[m])
            given[m] += take
            left -= take
            if given[m] < capacity[m]:
                still.append(m)
        if len(still) == len(open_) and share == 0:
            break
        open_ = still
    return {m: g for m, g in given.items() if g > 0}
