"""A node's EVM account: a secp256k1 key derived from its trader key, so the node has one
secret (kept encrypted by ``node.keystore``) and one backup.

The account is what a member's signed join binds (``Join.evm_account``): revokes are sent
from it and paid to it, settles are paid to it. Derivation: SHA-256 over a domain tag and
the trader key's seed, as a big-endian integer, which must be a valid secp256k1 scalar
(below the group order and not zero; a seed that misses is refused, at odds of about
2^-128).
"""

from __future__ import annotations

import hashlib

from eth_account import Account
from nacl.signing import SigningKey

from proto.frost.suite import SECP256K1

DOMAIN = b"swapnet/1/evm-account\x00"


def evm_secret(key: SigningKey) -> bytes:
    secret = hashlib.sha256(DOMAIN + bytes(key)).digest()
    if not 0 < int.from_bytes(secret, "big") < SECP256K1.order:
        raise ValueError("this trader key derives no EVM account")
    return secret


def evm_account(key: SigningKey) -> bytes:
    """The 20-byte account of ``evm_secret(key)``."""
    return bytes.fromhex(Account.from_key(evm_secret(key)).address[2:])
