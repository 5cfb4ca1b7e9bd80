"""The ledger's state and the rules every transaction must pass.

``LedgerState.apply(signed, height)`` either applies a transaction whole and returns the
events it caused, or raises ``LedgerRejected`` with a stable ``code`` and changes nothing
(every check runs before any write).

Invariants (``tests/unit/test_ledger_rules.py`` checks them, supply by property test):

* a group wallet is bound to its genesis: ``OpenWallet`` carries the whole genesis, the
  wallet's id is its hash and its key, assets, window and fee are its fields, and only
  that wallet key opens it (nobody can squat a group id under another key);

* supply per asset is conserved: accounts + group wallets + revoke bonds never change in
  total (the faucet is a genesis account; fees move to the fee collector);
* a group wallet never pays out more than it holds (``wallet-insufficient``);
* an older checkpoint never replaces a newer one: a revoke below the highest checkpoint
  number the ledger has seen for the group is ``stale-checkpoint``, a crawl back must be
  strictly newer than the claim (``not-newer``);
* a (group, member, checkpoint number) that was settled or claimed cannot be used again;
* a member leaves a wallet once and one way: a settled member cannot revoke
  (``member-settled``), a member that revoked is never settled and never revokes again
  (``member-revoked``, whatever later checkpoint it shows), so no exit is paid twice;
* a transaction applies at most once: nonces are per sender and strictly sequential.

The exit game: ``Revoke`` opens a claim with the member's proven balances and escrows the
group's revoke fee from the revoker as a bond; ``CrawlBack`` within the window (height <=
deadline) resets the claim to a newer checkpoint, and where the stale checkpoint showed
the revoker more of some asset, the bond is forfeited to the group wallet (held there, in
no member's balance: ``Wallet.forfeited``), whoever crawled back: paid to the crawler, a
cheat would crawl back its own claim (or through another account) and keep its fee. A
claimant's own crawl back is refused (``own-claim``). ``Finalize`` after the window pays
the claim from the wallet and returns any bond left.

Events name the group and member; their details are the amounts per asset: deposited,
claimed (revoke), the claim's balances now (crawl back, plus ``fee-forfeited``: the bond
the revoker lost) or paid out (settle, finalize).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from proto.checkpoint import SignedCheckpoint
from proto.codec import Bytes, ListOf, Obj, Text, UInt, Wire, register, wf
from proto.errors import InvalidProof, InvalidSignature, RemoteProtocolError
from proto.kinds import MAX_ASSETS
from proto.ledger.txs import (
    CrawlBack,
    Deposit,
    Finalize,
    OpenWallet,
    Revoke,
    Settle,
    SignedTx,
    Transfer,
    Tx,
)
from proto.merkle import BalanceLeaf, BalanceProof
from proto.state import AssetBalance


class LedgerRejected(RemoteProtocolError):
    """A transaction the ledger refuses; ``code`` names the rule it broke."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True)
class LedgerParams:
    ledger_id: bytes
    fee_asset: str
    min_fee: int
    fee_collector: bytes
    allocations: tuple[tuple[bytes, str, int], ...]
    """Genesis balances: (account, asset, amount); the devnet faucet is one of them."""


@dataclass
class Claim:
    member: bytes
    number: int
    balances: dict[str, int]
    deadline: int
    bond: int


@dataclass
class Wallet:
    group_id: bytes
    key: bytes
    genesis_hash: bytes
    assets: tuple[str, ...]
    challenge_window: int
    revoke_fee: int
    balances: dict[str, int] = field(default_factory=dict)
    highest_checkpoint: int = 0
    claims: dict[bytes, Claim] = field(default_factory=dict)
    used: set[tuple[bytes, int]] = field(default_factory=set)
    """(member, checkpoint number) pairs already settled or claimed."""
    deposits: dict[bytes, dict[str, int]] = field(default_factory=dict)
    """What each member has deposited, per asset (the joins the group admits)."""
    forfeited: int = 0
    """Revoke bonds of premature revokes, in the fee asset: the cheats' loss."""
    settled: set[bytes] = field(default_factory=set)
    """Members the group paid by settle: they left, and may not also revoke."""
    revoked: set[bytes] = field(default_factory=set)
    """Members that revoked: the claim is their exit, and the group may not also settle."""


@register(72, "ledger-event-detail")
@dataclass(frozen=True)
class Detail(Wire):
    name: str = wf(Text(32))
    value: int = wf(UInt(64))


@register(73, "ledger-event")
@dataclass(frozen=True)
class Event(Wire):
    """What a transaction did, for the event stream that notaries follow. Fields that do
    not apply are empty bytes or 0."""

    kind: str = wf(Text(32))
    height: int = wf(UInt(64))
    tx_id: bytes = wf(Bytes(max_size=32))
    group_id: bytes = wf(Bytes(max_size=32))
    member: bytes = wf(Bytes(max_size=32))
    checkpoint_number: int = wf(UInt(64))
    detail: tuple[Detail, ...] = wf(ListOf(Obj(Detail), max_items=MAX_ASSETS + 1))


def _event(
    kind: str,
    group_id: bytes = b"",
    member: bytes = b"",
    number: int = 0,
    detail: tuple[tuple[str, int], ...] = (),
) -> Event:
    return Event(kind, 0, b"", group_id, member, number, tuple(Detail(k, v) for k, v in detail))


_Commit: TypeAlias = Callable[[], list[Event]]


class LedgerState:
    def __init__(self, params: LedgerParams) -> None:
        self.params = params
        self.balances: dict[bytes, dict[str, int]] = {}
        self.nonces: dict[bytes, int] = {}
        self.wallets: dict[bytes, Wallet] = {}
        for account, asset, amount in params.allocations:
            self._credit(account, asset, amount)

    # -- reading ------------------------------------------------------------------------
    def balance(self, account: bytes, asset: str) -> int:
        return self.balances.get(account, {}).get(asset, 0)

    def next_nonce(self, account: bytes) -> int:
        return self.nonces.get(account, 0) + 1

    def supply(self) -> dict[str, int]:
        """Every unit of every asset, wherever it sits: accounts, wallets, bonds."""
        out: dict[str, int] = {}
        for held in self.balances.values():
            for asset, amount in held.items():
                out[asset] = out.get(asset, 0) + amount
        for wallet in self.wallets.values():
            for asset, amount in wallet.balances.items():
                out[asset] = out.get(asset, 0) + amount
            bonds = wallet.forfeited + sum(claim.bond for claim in wallet.claims.values())
            if bonds:
                out[self.params.fee_asset] = out.get(self.params.fee_asset, 0) + bonds
        return out

    # -- the entry points ---------------------------------------------------------------
    def apply(self, signed: SignedTx, height: int) -> list[Event]:
        """Check and apply ``signed`` in the block at ``height``; raise ``LedgerRejected``
        (and change nothing) if it breaks a rule."""
        return self.prepare(signed, height)()

    def prepare(self, signed: SignedTx, height: int) -> _Commit:
        """Run every check of ``apply`` and return the write, to be called at once and
        before any other transaction is prepared (a caller persists in between)."""
        tx = signed.tx
        try:
            signed.verify(self.params.ledger_id)
        except InvalidSignature as exc:
            raise LedgerRejected("bad-signature", "the sender did not sign this") from exc
        expected = self.next_nonce(tx.sender)
        if tx.nonce < expected:
            raise LedgerRejected("replayed", f"nonce {tx.nonce} already used")
        if tx.nonce > expected:
            raise LedgerRejected("nonce-gap", f"next nonce is {expected}")
        if tx.fee < self.params.min_fee:
            raise LedgerRejected("fee-too-low", f"minimum fee is {self.params.min_fee}")
        handler = _HANDLERS[type(tx)]
        commit = handler(self, tx, height)  # checks everything, returns the writes to make
        self._require(tx.sender, self.params.fee_asset, tx.fee + _extra_fee_asset_need(self, tx))
        tx_id = signed.tx_id()

        def write() -> list[Event]:
            events = commit()
            self._move(tx.sender, self.params.fee_collector, self.params.fee_asset, tx.fee)
            self.nonces[tx.sender] = tx.nonce
            return [
                Event(e.kind, height, tx_id, e.group_id, e.member, e.checkpoint_number, e.detail)
                for e in events
            ]

        return write

    # -- handlers: check, then return a closure that writes ------------------------------
    def _transfer(self, tx: Transfer, height: int) -> _Commit:
        if tx.asset != self.params.fee_asset:
            self._require(tx.sender, tx.asset, tx.amount)

        def commit() -> list[Event]:
            self._move(tx.sender, tx.to, tx.asset, tx.amount)
            return [_event("transfer", member=tx.to, detail=((tx.asset, tx.amount),))]

        return commit

    def _open(self, tx: OpenWallet, height: int) -> _Commit:
        genesis = tx.genesis
        group_id = genesis.group_id()
        if tx.sender != genesis.wallet_key:
            raise LedgerRejected("not-wallet-key", "only the genesis's wallet key opens it")
        if genesis.ledger_id != self.params.ledger_id:
            raise LedgerRejected("wrong-ledger", "the genesis names another ledger")
        if group_id in self.wallets:
            raise LedgerRejected("wallet-exists", "this group already has a wallet")

        def commit() -> list[Event]:
            self.wallets[group_id] = Wallet(
                group_id,
                genesis.wallet_key,
                group_id,
                genesis.assets,
                genesis.challenge_window,
                genesis.revoke_fee,
            )
            return [_event("open", group_id)]

        return commit

    def _deposit(self, tx: Deposit, height: int) -> _Commit:
        wallet = self._wallet(tx.group_id)
        if tx.asset not in wallet.assets:
            raise LedgerRejected("unknown-asset", f"the group does not hold {tx.asset}")
        if tx.asset != self.params.fee_asset:
            self._require(tx.sender, tx.asset, tx.amount)

        def commit() -> list[Event]:
            self._debit(tx.sender, tx.asset, tx.amount)
            wallet.balances[tx.asset] = wallet.balances.get(tx.asset, 0) + tx.amount
            mine = wallet.deposits.setdefault(tx.sender, {})
            mine[tx.asset] = mine.get(tx.asset, 0) + tx.amount
            return [_event("deposit", tx.group_id, tx.sender, 0, ((tx.asset, tx.amount),))]

        return commit

    def _settle(self, tx: Settle, height: int) -> _Commit:
        wallet = self._wallet(tx.group_id)
        if tx.sender != wallet.key:
            raise LedgerRejected("not-wallet-key", "only the group wallet key settles")
        if (tx.member, tx.checkpoint_number) in wallet.used:
            raise LedgerRejected("checkpoint-used", "this member was paid under that checkpoint")
        if tx.member in wallet.claims:
            raise LedgerRejected("claim-open", "the member has an open revoke claim")
        if tx.member in wallet.revoked:
            raise LedgerRejected("member-revoked", "the member left by revoke: no settle too")
        self._wallet_covers(wallet, tx.payouts)

        def commit() -> list[Event]:
            for b in tx.payouts:
                wallet.balances[b.asset] -= b.amount
                self._credit(tx.pay_to, b.asset, b.amount)
            wallet.used.add((tx.member, tx.checkpoint_number))
            wallet.settled.add(tx.member)
            wallet.highest_checkpoint = max(wallet.highest_checkpoint, tx.checkpoint_number)
            detail = tuple((b.asset, b.amount) for b in tx.payouts)
            return [_event("settle", tx.group_id, tx.member, tx.checkpoint_number, detail)]

        return commit

    def _revoke(self, tx: Revoke, height: int) -> _Commit:
        cp = tx.checkpoint.checkpoint
        wallet = self._wallet(cp.group_id)
        leaf = self._proven(wallet, tx.checkpoint, tx.proof, tx.sender)
        if tx.sender in wallet.claims:
            raise LedgerRejected("claim-open", "this member already has an open claim")
        if tx.sender in wallet.settled:
            raise LedgerRejected("member-settled", "the group paid this member out by settle")
        if tx.sender in wallet.revoked:
            raise LedgerRejected("member-revoked", "the member already left by revoke")
        if (tx.sender, cp.number) in wallet.used:
            raise LedgerRejected(
                "checkpoint-used", "this checkpoint was already used by the member"
            )
        if cp.number < wallet.highest_checkpoint:
            raise LedgerRejected(
                "stale-checkpoint", f"the ledger has seen checkpoint {wallet.highest_checkpoint}"
            )

        def commit() -> list[Event]:
            self._debit(tx.sender, self.params.fee_asset, wallet.revoke_fee)
            wallet.claims[tx.sender] = Claim(
                tx.sender,
                cp.number,
                _leaf_balances(leaf),
                height + wallet.challenge_window,
                wallet.revoke_fee,
            )
            wallet.used.add((tx.sender, cp.number))
            wallet.revoked.add(tx.sender)
            wallet.highest_checkpoint = max(wallet.highest_checkpoint, cp.number)
            detail = tuple(sorted(_leaf_balances(leaf).items()))
            return [_event("revoke", cp.group_id, tx.sender, cp.number, detail)]

        return commit

    def _crawl_back(self, tx: CrawlBack, height: int) -> _Commit:
        cp = tx.checkpoint.checkpoint
        wallet = self._wallet(cp.group_id)
        claim = wallet.claims.get(tx.member)
        if claim is None:
            raise LedgerRejected("no-open-claim", "the member has no open claim")
        if tx.sender == tx.member:
            raise LedgerRejected("own-claim", "a claimant cannot crawl back its own claim")
        if height > claim.deadline:
            raise LedgerRejected("window-closed", f"the window closed at height {claim.deadline}")
        if cp.number <= claim.number:
            raise LedgerRejected("not-newer", f"the claim is at checkpoint {claim.number}")
        leaf = self._proven(wallet, tx.checkpoint, tx.proof, tx.member)
        newer = _leaf_balances(leaf)
        premature = any(amount > newer.get(asset, 0) for asset, amount in claim.balances.items())

        def commit() -> list[Event]:
            claim.balances = newer
            claim.number = cp.number
            wallet.used.add((tx.member, cp.number))
            wallet.highest_checkpoint = max(wallet.highest_checkpoint, cp.number)
            lost = 0
            if premature and claim.bond:
                lost, claim.bond = claim.bond, 0
                wallet.forfeited += lost
            kind = "crawl-back" if premature else "crawl-back-honest"
            detail = (*sorted(newer.items()), ("fee-forfeited", lost))
            return [_event(kind, cp.group_id, tx.member, cp.number, detail)]

        return commit

    def _finalize(self, tx: Finalize, height: int) -> _Commit:
        wallet = self._wallet(tx.group_id)
        claim = wallet.claims.get(tx.member)
        if claim is None:
            raise LedgerRejected("no-open-claim", "the member has no open claim")
        if height <= claim.deadline:
            raise LedgerRejected("window-open", f"the window is open until height {claim.deadline}")
        payouts = tuple(AssetBalance(a, n) for a, n in sorted(claim.balances.items()) if n)
        self._wallet_covers(wallet, payouts)

        def commit() -> list[Event]:
            for b in payouts:
                wallet.balances[b.asset] -= b.amount
                self._credit(claim.member, b.asset, b.amount)
            if claim.bond:
                self._credit(claim.member, self.params.fee_asset, claim.bond)
            del wallet.claims[tx.member]
            detail = tuple((b.asset, b.amount) for b in payouts)
            return [_event("finalize", tx.group_id, tx.member, claim.number, detail)]

        return commit

    # -- helpers ------------------------------------------------------------------------
    def _wallet(self, group_id: bytes) -> Wallet:
        wallet = self.wallets.get(group_id)
        if wallet is None:
            raise LedgerRejected("unknown-wallet", "no group wallet with that id")
        return wallet

    def _proven(
        self, wallet: Wallet, signed: SignedCheckpoint, proof: BalanceProof, member: bytes
    ) -> BalanceLeaf:
        try:
            signed.verify(wallet.key)
        except InvalidSignature as exc:
            raise LedgerRejected("bad-checkpoint", "not signed by the group wallet key") from exc
        try:
            leaf: BalanceLeaf = signed.balance_of(proof, member)
        except InvalidProof as exc:
            raise LedgerRejected("bad-proof", str(exc)) from exc
        unknown = [b.asset for b in leaf.balances if b.asset not in wallet.assets]
        if unknown:
            raise LedgerRejected("unknown-asset", f"balance in {unknown[0]}")
        return leaf

    def _wallet_covers(self, wallet: Wallet, payouts: tuple[AssetBalance, ...]) -> None:
        for b in payouts:
            if wallet.balances.get(b.asset, 0) < b.amount:
                raise LedgerRejected(
                    "wallet-insufficient", f"the wallet holds less {b.asset} than the payout"
                )

    def _require(self, account: bytes, asset: str, amount: int) -> None:
        if self.balance(account, asset) < amount:
            raise LedgerRejected("insufficient-funds", f"needs {amount} {asset}")

    def _credit(self, account: bytes, asset: str, amount: int) -> None:
        held = self.balances.setdefault(account, {})
        held[asset] = held.get(asset, 0) + amount

    def _debit(self, account: bytes, asset: str, amount: int) -> None:
        held = self.balances[account]
        held[asset] -= amount
        if not held[asset]:
            del held[asset]

    def _move(self, src: bytes, dst: bytes, asset: str, amount: int) -> None:
        if amount:
            self._debit(src, asset, amount)
            self._credit(dst, asset, amount)


def _leaf_balances(leaf: BalanceLeaf) -> dict[str, int]:
    return {b.asset: b.amount for b in leaf.balances}


def _extra_fee_asset_need(state: LedgerState, tx: Tx) -> int:
    """What the transaction moves in the fee asset besides the fee (checked together)."""
    if isinstance(tx, Transfer | Deposit) and tx.asset == state.params.fee_asset:
        return tx.amount
    if isinstance(tx, Revoke):
        wallet = state.wallets.get(tx.checkpoint.checkpoint.group_id)
        return wallet.revoke_fee if wallet else 0
    return 0


_HANDLERS: dict[type[Tx], Callable[[LedgerState, Any, int], _Commit]] = {
    Transfer: LedgerState._transfer,
    OpenWallet: LedgerState._open,
    Deposit: LedgerState._deposit,
    Settle: LedgerState._settle,
    Revoke: LedgerState._revoke,
    CrawlBack: LedgerState._crawl_back,
    Finalize: LedgerState._finalize,
}
