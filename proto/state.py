"""The group state that certified orders are applied to, and its canonical snapshot.

``GroupState`` holds, per admitted member: a frozen flag, the last sequence number it
consumed, an integer balance per asset, what the group has credited it from its ledger
deposits (cumulative, per asset), and, once it has exited, the ledger account its balance
is settled to, its ``History`` (what a prequal badge states: when it joined, its orders
and turnover, its revokes) and what the ledger has paid out on its revoke claims. The
state knows the group's assets, the last nonce the group wallet used on the ledger
(settles are numbered from it, so every steward signs the same settle), the ledger height
its joins, deposits and claims were read at, and what the group lost to claims paid
beyond what a member held.

Invariants:

* balances are integers that never exceed the asset's supply (< 2**64), and >= 0 except
  where the S&L pit lends (``proto.pit``): between checkpoints a member may pay beyond its
  balance down to its credit line, and every checkpoint books what was drawn as loans, so a
  checkpoint's balances are all >= 0;
* ``apply`` takes an order only when ``apply_problem`` says so: each party's seq is exactly
  its next one and each party can pay what it pays (``spendable``: its balance, less what
  it offers to lend, plus its line). An order that is not yet applicable simply waits
  (see ``proto.replica``);
* each party's debits happen in seq order and credits commute, so any two members that
  have applied the same set of orders hold the same balances, seqs, flags and pit, and
  therefore the same snapshot bytes, whatever order the orders arrived in (a line is
  fixed for the interval and only its member draws on it; offers and marks are each
  member's own, in seq order);
* value is conserved: ``totals()`` changes only through ``deposit`` (a join seen on the
  ledger) and ``withdraw`` (an exit or a paid revoke claim), never through an order; the
  group wallet holds ``totals()`` less ``losses`` (claims paid beyond a member's balance);
* an exited member is never debited again (``member-exited``); it may still be credited,
  and whatever it holds at a checkpoint is settled to it (``settlements``) and removed
  from the state at the next one (``close_settled``).

Freezing stops a member from having new orders voted (see ``proto.validation``); it never
undoes or blocks an order that is already certified.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from proto.codec import Bool, Bytes, ListOf, Obj, UInt, Wire, decode, register, wf
from proto.errors import LocalProtocolError
from proto.kinds import (
    AMOUNT,
    ASSET,
    EVM_ACCOUNT,
    EVM_ACCOUNT_SIZE,
    GROUP_ID,
    HANDLE_OR_NONE,
    KEY_SIZE_BYTES,
    MAX_ASSETS,
    MAX_MEMBERS,
    MEMBER_ID,
)
from proto.orders import Exit, LendOffer, Mark, Order, Void
from proto.pit import BPS, EMPTY_PIT, PIT_OFF, Drawn, Exposure, Pit, PitPolicy, PitSnapshot

MAX_STATE_BYTES = 64 << 20


@register(20, "asset-balance")
@dataclass(frozen=True)
class AssetBalance(Wire):
    asset: str = wf(ASSET)
    amount: int = wf(AMOUNT)


def by_asset(b: AssetBalance) -> str:
    return b.asset


@register(23, "history")
@dataclass(frozen=True, kw_only=True)
class History(Wire):
    """A member's record in the group, as a prequal badge states it.

    ``joined_at`` is the checkpoint number that admitted it and ``joined_height`` the
    ledger height that checkpoint read (its tenure, against a badge's own height); ``orders``
    counts the orders it signed, ``volume`` its turnover per asset (paid plus received,
    saturating at 2**64 - 1). ``revokes``, ``crawl_backs`` and ``premature_revokes`` are its
    revokes on the ledger, how many of them a notary crawled back, and how many of those
    showed the member more than it held (the cheats); ``uncovered_revokes`` counts claims
    the ledger paid beyond what the member held (a cheat no notary caught in time).

    Built by keyword only (a wide record of counters): the field order still fixes the
    wire encoding.
    """

    joined_at: int = wf(UInt(64))
    joined_height: int = wf(UInt(64))
    orders: int = wf(UInt(64))
    volume: tuple[AssetBalance, ...] = wf(
        ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)
    )
    revokes: int = wf(UInt(32))
    crawl_backs: int = wf(UInt(32))
    premature_revokes: int = wf(UInt(32))
    uncovered_revokes: int = wf(UInt(32))
    pit_defaults: int = wf(UInt(32))
    pit_liquidations: int = wf(UInt(32), 0)
    """Times the S&L pit liquidated its collateral for a margin call that outlasted the
    grace (or at once, for a borrower that revoked); ``pit_defaults`` counts those that
    left a loan unpaid."""

    @property
    def cheats(self) -> int:
        """Premature revokes, caught or not: what an admission policy counts."""
        return self.premature_revokes + self.uncovered_revokes


EMPTY_HISTORY = History(
    joined_at=0,
    joined_height=0,
    orders=0,
    volume=(),
    revokes=0,
    crawl_backs=0,
    premature_revokes=0,
    uncovered_revokes=0,
    pit_defaults=0,
    pit_liquidations=0,
)


@register(21, "account")
@dataclass(frozen=True)
class AccountRecord(Wire):
    """One member's account in a snapshot; zero balances are left out."""

    member: bytes = wf(MEMBER_ID)
    frozen: bool = wf(Bool())
    last_seq: int = wf(UInt(64))
    balances: tuple[AssetBalance, ...] = wf(
        ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)
    )
    deposited: tuple[AssetBalance, ...] = wf(
        ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)
    )
    """Cumulative ledger deposits the group has credited to this member."""
    exit_to: bytes = wf(Bytes(max_size=KEY_SIZE_BYTES))
    """Empty while a member; the ledger account its balance is settled to once exited."""
    history: History = wf(Obj(History))
    claims_paid: tuple[AssetBalance, ...] = wf(
        ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)
    )
    """Cumulative payouts of the member's revoke claims on the ledger."""
    evm_account: bytes = wf(EVM_ACCOUNT)
    """The EVM account of the member's signed join (empty: none), its chain leaf's."""
    handle: str = wf(HANDLE_OR_NONE)
    """The handle of the member's signed join (or the group spec's, for a founding
    steward); empty for none (``proto.handles``)."""

    def check_fields(self) -> None:
        if self.exit_to and len(self.exit_to) != KEY_SIZE_BYTES:
            raise ValueError("exit_to is empty or a 32-byte account")
        if len(self.evm_account) not in (0, EVM_ACCOUNT_SIZE):
            raise ValueError("an EVM account is 20 bytes (or none)")


def _member_key(a: AccountRecord) -> bytes:
    return a.member


@register(22, "state")
@dataclass(frozen=True)
class StateSnapshot(Wire):
    """The canonical form of a ``GroupState``: sorted, no zeros, no redundancy."""

    group_id: bytes = wf(GROUP_ID)
    assets: tuple[str, ...] = wf(
        ListOf(ASSET, min_items=1, max_items=MAX_ASSETS, strictly_sorted=True)
    )
    accounts: tuple[AccountRecord, ...] = wf(
        ListOf(
            Obj(AccountRecord), max_items=MAX_MEMBERS, strictly_sorted=True, sort_key=_member_key
        )
    )
    wallet_nonce: int = wf(UInt(64))
    ledger_height: int = wf(UInt(64))
    """The ledger height this state's joins, deposits and claims were read at."""
    losses: tuple[AssetBalance, ...] = wf(
        ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)
    )
    """What revoke claims paid out beyond the members' balances (the wallet is short)."""
    pit: PitSnapshot = wf(Obj(PitSnapshot), default=EMPTY_PIT)
    """The S&L pit (``proto.pit``), and the balances drawn below zero on credit lines."""

    def check_fields(self) -> None:
        handles = [a.handle for a in self.accounts if a.handle]
        if len(set(handles)) != len(handles):
            raise ValueError("two members go by one handle")
        known = set(self.assets)
        for account in self.accounts:
            for bal in account.balances:
                if bal.asset not in known:
                    raise ValueError(f"balance in unknown asset {bal.asset}")
        for asset in self.assets:
            total = sum(b.amount for a in self.accounts for b in a.balances if b.asset == asset)
            if total >= 1 << 64:
                raise ValueError(f"supply of {asset} exceeds 2**64 - 1")


def snapshot_digest(snap: StateSnapshot) -> bytes:
    """The state digest a checkpoint commits to."""
    return hashlib.sha256(b"swapnet/1/state\x00" + snap.encode()).digest()


@dataclass
class Account:
    frozen: bool = False
    last_seq: int = 0
    balances: dict[str, int] = field(default_factory=dict)
    deposited: dict[str, int] = field(default_factory=dict)
    exit_to: bytes = b""
    history: History = EMPTY_HISTORY
    orders: int = 0
    volume: dict[str, int] = field(default_factory=dict)
    """Live counters of ``history.orders`` and ``history.volume`` (kept as plain ints on
    the hot path; ``history`` holds the rest)."""
    claims_paid: dict[str, int] = field(default_factory=dict)
    evm_account: bytes = b""
    handle: str = ""


@dataclass(frozen=True)
class Settlement:
    """What the group owes an exited member at a checkpoint, and the wallet nonce of the
    settle transaction that pays it."""

    member: bytes
    pay_to: bytes
    balances: tuple[AssetBalance, ...]
    nonce: int


class GroupState:
    """Mutable balances, seqs and flags of a group's members."""

    def __init__(
        self,
        group_id: bytes,
        assets: tuple[str, ...] | list[str],
        pit: PitPolicy = PIT_OFF,
        interval: int = 1,
    ) -> None:
        self.group_id = group_id
        self.assets: tuple[str, ...] = tuple(sorted(set(assets)))
        if pit.on and pit.numeraire not in self.assets:
            raise LocalProtocolError("the pit's numeraire must be one of the group's assets")
        self.pit = Pit(pit, interval)
        """The S&L pit: balances may be below zero between checkpoints, within lines."""
        self.accounts: dict[bytes, Account] = {}
        self.wallet_nonce = 1  # the wallet's OpenWallet transaction
        self.ledger_height = 0
        self.losses: dict[str, int] = {}
        self._supply = dict.fromkeys(self.assets, 0)  # orders move value, never change this
        # Validate the header once through the snapshot's own rules.
        StateSnapshot(group_id, self.assets, (), 1, 0, ())

    # -- reading ------------------------------------------------------------------------
    def is_member(self, member: bytes) -> bool:
        return member in self.accounts

    def is_frozen(self, member: bytes) -> bool:
        account = self.accounts.get(member)
        return account is not None and account.frozen

    def has_exited(self, member: bytes) -> bool:
        account = self.accounts.get(member)
        return account is not None and bool(account.exit_to)

    def next_seq(self, member: bytes) -> int:
        account = self.accounts.get(member)
        return 1 if account is None else account.last_seq + 1

    def balance(self, member: bytes, asset: str) -> int:
        account = self.accounts.get(member)
        return 0 if account is None else account.balances.get(asset, 0)

    def totals(self) -> dict[str, int]:
        """The sum of all balances per asset, counted afresh (tests compare it with
        ``supply()``, the running figure that only deposits and withdrawals change)."""
        out = dict.fromkeys(self.assets, 0)
        for account in self.accounts.values():
            for asset, amount in account.balances.items():
                out[asset] += amount
        return out

    def supply(self) -> dict[str, int]:
        return dict(self._supply)

    # -- membership and the ledger boundary (driven by checkpoints) ---------------------
    def admit(
        self,
        member: bytes,
        at_checkpoint: int = 0,
        at_height: int = 0,
        evm_account: bytes = b"",
        handle: str = "",
    ) -> None:
        if member in self.accounts:
            raise LocalProtocolError("member already admitted")
        if handle and handle in self.handles().values():
            raise LocalProtocolError(f"another member goes by @{handle}")
        joined = replace(EMPTY_HISTORY, joined_at=at_checkpoint, joined_height=at_height)
        self.accounts[member] = Account(history=joined, evm_account=evm_account, handle=handle)

    def handles(self) -> dict[bytes, str]:
        """Every member's handle ("" for a member without one): ``proto.handles``'s
        directory."""
        return {m: a.handle for m, a in self.accounts.items()}

    def history(self, member: bytes) -> History:
        """The member's history with its live order counters folded in."""
        account = self._account(member)
        return replace(account.history, orders=account.orders, volume=_balances(account.volume))

    def freeze(self, member: bytes) -> None:
        self._account(member).frozen = True

    def deposit(self, member: bytes, asset: str, amount: int) -> None:
        """Credit funds that entered the group wallet on the ledger."""
        if asset not in self.assets or amount <= 0:
            raise LocalProtocolError("deposit of an unknown asset or a non-positive amount")
        if self._supply[asset] + amount >= 1 << 64:
            raise LocalProtocolError("deposit would push the asset's supply past 2**64 - 1")
        balances = self._account(member).balances
        balances[asset] = balances.get(asset, 0) + amount
        self._supply[asset] += amount

    def credit_deposits(self, member: bytes, cumulative: dict[str, int]) -> None:
        """Credit whatever ``cumulative`` (the member's ledger deposits so far, per asset)
        adds to what was credited before. Raises ``LocalProtocolError`` if it is less."""
        account = self._account(member)
        for asset, total in sorted(cumulative.items()):
            before = account.deposited.get(asset, 0)
            if total < before:
                raise LocalProtocolError("cumulative deposits cannot shrink")
            if total > before:
                self.deposit(member, asset, total - before)
                account.deposited[asset] = total

    def settlements(self) -> list[Settlement]:
        """The settles a checkpoint of this state owes: every exited member that holds
        something and never revoked (a revoker's claim is its way out: the ledger pays a
        member one way only), by member id, numbered from the wallet's next nonce. Each
        leaves the state once the ledger shows it (``proto.settles``)."""
        owed = [
            (m, a)
            for m, a in sorted(self.accounts.items())
            if a.exit_to and not a.frozen and any(a.balances.values())
        ]
        return [
            Settlement(
                m,
                a.exit_to,
                tuple(AssetBalance(k, v) for k, v in sorted(a.balances.items()) if v),
                self.wallet_nonce + 1 + i,
            )
            for i, (m, a) in enumerate(owed)
        ]

    def pay_out(self, member: bytes, asset: str, amount: int) -> int:
        """A payout the ledger made from the wallet to ``member`` (a settle, a claim)
        leaves its balance; whatever it paid beyond that balance is the group's loss,
        returned (0: fully covered)."""
        if asset not in self.assets:
            raise LocalProtocolError("a payout of an asset the group does not hold")
        take = min(amount, max(self._account(member).balances.get(asset, 0), 0))
        if take:
            self.withdraw(member, asset, take)
        if amount > take:
            self.losses[asset] = self.losses.get(asset, 0) + amount - take
        return amount - take

    def record_claims(
        self,
        member: bytes,
        revokes: int,
        crawl_backs: int,
        premature: int,
        paid: dict[str, int],
    ) -> None:
        """Book what the ledger shows of the member's revoke claims, as cumulative figures:
        any revoke freezes the member; what the ledger paid out since the last booking
        leaves its balance, and whatever it paid beyond that balance is a loss of the group
        and an uncovered revoke on the member's record. Raises ``LocalProtocolError`` if a
        figure shrinks (the state may then be partly changed: call it on a copy)."""
        account = self._account(member)
        h = account.history
        if revokes < h.revokes or crawl_backs < h.crawl_backs or premature < h.premature_revokes:
            raise LocalProtocolError("cumulative claim figures cannot shrink")
        if crawl_backs > revokes or premature > crawl_backs:
            raise LocalProtocolError("more crawl backs than revokes")
        uncovered = h.uncovered_revokes
        for asset, total in sorted(paid.items()):
            before = account.claims_paid.get(asset, 0)
            if asset not in self.assets or total < before:
                raise LocalProtocolError("claim payouts of an unknown asset, or shrinking")
            if total > before and self.pay_out(member, asset, total - before):
                uncovered += 1
            account.claims_paid[asset] = total
        if revokes:
            account.frozen = True
        account.history = replace(
            h,
            revokes=revokes,
            crawl_backs=crawl_backs,
            premature_revokes=premature,
            uncovered_revokes=min(uncovered, (1 << 32) - 1),
        )

    def revocable(self) -> dict[bytes, tuple[AssetBalance, ...]]:
        """What a revoke under a checkpoint of this state pays each member with a loan or
        an offer: its holdings less what the pit keeps back (``Pit.revocable``). Every
        other member's revoke pays what it holds."""
        if not self.pit.policy.on:
            return {}
        exposures = self.pit.exposures()
        involved = set(exposures) | {lender for lender, _ in self.pit.offers}
        return {
            m: _balances(
                self.pit.revocable(self.accounts[m].balances, m, exposures.get(m, Exposure()))
            )
            for m in sorted(involved)
            if m in self.accounts
        }

    def withdraw(self, member: bytes, asset: str, amount: int) -> None:
        """Debit funds that leave the group wallet on the ledger (an exit)."""
        balances = self._account(member).balances
        have = balances.get(asset, 0)
        if amount <= 0 or amount > have:
            raise LocalProtocolError("withdrawal of a non-positive amount or more than held")
        self._set(balances, asset, have - amount)
        self._supply[asset] -= amount

    # -- orders -------------------------------------------------------------------------
    def apply_problem(self, order: Order) -> str | None:
        """Why ``order`` cannot be applied now (None when it can).

        ``not-member`` and ``unknown-asset`` are permanent; ``seq-gap`` and
        ``insufficient-funds`` may clear once earlier orders are applied.
        """
        for leg in order.legs:
            if leg.asset not in self.assets:
                return "unknown-asset"
            if leg.payer not in self.accounts or leg.payee not in self.accounts:
                return "not-member"
        for party in order.parties:
            account = self.accounts.get(party.member)
            if account is None:
                return "not-member"
            if account.exit_to:
                return "member-exited"
            if party.seq != self.accounts[party.member].last_seq + 1:
                return "seq-gap" if party.seq > self.next_seq(party.member) else "seq-used"
        for (payer, asset), amount in order.debits().items():
            if self.spendable(payer, asset) < amount:
                return "insufficient-funds"
        return self.pit_problem(order)

    def spendable(self, member: bytes, asset: str) -> int:
        """What ``member`` may pay of ``asset`` now: its balance, less what it offers to
        lend, plus its credit line (the pit borrows the part beyond the balance)."""
        account = self.accounts.get(member)
        if account is None:
            return 0
        held = account.balances.get(asset, 0)
        return held - self.pit.reserved(member, asset) + self.pit.line(member, asset)

    def pit_problem(
        self, order: Order, spent: dict[tuple[bytes, str], int] | None = None
    ) -> str | None:
        """The pit's rules for an order (``spent``: what earlier orders of the same batch
        already take, when a steward checks a batch)."""
        if isinstance(order, LendOffer):
            held = self.balance(order.lender, order.asset)
            held -= (spent or {}).get((order.lender, order.asset), 0)
            return self.pit.offer_problem(
                order.lender, order.asset, order.amount, held, order.rate_bps
            )
        if isinstance(order, Mark):
            return self.pit.mark_problem(order.asset)
        if isinstance(order, Exit):
            return self.pit.exit_problem(order.member, self.accounts[order.member].balances)
        return None

    def cover_problem(
        self, order: Order, spent: dict[tuple[bytes, str], int] | None = None
    ) -> str | None:
        """The stewards' collateral rule (``spent`` as for ``pit_problem``): an order
        that takes from a member and leaves it in debt to the pit (loans, or a balance
        drawn below zero) must leave what it holds free worth ``maintenance_bps`` of that
        debt at the group marks (``uncovered`` otherwise). Without it a member could pay
        away the collateral its credit lines were carved against, then draw on them, and
        leave its lenders a loss. Stewards check it when they vote, never when an order is
        applied: a checkpoint's new marks must not strand an order certified before it.
        A debt without a mark is not judged (as for margin calls)."""
        pit = self.pit
        if not pit.policy.on or not (pit.loans or pit.lines):
            return None
        moves: dict[tuple[bytes, str], int] = {}  # what the order takes and gives, net
        for leg in order.legs:
            moves[(leg.payer, leg.asset)] = moves.get((leg.payer, leg.asset), 0) - leg.amount
            moves[(leg.payee, leg.asset)] = moves.get((leg.payee, leg.asset), 0) + leg.amount
        if isinstance(order, LendOffer):  # what the offer reserves beyond the last one
            key = (order.lender, order.asset)
            more = order.amount - pit.reserved(*key)
            if more > 0:
                moves[key] = moves.get(key, 0) - more
        for member in sorted({m for (m, _), v in moves.items() if v < 0}):
            held = {
                a: self.balance(member, a)
                - pit.reserved(member, a)
                - (spent or {}).get((member, a), 0)
                + moves.get((member, a), 0)
                for a in self.assets
            }
            debt = pit.owes(member)
            for asset, amount in held.items():
                if amount < 0:
                    debt[asset] = debt.get(asset, 0) - amount
            value = pit.value(debt)
            if not value:  # no debt, or one that cannot be valued
                continue
            free = {a: v for a, v in held.items() if v > 0}
            if pit.collateral_value(free) * BPS < pit.policy.maintenance_bps * value:
                return "uncovered"
        return None

    def apply(self, order: Order) -> None:
        problem = self.apply_problem(order)
        if problem is not None:
            raise LocalProtocolError(f"order cannot be applied: {problem}")
        for leg in order.legs:
            payer_account = self.accounts[leg.payer]
            payee_account = self.accounts[leg.payee]
            payer = payer_account.balances
            payee = payee_account.balances
            self._set(payer, leg.asset, payer.get(leg.asset, 0) - leg.amount)
            payee[leg.asset] = payee.get(leg.asset, 0) + leg.amount
            _turnover(payer_account.volume, leg.asset, leg.amount)
            if payee_account is not payer_account:
                _turnover(payee_account.volume, leg.asset, leg.amount)
        for party in order.parties:
            account = self.accounts[party.member]
            account.last_seq = party.seq
            if not isinstance(order, Void):  # a filled seq is no trade on the record
                account.orders += 1
        if isinstance(order, Exit):
            self.accounts[order.member].exit_to = order.pay_to
        elif isinstance(order, LendOffer):
            self.pit.set_offer(
                order.lender,
                order.asset,
                order.amount,
                order.rate_bps,
                order.min_collateral_bps,
                order.expiry,
            )
        elif isinstance(order, Mark):
            self.pit.set_mark(order.member, order.asset, order.price)

    # -- the pit (``proto.pit`` moves value through these) ------------------------------
    def move(self, payer: bytes, payee: bytes, asset: str, amount: int) -> None:
        """Move ``amount`` between two members' balances (loans, repayments and
        liquidations at a checkpoint; not an order, so no turnover)."""
        if amount <= 0 or payer == payee:
            raise LocalProtocolError("a pit movement of a non-positive amount, or to itself")
        source = self._account(payer).balances
        target = self._account(payee).balances
        self._set(source, asset, source.get(asset, 0) - amount)
        self._set(target, asset, target.get(asset, 0) + amount)

    def cover_shortfall(self, member: bytes, asset: str, amount: int) -> None:
        """A draw no lender's reserve can pay any more (it left the wallet in a revoke):
        the member's balance comes back to zero and the group books the loss."""
        balances = self._account(member).balances
        self._set(balances, asset, balances.get(asset, 0) + amount)
        self._supply[asset] += amount
        self.losses[asset] = self.losses.get(asset, 0) + amount

    def record_pit_liquidation(self, member: bytes) -> None:
        account = self._account(member)
        h = account.history
        account.history = replace(h, pit_liquidations=min(h.pit_liquidations + 1, (1 << 32) - 1))

    def record_pit_default(self, member: bytes) -> None:
        account = self._account(member)
        h = account.history
        account.history = replace(h, pit_defaults=min(h.pit_defaults + 1, (1 << 32) - 1))

    # -- canonical form -----------------------------------------------------------------
    def snapshot(self) -> StateSnapshot:
        return StateSnapshot(
            self.group_id,
            self.assets,
            tuple(
                AccountRecord(
                    member,
                    account.frozen,
                    account.last_seq,
                    _balances({a: v for a, v in account.balances.items() if v > 0}),
                    _balances(account.deposited),
                    account.exit_to,
                    replace(
                        account.history,
                        orders=min(account.orders, _U64),
                        volume=_balances(account.volume),
                    ),
                    _balances(account.claims_paid),
                    account.evm_account,
                    account.handle,
                )
                for member, account in sorted(self.accounts.items())
            ),
            self.wallet_nonce,
            self.ledger_height,
            _balances(self.losses),
            self.pit.snapshot(
                [
                    Drawn(member, asset, -amount)
                    for member, account in self.accounts.items()
                    for asset, amount in account.balances.items()
                    if amount < 0
                ]
            ),
        )

    def encode(self) -> bytes:
        return self.snapshot().encode()

    def digest(self) -> bytes:
        return snapshot_digest(self.snapshot())

    @classmethod
    def from_snapshot(cls, snap: StateSnapshot) -> GroupState:
        state = cls(snap.group_id, snap.assets)
        state.pit = Pit.from_snapshot(snap.pit)
        for record in snap.accounts:
            state.accounts[record.member] = Account(
                record.frozen,
                record.last_seq,
                {b.asset: b.amount for b in record.balances},
                {b.asset: b.amount for b in record.deposited},
                record.exit_to,
                record.history,
                record.history.orders,
                {b.asset: b.amount for b in record.history.volume},
                {b.asset: b.amount for b in record.claims_paid},
                record.evm_account,
                record.handle,
            )
        for d in snap.pit.drawn:
            if d.member not in state.accounts or d.asset in state.accounts[d.member].balances:
                raise LocalProtocolError("a drawn balance of a non-member, or held as well")
            state.accounts[d.member].balances[d.asset] = -d.amount
        state.wallet_nonce = snap.wallet_nonce
        state.ledger_height = snap.ledger_height
        state.losses = {b.asset: b.amount for b in snap.losses}
        state._supply = state.totals()
        return state

    @classmethod
    def decode(cls, data: bytes) -> GroupState:
        """Strictly decode snapshot bytes (raises ``DecodeError``)."""
        return cls.from_snapshot(decode(data, StateSnapshot, max_bytes=MAX_STATE_BYTES))

    def copy(self) -> GroupState:
        return GroupState.from_snapshot(self.snapshot())

    # -- helpers ------------------------------------------------------------------------
    def _account(self, member: bytes) -> Account:
        try:
            return self.accounts[member]
        except KeyError as exc:
            raise LocalProtocolError("not a member of this group") from exc

    @staticmethod
    def _set(balances: dict[str, int], asset: str, amount: int) -> None:
        if amount:
            balances[asset] = amount
        else:
            balances.pop(asset, None)


_U64 = (1 << 64) - 1


def _turnover(volume: dict[str, int], asset: str, amount: int) -> None:
    volume[asset] = min(volume.get(asset, 0) + amount, _U64)


def _balances(amounts: dict[str, int]) -> tuple[AssetBalance, ...]:
    return tuple(AssetBalance(asset, amount) for asset, amount in sorted(amounts.items()) if amount)
