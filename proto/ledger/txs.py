"""Ledger transactions: fixed-shape wire objects, each signed by its sender.

Every transaction names its ``sender`` (an Ed25519 public key, the account that pays the
fee and is debited), the sender's next ``nonce`` (so a transaction applies at most once),
and the ``fee`` it pays in the ledger's fee asset. ``SignedTx`` carries the sender's
signature over ``swapnet/1/ledger-tx`` + the ledger id + the transaction's bytes, so a
transaction of one chain is never valid on another.

The group wallet's transactions (``OpenWallet``, ``Settle``) are sent by the wallet key
itself: its signature is a FROST aggregate, which is a plain Ed25519 signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from nacl.signing import SigningKey

from proto import signing
from proto.checkpoint import SignedCheckpoint
from proto.codec import ListOf, Obj, UInt, Wire, register, wf
from proto.genesis import Genesis
from proto.kinds import ASSET, GROUP_ID, MAX_ASSETS, MEMBER_ID, SIGNATURE
from proto.merkle import BalanceProof
from proto.state import AssetBalance, by_asset

TX_DOMAIN = "ledger-tx"
NONCE = UInt(64, minimum=1)
FEE = UInt(64)
AMOUNT = UInt(64, minimum=1)


def _balances() -> ListOf:
    return ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)


class Tx(Wire):
    """Fields every transaction starts with: sender, nonce, fee."""

    sender: bytes
    nonce: int
    fee: int


@register(60, "ledger-transfer")
@dataclass(frozen=True)
class Transfer(Tx):
    sender: bytes = wf(MEMBER_ID)
    nonce: int = wf(NONCE)
    fee: int = wf(FEE)
    to: bytes = wf(MEMBER_ID)
    asset: str = wf(ASSET)
    amount: int = wf(AMOUNT)


@register(68, "ledger-open-wallet")
@dataclass(frozen=True)
class OpenWallet(Tx):
    """Register a group wallet from its whole genesis document. The ledger takes
    everything from the genesis, nothing from the sender's word: the group id is the
    genesis's hash, the wallet key, assets, challenge window and revoke fee are its
    fields, and only the wallet key itself may send it (so a wallet is the group's, and
    nobody can register a group id under another key). Wire tag 68: tag 61 was the old
    shape, which took every field from the sender."""

    sender: bytes = wf(MEMBER_ID)
    nonce: int = wf(NONCE)
    fee: int = wf(FEE)
    genesis: Genesis = wf(Obj(Genesis))

    @property
    def group_id(self) -> bytes:
        return self.genesis.group_id()


@register(62, "ledger-deposit")
@dataclass(frozen=True)
class Deposit(Tx):
    """A member moves funds into a group wallet (a join)."""

    sender: bytes = wf(MEMBER_ID)
    nonce: int = wf(NONCE)
    fee: int = wf(FEE)
    group_id: bytes = wf(GROUP_ID)
    asset: str = wf(ASSET)
    amount: int = wf(AMOUNT)


@register(63, "ledger-settle")
@dataclass(frozen=True)
class Settle(Tx):
    """The group pays a leaving member at once; the sender is the wallet key."""

    sender: bytes = wf(MEMBER_ID)
    nonce: int = wf(NONCE)
    fee: int = wf(FEE)
    group_id: bytes = wf(GROUP_ID)
    checkpoint_number: int = wf(UInt(64, minimum=1))
    member: bytes = wf(MEMBER_ID)
    pay_to: bytes = wf(MEMBER_ID)
    payouts: tuple[AssetBalance, ...] = wf(_balances())


@register(64, "ledger-revoke")
@dataclass(frozen=True)
class Revoke(Tx):
    """A member claims its balance under a signed checkpoint; paid after the window."""

    sender: bytes = wf(MEMBER_ID)
    nonce: int = wf(NONCE)
    fee: int = wf(FEE)
    checkpoint: SignedCheckpoint = wf(Obj(SignedCheckpoint))
    proof: BalanceProof = wf(Obj(BalanceProof))


@register(65, "ledger-crawl-back")
@dataclass(frozen=True)
class CrawlBack(Tx):
    """Anyone shows a newer checkpoint for a member with an open claim."""

    sender: bytes = wf(MEMBER_ID)
    nonce: int = wf(NONCE)
    fee: int = wf(FEE)
    member: bytes = wf(MEMBER_ID)
    checkpoint: SignedCheckpoint = wf(Obj(SignedCheckpoint))
    proof: BalanceProof = wf(Obj(BalanceProof))


@register(66, "ledger-finalize")
@dataclass(frozen=True)
class Finalize(Tx):
    """Anyone completes a claim's payout once its window has passed."""

    sender: bytes = wf(MEMBER_ID)
    nonce: int = wf(NONCE)
    fee: int = wf(FEE)
    group_id: bytes = wf(GROUP_ID)
    member: bytes = wf(MEMBER_ID)


TX_KINDS: tuple[type[Tx], ...] = (
    Transfer,
    OpenWallet,
    Deposit,
    Settle,
    Revoke,
    CrawlBack,
    Finalize,
)


@register(67, "ledger-signed-tx")
@dataclass(frozen=True)
class SignedTx(Wire):
    tx: Tx = wf(Obj(*TX_KINDS))
    signature: bytes = wf(SIGNATURE)

    def tx_id(self) -> bytes:
        return hashlib.sha256(b"swapnet/1/tx-id\x00" + self.encode()).digest()

    def verify(self, ledger_id: bytes) -> None:
        """Raise ``InvalidSignature`` unless the sender signed it for this ledger."""
        signing.verify(self.tx.sender, self.signature, TX_DOMAIN, ledger_id, self.tx.encode())


def sign_tx(tx: Tx, key: SigningKey, ledger_id: bytes) -> SignedTx:
    return SignedTx(tx, signing.sign(key, TX_DOMAIN, ledger_id, tx.encode()))
