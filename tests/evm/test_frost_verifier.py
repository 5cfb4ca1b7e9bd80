"""FROST(secp256k1, SHA-256) signatures made by swapnet's Python FROST, checked by the
contract on a real EVM (anvil): valid ones pass, and every tampering the on-chain check is
known to be open to fails: z at or above n, R negated or off the curve, a flipped message
byte, another key, a zero z, a key whose x is not below n. The gas of the check itself is
measured by the contract (``measure``) and must stay within the issue's 10,000."""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3

from devnet.evm_group import FrostGroup
from node.evm.signatures import key_args, signature_args, usable_key
from proto.frost.suite import SECP256K1 as S
from tests.evm.conftest import deploy

N = S.order
P = 2**256 - 2**32 - 977


def frost_sign(message: bytes, seed: int) -> tuple[bytes, bytes]:
    """(wallet key, signature): a 2-of-3 group's FROST signature."""
    group = FrostGroup(seed)
    return group.key, group.signature(message)


@pytest.fixture(scope="module")
def checker(chain: Web3) -> Any:
    return deploy(chain, "FrostSecp256k1Check")


def test_frost_signatures_verify_on_chain_and_within_10000_gas(checker: Any) -> None:
    for seed in range(5):
        message = b"open group %d" % seed + bytes(range(seed * 7))
        key, signature = frost_sign(message, seed)
        assert S.verify(key, message, signature)
        args = (*key_args(key), message, *signature_args(signature))
        assert checker.functions.verify(*args).call()
        ok, gas = checker.functions.measure(*args).call()
        assert ok and gas <= 10_000, gas


def test_tampered_signatures_fail_on_chain(checker: Any) -> None:
    message = b"settle 100 USD to member 7"
    key, signature = frost_sign(message, 42)
    px, parity = key_args(key)
    rx, ry, z = signature_args(signature)
    other_key, _ = frost_sign(message, 43)

    def verify(*args: Any) -> bool:
        result: bool = checker.functions.verify(*args).call()
        return result

    assert verify(px, parity, message, rx, ry, z)
    # z + n fits in a uint256 only when z < 2^256 - n (odds 2^-128); ecrecover works mod n,
    # so the contract refuses every z at or above n
    for high in (N, N + 1, N + (z % (2**256 - N)), 2**256 - 1):
        assert not verify(px, parity, message, rx, ry, high)
    assert not verify(px, parity, message, rx, ry, 0)
    assert not verify(px, parity, message, rx, P - ry, z)  # R negated
    assert not verify(px, parity, message, rx, ry ^ 1, z)  # off the curve
    assert not verify(px, parity, message, P + rx % (2**256 - P), ry, z)  # x at or above p
    assert not verify(px, 1 - parity, message, rx, ry, z)  # the key negated
    assert not verify(px, 2, message, rx, ry, z)
    assert not verify(*key_args(other_key), message, rx, ry, z)
    for i in range(len(message)):
        flipped = message[:i] + bytes([message[i] ^ 1]) + message[i + 1 :]
        assert not verify(px, parity, flipped, rx, ry, z)
    assert not verify(px, parity, message + b"\x00", rx, ry, z)
    assert not verify(N + px % (2**256 - N), parity, message, rx, ry, z)  # key x not below n


def test_keys_the_chain_cannot_check_are_told_apart(checker: Any) -> None:
    key, _ = frost_sign(b"m", 1)
    assert usable_key(key) and checker.functions.usableKey(*key_args(key)).call()
    # a point whose x is at or above n: x = n + k for the first k that is on the curve
    k = next(k for k in range(1, 1000) if S.is_valid_point(b"\x02" + (N + k).to_bytes(32, "big")))
    high = b"\x02" + (N + k).to_bytes(32, "big")
    assert not usable_key(high)
    assert not checker.functions.usableKey(*key_args(high)).call()
    assert not checker.functions.usableKey(5, 0).call()  # x = 5 is on no point
