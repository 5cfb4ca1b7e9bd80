"""Typed repositories: proto objects in and out of a ``Store``.

* ``ensure_schema`` stamps a new store with ``SCHEMA_VERSION`` and refuses a store written
  by another version.
* ``ReplicaRepo`` saves a replica's applied state and its waiting certified orders in one
  atomic batch, and rebuilds an identical replica from them.
* ``CheckpointRepo`` holds a steward's checkpoint lock (fsynced before its FROST
  commitment or share leaves) and the last adopted checkpoint with its state.
* ``VoteLockRepo`` holds a steward's vote locks. ``persist`` always fsyncs: it is called
  before the vote that the locks guard leaves the process.

A stored record that does not decode is corruption and raises ``StorageError``; it is
never skipped silently.
"""

from __future__ import annotations

from collections.abc import Iterable

from proto.checkpoint import Checkpoint, checkpoint_of
from proto.checkpoint_proposals import Completed, Proposal
from proto.epochs import Epochs
from proto.errors import DecodeError
from proto.handover import Handover, Seal
from proto.orders import SignedOrder
from proto.replica import Replica
from proto.state import GroupState
from storage import schema
from storage.errors import StorageError
from storage.records import decode_record
from storage.store import Store


def ensure_schema(store: Store) -> None:
    key = schema.meta_key("schema")
    found = store.get(key)
    if found is None:
        store.put(key, schema.SCHEMA_VERSION.to_bytes(4, "big"), sync=True)
    elif found != schema.SCHEMA_VERSION.to_bytes(4, "big"):
        raise StorageError(
            f"store has schema {int.from_bytes(found, 'big')}, this build reads "
            f"{schema.SCHEMA_VERSION}"
        )


def _decode_order_at(key: bytes, value: bytes) -> tuple[bytes, int, SignedOrder]:
    """(member, seq, order) of a member/seq record; the order must consume that seq."""
    member, seq = schema.parse_member_seq_key(key)
    signed = decode_record(key, value, SignedOrder)
    if not any(p.member == member and p.seq == seq for p in signed.order.parties):
        raise StorageError(f"order record at {key.hex()} does not match its key")
    return member, seq, signed


class ReplicaRepo:
    def __init__(self, store: Store, group_id: bytes) -> None:
        self.store = store
        self.group_id = group_id

    def save(self, replica: Replica, *, sync: bool = True) -> None:
        """Replace the stored state and waiting orders with the replica's, atomically."""
        prefix = schema.group_prefix(schema.WAITING, self.group_id)
        with self.store.batch(sync=sync) as batch:
            for key, _ in self.store.iterate(prefix):
                batch.delete(key)
            batch.put(schema.state_key(self.group_id), replica.state.encode())
            for (member, seq), signed in replica.waiting.items():
                key = schema.member_seq_key(schema.WAITING, self.group_id, member, seq)
                batch.put(key, signed.encode())

    def load(self, epochs: Epochs) -> Replica | None:
        raw = self.store.get(schema.state_key(self.group_id))
        if raw is None:
            return None
        try:
            state = GroupState.decode(raw)
        except DecodeError as exc:
            raise StorageError(f"corrupt state record: {exc}") from exc
        if state.group_id != self.group_id:
            raise StorageError("stored state belongs to another group")
        replica = Replica(state, epochs)
        prefix = schema.group_prefix(schema.WAITING, self.group_id)
        for key, value in self.store.iterate(prefix):
            member, seq, signed = _decode_order_at(key, value)
            replica.waiting[(member, seq)] = signed
        return replica


class VoteLockRepo:
    def __init__(self, store: Store, group_id: bytes) -> None:
        self.store = store
        self.group_id = group_id

    def persist(self, orders: Iterable[SignedOrder]) -> None:
        """Durably record locks for every (member, seq) these orders consume (fsync)."""
        with self.store.batch(sync=True) as batch:
            for signed in orders:
                value = signed.encode()
                for p in signed.order.parties:
                    key = schema.member_seq_key(schema.VOTE_LOCK, self.group_id, p.member, p.seq)
                    batch.put(key, value)

    def forget(self, keys: Iterable[tuple[bytes, int]]) -> None:
        with self.store.batch(sync=False) as batch:
            for member, seq in keys:
                batch.delete(schema.member_seq_key(schema.VOTE_LOCK, self.group_id, member, seq))

    def load(self) -> list[SignedOrder]:
        """Every locked order, once each, in key order."""
        out: dict[bytes, SignedOrder] = {}
        for key, value in self.store.iterate(schema.group_prefix(schema.VOTE_LOCK, self.group_id)):
            _, _, signed = _decode_order_at(key, value)
            out.setdefault(signed.order_id, signed)
        return list(out.values())


def _checkpoint_args(state: GroupState, c: Checkpoint) -> tuple[GroupState, int, bytes, bytes]:
    return state, c.number, c.ledger_id, c.next_epoch


class EpochRepo:
    """A steward's seal and the hand-overs the group went through, in epoch order."""

    def __init__(self, store: Store, group_id: bytes) -> None:
        self.store = store
        self.group_id = group_id

    def save_seal(self, seal: Seal) -> None:
        """Durably record our seal (fsync): call before the seal leaves."""
        self.store.put(schema.group_key(self.group_id, "seal"), seal.encode(), sync=True)

    def load_seal(self) -> Seal | None:
        key = schema.group_key(self.group_id, "seal")
        raw = self.store.get(key)
        return None if raw is None else decode_record(key, raw, Seal)

    def add_handover(self, handover: Handover) -> None:
        name = f"handover-{handover.next.number:08x}"
        self.store.put(schema.group_key(self.group_id, name), handover.encode(), sync=True)

    def handover(self, number: int) -> Handover | None:
        """The stored hand-over into epoch ``number``, if any."""
        key = schema.group_key(self.group_id, f"handover-{number:08x}")
        raw = self.store.get(key)
        return None if raw is None else decode_record(key, raw, Handover)

    def load_handovers(self) -> list[Handover]:
        out: list[Handover] = []
        number = 1
        while True:
            key = schema.group_key(self.group_id, f"handover-{number:08x}")
            raw = self.store.get(key)
            if raw is None:
                return out
            out.append(decode_record(key, raw, Handover))
            number += 1


class CheckpointRepo:
    def __init__(self, store: Store, group_id: bytes) -> None:
        self.store = store
        self.group_id = group_id

    def save_lock(self, proposal: Proposal) -> None:
        """Durably record the accepted proposal (fsync): call before signing anything."""
        self.store.put(schema.checkpoint_key(self.group_id, "lock"), proposal.encode(), sync=True)

    def load_lock(self) -> Proposal | None:
        key = schema.checkpoint_key(self.group_id, "lock")
        raw = self.store.get(key)
        return None if raw is None else decode_record(key, raw, Proposal)

    def save_base(self, completed: Completed, state: GroupState) -> None:
        """The adopted checkpoint and the state it commits to, in one atomic write."""
        checkpoint = completed.proposal.checkpoint
        if checkpoint_of(*_checkpoint_args(state, checkpoint)) != checkpoint:
            raise StorageError("refusing to store a state that is not the checkpoint's")
        with self.store.batch(sync=True) as batch:
            batch.put(schema.checkpoint_key(self.group_id, "base"), completed.encode())
            batch.put(schema.checkpoint_key(self.group_id, "base-state"), state.encode())

    def load_base(self) -> tuple[Completed, GroupState] | None:
        key = schema.checkpoint_key(self.group_id, "base")
        raw = self.store.get(key)
        if raw is None:
            return None
        completed = decode_record(key, raw, Completed)
        state_key = schema.checkpoint_key(self.group_id, "base-state")
        raw_state = self.store.get(state_key)
        if raw_state is None:
            raise StorageError("a checkpoint is stored without its state")
        try:
            state = GroupState.decode(raw_state)
        except DecodeError as exc:
            raise StorageError(f"corrupt checkpoint state: {exc}") from exc
        checkpoint = completed.proposal.checkpoint
        if checkpoint_of(*_checkpoint_args(state, checkpoint)) != checkpoint:
            raise StorageError("the stored checkpoint state does not match its checkpoint")
        return completed, state
