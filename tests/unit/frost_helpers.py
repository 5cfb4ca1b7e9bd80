"""Helpers for FROST tests: deterministic randomness from a seeded Random, and a whole
in-process signing run over the RFC functions."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from proto.frost.core import aggregate, commit, sign, trusted_dealer_keygen
from proto.frost.curve import L


def scalar(rng: random.Random) -> int:
    return rng.randrange(1, L)


def dealer_keys(rng: random.Random, t: int, n: int) -> tuple[dict[int, int], bytes]:
    shares, pk, _ = trusted_dealer_keygen(scalar(rng), [scalar(rng) for _ in range(t - 1)], n)
    return shares, pk


def sign_with(
    rng: random.Random,
    shares: Mapping[int, int],
    signers: Sequence[int],
    pk: bytes,
    msg: bytes,
) -> bytes:
    made = {i: commit(shares[i], rng.randbytes(32), rng.randbytes(32), i) for i in signers}
    comms = [made[i][1] for i in sorted(signers)]
    z = {i: sign(i, shares[i], made[i][0], msg, comms, pk) for i in signers}
    return aggregate(comms, msg, pk, z)


def verifies(pk: bytes, msg: bytes, sig: bytes) -> bool:
    """Does ``sig`` verify as a plain Ed25519 signature under ``pk``?"""
    try:
        VerifyKey(pk).verify(msg, sig)
    except BadSignatureError:
        return False
    return True
