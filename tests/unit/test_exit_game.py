"""The exit game end to end in proto, against the real ledger rules: a stale revoke, the
notary's decision, the claim booked at the next checkpoint (frozen, on the record, paid
out of the balance), the prequal badge it leaves and an admission policy reading it, and
the evidence bundle (every byte of it matters)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

import pytest

from proto.admission import admissions_for, admissions_problem, join_problem, sign_join
from proto.checkpoint import SignedCheckpoint, checkpoint_of
from proto.checkpoint_proposals import state_at, vector_of
from proto.checkpointing import OPEN_POLICY as OPEN
from proto.claims import ClaimRecord, claims_for, claims_problem
from proto.codec import DecodeError
from proto.evidence import (
    BadEvidence,
    read_bundle,
    sign_bundle,
    sign_evidence,
    unsigned_evidence,
)
from proto.genesis import AdmissionPolicy, Genesis, terms_hash
from proto.ledger.state import Event
from proto.ledger.txs import CrawlBack, Finalize, Revoke, SignedTx
from proto.ledger_view import LedgerView, view_event
from proto.merkle import BalanceTree
from proto.notary import RESEND_BLOCKS, Notary
from proto.prequal import policy_problem, prequal_of
from proto.state import GroupState
from proto.validation import check_batch
from tests.support import key, pub
from tests.unit.test_ledger_rules import LEDGER_ID, REVOKE_FEE, WINDOW, World, stale_and_newer

TERMS = "Pay what you owe; revoke only with your newest state.\n"


def apply(w: World, signed: SignedTx) -> list[Event]:
    events = w.ledger.apply(signed, w.height)
    w.height += 1
    return events


def feed(view: LedgerView, events: list[Event]) -> None:
    for e in events:
        detail = {d.name: d.value for d in e.detail}
        ve = view_event(e.kind, e.height, e.member, e.checkpoint_number, detail)
        if ve is not None:
            view.add(ve)
        view.advance(e.height)


def book(w: World, base: GroupState, view: LedgerView, number: int) -> GroupState:
    """The next checkpoint's state, as a proposer computes it and a steward checks it."""
    records = claims_for(base, view)
    assert claims_problem(base, records, view.height, view) is None
    state = state_at(
        base,
        [],
        vector_of(base),
        w.group.epochs,
        claims=records,
        ledger_height=view.height,
        number=number,
    )
    assert isinstance(state, GroupState)
    return state


def signed_of(w: World, state: GroupState, number: int) -> SignedCheckpoint:
    cp = checkpoint_of(state, number)
    return SignedCheckpoint(cp, w.frost_sign(cp.signing_message()))


def balances_in(state: GroupState) -> Callable[[bytes], dict[str, int] | None]:
    tree = BalanceTree(state)

    def of(member: bytes) -> dict[str, int] | None:
        if not state.is_member(member):
            return None
        return {b.asset: b.amount for b in tree.proof(member).leaf.balances}

    return of


def finalize(w: World, member: bytes) -> SignedTx:
    n = pub(w.notary)
    return w.signed(Finalize(n, w.next_nonce(n), 1, w.group.group_id, member), w.notary)


def test_a_stale_revoke_is_crawled_back_booked_and_shown_on_the_badge() -> None:  # noqa: PLR0915
    w = World(7)
    replica, stale, stale_proof, newer = stale_and_newer(w)
    a, b, n = pub(w.alice), pub(w.bob), pub(w.notary)
    view = LedgerView()
    notary = Notary(n, WINDOW)
    newest = replica.state
    balances_of = balances_in(newest)

    feed(view, apply(w, w.signed(Revoke(a, w.next_nonce(a), 1, stale, stale_proof), w.alice)))
    (due,) = notary.due(view, 2, balances_of)
    assert (due.member, due.claim_number, due.checkpoint_number) == (a, 1, 2)
    assert notary.due(view, 2, balances_of) == []  # sent once
    assert Notary(b, WINDOW).due(view, 1, balances_of) == []  # holds nothing newer
    assert Notary(a, WINDOW).due(view, 2, balances_of) == []  # never its own claim
    view_later = LedgerView.from_events(view.height + RESEND_BLOCKS, list(view.events))
    assert len(notary.due(view_later, 2, balances_of)) == 1  # lost? sent again
    crawl = w.signed(CrawlBack(n, w.next_nonce(n), 1, a, newer, w.proof(replica, a)), w.notary)
    feed(view, apply(w, crawl))
    assert view.open_claims(WINDOW)[a].number == 2
    assert notary.due(view, 2, balances_of) == []  # the claim is right now

    # the next checkpoint books it: alice frozen, one premature revoke on her record
    state3 = book(w, newest, view, 3)
    assert state3.is_frozen(a) and state3.history(a).premature_revokes == 1
    assert state3.balance(a, "USD") == 300 and state3.ledger_height == view.height
    gid = w.group.group_id
    to_alice, from_alice = w.group.transfer(b, 1, a, 1), w.group.transfer(a, 2, b, 1)
    assert [r.reason for r in check_batch(state3, (to_alice, from_alice), gid)] == ["frozen"] * 2
    # after the window the ledger pays the claim; the next checkpoint takes it out
    w.mine(WINDOW)
    feed(view, apply(w, finalize(w, a)))
    state4 = book(w, state3, view, 4)
    assert state4.balance(a, "USD") == 0 and state4.losses == {}
    assert state4.history(a).uncovered_revokes == 0
    assert claims_for(state4, view) == ()  # booked once
    wallet = w.ledger.wallets[w.group.group_id]
    assert wallet.balances["USD"] == state4.totals()["USD"]

    # the badge: the history the wallet key vouches for
    signed4 = signed_of(w, state4, 4)
    badge = prequal_of(w.wallet_key, signed4, BalanceTree(state4).proof(a), a)
    assert badge.verify().cheats == 1 and badge.verify().orders == 1
    assert dict((v.asset, v.amount) for v in badge.history.volume) == {"USD": 200}
    strict = AdmissionPolicy(0, 0, (w.wallet_key,), 1, 1_000)
    assert "1 premature revoke" in (policy_problem(strict, a, [badge], 10) or "")
    assert policy_problem(replace(strict, max_premature_revokes=1), a, [badge], 10) is None
    assert "asks for 1" in (policy_problem(strict, a, [], 10) or "")
    bob_badge = prequal_of(w.wallet_key, signed4, BalanceTree(state4).proof(b), b)
    assert policy_problem(strict, b, [bob_badge], 10) is None
    assert "another trader" in (policy_problem(strict, a, [bob_badge], 10) or "")
    untrusted = replace(strict, trusted_wallets=(bytes(32),))
    assert "does not trust" in (policy_problem(untrusted, b, [bob_badge], 10) or "")
    aged = replace(strict, max_prequal_age=1)
    assert "blocks old" in (policy_problem(aged, b, [bob_badge], view.height + 2) or "")
    clean = replace(bob_badge.history, orders=999)
    forged = replace(
        bob_badge, proof=replace(bob_badge.proof, leaf=replace(bob_badge.proof.leaf, history=clean))
    )
    assert "does not verify" in (policy_problem(strict, b, [forged], 10) or "")
    assert bob_badge.handle == state4.accounts[b].handle  # its handle, signed with it
    renamed = replace(
        bob_badge, proof=replace(bob_badge.proof, leaf=replace(bob_badge.proof.leaf, handle="xyz"))
    )
    assert "does not verify" in (policy_problem(strict, b, [renamed], 10) or "")
    # a join carries the badges, and another group's policy refuses it
    other = hashlib.sha256(b"another group").digest()
    join = sign_join(w.alice, other, terms_hash(TERMS), [badge], handle="alice")
    assert "premature" in (join_problem(join, other, terms_hash(TERMS), strict, 10) or "")
    lenient = AdmissionPolicy(1, 0, (), 0, 0)
    assert join_problem(join, other, terms_hash(TERMS), lenient, 10) is None
    assert "premature" in (join_problem(join, other, terms_hash(TERMS), OPEN, 10) or "")
    # ... and its stewards neither propose nor accept admitting it
    other_state = GroupState(other, ("USD",))
    other_view = LedgerView()
    other_view.add_deposit(10, a, "USD", 7)
    joins = {a: join}
    assert admissions_for(other_state, other_view, joins, strict) == ()
    (admission,) = admissions_for(other_state, other_view, joins, lenient)
    checked = (other_state, (admission,), 10, other_view, terms_hash(TERMS))
    assert admissions_problem(*checked, lenient) is None
    assert admissions_problem(*checked, strict) == "inconsistent"


def test_an_honest_revoke_is_left_alone_and_a_missed_cheat_is_a_loss() -> None:
    w = World(8)
    replica, stale, stale_proof, newer = stale_and_newer(w)
    a, b, n = pub(w.alice), pub(w.bob), pub(w.notary)
    view = LedgerView()
    newest = replica.state
    feed(view, apply(w, w.signed(Revoke(b, w.next_nonce(b), 1, newer, w.proof(replica, b)), w.bob)))
    assert Notary(n, WINDOW).due(view, 2, balances_in(newest)) == []
    assert (
        w.rejected(Revoke(a, w.next_nonce(a), 1, stale, stale_proof), w.alice) == "stale-checkpoint"
    )
    w.mine(WINDOW)
    feed(view, apply(w, finalize(w, b)))
    state = book(w, newest, view, 3)
    assert state.balance(b, "USD") == 0 and state.is_frozen(b) and state.losses == {}
    assert state.history(b).revokes == 1 and state.history(b).cheats == 0
    assert not state.is_frozen(a)

    # a cheat no notary caught: the ledger pays alice 500 where she held 300
    w2 = World(9)
    replica2, stale2, proof2, _ = stale_and_newer(w2)
    a2 = pub(w2.alice)
    view2 = LedgerView()
    feed(view2, apply(w2, w2.signed(Revoke(a2, w2.next_nonce(a2), 1, stale2, proof2), w2.alice)))
    w2.mine(WINDOW)
    feed(view2, apply(w2, finalize(w2, a2)))
    state2 = book(w2, replica2.state, view2, 3)
    assert state2.balance(a2, "USD") == 0 and state2.losses == {"USD": 200}
    assert state2.history(a2).uncovered_revokes == 1 and state2.history(a2).cheats == 1
    wallet = w2.ledger.wallets[w2.group.group_id]
    assert wallet.balances["USD"] == state2.totals()["USD"] - state2.losses["USD"]


def test_claim_records_are_checked_against_the_ledger_view() -> None:
    w = World(10)
    replica, stale, stale_proof, _ = stale_and_newer(w)
    a = pub(w.alice)
    view = LedgerView()
    feed(view, apply(w, w.signed(Revoke(a, w.next_nonce(a), 1, stale, stale_proof), w.alice)))
    base = replica.state
    (record,) = claims_for(base, view)
    assert claims_problem(base, [record], view.height + 1, view) == "behind"
    assert claims_problem(base, [replace(record, revokes=2)], view.height, view) == "inconsistent"
    stranger = ClaimRecord(pub(key(10, "stranger")), 1, 0, 0, ())
    assert claims_problem(base, [stranger], view.height, view) == "inconsistent"
    later = book(w, base, view, 3)
    going_back = state_at(
        later, [], vector_of(later), w.group.epochs, ledger_height=later.ledger_height - 1
    )
    assert going_back == "inconsistent"


def test_the_evidence_bundle_verifies_and_any_changed_byte_breaks_it() -> None:
    w = World(11)
    genesis = Genesis(
        "evidence test",
        tuple(sorted(pub(k) for k in w.group.stewards)),
        w.group.committee.quorum,
        w.wallet_key,
        ("USD",),
        LEDGER_ID,
        WINDOW,
        REVOKE_FEE,
        5,
        terms_hash(TERMS),
        OPEN,
    )
    w.genesis = genesis
    w.group = replace(w.group, group_id=genesis.group_id())
    replica, stale, stale_proof, newer = stale_and_newer(w)
    a, n = pub(w.alice), pub(w.notary)
    revoke = w.signed(Revoke(a, w.next_nonce(a), 1, stale, stale_proof), w.alice)
    (r_event,) = apply(w, revoke)
    crawl = w.signed(CrawlBack(n, w.next_nonce(n), 1, a, newer, w.proof(replica, a)), w.notary)
    (c_event,) = apply(w, crawl)
    evidence = sign_evidence(
        w.notary, unsigned_evidence(revoke, r_event.height, crawl, c_event.height)
    )
    join = sign_join(w.alice, genesis.group_id(), genesis.terms_hash, handle="alice")
    bundle = sign_bundle(w.bob, genesis, TERMS, join, evidence)
    data = bundle.encode()
    finding = read_bundle(data).verify()
    assert finding.premature and finding.revoker == a and finding.notary == n
    assert (finding.stale_number, finding.newer_number) == (1, 2)
    assert finding.stale == {"USD": 500} and finding.newer == {"USD": 300}
    text = bundle.account()
    assert "premature revoke" in text and "500 USD" in text and "300 USD" in text
    for i in range(len(data)):
        altered = bytearray(data)
        altered[i] ^= 0x01
        with pytest.raises((DecodeError, BadEvidence)):
            read_bundle(bytes(altered)).verify()
    # a bundle whose parts do not link fails even when its exporter signs it
    other_join = sign_join(w.bob, genesis.group_id(), genesis.terms_hash, handle="bob")
    with pytest.raises(BadEvidence, match="not the revoker"):
        sign_bundle(w.bob, genesis, TERMS, other_join, evidence).verify()
    with pytest.raises(BadEvidence, match="terms"):
        sign_bundle(w.bob, genesis, TERMS + " ", join, evidence).verify()
    with pytest.raises(BadEvidence, match="not a crawl back"):
        sign_evidence(w.notary, unsigned_evidence(crawl, 2, revoke, 3))
    # evidence of another group, even signed by its reporter, is not this group's
    elsewhere = replace(genesis, name="another group")
    with pytest.raises(BadEvidence, match="another group"):
        evidence.verify(elsewhere)
