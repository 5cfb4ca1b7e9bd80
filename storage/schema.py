"""The key schema: every key swapnet stores is built and parsed here, nowhere else.

Keys start with a one-byte record kind, so kinds never interleave and each has its own
prefix for iteration. Integers in keys are 8-byte big-endian, so byte order is numeric
order.

| prefix | key after the prefix        | value                                       |
| ------ | --------------------------- | ------------------------------------------- |
| 0x00   | name (ascii)                | metadata; ``schema`` holds SCHEMA_VERSION    |
| 0x01   | group id (32)               | the group's applied ``StateSnapshot``        |
| 0x02   | group id, member (32), seq  | a certified order waiting to be applicable   |
| 0x03   | group id, member (32), seq  | a steward's vote lock: the ``SignedOrder``   |
| 0x04   | group id, name (ascii)      | checkpoint records: ``lock`` (the accepted    |
|        |                             | ``Proposal``), ``base`` (``Completed``) and   |
|        |                             | ``base-state`` (its ``StateSnapshot``)        |
| 0x05   | group id, batch digest (32) | a ``Certificate``                            |
| 0x06   | group id, member (32), seq  | the digest of the certificate holding it     |
| 0x07   | group id, name (ascii)      | group records: ``spec``, ``dkg-seed`` (sealed),|
|        |                             | ``genesis``, ``steward-key`` (share sealed),  |
|        |                             | ``seal`` (our ``Seal``), ``handover-`` + the  |
|        |                             | epoch (8 hex): the ``Handover`` into it      |
| 0x08   | group id, member (32)       | a trader's signed ``Join``                   |
| 0x09   | group id, member (32), seq  | the trader's own signed order, until applied |
| 0x0a   | group id, request hash (32) | the seq a client's request id was given      |
| 0x0b   | group id, ``cursor``        | the ledger follower's cursor: height followed |
|        |                             | and wallet transactions seen (two u64)        |
| 0x0b   | group id, ``e`` + index (8) | a followed ``ViewEvent``, in ledger order     |
| 0x0c   | group id, member, tx id     | revoke evidence (either kind) against them   |
| 0x0d   | group id, number (8)        | the node's own receipt under that checkpoint: |
|        |                             | a ``Prequal`` (signed checkpoint + its proof) |
| 0x0e   | group id, member (32), seq  | a swap the trader signed first (``SwapSign``) |
|        |                             | and the other side has not countersigned yet |
| 0x0f   | group id, number (8)        | the chain proof of the node's own leaf under  |
|        |                             | that checkpoint (``ChainProofRecord``)        |
| 0x10   | name (ascii)                | ledger metadata: genesis, faucet seed, tip   |
| 0x11   | height (8)                  | a ledger ``Block``                           |
| 0x12   | height (8)                  | the ``EventList`` of that block              |
| 0x13   | tx id (32)                  | the height of the block holding the tx       |
| 0x14   | sequence (8)                | a ``SignedTx`` accepted into the mempool     |
"""

from __future__ import annotations

SCHEMA_VERSION = 10
"""10: a member's history counts its pit liquidations, and its balance leaf (what a prequal
badge states) carries its handle; 9: handles: a join names its member's handle, the
genesis and the group spec the stewards', each account its handle (issue 20); 8: the
genesis and the group spec carry the share-refresh schedule; per-epoch key shares and
reshare seeds in the group's records; 7: votes and certificates name their epoch,
proposals too, and checkpoints the epoch they hand over to; seals and hand-overs (issue
19); 6: checkpoints commit to chain leaves and name their ledger, the wallet's suite
(issue 18); 5: OpenWallet carries the genesis, pit bounds (issue 16); 4: the S&L pit."""

META = b"\x00"
STATE = b"\x01"
WAITING = b"\x02"
VOTE_LOCK = b"\x03"
CHECKPOINT = b"\x04"
CERTIFICATE = b"\x05"
CERT_INDEX = b"\x06"
GROUP = b"\x07"
JOIN = b"\x08"
OUTBOX = b"\x09"
REQUEST = b"\x0a"
FOLLOW = b"\x0b"
EVIDENCE = b"\x0c"
RECEIPT = b"\x0d"
HELD = b"\x0e"
CHAIN_PROOF = b"\x0f"

LEDGER_META = b"\x10"
BLOCK = b"\x11"
BLOCK_EVENTS = b"\x12"
TX_INDEX = b"\x13"
MEMPOOL = b"\x14"

_GROUP = 32
_MEMBER = 32


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def _group(group_id: bytes) -> bytes:
    if len(group_id) != _GROUP:
        raise ValueError("group id must be 32 bytes")
    return group_id


def meta_key(name: str) -> bytes:
    return META + name.encode("ascii")


def state_key(group_id: bytes) -> bytes:
    return STATE + _group(group_id)


def member_seq_key(prefix: bytes, group_id: bytes, member: bytes, seq: int) -> bytes:
    if len(member) != _MEMBER:
        raise ValueError("member id must be 32 bytes")
    return prefix + _group(group_id) + member + _u64(seq)


def group_prefix(prefix: bytes, group_id: bytes) -> bytes:
    return prefix + _group(group_id)


def parse_member_seq_key(key: bytes) -> tuple[bytes, int]:
    """(member, seq) from a key built by ``member_seq_key``."""
    if len(key) != 1 + _GROUP + _MEMBER + 8:
        raise ValueError("not a member/seq key")
    member = key[1 + _GROUP : 1 + _GROUP + _MEMBER]
    return member, int.from_bytes(key[-8:], "big")


def ledger_meta_key(name: str) -> bytes:
    return LEDGER_META + name.encode("ascii")


def height_key(prefix: bytes, height: int) -> bytes:
    return prefix + _u64(height)


def parse_height_key(key: bytes) -> int:
    if len(key) != 9:
        raise ValueError("not a height key")
    return int.from_bytes(key[1:], "big")


def tx_index_key(tx_id: bytes) -> bytes:
    if len(tx_id) != 32:
        raise ValueError("tx id must be 32 bytes")
    return TX_INDEX + tx_id


def checkpoint_key(group_id: bytes, name: str) -> bytes:
    return CHECKPOINT + _group(group_id) + name.encode("ascii")


def certificate_key(group_id: bytes, digest: bytes) -> bytes:
    if len(digest) != 32:
        raise ValueError("certificate digest must be 32 bytes")
    return CERTIFICATE + _group(group_id) + digest


def group_key(group_id: bytes, name: str) -> bytes:
    return GROUP + _group(group_id) + name.encode("ascii")


def join_key(group_id: bytes, member: bytes) -> bytes:
    if len(member) != _MEMBER:
        raise ValueError("member id must be 32 bytes")
    return JOIN + _group(group_id) + member


def request_key(group_id: bytes, request_hash: bytes) -> bytes:
    if len(request_hash) != 32:
        raise ValueError("request hash must be 32 bytes")
    return REQUEST + _group(group_id) + request_hash


def follow_key(group_id: bytes, name: str) -> bytes:
    return FOLLOW + _group(group_id) + name.encode("ascii")


def follow_event_key(group_id: bytes, index: int) -> bytes:
    return FOLLOW + _group(group_id) + b"e" + _u64(index)


def evidence_key(group_id: bytes, member: bytes, tx_id: bytes) -> bytes:
    if len(member) != _MEMBER or len(tx_id) != 32:
        raise ValueError("member id and tx id must be 32 bytes")
    return EVIDENCE + _group(group_id) + member + tx_id


def receipt_key(group_id: bytes, number: int) -> bytes:
    return RECEIPT + _group(group_id) + _u64(number)


def chain_proof_key(group_id: bytes, number: int) -> bytes:
    return CHAIN_PROOF + _group(group_id) + _u64(number)
