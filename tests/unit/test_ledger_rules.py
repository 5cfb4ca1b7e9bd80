"""The devnet ledger's rules, in-process: the exit game end to end with a FROST-held
wallet key, every refusal named and harmless, and supply conserved by any sequence."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import random
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devnet.ledger_service import wallet_json
from node.ledger_devnet import wallet_info
from node.ledger_port import wallet_problem
from proto.checkpoint import SignedCheckpoint
from proto.ledger.state import LedgerParams, LedgerRejected, LedgerState
from proto.ledger.txs import (
    CrawlBack,
    Deposit,
    Finalize,
    OpenWallet,
    Revoke,
    Settle,
    SignedTx,
    Transfer,
    Tx,
    sign_tx,
)
from proto.replica import Replica
from proto.state import AssetBalance
from tests.ledger_support import WalletGroup
from tests.support import pub

LEDGER_ID = b"\x1e" * 32
FEE = "SWAP"
WINDOW = 5
REVOKE_FEE = 50


class World(WalletGroup):
    """The in-process ledger with the wallet group's accounts funded at genesis."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed, LEDGER_ID, WINDOW, REVOKE_FEE)
        accounts = [pub(k) for k in self.people]
        self.params = LedgerParams(
            ledger_id=LEDGER_ID,
            fee_asset=FEE,
            min_fee=1,
            fee_collector=b"\xfe" * 32,
            allocations=(
                *((a, "USD", 10_000) for a in accounts),
                *((a, FEE, 1_000) for a in accounts),
                (self.wallet_key, FEE, 1_000),
            ),
        )
        self.ledger = LedgerState(self.params)
        self.genesis_supply = self.ledger.supply()
        self.height = 1

    def next_nonce(self, sender: bytes) -> int:
        return self.ledger.next_nonce(sender)

    def submit(self, tx: Tx, signer: Any = None) -> list[Any]:
        events = self.ledger.apply(self.signed(tx, signer), self.height)
        self.height += 1
        return events

    def rejected(self, tx: Tx | SignedTx, signer: Any = None) -> str:
        before = copy.deepcopy((self.ledger.balances, self.ledger.nonces, self.ledger.wallets))
        signed = tx if isinstance(tx, SignedTx) else self.signed(tx, signer)
        with pytest.raises(LedgerRejected) as caught:
            self.ledger.apply(signed, self.height)
        after = (self.ledger.balances, self.ledger.nonces, self.ledger.wallets)
        assert after == before, "a rejected transaction changed the ledger"
        return caught.value.code

    def open_and_join(self, deposit: int = 500) -> Replica:
        w = self.wallet_key
        self.submit(self.open_tx(self.next_nonce(w)))
        for k in (self.alice, self.bob):
            m = pub(k)
            self.submit(Deposit(m, self.next_nonce(m), 1, self.group.group_id, "USD", deposit), k)
        return self.state_after_joins(deposit)

    def mine(self, blocks: int) -> None:
        self.height += blocks


def test_deposit_then_settle_pays_the_member_exactly_once() -> None:
    w = World()
    w.open_and_join()
    a, wk = pub(w.alice), w.wallet_key
    before = w.ledger.balance(a, "USD")
    settle = Settle(wk, w.next_nonce(wk), 1, w.group.group_id, 1, a, a, (AssetBalance("USD", 300),))
    (event,) = w.submit(settle)
    assert event.kind == "settle" and w.ledger.balance(a, "USD") == before + 300
    replay = Settle(wk, w.next_nonce(wk), 1, w.group.group_id, 1, a, a, (AssetBalance("USD", 300),))
    assert w.rejected(replay) == "checkpoint-used"
    too_much = Settle(
        wk, w.next_nonce(wk), 1, w.group.group_id, 2, a, a, (AssetBalance("USD", 701),)
    )
    assert w.rejected(too_much) == "wallet-insufficient"
    forged = Settle(a, w.next_nonce(a), 1, w.group.group_id, 3, a, a, (AssetBalance("USD", 1),))
    assert w.rejected(forged, w.alice) == "not-wallet-key"
    assert w.ledger.supply() == w.genesis_supply


def test_revoke_with_the_latest_checkpoint_is_paid_after_the_window_once() -> None:
    w = World(1)
    replica = w.open_and_join()
    a = pub(w.alice)
    usd, fee_asset = w.ledger.balance(a, "USD"), w.ledger.balance(a, FEE)
    cp = w.checkpoint(replica, 1)
    w.submit(Revoke(a, w.next_nonce(a), 2, cp, w.proof(replica, a)), w.alice)
    assert w.ledger.balance(a, FEE) == fee_asset - 2 - REVOKE_FEE  # fee paid, bond held
    n = pub(w.notary)
    assert (
        w.rejected(Finalize(n, w.next_nonce(n), 1, w.group.group_id, a), w.notary) == "window-open"
    )
    w.mine(WINDOW)
    (event,) = w.submit(Finalize(n, w.next_nonce(n), 1, w.group.group_id, a), w.notary)
    assert event.kind == "finalize"
    assert w.ledger.balance(a, "USD") == usd + 500
    assert w.ledger.balance(a, FEE) == fee_asset - 2  # bond returned
    assert (
        w.rejected(Finalize(n, w.next_nonce(n), 1, w.group.group_id, a), w.notary)
        == "no-open-claim"
    )
    assert (
        w.rejected(Revoke(a, w.next_nonce(a), 1, cp, w.proof(replica, a)), w.alice)
        == "member-revoked"
    )
    assert w.ledger.supply() == w.genesis_supply


def stale_and_newer(w: World) -> tuple[Replica, SignedCheckpoint, Any, SignedCheckpoint]:
    """Checkpoint 1 after the joins, then alice pays bob 200 off-ledger, then checkpoint 2.
    Returns the replica, checkpoint 1, alice's proof under it, and checkpoint 2."""
    replica = w.open_and_join()
    a, b = pub(w.alice), pub(w.bob)
    stale, stale_proof = w.checkpoint(replica, 1), w.proof(replica, a)
    replica.add_certified([w.group.transfer(a, 1, b, 200)])
    return replica, stale, stale_proof, w.checkpoint(replica, 2)


def test_a_stale_revoke_is_crawled_back_in_the_window_and_the_revoker_pays_the_fee() -> None:
    w = World(2)
    replica, stale, stale_proof, newer = stale_and_newer(w)
    a, n = pub(w.alice), pub(w.notary)
    w.submit(Revoke(a, w.next_nonce(a), 1, stale, stale_proof), w.alice)
    notary_fee = w.ledger.balance(n, FEE)
    w.mine(WINDOW - 2)
    (event,) = w.submit(CrawlBack(n, w.next_nonce(n), 1, a, newer, w.proof(replica, a)), w.notary)
    assert event.kind == "crawl-back" and event.detail[-1].name == "fee-forfeited"
    assert event.detail[-1].value == REVOKE_FEE
    assert w.ledger.balance(n, FEE) == notary_fee - 1  # the fee goes to no crawler
    assert w.ledger.wallets[w.group.group_id].forfeited == REVOKE_FEE
    assert w.ledger.wallets[w.group.group_id].claims[a].balances == {"USD": 300}
    w.mine(WINDOW)
    usd = w.ledger.balance(a, "USD")
    w.submit(Finalize(n, w.next_nonce(n), 1, w.group.group_id, a), w.notary)
    assert w.ledger.balance(a, "USD") == usd + 300
    assert w.ledger.supply() == w.genesis_supply


def test_a_crawl_back_after_the_window_or_not_newer_is_rejected() -> None:
    w = World(3)
    replica, stale, stale_proof, newer = stale_and_newer(w)
    a, b, n = pub(w.alice), pub(w.bob), pub(w.notary)
    # Bob revokes with the newest checkpoint (2); nobody can crawl that back with 2 or less.
    w.submit(Revoke(b, w.next_nonce(b), 1, newer, w.proof(replica, b)), w.bob)
    same = CrawlBack(n, w.next_nonce(n), 1, b, newer, w.proof(replica, b))
    assert w.rejected(same, w.notary) == "not-newer"
    w.mine(WINDOW + 1)
    three = w.checkpoint(replica, 3)
    late = CrawlBack(n, w.next_nonce(n), 1, b, three, w.proof(replica, b))
    assert w.rejected(late, w.notary) == "window-closed"
    # The ledger has seen checkpoint 2: a revoke with checkpoint 1 is refused outright.
    stale_revoke = Revoke(a, w.next_nonce(a), 1, stale, stale_proof)
    assert w.rejected(stale_revoke, w.alice) == "stale-checkpoint"


def test_bad_transactions_are_named_and_change_nothing() -> None:
    w = World(4)
    replica = w.open_and_join()
    a, b = pub(w.alice), pub(w.bob)
    ok = Transfer(a, w.next_nonce(a), 1, b, "USD", 10)
    assert w.rejected(SignedTx(ok, bytes(64))) == "bad-signature"
    assert w.rejected(ok, w.bob) == "bad-signature"  # signed by someone else
    assert w.rejected(SignedTx(ok, sign_tx(ok, w.alice, b"\x00" * 32).signature)) == "bad-signature"
    assert w.rejected(Transfer(a, w.next_nonce(a) + 1, 1, b, "USD", 10), w.alice) == "nonce-gap"
    assert w.rejected(Transfer(a, w.next_nonce(a), 0, b, "USD", 10), w.alice) == "fee-too-low"
    assert (
        w.rejected(Transfer(a, w.next_nonce(a), 1, b, "USD", 10**9), w.alice)
        == "insufficient-funds"
    )
    assert (
        w.rejected(Transfer(a, w.next_nonce(a), 1, b, FEE, 1000), w.alice) == "insufficient-funds"
    )
    w.submit(ok, w.alice)
    assert w.rejected(ok, w.alice) == "replayed"
    cp = w.checkpoint(replica, 1)
    forged = SignedCheckpoint(cp.checkpoint, sign_tx(ok, w.alice, LEDGER_ID).signature)
    assert (
        w.rejected(Revoke(a, w.next_nonce(a), 1, forged, w.proof(replica, a)), w.alice)
        == "bad-checkpoint"
    )
    assert (
        w.rejected(Revoke(a, w.next_nonce(a), 1, cp, w.proof(replica, b)), w.alice) == "bad-proof"
    )
    unknown = Deposit(a, w.next_nonce(a), 1, b"\x00" * 32, "USD", 1)
    assert w.rejected(unknown, w.alice) == "unknown-wallet"
    assert (
        w.rejected(Deposit(a, w.next_nonce(a), 1, w.group.group_id, "BTC", 1), w.alice)
        == "unknown-asset"
    )
    wk = w.wallet_key
    assert w.rejected(w.open_tx(w.next_nonce(wk))) == "wallet-exists"


def test_nobody_but_the_genesis_wallet_key_can_open_a_group_wallet() -> None:
    """Squatting: before the stewards open their wallet, an outsider registers the group
    id under its own key (the old rule took every field from the sender). Now the ledger
    takes the id, key, window, fee and assets from the genesis, and only its key opens."""
    w = World(5)
    squatter = w.notary
    s = pub(squatter)
    assert w.rejected(OpenWallet(s, w.next_nonce(s), 1, w.genesis), squatter) == "not-wallet-key"
    lookalike = replace(w.genesis, wallet_key=s)  # another genesis: another group id
    (event,) = w.submit(OpenWallet(s, w.next_nonce(s), 1, lookalike), squatter)
    assert event.group_id == lookalike.group_id() != w.group.group_id
    assert w.group.group_id not in w.ledger.wallets
    elsewhere = replace(w.genesis, ledger_id=b"\x01" * 32)
    wk = w.wallet_key
    assert w.rejected(OpenWallet(wk, w.next_nonce(wk), 1, elsewhere)) == "wrong-ledger"
    (event,) = w.submit(w.open_tx(w.next_nonce(wk)))
    wallet = w.ledger.wallets[w.group.group_id]
    assert (wallet.key, wallet.assets) == (wk, w.genesis.assets)
    assert (wallet.challenge_window, wallet.revoke_fee) == (WINDOW, REVOKE_FEE)
    a = pub(w.alice)
    w.submit(Deposit(a, w.next_nonce(a), 1, w.group.group_id, "USD", 100), w.alice)
    assert w.ledger.wallets[w.group.group_id].balances == {"USD": 100}


@given(st.integers(0, 2**32), st.lists(st.integers(0, 6), min_size=1, max_size=30))
def test_supply_is_conserved_by_any_sequence_of_transactions(seed: int, plan: list[int]) -> None:
    w = World(seed % 7)
    replica = w.open_and_join(deposit=w.rng.randint(1, 900))
    rng = random.Random(seed)
    people = [w.alice, w.bob, w.notary]
    numbers = iter(range(1, 1000))
    for step in plan:
        k = rng.choice(people)
        m = pub(k)
        nonce = w.next_nonce(m) + (1 if rng.random() < 0.1 else 0)
        target = pub(rng.choice(people))
        tx: Tx
        if step == 0:
            tx = Transfer(
                m, nonce, rng.randint(0, 3), target, rng.choice(["USD", FEE]), rng.randint(1, 2000)
            )
        elif step == 1:
            tx = Deposit(m, nonce, 1, w.group.group_id, "USD", rng.randint(1, 3000))
        elif step == 2:
            wk = w.wallet_key
            payout = (AssetBalance("USD", rng.randint(1, 1500)),)
            tx = Settle(wk, w.next_nonce(wk), 1, w.group.group_id, next(numbers), m, target, payout)
        elif step == 3:
            subject = m if m != pub(w.notary) else pub(w.alice)  # the notary: a bad-proof try
            tx = Revoke(
                m, nonce, 1, w.checkpoint(replica, next(numbers)), w.proof(replica, subject)
            )
        elif step == 4:
            victim = rng.choice([pub(w.alice), pub(w.bob)])
            tx = CrawlBack(
                m, nonce, 1, victim, w.checkpoint(replica, next(numbers)), w.proof(replica, victim)
            )
        elif step == 5:
            tx = Finalize(m, nonce, 1, w.group.group_id, rng.choice([pub(w.alice), pub(w.bob)]))
        else:
            w.mine(rng.randint(1, WINDOW + 1))
            continue
        with contextlib.suppress(LedgerRejected):
            w.submit(tx, k)
        assert w.ledger.supply() == w.genesis_supply
        for held in w.ledger.balances.values():
            assert all(v > 0 for v in held.values())
        for wallet in w.ledger.wallets.values():
            assert all(v >= 0 for v in wallet.balances.values())


def test_a_node_calls_its_wallet_open_only_when_the_ledger_shows_its_genesis() -> None:
    """The node's own check (``wallet_problem``), for a ledger that does not bind wallets
    to their genesis: any field of the wallet that is not the genesis's is named."""
    w = World(6)
    wk = w.wallet_key
    w.submit(w.open_tx(w.next_nonce(wk)))
    shown = wallet_info(wallet_json(w.ledger.wallets[w.group.group_id]))
    assert wallet_problem(w.genesis, shown) is None
    for name, lie in (
        ("key", pub(w.notary)),
        ("challenge_window", WINDOW + 100),
        ("revoke_fee", 0),
        ("assets", ("USD", "BTC")),
        ("genesis_hash", bytes(32)),
    ):
        problem = wallet_problem(w.genesis, dataclasses.replace(shown, **{name: lie}))
        assert problem is not None and name in problem


def test_a_caught_cheat_cannot_dodge_the_revoke_fee_by_crawling_back_its_own_claim() -> None:
    """Before: the revoker front-ran the notaries with its own crawl back (or one from
    another account of its own) and collected its own bond. Now its own is refused, and
    from any account the bond is forfeited to the group wallet, never paid to the crawler."""
    w = World(12)
    replica, stale, stale_proof, newer = stale_and_newer(w)
    a, n = pub(w.alice), pub(w.notary)
    w.submit(Revoke(a, w.next_nonce(a), 1, stale, stale_proof), w.alice)
    own = CrawlBack(a, w.next_nonce(a), 1, a, newer, w.proof(replica, a))
    assert w.rejected(own, w.alice) == "own-claim"
    fee_after_revoke = w.ledger.balance(a, FEE)
    sybil = w.notary  # an account the cheat also holds
    w.submit(CrawlBack(n, w.next_nonce(n), 1, a, newer, w.proof(replica, a)), sybil)
    w.mine(WINDOW + 1)
    w.submit(Finalize(n, w.next_nonce(n), 1, w.group.group_id, a), sybil)
    assert w.ledger.balance(n, FEE) == 1_000 - 2  # two tx fees, no bond
    assert w.ledger.balance(a, FEE) == fee_after_revoke  # the bond never came back
    assert w.ledger.wallets[w.group.group_id].forfeited == REVOKE_FEE
    assert w.ledger.supply() == w.genesis_supply


def test_the_ledger_pays_a_member_one_way_only() -> None:
    """A member that revoked is never settled too, and a settled member cannot revoke:
    with the group booking a settle only once the ledger shows it, either order would
    otherwise pay one exit twice."""
    w = World(13)
    replica, _stale, _stale_proof, newer = stale_and_newer(w)
    a, b, wk = pub(w.alice), pub(w.bob), w.wallet_key
    w.submit(Revoke(a, w.next_nonce(a), 1, newer, w.proof(replica, a)), w.alice)
    w.mine(WINDOW + 1)
    w.submit(Finalize(a, w.next_nonce(a), 1, w.group.group_id, a), w.alice)
    pay_a = Settle(wk, w.next_nonce(wk), 1, w.group.group_id, 3, a, a, (AssetBalance("USD", 1),))
    assert w.rejected(pay_a) == "member-revoked"
    pay_b = Settle(wk, w.next_nonce(wk), 1, w.group.group_id, 3, b, b, (AssetBalance("USD", 1),))
    w.submit(pay_b)
    assert w.rejected(Revoke(b, w.next_nonce(b), 1, newer, w.proof(replica, b)), w.bob) == (
        "member-settled"
    )


def test_a_member_paid_out_by_finalize_cannot_revoke_again_under_a_later_checkpoint() -> None:
    """Issue 17 (suspected): the group goes on signing checkpoints after alice's revoke;
    one of them, signed before the group booked her exit, still holds her balance. Her
    second revoke with it would be paid a second time; the ledger takes one revoke per
    member and wallet (``member-revoked``)."""
    w = World(14)
    replica, _stale, _stale_proof, newer = stale_and_newer(w)
    a = pub(w.alice)
    w.submit(Revoke(a, w.next_nonce(a), 1, newer, w.proof(replica, a)), w.alice)
    later = w.checkpoint(replica, 3)  # signed before the group saw the revoke
    w.mine(WINDOW + 1)
    w.submit(Finalize(a, w.next_nonce(a), 1, w.group.group_id, a), w.alice)
    again = Revoke(a, w.next_nonce(a), 1, later, w.proof(replica, a))
    assert w.rejected(again, w.alice) == "member-revoked"
    w.mine(WINDOW + 1)
    assert w.rejected(Finalize(a, w.next_nonce(a), 1, w.group.group_id, a), w.alice) == (
        "no-open-claim"
    )
    assert w.ledger.supply() == w.genesis_supply
