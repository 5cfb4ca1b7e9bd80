"""A FROST(secp256k1, SHA-256) wallet key and signature as the contract takes them.

The contract (``FrostSecp256k1.sol``) takes the key as (x, y parity) and R as (x, y): the
point is decompressed here, off chain, where it costs nothing, and the contract checks
that (x, y) is on the curve. A key whose x is not below the group order cannot be checked
on chain (``usable_key``): a group must not open an EVM wallet with one (a fresh DKG
gives such a key with odds of about 2^-128).
"""

from __future__ import annotations

from coincurve import PublicKey

from proto.frost.suite import SECP256K1

N = SECP256K1.order


def key_args(key: bytes) -> tuple[int, int]:
    """(x, parity) of a compressed wallet key."""
    point = SECP256K1.decode_point(key)
    return int.from_bytes(point[1:], "big"), point[0] - 2


def usable_key(key: bytes) -> bool:
    x, _ = key_args(key)
    return 0 < x < N


def signature_args(signature: bytes) -> tuple[int, int, int]:
    """(R's x, R's y, z) of a 65-byte signature (R compressed, then z)."""
    if len(signature) != 65:
        raise ValueError("a FROST(secp256k1) signature is 65 bytes")
    r = PublicKey(SECP256K1.decode_point(signature[:33])).format(compressed=False)
    return (
        int.from_bytes(r[1:33], "big"),
        int.from_bytes(r[33:], "big"),
        (int.from_bytes(signature[33:], "big")),
    )
