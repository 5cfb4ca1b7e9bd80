"""Orders applied to the group state: seq rules, funds, conservation, order independence,
and the validation a steward makes before voting."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proto.errors import InvalidProof, InvalidSignature, LocalProtocolError
from proto.orders import SignedOrder, Transfer, equivocation_proof
from proto.replica import Replica
from proto.state import GroupState
from proto.validation import check_batch, seqs_ahead
from tests.support import make_group, pub

G = make_group(seed="orders", stewards=4, members=3, funding=100)
IDS = G.ids
A, B, C = IDS[0], IDS[1], IDS[2]


def reasons(state: GroupState, *orders: SignedOrder) -> list[str]:
    return [r.reason for r in check_batch(state, orders, G.group_id)]


def test_a_signed_transfer_verifies_only_in_its_own_group() -> None:
    signed = G.transfer(A, 1, B, 10)
    signed.verify(G.group_id)
    with pytest.raises(InvalidSignature):
        signed.verify(b"\x00" * 32)


def test_a_swap_needs_every_debited_party_to_sign() -> None:
    signed = G.swap(A, 1, B, 1, 10, 5)
    signed.verify(G.group_id)
    forged = SignedOrder(signed.order, (signed.signatures[0], signed.signatures[0]))
    with pytest.raises(InvalidSignature):
        forged.verify(G.group_id)


def test_validation_accepts_a_valid_batch_and_names_each_refusal() -> None:
    state = G.genesis_state()
    assert reasons(state, G.transfer(A, 1, B, 10), G.transfer(A, 2, C, 90)) == []
    assert reasons(state, G.transfer(A, 2, B, 10)) == ["bad-seq"]
    assert reasons(state, G.transfer(A, 1, B, 101)) == ["insufficient-funds"]
    # The second order would overspend what the first already consumed in this batch.
    assert reasons(state, G.transfer(A, 1, B, 60), G.transfer(A, 2, B, 60)) == [
        "insufficient-funds"
    ]
    outsider = pub(G.stewards[0]) if False else b"\x09" * 32
    assert reasons(state, G.sign(Transfer(A, 1, outsider, "USD", 1, b""))) == ["not-member"]
    assert reasons(state, G.sign(Transfer(A, 1, B, "EUR", 1, b""))) == ["unknown-asset"]
    state.freeze(A)
    assert reasons(state, G.transfer(A, 1, B, 1)) == ["frozen"]


def test_seqs_ahead_is_how_far_the_furthest_party_starts_past_its_next_seq() -> None:
    state = G.genesis_state()
    assert seqs_ahead(state, ()) == 0
    assert seqs_ahead(state, (G.transfer(A, 1, B, 1), G.transfer(A, 2, B, 1))) == 0
    assert seqs_ahead(state, (G.transfer(A, 3, B, 1), G.transfer(A, 4, B, 1))) == 2
    assert seqs_ahead(state, (G.transfer(A, 1, B, 1), G.swap(B, 5, C, 1, 1, 1))) == 4
    state.apply(G.transfer(A, 1, B, 1).order)
    assert seqs_ahead(state, (G.transfer(A, 1, B, 1),)) == 0  # consumed is not ahead


def test_validation_rejects_a_bad_signature() -> None:
    state = G.genesis_state()
    good = G.transfer(A, 1, B, 10)
    other = G.transfer(A, 1, B, 11)
    assert reasons(state, SignedOrder(good.order, other.signatures)) == ["bad-signature"]


def test_credits_inside_one_batch_are_not_spendable_in_that_batch() -> None:
    state = G.genesis_state()
    assert reasons(state, G.transfer(A, 1, B, 100), G.transfer(B, 1, C, 150)) == [
        "insufficient-funds"
    ]


def test_apply_moves_value_and_advances_seqs() -> None:
    state = G.genesis_state()
    state.apply(G.transfer(A, 1, B, 30).order)
    state.apply(G.swap(A, 2, B, 1, 10, 7).order)
    assert state.balance(A, "USD") == 60 and state.balance(B, "USD") == 140
    assert state.balance(A, "BTC") == 107 and state.balance(B, "BTC") == 93
    assert state.next_seq(A) == 3 and state.next_seq(B) == 2
    with pytest.raises(LocalProtocolError):
        state.apply(G.transfer(A, 2, B, 1).order)


def test_state_snapshot_round_trips_exactly() -> None:
    state = G.genesis_state()
    state.apply(G.transfer(A, 1, B, 100).order)  # A's USD goes to zero and leaves the snapshot
    state.freeze(C)
    again = GroupState.decode(state.encode())
    assert again.encode() == state.encode()
    assert again.balance(A, "USD") == 0 and again.is_frozen(C)


def random_valid_history(rng: random.Random, length: int) -> tuple[GroupState, list[SignedOrder]]:
    """Orders that are valid when applied in the order generated."""
    state = G.genesis_state()
    history = []
    for _ in range(length):
        a, b = rng.sample(IDS, 2)
        if rng.random() < 0.3:
            usd, btc = (
                rng.randint(0, state.balance(a, "USD")),
                rng.randint(0, state.balance(b, "BTC")),
            )
            if usd == 0 or btc == 0:
                continue
            signed = G.swap(a, state.next_seq(a), b, state.next_seq(b), usd, btc)
        else:
            asset = rng.choice(["USD", "BTC"])
            have = state.balance(a, asset)
            if have == 0:
                continue
            signed = G.transfer(a, state.next_seq(a), b, rng.randint(1, have), asset)
        assert check_batch(state, (signed,), G.group_id) == []
        state.apply(signed.order)
        history.append(signed)
    return state, history


@given(st.integers(0, 2**32), st.integers(1, 40))
def test_value_is_conserved_by_any_sequence_of_valid_orders(seed: int, length: int) -> None:
    before = G.genesis_state().totals()
    state, _ = random_valid_history(random.Random(seed), length)
    assert state.totals() == before == state.supply()
    assert all(v >= 0 for acct in state.accounts.values() for v in acct.balances.values())


@given(st.integers(0, 2**32), st.integers(1, 30))
def test_members_with_the_same_certified_orders_hold_the_same_state_bytes(
    seed: int, n: int
) -> None:
    rng = random.Random(seed)
    reference, history = random_valid_history(rng, n)
    shuffled = history[:]
    rng.shuffle(shuffled)
    replica = Replica(G.genesis_state(), G.epochs)
    for signed in shuffled:
        replica.add_certified([signed])
        # At every step, nothing negative: a debit waits for the credits that fund it.
        assert all(v >= 0 for a in replica.state.accounts.values() for v in a.balances.values())
    assert replica.waiting == {}
    assert replica.state.encode() == reference.encode()


def test_replica_applies_an_order_once_however_often_it_arrives() -> None:
    replica = Replica(G.genesis_state(), G.epochs)
    t = G.transfer(A, 1, B, 10)
    replica.add_certified([t, t])
    replica.add_certified([t])
    assert replica.state.balance(B, "USD") == 110


def test_replica_records_two_certified_orders_for_one_seq_as_equivocation() -> None:
    replica = Replica(G.genesis_state(), G.epochs)
    first, second = G.transfer(A, 2, B, 10), G.transfer(A, 2, C, 10)
    replica.add_certified([first, second])
    assert len(replica.conflicts) == 1
    replica.conflicts[0].verify(G.group_id)


def test_equivocation_proof_verifies_and_rejects_forgeries() -> None:
    a1, a2 = G.transfer(A, 5, B, 1), G.transfer(A, 5, C, 1)
    proof = equivocation_proof(A, 5, a1, a2)
    proof.verify(G.group_id)
    with pytest.raises(InvalidProof):
        equivocation_proof(A, 4, a1, a2).verify(G.group_id)
    with pytest.raises(InvalidProof):
        equivocation_proof(A, 5, a1, SignedOrder(a2.order, a1.signatures)).verify(G.group_id)
    with pytest.raises(InvalidProof):
        proof.verify(b"\x00" * 32)
    with pytest.raises(ValueError):
        equivocation_proof(A, 5, a1, a1)
