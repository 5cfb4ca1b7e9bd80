"""The checkpoint leaf a chain can read: one ABI-encoded leaf per member, in a tree beside
the balance tree (``proto.merkle``).

Why a second leaf, not one format for both ledgers: the balance leaf carries the member's
whole history (``History``: tenure, orders, volume, revokes), which prequal badges state and
other groups read; a contract cannot parse it for a sane gas cost, and needs only what it
pays and to whom. So a checkpoint commits to both trees (``Checkpoint.chain_root``), over
the same members in the same order (sorted by member id), and a chain leaf binds its
balance leaf's history by digest. The devnet ledger reads the balance tree, an EVM chain the
chain tree; one signature over the checkpoint covers both.

A chain leaf is ``abi.encode((bytes32 member, address account, bytes32 history,
uint256[] amounts))``, the contract's ``Leaf``: the member id, the EVM account its revoke
is sent from and paid to (bound in the member's signed join; zero for a member that named
none, which no revoke can be sent from), the SHA-256 of the member's ``History`` encoding,
and one amount per asset of the genesis, in the genesis's asset order (sorted: an EVM
wallet opens with its assets in that order). The tree is RFC 9162's
(SHA-256, 0x00/0x01 prefixes), as the contract's ``_included`` checks it.

Invariants: ``ChainLeaf.decode`` takes only the canonical encoding (re-encoding gives the
same bytes), so one leaf has one hash; every amount fits the group's 64-bit balances.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from proto.codec import Bytes, ListOf, UInt, Wire, register, wf
from proto.errors import InvalidProof
from proto.kinds import DIGEST, EVM_ACCOUNT_SIZE, MAX_ASSETS
from proto.merkle import (
    MAX_PROOF_DEPTH,
    BalanceTree,
    audit_path,
    leaf_hash,
    root_from_path,
    root_of_hashes,
)
from proto.state import GroupState, History, StateSnapshot

LEAF_TYPE = "(bytes32,address,bytes32,uint256[])"
ACCOUNT_SIZE = EVM_ACCOUNT_SIZE
NO_ACCOUNT = bytes(ACCOUNT_SIZE)
MAX_AMOUNT = 2**64 - 1
MAX_LEAF_ASSETS = MAX_ASSETS
"""As many as a group may have (an EVM wallet takes at most 16: ``GroupWallet.sol``)."""
WORD = 32
_HEAD = (0x20).to_bytes(WORD, "big")  # the offset of the (dynamic) tuple
_AMOUNTS_AT = (4 * WORD).to_bytes(WORD, "big")  # the array's offset inside the tuple


def history_digest(history: History) -> bytes:
    return hashlib.sha256(history.encode()).digest()


@dataclass(frozen=True)
class ChainLeaf:
    member: bytes
    account: bytes
    history: bytes
    amounts: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.member) != 32 or len(self.history) != 32:
            raise ValueError("a chain leaf's member and history are 32 bytes")
        if len(self.account) != ACCOUNT_SIZE:
            raise ValueError("a chain leaf's account is 20 bytes")
        if not 1 <= len(self.amounts) <= MAX_LEAF_ASSETS:
            raise ValueError(f"a chain leaf has 1 to {MAX_LEAF_ASSETS} amounts")
        if not all(isinstance(a, int) and 0 <= a <= MAX_AMOUNT for a in self.amounts):
            raise ValueError("a chain leaf's amounts are 64-bit balances")

    def encode(self) -> bytes:
        """``abi.encode(leaf)``, written out (the layout is fixed; tests check it against
        eth_abi and the contract)."""
        return b"".join(
            (
                _HEAD,
                self.member,
                bytes(WORD - ACCOUNT_SIZE) + self.account,
                self.history,
                _AMOUNTS_AT,
                len(self.amounts).to_bytes(WORD, "big"),
                *(a.to_bytes(WORD, "big") for a in self.amounts),
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> ChainLeaf:
        """The leaf of a canonical encoding; ``ValueError`` for anything else."""
        words = [data[i : i + WORD] for i in range(0, len(data), WORD)]
        if len(data) % WORD or len(words) < 7:
            raise ValueError("not a chain leaf: wrong length")
        count = int.from_bytes(words[5], "big")
        if count > MAX_LEAF_ASSETS or len(words) != 6 + count:
            raise ValueError("not a chain leaf: wrong amount count")
        leaf = cls(
            words[1],
            words[2][WORD - ACCOUNT_SIZE :],
            words[3],
            tuple(int.from_bytes(w, "big") for w in words[6:]),
        )
        if leaf.encode() != data:
            raise ValueError("not the canonical encoding of a chain leaf")
        return leaf


@dataclass(frozen=True)
class ChainProof:
    """One member's chain leaf, its index and the tree size, and the audit path: what a
    revoke or a crawl back gives the contract."""

    leaf: ChainLeaf
    index: int
    size: int
    path: tuple[bytes, ...]

    def verify(self, root: bytes, size: int) -> ChainLeaf:
        """The proven leaf, or ``InvalidProof``; ``size`` is the checkpoint's leaf count."""
        if size != self.size or len(self.path) > MAX_PROOF_DEPTH:
            raise InvalidProof(f"proof is for a tree of {self.size} leaves, not {size}")
        if root_from_path(self.leaf.encode(), self.index, self.size, self.path) != root:
            raise InvalidProof("chain proof does not lead to the root")
        return self.leaf


@register(32, "chain-proof")
@dataclass(frozen=True)
class ChainProofRecord(Wire):
    """A ``ChainProof`` as a node stores it beside its receipt (the leaf ABI-encoded)."""

    leaf: bytes = wf(Bytes(max_size=WORD * (6 + MAX_LEAF_ASSETS)))
    index: int = wf(UInt(32))
    size: int = wf(UInt(32, minimum=1))
    path: tuple[bytes, ...] = wf(ListOf(DIGEST, max_items=MAX_PROOF_DEPTH))

    @classmethod
    def of(cls, proof: ChainProof) -> ChainProofRecord:
        return cls(proof.leaf.encode(), proof.index, proof.size, proof.path)

    def proof(self) -> ChainProof:
        """The proof (``ValueError`` if the leaf is not a canonical chain leaf)."""
        return ChainProof(ChainLeaf.decode(self.leaf), self.index, self.size, self.path)


def amounts_in_order(balances: Mapping[str, int], assets: Sequence[str]) -> tuple[int, ...]:
    """One amount per genesis asset, in the genesis's order (an asset not held is 0)."""
    return tuple(int(balances.get(asset, 0)) for asset in assets)


def chain_leaves(
    state: GroupState, snapshot: StateSnapshot, balances: BalanceTree
) -> list[ChainLeaf]:
    """The chain leaves of a state: one per balance leaf, in its order, paying what the
    balance leaf pays."""
    accounts = {a.member: a.evm_account for a in snapshot.accounts}
    return [
        ChainLeaf(
            leaf.member,
            accounts[leaf.member] or NO_ACCOUNT,
            history_digest(leaf.history),
            amounts_in_order({b.asset: b.amount for b in leaf.balances}, state.assets),
        )
        for leaf in balances.leaves
    ]


class ChainTree:
    """The chain leaves of a checkpoint's members (in the balance tree's order), their root
    and proofs."""

    def __init__(self, leaves: Sequence[ChainLeaf]) -> None:
        members = [leaf.member for leaf in leaves]
        if members != sorted(set(members)):
            raise ValueError("chain leaves are one per member, sorted by member id")
        self.leaves = list(leaves)
        self.hashes = [leaf_hash(leaf.encode()) for leaf in self.leaves]
        self.root = root_of_hashes(self.hashes)
        self._index = {m: i for i, m in enumerate(members)}

    def proof(self, member: bytes) -> ChainProof:
        try:
            i = self._index[member]
        except KeyError as exc:
            raise InvalidProof("no such member in this tree") from exc
        return ChainProof(self.leaves[i], i, len(self.leaves), tuple(audit_path(self.hashes, i)))


__all__ = [
    "ACCOUNT_SIZE",
    "NO_ACCOUNT",
    "ChainLeaf",
    "ChainProof",
    "ChainProofRecord",
    "ChainTree",
    "amounts_in_order",
    "chain_leaves",
    "history_digest",
]
