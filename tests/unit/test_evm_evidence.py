"""Revoke evidence on an EVM chain (``proto.evm_evidence``, ``proto.evm_tx``), offline: the
raw transactions are read as a chain reads them (checked against eth_account, which signs
them), and every lie a reporter with a real key could sign is refused with the link it
broke. The same evidence from a real chain: ``tests/integration/test_notary_evm.py``."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_utils.abi import function_abi_to_4byte_selector
from web3 import Web3

from devnet.evm_group import FrostGroup
from node.evm.contracts import contract
from proto.checkpoint import checkpoint_of
from proto.errors import DecodeError
from proto.evidence import (
    BadEvidence,
    Evidence,
    read_bundle,
    read_evidence,
    sign_bundle,
    sign_evidence,
)
from proto.evm_evidence import (
    CHECKPOINT,
    CRAWL_BACK_SELECTOR,
    LEAF,
    REVOKE_SELECTOR,
    SIGNATURE_ARGS,
    read_call,
)
from proto.evm_tx import read_transaction, rlp_decode, rlp_encode
from proto.evm_wallet import evm_ledger_id, keccak256
from proto.frost.suite import ED25519, SECP256K1
from proto.genesis import Genesis
from tests.evm_cheat import (
    CHAIN_ID,
    CONTRACT,
    TERMS,
    EvmCheat,
    account_bytes,
    cheat_join,
    evm_account,
    evm_cheat,
)
from tests.support import key, pub

TO = Web3.to_checksum_address(CONTRACT)


@pytest.fixture(scope="module")
def made() -> EvmCheat:
    return evm_cheat(1)


# -- the transactions ------------------------------------------------------------------------
def test_every_transaction_kind_reads_as_eth_account_signed_it() -> None:
    sender = evm_account(1, "sender")
    base = {"nonce": 3, "gas": 100_000, "to": TO, "value": 5, "data": b"\x01" * 300}
    access = [{"address": TO, "storageKeys": ["0x" + "00" * 32]}]
    kinds = [
        ({**base, "gasPrice": 10**9, "chainId": CHAIN_ID}, 0, CHAIN_ID),  # EIP-155
        ({**base, "gasPrice": 10**9}, 0, None),  # before EIP-155: any chain
        ({**base, "type": 1, "gasPrice": 10**9, "chainId": 1, "accessList": access}, 1, 1),
        (
            {**base, "type": 2, "maxFeePerGas": 2, "maxPriorityFeePerGas": 1, "chainId": 5},
            2,
            5,
        ),
    ]
    for tx, kind, chain in kinds:
        signed = sender.sign_transaction(tx)
        read = read_transaction(bytes(signed.raw_transaction))
        assert (read.kind, read.chain_id, read.nonce, read.value) == (kind, chain, 3, 5)
        assert read.sender == account_bytes(sender) and read.to == CONTRACT
        assert read.data == base["data"] and read.hash == bytes(signed.hash)


def test_what_no_chain_includes_is_not_read(made: EvmCheat) -> None:
    raw = made.evidence.revoke
    fields: Any = rlp_decode(raw[1:])
    n = SECP256K1.order

    def typed(changed: list[Any]) -> bytes:
        return raw[:1] + rlp_encode(changed)

    s = int.from_bytes(fields[11], "big")
    high_s = [
        *fields[:9],
        b"\x01" if fields[9] == b"" else b"",
        fields[10],
        (n - s).to_bytes(32, "big"),
    ]
    cases = {
        "bytes after the item": raw + b"\x00",
        "a leading zero": typed([b"\x00" + fields[0], *fields[1:]]),
        "a length with a leading zero": raw[:1] + bytes([0xF9, 0x00]) + raw[2:],
        "high s": typed(high_s),
        "a creation": typed([*fields[:5], b"", *fields[6:]]),
        "too few fields": typed(fields[:-1]),
        "a blob transaction": b"\x03" + raw[1:],
        "nested too deep": typed([*fields[:8], [[[[b""]]]], *fields[9:]]),
        "empty": b"",
        "too large": raw[:1] + bytes(20_000),
    }
    for name, bad in cases.items():
        with pytest.raises(ValueError):
            read_transaction(bad)
        assert name  # each case named for a failing run's report


def test_the_selectors_are_the_contracts() -> None:
    abi = {f["name"]: f for f in contract("GroupWallet")["abi"] if f["type"] == "function"}
    assert function_abi_to_4byte_selector(abi["revoke"]) == REVOKE_SELECTOR
    assert function_abi_to_4byte_selector(abi["crawlBack"]) == CRAWL_BACK_SELECTOR


def test_a_revoke_encoded_in_an_unusual_valid_way_still_reads(made: EvmCheat) -> None:
    """The contract follows offsets: tails in another order and bytes after the last are a
    revoke it takes, so the evidence reader takes them too."""
    canonical = read_transaction(made.evidence.revoke).data
    call = read_call(canonical, REVOKE_SELECTOR)
    cp, sig, leaf, index, path = made.exit_args(made.stale, 3, pub(made.cheat))
    leaf_tail = encode([LEAF], [leaf])[32:]
    path_tail = encode(["bytes32[]"], [path])[32:]
    head_size = 32 * 11
    head = (
        made.wallet
        + encode([CHECKPOINT, SIGNATURE_ARGS], [cp, sig])
        + encode(["uint256"] * 3, [head_size + len(path_tail), index, head_size])
    )
    unusual = REVOKE_SELECTOR + head + path_tail + leaf_tail + b"\x07" * 32
    assert unusual != canonical
    assert read_call(unusual, REVOKE_SELECTOR).proof == call.proof
    revoke = made.transaction(made.cheat_account, "revoke", [], data=unusual)
    assert made.report(revoke, made.evidence.crawl_back).verify(made.genesis).premature


# -- the evidence ----------------------------------------------------------------------------
def test_evidence_of_a_premature_revoke_verifies_and_says_what_happened(made: EvmCheat) -> None:
    finding = made.evidence.verify(made.genesis)
    assert finding.on_chain and finding.premature
    assert finding.revoker == pub(made.cheat) == made.evidence.revoker
    assert finding.notary == account_bytes(made.notary_account)
    assert finding.reporter == pub(made.notary)
    assert (finding.stale_number, finding.newer_number) == (3, 5)
    assert finding.stale == {"USD": 500} and finding.newer == {"USD": 200}
    assert finding.revoke_tx == keccak256(made.evidence.revoke) == made.evidence.revoke_id
    bundle = sign_bundle(key(1, "exporter"), made.genesis, TERMS, cheat_join(made), made.evidence)
    assert read_bundle(bundle.encode()).verify() == finding
    text = bundle.account()
    assert "block 10 of chain 31337" in text and "0x" + finding.revoke_tx.hex() in text
    assert "premature revoke" in text and "500 USD" in text and "200 USD" in text
    honest = made.report(
        made.evidence.revoke, made.crawl_back(made.stale, 4, pub(made.cheat), made.notary_account)
    )
    assert not honest.verify(made.genesis).premature  # corrected, not a cheat


def test_every_lie_a_reporter_signs_is_refused(made: EvmCheat) -> None:
    cheat, notary = pub(made.cheat), pub(made.notary)
    stale, newer = made.stale, made.newer
    e = made.evidence
    stranger = Account.from_key(b"\x01" * 32)

    def refused(evidence: Evidence, why: str, genesis: Genesis | None = None) -> None:
        with pytest.raises(BadEvidence, match=why):
            evidence.verify(genesis or made.genesis)

    def crawl(state: Any, number: int, member: bytes, account: Any = None) -> bytes:
        return made.crawl_back(state, number, member, account or made.notary_account)

    refused(made.report(e.crawl_back, e.revoke), "not a revoke")
    refused(made.report(e.revoke, e.revoke), "not a crawl back")
    other = made.revoke(stale, 3, cheat, stranger)  # sent by an account not the leaf's
    refused(made.report(other, e.crawl_back), "not sent by its leaf's account")
    refused(made.report(e.revoke, crawl(newer, 5, cheat, made.cheat_account)), "the claimant")
    refused(made.report(e.revoke, crawl(newer, 5, notary)), "against someone else")
    refused(made.report(e.revoke, crawl(newer, 3, cheat)), "not newer")
    refused(made.report(e.revoke, e.crawl_back, heights=(12, 10)), "came before")
    # a checkpoint the group's wallet key did not sign, or signed for another chain
    forged = dataclasses.replace(made, group=FrostGroup(99))
    refused(
        made.report(forged.revoke(stale, 3, cheat, made.cheat_account), e.crawl_back),
        "not signed by the group wallet",
    )
    cp = checkpoint_of(stale, 3, evm_ledger_id(1, CONTRACT))
    signature = made.group.signature(cp.message_for(made.group.key))
    args = [made.wallet, *made.exit_args_of(cp, signature, stale, cheat)]
    elsewhere = made.transaction(made.cheat_account, "revoke", args)
    refused(made.report(elsewhere, e.crawl_back), "not signed by the group wallet")
    # a leaf that shows more than the checkpoint committed to
    cp_args, sig, leaf, index, path = made.exit_args(stale, 3, cheat)
    richer = (leaf[0], leaf[1], leaf[2], [0, 10**6])
    lie = made.transaction(
        made.cheat_account, "revoke", [made.wallet, cp_args, sig, richer, index, path]
    )
    refused(made.report(lie, e.crawl_back), "proof under the stale checkpoint fails")
    # another wallet, another contract, another chain
    wrong_wallet = made.transaction(
        made.cheat_account, "revoke", [b"\x05" * 32, cp_args, sig, leaf, index, path]
    )
    refused(made.report(wrong_wallet, e.crawl_back), "not on this group's wallet")
    for change in ({"to": Web3.to_checksum_address(b"\x09" * 20)}, {"chainId": 1}):
        moved = made.transaction(
            made.cheat_account, "revoke", [made.wallet, cp_args, sig, leaf, index, path], **change
        )
        refused(made.report(moved, e.crawl_back), "group's chain and contract")
    # evidence of another group, or checked against a group on another ledger
    refused(dataclasses.replace(e, group=bytes(32)), "another group")
    devnet = dataclasses.replace(
        made.genesis,
        wallet_suite=ED25519.name,
        wallet_key=pub(key(1, "w")),
        evm_tokens=(),
        steward_accounts=(),
    )
    refused(e, "not on an EVM chain", devnet)
    # changed after the reporter signed
    refused(dataclasses.replace(e, revoke_height=11), "reporter's signature")


def test_no_single_byte_change_of_the_revoke_is_evidence(made: EvmCheat) -> None:
    """A changed byte anywhere in the revoke's raw transaction, reported and signed again by
    a real reporter, never verifies: the encoding breaks, or the recovered sender is no
    longer the leaf's account, or the calldata no longer proves."""
    raw = made.evidence.revoke
    for i in range(len(raw)):
        altered = bytearray(raw)
        altered[i] ^= 0x01
        evidence = made.report(bytes(altered), made.evidence.crawl_back)
        with pytest.raises(BadEvidence):
            evidence.verify(made.genesis)


def test_evidence_decodes_as_either_kind_and_a_bundle_takes_it(made: EvmCheat) -> None:
    data = made.evidence.encode()
    assert read_evidence(data) == made.evidence
    with pytest.raises(DecodeError):
        read_evidence(data[:-1])
    resigned = sign_evidence(key(1, "other reporter"), made.evidence)
    assert resigned.reporter == pub(key(1, "other reporter"))
    assert resigned.verify(made.genesis).reporter == resigned.reporter
