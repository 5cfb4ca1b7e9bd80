"""FROST signing: random (t, n) up to 20 with every signing-set size, strict decoding,
identifiers of any size, and share verification."""

from __future__ import annotations

import random

import pytest

from proto.frost.core import commit, sign, trusted_dealer_keygen, verify_signature_share
from proto.frost.curve import (
    IDENTITY,
    FrostError,
    L,
    base_mul,
    decode_point,
    decode_scalar,
    encode_scalar,
    lagrange_at_zero,
)
from tests.unit.frost_helpers import dealer_keys, scalar, sign_with, verifies

RUNS = 520
CHUNKS = 4


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_groups_sign_with_every_set_size_from_t_to_n_and_never_with_t_minus_1(
    chunk: int,
) -> None:
    rng = random.Random(9591 + chunk)
    sizes_seen: set[tuple[int, int, int]] = set()
    for run in range(RUNS // CHUNKS):
        n = rng.randint(2, 20)
        t = rng.randint(2, n)
        k = t + run % (n - t + 1)  # cycles through every size from t to n
        shares, pk = dealer_keys(rng, t, n)
        msg = rng.randbytes(rng.randint(0, 64))
        signers = sorted(rng.sample(range(1, n + 1), k))
        assert verifies(pk, msg, sign_with(rng, shares, signers, pk, msg)), (run, t, n, k)
        sizes_seen.add((t, n, k))
        if run % 4 == 0:
            few = sorted(rng.sample(range(1, n + 1), t - 1))
            if few:
                assert not verifies(pk, msg, sign_with(rng, shares, few, pk, msg)), (run, t, n)
    assert len(sizes_seen) > 80


def test_largest_group_signs_with_all_twenty() -> None:
    rng = random.Random(20)
    shares, pk = dealer_keys(rng, 14, 20)
    assert verifies(pk, b"m", sign_with(rng, shares, list(range(1, 21)), pk, b"m"))


def test_identifiers_of_any_size_sort_numerically() -> None:
    rng = random.Random(7)
    secret, coeffs = scalar(rng), [scalar(rng)]
    ids = [1, 256, 2**200 + 3, L - 1]  # 256 encodes as 00 01 ..: byte order would misplace it
    from proto.frost.core import secret_share_shard  # noqa: PLC0415

    shares = secret_share_shard(secret, coeffs, ids)
    pk = base_mul(secret)
    for pair in ([256, 1], [L - 1, 2**200 + 3], [1, L - 1]):
        assert verifies(pk, b"x", sign_with(rng, shares, pair, pk, b"x"))
    # Reconstruction over the big identifiers gives the secret back.
    lam = [lagrange_at_zero(i, ids[:2]) * shares[i] for i in ids[:2]]
    assert sum(lam) % L == secret


def test_a_wrong_share_fails_verification_and_the_right_one_passes() -> None:
    rng = random.Random(3)
    shares, pk = dealer_keys(rng, 2, 3)
    made = {i: commit(shares[i], rng.randbytes(32), rng.randbytes(32), i) for i in (1, 2)}
    comms = [made[1][1], made[2][1]]
    z1 = sign(1, shares[1], made[1][0], b"m", comms, pk)
    assert verify_signature_share(1, base_mul(shares[1]), z1, comms, pk, b"m")
    assert not verify_signature_share(1, base_mul(shares[1]), (z1 + 1) % L, comms, pk, b"m")
    assert not verify_signature_share(1, base_mul(shares[2]), z1, comms, pk, b"m")
    assert not verify_signature_share(1, base_mul(shares[1]), z1, comms, pk, b"other")
    with pytest.raises(FrostError):  # a signer refuses a list without its own commitment
        sign(1, shares[1], made[1][0], b"m", [made[2][1]], pk)


# The eight small-order points of edwards25519 (canonical encodings) and friends.
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
]


@pytest.mark.parametrize("encoding", SMALL_ORDER)
def test_small_order_points_and_the_identity_are_rejected(encoding: str) -> None:
    with pytest.raises(FrostError):
        decode_point(bytes.fromhex(encoding))


def test_non_canonical_and_off_curve_points_are_rejected() -> None:
    g = base_mul(1)
    assert decode_point(g) == g
    # y = p + 1 (non-canonical encoding of y = 1, the identity's y).
    p_plus_1 = ((2**255 - 19) + 1).to_bytes(32, "little")
    for bad in (p_plus_1, b"\xff" * 32, g[:31], IDENTITY, bytes([2]) + bytes(31)):
        with pytest.raises(FrostError):
            decode_point(bad)
    # A point of order 8L (G plus a torsion point) is on the curve but not in the subgroup.
    from nacl.bindings import crypto_core_ed25519_add  # noqa: PLC0415

    mixed = bytes(crypto_core_ed25519_add(g, bytes.fromhex(SMALL_ORDER[4])))
    with pytest.raises(FrostError):
        decode_point(mixed)


def test_scalars_at_or_above_l_are_rejected() -> None:
    assert decode_scalar(encode_scalar(L - 1)) == L - 1
    for bad in (L, L + 1, 2**256 - 1):
        with pytest.raises(FrostError):
            decode_scalar(bad.to_bytes(32, "little"))
    with pytest.raises(FrostError):
        decode_scalar(b"\x00" * 31)


def test_dealer_rejects_an_impossible_threshold() -> None:
    with pytest.raises(FrostError):
        trusted_dealer_keygen(5, [1, 2, 3], 3)
