"""Checkpoints: the group's state at a point, signed by the group wallet key.

A ``Checkpoint`` commits to the balances and histories (the merkle root over members'
leaves and the leaf count, which pins the tree size for proofs), to the same balances as a
chain reads them (``proto.chain_leaf``: the root of the ABI leaves, same members, same
order) and to the whole applied state (the digest of its canonical snapshot: seqs, frozen
flags, balances). ``SignedCheckpoint``
carries the wallet key's signature (a FROST aggregate, i.e. a plain Ed25519 signature)
over the domain message ``swapnet/1/checkpoint`` + group id + the checkpoint's bytes.

Invariant the stewards keep (DESIGN.md, safety rules): a higher number is always a newer
state. That is what lets the ledger accept "newer = higher number" in a crawl back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from proto import evm_wallet, signing
from proto.chain_leaf import ChainTree, chain_leaves
from proto.codec import Obj, UInt, Wire, register, wf
from proto.errors import InvalidProof, InvalidSignature
from proto.frost.suite import SECP256K1
from proto.kinds import DIGEST, GROUP_ID, WALLET_SIGNATURE
from proto.merkle import BalanceLeaf, BalanceProof, BalanceTree
from proto.signing import SIGNATURE_SIZE
from proto.state import GroupState, snapshot_digest

CHECKPOINT_DOMAIN = "checkpoint"


@register(50, "checkpoint")
@dataclass(frozen=True)
class Checkpoint(Wire):
    group_id: bytes = wf(GROUP_ID)
    number: int = wf(UInt(64, minimum=1))
    balances_root: bytes = wf(DIGEST)
    members: int = wf(UInt(32))
    state_digest: bytes = wf(DIGEST)
    ledger_height: int = wf(UInt(64))
    """The ledger height the state read joins, deposits and claims at: how fresh a badge
    (a prequal) cut from this checkpoint is."""
    chain_root: bytes = wf(DIGEST)
    """The root of the chain leaves (``proto.chain_leaf``: what an EVM ledger reads), over
    the same ``members`` leaves in the same order as ``balances_root``."""
    ledger_id: bytes = wf(DIGEST)
    """The genesis's ledger: the devnet ledger's id, or an EVM chain and contract."""
    next_epoch: bytes = wf(DIGEST, default=bytes(32))
    """The digest of the epoch this checkpoint hands over to (``proto.epochs``: its
    committee signs from the next checkpoint on), or zeros: the group's signature over the
    checkpoint is the old committee's agreement to the change."""

    def signing_message(self) -> bytes:
        return signing.domain_message(CHECKPOINT_DOMAIN, self.group_id, self.encode())

    def message_for(self, wallet_key: bytes) -> bytes:
        """What the wallet key signs: the signing message under an Ed25519 key; under a
        FROST(secp256k1) key (a wallet on an EVM chain), the contract's checkpoint message,
        which carries the signing message's digest."""
        if len(wallet_key) == SIGNATURE_SIZE // 2:
            return self.signing_message()
        return evm_wallet.checkpoint_message(
            self.ledger_id,
            evm_wallet.wallet_id(self.group_id, wallet_key),
            self.number,
            self.chain_root,
            self.members,
            self.body(),
        )

    def body(self) -> bytes:
        """The SHA-256 of the signing message (which names the group)."""
        return hashlib.sha256(self.signing_message()).digest()

    def chain_args(self) -> tuple[int, bytes, int, bytes]:
        """The contract's ``Checkpoint`` (number, root, leafCount, body)."""
        return self.number, self.chain_root, self.members, self.body()


def checkpoint_of(
    state: GroupState,
    number: int,
    ledger_id: bytes = bytes(32),
    next_epoch: bytes = bytes(32),
) -> Checkpoint:
    """The checkpoint ``number`` of ``state``, on the genesis's ledger ``ledger_id``,
    handing over to the epoch of digest ``next_epoch`` (zeros: none)."""
    snap = state.snapshot()  # once, for both trees and the state digest
    tree = BalanceTree(state, snap)
    return Checkpoint(
        state.group_id,
        number,
        tree.root,
        len(tree.leaves),
        snapshot_digest(snap),
        state.ledger_height,
        ChainTree(chain_leaves(state, snap, tree)).root,
        ledger_id,
        next_epoch,
    )


@register(51, "signed-checkpoint")
@dataclass(frozen=True)
class SignedCheckpoint(Wire):
    checkpoint: Checkpoint = wf(Obj(Checkpoint))
    signature: bytes = wf(WALLET_SIGNATURE)
    """The wallet key's: Ed25519 (64 bytes) over ``signing_message``, or on an EVM ledger
    FROST(secp256k1) (65 bytes) over the chain message (``proto.evm_wallet``)."""

    def verify(self, wallet_key: bytes) -> None:
        """Raise ``InvalidSignature`` unless the wallet key signed this checkpoint (an
        Ed25519 key its signing message; a secp256k1 key its chain message)."""
        c = self.checkpoint
        if len(wallet_key) == SIGNATURE_SIZE // 2:
            signing.verify(wallet_key, self.signature, CHECKPOINT_DOMAIN, c.group_id, c.encode())
            return
        try:
            message = c.message_for(wallet_key)
        except ValueError as exc:
            raise InvalidSignature("not a wallet key") from exc
        if not SECP256K1.verify(wallet_key, message, self.signature):
            raise InvalidSignature("checkpoint signature does not verify")

    def balance_of(self, proof: BalanceProof, member: bytes) -> BalanceLeaf:
        """The member's proven balances under this checkpoint (``InvalidProof`` if not)."""
        leaf = proof.verify(self.checkpoint.balances_root, self.checkpoint.members)
        if leaf.member != member:
            raise InvalidProof("the proof is for another member")
        return leaf


def verify_member_balance(
    signed: SignedCheckpoint, proof: BalanceProof, member: bytes, wallet_key: bytes
) -> BalanceLeaf:
    """Both checks a ledger makes: the wallet signed the checkpoint, and the proof shows the
    member's balances under it. Raises ``InvalidSignature`` or ``InvalidProof``."""
    signed.verify(wallet_key)
    return signed.balance_of(proof, member)


__all__ = [
    "Checkpoint",
    "InvalidProof",
    "InvalidSignature",
    "SignedCheckpoint",
    "checkpoint_of",
    "verify_member_balance",
]
