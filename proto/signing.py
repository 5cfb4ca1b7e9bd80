"""Domain-separated Ed25519 signatures and hashes.

What is signed is never the bare body: it is ``b"swapnet/1/" + type_name + b"\\x00"``, then
the 32-byte group id, then the canonical encoding of the body. The type name holds no NUL
and the group id has a fixed size, so no two (type, group, body) triples share a message:
a vote can never be replayed as an order, nor an order of one group in another.

Keys are handed in (``nacl.signing.SigningKey``); this module creates none.

Every Ed25519 verification of the protocol goes through ``verify``, which counts them
(``verifications()``): the benchmark reads the count to state the protocol's verifications
per order, and the node exports it as ``swapnet_signature_verifications_total``. The count
is the only state here; it never changes a result.
"""

from __future__ import annotations

import hashlib

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from proto.errors import InvalidSignature, LocalProtocolError

DOMAIN_PREFIX = b"swapnet/1/"
GROUP_ID_SIZE = 32
KEY_SIZE = 32
SIGNATURE_SIZE = 64


def domain_message(type_name: str, group_id: bytes, body: bytes) -> bytes:
    """The exact bytes that get signed or hashed for ``body`` of ``type_name`` in a group."""
    name = type_name.encode("ascii")
    if b"\x00" in name or not name:
        raise LocalProtocolError(f"bad domain type name {type_name!r}")
    if len(group_id) != GROUP_ID_SIZE:
        raise LocalProtocolError(f"group id must be {GROUP_ID_SIZE} bytes")
    return DOMAIN_PREFIX + name + b"\x00" + group_id + body


def sign(key: SigningKey, type_name: str, group_id: bytes, body: bytes) -> bytes:
    """A 64-byte Ed25519 signature by ``key`` over the domain message."""
    return bytes(key.sign(domain_message(type_name, group_id, body)).signature)


_verified = [0]


def verifications() -> int:
    """How many signatures ``verify`` has checked in this process."""
    return _verified[0]


def verify(
    public_key: bytes, signature: bytes, type_name: str, group_id: bytes, body: bytes
) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` is ``public_key``'s over the message."""
    _verified[0] += 1
    if len(public_key) != KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        raise InvalidSignature("wrong key or signature size")
    try:
        VerifyKey(public_key).verify(domain_message(type_name, group_id, body), signature)
    except (BadSignatureError, ValueError) as exc:
        raise InvalidSignature(f"{type_name} signature does not verify") from exc


def is_valid(
    public_key: bytes, signature: bytes, type_name: str, group_id: bytes, body: bytes
) -> bool:
    try:
        verify(public_key, signature, type_name, group_id, body)
    except InvalidSignature:
        return False
    return True


def domain_hash(type_name: str, group_id: bytes, body: bytes) -> bytes:
    """SHA-256 of the domain message: the id of an object within a group."""
    return hashlib.sha256(domain_message(type_name, group_id, body)).digest()


def public_key_of(key: SigningKey) -> bytes:
    return bytes(key.verify_key)
