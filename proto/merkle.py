"""Merkle commitments over a state's balances, with compact proofs of one member's.

The tree is RFC 9162's (Certificate Transparency v2): leaf hash = SHA-256(0x00 || leaf),
node hash = SHA-256(0x01 || left || right), a tree of n leaves splits at the largest power
of two below n, and the empty tree's root is SHA-256 of nothing. The leaves are the
canonical encodings of ``BalanceLeaf`` (member id, its history, and what a revoke pays
it: its balances less what the S&L pit keeps back, ``GroupState.revocable``), sorted by
member id, one per admitted member.

A ``BalanceProof`` (leaf, index, tree size, audit path) verifies alone against a root:
that is what a checkpoint carries and what the ledger checks on a revoke. Invariant: at
most one leaf verifies per (root, index, size), and leaves are sorted by member, so a
proof fixes one balance per member.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from proto.codec import ListOf, Obj, UInt, Wire, register, wf
from proto.errors import InvalidProof
from proto.kinds import DIGEST, HANDLE_OR_NONE, MAX_ASSETS, MEMBER_ID
from proto.state import AssetBalance, GroupState, History, StateSnapshot, by_asset

MAX_PROOF_DEPTH = 64


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(root_of_hashes(hashes[:k]), root_of_hashes(hashes[k:]))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    return root_of_hashes([leaf_hash(x) for x in leaves])


def audit_path(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 9162 PATH(index, D[n]) over leaf hashes, nearest sibling first."""
    n = len(hashes)
    if n <= 1:
        return []
    k = _split(n)
    if index < k:
        return [*audit_path(hashes[:k], index), root_of_hashes(hashes[k:])]
    return [*audit_path(hashes[k:], index - k), root_of_hashes(hashes[:k])]


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root that ``path`` implies, or ``InvalidProof``."""
    if not 0 <= index < size:
        raise InvalidProof("leaf index outside the tree")
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in path:
        if sn == 0:
            raise InvalidProof("audit path longer than the tree")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("audit path shorter than the tree")
    return r


@register(30, "balance-leaf")
@dataclass(frozen=True)
class BalanceLeaf(Wire):
    """One member's leaf: its balances (what the ledger pays on a revoke: what it holds,
    less what the S&L pit keeps back for its loans and offers), its history and its handle
    in the group ("" for none): what a prequal badge states, under the group's signature."""

    member: bytes = wf(MEMBER_ID)
    balances: tuple[AssetBalance, ...] = wf(
        ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)
    )
    history: History = wf(Obj(History))
    handle: str = wf(HANDLE_OR_NONE, "")

    def balance(self, asset: str) -> int:
        return next((b.amount for b in self.balances if b.asset == asset), 0)


@register(31, "balance-proof")
@dataclass(frozen=True)
class BalanceProof(Wire):
    leaf: BalanceLeaf = wf(Obj(BalanceLeaf))
    index: int = wf(UInt(32))
    size: int = wf(UInt(32, minimum=1))
    path: tuple[bytes, ...] = wf(ListOf(DIGEST, max_items=MAX_PROOF_DEPTH))

    def verify(self, root: bytes, size: int | None = None) -> BalanceLeaf:
        """Return the proven leaf, or raise ``InvalidProof`` if it is not under ``root``.

        The audit path proves membership; it does not pin the tree size (trees of 9 and 10
        leaves share paths). Whoever holds the commitment's leaf count (a checkpoint does)
        passes it as ``size``.
        """
        if size is not None and size != self.size:
            raise InvalidProof(f"proof is for a tree of {self.size} leaves, not {size}")
        if root_from_path(self.leaf.encode(), self.index, self.size, self.path) != root:
            raise InvalidProof("balance proof does not lead to the root")
        return self.leaf


class BalanceTree:
    """The balance leaves of a state, their root and proofs."""

    def __init__(self, state: GroupState, snapshot: StateSnapshot | None = None) -> None:
        snap = snapshot if snapshot is not None else state.snapshot()
        self.members = [a.member for a in snap.accounts]
        kept_back = state.revocable()
        self.leaves = [
            BalanceLeaf(a.member, kept_back.get(a.member, a.balances), a.history, a.handle)
            for a in snap.accounts
        ]
        self.hashes = [leaf_hash(leaf.encode()) for leaf in self.leaves]
        self.root = root_of_hashes(self.hashes)
        self._index = {m: i for i, m in enumerate(self.members)}

    def proof(self, member: bytes) -> BalanceProof:
        try:
            i = self._index[member]
        except KeyError as exc:
            raise InvalidProof("no such member in this state") from exc
        return BalanceProof(self.leaves[i], i, len(self.leaves), tuple(audit_path(self.hashes, i)))
