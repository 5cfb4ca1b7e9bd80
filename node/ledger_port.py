"""The ledger port: what a node asks of the ledger its group wallet lives on, in the group's
own words, and the typed events it reads back. Two adapters implement it: the devnet
ledger swapnet ships (``node.ledger_devnet``) and an EVM chain with the group wallet
contract (``node.evm.adapter``). Node, notary and checkpointing use only this port.

The intents:

* ``deposit`` (a join's funds into the group wallet), ``revoke`` (exit alone with a
  receipt: a group-signed checkpoint and a proof of our leaf), ``crawl_back`` (as a notary:
  a strictly newer checkpoint and the claimant's proof under it), ``finalize`` (pay a claim
  whose window has passed) are sent with the node's own ledger key, which the adapter holds;
* ``open`` and ``settle`` are the group wallet's own: the wallet key (FROST, t of n) signed
  them in the ledger's format (``proto.wallet_txs``), and any node may submit them
  (``submit_wallet``);
* ``fund_wallet``: whatever the ledger needs before the wallet can act (the devnet
  wallet pays its own fees; on an EVM chain the sender pays gas and nothing is needed).

Reading: ``info`` (the ledger: id, height, fee), ``wallet`` (the wallet of a group id:
key, assets, window, fee, held), and ``events(cursor)``, which returns the group-relevant
events from ``cursor`` on and ``next``, the cursor to ask next: a notary that was offline
resumes exactly where it left off. A cursor is a ledger height (a block number on an EVM
chain).

Errors, the same on every adapter: a refused intent raises ``LedgerError`` with the
devnet ledger's machine-readable code (``claim-open``, ``window-closed``, ...; an EVM
adapter maps the contract's custom errors to the same codes); an unreachable ledger
raises ``LedgerUnavailable``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

from proto.chain_leaf import ChainProof
from proto.checkpoint import SignedCheckpoint
from proto.errors import SwapnetError
from proto.evidence import Evidence
from proto.genesis import Genesis
from proto.ledger_view import ViewEvent, view_event
from proto.merkle import BalanceProof
from proto.wallet_txs import WalletAction

EventKind = Literal[
    "open", "deposit", "settle", "revoke", "crawl-back", "crawl-back-honest", "finalize"
]
EVENT_KINDS: tuple[EventKind, ...] = (
    "open",
    "deposit",
    "settle",
    "revoke",
    "crawl-back",
    "crawl-back-honest",
    "finalize",
)


class LedgerError(SwapnetError):
    def __init__(self, code: str, detail: str, status: int = 409) -> None:
        self.code, self.detail, self.status = code, detail, status
        super().__init__(f"{code}: {detail}")


class LedgerUnavailable(SwapnetError):
    """The ledger did not answer."""


@dataclass(frozen=True)
class LedgerInfo:
    kind: str
    """``devnet`` or ``evm``."""
    ledger_id: bytes
    """What a group spec and every ledger signature bind: the devnet ledger's id, or an
    EVM chain's (chain id, contract) in 32 bytes (``node.evm.adapter.ledger_id``)."""
    height: int
    fee_asset: str
    min_fee: int
    """What a ledger transaction costs its sender in ``fee_asset`` (0 on an EVM chain:
    senders pay gas)."""


@dataclass(frozen=True)
class WalletInfo:
    group_id: bytes
    key: bytes
    genesis_hash: bytes
    assets: tuple[str, ...]
    challenge_window: int
    revoke_fee: int
    held: dict[str, int]
    highest_checkpoint: int


@dataclass(frozen=True)
class LedgerEvent:
    """One event of a group wallet. ``amounts``: what was deposited, paid by a settle or a
    finalize, or claimed (a revoke, a crawl back: the claim's balances now); ``forfeited``:
    the bond a premature claim lost to a crawl back (``crawl-back``; an honest one, where the
    stale checkpoint showed no more, is ``crawl-back-honest``); ``ref``: the ledger's id of
    the transaction (a devnet tx id, an EVM transaction hash). An opening names no member
    (``member`` is empty)."""

    kind: EventKind
    height: int
    group_id: bytes
    member: bytes
    checkpoint: int = 0
    amounts: dict[str, int] = field(default_factory=dict)
    forfeited: int = 0
    ref: str = ""

    def view_event(self) -> ViewEvent | None:
        """The ledger view's record of it (``proto.ledger_view``), None for an opening."""
        return view_event(self.kind, self.height, self.member, self.checkpoint, self.amounts)


@dataclass(frozen=True)
class EventPage:
    events: list[LedgerEvent]
    next: int
    """The cursor to ask next; every height below it has been read whole."""
    height: int


@dataclass(frozen=True)
class Receipt:
    """A member's proof of its balance under a group-signed checkpoint: the balance proof
    the devnet ledger reads, and the chain proof an EVM ledger reads (same member, same
    checkpoint)."""

    checkpoint: SignedCheckpoint
    proof: BalanceProof
    chain: ChainProof | None = None

    @property
    def number(self) -> int:
        return self.checkpoint.checkpoint.number


def wallet_problem(genesis: Genesis, wallet: WalletInfo) -> str | None:
    """What makes the wallet a ledger shows not our genesis's, or None. A node checks this
    before it calls its wallet open or deposits into it."""
    gid = genesis.group_id()
    expected: dict[str, Any] = {
        "group_id": gid,
        "genesis_hash": gid,
        "key": genesis.wallet_key,
        "assets": tuple(genesis.assets),
        "challenge_window": genesis.challenge_window,
        "revoke_fee": genesis.revoke_fee,
    }
    for name, value in expected.items():
        if getattr(wallet, name) != value:
            return f"the ledger's wallet has another {name} than our genesis"
    return None


class LedgerPort(ABC):
    def follow(self, genesis: Genesis) -> None:  # noqa: B027 (most ledgers need nothing)
        """The group whose wallet this port reads and acts on (an EVM adapter derives the
        wallet's id from it); before any other call about the group."""

    @abstractmethod
    def own_account(self) -> bytes:
        """The node's account on this ledger (its member key on the devnet; its EVM account
        on an EVM chain, which a join binds)."""

    @abstractmethod
    async def info(self) -> LedgerInfo: ...

    @abstractmethod
    async def wallet(self, group_id: bytes) -> WalletInfo:
        """The wallet of ``group_id``; ``LedgerError("unknown-wallet")`` if none."""

    @abstractmethod
    async def events(self, cursor: int, wait: float = 0) -> EventPage:
        """Group wallet events from height ``cursor`` on (waiting up to ``wait`` seconds
        for one), in ledger order."""

    # -- the group wallet's own ---------------------------------------------------------
    @abstractmethod
    async def fund_wallet(self, genesis: Genesis) -> None:
        """Make the wallet able to pay for its own transactions, if the ledger needs it."""

    @abstractmethod
    async def submit_wallet(self, action: WalletAction, signature: bytes) -> str:
        """Submit a wallet transaction (open, settle: ``proto.wallet_txs``, in this ledger's
        format) with the wallet key's signature over its message; its ledger id."""

    # -- ours -----------------------------------------------------------------------------
    @abstractmethod
    async def deposit(self, group_id: bytes, asset: str, amount: int) -> str: ...

    @abstractmethod
    async def revoke(self, group_id: bytes, receipt: Receipt) -> str: ...

    @abstractmethod
    async def crawl_back(self, group_id: bytes, member: bytes, newer: Receipt) -> str: ...

    @abstractmethod
    async def finalize(self, group_id: bytes, member: bytes) -> str: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    async def crawl_back_evidence(self, crawl: LedgerEvent, revoke_height: int) -> Evidence | None:
        """Revoke evidence (``proto.evidence``, not signed yet: ``sign_evidence``) of the
        revoke at ``revoke_height`` and the crawl back ``crawl``, made of the two
        transactions as the ledger holds them, signed by their senders, when the crawl
        back was ours; None when it was not ours."""
