"""Attacks on adopting a checkpoint from a peer (``/swapnet/checkpoint-state/1`` and the
checkpoints topic). A ``Completed`` carries the group's signature over the checkpoint only;
the proposal around it (vector, admissions, claims, proposer) is the sender's word. The
rule under attack: nothing a peer says can remove a certified order from a replica, and a
node adopts only what the group signed or what it recomputes itself."""

from __future__ import annotations

import random
from dataclasses import replace

from proto.admission import Admission, sign_join
from proto.checkpoint import checkpoint_of
from proto.checkpoint_proposals import (
    EMPTY,
    PROPOSAL_DOMAIN,
    Completed,
    Proposal,
    SeqEntry,
    state_at,
    vector_of,
)
from proto.checkpointing import CheckpointAdopted, CheckpointSteward
from proto.frost.core import derive_group_info, trusted_dealer_keygen
from proto.frost.keys import KeyPackage
from proto.frost.session import MAX_NONCES_PER_SESSION, CommitmentRequest
from proto.ledger.txs import Finalize
from proto.signing import sign
from proto.signing_sessions import MAX_PENDING_PER_SESSION, MAX_PENDING_SESSIONS, SESSION_TTL
from proto.state import AssetBalance
from proto.wallet_txs import WalletAction
from tests.support import key, make_group, pub
from tests.unit.frost_helpers import scalar, sign_with

U64_MAX = 2**64 - 1


def by_proposer(g: object, p: Proposal) -> Proposal:
    """``p`` signed by its proposer: what a Byzantine proposer can wrap a real checkpoint in."""
    identity = next(k for k in g.stewards if pub(k) == p.proposer)  # type: ignore[attr-defined]
    return replace(p, signature=sign(identity, PROPOSAL_DOMAIN, p.checkpoint.group_id, p.body()))


def _dealt(rng: random.Random, t: int) -> tuple[dict[int, int], bytes, list[bytes]]:
    return trusted_dealer_keygen(scalar(rng), [scalar(rng) for _ in range(t - 1)], 4)  # type: ignore[return-value]


def _setup() -> tuple[object, CheckpointSteward, Completed, object, list]:  # type: ignore[type-arg]
    rng = random.Random(7)
    g = make_group(seed="rollback", stewards=4, members=2, funding=100)
    committee = g.committee
    t = committee.quorum
    shares, wallet_key, commitment = _dealt(rng, t)
    _, public = derive_group_info(list(shares), commitment)
    steward = g.stewards[0]
    index = committee.index_of(pub(steward)) + 1
    base = g.genesis_state()
    a, b = g.ids[0], g.ids[1]
    orders = [g.transfer(a, seq, b, 1) for seq in range(1, 6)]
    # the group signed checkpoint 1 over a's first three orders
    vector = (SeqEntry(a, 3),)
    state1 = state_at(base, orders, vector, g.epochs, number=1)
    assert not isinstance(state1, str)
    checkpoint = checkpoint_of(state1, 1)
    signature = sign_with(
        rng, shares, list(range(1, t + 1)), wallet_key, checkpoint.signing_message()
    )
    proposer = committee.stewards[1 % committee.n]
    proposal = Proposal(0, proposer, vector, 0, (), (), (), checkpoint, bytes(64))
    honest = Completed(by_proposer(g, proposal), signature)
    machine = CheckpointSteward(
        identity=steward,
        key=KeyPackage(index, shares[index], wallet_key, public, t),
        wallet_key=wallet_key,
        epochs=g.epochs,
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
    everything = tuple(SeqEntry(m, U64_MAX) for m in sorted(g.ids))  # type: ignore[attr-defined]
    lie = by_proposer(g, replace(honest.proposal, vector=everything))
    forged = Completed(lie, honest.signature)
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
    machine.approve_wallet_tx(WalletAction(1, tx.encode(), tx, False), 1.0)
    (session,) = machine.wallet_jobs
    answered = [machine.receive(rogue, CommitmentRequest(session, a), 1.0) for a in range(500)]
    assert sum(1 for x in answered if x) == MAX_NONCES_PER_SESSION
    assert machine.statistics().unused_nonces == MAX_NONCES_PER_SESSION
    machine.wallet_nonce_seen(1)  # the ledger used the nonce: the job and its nonces end
    machine.tick(2.0)
    assert machine.statistics().unused_nonces == 0 and machine.statistics().sessions == 0
    machine.tick(2.0 + SESSION_TTL * machine.timeout + 1)  # and held requests expire
    assert machine.statistics().held_requests == 0


def test_forged_joins_around_a_real_checkpoint_are_not_adopted() -> None:
    """Issue 17 (suspected): a checkpoint's state records that a trader was admitted, not
    the trader's signed join (its consent to the terms, kept as evidence). A member that
    swaps the join inside a real completed checkpoint for one the trader never signed,
    and gossips it first, must not get it adopted: the node rebuilding from its own log
    and the node taking a state answer both check every join's signature."""
    g, machine, honest, _, orders = _setup()
    joiner = key("rollback", "joiner")
    join = sign_join(joiner, machine.group_id, machine.terms_hash, handle="joiner")
    admission = Admission(pub(joiner), (AssetBalance("USD", 10),), (join,))
    rng = random.Random(7)
    committee = machine.committee
    t = committee.quorum
    shares, wallet_key, _ = _dealt(rng, t)  # the same shares as _setup's
    base = machine.base
    state = state_at(base, orders, honest.proposal.vector, machine.epochs, (admission,), number=1)
    assert not isinstance(state, str)
    checkpoint = checkpoint_of(state, 1)
    signed = sign_with(rng, shares, list(range(1, t + 1)), wallet_key, checkpoint.signing_message())
    real_proposal = replace(honest.proposal, admissions=(admission,), checkpoint=checkpoint)
    real = Completed(by_proposer(g, real_proposal), signed)
    unsigned = replace(join, signature=bytes(63) + b"\x01")
    # by the proposer itself (a member's copy is refused for its proposer signature)
    forged_joins = replace(real.proposal, admissions=(replace(admission, join=(unsigned,)),))
    forged = Completed(by_proposer(g, forged_joins), signed)
    assert machine.adopt_state(forged, state.copy(), 1.0) == []
    assert machine.receive(b"", forged, 1.0) == [], "a forged join was adopted"
    assert machine.base_number == 0
    (adopted,) = machine.receive(b"", real, 1.0)  # the real one still gets in after it
    assert isinstance(adopted, CheckpointAdopted)
    assert adopted.completed.proposal.admissions[0].join == (join,)


def test_a_forged_completed_checkpoint_does_not_displace_a_lagging_nodes_pending_one() -> None:
    """Issue 17 (suspected): a node that has not applied the orders a checkpoint covers
    holds the completed checkpoint until they arrive. A member's forged copies of it
    (other vectors around the real signature, gossiped first and many times) are refused
    for want of the proposer's signature and take no place beside it. What a Byzantine
    proposer can do is named at the end."""
    g, machine, honest, state1, orders = _setup()

    def lagging_node() -> CheckpointSteward:
        return CheckpointSteward(
            identity=machine.identity,
            key=None,
            wallet_key=machine.wallet_key,
            epochs=machine.epochs,
            base=machine.base,
            base_number=0,
            adopted_at=0.0,
            interval=5.0,
            timeout=8.0,
            random_bytes=random.Random(1).randbytes,
            log=orders[:1],  # behind: has applied one of the three orders checkpoint 1 covers
        )

    a = g.ids[0]  # type: ignore[attr-defined]
    lies = [replace(honest.proposal, vector=(SeqEntry(a, n),)) for n in (2, *range(4, 40))]
    lagging = lagging_node()
    for lie in lies:
        assert lagging.receive(b"", Completed(lie, honest.signature), 1.0) == []
    assert lagging.statistics().pending_adoptions == 0
    assert lagging.receive(b"", honest, 1.0) == []  # still behind
    (adopted,) = lagging.on_applied(orders[1:], 2.0)  # the orders arrive: the real one
    assert isinstance(adopted, CheckpointAdopted)
    assert lagging.base_number == 1 and adopted.completed == honest
    assert lagging.live.next_seq(a) == 6
    # The scheduled proposer (a Byzantine steward) can sign such lies itself and fill the
    # few places a number has; the node then adopts the checkpoint by state sync (the
    # anti-entropy loop asks a peer for its newest checkpoint and state every few
    # seconds), which checks the state against the group's signature.
    lagging = lagging_node()
    for lie in lies:
        lagging.receive(b"", Completed(by_proposer(g, lie), honest.signature), 1.0)
    lagging.receive(b"", honest, 1.0)
    assert lagging.on_applied(orders[1:], 2.0) == []
    (adopted,) = lagging.adopt_state(honest, state1.copy(), 3.0)  # type: ignore[attr-defined]
    assert isinstance(adopted, CheckpointAdopted) and lagging.live.next_seq(a) == 6
