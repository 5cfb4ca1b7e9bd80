"""A premature revoke on an EVM chain and its crawl back, built offline: a group whose
wallet key is FROST(secp256k1) signs two checkpoints, the cheat's account signs a
``revoke`` under the older one and a notary's account a ``crawlBack`` under the newer one,
both as raw EIP-1559 transactions to the group wallet contract, encoded by eth_abi as
web3 encodes them. The evidence tests and the fuzz target tamper with it; the notary test
on anvil (``tests/integration/test_notary_evm.py``) checks the same evidence from a real
chain. Seeded: never for real money."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from nacl.signing import SigningKey
from web3 import Web3

from devnet.evm_group import FrostGroup
from node.evm.signatures import leaf_args, signature_args
from proto.admission import sign_join
from proto.chain_leaf import ChainTree, chain_leaves
from proto.checkpoint import Checkpoint, checkpoint_of
from proto.evidence import EvmRevokeEvidence, sign_evidence
from proto.evm_evidence import CRAWL_BACK_ARGS, CRAWL_BACK_SELECTOR, REVOKE_ARGS, REVOKE_SELECTOR
from proto.evm_wallet import evm_ledger_id, wallet_id
from proto.frost.suite import SECP256K1
from proto.genesis import AdmissionPolicy, Genesis, terms_hash
from proto.merkle import BalanceTree
from proto.state import GroupState
from tests.support import key, make_group, pub

CHAIN_ID = 31337
CONTRACT = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
LEDGER = evm_ledger_id(CHAIN_ID, CONTRACT)
TOKENS = (bytes(20), b"\x11" * 20)  # ETH, USD
FEE = 100
TERMS = "Members settle disputes in the group's chat; a premature revoke forfeits its fee."


def evm_account(seed: object, name: str) -> Any:
    return Account.from_key(hashlib.sha256(f"evm {seed} {name}".encode()).digest())


def account_bytes(account: Any) -> bytes:
    return bytes.fromhex(account.address[2:])


@dataclass
class EvmCheat:
    genesis: Genesis
    group: FrostGroup
    cheat: SigningKey
    cheat_account: Any
    notary: SigningKey
    notary_account: Any
    stale: GroupState
    newer: GroupState
    evidence: EvmRevokeEvidence

    @property
    def wallet(self) -> bytes:
        return wallet_id(self.genesis.group_id(), self.genesis.wallet_key)

    def exit_args(self, state: GroupState, number: int, member: bytes) -> list[Any]:
        """``revoke``'s arguments after the wallet id: ``member``'s leaf under a checkpoint
        of ``state`` signed by the group."""
        cp = checkpoint_of(state, number, LEDGER)
        return self.exit_args_of(
            cp, self.group.signature(cp.message_for(self.group.key)), state, member
        )

    def exit_args_of(
        self, cp: Checkpoint, signature: bytes, state: GroupState, member: bytes
    ) -> list[Any]:
        snap = state.snapshot()
        proof = ChainTree(chain_leaves(state, snap, BalanceTree(state, snap))).proof(member)
        return [
            cp.chain_args(),
            signature_args(signature),
            leaf_args(proof.leaf),
            proof.index,
            list(proof.path),
        ]

    def transaction(
        self,
        account: Any,
        function: str,
        args: list[Any],
        data: bytes | None = None,
        **fields: Any,
    ) -> bytes:
        """A raw signed EIP-1559 call of the wallet contract (``data``: calldata as given;
        ``fields``: transaction fields to change)."""
        types, selector = (
            (REVOKE_ARGS, REVOKE_SELECTOR)
            if function == "revoke"
            else (CRAWL_BACK_ARGS, CRAWL_BACK_SELECTOR)
        )
        tx = {
            "type": 2,
            "chainId": CHAIN_ID,
            "nonce": 0,
            "to": Web3.to_checksum_address(CONTRACT),
            "value": FEE if function == "revoke" else 0,
            "data": data if data is not None else selector + encode(types, args),
            "gas": 400_000,
            "maxFeePerGas": 2 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            **fields,
        }
        return bytes(account.sign_transaction(tx).raw_transaction)

    def revoke(self, state: GroupState, number: int, member: bytes, account: Any) -> bytes:
        return self.transaction(
            account, "revoke", [self.wallet, *self.exit_args(state, number, member)]
        )

    def crawl_back(self, state: GroupState, number: int, member: bytes, account: Any) -> bytes:
        claimed = list(self.stale_amounts(member))
        args = [self.wallet, claimed, *self.exit_args(state, number, member)]
        return self.transaction(account, "crawlBack", args)

    def stale_amounts(self, member: bytes) -> tuple[int, ...]:
        return tuple(self.stale.accounts[member].balances.get(a, 0) for a in self.genesis.assets)

    def report(
        self, revoke: bytes, crawl: bytes, heights: tuple[int, int] = (10, 12)
    ) -> EvmRevokeEvidence:
        unsigned = EvmRevokeEvidence(
            bytes(32), self.genesis.group_id(), revoke, heights[0], crawl, heights[1], bytes(64)
        )
        return sign_evidence(self.notary, unsigned)


def evm_genesis(seed: object, wallet_key: bytes, ledger: bytes = LEDGER) -> Genesis:
    group = make_group(seed=seed, stewards=4, members=0, funding=0)
    return Genesis(
        name=f"evm cheat {seed}",
        stewards=tuple(pub(k) for k in group.stewards),
        threshold=group.committee.quorum,
        wallet_key=wallet_key,
        assets=("ETH", "USD"),
        ledger_id=ledger,
        challenge_window=240,
        revoke_fee=FEE,
        checkpoint_interval=1,
        terms_hash=terms_hash(TERMS),
        admission=AdmissionPolicy(0, 0, (), 0, 0),
        wallet_suite=SECP256K1.name,
        evm_tokens=TOKENS,
        steward_accounts=tuple(bytes([i + 1]) * 20 for i in range(4)),
    )


def evm_cheat(seed: int = 1) -> EvmCheat:
    """The cheat held 500 USD at checkpoint 3 and 200 at checkpoint 5; it revoked with 3,
    the notary crawled back with 5."""
    group = FrostGroup(seed)
    genesis = evm_genesis(seed, group.key)
    cheat, notary = key(seed, "cheat"), key(seed, "notary")
    cheat_account, notary_account = evm_account(seed, "cheat"), evm_account(seed, "notary")

    def state_with(usd: int) -> GroupState:
        state = genesis.founding_state()
        for who, account in ((cheat, cheat_account), (notary, notary_account)):
            state.admit(pub(who), evm_account=account_bytes(account))
        state.deposit(pub(cheat), "USD", usd)
        state.deposit(pub(notary), "USD", 1000 - usd)
        return state

    stale, newer = state_with(500), state_with(200)
    made = EvmCheat(
        genesis, group, cheat, cheat_account, notary, notary_account, stale, newer, None
    )  # type: ignore[arg-type]
    revoke = made.revoke(stale, 3, pub(cheat), cheat_account)
    crawl = made.crawl_back(newer, 5, pub(cheat), notary_account)
    made.evidence = made.report(revoke, crawl)
    return made


def cheat_join(made: EvmCheat) -> Any:
    return sign_join(
        made.cheat,
        made.genesis.group_id(),
        made.genesis.terms_hash,
        evm_account=account_bytes(made.cheat_account),
        handle="cheat",
    )
