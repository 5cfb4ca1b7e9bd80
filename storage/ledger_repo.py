"""The devnet ledger's chain on disk.

``save_block`` writes a block, its events, its transaction index entries and the new tip,
and clears the mempool entries it included, in one atomic fsynced batch: a block is either
wholly on disk or not at all, and once ``save_block`` returns it survives kill -9.
``add_to_mempool`` fsyncs each accepted transaction before the ledger answers the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from proto.codec import Wire
from proto.ledger.chain import MAX_BLOCK_BYTES, Block, EventList, LedgerGenesis
from proto.ledger.state import Event
from proto.ledger.txs import SignedTx
from storage import schema
from storage.errors import StorageError
from storage.records import decode_record
from storage.store import Store

T = TypeVar("T", bound=Wire)


def _decode(key: bytes, value: bytes, cls: type[T]) -> T:
    return decode_record(key, value, cls, max_bytes=MAX_BLOCK_BYTES)


class LedgerRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- genesis ------------------------------------------------------------------------
    def save_genesis(self, genesis: LedgerGenesis, faucet_seed: bytes) -> None:
        with self.store.batch(sync=True) as batch:
            batch.put(schema.ledger_meta_key("genesis"), genesis.encode())
            batch.put(schema.ledger_meta_key("faucet-seed"), faucet_seed)

    def load_genesis(self) -> tuple[LedgerGenesis, bytes] | None:
        key = schema.ledger_meta_key("genesis")
        raw = self.store.get(key)
        if raw is None:
            return None
        seed = self.store.get(schema.ledger_meta_key("faucet-seed"))
        if seed is None or len(seed) != 32:
            raise StorageError("ledger store has a genesis but no faucet seed")
        return _decode(key, raw, LedgerGenesis), seed

    # -- blocks -------------------------------------------------------------------------
    def save_block(self, block: Block, events: list[Event]) -> None:
        with self.store.batch(sync=True) as batch:
            batch.put(schema.height_key(schema.BLOCK, block.height), block.encode())
            batch.put(
                schema.height_key(schema.BLOCK_EVENTS, block.height),
                EventList(tuple(events)).encode(),
            )
            for signed in block.txs:
                batch.put(schema.tx_index_key(signed.tx_id()), block.height.to_bytes(8, "big"))
            for key, _ in self.store.iterate(schema.MEMPOOL):
                batch.delete(key)

    def blocks(self) -> Iterator[Block]:
        for key, value in self.store.iterate(schema.BLOCK):
            yield _decode(key, value, Block)

    def block(self, height: int) -> Block | None:
        key = schema.height_key(schema.BLOCK, height)
        raw = self.store.get(key)
        return None if raw is None else _decode(key, raw, Block)

    def events(self, height: int) -> list[Event]:
        key = schema.height_key(schema.BLOCK_EVENTS, height)
        raw = self.store.get(key)
        return [] if raw is None else list(_decode(key, raw, EventList).events)

    def tx_height(self, tx_id: bytes) -> int | None:
        raw = self.store.get(schema.tx_index_key(tx_id))
        return None if raw is None else int.from_bytes(raw, "big")

    # -- mempool ------------------------------------------------------------------------
    def add_to_mempool(self, sequence: int, signed: SignedTx) -> None:
        self.store.put(schema.height_key(schema.MEMPOOL, sequence), signed.encode(), sync=True)

    def mempool(self) -> list[tuple[int, SignedTx]]:
        return [
            (schema.parse_height_key(key), _decode(key, value, SignedTx))
            for key, value in self.store.iterate(schema.MEMPOOL)
        ]
