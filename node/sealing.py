"""Secrets a node keeps beside its trader key (its DKG seed, its share of the wallet key),
sealed with a key derived from the trader key, so they are exactly as safe at rest as
the trader key file itself (encrypted with the passphrase) and need no second passphrase.

``seal`` uses XSalsa20-Poly1305 (``nacl.secret.SecretBox``) with a random nonce under
``SHA-256("swapnet/1/sealing\\0" || purpose || trader seed)``; ``unseal`` raises
``SealError`` for a blob sealed by another key or for another purpose, or altered.
"""

from __future__ import annotations

import hashlib

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.signing import SigningKey

from proto.errors import SwapnetError


class SealError(SwapnetError):
    pass


def _box(identity: SigningKey, purpose: str) -> SecretBox:
    material = b"swapnet/1/sealing\x00" + purpose.encode() + b"\x00" + bytes(identity)
    return SecretBox(hashlib.sha256(material).digest())


def seal(identity: SigningKey, purpose: str, secret: bytes) -> bytes:
    return bytes(_box(identity, purpose).encrypt(secret))


def unseal(identity: SigningKey, purpose: str, sealed: bytes) -> bytes:
    try:
        return bytes(_box(identity, purpose).decrypt(sealed))
    except CryptoError as exc:
        raise SealError(f"cannot unseal the {purpose}: another key, or damaged") from exc
