"""A node's group records: the spec it was formed from, the steward's sealed DKG seed and
key share, the genesis, and the signed joins stewards have received.

``save_formed`` writes the genesis and the steward's key in one atomic, fsynced batch: a
node either has a formed group or it does not. The node seals secrets before they get
here; this module never sees a secret in the clear.
"""

from __future__ import annotations

from proto.admission import Join
from proto.formation import GroupSpec, StewardKey
from proto.genesis import Genesis
from storage import schema
from storage.records import decode_record
from storage.store import Store

CURRENT = "group"


class GroupRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- which group this node serves ---------------------------------------------------
    def current(self) -> bytes | None:
        return self.store.get(schema.meta_key(CURRENT))

    def set_current(self, group_id: bytes) -> None:
        self.store.put(schema.meta_key(CURRENT), group_id, sync=True)

    # -- formation ------------------------------------------------------------------------
    def save_spec(self, spec: GroupSpec, sealed_seed: bytes) -> None:
        """The spec being formed and this steward's sealed DKG seed, before any dealing."""
        ceremony = spec.ceremony()
        with self.store.batch(sync=True) as batch:
            batch.put(schema.group_key(ceremony, "spec"), spec.encode())
            batch.put(schema.group_key(ceremony, "dkg-seed"), sealed_seed)

    def load_spec(self, ceremony: bytes) -> tuple[GroupSpec, bytes] | None:
        key = schema.group_key(ceremony, "spec")
        raw = self.store.get(key)
        seed = self.store.get(schema.group_key(ceremony, "dkg-seed"))
        if raw is None or seed is None:
            return None
        return decode_record(key, raw, GroupSpec), seed

    def save_formed(self, genesis: Genesis, steward_key: StewardKey | None) -> bytes:
        group_id = genesis.group_id()
        with self.store.batch(sync=True) as batch:
            batch.put(schema.group_key(group_id, "genesis"), genesis.encode())
            if steward_key is not None:
                batch.put(schema.group_key(group_id, "steward-key"), steward_key.encode())
            batch.put(schema.meta_key(CURRENT), group_id)
        return group_id

    def genesis(self, group_id: bytes) -> Genesis | None:
        key = schema.group_key(group_id, "genesis")
        raw = self.store.get(key)
        return None if raw is None else decode_record(key, raw, Genesis)

    def steward_key(self, group_id: bytes) -> StewardKey | None:
        key = schema.group_key(group_id, "steward-key")
        raw = self.store.get(key)
        return None if raw is None else decode_record(key, raw, StewardKey)

    # -- joins ----------------------------------------------------------------------------
    def add_join(self, group_id: bytes, join: Join) -> None:
        self.store.put(schema.join_key(group_id, join.member), join.encode(), sync=True)

    def join(self, group_id: bytes, member: bytes) -> Join | None:
        key = schema.join_key(group_id, member)
        raw = self.store.get(key)
        return None if raw is None else decode_record(key, raw, Join)

    def joins(self, group_id: bytes) -> list[Join]:
        return [
            decode_record(k, v, Join)
            for k, v in self.store.iterate(schema.group_prefix(schema.JOIN, group_id))
        ]
