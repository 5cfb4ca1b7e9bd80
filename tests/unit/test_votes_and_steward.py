"""Votes, certificates, the quorum rule and the steward's vote lock."""

from __future__ import annotations

import pytest

from proto.effects import PersistVoteLocks, RefuseBatch, ReportEquivocation, SendVote
from proto.errors import InvalidCertificate, InvalidSignature
from proto.steward import Steward
from proto.votes import (
    Batch,
    Certificate,
    StewardSignature,
    VoteCollector,
    certificate_from_votes,
    make_vote,
    verify_certificate,
)
from tests.support import key, make_group, pub

G = make_group(seed="votes", stewards=4, members=2, funding=100)
A, B = G.ids[0], G.ids[1]


def batch(*orders):  # type: ignore[no-untyped-def]
    return Batch(tuple(orders))


def votes_for(b: Batch, count: int):  # type: ignore[no-untyped-def]
    return [make_vote(k, G.group_id, b.digest(G.group_id)) for k in G.stewards[:count]]


def test_a_quorum_of_votes_makes_a_valid_certificate() -> None:
    b = batch(G.transfer(A, 1, B, 5))
    cert = certificate_from_votes(b, votes_for(b, 3), G.epoch, G.group_id)
    assert verify_certificate(cert, G.epochs, G.group_id) == b.digest(G.group_id)
    assert len(cert.votes) == G.committee.quorum == 3


def test_fewer_than_a_quorum_is_not_a_certificate() -> None:
    b = batch(G.transfer(A, 1, B, 5))
    collector = VoteCollector(b, G.epoch, G.group_id)
    for v in votes_for(b, 2):
        assert collector.add(v) is None
    sigs = tuple(
        sorted(
            (StewardSignature(v.steward, v.signature) for v in votes_for(b, 2)),
            key=lambda s: s.steward,
        )
    )
    with pytest.raises(InvalidCertificate, match="quorum"):
        verify_certificate(Certificate(0, b, sigs), G.epochs, G.group_id)


def test_a_certificate_with_an_outsider_or_a_bad_vote_is_rejected() -> None:
    b = batch(G.transfer(A, 1, B, 5))
    good = [StewardSignature(v.steward, v.signature) for v in votes_for(b, 3)]
    outsider = make_vote(key("x", "outsider"), G.group_id, b.digest(G.group_id))
    with_outsider = sorted(
        [*good[:2], StewardSignature(outsider.steward, outsider.signature)], key=lambda s: s.steward
    )
    with pytest.raises(InvalidCertificate, match="outside"):
        verify_certificate(Certificate(0, b, tuple(with_outsider)), G.epochs, G.group_id)
    other = batch(G.transfer(A, 1, B, 6))
    wrong = [StewardSignature(v.steward, v.signature) for v in votes_for(other, 3)]
    with pytest.raises(InvalidCertificate, match="verify"):
        verify_certificate(
            Certificate(0, b, tuple(sorted(wrong, key=lambda s: s.steward))),
            G.epochs,
            G.group_id,
        )


def test_vote_collector_rejects_votes_for_another_batch_and_forged_votes() -> None:
    b = batch(G.transfer(A, 1, B, 5))
    collector = VoteCollector(b, G.epoch, G.group_id)
    other = batch(G.transfer(A, 1, B, 6))
    with pytest.raises(InvalidCertificate):
        collector.add(votes_for(other, 1)[0])
    v = votes_for(b, 1)[0]
    forged = type(v)(v.epoch, v.batch_digest, pub(G.stewards[1]), v.signature)
    with pytest.raises(InvalidSignature):
        collector.add(forged)
    assert collector.votes == {}


def steward(i: int = 0) -> Steward:
    return Steward(G.stewards[i], G.replica())


def test_steward_persists_its_locks_before_it_sends_the_vote() -> None:
    s = steward()
    effects = s.handle_batch(batch(G.transfer(A, 1, B, 5)))
    assert [type(e) for e in effects] == [PersistVoteLocks, SendVote]


def test_steward_never_votes_for_two_orders_with_one_sender_seq() -> None:
    s = steward()
    first = G.transfer(A, 1, B, 5)
    assert any(isinstance(e, SendVote) for e in s.handle_batch(batch(first)))
    # The same order again, in another batch, is fine: same lock.
    again = s.handle_batch(batch(first, G.transfer(B, 1, A, 1)))
    assert any(isinstance(e, SendVote) for e in again)
    effects = s.handle_batch(batch(G.transfer(A, 1, B, 6)))
    assert not any(isinstance(e, SendVote) for e in effects)
    refused = next(e for e in effects if isinstance(e, RefuseBatch))
    assert refused.refusals[0].reason == "conflicts-with-vote-lock"
    proof = next(e for e in effects if isinstance(e, ReportEquivocation)).proof
    proof.verify(G.group_id)


def test_a_restarted_steward_keeps_its_locks() -> None:
    s = steward()
    effects = s.handle_batch(batch(G.transfer(A, 1, B, 5)))
    persisted = next(e for e in effects if isinstance(e, PersistVoteLocks)).orders
    reborn = Steward(G.stewards[0], G.replica(), locks=persisted)
    assert not any(
        isinstance(e, SendVote) for e in reborn.handle_batch(batch(G.transfer(A, 1, B, 6)))
    )


def test_steward_forgets_locks_once_a_checkpoint_covers_them() -> None:
    s = steward()
    b = batch(G.transfer(A, 1, B, 5))
    s.handle_batch(b)
    cert = certificate_from_votes(b, votes_for(b, 3), G.epoch, G.group_id)
    assert s.receive_certificate(cert) == []
    assert (A, 1) in s.locks  # applied, not yet under a checkpoint: a seal reports it
    effects = s.adopt_checkpoint(1, s.replica.state)
    assert s.locks == {} and effects and effects[0].keys == ((A, 1),)  # type: ignore[union-attr]
    assert s.adopt_checkpoint(1, s.replica.state) == []  # not twice


def test_a_batch_cannot_hold_two_orders_for_one_seq() -> None:
    with pytest.raises(ValueError, match="same"):
        batch(G.transfer(A, 1, B, 5), G.transfer(A, 1, B, 6))


def test_a_replica_verifies_a_batch_once_and_still_refuses_bad_certificates() -> None:
    from unittest import mock  # noqa: PLC0415

    from proto import replica as replica_module  # noqa: PLC0415

    b = batch(G.transfer(A, 1, B, 5))
    cert = certificate_from_votes(b, votes_for(b, 3), G.epoch, G.group_id)
    replica = G.replica()
    with mock.patch.object(
        replica_module, "verify_certificate", wraps=replica_module.verify_certificate
    ) as spy:
        replica.verify(cert)  # e.g. the gossip validator
        replica.receive_certificate(cert)  # then the apply
        assert spy.call_count == 1
    # The memory is per batch: a forged certificate for a batch never verified is refused.
    zeroed = tuple(StewardSignature(v.steward, bytes(64)) for v in cert.votes)
    with pytest.raises(InvalidCertificate):
        replica.verify(Certificate(0, batch(G.transfer(A, 2, B, 6)), zeroed))
