"""A FROST(secp256k1, SHA-256) wallet key and signature as the contract takes them.

The contract (``FrostSecp256k1.sol``) takes the key as (x, y parity) and R as (x, y): the
point is decompressed here, off chain, where it costs nothing, and the contract checks
that (x, y) is on the curve. A key whose x is not below the group order cannot be checked
on chain (``usable_key``): a group must not open an EVM wallet with one (a fresh DKG
gives such a key with odds of about 2^-128).
"""

from __future__ import annotations

from typing import Any

from coincurve import PublicKey
from eth_typing import ChecksumAddress
from web3 import Web3

from proto.chain_leaf import ChainLeaf
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


def address(account: bytes) -> ChecksumAddress:
    """A 20-byte account as web3 takes it (EIP-55 checksummed)."""
    if len(account) != 20:
        raise ValueError("an EVM account is 20 bytes")
    return Web3.to_checksum_address(account)


def leaf_args(leaf: ChainLeaf) -> tuple[bytes, ChecksumAddress, bytes, list[int]]:
    """The contract's ``Leaf`` of a chain leaf."""
    return leaf.member, address(leaf.account), leaf.history, list(leaf.amounts)


def as_bytes(value: Any) -> bytes:
    """An address or bytes value web3 gave back, as bytes."""
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)
