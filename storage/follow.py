"""What a node has followed of the ledger for its group, and the revoke evidence it holds.

``FollowRepo`` keeps the ledger view (``proto.ledger_view``): the group's events in ledger
order, the height followed to, and how many wallet transactions (open, settle) the ledger
has shown. ``advance`` writes new events and the new cursor in one fsynced batch, so after
a crash the follower resumes from the last height it processed whole, with nothing missed
and nothing counted twice (a batch interrupted before the write is simply read again).

``ReceiptRepo`` keeps the node's own receipt under every checkpoint it adopted: the signed
checkpoint with its own proof (a ``Prequal`` of itself), which is what it revokes with and
what its badges are.

``EvidenceRepo`` keeps revoke evidence (either kind) by (member, revoke tx id): the first one that
checked out is kept, later copies of the same revoke are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from proto.chain_leaf import ChainProof, ChainProofRecord
from proto.errors import DecodeError
from proto.evidence import Evidence, read_evidence
from proto.ledger_view import ViewEvent
from proto.prequal import Prequal
from storage import schema
from storage.errors import StorageError
from storage.records import decode_record
from storage.store import Store


@dataclass(frozen=True)
class Followed:
    height: int
    wallet_txs: int
    events: list[ViewEvent]


class FollowRepo:
    def __init__(self, store: Store, group_id: bytes) -> None:
        self.store = store
        self.group_id = group_id

    def load(self) -> Followed:
        raw = self.store.get(schema.follow_key(self.group_id, "cursor"))
        if raw is None:
            return Followed(0, 0, [])
        if len(raw) != 16:
            raise StorageError("corrupt ledger follower cursor")
        height, wallet_txs = int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")
        prefix = schema.follow_event_key(self.group_id, 0)[:-8]
        events = [decode_record(k, v, ViewEvent) for k, v in self.store.iterate(prefix)]
        return Followed(height, wallet_txs, events)

    def advance(
        self, height: int, wallet_txs: int, first_index: int, events: list[ViewEvent]
    ) -> None:
        """Durably add ``events`` (numbered from ``first_index``, the count kept so far)
        and move the cursor to ``height``."""
        with self.store.batch(sync=bool(events)) as batch:
            for i, event in enumerate(events):
                batch.put(schema.follow_event_key(self.group_id, first_index + i), event.encode())
            cursor = height.to_bytes(8, "big") + wallet_txs.to_bytes(8, "big")
            batch.put(schema.follow_key(self.group_id, "cursor"), cursor)


class EvidenceRepo:
    def __init__(self, store: Store, group_id: bytes) -> None:
        self.store = store
        self.group_id = group_id

    def add(self, evidence: Evidence) -> bool:
        """Keep ``evidence`` (fsync); False if this revoke's evidence was already kept."""
        key = schema.evidence_key(self.group_id, evidence.revoker, evidence.revoke_id)
        if self.store.get(key) is not None:
            return False
        with self.store.batch(sync=True) as batch:
            batch.put(key, evidence.encode())
        return True

    def all(self) -> list[Evidence]:
        prefix = schema.group_prefix(schema.EVIDENCE, self.group_id)
        found = []
        for key, raw in self.store.iterate(prefix):
            try:
                found.append(read_evidence(raw))
            except DecodeError as exc:  # corruption, never skipped
                raise StorageError(f"corrupt revoke evidence at {key.hex()}: {exc}") from exc
        return found

    def against(self, member: bytes) -> list[Evidence]:
        return [e for e in self.all() if e.revoker == member]


class ReceiptRepo:
    def __init__(self, store: Store, group_id: bytes) -> None:
        self.store = store
        self.group_id = group_id

    def put(self, receipt: Prequal, chain: ChainProof | None = None) -> None:
        """Our receipt of a checkpoint, and the chain proof of our leaf under it (for a
        revoke on an EVM ledger), in one fsynced batch."""
        number = receipt.checkpoint.checkpoint.number
        with self.store.batch(sync=True) as batch:
            batch.put(schema.receipt_key(self.group_id, number), receipt.encode())
            if chain is not None:
                record = ChainProofRecord.of(chain).encode()
                batch.put(schema.chain_proof_key(self.group_id, number), record)

    def chain(self, number: int) -> ChainProof | None:
        key = schema.chain_proof_key(self.group_id, number)
        raw = self.store.get(key)
        if raw is None:
            return None
        try:
            return decode_record(key, raw, ChainProofRecord).proof()
        except ValueError as exc:
            raise StorageError(f"corrupt chain proof at {key!r}: {exc}") from exc

    def get(self, number: int) -> Prequal | None:
        key = schema.receipt_key(self.group_id, number)
        raw = self.store.get(key)
        return None if raw is None else decode_record(key, raw, Prequal)

    def numbers(self) -> list[int]:
        prefix = schema.group_prefix(schema.RECEIPT, self.group_id)
        return [int.from_bytes(k[-8:], "big") for k, _ in self.store.iterate(prefix)]
