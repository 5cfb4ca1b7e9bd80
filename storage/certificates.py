"""Certificates on disk, found by the (member, seq) of any order they hold.

``add`` writes the certificate once under its batch digest and an index entry per
(member, seq) of its orders, in one atomic batch. ``lookup(member, seq)`` is what
``proto.sync.plan_reply`` reads through.
"""

from __future__ import annotations

import hashlib

from proto.votes import Certificate
from storage import schema
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

    def lookup(self, member: bytes, seq: int) -> Certificate | None:
        digest = self.store.get(
            schema.member_seq_key(schema.CERT_INDEX, self.group_id, member, seq)
        )
        if digest is None:
            return None
        key = schema.certificate_key(self.group_id, digest)
        raw = self.store.get(key)
        return None if raw is None else decode_record(key, raw, Certificate)
