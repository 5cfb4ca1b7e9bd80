"""The group wallet's own ledger transactions, as the checkpoint machine signs them with the
wallet key (FROST, t of n): its opening, and a settle for every exited member a checkpoint
leaves holding something. Sans-IO.

A ``WalletAction`` is fully determined by the genesis and the adopted state, so every
steward computes the same bytes: ``nonce`` (the wallet's n-th transaction: 1 is its
opening, then one per settle, in the order the state owes them), ``message`` (what the
wallet key signs) and ``payload`` (the transaction it becomes with the signature: a devnet
``Tx``, or an ``EvmCall`` of the group wallet contract). The ledger's events count the
wallet's transactions the same way on both ledgers (opens and settles), which is how a
steward knows a nonce is used.

* ``DevnetWallet``: the devnet ledger's ``OpenWallet`` and ``Settle``, signed over the
  ledger's transaction message (``proto.ledger.txs``): an Ed25519 wallet key.
* ``EvmWallet``: the contract's ``open`` and ``settle`` (``proto.evm_wallet``): a
  FROST(secp256k1) wallet key, the tokens the genesis names, and a settle paid to the EVM
  account the member bound in its signed join (a member without one is never settled on an
  EVM chain; it leaves by revoke, which needs that account too, so an EVM group admits no
  one without it: ``join_needs``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from proto import evm_wallet, signing
from proto.codec import Wire
from proto.evm_wallet import open_message, settle_message, wallet_id
from proto.genesis import Genesis
from proto.ledger.txs import TX_DOMAIN, OpenWallet, Settle
from proto.state import GroupState, Settlement


@dataclass(frozen=True)
class EvmCall:
    """A call of the group wallet contract, its arguments in order, the group's signature
    to be appended (as the contract's ``Signature``)."""

    function: str
    args: tuple[object, ...]


@dataclass(frozen=True)
class WalletAction:
    nonce: int
    message: bytes
    payload: Wire | EvmCall
    is_settle: bool

    @property
    def label(self) -> str:
        return f"{'settle' if self.is_settle else 'open'} (wallet tx {self.nonce})"


class WalletFormat(ABC):
    @abstractmethod
    def opening(self, genesis: Genesis) -> WalletAction: ...

    @abstractmethod
    def settle(self, state: GroupState, number: int, owed: Settlement) -> WalletAction | None:
        """The settle of ``owed`` under checkpoint ``number``; None if this ledger cannot
        pay it."""


@dataclass(frozen=True)
class DevnetWallet(WalletFormat):
    ledger_id: bytes
    fee: int
    wallet_key: bytes

    def action(self, tx: OpenWallet | Settle) -> WalletAction:
        message = signing.domain_message(TX_DOMAIN, self.ledger_id, tx.encode())
        return WalletAction(tx.nonce, message, tx, isinstance(tx, Settle))

    def opening(self, genesis: Genesis) -> WalletAction:
        return self.action(OpenWallet(self.wallet_key, 1, self.fee, genesis))

    def settle(self, state: GroupState, number: int, owed: Settlement) -> WalletAction | None:
        tx = Settle(
            self.wallet_key,
            owed.nonce,
            self.fee,
            state.group_id,
            number,
            owed.member,
            owed.pay_to,
            owed.balances,
        )
        return self.action(tx)


@dataclass(frozen=True)
class EvmWallet(WalletFormat):
    genesis: Genesis

    def opening(self, genesis: Genesis) -> WalletAction:
        g = genesis  # the one whose wallet opens (the runtime's: ``self.genesis``)
        chain_id, contract = evm_wallet.evm_binding(g.ledger_id)
        x, parity = int.from_bytes(g.wallet_key[1:], "big"), g.wallet_key[0] - 2
        args = (g.group_id(), x, parity, g.challenge_window, g.revoke_fee, g.evm_tokens)
        message = open_message(chain_id, contract, *args)
        return WalletAction(1, message, EvmCall("open", args), False)

    def settle(self, state: GroupState, number: int, owed: Settlement) -> WalletAction | None:
        g = self.genesis
        account = state.accounts[owed.member].evm_account
        if not account:
            return None
        chain_id, contract = evm_wallet.evm_binding(g.ledger_id)
        held = {b.asset: b.amount for b in owed.balances}
        amounts = tuple(held.get(asset, 0) for asset in g.assets)
        wid = wallet_id(g.group_id(), g.wallet_key)
        args = (wid, owed.member, number, account, amounts)
        message = settle_message(chain_id, contract, *args)
        return WalletAction(owed.nonce, message, EvmCall("settle", args), True)


def wallet_format(genesis: Genesis, fee: int) -> WalletFormat:
    """The format of the genesis's ledger (``fee``: a devnet transaction's)."""
    if genesis.on_evm:
        return EvmWallet(genesis)
    return DevnetWallet(genesis.ledger_id, fee, genesis.wallet_key)


def join_needs(genesis: Genesis, evm_account: bytes) -> str | None:
    """What a join to this genesis's group lacks, or None: on an EVM chain, an account."""
    if genesis.on_evm and not evm_account:
        return "this group's wallet is on an EVM chain: a join names the member's EVM account"
    return None


__all__ = [
    "DevnetWallet",
    "EvmCall",
    "EvmWallet",
    "WalletAction",
    "WalletFormat",
    "join_needs",
    "wallet_format",
]
