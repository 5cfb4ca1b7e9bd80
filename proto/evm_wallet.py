"""The group wallet's messages on an EVM ledger (``node/evm/GroupWallet.sol``), sans-IO.

A group on an EVM ledger signs with its FROST(secp256k1) wallet key exactly the bytes the
contract rebuilds (``checkpointMessage``): a tag, the chain id, the contract, the wallet
id, then the fields. The chain and contract in every message are what keep a signature
from being replayed on another chain or contract; the contract relays nothing.

A checkpoint's chain message carries the SHA-256 of the group's whole checkpoint's own
signing message, so one signature commits to the balance tree, the chain tree, the state
digest and the ledger height at once (``proto.checkpoint``). An EVM genesis's ledger id is
the chain id and the contract (``evm_ledger_id``), so the message is rebuilt from a
checkpoint and the wallet key alone.
"""

from __future__ import annotations

from Crypto.Hash import keccak

from proto.chain_leaf import ACCOUNT_SIZE, WORD

CHECKPOINT_TAG = bytes.fromhex("2600c429c682cce72e676ac43a72011bfa35b7c373396417e8c4ab1dbb1b846e")
"""keccak256("swapnet/1/evm/checkpoint"), the contract's ``CHECKPOINT_TAG``."""
MAX_CHAIN_ID = 2**96 - 1


def evm_ledger_id(chain_id: int, contract: bytes) -> bytes:
    """A genesis's ``ledger_id`` for a wallet on an EVM chain: the chain id (12 bytes) and
    the contract (20), so that anyone holding a checkpoint can rebuild its chain message."""
    if not 0 < chain_id <= MAX_CHAIN_ID:
        raise ValueError("an EVM chain id is 1 to 2**96 - 1")
    return chain_id.to_bytes(WORD - ACCOUNT_SIZE, "big") + _contract(contract)


def evm_binding(ledger_id: bytes) -> tuple[int, bytes]:
    """(chain id, contract) of an EVM ``ledger_id``."""
    if len(ledger_id) != WORD:
        raise ValueError("a ledger id is 32 bytes")
    return int.from_bytes(ledger_id[: WORD - ACCOUNT_SIZE], "big"), ledger_id[WORD - ACCOUNT_SIZE :]


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def wallet_id(group_id: bytes, wallet_key: bytes) -> bytes:
    """The contract's ``walletId(genesis, keyX, parity)``: the group id bound to its key."""
    if len(group_id) != WORD or len(wallet_key) != WORD + 1 or wallet_key[0] not in (2, 3):
        raise ValueError("a group id is 32 bytes and a wallet key a compressed point")
    return keccak256(group_id + wallet_key[1:] + _word(wallet_key[0] - 2))


def checkpoint_message(
    ledger_id: bytes,
    wallet: bytes,
    number: int,
    chain_root: bytes,
    leaf_count: int,
    body: bytes,
) -> bytes:
    """The contract's ``checkpointMessage(id, cp)``: what a group on an EVM ledger signs for
    a checkpoint (``body``: the SHA-256 of the whole checkpoint's own signing message),
    binding the chain, the contract and the wallet (``wallet``: its id)."""
    chain_id, contract = evm_binding(ledger_id)
    if len(wallet) != WORD or len(chain_root) != WORD or len(body) != WORD:
        raise ValueError("a wallet id, a root and a body are 32 bytes")
    return b"".join(
        (
            CHECKPOINT_TAG,
            _word(chain_id),
            _address(contract),
            wallet,
            _word(number),
            chain_root,
            _word(leaf_count),
            body,
        )
    )


def _contract(contract: bytes) -> bytes:
    if len(contract) != ACCOUNT_SIZE:
        raise ValueError("an EVM contract is 20 bytes")
    return contract


OPEN_TAG = bytes.fromhex("39a48920205452c78576e4ffdacba960acf5b02a6d16c70d6907cd4218f55f12")
"""keccak256("swapnet/1/evm/open")."""
SETTLE_TAG = bytes.fromhex("fb47c8395513e959aee91c308a7a5bf2b5b1cd4c9c3a84073cbc57e34f076159")
"""keccak256("swapnet/1/evm/settle")."""


def _word(value: int) -> bytes:
    return value.to_bytes(WORD, "big")


def _address(account: bytes) -> bytes:
    if len(account) != ACCOUNT_SIZE:
        raise ValueError("an EVM account is 20 bytes")
    return bytes(WORD - ACCOUNT_SIZE) + account


def open_message(
    chain_id: int,
    contract: bytes,
    genesis: bytes,
    key_x: int,
    key_parity: int,
    window: int,
    revoke_fee: int,
    assets: tuple[bytes, ...],
) -> bytes:
    """The contract's ``openMessage``: the group opens its wallet (``genesis``: the group
    id) under its key, with its window, fee and assets (token accounts; ETH is zero)."""
    head = (OPEN_TAG, _word(chain_id), _address(contract), genesis, _word(key_x))
    fields = (_word(key_parity), _word(window), _word(revoke_fee), _word(9 * WORD))
    tail = (_word(len(assets)), *(_address(a) for a in assets))
    return b"".join((*head, *fields, *tail))


def settle_message(
    chain_id: int,
    contract: bytes,
    wallet_id: bytes,
    member: bytes,
    number: int,
    pay_to: bytes,
    amounts: tuple[int, ...],
) -> bytes:
    """The contract's ``settleMessage``: the group pays ``member``'s exit under checkpoint
    ``number`` to ``pay_to``, one amount per wallet asset."""
    head = (SETTLE_TAG, _word(chain_id), _address(contract), wallet_id, member)
    fields = (_word(number), _address(pay_to), _word(8 * WORD))
    tail = (_word(len(amounts)), *(_word(a) for a in amounts))
    return b"".join((*head, *fields, *tail))
