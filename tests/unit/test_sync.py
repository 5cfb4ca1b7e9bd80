"""Sync by seq vectors: replicas that each hold a random part of the certificates reach
identical state through pairwise rounds, whatever the order; forged certificates change
nothing; replies stay within their budget."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proto.checkpoint_proposals import vector_of
from proto.codec import decode
from proto.errors import InvalidCertificate
from proto.replica import Replica
from proto.sync import SyncHello, SyncReply, hello_of, plan_reply
from proto.votes import Batch, Certificate, StewardSignature
from storage import LevelDBStore, MemoryStore
from storage.certificates import CertificateRepo
from tests.support import make_group

G = make_group(seed="sync", stewards=4, members=4, funding=500)


def certified_history(rng: random.Random, length: int) -> list[Certificate]:
    """Valid orders in batches of 1 to 3, each certified by a quorum of real votes."""
    state = G.genesis_state()
    certs, batch = [], []
    for _ in range(length):
        a, b = rng.sample(G.ids, 2)
        have = state.balance(a, "USD")
        if have < 1:
            continue
        signed = G.transfer(a, state.next_seq(a), b, rng.randint(1, have))
        state.apply(signed.order)
        batch.append(signed)
        if len(batch) == rng.randint(1, 3):
            certs.append(G.certify(Batch(tuple(batch))))
            batch = []
    if batch:
        certs.append(G.certify(Batch(tuple(batch))))
    return certs


class Member:
    def __init__(self) -> None:
        self.replica = Replica(G.genesis_state(), G.epochs)
        self.repo = CertificateRepo(MemoryStore(), G.group_id)

    def take(self, cert: Certificate) -> None:
        self.replica.receive_certificate(cert)  # verifies; raises on a forged one
        self.repo.add(cert)

    def hello(self) -> SyncHello:
        return hello_of(vector_of(self.replica.state), self.replica.waiting)

    def answer(self, hello: SyncHello, budget: int) -> SyncReply:
        return plan_reply(vector_of(self.replica.state), hello, self.repo.lookup, budget)


@given(st.integers(0, 2**32), st.integers(4, 40), st.sampled_from([1, 2000, 1 << 19]))
def test_replicas_with_random_parts_converge_by_pairwise_sync(
    seed: int, length: int, budget: int
) -> None:
    rng = random.Random(seed)
    certs = certified_history(rng, length)
    members = [Member() for _ in range(4)]
    for cert in certs:  # every certificate reaches at least one member
        for m in rng.sample(members, rng.randint(1, 4)):
            m.take(cert)
    reference = Replica(G.genesis_state(), G.epochs)
    for cert in certs:
        reference.receive_certificate(cert)
    for _ in range(600):
        if all(m.replica.state.encode() == reference.state.encode() for m in members):
            break
        asker, peer = rng.sample(members, 2)
        wire = decode(
            peer.answer(decode(asker.hello().encode(), SyncHello), budget).encode(), SyncReply
        )
        for cert in wire.certificates:
            asker.take(cert)
    for m in members:
        assert m.replica.state.encode() == reference.state.encode()
        assert m.replica.waiting == {}


def test_a_reply_respects_its_budget_but_always_makes_progress() -> None:
    rng = random.Random(1)
    certs = certified_history(rng, 30)
    full, empty = Member(), Member()
    for cert in certs:
        full.take(cert)
    one = full.answer(empty.hello(), budget=1)
    assert len(one.certificates) == 1 and one.more
    everything = full.answer(empty.hello(), budget=1 << 20)
    assert not everything.more and len(everything.certificates) == len(certs)
    assert full.answer(full.hello(), budget=1 << 20).certificates == ()


def test_a_forged_certificate_in_a_reply_changes_nothing() -> None:
    rng = random.Random(2)
    (cert, *_) = certified_history(rng, 5)
    forged = Certificate(
        cert.epoch, cert.batch, tuple(StewardSignature(v.steward, bytes(64)) for v in cert.votes)
    )
    member = Member()
    before = member.replica.state.encode()
    with pytest.raises(InvalidCertificate):
        member.take(forged)
    assert member.replica.state.encode() == before and member.replica.waiting == {}


def test_certificates_are_found_by_any_order_they_hold_on_leveldb(tmp_path: Path) -> None:
    certs = certified_history(random.Random(3), 20)
    with LevelDBStore(tmp_path / "db") as store:
        repo = CertificateRepo(store, G.group_id)
        for cert in certs:
            repo.add(cert)
    with LevelDBStore(tmp_path / "db") as store:
        repo = CertificateRepo(store, G.group_id)
        for cert in certs:
            for signed in cert.batch.orders:
                for p in signed.order.parties:
                    assert repo.lookup(p.member, p.seq) == cert
        assert repo.lookup(G.ids[0], 10**6) is None
