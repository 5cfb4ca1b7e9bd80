"""The group wallet contract (``node/evm/GroupWallet.sol``) on a real EVM (anvil), driven
from Python with swapnet's FROST(secp256k1) signatures and RFC 9162 trees of ABI leaves:
every rule and refusal of the exit game, deposits of ETH and of ERC-20s (one taking a fee on
transfer), a re-entrant claim account, and the gas of every call (BENCHMARKS.md).

Each test opens wallets of its own (a fresh genesis), so the tests share one chain."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi.abi import encode
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD

from devnet.evm_group import FrostGroup
from node.evm.signatures import leaf_args
from proto.chain_leaf import ChainTree, chain_leaves
from proto.checkpoint import checkpoint_of
from proto.evm_wallet import evm_ledger_id, wallet_id
from proto.merkle import BalanceTree, audit_path, leaf_hash, merkle_root
from proto.state import GroupState
from tests.evm.conftest import deploy, deploy_built

pytestmark = pytest.mark.xdist_group("solc")  # one worker, one run of solc (``builds``)

ETH = "0x" + "00" * 20
WINDOW = 5
FEE = 10**15
LEAF = "(bytes32,address,bytes32,uint256[])"


@pytest.fixture(scope="module")
def wallet_contract(chain: Web3) -> Any:
    return deploy(chain, "GroupWallet")


def selector(w3: Web3, signature: str) -> str:
    return "0x" + w3.keccak(text=signature)[:4].hex().removeprefix("0x")


def refused(w3: Web3, error: str, call: Callable[[], Any]) -> None:
    """``call`` reverts with the custom error ``error`` (its signature, e.g. ``OwnClaim()``)."""
    with pytest.raises(ContractCustomError) as err:
        call()
    data = err.value.data if isinstance(err.value.data, str) else str(err.value.args)
    assert data.startswith(selector(w3, error)), (error, data)


@dataclass
class Opened:
    """An open wallet and the group that holds its key."""

    w3: Web3
    contract: Any
    group: FrostGroup
    id: bytes
    assets: list[str]

    def send(self, fn: Any, sender: str, value: int = 0) -> Any:
        tx = fn.transact({"from": sender, "value": value})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt["status"] == 1
        return receipt

    def checkpoint(self, number: int, leaves: list[tuple[Any, ...]]) -> tuple[Any, Any, Any]:
        """A checkpoint over ``leaves`` signed by the group; the leaves' hashes."""
        raw = [encode([LEAF], [leaf]) for leaf in leaves]
        cp = (number, merkle_root(raw), len(raw), bytes(32))
        message = self.contract.functions.checkpointMessage(self.id, cp).call()
        return cp, self.group.sign(message), [leaf_hash(r) for r in raw]

    def exit_args(self, number: int, leaves: list[tuple[Any, ...]], index: int) -> tuple[Any, ...]:
        cp, sig, hashes = self.checkpoint(number, leaves)
        return (self.id, cp, sig, leaves[index], index, audit_path(hashes, index))

    def settle_args(
        self, member: bytes, number: int, pay_to: str, amounts: list[int]
    ) -> tuple[Any, ...]:
        message = self.contract.functions.settleMessage(
            self.id, member, number, pay_to, amounts
        ).call()
        return (self.id, member, number, pay_to, amounts, self.group.sign(message))


def open_wallet(
    w3: Web3, contract: Any, assets: list[str], seed: int | None = None, genesis: bytes = b""
) -> tuple[Opened, Any]:
    group = FrostGroup(seed if seed is not None else int.from_bytes(os.urandom(4), "big"))
    genesis = genesis or os.urandom(32)
    px, parity = group.key_args
    message = contract.functions.openMessage(genesis, px, parity, WINDOW, FEE, assets).call()
    fn = contract.functions.open(genesis, px, parity, WINDOW, FEE, assets, group.sign(message))
    wid = contract.functions.walletId(genesis, px, parity).call()
    opened = Opened(w3, contract, group, wid, assets)
    return opened, opened.send(fn, w3.eth.accounts[0])


def member_id(n: int) -> bytes:
    return bytes([n]) * 32


def test_open_binds_this_chain_this_contract_and_the_genesis(
    chain: Web3, wallet_contract: Any
) -> None:
    w3, c = chain, wallet_contract
    opened, receipt = open_wallet(w3, c, [ETH])
    assert c.functions.walletOf(opened.id).call()[:4] == [*opened.group.key_args, WINDOW, FEE]
    event = c.events.Opened().process_receipt(receipt)[0]["args"]
    assert event["wallet"] == opened.id
    group = opened.group
    px, parity = group.key_args
    genesis = os.urandom(32)
    good = c.functions.openMessage(genesis, px, parity, WINDOW, FEE, [ETH]).call()
    # the same fields signed for another chain, another contract, another fee: refused
    for other in (
        good.replace(
            w3.eth.chain_id.to_bytes(32, "big"), (w3.eth.chain_id + 1).to_bytes(32, "big")
        ),
        good.replace(bytes.fromhex(c.address[2:].lower()), bytes(20)),
        c.functions.openMessage(genesis, px, parity, WINDOW, FEE + 1, [ETH]).call(),
    ):
        assert other != good
        sig = group.sign(other)
        refused(
            w3,
            "NotWalletKey()",
            lambda s=sig: c.functions.open(genesis, px, parity, WINDOW, FEE, [ETH], s).call(),
        )
    stranger = FrostGroup(99)  # another key cannot open this genesis under our key
    refused(
        w3,
        "NotWalletKey()",
        lambda: c.functions.open(
            genesis, px, parity, WINDOW, FEE, [ETH], stranger.sign(good)
        ).call(),
    )
    sig = group.sign(good)
    opened.send(c.functions.open(genesis, px, parity, WINDOW, FEE, [ETH], sig), w3.eth.accounts[0])
    refused(
        w3,
        "WalletExists()",
        lambda: c.functions.open(genesis, px, parity, WINDOW, FEE, [ETH], sig).call(),
    )
    # another key may open the same genesis: under its own wallet id, so squatting is moot
    assert (
        c.functions.walletId(genesis, *stranger.key_args).call()
        != c.functions.walletId(genesis, px, parity).call()
    )
    fresh = os.urandom(32)
    twice = c.functions.openMessage(fresh, px, parity, WINDOW, FEE, [ETH, ETH]).call()
    refused(
        w3,
        "BadGenesis(string)",
        lambda: c.functions.open(
            fresh, px, parity, WINDOW, FEE, [ETH, ETH], group.sign(twice)
        ).call(),
    )


def test_deposits_count_what_arrived(
    chain: Web3, wallet_contract: Any, built_tests: dict[str, Any]
) -> None:
    w3, c = chain, wallet_contract
    token = deploy_built(w3, built_tests["TestToken"])
    fee_token = deploy_built(w3, built_tests["FeeToken"])
    other = deploy_built(w3, built_tests["TestToken"])
    opened, _ = open_wallet(w3, c, [ETH, token.address, fee_token.address])
    alice = w3.eth.accounts[1]
    for t in (token, fee_token, other):
        opened.send(t.functions.mint(alice, 10_000), alice)
        opened.send(t.functions.approve(c.address, 10_000), alice)
    opened.send(c.functions.depositETH(opened.id, member_id(1)), alice, value=5 * 10**17)
    opened.send(c.functions.deposit(opened.id, member_id(1), token.address, 1000), alice)
    receipt = opened.send(
        c.functions.deposit(opened.id, member_id(1), fee_token.address, 1000), alice
    )
    event = c.events.Deposited().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert event["amount"] == 990 and event["member"] == member_id(1)  # what arrived
    assert c.functions.held(opened.id, fee_token.address).call() == 990
    assert c.functions.held(opened.id, token.address).call() == 1000
    assert c.functions.held(opened.id, ETH).call() == 5 * 10**17
    refused(
        w3,
        "UnknownAsset()",
        lambda: c.functions.deposit(opened.id, member_id(1), other.address, 10).call(
            {"from": alice}
        ),
    )
    refused(
        w3,
        "BadAmount()",
        lambda: c.functions.deposit(opened.id, member_id(1), token.address, 0).call(
            {"from": alice}
        ),
    )
    refused(
        w3,
        "UnknownWallet()",
        lambda: c.functions.depositETH(os.urandom(32), member_id(1)).call(
            {"from": alice, "value": 1}
        ),
    )


def test_a_token_that_returns_nothing_is_deposited_and_paid_out(
    chain: Web3, wallet_contract: Any, built_tests: dict[str, Any]
) -> None:
    w3, c = chain, wallet_contract
    token = deploy_built(w3, built_tests["NoReturnToken"])
    opened, _ = open_wallet(w3, c, [token.address])
    alice, bob = w3.eth.accounts[1], w3.eth.accounts[2]
    opened.send(token.functions.mint(alice, 5000), alice)
    opened.send(token.functions.approve(c.address, 5000), alice)
    opened.send(c.functions.deposit(opened.id, member_id(1), token.address, 3000), alice)
    assert c.functions.held(opened.id, token.address).call() == 3000
    refused(
        w3,
        "WalletInsufficient(address)",
        lambda: c.functions.settle(*opened.settle_args(member_id(1), 1, bob, [3001])).call(),
    )
    opened.send(c.functions.settle(*opened.settle_args(member_id(1), 1, bob, [1200])), bob)
    assert token.functions.balanceOf(bob).call() == 1200
    assert c.functions.held(opened.id, token.address).call() == 1800


def funded(w3: Web3, c: Any, eth: int = 10**18) -> Opened:
    opened, _ = open_wallet(w3, c, [ETH])
    opened.send(c.functions.depositETH(opened.id, member_id(9)), w3.eth.accounts[9], value=eth)
    return opened


def test_settle_pays_a_signed_payout_once(chain: Web3, wallet_contract: Any) -> None:
    w3, c = chain, wallet_contract
    opened = funded(w3, c)
    bob = w3.eth.accounts[2]
    before = w3.eth.get_balance(bob)
    args = opened.settle_args(member_id(2), 3, bob, [10**17])
    opened.send(c.functions.settle(*args), w3.eth.accounts[5])  # anyone may send it
    assert w3.eth.get_balance(bob) == before + 10**17
    assert c.functions.held(opened.id, ETH).call() == 9 * 10**17
    assert c.functions.exitOf(opened.id, member_id(2)).call()[4] == 1  # settled
    refused(w3, "CheckpointUsed()", lambda: c.functions.settle(*args).call())
    forged = (*args[:4], [10**18], args[5])  # the amounts changed, the signature not
    refused(w3, "NotWalletKey()", lambda: c.functions.settle(*forged).call())
    too_much = opened.settle_args(member_id(3), 3, bob, [10**18])
    refused(w3, "WalletInsufficient(address)", lambda: c.functions.settle(*too_much).call())


def test_a_stale_revoke_is_crawled_back_and_its_bond_forfeited(
    chain: Web3, wallet_contract: Any
) -> None:
    w3, c = chain, wallet_contract
    opened = funded(w3, c)
    cheat, notary = w3.eth.accounts[3], w3.eth.accounts[4]
    me = member_id(3)
    old = [(me, cheat, bytes(32), [4 * 10**17]), (member_id(4), notary, bytes(32), [10**17])]
    new = [(me, cheat, bytes(32), [10**17]), (member_id(4), notary, bytes(32), [4 * 10**17])]
    stale = opened.exit_args(1, old, 0)
    newer = (opened.id, [4 * 10**17], *opened.exit_args(2, new, 0)[1:])  # crawl back: the claim
    refused(
        w3,
        "NotLeafAccount()",
        lambda: c.functions.revoke(*stale).call({"from": notary, "value": FEE}),
    )
    refused(
        w3,
        "WrongBond(uint256)",
        lambda: c.functions.revoke(*stale).call({"from": cheat, "value": FEE - 1}),
    )
    receipt = opened.send(c.functions.revoke(*stale), cheat, value=FEE)
    exit_ = c.functions.exitOf(opened.id, me).call()
    assert list(exit_[:5]) == [cheat, FEE, 1, receipt["blockNumber"] + WINDOW, 2]
    refused(
        w3, "ClaimOpen()", lambda: c.functions.revoke(*stale).call({"from": cheat, "value": FEE})
    )
    refused(w3, "OwnClaim()", lambda: c.functions.crawlBack(*newer).call({"from": cheat}))
    not_newer = (opened.id, [4 * 10**17], *stale[1:])
    refused(
        w3, "NotNewer(uint64)", lambda: c.functions.crawlBack(*not_newer).call({"from": notary})
    )
    not_the_claim = (opened.id, [1], *newer[2:])
    refused(
        w3, "NotTheClaim()", lambda: c.functions.crawlBack(*not_the_claim).call({"from": notary})
    )
    refused(
        w3, "WindowOpen(uint64)", lambda: c.functions.finalize(opened.id, me, [4 * 10**17]).call()
    )
    receipt = opened.send(c.functions.crawlBack(*newer), notary)
    event = c.events.CrawledBack().process_receipt(receipt)[0]["args"]
    assert event["forfeited"] == FEE and event["amounts"] == [10**17]
    assert c.functions.walletOf(opened.id).call()[6] == FEE  # the bond stays in the wallet
    w3.provider.make_request("anvil_mine", [WINDOW + 1])  # type: ignore[arg-type]
    late = (opened.id, [10**17], *opened.exit_args(3, new, 0)[1:])
    refused(w3, "WindowClosed(uint64)", lambda: c.functions.crawlBack(*late).call({"from": notary}))
    refused(
        w3, "NotTheClaim()", lambda: c.functions.finalize(opened.id, me, [4 * 10**17]).call()
    )  # the stale amounts: not the claim any more
    before = w3.eth.get_balance(cheat)
    opened.send(c.functions.finalize(opened.id, me, [10**17]), notary)
    assert w3.eth.get_balance(cheat) == before + 10**17  # the newer amount, no bond back
    refused(w3, "NoOpenClaim()", lambda: c.functions.finalize(opened.id, me, [10**17]).call())
    again = opened.exit_args(4, new, 0)
    refused(
        w3,
        "MemberRevoked()",
        lambda: c.functions.revoke(*again).call({"from": cheat, "value": FEE}),
    )
    settle = opened.settle_args(me, 5, cheat, [1])
    refused(w3, "MemberRevoked()", lambda: c.functions.settle(*settle).call())


def test_an_honest_revoke_keeps_its_bond_and_every_bad_revoke_is_refused(
    chain: Web3, wallet_contract: Any
) -> None:
    w3, c = chain, wallet_contract
    opened = funded(w3, c)
    alice, bob = w3.eth.accounts[6], w3.eth.accounts[7]
    leaves = [(member_id(6), alice, bytes(32), [2 * 10**17]), (member_id(7), bob, b"h" * 32, [1])]
    # bob settled at checkpoint 4: a revoke under checkpoint 3 is stale
    opened.send(c.functions.settle(*opened.settle_args(member_id(7), 4, bob, [1])), bob)
    stale = opened.exit_args(3, leaves, 0)
    refused(
        w3,
        "StaleCheckpoint(uint64)",
        lambda: c.functions.revoke(*stale).call({"from": alice, "value": FEE}),
    )
    refused(
        w3,
        "MemberSettled()",
        lambda: c.functions.revoke(*opened.exit_args(5, leaves, 1)).call(
            {"from": bob, "value": FEE}
        ),
    )
    args = list(opened.exit_args(5, leaves, 0))
    bad_index = (*args[:4], 1, args[5])
    refused(
        w3, "BadProof()", lambda: c.functions.revoke(*bad_index).call({"from": alice, "value": FEE})
    )
    cp = args[1]
    bigger_tree = (args[0], (cp[0], cp[1], cp[2] + 1, cp[3]), *args[2:])  # a forged leaf count
    refused(
        w3,
        "BadCheckpoint()",
        lambda: c.functions.revoke(*bigger_tree).call({"from": alice, "value": FEE}),
    )
    richer = (*args[:3], (member_id(6), alice, bytes(32), [9 * 10**17]), *args[4:])
    refused(
        w3, "BadProof()", lambda: c.functions.revoke(*richer).call({"from": alice, "value": FEE})
    )
    other_group = FrostGroup(7)
    message = c.functions.checkpointMessage(opened.id, cp).call()
    foreign = (args[0], cp, other_group.sign(message), *args[3:])
    refused(
        w3,
        "BadCheckpoint()",
        lambda: c.functions.revoke(*foreign).call({"from": alice, "value": FEE}),
    )
    opened.send(c.functions.revoke(*args), alice, value=FEE)
    honest = (opened.id, [2 * 10**17], *opened.exit_args(6, leaves, 0)[1:])  # the same balance
    receipt = opened.send(c.functions.crawlBack(*honest), bob)
    assert c.events.CrawledBack().process_receipt(receipt)[0]["args"]["forfeited"] == 0
    w3.provider.make_request("anvil_mine", [WINDOW + 1])  # type: ignore[arg-type]
    before = w3.eth.get_balance(alice)
    opened.send(c.functions.finalize(opened.id, member_id(6), [2 * 10**17]), bob)
    assert w3.eth.get_balance(alice) == before + 2 * 10**17 + FEE


def test_a_reentrant_claim_account_is_paid_once(
    chain: Web3, wallet_contract: Any, built_tests: dict[str, Any]
) -> None:
    w3, c = chain, wallet_contract
    opened = funded(w3, c)
    attacker = deploy_built(w3, built_tests["Reenter"], c.address)
    me = member_id(8)
    opened.send(attacker.functions.aim(opened.id, me, [3 * 10**17]), w3.eth.accounts[0])
    leaves = [(me, attacker.address, bytes(32), [3 * 10**17])]
    _, cp, sig, leaf, index, proof = opened.exit_args(1, leaves, 0)
    opened.send(attacker.functions.revoke(cp, sig, leaf, index, proof), w3.eth.accounts[0], FEE)
    w3.provider.make_request("anvil_mine", [WINDOW + 1])  # type: ignore[arg-type]
    held = c.functions.held(opened.id, ETH).call()
    opened.send(c.functions.finalize(opened.id, me, [3 * 10**17]), w3.eth.accounts[0])
    assert attacker.functions.reentryFailed().call()
    assert w3.eth.get_balance(attacker.address) == 3 * 10**17 + FEE
    assert c.functions.held(opened.id, ETH).call() == held - 3 * 10**17
    with pytest.raises((ContractCustomError, ContractLogicError)):
        c.functions.finalize(opened.id, me, [3 * 10**17]).call()


def test_a_groups_own_checkpoint_and_chain_leaf_revoke_on_chain(
    chain: Web3, wallet_contract: Any
) -> None:
    """The chain tree a checkpoint commits to (``proto.chain_leaf``) and the chain message
    the group signs (``proto.evm_wallet``) are what the contract reads: the leaf's account
    revokes with them; the member who named no account cannot be revoked for by anyone."""
    w3, c = chain, wallet_contract
    group_id = os.urandom(32)
    opened, _ = open_wallet(w3, c, [ETH], genesis=group_id)
    account = w3.eth.accounts[4]
    alice, bob = member_id(21), member_id(22)
    state = GroupState(group_id, ("ETH",))
    state.admit(alice, 1, 1, bytes.fromhex(account[2:]))
    state.admit(bob, 1, 1)
    for member, amount in ((alice, 3 * 10**17), (bob, 10**17)):
        opened.send(c.functions.depositETH(opened.id, member), account, value=amount)
        state.deposit(member, "ETH", amount)
    cp = checkpoint_of(state, 4, evm_ledger_id(w3.eth.chain_id, bytes.fromhex(c.address[2:])))
    message = cp.message_for(opened.group.key)
    assert message == c.functions.checkpointMessage(opened.id, cp.chain_args()).call()
    assert opened.id == wallet_id(state.group_id, opened.group.key)
    signature = opened.group.sign(message)
    snap = state.snapshot()
    tree = ChainTree(chain_leaves(state, snap, BalanceTree(state, snap)))
    assert tree.root == cp.chain_root

    def revoke(member: bytes) -> Any:
        proof = tree.proof(member)
        return c.functions.revoke(
            opened.id,
            cp.chain_args(),
            signature,
            leaf_args(proof.leaf),
            proof.index,
            list(proof.path),
        )

    for sender in (w3.eth.accounts[0], account):  # nobody sends from the zero account
        refused(
            w3, "NotLeafAccount()", lambda s=sender: revoke(bob).call({"from": s, "value": FEE})
        )
    refused(
        w3,
        "NotLeafAccount()",
        lambda: revoke(alice).call({"from": w3.eth.accounts[0], "value": FEE}),
    )
    receipt = opened.send(revoke(alice), account, value=FEE)
    event = c.events.Revoked().process_receipt(receipt)[0]["args"]
    assert (event["member"], event["number"], event["amounts"]) == (alice, 4, [3 * 10**17])
