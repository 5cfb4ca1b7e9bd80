"""An EVM transaction as a chain takes it, read offline: who sent it, on which chain, to
which account, with which calldata, and its hash. Sans-IO.

Revoke evidence on an EVM chain (``proto.evm_evidence``) carries the revoker's and the
notary's raw signed transactions, so anyone can check who sent what without the chain.
This module reads them: the RLP envelope (Ethereum's Yellow Paper, appendix B), the legacy
transaction (with or without EIP-155's chain id), EIP-2930's (type 1) and EIP-1559's
(type 2), and recovers the sender from the signature (secp256k1 through libsecp256k1, by
``coincurve``).

Invariants: only what a chain includes is read. RLP is canonical (a chain refuses other
encodings, so one transaction has one hash), the list nests no deeper than an access list
needs, integers are at most 32 bytes with no leading zeros, ``r`` and ``s`` are in range
and ``s`` is in the lower half (EIP-2), a call names a 20-byte callee. Anything else is a
``ValueError``; nothing here allocates more than the bytes it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from coincurve import PublicKey

from proto.evm_wallet import keccak256
from proto.frost.suite import SECP256K1_ORDER

MAX_TX_BYTES = 16_384
"""A revoke or crawl back with the deepest proof is under 4 KiB."""
MAX_DEPTH = 4
"""transaction > access list > entry > storage keys."""
ACCOUNT = 20
LEGACY_FIELDS = 9
TYPED_FIELDS = {1: 11, 2: 12}

RlpItem = bytes | list["RlpItem"]


@dataclass(frozen=True)
class EvmTx:
    kind: int
    """0 (legacy), 1 (EIP-2930) or 2 (EIP-1559)."""
    chain_id: int | None
    """None for a legacy transaction signed without a chain id (valid on every chain)."""
    nonce: int
    to: bytes
    value: int
    data: bytes
    sender: bytes
    hash: bytes


def read_transaction(raw: bytes) -> EvmTx:
    """The transaction ``raw`` encodes, with its sender; ``ValueError`` if it is not one
    a chain would include."""
    if not 0 < len(raw) <= MAX_TX_BYTES:
        raise ValueError(f"a transaction is 1 to {MAX_TX_BYTES} bytes")
    if raw[0] >= 0xC0:
        return _legacy(raw)
    kind = raw[0]
    if kind not in TYPED_FIELDS:
        raise ValueError(f"transaction type {kind} is not read here")
    fields = _fields(rlp_decode(raw[1:]), TYPED_FIELDS[kind])
    chain_id, nonce = _uint(fields[0]), _uint(fields[1])
    gas = 3 if kind == 2 else 2  # (max priority fee, max fee) or gas price; gas limit
    for number in fields[2 : 2 + gas]:
        _uint(number)
    to, value, data, access = fields[2 + gas : 6 + gas]
    _access_list(access)
    y, r, s = fields[-3:]
    parity = _uint(y)
    if parity > 1:
        raise ValueError("y parity is 0 or 1")
    signed = bytes([kind]) + rlp_encode(fields[:-3])
    sender = _recover(keccak256(signed), _uint(r), _uint(s), parity)
    return EvmTx(
        kind, chain_id, nonce, _callee(to), _uint(value), _bytes(data), sender, keccak256(raw)
    )


def _legacy(raw: bytes) -> EvmTx:
    fields = _fields(rlp_decode(raw), LEGACY_FIELDS)
    nonce, to, value, data = _uint(fields[0]), fields[3], fields[4], fields[5]
    for gas in fields[1:3]:
        _uint(gas)
    v, r, s = (_uint(f) for f in fields[6:])
    if v in (27, 28):
        chain_id, parity, signed = None, v - 27, fields[:6]
    elif v >= 37:
        chain_id, parity = (v - 35) // 2, (v - 35) % 2
        signed = [*fields[:6], _int_item(chain_id), b"", b""]
    else:
        raise ValueError("a legacy transaction's v is 27, 28 or EIP-155's")
    sender = _recover(keccak256(rlp_encode(signed)), r, s, parity)
    return EvmTx(
        0, chain_id, nonce, _callee(to), _uint(value), _bytes(data), sender, keccak256(raw)
    )


def _recover(digest: bytes, r: int, s: int, parity: int) -> bytes:
    if not (0 < r < SECP256K1_ORDER and 0 < s <= SECP256K1_ORDER // 2):
        raise ValueError("the signature's r or s is out of range (or s is high)")
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([parity])
    try:
        key = PublicKey.from_signature_and_message(signature, digest, hasher=None)
    except ValueError as exc:
        raise ValueError("no sender recovers from the signature") from exc
    return keccak256(key.format(compressed=False)[1:])[-ACCOUNT:]


def _fields(item: RlpItem, count: int) -> list[RlpItem]:
    if not isinstance(item, list) or len(item) != count:
        raise ValueError(f"a transaction is a list of {count} fields")
    return item


def _bytes(item: RlpItem) -> bytes:
    if not isinstance(item, bytes):
        raise ValueError("a field that is a string is a list")
    return item


def _uint(item: RlpItem) -> int:
    data = _bytes(item)
    if len(data) > 32 or data[:1] == b"\x00":
        raise ValueError("an integer is at most 32 bytes, with no leading zero")
    return int.from_bytes(data, "big")


def _int_item(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _callee(item: RlpItem) -> bytes:
    to = _bytes(item)
    if len(to) != ACCOUNT:
        raise ValueError("not a call: the callee is not a 20-byte account")
    return to


def _access_list(item: RlpItem) -> None:
    if not isinstance(item, list):
        raise ValueError("an access list is a list")
    for entry in item:
        if not isinstance(entry, list) or len(entry) != 2 or len(_bytes(entry[0])) != ACCOUNT:
            raise ValueError("an access list entry is [account, storage keys]")
        keys = entry[1]
        if not isinstance(keys, list) or any(len(_bytes(k)) != 32 for k in keys):
            raise ValueError("storage keys are 32 bytes each")


# -- RLP ---------------------------------------------------------------------------------
def rlp_decode(data: bytes) -> RlpItem:
    """The one item ``data`` encodes, canonically and whole; ``ValueError`` otherwise."""
    item, end = _item(data, 0, len(data), 0)
    if end != len(data):
        raise ValueError("bytes after the RLP item")
    return item


def _item(data: bytes, at: int, limit: int, depth: int) -> tuple[RlpItem, int]:
    """The item at ``at``, which must end by ``limit``, and where it ends."""
    if at >= limit:
        raise ValueError("RLP ends early")
    head = data[at]
    if head < 0x80:
        return data[at : at + 1], at + 1
    if head < 0xC0:
        start, size = _length(data, at, limit, 0x80)
        end = start + size
        if size == 1 and data[start] < 0x80:
            raise ValueError("a single byte below 0x80 is its own encoding")
        return data[start:end], end
    if depth + 1 > MAX_DEPTH:
        raise ValueError("RLP lists nest too deep")
    start, size = _length(data, at, limit, 0xC0)
    end, items, cursor = start + size, [], start
    while cursor < end:
        item, cursor = _item(data, cursor, end, depth + 1)
        items.append(item)
    return items, end


def _length(data: bytes, at: int, limit: int, base: int) -> tuple[int, int]:
    """(where the payload starts, its size) of the header at ``at``."""
    short = data[at] - base
    if short <= 55:
        start, size = at + 1, short
    else:
        width = short - 55
        raw = data[at + 1 : min(at + 1 + width, limit)]
        if len(raw) != width or raw[0] == 0:
            raise ValueError("an RLP length is cut short or has a leading zero")
        start, size = at + 1 + width, int.from_bytes(raw, "big")
        if size <= 55:
            raise ValueError("a long RLP length for a short payload")
    if start + size > limit:
        raise ValueError("RLP ends early")
    return start, size


def rlp_encode(item: RlpItem) -> bytes:
    if isinstance(item, bytes):
        if len(item) == 1 and item[0] < 0x80:
            return item
        return _header(0x80, len(item)) + item
    payload = b"".join(rlp_encode(i) for i in item)
    return _header(0xC0, len(payload)) + payload


def _header(base: int, size: int) -> bytes:
    if size <= 55:
        return bytes([base + size])
    width = _int_item(size)
    return bytes([base + 55 + len(width)]) + width
