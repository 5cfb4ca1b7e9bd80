"""The devnet chain, sans-IO: genesis, blocks, the mempool, and the order of operations
that lets the process persist before it promises.

A submitted transaction is checked against the live state (``check``). The process writes
it to its mempool on disk, then calls ``accept``, which applies it as part of the next
block (height = tip + 1). ``next_block`` packages the mempool; once the block is on disk
the process calls ``commit_block``. At start-up ``replay`` re-applies stored blocks, then
the stored mempool is accepted again. Every stored block must replay cleanly: a block
that does not apply means the store is corrupt.

Invariants: heights are consecutive from 1; each block names its parent's hash; the state
after replaying blocks 1..h is the state the live chain had at h.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from proto.codec import ListOf, Obj, Text, UInt, Wire, register, wf
from proto.errors import LocalProtocolError
from proto.kinds import AMOUNT, ASSET, DIGEST, MAX_ASSETS, MEMBER_ID
from proto.ledger.state import Event, LedgerParams, LedgerRejected, LedgerState
from proto.ledger.txs import SignedTx

MAX_BLOCK_TXS = 10_000
MAX_BLOCK_BYTES = 64 << 20
GENESIS_PARENT = b"\x00" * 32


@register(74, "ledger-allocation")
@dataclass(frozen=True)
class Allocation(Wire):
    account: bytes = wf(MEMBER_ID)
    asset: str = wf(ASSET)
    amount: int = wf(AMOUNT)


@register(75, "ledger-genesis")
@dataclass(frozen=True)
class LedgerGenesis(Wire):
    ledger_id: bytes = wf(DIGEST)
    name: str = wf(Text(64))
    fee_asset: str = wf(ASSET)
    min_fee: int = wf(UInt(64))
    fee_collector: bytes = wf(MEMBER_ID)
    faucet: bytes = wf(MEMBER_ID)
    allocations: tuple[Allocation, ...] = wf(ListOf(Obj(Allocation), max_items=4 * MAX_ASSETS))

    def params(self) -> LedgerParams:
        return LedgerParams(
            self.ledger_id,
            self.fee_asset,
            self.min_fee,
            self.fee_collector,
            tuple((a.account, a.asset, a.amount) for a in self.allocations),
        )

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(sorted({a.asset for a in self.allocations}))


@register(76, "ledger-block")
@dataclass(frozen=True)
class Block(Wire):
    height: int = wf(UInt(64, minimum=1))
    parent: bytes = wf(DIGEST)
    time: int = wf(UInt(64))
    txs: tuple[SignedTx, ...] = wf(ListOf(Obj(SignedTx), max_items=MAX_BLOCK_TXS))

    def hash(self) -> bytes:
        return hashlib.sha256(b"swapnet/1/block\x00" + self.encode()).digest()


@register(77, "ledger-events")
@dataclass(frozen=True)
class EventList(Wire):
    events: tuple[Event, ...] = wf(ListOf(Obj(Event), max_items=4 * MAX_BLOCK_TXS))


class Chain:
    def __init__(self, genesis: LedgerGenesis) -> None:
        self.genesis = genesis
        self.state = LedgerState(genesis.params())
        self.height = 0
        self.tip_hash = GENESIS_PARENT
        self.mempool: list[SignedTx] = []
        self.pending_events: list[Event] = []
        self.included: dict[bytes, int] = {}
        """tx id -> height of the block (pending ones map to the next height)."""

    # -- transactions -------------------------------------------------------------------
    def check(self, signed: SignedTx) -> Callable[[], list[Event]]:
        """Every rule, nothing written; raises ``LedgerRejected``."""
        if len(self.mempool) >= MAX_BLOCK_TXS:
            raise LedgerRejected("mempool-full", "try again after the next block")
        return self.state.prepare(signed, self.height + 1)

    def accept(self, signed: SignedTx, write: Callable[[], list[Event]]) -> list[Event]:
        """Apply a checked transaction (after the process stored it in its mempool)."""
        events = write()
        self.mempool.append(signed)
        self.pending_events.extend(events)
        self.included[signed.tx_id()] = self.height + 1
        return events

    # -- blocks -------------------------------------------------------------------------
    def next_block(self, time: int) -> Block:
        return Block(self.height + 1, self.tip_hash, time, tuple(self.mempool))

    def commit_block(self, block: Block) -> list[Event]:
        """The block (from ``next_block``) is durable: advance the tip."""
        if block.height != self.height + 1 or block.txs != tuple(self.mempool):
            raise LocalProtocolError("commit_block takes the block next_block made")
        events = self.pending_events
        self.height, self.tip_hash = block.height, block.hash()
        self.mempool, self.pending_events = [], []
        return events

    def replay(self, block: Block) -> list[Event]:
        """Re-apply a stored block at start-up; raise ``LocalProtocolError`` if it does not
        follow the tip or a transaction in it no longer applies (a corrupt store)."""
        if block.height != self.height + 1 or block.parent != self.tip_hash:
            raise LocalProtocolError(f"stored block {block.height} does not follow the tip")
        if self.mempool:
            raise LocalProtocolError("replay before accepting the stored mempool")
        for signed in block.txs:
            try:
                self.accept(signed, self.check(signed))
            except LedgerRejected as exc:
                raise LocalProtocolError(
                    f"stored block {block.height} does not apply: {exc}"
                ) from exc
        return self.commit_block(block)
