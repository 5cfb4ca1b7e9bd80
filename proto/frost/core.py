"""RFC 9591 FROST over a ciphersuite (``proto.frost.suite``: FROST(Ed25519, SHA-512) by
default, FROST(secp256k1, SHA-256)): the two signing rounds, binding factors, share
verification and aggregation, plus trusted-dealer key generation and VSS (Appendix C).

Names follow the RFC's section 4 and 5 so a reader can hold them side by side. Every
function takes the suite as its last, keyword argument ``suite``. Identifiers are
non-zero scalars of any size; commitment lists are sorted by numeric identifier without
repeats (``check_commitment_list``). Every point received from outside goes through the
suite's ``decode_point`` before use.

Invariants: no function draws randomness (nonce randomness and polynomial coefficients
are arguments); a signer's nonces are used for one round two only (``proto.frost.session``
enforces it and erases them); the aggregate of valid shares over t or more signers is a
standard signature of the suite under the group key (Ed25519, or a BIP-340-style
Schnorr signature with a compressed R for secp256k1).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from proto.frost.curve import FrostError
from proto.frost.suite import ED25519, Ciphersuite


@dataclass(frozen=True)
class Commitment:
    """A participant's round-one output: its identifier and two nonce commitments."""

    identifier: int
    hiding: bytes
    binding: bytes


@dataclass(frozen=True)
class Nonces:
    """A participant's secret round-one nonces (use once, then erase)."""

    hiding: int
    binding: int


def check_identifier(identifier: int, *, suite: Ciphersuite = ED25519) -> int:
    if not 0 < identifier < suite.order:
        raise FrostError("an identifier is a non-zero scalar")
    return identifier


def check_commitment_list(
    commitments: Sequence[Commitment], *, suite: Ciphersuite = ED25519
) -> None:
    ids = [c.identifier for c in commitments]
    if not ids or any(a >= b for a, b in itertools.pairwise(ids)):
        raise FrostError("commitment list must be non-empty and sorted by identifier")
    for c in commitments:
        check_identifier(c.identifier, suite=suite)
        suite.decode_point(c.hiding)
        suite.decode_point(c.binding)


def nonce_generate(secret: int, randomness: bytes, *, suite: Ciphersuite = ED25519) -> int:
    """RFC 9591 4.1, with the 32 random bytes handed in."""
    if len(randomness) != 32:
        raise FrostError("nonce randomness is 32 bytes")
    return suite.H3(randomness + suite.encode_scalar(secret))


def commit(
    secret_share: int,
    hiding_randomness: bytes,
    binding_randomness: bytes,
    identifier: int,
    *,
    suite: Ciphersuite = ED25519,
) -> tuple[Nonces, Commitment]:
    """Round one (RFC 9591 5.1)."""
    nonces = Nonces(
        nonce_generate(secret_share, hiding_randomness, suite=suite),
        nonce_generate(secret_share, binding_randomness, suite=suite),
    )
    hiding, binding = suite.base_mul(nonces.hiding), suite.base_mul(nonces.binding)
    return nonces, Commitment(identifier, hiding, binding)


def encode_group_commitment_list(
    commitments: Sequence[Commitment], *, suite: Ciphersuite = ED25519
) -> bytes:
    return b"".join(suite.encode_scalar(c.identifier) + c.hiding + c.binding for c in commitments)


def binding_factor_inputs(
    group_public_key: bytes,
    commitments: Sequence[Commitment],
    msg: bytes,
    *,
    suite: Ciphersuite = ED25519,
) -> dict[int, bytes]:
    """The rho input of every participant (RFC 9591 4.4), by identifier."""
    encoded = encode_group_commitment_list(commitments, suite=suite)
    prefix = group_public_key + suite.H4(msg) + suite.H5(encoded)
    return {c.identifier: prefix + suite.encode_scalar(c.identifier) for c in commitments}


def compute_binding_factors(
    group_public_key: bytes,
    commitments: Sequence[Commitment],
    msg: bytes,
    *,
    suite: Ciphersuite = ED25519,
) -> dict[int, int]:
    inputs = binding_factor_inputs(group_public_key, commitments, msg, suite=suite)
    return {i: suite.H1(rho_input) for i, rho_input in inputs.items()}


def compute_group_commitment(
    commitments: Sequence[Commitment],
    binding_factors: Mapping[int, int],
    *,
    suite: Ciphersuite = ED25519,
) -> bytes:
    return suite.point_sum(
        [
            suite.point_add(c.hiding, suite.point_mul(binding_factors[c.identifier], c.binding))
            for c in commitments
        ]
    )


def compute_challenge(
    group_commitment: bytes, group_public_key: bytes, msg: bytes, *, suite: Ciphersuite = ED25519
) -> int:
    return suite.H2(group_commitment + group_public_key + msg)


def participants(commitments: Sequence[Commitment]) -> list[int]:
    return [c.identifier for c in commitments]


def sign(
    identifier: int,
    secret_share: int,
    nonces: Nonces,
    msg: bytes,
    commitments: Sequence[Commitment],
    group_public_key: bytes,
    *,
    suite: Ciphersuite = ED25519,
) -> int:
    """Round two (RFC 9591 5.2): this participant's signature share."""
    check_commitment_list(commitments, suite=suite)
    own = [c for c in commitments if c.identifier == identifier]
    if (
        len(own) != 1
        or own[0].hiding != suite.base_mul(nonces.hiding)
        or own[0].binding != suite.base_mul(nonces.binding)
    ):
        raise FrostError("the commitment list does not hold this signer's own commitment")
    rho = compute_binding_factors(group_public_key, commitments, msg, suite=suite)
    group_commitment = compute_group_commitment(commitments, rho, suite=suite)
    lam = suite.lagrange_at_zero(identifier, participants(commitments))
    c = compute_challenge(group_commitment, group_public_key, msg, suite=suite)
    return (nonces.hiding + nonces.binding * rho[identifier] + lam * secret_share * c) % suite.order


def verify_signature_share(
    identifier: int,
    public_share: bytes,
    sig_share: int,
    commitments: Sequence[Commitment],
    group_public_key: bytes,
    msg: bytes,
    *,
    suite: Ciphersuite = ED25519,
) -> bool:
    """RFC 9591 5.4: does ``sig_share`` come from the holder of ``public_share``?"""
    own = next((c for c in commitments if c.identifier == identifier), None)
    if own is None or not 0 <= sig_share < suite.order:
        return False
    rho = compute_binding_factors(group_public_key, commitments, msg, suite=suite)
    group_commitment = compute_group_commitment(commitments, rho, suite=suite)
    comm_share = suite.point_add(own.hiding, suite.point_mul(rho[identifier], own.binding))
    c = compute_challenge(group_commitment, group_public_key, msg, suite=suite)
    lam = suite.lagrange_at_zero(identifier, participants(commitments))
    expected = suite.point_add(comm_share, suite.point_mul(c * lam % suite.order, public_share))
    return suite.base_mul(sig_share) == expected


def aggregate(
    commitments: Sequence[Commitment],
    msg: bytes,
    group_public_key: bytes,
    sig_shares: Mapping[int, int],
    *,
    suite: Ciphersuite = ED25519,
) -> bytes:
    """RFC 9591 5.3: the signature (R || z) of the suite."""
    check_commitment_list(commitments, suite=suite)
    if set(sig_shares) != set(participants(commitments)):
        raise FrostError("need exactly one share per committed participant")
    rho = compute_binding_factors(group_public_key, commitments, msg, suite=suite)
    group_commitment = compute_group_commitment(commitments, rho, suite=suite)
    if group_commitment == suite.identity:
        raise FrostError("the group commitment is the identity")
    z = sum(sig_shares.values()) % suite.order
    return suite.signature(group_commitment, z)


# -- keys: trusted dealer and verifiable secret sharing (RFC 9591 Appendix C) ----------


def secret_share_shard(
    secret: int,
    coefficients: Sequence[int],
    identifiers: Sequence[int],
    *,
    suite: Ciphersuite = ED25519,
) -> dict[int, int]:
    """Shares f(i) of f(x) = secret + c1 x + ... for each identifier."""
    poly = [secret % suite.order, *(c % suite.order for c in coefficients)]
    return {check_identifier(i, suite=suite): suite.polynomial_at(poly, i) for i in identifiers}


def vss_commit(
    secret: int, coefficients: Sequence[int], *, suite: Ciphersuite = ED25519
) -> list[bytes]:
    return [suite.base_mul(secret), *(suite.base_mul(c) for c in coefficients)]


def vss_verify(
    identifier: int, share: int, vss_commitment: Sequence[bytes], *, suite: Ciphersuite = ED25519
) -> bool:
    return suite.base_mul(share) == suite.commitment_at(vss_commitment, identifier)


def trusted_dealer_keygen(
    secret: int,
    coefficients: Sequence[int],
    max_participants: int,
    *,
    suite: Ciphersuite = ED25519,
) -> tuple[dict[int, int], bytes, list[bytes]]:
    """(shares by identifier 1..n, group public key, VSS commitment); t = len(coeffs) + 1."""
    if not 1 <= len(coefficients) + 1 <= max_participants:
        raise FrostError("need 1 <= t <= n")
    shares = secret_share_shard(secret, coefficients, range(1, max_participants + 1), suite=suite)
    commitment = vss_commit(secret, coefficients, suite=suite)
    return shares, commitment[0], commitment


def derive_group_info(
    identifiers: Sequence[int], vss_commitment: Sequence[bytes], *, suite: Ciphersuite = ED25519
) -> tuple[bytes, dict[int, bytes]]:
    """(group public key, public share of each identifier) from a VSS commitment."""
    public = {i: suite.commitment_at(vss_commitment, i) for i in identifiers}
    return vss_commitment[0], public


def public_share(secret_share: int, *, suite: Ciphersuite = ED25519) -> bytes:
    return suite.base_mul(secret_share)
