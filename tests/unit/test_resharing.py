"""Resharing on the wire (``proto.resharing``): a 4-steward committee reshares the same
wallet key to five (one added), then to a higher threshold, then refreshes; each new
committee signs under the unchanged key; a removed steward's old share, even with new
ones, signs nothing; a dealer that deals anything else is convicted by its own
signatures, and a complaint that was tampered with convicts nobody."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from nacl.signing import SigningKey

from devnet.bench_stewards import run_ceremony
from proto.frost.core import aggregate, commit, sign
from proto.frost.curve import FrostError
from proto.frost.dkg import DkgFault
from proto.frost.keys import KeyPackage
from proto.frost.suite import ED25519, SECP256K1, Ciphersuite
from proto.resharing import (
    ReshareApproval,
    ReshareComplaint,
    ReshareDealer,
    ReshareFault,
    ReshareSpec,
    approve,
    check_echoes,
    finish,
    judge_complaint,
    make_echo,
    spec_for,
)
from tests.support import key, pub

GID = bytes(range(32))


def identities(names: list[str]) -> dict[bytes, SigningKey]:
    return {pub(k): k for k in (key("reshare", n) for n in names)}


def dealt(suite: Ciphersuite, stewards: list[bytes], t: int, seed: int) -> dict[bytes, KeyPackage]:
    """A t-of-n sharing for ``stewards`` (identifier = sorted position + 1)."""
    rng = random.Random(seed)
    poly = [rng.randrange(1, suite.order) for _ in range(t)]
    commitment = [suite.base_mul(c) for c in poly]
    n = len(stewards)
    public = {j: suite.commitment_at(commitment, j) for j in range(1, n + 1)}
    return {
        s: KeyPackage(j, suite.polynomial_at(poly, j), commitment[0], public, t, suite)
        for j, s in enumerate(sorted(stewards), start=1)
    }


def approved(spec: ReshareSpec, ids: dict[bytes, SigningKey]) -> list[ReshareApproval]:
    """A quorum of the old committee's approvals (each operator asked for the change)."""
    quorum = (len(spec.old_stewards) + (len(spec.old_stewards) - 1) // 3 + 2) // 2
    return [approve(spec, ids[s]) for s in spec.old_stewards[:quorum]]


def run_reshare(
    spec: ReshareSpec,
    ids: dict[bytes, SigningKey],
    keys: dict[bytes, KeyPackage],
    rng: random.Random,
) -> dict[bytes, KeyPackage]:
    """Every dealer deals, every new steward pulls, echoes and finishes (seeded)."""
    order = spec.frost_suite.order
    return run_ceremony(spec, ids, keys, lambda: rng.randrange(order))


def signs(keys: list[KeyPackage], msg: bytes) -> bool:
    """Whether these key packages' FROST signature verifies under their group key."""
    suite = keys[0].suite
    group_key = keys[0].group_public_key
    made = [
        commit(k.signing_share, bytes([k.identifier]) * 32, b"\x05" * 32, k.identifier, suite=suite)
        for k in keys
    ]
    comms = sorted((c for _, c in made), key=lambda c: c.identifier)
    shares = {
        k.identifier: sign(k.identifier, k.signing_share, n, msg, comms, group_key, suite=suite)
        for k, (n, _) in zip(keys, made, strict=True)
    }
    return suite.verify(group_key, msg, aggregate(comms, msg, group_key, shares, suite=suite))


@pytest.mark.parametrize("suite", [ED25519, SECP256K1], ids=lambda s: s.name)
def test_add_raise_the_threshold_remove_and_refresh_keep_the_wallet_key(suite: Ciphersuite) -> None:
    ids = identities([f"s{i}" for i in range(6)])
    everyone = sorted(ids)
    old = everyone[:4]
    keys = dealt(suite, old, 3, seed=1)
    wallet = keys[old[0]].group_public_key
    rng = random.Random(2)

    # add a fifth steward (threshold stays the 5-committee's quorum, 4)
    five = everyone[:5]
    spec = spec_for(GID, 0, old, keys[old[0]], [1, 2, 3], five, 4)
    keys5 = run_reshare(spec, ids, keys, rng)
    assert {k.group_public_key for k in keys5.values()} == {wallet}
    assert signs([keys5[s] for s in five[1:]], b"checkpoint 9")
    assert not signs([keys5[s] for s in five[:3]], b"three of five, threshold four")

    # remove the first steward: the other four reshare to themselves and the sixth
    after = everyone[1:6]
    spec = spec_for(GID, 1, five, keys5[five[1]], [2, 3, 4, 5], after, 4)
    keys6 = run_reshare(spec, ids, keys5, rng)
    assert signs([keys6[s] for s in after[:4]], b"payout")
    removed = keys5[five[0]]  # the removed steward's last share, with three new ones
    mixed = [removed, *(keys6[s] for s in after if keys6[s].identifier != removed.identifier)]
    assert not signs(mixed[:4], b"payout")

    # refresh: the same committee, new shares; an old share no longer combines
    spec = spec_for(GID, 2, after, keys6[after[0]], [1, 2, 3, 4], after, 4)
    fresh = run_reshare(spec, ids, keys6, rng)
    assert all(fresh[s].signing_share != keys6[s].signing_share for s in after)
    assert signs([fresh[s] for s in after[1:]], b"after refresh")
    stale = keys6[after[0]]
    assert not signs([stale, *(fresh[s] for s in after[1:4])], b"after refresh")


def setup() -> tuple[ReshareSpec, dict[bytes, SigningKey], dict[bytes, KeyPackage]]:
    ids = identities([f"c{i}" for i in range(5)])
    everyone = sorted(ids)
    keys = dealt(ED25519, everyone[:4], 3, seed=7)
    spec = spec_for(GID, 0, everyone[:4], keys[everyone[0]], [1, 2, 3], everyone, 4)
    return spec, ids, keys


def replies_for(spec, ids, keys, steward):  # type: ignore[no-untyped-def]
    rng = random.Random(3)
    out = {}
    for d in spec.dealers:
        dealer = ReshareDealer.create(
            spec,
            ids[spec.dealer_key(d)],
            keys[spec.dealer_key(d)],
            [rng.randrange(9, 99) for _ in range(3)],
            approved(spec, ids),
        )
        out[d] = dealer.reply_to(steward)
    return out


def test_a_dealer_deals_nothing_without_a_quorum_of_the_old_committees_approvals() -> None:
    """Anyone can write a spec naming its own keys as the new committee: dealing to it
    would hand over the wallet key. Approvals are what stop that."""
    spec, ids, keys = setup()
    d = spec.dealer_key(1)
    good = approved(spec, ids)
    other = replace(spec, new_threshold=2)  # another ceremony
    outsider = key("reshare", "outsider")
    lies = {
        "none": [],
        "below the quorum": good[:2],
        "the same steward thrice": [good[0]] * 3,
        "for another ceremony": approved(other, ids),
        "forged": [replace(a, signature=bytes(64)) for a in good],
        "from outsiders": [*good[:2], approve(spec, outsider)],
    }
    for why, approvals in lies.items():
        with pytest.raises(FrostError, match="approved"):
            ReshareDealer.create(spec, ids[d], keys[d], [1, 2, 3], approvals)
        assert why
    assert ReshareDealer.create(spec, ids[d], keys[d], [1, 2, 3], good).reply_to(
        spec.new_stewards[0]
    )


def test_a_dealer_refuses_a_spec_that_misstates_the_old_committee() -> None:
    spec, ids, keys = setup()
    lying = replace(
        spec, old_public_shares=(spec.old_public_shares[1], *spec.old_public_shares[1:])
    )
    d = lying.dealer_key(1)
    with pytest.raises(FrostError, match="key package"):
        ReshareDealer.create(lying, ids[d], keys[d], [1, 2, 3], approved(lying, ids))
    outsider = spec.new_stewards[-1]  # a new steward, not a dealer
    with pytest.raises(FrostError):
        ReshareDealer.create(
            spec, ids[outsider], keys[spec.dealer_key(1)], [1, 2, 3], approved(spec, ids)
        )


@pytest.mark.parametrize("lie", ["constant", "share"])
def test_a_cheating_dealer_is_convicted_by_its_own_signatures(lie: str) -> None:
    spec, ids, keys = setup()
    me = spec.new_stewards[2]
    replies = replies_for(spec, ids, keys, me)
    cheat = 2
    dealer_key = ids[spec.dealer_key(cheat)]
    honest = ReshareDealer.create(
        spec, dealer_key, keys[spec.dealer_key(cheat)], [4, 5, 6], approved(spec, ids)
    )
    deal = honest.deal
    suite = ED25519
    if lie == "constant":  # deals lambda_i * s_i + 1 instead
        deal = replace(
            deal,
            commitment=(
                suite.point_add(deal.commitment[0], suite.base_mul(1)),
                *deal.commitment[1:],
            ),
            shares={j: (v + 1) % suite.order for j, v in deal.shares.items()},
        )
    else:  # the right commitment, a wrong share for us
        j = spec.new_identifier_of(me)
        deal = replace(deal, shares={**deal.shares, j: (deal.shares[j] + 1) % suite.order})
    replies[cheat] = replace(honest, deal=deal).reply_to(me)
    with pytest.raises(ReshareFault) as caught:
        finish(spec, me, replies)
    assert caught.value.culprits == [cheat]
    complaint = caught.value.complaint
    assert judge_complaint(complaint)
    tampered = replace(complaint.reply, share=bytes(32))  # no longer the dealer's signed share
    assert not judge_complaint(ReshareComplaint(spec, tampered))
    honest_reply = replies_for(spec, ids, keys, me)[1]
    assert not judge_complaint(ReshareComplaint(spec, honest_reply))


def test_a_reply_not_signed_by_its_dealer_blames_nobody() -> None:
    spec, ids, keys = setup()
    me = spec.new_stewards[0]
    replies = replies_for(spec, ids, keys, me)
    replies[1] = replace(replies[1], share_signature=bytes(64))
    with pytest.raises(FrostError, match="did not sign") as caught:
        finish(spec, me, replies)
    assert not isinstance(caught.value, DkgFault)
    with pytest.raises(FrostError, match="every dealer"):
        finish(spec, me, {d: r for d, r in replies.items() if d != 3})


def test_a_dealer_that_shows_two_commitments_is_caught_by_the_echo() -> None:
    spec, ids, keys = setup()
    a, b = spec.new_stewards[0], spec.new_stewards[1]
    mine = replies_for(spec, ids, keys, a)
    theirs = replies_for(spec, ids, keys, b)
    d = spec.dealer_key(2)
    other = ReshareDealer.create(spec, ids[d], keys[d], [7, 7, 7], approved(spec, ids)).reply_to(
        b
    )  # another polynomial
    assert other is not None
    theirs[2] = other
    with pytest.raises(DkgFault) as caught:
        check_echoes(spec, make_echo(spec, ids[a], mine), {b: make_echo(spec, ids[b], theirs)})
    assert caught.value.culprits == [2]
    forged = replace(make_echo(spec, ids[b], theirs), steward=a)
    with pytest.raises(FrostError, match="own"):
        check_echoes(spec, make_echo(spec, ids[a], mine), {b: forged})
