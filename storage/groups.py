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
from proto.resharing import ReshareComplaint, ReshareSpec
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

    # -- steward changes (``proto.resharing``) ---------------------------------------------
    def save_reshare(
        self, group_id: bytes, spec: ReshareSpec, sealed_seed: bytes, *, asked: bool
    ) -> None:
        """A change this steward deals in or its operator asked for (``asked``), with its
        sealed dealing seed, before anything of it leaves (a restarted dealer deals the
        very same shares). A seed already stored is kept."""
        ceremony = spec.ceremony().hex()
        seed_key = schema.group_key(group_id, f"reshare-seed-{ceremony}")
        with self.store.batch(sync=True) as batch:
            batch.put(schema.group_key(group_id, f"reshare-{ceremony}"), spec.encode())
            batch.put(seed_key, self.store.get(seed_key) or sealed_seed)
            if asked:
                batch.put(schema.group_key(group_id, f"reshare-asked-{ceremony}"), b"")

    def load_reshare(self, group_id: bytes, ceremony: bytes) -> tuple[ReshareSpec, bytes] | None:
        key = schema.group_key(group_id, f"reshare-{ceremony.hex()}")
        raw = self.store.get(key)
        seed = self.store.get(schema.group_key(group_id, f"reshare-seed-{ceremony.hex()}"))
        if raw is None or seed is None:
            return None
        return decode_record(key, raw, ReshareSpec), seed

    def reshares(self, group_id: bytes) -> list[ReshareSpec]:
        """The changes this steward's operator asked for, not yet forgotten."""
        asked = schema.group_key(group_id, "reshare-asked-")
        out = []
        for k, _ in self.store.iterate(asked):
            key = schema.group_key(group_id, "reshare-" + k[len(asked) :].decode("ascii"))
            raw = self.store.get(key)
            if raw is not None:
                out.append(decode_record(key, raw, ReshareSpec))
        return out

    def save_complaint(self, group_id: bytes, complaint: ReshareComplaint) -> None:
        """Evidence against a dealer (its own signed reply), kept for good (fsynced)."""
        name = f"complaint-{complaint.spec.ceremony().hex()}"
        self.store.put(schema.group_key(group_id, name), complaint.encode(), sync=True)

    def complaints(self, group_id: bytes) -> list[ReshareComplaint]:
        prefix = schema.group_key(group_id, "complaint-")
        return [decode_record(k, v, ReshareComplaint) for k, v in self.store.iterate(prefix)]

    def save_epoch_key(self, group_id: bytes, epoch: int, steward_key: StewardKey) -> None:
        """Our share of the wallet key for epoch ``epoch``'s committee (sealed), fsynced."""
        key = schema.group_key(group_id, f"epoch-key-{epoch:08x}")
        self.store.put(key, steward_key.encode(), sync=True)

    def holds_epoch_key(self, group_id: bytes, epoch: int) -> bool:
        """Whether our share for ``epoch`` is on disk (read, not decoded: asked per vote)."""
        name = "steward-key" if epoch == 0 else f"epoch-key-{epoch:08x}"
        return self.store.get(schema.group_key(group_id, name)) is not None

    def epoch_key(self, group_id: bytes, epoch: int) -> StewardKey | None:
        """Our share for ``epoch`` (epoch 0's is the DKG's ``steward_key``)."""
        if epoch == 0:
            return self.steward_key(group_id)
        key = schema.group_key(group_id, f"epoch-key-{epoch:08x}")
        raw = self.store.get(key)
        return None if raw is None else decode_record(key, raw, StewardKey)

    def erase_before(self, group_id: bytes, epoch: int) -> None:
        """Erase our shares of the epochs before ``epoch`` and the records and dealing
        seeds of the changes out of them: a share stolen from this disk later signs
        nothing with the new committee's, and the old ones are gone. A change out of
        ``epoch`` itself (asked already) keeps its seed. One atomic, fsynced batch."""
        prefix = schema.group_key(group_id, "reshare-")
        seeds = schema.group_key(group_id, "reshare-seed-")
        asked = schema.group_key(group_id, "reshare-asked-")
        with self.store.batch(sync=True) as batch:
            batch.delete(schema.group_key(group_id, "steward-key"))
            for n in range(1, epoch):
                batch.delete(schema.group_key(group_id, f"epoch-key-{n:08x}"))
            for k, v in self.store.iterate(prefix):
                if k.startswith((seeds, asked)):
                    continue
                if decode_record(k, v, ReshareSpec).epoch < epoch:
                    ceremony = k[len(prefix) :].decode("ascii")
                    for name in ("reshare-", "reshare-seed-", "reshare-asked-"):
                        batch.delete(schema.group_key(group_id, name + ceremony))

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
