"""Certificates on disk, found by the (member, seq) of any order they hold.

``add`` writes the certificate once under its batch digest and an index entry per
(member, seq) of its orders, in one atomic batch. ``lookup(member, seq)`` is what
``proto.sync.plan_reply`` reads through. ``orders_after(vector)`` gives every stored
certified order that consumes a seq beyond ``vector``: with the last adopted checkpoint,
that is everything a node needs to rebuild its live state after a restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from proto.orders import SignedOrder
from proto.votes import Certificate
from storage import schema
from storage.errors import StorageError
from storage.records import decode_record
from storage.store import Store


class CertificateRepo:
    def __init__(self, store: Store, group_id: bytes) -> None:
        self.store = store
        self.group_id = group_id

    @staticmethod
    def digest(cert: Certificate) -> bytes:
        return hashlib.sha256(cert.batch.encoded).digest()

    def add(self, cert: Certificate, *, sync: bool = False) -> None:
        digest = self.digest(cert)
        with self.store.batch(sync=sync) as batch:
            batch.put(schema.certificate_key(self.group_id, digest), cert.encode())
            for signed in cert.batch.orders:
                for p in signed.order.parties:
                    batch.put(
                        schema.member_seq_key(schema.CERT_INDEX, self.group_id, p.member, p.seq),
                        digest,
                    )

    def orders_after(self, vector: Mapping[bytes, int]) -> list[SignedOrder]:
        digests: dict[bytes, None] = {}
        for key, digest in self.store.iterate(
            schema.group_prefix(schema.CERT_INDEX, self.group_id)
        ):
            member, seq = schema.parse_member_seq_key(key)
            if seq > vector.get(member, 0):
                digests.setdefault(digest, None)
        out: dict[bytes, SignedOrder] = {}
        for digest in digests:
            key = schema.certificate_key(self.group_id, digest)
            raw = self.store.get(key)
            if raw is None:
                raise StorageError(f"certificate index points at a missing {digest.hex()}")
            for signed in decode_record(key, raw, Certificate).batch.orders:
                if any(p.seq > vector.get(p.member, 0) for p in signed.order.parties):
                    out.setdefault(signed.order_id, signed)
        return list(out.values())

    def lookup(self, member: bytes, seq: int) -> Certificate | None:
        digest = self.store.get(
            schema.member_seq_key(schema.CERT_INDEX, self.group_id, member, seq)
        )
        if digest is None:
            return None
        key = schema.certificate_key(self.group_id, digest)
        raw = self.store.get(key)
        return None if raw is None else decode_record(key, raw, Certificate)
