"""A checkpoint of a group whose wallet is on an EVM chain: one FROST(secp256k1) signature
over the contract's checkpoint message, which binds the chain, the contract, the wallet and
the digest of the whole checkpoint (``proto.evm_wallet``, ``Checkpoint.message_for``). The
bytes are checked against the contract itself in ``tests/evm``."""

from __future__ import annotations

import dataclasses

import pytest

from devnet.evm_group import FrostGroup
from proto.checkpoint import SignedCheckpoint, checkpoint_of
from proto.errors import InvalidSignature
from proto.evm_wallet import evm_binding, evm_ledger_id, wallet_id
from proto.state import GroupState
from tests.support import key, pub

CONTRACT = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
LEDGER = evm_ledger_id(31337, CONTRACT)


def state() -> GroupState:
    s = GroupState(b"\x07" * 32, ("ETH", "USD"))
    for i in range(3):
        s.admit(pub(key(1, i)), evm_account=bytes([i + 1]) * 20)
        s.deposit(pub(key(1, i)), "USD", 10 + i)
    return s


def test_the_ledger_id_is_the_chain_and_the_contract() -> None:
    assert evm_binding(LEDGER) == (31337, CONTRACT)
    for bad in ((0, CONTRACT), (2**96, CONTRACT), (1, CONTRACT[:19])):
        with pytest.raises(ValueError):
            evm_ledger_id(*bad)


def test_one_signature_over_the_chain_message_verifies_and_binds_everything() -> None:
    group = FrostGroup(5)
    cp = checkpoint_of(state(), 7, LEDGER)
    message = cp.message_for(group.key)
    assert message != cp.signing_message() and cp.body() in message
    assert wallet_id(cp.group_id, group.key) in message
    signed = SignedCheckpoint(cp, group.signature(message))
    signed.verify(group.key)
    for changed in (
        dataclasses.replace(cp, ledger_id=evm_ledger_id(1, CONTRACT)),  # another chain
        dataclasses.replace(cp, ledger_id=evm_ledger_id(31337, bytes(20))),  # another contract
        dataclasses.replace(cp, state_digest=bytes(32)),  # only in the body's digest
        dataclasses.replace(cp, chain_root=bytes(32)),
        dataclasses.replace(cp, number=8),
    ):
        with pytest.raises(InvalidSignature):
            SignedCheckpoint(changed, signed.signature).verify(group.key)
    with pytest.raises(InvalidSignature):
        signed.verify(FrostGroup(6).key)  # another wallet key
    with pytest.raises(InvalidSignature):  # an Ed25519-sized signature under this key
        SignedCheckpoint(cp, signed.signature[:64]).verify(group.key)


def test_an_ed25519_wallet_signs_the_signing_message_as_before() -> None:
    cp = checkpoint_of(state(), 7, b"\x01" * 32)
    wallet = b"\x02" * 32
    assert cp.message_for(wallet) == cp.signing_message()
    with pytest.raises(InvalidSignature):  # a secp256k1-sized signature under this key
        SignedCheckpoint(cp, bytes(65)).verify(pub(key(1, 0)))
