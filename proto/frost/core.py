"""RFC 9591 FROST(Ed25519, SHA-512): the two signing rounds, binding factors, share
verification and aggregation, plus trusted-dealer key generation and VSS (Appendix C).

Names follow the RFC's section 4 and 5 so a reader can hold them side by side.
Identifiers are non-zero scalars of any size; commitment lists are sorted by numeric
identifier without repeats (``check_commitment_list``). Every point received from
outside goes through ``curve.decode_point`` before use.

Invariants: no function draws randomness (nonce randomness and polynomial coefficients
are arguments); a signer's nonces are used for one round two only (``proto.frost.session``
enforces it and erases them); the aggregate of valid shares over t or more signers is a
standard Ed25519 signature under the group key.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from proto.frost.curve import (
    FrostError,
    L,
    base_mul,
    commitment_at,
    decode_point,
    encode_scalar,
    hash_to_scalar,
    lagrange_at_zero,
    point_add,
    point_mul,
    point_sum,
    polynomial_at,
)

CONTEXT = b"FROST-ED25519-SHA512-v1"


def H1(m: bytes) -> int:
    return hash_to_scalar(CONTEXT, b"rho", m)


def H2(m: bytes) -> int:
    return hash_to_scalar(m)  # no context: the Ed25519 challenge, so signatures verify as Ed25519


def H3(m: bytes) -> int:
    return hash_to_scalar(CONTEXT, b"nonce", m)


def H4(m: bytes) -> bytes:
    return hashlib.sha512(CONTEXT + b"msg" + m).digest()


def H5(m: bytes) -> bytes:
    return hashlib.sha512(CONTEXT + b"com" + m).digest()


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


def check_identifier(identifier: int) -> int:
    if not 0 < identifier < L:
        raise FrostError("an identifier is a non-zero scalar")
    return identifier


def check_commitment_list(commitments: Sequence[Commitment]) -> None:
    ids = [c.identifier for c in commitments]
    if not ids or any(a >= b for a, b in itertools.pairwise(ids)):
        raise FrostError("commitment list must be non-empty and sorted by identifier")
    for c in commitments:
        check_identifier(c.identifier)
        decode_point(c.hiding)
        decode_point(c.binding)


def nonce_generate(secret: int, randomness: bytes) -> int:
    """RFC 9591 4.1, with the 32 random bytes handed in."""
    if len(randomness) != 32:
        raise FrostError("nonce randomness is 32 bytes")
    return H3(randomness + encode_scalar(secret))


def commit(
    secret_share: int, hiding_randomness: bytes, binding_randomness: bytes, identifier: int
) -> tuple[Nonces, Commitment]:
    """Round one (RFC 9591 5.1)."""
    nonces = Nonces(
        nonce_generate(secret_share, hiding_randomness),
        nonce_generate(secret_share, binding_randomness),
    )
    return nonces, Commitment(identifier, base_mul(nonces.hiding), base_mul(nonces.binding))


def encode_group_commitment_list(commitments: Sequence[Commitment]) -> bytes:
    return b"".join(encode_scalar(c.identifier) + c.hiding + c.binding for c in commitments)


def binding_factor_inputs(
    group_public_key: bytes, commitments: Sequence[Commitment], msg: bytes
) -> dict[int, bytes]:
    """The rho input of every participant (RFC 9591 4.4), by identifier."""
    prefix = group_public_key + H4(msg) + H5(encode_group_commitment_list(commitments))
    return {c.identifier: prefix + encode_scalar(c.identifier) for c in commitments}


def compute_binding_factors(
    group_public_key: bytes, commitments: Sequence[Commitment], msg: bytes
) -> dict[int, int]:
    inputs = binding_factor_inputs(group_public_key, commitments, msg)
    return {i: H1(rho_input) for i, rho_input in inputs.items()}


def compute_group_commitment(
    commitments: Sequence[Commitment], binding_factors: Mapping[int, int]
) -> bytes:
    return point_sum(
        [
            point_add(c.hiding, point_mul(binding_factors[c.identifier], c.binding))
            for c in commitments
        ]
    )


def compute_challenge(group_commitment: bytes, group_public_key: bytes, msg: bytes) -> int:
    return H2(group_commitment + group_public_key + msg)


def participants(commitments: Sequence[Commitment]) -> list[int]:
    return [c.identifier for c in commitments]


def sign(
    identifier: int,
    secret_share: int,
    nonces: Nonces,
    msg: bytes,
    commitments: Sequence[Commitment],
    group_public_key: bytes,
) -> int:
    """Round two (RFC 9591 5.2): this participant's signature share."""
    check_commitment_list(commitments)
    own = [c for c in commitments if c.identifier == identifier]
    if (
        len(own) != 1
        or own[0].hiding != base_mul(nonces.hiding)
        or own[0].binding != base_mul(nonces.binding)
    ):
        raise FrostError("the commitment list does not hold this signer's own commitment")
    rho = compute_binding_factors(group_public_key, commitments, msg)
    group_commitment = compute_group_commitment(commitments, rho)
    lam = lagrange_at_zero(identifier, participants(commitments))
    c = compute_challenge(group_commitment, group_public_key, msg)
    return (nonces.hiding + nonces.binding * rho[identifier] + lam * secret_share * c) % L


def verify_signature_share(
    identifier: int,
    public_share: bytes,
    sig_share: int,
    commitments: Sequence[Commitment],
    group_public_key: bytes,
    msg: bytes,
) -> bool:
    """RFC 9591 5.4: does ``sig_share`` come from the holder of ``public_share``?"""
    own = next((c for c in commitments if c.identifier == identifier), None)
    if own is None or not 0 <= sig_share < L:
        return False
    rho = compute_binding_factors(group_public_key, commitments, msg)
    group_commitment = compute_group_commitment(commitments, rho)
    comm_share = point_add(own.hiding, point_mul(rho[identifier], own.binding))
    c = compute_challenge(group_commitment, group_public_key, msg)
    lam = lagrange_at_zero(identifier, participants(commitments))
    return base_mul(sig_share) == point_add(comm_share, point_mul(c * lam % L, public_share))


def aggregate(
    commitments: Sequence[Commitment],
    msg: bytes,
    group_public_key: bytes,
    sig_shares: Mapping[int, int],
) -> bytes:
    """RFC 9591 5.3: the 64-byte Ed25519 signature (R || z)."""
    check_commitment_list(commitments)
    if set(sig_shares) != set(participants(commitments)):
        raise FrostError("need exactly one share per committed participant")
    rho = compute_binding_factors(group_public_key, commitments, msg)
    group_commitment = compute_group_commitment(commitments, rho)
    z = sum(sig_shares.values()) % L
    return group_commitment + encode_scalar(z)


# -- keys: trusted dealer and verifiable secret sharing (RFC 9591 Appendix C) ----------


def secret_share_shard(
    secret: int, coefficients: Sequence[int], identifiers: Sequence[int]
) -> dict[int, int]:
    """Shares f(i) of f(x) = secret + c1 x + ... for each identifier."""
    poly = [secret % L, *(c % L for c in coefficients)]
    return {check_identifier(i): polynomial_at(poly, i) for i in identifiers}


def vss_commit(secret: int, coefficients: Sequence[int]) -> list[bytes]:
    return [base_mul(secret), *(base_mul(c) for c in coefficients)]


def vss_verify(identifier: int, share: int, vss_commitment: Sequence[bytes]) -> bool:
    return base_mul(share) == commitment_at(list(vss_commitment), identifier)


def trusted_dealer_keygen(
    secret: int, coefficients: Sequence[int], max_participants: int
) -> tuple[dict[int, int], bytes, list[bytes]]:
    """(shares by identifier 1..n, group public key, VSS commitment); t = len(coeffs) + 1."""
    if not 1 <= len(coefficients) + 1 <= max_participants:
        raise FrostError("need 1 <= t <= n")
    shares = secret_share_shard(secret, coefficients, range(1, max_participants + 1))
    commitment = vss_commit(secret, coefficients)
    return shares, commitment[0], commitment


def derive_group_info(
    identifiers: Sequence[int], vss_commitment: Sequence[bytes]
) -> tuple[bytes, dict[int, bytes]]:
    """(group public key, public share of each identifier) from a VSS commitment."""
    return vss_commitment[0], {i: commitment_at(list(vss_commitment), i) for i in identifiers}


def public_share(secret_share: int) -> bytes:
    return base_mul(secret_share)
