"""Share refresh and resharing: new shares of the same wallet key.

Refresh (proactive security): every participant deals a polynomial with constant term
zero, committing only to the terms of degree >= 1 (so the zero constant is enforced, not
trusted). Each new share is the old one plus the zero-shares received; the group key is
unchanged, and old shares no longer combine with new ones.

Resharing to a new steward set (t', n'): each old participant i of a signing set S (at
least t of them) deals a polynomial of degree t'-1 whose constant is lambda_i * s_i, its
Lagrange-weighted share. Its commitment's constant term must equal lambda_i * PK_i (PK_i
is i's public share, known to all), which convicts a dealer who deals anything else; the
constants sum to the group key. New participant j's share is the sum of what it received.
The wallet key, and so the group wallet on the ledger, stays the same.

Randomness (polynomial coefficients) is handed in. Bad deals raise ``DkgFault`` naming
the dealers. The ciphersuite is the key package's (``suite`` where there is none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from proto.frost.core import check_identifier, vss_verify
from proto.frost.curve import FrostError
from proto.frost.dkg import DkgFault
from proto.frost.keys import KeyPackage
from proto.frost.suite import ED25519, Ciphersuite


@dataclass(frozen=True)
class RefreshDeal:
    """A participant's zero-constant polynomial: the commitment (degree >= 1 terms) and the
    share for each participant."""

    dealer: int
    commitment: tuple[bytes, ...]
    shares: Mapping[int, int]


def refresh_deal(
    dealer: int,
    coefficients: Sequence[int],
    participants: Sequence[int],
    *,
    suite: Ciphersuite = ED25519,
) -> RefreshDeal:
    """Deal zero-shares; ``coefficients`` are the t-1 terms of degree 1..t-1."""
    poly = [0, *coefficients]
    return RefreshDeal(
        dealer,
        tuple(suite.base_mul(c) for c in coefficients),
        {j: suite.polynomial_at(poly, j) for j in participants},
    )


def refresh_finish(key: KeyPackage, deals: Mapping[int, RefreshDeal]) -> KeyPackage:
    """This participant's refreshed key package, after checking every deal it received.

    ``deals`` holds one deal per participant of the group (its own included)."""
    suite = key.suite
    if set(deals) != set(key.public_shares):
        raise FrostError("a refresh needs a deal from every participant")
    bad = []
    for dealer, deal in deals.items():
        try:
            if len(deal.commitment) != key.threshold - 1 or deal.dealer != dealer:
                raise FrostError("wrong commitment size")
            for point in deal.commitment:
                suite.decode_point(point)
        except FrostError:
            bad.append(dealer)
            continue
        share = deal.shares.get(key.identifier)
        full = [suite.identity, *deal.commitment]
        if (
            share is None
            or not 0 <= share < suite.order
            or not vss_verify(key.identifier, share, full, suite=suite)
        ):
            bad.append(dealer)
    if bad:
        raise DkgFault(bad, "invalid refresh deal")
    received = sum(d.shares[key.identifier] for d in deals.values())
    new_share = (key.signing_share + received) % suite.order
    summed = [suite.point_sum(t) for t in zip(*(d.commitment for d in deals.values()), strict=True)]
    public = {
        j: suite.point_add(pk, suite.commitment_at([suite.identity, *summed], j))
        for j, pk in key.public_shares.items()
    }
    return KeyPackage(key.identifier, new_share, key.group_public_key, public, key.threshold, suite)


@dataclass(frozen=True)
class ReshareDeal:
    dealer: int
    commitment: tuple[bytes, ...]
    shares: Mapping[int, int]


def reshare_deal(
    key: KeyPackage,
    signers: Sequence[int],
    new_coefficients: Sequence[int],
    new_participants: Sequence[int],
) -> ReshareDeal:
    """An old participant's deal to the new set: constant lambda_i * s_i, then the t'-1
    random ``new_coefficients``; a share for every new participant."""
    suite = key.suite
    if len(signers) < key.threshold:
        raise FrostError(f"resharing needs at least {key.threshold} old participants")
    for j in new_participants:
        check_identifier(j, suite=suite)
    lam = suite.lagrange_at_zero(key.identifier, signers)
    poly = [lam * key.signing_share % suite.order, *new_coefficients]
    return ReshareDeal(
        key.identifier,
        tuple(suite.base_mul(c) for c in poly),
        {j: suite.polynomial_at(poly, j) for j in new_participants},
    )


def reshare_finish(
    identifier: int,
    old_group_key: bytes,
    old_public_shares: Mapping[int, bytes],
    signers: Sequence[int],
    deals: Mapping[int, ReshareDeal],
    new_threshold: int,
    new_participants: Sequence[int],
    *,
    suite: Ciphersuite = ED25519,
) -> KeyPackage:
    """A new participant's key package from the old signers' deals, each checked against
    the old public shares; the group key must come out unchanged."""
    if set(deals) != set(signers):
        raise FrostError("a reshare needs a deal from every old signer of the set")
    bad = []
    for i, deal in deals.items():
        try:
            if len(deal.commitment) != new_threshold or deal.dealer != i:
                raise FrostError("wrong commitment size")
            for point in deal.commitment[1:]:
                suite.decode_point(point)
        except FrostError:
            bad.append(i)
            continue
        expected = suite.point_mul(suite.lagrange_at_zero(i, signers), old_public_shares[i])
        share = deal.shares.get(identifier)
        if (
            deal.commitment[0] != expected
            or share is None
            or not 0 <= share < suite.order
            or not vss_verify(identifier, share, deal.commitment, suite=suite)
        ):
            bad.append(i)
    if bad:
        raise DkgFault(bad, "invalid reshare deal")
    return reshare_combine(
        identifier, old_group_key, deals, new_threshold, new_participants, suite=suite
    )


def reshare_combine(
    identifier: int,
    old_group_key: bytes,
    deals: Mapping[int, ReshareDeal],
    new_threshold: int,
    new_participants: Sequence[int],
    *,
    suite: Ciphersuite = ED25519,
) -> KeyPackage:
    """The key package from deals already checked one by one (``reshare_finish``, or
    ``proto.resharing`` on the wire): the constants must add up to the group key."""
    group_key = suite.point_sum([d.commitment[0] for d in deals.values()])
    if group_key != old_group_key:
        raise FrostError("reshared constants do not add up to the group key")
    share = sum(d.shares[identifier] for d in deals.values()) % suite.order
    # the commitments add up term by term (evaluation at j is linear): one polynomial
    # to evaluate per participant instead of one per dealer
    summed = [suite.point_sum(t) for t in zip(*(d.commitment for d in deals.values()), strict=True)]
    public = {j: suite.commitment_at(summed, j) for j in new_participants}
    return KeyPackage(identifier, share, group_key, public, new_threshold, suite)
