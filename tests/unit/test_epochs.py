"""Epochs (``proto.epochs``), the hand-over (``proto.handover``) and the steward across it:
the schedule's rules, votes that count only in their epoch, and every lie a hand-over can
tell refused with nothing changed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from proto.effects import PersistSeal, RefuseBatch, SendSeal, SendVote
from proto.epoch_changes import plan_change
from proto.epochs import Epoch, Epochs, genesis_epoch
from proto.errors import InvalidCertificate, InvalidSignature, LocalProtocolError
from proto.handover import Handover, Seal, make_seal, verify_handover
from proto.orders import Exit
from proto.replica import Replica
from proto.resharing import dealers_for
from proto.steward import STEWARD_EXIT, Steward
from proto.votes import Batch, Certificate, VoteCollector, make_vote, verify_certificate
from tests.support import key, make_group, pub

G = make_group(seed="epochs", stewards=6, members=3, funding=100)
IDS = sorted(pub(k) for k in G.stewards)
OLD = Epochs((genesis_epoch(IDS[:4], 3),))
NEXT = Epoch(1, 5, tuple(IDS[1:6]), 4)  # one removed, two added, 5 stewards
KEYS = {pub(k): k for k in G.stewards}
A, B = G.ids[0], G.ids[1]
GID = G.group_id


def old_keys() -> list:  # type: ignore[type-arg]
    return [KEYS[s] for s in OLD.current.stewards]


def replica() -> Replica:
    return Replica(G.genesis_state(), OLD)


def handover(seals: list[Seal], nxt: Epoch = NEXT) -> Handover:
    return Handover(nxt, tuple(sorted(seals, key=lambda s: s.steward)))


def seals_for(nxt: Epoch = NEXT, locks: tuple = (), count: int = 3) -> list[Seal]:  # type: ignore[type-arg]
    return [make_seal(k, GID, 0, nxt, 0, locks) for k in old_keys()[:count]]


# -- the schedule ---------------------------------------------------------------------------
def test_an_epoch_threshold_lies_between_the_quorum_and_n_minus_f() -> None:
    six = tuple(IDS)  # n = 6: f = 1, quorum 4, n - f = 5
    assert Epoch(1, 2, six, 4).quorum == 4 and Epoch(1, 2, six, 5).threshold == 5
    for bad in (3, 6):
        with pytest.raises(ValueError, match="threshold"):
            Epoch(1, 2, six, bad)
    with pytest.raises(ValueError, match="checkpoint 1"):
        Epoch(0, 3, six, 4)
    with pytest.raises(ValueError):
        Epoch(1, 2, tuple(reversed(six)), 4)  # stewards sorted: one encoding per committee


def test_a_schedule_runs_without_gaps_and_says_who_signs_each_checkpoint() -> None:
    later = Epoch(2, 9, tuple(IDS[:4]), 3)
    epochs = OLD.then(NEXT).then(later)
    assert [epochs.at(n).number for n in (1, 4, 5, 8, 9, 100)] == [0, 0, 1, 1, 2, 2]
    assert epochs.committee_at(6) == NEXT.committee
    with pytest.raises(ValueError, match="gaps"):
        OLD.then(later)
    with pytest.raises(ValueError, match="after"):
        OLD.then(NEXT).then(Epoch(2, 5, tuple(IDS[:4]), 3))
    with pytest.raises(InvalidCertificate, match="not known"):
        OLD.epoch(1)


# -- votes and certificates name their epoch -------------------------------------------------
def test_a_vote_counts_only_in_the_epoch_it_names() -> None:
    batch = Batch((G.transfer(A, 1, B, 5),))
    digest = batch.digest(GID)
    vote = make_vote(KEYS[IDS[1]], GID, digest, 0)
    with pytest.raises(InvalidSignature):
        replace(vote, epoch=1).verify(GID)  # replayed into epoch 1: the signature says 0
    collector = VoteCollector(batch, NEXT, GID)
    with pytest.raises(InvalidCertificate, match="epoch"):
        collector.add(vote)
    epochs = OLD.then(NEXT)
    votes = [make_vote(KEYS[s], GID, digest, 0) for s in IDS[:3]]
    cert = Certificate(0, batch, tuple(sorted((replace_vote(v) for v in votes), key=_by)))
    assert verify_certificate(cert, epochs, GID) == digest
    with pytest.raises(InvalidCertificate):  # the same votes named as epoch 1's
        verify_certificate(replace(cert, epoch=1), epochs, GID)
    with pytest.raises(InvalidCertificate, match="not known"):
        verify_certificate(replace(cert, epoch=7), epochs, GID)


def replace_vote(v):  # type: ignore[no-untyped-def]
    from proto.votes import StewardSignature  # noqa: PLC0415

    return StewardSignature(v.steward, v.signature)


def _by(s):  # type: ignore[no-untyped-def]
    return s.steward


# -- the hand-over --------------------------------------------------------------------------
def test_a_quorum_of_seals_moves_a_replica_to_the_next_epoch() -> None:
    r = replica()
    locked = G.transfer(A, 1, B, 5)
    carried = r.enter(handover(seals_for(locks=(locked,))))
    assert r.epochs.current == NEXT and len(r.epochs) == 2
    assert carried.allows(locked) and not carried.allows(G.transfer(A, 1, B, 6))
    assert carried.allows(G.transfer(A, 2, B, 6))  # another seq: free


@pytest.mark.parametrize(
    "lie",
    [
        "too-few-seals",
        "outsider-seal",
        "seal-for-another-next",
        "seal-of-another-epoch",
        "forged-seal",
        "forged-carried-order",
        "skips-an-epoch",
        "starts-at-its-base",
    ],
)
def test_every_lie_in_a_hand_over_is_refused_and_changes_nothing(lie: str) -> None:
    r = replica()
    before = (r.epochs, r.state.encode(), len(r.carried))
    seals = seals_for()
    nxt = NEXT
    if lie == "too-few-seals":
        seals = seals[:2]
    elif lie == "outsider-seal":
        seals = [*seals[:2], make_seal(KEYS[IDS[5]], GID, 0, NEXT, 0, ())]
    elif lie == "seal-for-another-next":
        other = Epoch(1, 5, tuple(IDS[:4]), 3)
        seals = [*seals[:2], make_seal(old_keys()[2], GID, 0, other, 0, ())]
    elif lie == "seal-of-another-epoch":
        seals = [*seals[:2], make_seal(old_keys()[2], GID, 3, NEXT, 0, ())]
    elif lie == "forged-seal":
        seals = [*seals[:2], replace(seals[2], base=1)]  # the signature covers the base
    elif lie == "forged-carried-order":
        good = G.transfer(A, 1, B, 5)
        forged = replace(good, signatures=(bytes(64),))
        seals = [*seals[:2], make_seal(old_keys()[2], GID, 0, NEXT, 0, (forged,))]
    elif lie == "skips-an-epoch":
        nxt = replace(NEXT, number=2)
        seals = seals_for(nxt)
    elif lie == "starts-at-its-base":
        seals = [*seals[:2], make_seal(old_keys()[2], GID, 0, NEXT, 5, ())]
    with pytest.raises(InvalidCertificate):
        r.enter(handover(seals, nxt))
    assert (r.epochs, r.state.encode(), len(r.carried)) == before


def test_two_seals_of_one_equivocating_member_freeze_its_seq() -> None:
    first, second = G.transfer(A, 1, B, 5), G.transfer(A, 1, B, 6)
    seals = [
        make_seal(old_keys()[0], GID, 0, NEXT, 0, (first,)),
        make_seal(old_keys()[1], GID, 0, NEXT, 0, (second,)),
        make_seal(old_keys()[2], GID, 0, NEXT, 0, ()),
    ]
    carried = verify_handover(handover(seals), OLD, GID)
    assert carried.frozen() == [(A, 1)]
    assert not carried.allows(first) and not carried.allows(second)


# -- the steward across the hand-over ----------------------------------------------------------
def vote_of(effects: list) -> bool:  # type: ignore[type-arg]
    return any(isinstance(e, SendVote) for e in effects)


def refusal(effects: list) -> str:  # type: ignore[type-arg]
    return next(e for e in effects if isinstance(e, RefuseBatch)).refusals[0].reason


def test_a_sealed_steward_never_votes_in_its_epoch_even_after_a_restart() -> None:
    k = old_keys()[0]
    s = Steward(k, replica())
    effects = s.seal(NEXT)
    assert [type(e) for e in effects] == [PersistSeal, SendSeal]  # on disk before it leaves
    seal = effects[0].seal  # type: ignore[union-attr]
    assert s.seal(NEXT) == [SendSeal(seal)]  # asked again: the same seal
    with pytest.raises(LocalProtocolError, match="another"):
        s.seal(Epoch(1, 5, tuple(IDS[:4]), 3))  # an epoch is sealed once
    batch = Batch((G.transfer(A, 1, B, 5),))
    assert refusal(s.handle_batch(batch)) == "epoch-sealed"
    reborn = Steward(k, replica(), seal=seal)
    assert refusal(reborn.handle_batch(batch)) == "epoch-sealed"


def test_a_seal_reports_an_applied_order_no_checkpoint_covers_yet() -> None:
    s = Steward(old_keys()[0], replica())
    order = G.transfer(A, 1, B, 5)
    batch = Batch((order,))
    assert vote_of(s.handle_batch(batch))
    votes = [make_vote(k, GID, batch.digest(GID)) for k in old_keys()[:3]]
    cert = Certificate(0, batch, tuple(sorted((replace_vote(v) for v in votes), key=_by)))
    s.receive_certificate(cert)  # applied here; another steward may not have it
    seal = s.seal(NEXT)[0].seal  # type: ignore[union-attr]
    assert [o.order_id for o in seal.locks] == [order.order_id]
    s2 = Steward(old_keys()[1], replica())
    s2.handle_batch(batch)
    s2.receive_certificate(cert)
    s2.adopt_checkpoint(2, s2.replica.state)  # covered by a checkpoint: nothing to carry
    assert s2.seal(NEXT)[0].seal.locks == ()  # type: ignore[union-attr]
    assert s2.seal(NEXT)[0].seal.base == 2  # type: ignore[union-attr]


def test_in_the_new_epoch_a_steward_votes_only_for_the_carried_order_and_after_its_base() -> None:
    carried_order = G.transfer(A, 1, B, 5)
    seals = [make_seal(k, GID, 0, NEXT, 0, (carried_order,)) for k in old_keys()[:2]]
    seals.append(make_seal(old_keys()[2], GID, 0, NEXT, 3, ()))  # this one adopted checkpoint 3
    h = handover(seals)
    added = KEYS[IDS[5]]  # a steward of the new committee only
    s = Steward(added, replica())
    batch = Batch((carried_order,))
    assert refusal(s.handle_batch(batch)) == "not-a-steward-of-this-epoch"
    s.enter(h)
    assert refusal(s.handle_batch(batch)) == "waiting-for-base-checkpoint"
    s.adopt_checkpoint(3, s.replica.state)
    conflicting = Batch((G.transfer(A, 1, B, 6),))
    assert refusal(s.handle_batch(conflicting)) == "conflicts-with-carried-order"
    effects = s.handle_batch(batch)
    assert vote_of(effects)
    vote = next(e for e in effects if isinstance(e, SendVote)).vote
    assert vote.epoch == 1
    removed = Steward(old_keys()[0], replica())
    removed.enter(h)
    assert refusal(removed.handle_batch(batch)) == "not-a-steward-of-this-epoch"


def test_a_carried_order_certified_late_in_the_old_epoch_applies_once() -> None:
    order = G.transfer(A, 1, B, 5)
    batch = Batch((order,))
    r = replica()
    r.enter(handover([make_seal(k, GID, 0, NEXT, 0, (order,)) for k in old_keys()[:3]]))
    old_votes = [make_vote(k, GID, batch.digest(GID), 0) for k in old_keys()[:3]]
    late = Certificate(0, batch, tuple(sorted((replace_vote(v) for v in old_votes), key=_by)))
    new_keys = [KEYS[s] for s in NEXT.stewards][:4]
    new_votes = [make_vote(k, GID, batch.digest(GID), 1) for k in new_keys]
    fresh = Certificate(1, batch, tuple(sorted((replace_vote(v) for v in new_votes), key=_by)))
    assert [o.order_id for o in r.receive_certificate(late)] == [order.order_id]
    assert r.receive_certificate(fresh) == []  # the same order: not applied twice
    assert r.state.next_seq(A) == 2


def test_an_outsider_cannot_make_a_seal_count() -> None:
    outsider = key("epochs", "outsider")
    seal = make_seal(outsider, GID, 0, NEXT, 0, ())
    with pytest.raises(InvalidCertificate, match="outside"):
        verify_handover(handover([*seals_for()[:2], seal]), OLD, GID)
    stolen = replace(seal, steward=IDS[0])  # claims a steward's name
    with pytest.raises(InvalidCertificate):
        verify_handover(handover([*seals_for()[1:3], stolen]), OLD, GID)


def test_a_steward_exits_only_once_a_hand_over_removed_it() -> None:
    """A steward's exit would be settled under a committee it still signs for: the
    stewards refuse it until the group handed over to a committee without it."""
    leaver = IDS[0]
    exit_order = G.sign(Exit(leaver, 1, leaver))
    voter = Steward(KEYS[IDS[1]], replica())
    assert refusal(voter.handle_batch(Batch((exit_order,)))) == STEWARD_EXIT
    voter.enter(handover(seals_for()))  # NEXT has no IDS[0]
    assert vote_of(voter.handle_batch(Batch((exit_order,))))


def test_a_steward_that_lost_its_store_neither_votes_nor_seals_in_that_epoch() -> None:
    """Its vote locks went with its store: a vote could conflict with one it cast before,
    a seal would report no locks. It is back from the next epoch, with a new share."""
    lost = IDS[1]
    s = Steward(KEYS[lost], replica(), holds_share=lambda epoch: epoch >= 1)
    assert refusal(s.handle_batch(Batch((G.transfer(A, 1, B, 5),)))) == "lost-its-store"
    with pytest.raises(LocalProtocolError, match="lost"):
        s.seal(NEXT)
    s.enter(handover(seals_for()))
    assert s.not_voting() is None  # epoch 1, whose share it holds, from checkpoint 0 on


def test_a_repair_is_a_refresh_the_lost_steward_does_not_deal_in() -> None:
    current = OLD.current
    stewards, t = plan_change(current, "repair", current.stewards[0])
    assert stewards == current.stewards and t == current.threshold
    dealers = dealers_for(current.stewards, t, stewards, (current.stewards[0],))
    lost = current.stewards.index(current.stewards[0]) + 1  # its FROST identifier
    assert dealers == tuple(i for i in range(1, len(stewards) + 1) if i != lost)[:t]
    assert plan_change(current, "add", IDS[4]) == ((*current.stewards, IDS[4]), 4)
    assert plan_change(current, "remove", current.stewards[0]) == (current.stewards[1:], 3)
    for action, member, threshold, why in (
        ("repair", IDS[5], None, "only a steward"),
        ("add", current.stewards[0], None, "already"),
        ("remove", IDS[5], None, "not a steward"),
        ("threshold", None, 9, "outside"),
        ("promote", None, None, "unknown"),
    ):
        with pytest.raises(LocalProtocolError, match=why):
            plan_change(current, action, member, threshold)
