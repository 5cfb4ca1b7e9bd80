"""Attacks on adopting a checkpoint from a peer (``/swapnet/checkpoint-state/1`` and the
checkpoints topic). A ``Completed`` carries the group's signature over the checkpoint only;
the proposal around it (vector, admissions, claims, proposer) is the sender's word. The
rule under attack: nothing a peer says can remove a certified order from a replica, and a
node adopts only what the group signed or what it recomputes itself."""

from __future__ import annotations

import random
from dataclasses import replace

from proto.checkpoint import checkpoint_of
from proto.checkpointing import (
    EMPTY,
    CheckpointAdopted,
    CheckpointSteward,
    Completed,
    Proposal,
    SeqEntry,
    state_at,
    vector_of,
)
from proto.frost.core import derive_group_info, trusted_dealer_keygen
from proto.frost.keys import KeyPackage
from proto.frost.session import MAX_NONCES_PER_SESSION, CommitmentRequest
from proto.ledger.txs import Finalize
from proto.signing_sessions import MAX_PENDING_PER_SESSION, MAX_PENDING_SESSIONS, SESSION_TTL
from tests.support import make_group, pub
from tests.unit.frost_helpers import scalar, sign_with

U64_MAX = 2**64 - 1


def _setup() -> tuple[object, CheckpointSteward, Completed, object, list]:  # type: ignore[type-arg]
    rng = random.Random(7)
    g = make_group(seed="rollback", stewards=4, members=2, funding=100)
    committee = g.committee
    t = committee.quorum
    shares, wallet_key, commitment = trusted_dealer_keygen(
        scalar(rng), [scalar(rng) for _ in range(t - 1)], 4
    )
    _, public = derive_group_info(list(shares), commitment)
    steward = g.stewards[0]
    index = committee.index_of(pub(steward)) + 1
    base = g.genesis_state()
    a, b = g.ids[0], g.ids[1]
    orders = [g.transfer(a, seq, b, 1) for seq in range(1, 6)]
    # the group signed checkpoint 1 over a's first three orders
    vector = (SeqEntry(a, 3),)
    state1 = state_at(base, orders, vector, committee, number=1)
    assert not isinstance(state1, str)
    checkpoint = checkpoint_of(state1, 1)
    signature = sign_with(
        rng, shares, list(range(1, t + 1)), wallet_key, checkpoint.signing_message()
    )
    proposer = committee.stewards[1 % committee.n]
    proposal = Proposal(0, proposer, vector, 0, (), (), (), checkpoint, bytes(64))
    honest = Completed(proposal, signature)
    machine = CheckpointSteward(
        identity=steward,
        key=KeyPackage(index, shares[index], wallet_key, public, t),
        wallet_key=wallet_key,
        committee=committee,
        base=base,
        base_number=0,
        adopted_at=0.0,
        interval=5.0,
        timeout=8.0,
        random_bytes=rng.randbytes,
        log=orders,  # all five are certified: the node has applied them
    )
    return g, machine, honest, state1, orders


def test_a_forged_vector_around_a_real_checkpoint_cannot_roll_a_node_back() -> None:
    g, machine, honest, state1, orders = _setup()
    a = orders[0].order.parties[0].member
    assert machine.live.next_seq(a) == 6
    forged = Completed(
        replace(honest.proposal, vector=tuple(SeqEntry(m, U64_MAX) for m in sorted(g.ids))),  # type: ignore[attr-defined]
        honest.signature,
    )
    assert machine.adopt_state(forged, state1.copy(), 1.0) == []  # type: ignore[attr-defined]
    assert machine.base_number == 0 and len(machine.log) == 5
    assert machine.live.next_seq(a) == 6, "a certified order was removed"
    # gossiped, the same forgery is replayed against the node's own log: also no change
    assert machine.receive(b"", forged, 1.0) == []
    assert machine.live.next_seq(a) == 6 and len(machine.log) == 5


def test_an_honest_state_answer_keeps_the_certified_orders_beyond_it() -> None:
    _, machine, honest, state1, orders = _setup()
    a = orders[0].order.parties[0].member
    (adopted,) = machine.adopt_state(honest, state1.copy(), 1.0)  # type: ignore[attr-defined]
    assert isinstance(adopted, CheckpointAdopted)
    assert machine.base_number == 1
    assert [o.order.seq_of(a) for o in machine.log] == [4, 5]
    assert adopted.live.next_seq(a) == 6
    assert vector_of(adopted.state) == honest.proposal.vector


def test_a_completed_checkpoint_that_another_state_signed_is_not_adopted() -> None:
    _, machine, honest, state1, _ = _setup()
    other = replace(EMPTY, group_id=honest.proposal.checkpoint.group_id, number=1)
    lie = Completed(replace(honest.proposal, checkpoint=other), honest.signature)
    assert machine.adopt_state(lie, state1.copy(), 1.0) == []  # type: ignore[attr-defined]
    assert machine.receive(b"", lie, 1.0) == []
    assert machine.base_number == 0


def test_a_state_that_cannot_be_computed_refuses_the_proposal_and_is_counted() -> None:
    """Whatever the cause (a value out of its field, a bug a peer's order reached), an
    error while computing a checkpoint refuses that proposal or adoption and is counted;
    it never propagates to the node's task tree (before: ``ValueError`` up through the
    checkpoint ticker, on every node, at every restart)."""
    g, machine, honest, state1, _ = _setup()
    a = g.ids[0]  # type: ignore[attr-defined]
    broken = state1.copy()  # type: ignore[attr-defined]
    broken.accounts[a].last_seq = 2**64  # outside its field: the snapshot cannot encode
    assert machine.adopt_state(honest, broken, 1.0) == []
    assert machine.faults == 1 and "last_seq" in machine.last_fault
    machine.base = broken  # as if such a state had been reached
    proposal = replace(honest.proposal, checkpoint=replace(honest.proposal.checkpoint, number=2))
    assert machine.receive(b"", proposal, 2.0) == []  # not signed by its proposer anyway
    assert machine._checkpoint_for(proposal) == "fault"
    assert machine.faults == 2


def test_a_steward_cannot_grow_anothers_signing_memory_without_bound() -> None:
    """Before: ``Signer.forget_session`` had no caller, so every commitment request for a
    session we sign in kept a nonce for ever, and requests for sessions we never accepted
    were kept for ever too. Now: nonces per session and sessions per coordinator are
    capped, held requests are capped, and all of it is forgotten when the session ends."""
    _, machine, _, _, _ = _setup()
    rogue = next(s for s in machine.committee.stewards if s != machine.id)  # type: ignore[attr-defined]
    for i in range(2_000):  # sessions we never accepted: held, capped
        session = i.to_bytes(32, "big")
        machine.receive(rogue, CommitmentRequest(session, 0), 1.0)
    stats = machine.statistics()
    assert stats.held_requests <= MAX_PENDING_SESSIONS * MAX_PENDING_PER_SESSION
    assert stats.unused_nonces == 0
    # a session we do sign in (a wallet transaction every steward derives alike)
    tx = Finalize(machine.wallet_key, 1, 1, machine.group_id, machine.id)
    machine.approve_wallet_tx(tx, 1.0)  # type: ignore[arg-type]
    (session,) = machine.wallet_jobs
    answered = [machine.receive(rogue, CommitmentRequest(session, a), 1.0) for a in range(500)]
    assert sum(1 for x in answered if x) == MAX_NONCES_PER_SESSION
    assert machine.statistics().unused_nonces == MAX_NONCES_PER_SESSION
    machine.wallet_nonce_seen(1)  # the ledger used the nonce: the job and its nonces end
    machine.tick(2.0)
    assert machine.statistics().unused_nonces == 0 and machine.statistics().sessions == 0
    machine.tick(2.0 + SESSION_TTL * machine.timeout + 1)  # and held requests expire
    assert machine.statistics().held_requests == 0
