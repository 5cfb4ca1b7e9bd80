"""The field kinds shared by swapnet's wire objects, with their limits in one place.

A member id is the member's 32-byte Ed25519 public key (the libp2p peer id is derived
from the same key). An asset code is 1 to 12 characters of ``A-Z 0-9 . _ -`` starting with
a letter. Amounts and balances are unsigned 64-bit integers in base units; no float ever
appears in anything signed or stored as state.
"""

from __future__ import annotations

from proto.codec import Bytes, Text, UInt
from proto.signing import GROUP_ID_SIZE, KEY_SIZE, SIGNATURE_SIZE

MAX_MEMO_BYTES = 256
MAX_SWAP_PARTIES = 8
MAX_SWAP_LEGS = 16
MAX_BATCH_ORDERS = 512
MAX_STEWARDS = 128
MAX_MEMBERS = 10_000
MAX_ASSETS = 64

KEY_SIZE_BYTES = KEY_SIZE
MEMBER_ID = Bytes(KEY_SIZE)
GROUP_ID = Bytes(GROUP_ID_SIZE)
DIGEST = Bytes(32)
SIGNATURE = Bytes(SIGNATURE_SIZE)
WALLET_KEY = Bytes(min_size=KEY_SIZE, max_size=KEY_SIZE + 1)
"""A group wallet's FROST key: Ed25519 (32 bytes) or secp256k1, compressed (33)."""
WALLET_SIGNATURE = Bytes(min_size=SIGNATURE_SIZE, max_size=SIGNATURE_SIZE + 1)
"""The group wallet key's signature: Ed25519 (64 bytes), or FROST(secp256k1) (65: R
compressed, then z) for a wallet on an EVM ledger."""
ASSET = Text(12, r"[A-Z][A-Z0-9._-]{0,11}")
AMOUNT = UInt(64, minimum=1)
BALANCE = UInt(64)
SEQ = UInt(64, minimum=1)
MEMO = Bytes(max_size=MAX_MEMO_BYTES)
HANDLE_PATTERN = r"[a-z][a-z0-9_]{2,19}"
HANDLE = Text(20, HANDLE_PATTERN)
"""A member's handle: 3 to 20 of ``a-z 0-9 _``, starting with a letter (no look-alikes,
nothing a terminal or a page could take for markup); unique in its group."""
HANDLE_OR_NONE = Text(20, f"(?:{HANDLE_PATTERN})?")
"""A handle, or empty for a member admitted without one (a group made before handles)."""
EVM_ACCOUNT_SIZE = 20
EVM_ACCOUNT = Bytes(max_size=EVM_ACCOUNT_SIZE)
"""An EVM account (20 bytes), or empty for none; an object holding one checks the size."""
