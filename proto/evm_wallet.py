"""The group wallet's messages on an EVM ledger (``node/evm/GroupWallet.sol``), sans-IO.

A group on an EVM ledger signs with its FROST(secp256k1) wallet key exactly the bytes the
contract rebuilds (``checkpointMessage``): a tag, the chain id, the contract, the wallet
id, then the fields. The chain and contract in every message are what keep a signature
from being replayed on another chain or contract; the contract relays nothing.

A checkpoint's chain message carries ``checkpoint_body``, the SHA-256 of the group's whole
checkpoint's signing message, so one signature commits to the balance tree, the chain
tree, the state digest and the ledger height at once.
"""

from __future__ import annotations

import hashlib

from proto.chain_leaf import ACCOUNT_SIZE, WORD
from proto.checkpoint import Checkpoint

CHECKPOINT_TAG = bytes.fromhex("2600c429c682cce72e676ac43a72011bfa35b7c373396417e8c4ab1dbb1b846e")
"""keccak256("swapnet/1/evm/checkpoint"), the contract's ``CHECKPOINT_TAG``."""


def checkpoint_body(checkpoint: Checkpoint) -> bytes:
    """What the chain message signs of the group's whole checkpoint: the SHA-256 of its
    signing message (which names the group)."""
    return hashlib.sha256(checkpoint.signing_message()).digest()


def checkpoint_message(
    chain_id: int, contract: bytes, wallet_id: bytes, checkpoint: Checkpoint
) -> bytes:
    """The contract's ``checkpointMessage(id, cp)``: what a group on an EVM ledger signs for
    a checkpoint, binding the chain, the contract and the wallet (nothing is relayed)."""
    if len(contract) != ACCOUNT_SIZE or len(wallet_id) != WORD:
        raise ValueError("a contract is 20 bytes and a wallet id 32")
    return b"".join(
        (
            CHECKPOINT_TAG,
            chain_id.to_bytes(WORD, "big"),
            bytes(WORD - ACCOUNT_SIZE) + contract,
            wallet_id,
            checkpoint.number.to_bytes(WORD, "big"),
            checkpoint.chain_root,
            checkpoint.members.to_bytes(WORD, "big"),
            checkpoint_body(checkpoint),
        )
    )


def checkpoint_args(checkpoint: Checkpoint) -> tuple[int, bytes, int, bytes]:
    """The contract's ``Checkpoint`` as web3 takes it."""
    return (
        checkpoint.number,
        checkpoint.chain_root,
        checkpoint.members,
        checkpoint_body(checkpoint),
    )
