"""Conservation in the group wallet contract over hypothesis-generated call sequences on
anvil: deposits of ETH and an ERC-20 by four members, settles, revokes and crawl backs
under checkpoints with any amounts (a wallet key that signs anything, the worst case),
finalizes and mined blocks, by any account. After every call, whether it went through or
was refused: the contract holds exactly, per asset, what its wallet says it holds
(plus, in ETH, the forfeited and the open bonds), so it can never pay out more than it
was given."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from tests.evm.conftest import deploy, deploy_built
from tests.evm.test_group_wallet import ETH, FEE, WINDOW, Opened, member_id, open_wallet
from tests.fuzz.targets import examples

MEMBERS = 4
amount = st.integers(min_value=0, max_value=3 * 10**17)
"""A payout or a leaf amount: up to 3/8 of what the members put in at the start."""
member = st.integers(min_value=1, max_value=MEMBERS)
deposit = st.tuples(st.just("deposit"), member, st.booleans(), st.integers(1, 5 * 10**17))
revoke = st.tuples(st.just("revoke"), member, st.integers(1, 6), amount, amount)
crawl = st.tuples(st.just("crawl"), member, st.integers(1, 8), amount, amount, member)
finalize = st.tuples(st.just("finalize"), member, member)
actions = st.one_of(  # the exit game weighted up: it needs a revoke before anything else
    deposit,
    st.tuples(st.just("settle"), member, st.integers(1, 6), amount, amount),
    revoke,
    revoke,
    crawl,
    crawl,
    st.tuples(st.just("mine"), st.integers(1, WINDOW + 2)),
    finalize,
    finalize,
)


@dataclass
class Run:
    """One generated sequence against a fresh contract: the calls, and what the test knows
    of the open claims (their amounts and bonds) from the calls that went through."""

    w3: Web3
    c: Any
    token: Any
    opened: Opened
    claims: dict[bytes, list[int]] = field(default_factory=dict)
    bonds: dict[bytes, int] = field(default_factory=dict)

    @property
    def accounts(self) -> list[Any]:
        return list(self.w3.eth.accounts)

    def attempt(self, fn: Any, sender: str, value: int = 0) -> bool:
        try:
            fn.call({"from": sender, "value": value})
        except (ContractCustomError, ContractLogicError):
            return False
        self.opened.send(fn, sender, value)
        return True

    def leaves(self, who: int, amounts: list[int]) -> list[tuple[Any, ...]]:
        return [
            (member_id(k), self.accounts[k], bytes(32), amounts if k == who else [1, 1])
            for k in range(1, MEMBERS + 1)
        ]

    def deposit(self, who: int, eth: bool, value: int) -> None:
        fns, m = self.c.functions, member_id(who)
        if eth:
            self.attempt(fns.depositETH(self.opened.id, m), self.accounts[who], value)
        else:
            fn = fns.deposit(self.opened.id, m, self.token.address, value)
            self.attempt(fn, self.accounts[who])

    def settle(self, who: int, number: int, a: int, b: int) -> None:
        args = self.opened.settle_args(member_id(who), number, self.accounts[5], [a, b])
        self.attempt(self.c.functions.settle(*args), self.accounts[6])

    def revoke(self, who: int, number: int, a: int, b: int) -> None:
        args = self.opened.exit_args(number, self.leaves(who, [a, b]), who - 1)
        if self.attempt(self.c.functions.revoke(*args), self.accounts[who], FEE):
            self.claims[member_id(who)] = [a, b]
            self.bonds[member_id(who)] = FEE

    def crawl(self, who: int, number: int, a: int, b: int, by: int) -> None:
        m = member_id(who)
        if m not in self.claims:
            return
        args = self.opened.exit_args(number, self.leaves(who, [a, b]), who - 1)
        crawl = self.c.functions.crawlBack(self.opened.id, self.claims[m], *args[1:])
        if self.attempt(crawl, self.accounts[by]):
            if a < self.claims[m][0] or b < self.claims[m][1]:
                self.bonds[m] = 0
            self.claims[m] = [a, b]

    def mine(self, blocks: int) -> None:
        self.w3.provider.make_request("anvil_mine", [blocks])  # type: ignore[arg-type]

    def finalize(self, who: int, by: int) -> None:
        m = member_id(who)
        if m in self.claims:
            fn = self.c.functions.finalize(self.opened.id, m, self.claims[m])
            if self.attempt(fn, self.accounts[by]):
                del self.claims[m]
                self.bonds.pop(m)

    def check(self) -> None:
        held = self.c.functions.held
        forfeited = self.c.functions.walletOf(self.opened.id).call()[6]
        eth = held(self.opened.id, ETH).call() + forfeited + sum(self.bonds.values())
        assert self.w3.eth.get_balance(self.c.address) == eth
        tokens = self.token.functions.balanceOf(self.c.address).call()
        assert tokens == held(self.opened.id, self.token.address).call()


@settings(
    max_examples=examples(5),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@given(calls=st.lists(actions, min_size=1, max_size=12))
def test_no_call_sequence_breaks_the_wallets_accounts(
    chain: Web3, built_tests: dict[str, Any], calls: list[tuple[Any, ...]]
) -> None:
    w3 = chain
    c = deploy(w3, "GroupWallet")
    token = deploy_built(w3, built_tests["TestToken"])
    opened, _ = open_wallet(w3, c, [ETH, token.address], seed=int.from_bytes(os.urandom(4), "big"))
    run = Run(w3, c, token, opened)
    for k in range(1, MEMBERS + 1):  # every member puts 2 * 10^17 of each asset in
        opened.send(token.functions.mint(run.accounts[k], 10**18), run.accounts[k])
        opened.send(token.functions.approve(c.address, 10**18), run.accounts[k])
        run.deposit(k, True, 2 * 10**17)
        run.deposit(k, False, 2 * 10**17)
    run.check()
    for kind, *args in calls:
        getattr(run, kind)(*args)
        run.check()
