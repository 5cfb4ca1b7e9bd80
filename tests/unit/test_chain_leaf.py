"""The chain leaf (``proto.chain_leaf``): byte-for-byte the contract's ``abi.encode(Leaf)``
(checked against eth_abi here and against the contract in ``tests/evm``), one encoding per
leaf, proofs that verify alone, the same members and payouts as the balance tree, and the
EVM account bound in the member's signed join."""

from __future__ import annotations

import dataclasses

import pytest
from eth_abi.abi import encode
from hypothesis import given
from hypothesis import strategies as st

from node.evm.signatures import leaf_args
from proto.admission import Admission, Join, apply_admissions, sign_join
from proto.chain_leaf import (
    LEAF_TYPE,
    NO_ACCOUNT,
    ChainLeaf,
    ChainTree,
    chain_leaves,
    history_digest,
)
from proto.checkpoint import checkpoint_of
from proto.codec import decode
from proto.errors import DecodeError, InvalidProof
from proto.merkle import BalanceTree
from proto.state import GroupState
from tests.support import key, pub

GROUP = b"\x07" * 32
TERMS = b"\x05" * 32

leaves = st.builds(
    ChainLeaf,
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=20, max_size=20),
    st.binary(min_size=32, max_size=32),
    st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=16).map(tuple),
)


@given(leaves)
def test_a_leaf_encodes_as_abi_encode_and_decodes_back(leaf: ChainLeaf) -> None:
    raw = leaf.encode()
    assert raw == encode([LEAF_TYPE], [leaf_args(leaf)])
    assert ChainLeaf.decode(raw) == leaf


@given(leaves, st.data())
def test_a_changed_byte_is_refused_or_is_another_leaf(leaf: ChainLeaf, data: st.DataObject) -> None:
    raw = bytearray(leaf.encode())
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    try:
        other = ChainLeaf.decode(bytes(raw))
    except ValueError:
        return
    assert other != leaf and other.encode() == bytes(raw)  # canonical, hence one hash


def test_non_canonical_encodings_are_refused() -> None:
    leaf = ChainLeaf(b"\x01" * 32, b"\x02" * 20, b"\x03" * 32, (5, 6))
    raw = leaf.encode()
    for bad in (
        raw + bytes(32),  # trailing word
        raw[:-1],  # not whole words
        raw[:-32],  # the count says two amounts, one follows
        bytes(31) + b"\x40" + raw[32:],  # another tuple offset
        raw[:64] + b"\x01" + raw[65:],  # junk in the account's padding
        raw[:-32] + (2**64).to_bytes(32, "big"),  # an amount past 64 bits
    ):
        with pytest.raises(ValueError):
            ChainLeaf.decode(bad)
    for fields in (
        {"account": b"\x02" * 19},
        {"member": b"\x01" * 31},
        {"amounts": ()},
        {"amounts": (-1,)},
    ):
        with pytest.raises(ValueError):
            dataclasses.replace(leaf, **fields)


def state_with(n: int, seed: int) -> GroupState:
    state = GroupState(GROUP, ("USD", "BTC"))  # the genesis's order: sorted
    for i in range(n):
        member = pub(key(seed, i))
        state.admit(member, evm_account=bytes([i + 1]) * 20 if i % 2 else b"")
        if i % 3:
            state.deposit(member, "USD", 100 + i)
        if i % 2:
            state.deposit(member, "BTC", 7 * i + 1)
    return state


@given(st.integers(1, 40), st.integers(0, 1000))
def test_chain_leaves_pay_what_balance_leaves_pay_and_prove_alone(n: int, seed: int) -> None:
    state = state_with(n, seed)
    snap = state.snapshot()
    balances = BalanceTree(state, snap)
    tree = ChainTree(chain_leaves(state, snap, balances))
    assert checkpoint_of(state, 1).chain_root == tree.root
    for i, member in enumerate(balances.members):
        proof = tree.proof(member)
        leaf = proof.verify(tree.root, len(balances.leaves))
        assert leaf.member == member and proof.index == i
        balance_leaf = balances.proof(member).leaf
        assert state.assets == ("BTC", "USD")
        assert leaf.amounts == (balance_leaf.balance("BTC"), balance_leaf.balance("USD"))
        assert leaf.history == history_digest(balance_leaf.history)
        assert leaf.account == (state.accounts[member].evm_account or NO_ACCOUNT)
        with pytest.raises(InvalidProof):  # the tree size is the checkpoint's, never the proof's
            proof.verify(tree.root, len(balances.leaves) + 1)
        if n > 1:
            with pytest.raises(InvalidProof):
                dataclasses.replace(proof, index=(i + 1) % n).verify(tree.root, n)


def test_the_account_survives_the_snapshot_and_changes_the_state_digest() -> None:
    state = state_with(3, 1)
    again = GroupState.decode(state.encode())
    assert {m: a.evm_account for m, a in again.accounts.items()} == {
        m: a.evm_account for m, a in state.accounts.items()
    }
    other = state_with(3, 1)
    member = sorted(other.accounts)[0]
    other.accounts[member].evm_account = b"\x09" * 20
    assert other.digest() != state.digest()
    assert checkpoint_of(other, 1).chain_root != checkpoint_of(state, 1).chain_root


def test_the_join_binds_the_evm_account() -> None:
    joiner = key(9, 0)
    account = b"\xaa" * 20
    join = sign_join(joiner, GROUP, TERMS, evm_account=account, handle="joiner")
    assert join.is_valid(GROUP, TERMS)
    assert decode(join.encode(), Join) == join
    # another account under the same signature is not the member's join
    assert not dataclasses.replace(join, evm_account=b"\xbb" * 20).is_valid(GROUP, TERMS)
    assert not dataclasses.replace(join, evm_account=b"").is_valid(GROUP, TERMS)
    with pytest.raises(ValueError):
        dataclasses.replace(join, evm_account=b"\xaa" * 19)
    bad = join.encode().replace(account, b"\xaa" * 19)
    with pytest.raises(DecodeError):
        decode(bad, Join)
    # admitted with the account it signed
    state = GroupState(GROUP, ("USD",))
    apply_admissions(state, [Admission(join.member, (), (join,))], 1, 1)
    assert state.accounts[join.member].evm_account == account
