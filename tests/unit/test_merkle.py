"""Merkle balance commitments: every member's proof verifies alone; nothing else does."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proto.codec import decode
from proto.errors import InvalidProof
from proto.merkle import BalanceProof, BalanceTree, merkle_root
from proto.state import GroupState
from tests.support import key, pub

GROUP = b"\x07" * 32


def state_with(n: int, seed: int) -> GroupState:
    state = GroupState(GROUP, ("BTC", "USD"))
    for i in range(n):
        member = pub(key(seed, i))
        state.admit(member, handle=f"member{i}" if i % 4 else "")
        if i % 3:
            state.deposit(member, "USD", 100 + i)
        if i % 2:
            state.deposit(member, "BTC", 7 * i + 1)
    return state


@given(st.integers(1, 70), st.integers(0, 1000))
def test_every_members_proof_verifies_against_the_root_alone(n: int, seed: int) -> None:
    state = state_with(n, seed)
    tree = BalanceTree(state)
    for member in state.accounts:
        proof = decode(tree.proof(member).encode(), BalanceProof)
        leaf = proof.verify(tree.root)
        assert leaf.member == member and leaf.handle == state.accounts[member].handle
        assert leaf.balance("USD") == state.balance(member, "USD")
        assert leaf.balance("BTC") == state.balance(member, "BTC")


def test_a_proof_fails_against_another_root_or_when_altered() -> None:
    state = state_with(9, 1)
    tree = BalanceTree(state)
    member = sorted(state.accounts)[4]
    proof = tree.proof(member)
    other = state.copy()
    other.deposit(member, "USD", 1)
    with pytest.raises(InvalidProof):
        proof.verify(BalanceTree(other).root)
    inflated = BalanceProof(
        type(proof.leaf)(
            member,
            tuple(type(b)(b.asset, b.amount + 1) for b in proof.leaf.balances),
            proof.leaf.history,
        ),
        proof.index,
        proof.size,
        proof.path,
    )
    with pytest.raises(InvalidProof):
        inflated.verify(tree.root)
    for index, size, path in [
        (proof.index + 1, proof.size, proof.path),
        (proof.index, proof.size, proof.path[:-1]),
        (proof.index, proof.size, (*proof.path, proof.path[0])),
        (proof.size, proof.size, proof.path),
    ]:
        with pytest.raises(InvalidProof):
            BalanceProof(proof.leaf, index, size, path).verify(tree.root)
    with pytest.raises(InvalidProof, match="leaves"):
        proof.verify(tree.root, size=proof.size + 1)
    assert proof.verify(tree.root, size=9) == proof.leaf


def test_root_matches_rfc9162_for_known_shapes() -> None:
    def h(b: bytes) -> bytes:
        return hashlib.sha256(b).digest()

    assert merkle_root([]) == h(b"")
    assert merkle_root([b"a"]) == h(b"\x00a")
    ab = h(b"\x01" + h(b"\x00a") + h(b"\x00b"))
    assert merkle_root([b"a", b"b"]) == ab
    assert merkle_root([b"a", b"b", b"c"]) == h(b"\x01" + ab + h(b"\x00c"))


def test_a_leaf_renamed_to_another_handle_does_not_verify() -> None:
    """A prequal badge states its member's handle under the group's signature (the leaf
    is in the checkpoint's balance tree): nobody can show it under another name."""
    state = state_with(9, 2)
    tree = BalanceTree(state)
    member = next(m for m, a in sorted(state.accounts.items()) if a.handle)
    proof = tree.proof(member)
    assert proof.verify(tree.root).handle == state.accounts[member].handle
    for name in ("mallory", ""):
        renamed = BalanceProof(
            replace(proof.leaf, handle=name), proof.index, proof.size, proof.path
        )
        with pytest.raises(InvalidProof):
            renamed.verify(tree.root)
