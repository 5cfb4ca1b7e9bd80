"""A group's life in proto/, no network: stewards form it by DKG, traders join by deposit
and signed terms, trade, and one exits; the group signs the settle that pays it.

The stewards' checkpoint machines exchange messages through a loop that delivers
everything at once; what is checked is that the rules (admissions against the ledger view,
exits, settlements, wallet transactions) give every node the same states and a settle
the ledger would accept."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from dataclasses import replace
from typing import Any

import pytest
from nacl.signing import SigningKey

from proto.admission import Admission, admissions_problem, sign_join
from proto.checkpoint import SignedCheckpoint, checkpoint_of
from proto.checkpointing import (
    Broadcast,
    CheckpointAdopted,
    CheckpointSteward,
    SendToSteward,
    SubmitWalletTx,
)
from proto.codec import decode
from proto.committee import Committee
from proto.epochs import Epochs
from proto.evm_wallet import evm_ledger_id
from proto.formation import (
    Dealer,
    DkgEquivocation,
    DkgReply,
    GroupSpec,
    StewardKey,
    equivocation_proven,
)
from proto.frost.core import aggregate, commit
from proto.frost.core import sign as frost_sign
from proto.frost.curve import L
from proto.frost.dkg import DkgFault
from proto.frost.keys import KeyPackage
from proto.frost.suite import SECP256K1
from proto.genesis import AdmissionPolicy, terms_hash
from proto.ledger.state import LedgerParams, LedgerRejected, LedgerState
from proto.ledger.txs import Deposit, Finalize, OpenWallet, Revoke, Settle, SignedTx, sign_tx
from proto.ledger_view import LedgerView, view_event
from proto.merkle import BalanceTree
from proto.orders import Exit, Transfer, sign_order
from proto.replica import Replica
from proto.settles import SettleRecord, apply_settles
from proto.signing import sign
from proto.state import AssetBalance, GroupState
from proto.wallet_txs import join_needs
from tests.support import key, pub

LEDGER_ID = hashlib.sha256(b"ledger").digest()
TERMS = terms_hash("be excellent to each other")
OPEN = AdmissionPolicy(0, 0, (), 0, 0)


def spec_for(stewards: list[bytes]) -> GroupSpec:
    return GroupSpec(
        "lifecycle",
        tuple(sorted(stewards)),
        ("BTC", "USD"),
        LEDGER_ID,
        10,
        5,
        1,
        TERMS,
        AdmissionPolicy(0, 0, (), 0, 0),
    )


def form(seed: int, n: int = 4, **spec_fields: Any) -> tuple[GroupSpec, list, dict[bytes, Dealer]]:  # type: ignore[type-arg]
    rng = random.Random(seed)
    identities = [key(seed, f"steward{i}") for i in range(n)]
    spec = dataclasses.replace(spec_for([pub(k) for k in identities]), **spec_fields)
    order = spec.suite.order
    dealers = {
        pub(k): Dealer.create(
            spec,
            k,
            tuple(rng.randrange(1, order) for _ in range(spec.threshold)),
            rng.randrange(1, order),
        )
        for k in identities
    }
    results = []
    replies_of: dict[bytes, dict[bytes, DkgReply]] = {}
    for me in dealers:
        replies = {}
        for other, theirs in dealers.items():
            if other != me:
                reply = theirs.reply_to(me)
                assert reply is not None
                replies[other] = decode(reply.encode(), DkgReply)  # over the wire
        replies_of[me] = replies
    echoes = {me: dealers[me].echo(replies_of[me]) for me in dealers}
    for me, dealer in dealers.items():
        dealer.check_echoes(echoes[me], {o: e for o, e in echoes.items() if o != me})
        results.append(dealer.finish(replies_of[me]))
    return spec, results, dealers


def test_dkg_gives_every_steward_the_same_genesis_and_a_working_key() -> None:
    spec, results, dealers = form(1)
    genesis = results[0][1]
    assert all(g == genesis for _, g in results)
    assert all(k.group_public_key == genesis.wallet_key for k, _ in results)
    assert genesis.threshold == Committee(spec.stewards).quorum
    # no one outside the stewards is dealt a share
    assert next(iter(dealers.values())).reply_to(pub(key(1, "outsider"))) is None


def test_dkg_over_secp256k1_gives_a_wallet_key_an_evm_contract_checks() -> None:
    """A group whose wallet is on an EVM chain forms its key by the same ceremony over
    FROST(secp256k1, SHA-256); any threshold of stewards signs a checkpoint's chain message
    with it, and a stored key package keeps its suite."""
    tokens = (bytes(20), b"\x11" * 20)
    spec, results, _ = form(
        3,
        wallet_suite=SECP256K1.name,
        evm_tokens=tokens,
        ledger_id=evm_ledger_id(31337, b"\x22" * 20),
        steward_accounts=tuple(bytes([i + 1]) * 20 for i in range(4)),
    )
    genesis = results[0][1]
    assert all(g == genesis for _, g in results) and genesis.on_evm
    assert len(genesis.wallet_key) == 33 and genesis.evm_tokens == tokens
    # an EVM group admits no one without an account to revoke from and be paid to
    assert join_needs(genesis, b"") is not None and join_needs(genesis, b"\x01" * 20) is None
    assert join_needs(form(1)[1][0][1], b"") is None
    founded = genesis.founding_state()  # the stewards' accounts are their chain leaves'
    assert sorted(a.evm_account for a in founded.accounts.values()) == sorted(
        genesis.steward_accounts
    )
    keys = {k.identifier: k for k, _ in results}
    cp = checkpoint_of(genesis.initial_state(), 1, genesis.ledger_id)
    cp_key = genesis.wallet_key
    message = cp.message_for(cp_key)
    signers = sorted(keys)[: genesis.threshold]
    rng = random.Random(4)
    made = {
        i: commit(keys[i].signing_share, rng.randbytes(32), rng.randbytes(32), i, suite=SECP256K1)
        for i in signers
    }
    comms = [made[i][1] for i in signers]
    z = {
        i: frost_sign(
            i,
            keys[i].signing_share,
            made[i][0],
            message,
            comms,
            genesis.wallet_key,
            suite=SECP256K1,
        )
        for i in signers
    }
    signature = aggregate(comms, message, genesis.wallet_key, z, suite=SECP256K1)
    SignedCheckpoint(cp, signature).verify(genesis.wallet_key)
    stored = decode(StewardKey.of(keys[1], b"sealed").encode(), StewardKey)
    again = stored.package(SECP256K1.encode_scalar(keys[1].signing_share))
    assert again.suite is SECP256K1 and again.group_public_key == genesis.wallet_key
    with pytest.raises(ValueError):  # an EVM wallet names one token per asset
        dataclasses.replace(spec, evm_tokens=tokens[:1])
    with pytest.raises(ValueError, match="chain"):  # chain id 0: no chain
        dataclasses.replace(genesis, ledger_id=bytes(12) + b"\x22" * 20)
    x = next(
        x
        for x in range(SECP256K1.order, 2**256)
        if SECP256K1.is_valid_point(b"\x02" + x.to_bytes(32, "big"))
    )
    with pytest.raises(ValueError, match="cannot be checked"):  # x >= n: no contract checks it
        dataclasses.replace(genesis, wallet_key=b"\x02" + x.to_bytes(32, "big"))
    with pytest.raises(ValueError):  # and only an EVM wallet names tokens
        dataclasses.replace(spec_for(list(spec.stewards)), evm_tokens=tokens)


def test_a_dealer_that_deals_two_polynomials_is_caught_by_the_echo() -> None:
    """Before: each steward pulled each dealer's package from that dealer and nobody
    compared them, so a dealer handing two polynomials (each with a valid proof) to two
    halves left honest stewards with different wallet keys. Now every steward echoes the
    packages it holds and finishes only when all echoes agree; the two signed packages
    are a proof anyone can check."""
    rng = random.Random(9)
    spec, _, dealers = form(3)
    ids = list(dealers)
    cheat = ids[1]
    twin = Dealer.create(
        spec,
        dealers[cheat].identity,
        tuple(rng.randrange(1, L) for _ in range(spec.threshold)),
        rng.randrange(1, L),
    )
    replies_of = {}
    for me in ids:
        if me == cheat:
            continue
        view = twin if ids.index(me) % 2 else dealers[cheat]  # two halves, two polynomials
        replies_of[me] = {
            o: (view if o == cheat else d).reply_to(me) for o, d in dealers.items() if o != me
        }
    keys = {dealers[me].finish(r)[1].wallet_key for me, r in replies_of.items()}  # type: ignore[arg-type]
    assert len(keys) == 2  # what the hole was: honest stewards, two wallet keys
    echoes = {me: dealers[me].echo(r) for me, r in replies_of.items()}  # type: ignore[arg-type]
    for me in replies_of:
        with pytest.raises(DkgEquivocation) as err:
            dealers[me].check_echoes(echoes[me], {o: e for o, e in echoes.items() if o != me})
        assert err.value.culprits == [spec.identifier_of(cheat)]
        assert equivocation_proven(spec, cheat, err.value.proof)
        assert not equivocation_proven(spec, ids[0], err.value.proof)  # only the dealer's
    # a steward that forges another's package in its echo is named, not the dealer
    me, liar = ids[0], ids[2]
    honest = {o: d.reply_to(me) for o, d in dealers.items() if o != me}
    mine = dealers[me].echo(honest)  # type: ignore[arg-type]
    forged = replace(mine.packages[1], proof_r=bytes(32))
    lie = replace(echoes[liar], packages=(*mine.packages[:1], forged, *mine.packages[2:]))
    lie = replace(lie, signature=sign(dealers[liar].identity, "dkg-echo", lie.ceremony, lie.body()))
    with pytest.raises(DkgFault) as err:
        dealers[me].check_echoes(mine, {liar: lie})
    assert err.value.culprits == [spec.identifier_of(liar)]


def test_dkg_names_a_dealer_whose_share_is_wrong() -> None:
    spec, _, dealers = form(2)
    ids = list(dealers)
    me, cheat = ids[0], ids[1]
    replies = {o: d.reply_to(me) for o, d in dealers.items() if o != me}
    bad = replies[cheat]
    assert bad is not None
    share = (int.from_bytes(bad.share, "little") + 1) % L
    replies[cheat] = replace(bad, share=share.to_bytes(32, "little"))
    with pytest.raises(DkgFault) as err:
        dealers[me].finish(replies)  # type: ignore[arg-type]
    assert err.value.culprits == [spec.identifier_of(cheat)]


class Net:
    """Stewards' machines, a ledger, and instant delivery of everything they send."""

    def __init__(self, seed: int) -> None:
        _, results, _ = form(seed)
        self.genesis = results[0][1]
        self.gid = self.genesis.group_id()
        self.stewards = [key(seed, f"steward{i}") for i in range(4)]
        self.committee = self.genesis.committee
        self.alice, self.bob = key(seed, "alice"), key(seed, "bob")
        self.now = 0.0
        self.rng = random.Random(seed)
        genesis_state = GroupState(self.gid, self.genesis.assets)
        for s in self.genesis.stewards:
            genesis_state.admit(s)
        self.machines: dict[bytes, CheckpointSteward] = {}
        by_id = {pub(k): kp for k, (kp, _) in zip(self.stewards, results, strict=True)}
        for identity in self.stewards:
            self.machines[pub(identity)] = self.machine(
                identity, by_id[pub(identity)], self.genesis.epochs, genesis_state, 0
            )
        self.replica = Replica(genesis_state.copy(), self.genesis.epochs)  # a member's view
        self.adopted: dict[bytes, list[CheckpointAdopted]] = {m: [] for m in self.machines}
        self.submitted: list[Settle | OpenWallet] = []
        self.ledger = LedgerState(
            LedgerParams(
                LEDGER_ID,
                "USD",
                1,
                pub(key(seed, "collector")),
                (
                    (pub(self.alice), "USD", 1000),
                    (pub(self.alice), "BTC", 10),
                    (pub(self.bob), "USD", 1000),
                    (self.genesis.wallet_key, "USD", 100),
                ),
            )
        )
        self.height = 0
        self.refused: list[str] = []
        """Codes of the wallet transactions the ledger refused."""
        self.held: list[SubmitWalletTx] | None = None
        """While a list, wallet transactions wait here instead of reaching the ledger."""

    def machine(
        self,
        identity: SigningKey,
        key_package: KeyPackage | None,
        epochs: Epochs,
        base: GroupState,
        base_number: int,
    ) -> CheckpointSteward:
        """A steward's checkpoint machine on this ledger, from ``base``."""
        return CheckpointSteward(
            identity=identity,
            key=key_package,
            wallet_key=self.genesis.wallet_key,
            epochs=epochs,
            base=base.copy(),
            base_number=base_number,
            adopted_at=self.now,
            interval=1.0,
            timeout=4.0,
            random_bytes=self.rng.randbytes,
            terms_hash=TERMS,
            ledger_id=LEDGER_ID,
            ledger_fee=1,
        )

    def release(self) -> None:
        held, self.held = self.held or [], None
        self.run(next(iter(self.machines.values())), list(held))

    def ledger_tx(self, signed: object) -> None:
        self.height += 1
        events = self.ledger.apply(signed, self.height)  # type: ignore[arg-type]
        for m in self.machines.values():  # as the node's follower feeds them
            for e in events:
                detail = {d.name: d.value for d in e.detail}
                seen = view_event(e.kind, e.height, e.member, e.checkpoint_number, detail)
                if seen is not None:
                    m.on_ledger_event(seen)
            self.run(m, m.on_ledger_height(self.height, self.now))
            m.wallet_nonce_seen(self.ledger.nonces.get(self.genesis.wallet_key, 0))

    def run(self, me: CheckpointSteward, effects: list) -> None:  # type: ignore[type-arg]
        for e in effects:
            if isinstance(e, Broadcast):
                for other in self.machines.values():
                    if other is not me:
                        self.run(other, other.receive(me.id, e.message, self.now))
            elif isinstance(e, SendToSteward):
                target = self.machines[e.steward]
                self.run(target, target.receive(me.id, e.message, self.now))
            elif isinstance(e, CheckpointAdopted):
                self.adopted[me.id].append(e)
            elif isinstance(e, SubmitWalletTx) and self.held is not None:
                self.held.append(e)  # on its way to the ledger
            elif isinstance(e, SubmitWalletTx):
                tx = e.action.payload
                assert isinstance(tx, Settle | OpenWallet)
                self.submitted.append(tx)
                try:
                    self.ledger_tx(SignedTx(tx, e.signature))
                except LedgerRejected as exc:  # a second coordinator's copy: nonce used
                    self.refused.append(exc.code)

    def apply_everywhere(self, orders: list) -> None:  # type: ignore[type-arg]
        applied = self.replica.add_certified(orders)
        for m in self.machines.values():
            self.run(m, m.on_applied(list(applied), self.now))

    def until(self, predicate, limit: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        while not predicate():
            assert self.now < limit, "no progress"
            self.now += 0.25
            for m in self.machines.values():
                self.run(m, m.tick(self.now))

    def last(self) -> CheckpointAdopted:
        return self.adopted[next(iter(self.machines))][-1]

    def open_wallet(self) -> None:
        """Every steward derives the same opening transaction and signs it."""
        for m in self.machines.values():
            m.approve_wallet_tx(m.wallet.opening(self.genesis), self.now)
        self.until(lambda: self.gid in self.ledger.wallets)


def test_join_trade_exit_and_settle() -> None:
    net = Net(3)
    a, b = pub(net.alice), pub(net.bob)
    net.open_wallet()
    # alice and bob deposit; only alice has sent her join yet
    net.ledger_tx(sign_tx(Deposit(a, 1, 1, net.gid, "USD", 500), net.alice, LEDGER_ID))
    net.ledger_tx(sign_tx(Deposit(b, 1, 1, net.gid, "USD", 300), net.bob, LEDGER_ID))
    join_a = sign_join(net.alice, net.gid, TERMS, handle="alice")
    forged = replace(sign_join(net.bob, net.gid, TERMS, handle="bob"), terms_hash=bytes(32))
    for m in net.machines.values():
        m.on_join(join_a, net.now)
        m.on_join(forged, net.now)  # not over the group's terms: ignored
    net.until(lambda: bool(net.adopted[next(iter(net.machines))]))
    state = net.last().state
    assert state.balance(a, "USD") == 500 and not state.is_member(b)
    # bob joins later and is admitted at a later checkpoint with his earlier deposit
    for m in net.machines.values():
        m.on_join(sign_join(net.bob, net.gid, TERMS, handle="bob"), net.now)
    net.until(lambda: net.last().state.is_member(b))
    assert net.last().state.balance(b, "USD") == 300
    # every steward adopted the same checkpoints
    numbers = {m: [x.completed.proposal.number for x in xs] for m, xs in net.adopted.items()}
    assert len({tuple(v[-1:]) for v in numbers.values()}) == 1
    # the member's replica takes the checkpoint's credits through ``live``
    net.replica.state = net.last().live.copy()
    # alice pays bob, then exits to her own ledger account
    keys = {a: net.alice, b: net.bob}
    pay = sign_order(Transfer(a, 1, b, "USD", 120, b""), keys, net.gid)
    leave = sign_order(Exit(a, 2, a), keys, net.gid)
    net.apply_everywhere([pay, leave])
    before = net.ledger.balance(a, "USD")
    net.until(lambda: net.ledger.balance(a, "USD") > before)
    assert net.ledger.balance(a, "USD") == before + 380  # exactly her final balance
    settles = [t for t in net.submitted if isinstance(t, Settle)]
    assert settles[0].member == a and settles[0].payouts == (AssetBalance("USD", 380),)
    # at the next checkpoint she holds nothing, and the wallet nonce moved on
    settled_at = settles[0].checkpoint_number
    net.until(lambda: net.last().completed.proposal.number > settled_at)
    final = net.last().state
    assert final.balance(a, "USD") == 0 and final.has_exited(a)
    assert final.wallet_nonce == 2
    assert net.ledger.wallets[net.gid].balances["USD"] == final.supply()["USD"]


def test_a_member_who_exits_and_revokes_does_not_jam_the_wallet() -> None:
    """Alice exits and also revokes. Before: the ledger refused the group's settle
    (claim-open), the next checkpoint still took the payout from her balance and moved the
    wallet nonce on, every later settle was refused with nonce-gap for ever, and the claim
    was taken a second time (a phantom loss). Now a settle is booked only once the ledger
    shows it, a refused one's nonce is used again, and the ledger pays a member one way."""
    net = Net(4)
    a, b = pub(net.alice), pub(net.bob)
    net.open_wallet()
    net.ledger_tx(sign_tx(Deposit(a, 1, 1, net.gid, "USD", 500), net.alice, LEDGER_ID))
    net.ledger_tx(sign_tx(Deposit(b, 1, 1, net.gid, "USD", 300), net.bob, LEDGER_ID))
    for m in net.machines.values():
        m.on_join(sign_join(net.alice, net.gid, TERMS, handle="alice"), net.now)
        m.on_join(sign_join(net.bob, net.gid, TERMS, handle="bob"), net.now)
    net.until(lambda: any(net.adopted.values()) and net.last().state.is_member(b))
    net.replica.state = net.last().live.copy()
    net.held = []  # the group's settle will be slow to reach the ledger
    net.apply_everywhere([sign_order(Exit(a, 1, a), {a: net.alice}, net.gid)])
    net.until(lambda: any(s.action.is_settle for s in net.held or []))
    # alice revokes with her receipt before the group's settle reaches the ledger
    receipt = net.last()
    proof = BalanceTree(receipt.state).proof(a)
    revoke = Revoke(a, net.ledger.next_nonce(a), 1, receipt.completed.signed, proof)
    net.ledger_tx(sign_tx(revoke, net.alice, LEDGER_ID))
    net.release()
    assert set(net.refused) & {"checkpoint-used", "claim-open"}  # the settle refused
    net.until(lambda: net.last().state.is_frozen(a))  # the revoke is booked
    net.height += 11  # the window passes
    net.ledger_tx(sign_tx(Finalize(b, 2, 1, net.gid, a), net.bob, LEDGER_ID))
    net.until(lambda: net.last().state.balance(a, "USD") == 0)  # her claim, booked once
    # bob exits: his settle goes through on the next nonce, not refused for ever
    before = net.ledger.balance(b, "USD")
    net.apply_everywhere([sign_order(Exit(b, 1, b), {b: net.bob}, net.gid)])
    net.until(lambda: net.ledger.balance(b, "USD") > before)
    assert net.ledger.balance(b, "USD") == before + 300
    assert "nonce-gap" not in net.refused
    net.until(lambda: net.last().state.balance(b, "USD") == 0)
    final = net.last().state
    assert final.losses == {} and final.history(a).uncovered_revokes == 0
    assert final.wallet_nonce == net.ledger.nonces[net.genesis.wallet_key]  # no gap
    assert net.ledger.wallets[net.gid].balances["USD"] == final.supply()["USD"]


def test_admissions_are_checked_against_the_ledger_view() -> None:
    gid = hashlib.sha256(b"g").digest()
    state = GroupState(gid, ("USD",))
    alice = key(0, "alice")
    view = LedgerView()
    view.add_deposit(3, pub(alice), "USD", 50)
    join = sign_join(alice, gid, TERMS, handle="alice")
    good = (Admission(pub(alice), (AssetBalance("USD", 50),), (join,)),)
    assert admissions_problem(state, good, 3, view, TERMS, OPEN) is None
    assert admissions_problem(state, good, 4, view, TERMS, OPEN) == "behind"
    inflated = (Admission(pub(alice), (AssetBalance("USD", 51),), (join,)),)
    assert admissions_problem(state, inflated, 3, view, TERMS, OPEN) == "inconsistent"
    no_join = (Admission(pub(alice), (AssetBalance("USD", 50),), ()),)
    assert admissions_problem(state, no_join, 3, view, TERMS, OPEN) == "inconsistent"
    other_terms = (
        Admission(
            pub(alice), good[0].deposited, (sign_join(alice, gid, bytes(32), handle="alice"),)
        ),
    )
    assert admissions_problem(state, other_terms, 3, view, TERMS, OPEN) == "inconsistent"


def test_an_exited_member_cannot_pay_but_can_be_paid() -> None:
    gid = hashlib.sha256(b"g2").digest()
    a, b = key(0, "a"), key(0, "b")
    state = GroupState(gid, ("USD",))
    for k in (a, b):
        state.admit(pub(k))
        state.credit_deposits(pub(k), {"USD": 100})
    keys = {pub(a): a, pub(b): b}
    state.apply(sign_order(Exit(pub(a), 1, pub(a)), keys, gid).order)
    assert state.apply_problem(Transfer(pub(a), 2, pub(b), "USD", 1, b"")) == "member-exited"
    state.apply(Transfer(pub(b), 1, pub(a), "USD", 10, b""))
    owed = state.settlements()
    assert [(s.member, s.balances, s.nonce) for s in owed] == [
        (pub(a), (AssetBalance("USD", 110),), 2)
    ]
    apply_settles(state, (SettleRecord(pub(a), 1, owed[0].balances),))
    assert state.balance(pub(a), "USD") == 0 and state.wallet_nonce == 2
    assert state.supply() == state.totals()
    assert checkpoint_of(state, 1).state_digest == state.digest()
