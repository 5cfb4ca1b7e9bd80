"""A simulator of checkpoint consensus (no network, no trio): n stewards, up to f of them
Byzantine, a lossy network that drops, duplicates and reorders, steward crashes, and a
stream of certified orders that reaches stewards unevenly. Real FROST shares throughout.

Honest stewards run ``CheckpointSteward``; what they persist (lock, adopted base, applied
orders) survives a crash, nothing else does. Byzantine stewards sign whatever they are
asked and, when it is their turn, propose two different checkpoints for one number to
the two halves of the committee. A Byzantine *member* (``StateLiar``) answers state syncs
with lies: a real signed checkpoint and its real state wrapped in a forged proposal (every
seq at 2^64 - 1, or the vector of another checkpoint), old checkpoints replayed, and the
state of one checkpoint under another's signature. After every schedule, no honest
steward has lost an order it applied.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Callable
from dataclasses import replace

from proto.checkpoint import checkpoint_of
from proto.checkpoint_proposals import Completed, Proposal, covers, vector_of
from proto.checkpointing import (
    Broadcast,
    CheckpointAdopted,
    CheckpointSteward,
    PersistCheckpointLock,
    SendToSteward,
)
from proto.codec import Wire, decode
from proto.errors import RemoteProtocolError
from proto.frost.core import derive_group_info, trusted_dealer_keygen
from proto.frost.keys import KeyPackage
from proto.frost.session import (
    CommitmentMsg,
    CommitmentRequest,
    Coordinator,
    SendTo,
    SessionDone,
    ShareMsg,
    Signer,
    SignRequest,
)
from proto.orders import SignedOrder, Transfer
from proto.replica import Replica
from proto.signing import sign
from tests.support import make_group, pub

INTERVAL, TIMEOUT = 5.0, 8.0
STEP = 0.02  # simulated seconds per scheduling step


class HonestNode:
    def __init__(self, sim: CheckpointSim, index: int) -> None:
        self.sim, self.index = sim, index
        self.identity = sim.group.stewards_sorted[index]
        self.id = pub(self.identity)
        self.up = True
        # What survives a crash:
        self.disk_lock: Proposal | None = None
        self.disk_base = (sim.genesis.copy(), 0)
        self.disk_orders: list[SignedOrder] = []
        self.stays_down = False
        self.boot(now=0.0)

    def boot(self, now: float) -> None:
        base, number = self.disk_base
        target = {e.member: e.seq for e in vector_of(base)}
        log = [
            o
            for o in self.disk_orders
            if not all(p.seq <= target.get(p.member, 0) for p in o.order.parties)
        ]
        self.replica = Replica(base.copy(), self.sim.epochs)
        self.replica.add_certified(log)
        self.machine = CheckpointSteward(
            identity=self.identity,
            key=self.sim.keys[self.index + 1],
            wallet_key=self.sim.keys[1].group_public_key,
            epochs=self.sim.epochs,
            base=base.copy(),
            base_number=number,
            adopted_at=now,
            interval=INTERVAL,
            timeout=TIMEOUT,
            random_bytes=self.sim.rng.randbytes,
            lock=self.disk_lock,
            log=log,
        )
        self.up = True

    def carry_out(self, effects: list, now: float) -> None:  # type: ignore[type-arg]
        for e in effects:
            if isinstance(e, PersistCheckpointLock):
                self.disk_lock = e.proposal
                if self.sim.rng.random() < self.sim.crash_rate:
                    self.up = False  # crashed after the lock was durable, before the rest
                    self.sim.crashes += 1
                    return
            elif isinstance(e, CheckpointAdopted):
                self.disk_base = (e.state.copy(), e.completed.proposal.number)
                self.sim.record(e.completed)
                self.sim.liar.states[e.completed.proposal.number] = e.state.copy()
            elif isinstance(e, Broadcast):
                if isinstance(e.message, Completed):
                    self.sim.record(e.message)
                self.sim.broadcast(self.id, e.message)
            elif isinstance(e, SendToSteward):
                self.sim.send(self.id, e.steward, e.message)

    def receive(self, sender: bytes, msg: Wire, now: float) -> None:
        if not self.up:
            return
        if isinstance(msg, SignedOrder):
            applied = self.replica.add_certified([msg])
            if applied:
                self.disk_orders.extend(applied)
                self.carry_out(self.machine.on_applied(applied, now), now)
            return
        self.carry_out(self.machine.receive(sender, msg, now), now)

    def tick(self, now: float) -> None:
        if not self.up:
            if not self.stays_down and self.sim.rng.random() < 0.3:
                self.boot(now)
            return
        self.carry_out(self.machine.tick(now), now)


class ByzantineNode:
    """Signs anything for anyone and equivocates when it is the proposer; or, when
    ``silent``, is simply down."""

    def __init__(self, sim: CheckpointSim, index: int) -> None:
        self.sim, self.index = sim, index
        self.silent = sim.rng.random() < 0.4
        self.identity = sim.group.stewards_sorted[index]
        self.id = pub(self.identity)
        self.key = sim.keys[index + 1]
        self.signer = Signer(self.key)
        self.replica = Replica(sim.genesis.copy(), sim.epochs)
        self.coordinators: dict[bytes, tuple[Coordinator, Proposal]] = {}
        self.proposed: set[int] = set()

    def receive(self, sender: bytes, msg: Wire, now: float) -> None:
        if self.silent:
            return
        if isinstance(msg, SignedOrder):
            self.replica.add_certified([msg])
        elif isinstance(msg, CommitmentRequest):
            self.sim.send(
                self.id, sender, self.signer.on_commitment_request(msg, self.sim.rng.randbytes(64))
            )
        elif isinstance(msg, SignRequest):
            with contextlib.suppress(RemoteProtocolError):
                self.sim.send(self.id, sender, self.signer.on_sign_request(msg))
        elif isinstance(msg, CommitmentMsg | ShareMsg) and msg.session in self.coordinators:
            coordinator, proposal = self.coordinators[msg.session]
            ident = self.sim.committee.index_of(sender) + 1
            self.run(coordinator, proposal, coordinator.receive(ident, msg, now), now)

    def run(self, coordinator: Coordinator, proposal: Proposal, out: list, now: float) -> None:  # type: ignore[type-arg]
        for e in out:
            if isinstance(e, SendTo):
                target = self.sim.committee.stewards[e.identifier - 1]
                if target == self.id:
                    reply = (
                        self.signer.on_commitment_request(e.message, self.sim.rng.randbytes(64))
                        if isinstance(e.message, CommitmentRequest)
                        else self.signer.on_sign_request(e.message)  # type: ignore[arg-type]
                    )
                    self.run(
                        coordinator, proposal, coordinator.receive(e.identifier, reply, now), now
                    )
                else:
                    self.sim.send(self.id, target, e.message)
            elif isinstance(e, SessionDone):
                completed = Completed(proposal, e.signature)
                self.sim.record(completed)
                self.sim.broadcast(self.id, completed)

    def tick(self, now: float) -> None:
        if self.silent:
            return
        n = self.sim.committee.n
        latest = max(self.sim.signed, default=0)
        number = latest + 1 + self.sim.rng.randint(0, 2)
        if number % n != self.index or number in self.proposed:
            return
        self.proposed.add(number)
        states = [self.sim.genesis, self.replica.state]
        others = [s for s in self.sim.honest if s.up]
        halves = [others[: len(others) // 2], others[len(others) // 2 :]]
        for state, half in zip(states, halves, strict=True):
            vector = vector_of(state)
            body = Proposal(
                0, self.id, vector, 0, (), (), (), checkpoint_of(state, number), bytes(64)
            )
            sig = sign(self.identity, "checkpoint-proposal", self.sim.gid, body.body())
            proposal = Proposal(0, self.id, vector, 0, (), (), (), body.checkpoint, sig)
            coordinator = Coordinator(
                session=proposal.session_id(),
                message=proposal.checkpoint.signing_message(),
                group_public_key=self.key.group_public_key,
                public_shares=dict(self.key.public_shares),
                threshold=self.key.threshold,
                available=list(self.key.public_shares),
                timeout=TIMEOUT / 4,
            )
            self.coordinators[proposal.session_id()] = (coordinator, proposal)
            for node in half:
                self.sim.send(self.id, node.id, proposal)
            self.run(coordinator, proposal, coordinator.start(now), now)


class StateLiar:
    """A member answering ``/swapnet/checkpoint-state/1``: it holds every checkpoint the
    group signed and every state an honest steward adopted, and lies about them."""

    def __init__(self, sim: CheckpointSim) -> None:
        self.sim = sim
        self.states: dict[int, object] = {}
        self.lies = 0

    def answer(self, target: HonestNode, now: float) -> None:
        rng, sim = self.sim.rng, self.sim
        if not self.states or not target.up:
            return
        number = rng.choice(sorted(self.states))
        state = self.states[number].copy()  # type: ignore[attr-defined]
        signed = [c for c in sim.completed.values() if c.proposal.number == number]
        if not signed:
            return
        honest = signed[0]
        how = rng.randrange(3)
        if how == 0:  # every seq at its maximum: "drop every order you logged"
            vector = tuple(replace(e, seq=2**64 - 1) for e in vector_of(state))
        elif how == 1:  # another checkpoint's vector
            other = rng.choice(list(sim.completed.values()))
            vector = other.proposal.vector
        else:  # the vector of genesis: "you applied nothing"
            vector = ()
        forged = Completed(replace(honest.proposal, vector=vector), honest.signature)
        if rng.random() < 0.3:  # or a state that is not the one this checkpoint signed
            state = sim.genesis.copy()
        self.lies += 1
        target.carry_out(target.machine.adopt_state(forged, state, now), now)


class CheckpointSim:
    def __init__(self, seed: int) -> None:
        self.rng = rng = random.Random(seed)
        n = rng.choice([4, 4, 5, 7])
        f = (n - 1) // 3
        byzantine = rng.randint(0, f)
        self.group = make_group(seed=f"cp{seed}", stewards=n, members=4, funding=1000)
        self.group.stewards_sorted = sorted(self.group.stewards, key=pub)  # type: ignore[attr-defined]
        self.gid = self.group.group_id
        self.committee = self.group.committee
        self.epochs = self.group.epochs
        self.genesis = self.group.genesis_state()
        t = self.committee.quorum
        shares, pk, commitment = trusted_dealer_keygen(
            rng.randrange(1, 2**250), [rng.randrange(1, 2**250) for _ in range(t - 1)], n
        )
        _, public = derive_group_info(list(shares), commitment)
        self.keys = {i: KeyPackage(i, s, pk, public, t) for i, s in shares.items()}
        self.wallet_key = pk
        self.drop = rng.choice([0.0, 0.1, 0.2])
        self.dup = rng.choice([0.0, 0.1])
        self.crash_rate = rng.choice([0.0, 0.05])
        self.crashes = 0
        self.inflight: list[tuple[bytes, bytes, bytes]] = []
        self.signed: dict[int, set[bytes]] = {}
        self.completed: dict[bytes, Completed] = {}
        bad = set(rng.sample(range(n), byzantine))
        self.nodes: dict[bytes, HonestNode | ByzantineNode] = {}
        for i in range(n):
            node = ByzantineNode(self, i) if i in bad else HonestNode(self, i)
            self.nodes[node.id] = node
        self.honest = [x for x in self.nodes.values() if isinstance(x, HonestNode)]
        self.liar = StateLiar(self)
        self.lie_rate = rng.choice([0.0, 0.01, 0.03])
        self.orders = self.order_stream(rng.randint(10, 40))
        self.now = 0.0

    def order_stream(self, length: int) -> list[SignedOrder]:
        state = self.genesis.copy()
        ids = self.group.ids
        out = []
        for _ in range(length):
            a, b = self.rng.sample(ids, 2)
            have = state.balance(a, "USD")
            if have < 1:
                continue
            order = self.group.sign(
                Transfer(a, state.next_seq(a), b, "USD", self.rng.randint(1, have), b"")
            )
            state.apply(order.order)
            out.append(order)
        return out

    # -- network ------------------------------------------------------------------------
    def send(self, src: bytes, dest: bytes, msg: Wire) -> None:
        if self.rng.random() < self.drop:
            return
        data = msg.encode()
        self.inflight.append((src, dest, data))
        if self.rng.random() < self.dup:
            self.inflight.append((src, dest, data))

    def broadcast(self, src: bytes, msg: Wire) -> None:
        for dest in self.nodes:
            if dest != src:
                self.send(src, dest, msg)

    def deliver_one(self) -> None:
        i = self.rng.randrange(len(self.inflight))
        src, dest, data = self.inflight.pop(i)
        try:
            msg = decode(data, Wire)
        except RemoteProtocolError:
            return
        self.nodes[dest].receive(src, msg, self.now)

    def record(self, completed: Completed) -> None:
        completed.signed.verify(self.wallet_key)
        number = completed.proposal.number
        self.signed.setdefault(number, set()).add(completed.proposal.checkpoint.encode())
        self.completed[completed.proposal.checkpoint.encode()] = completed

    # -- schedule -----------------------------------------------------------------------
    def run(self, steps: int = 4000) -> None:
        rng = self.rng
        released = 0
        for _ in range(steps):  # lossy phase
            self.now += STEP
            r = rng.random()
            if r < 0.05 and released < len(self.orders):
                for node in self.nodes.values():  # a certified order reaches some stewards
                    if rng.random() < 0.7:
                        self.send(b"", node.id, self.orders[released])
                released += 1
            elif r < 0.12 and released:  # sync, lossy too: a steward fetches an order it lacks
                node = rng.choice(list(self.nodes.values()))
                self.send(b"", node.id, self.orders[rng.randrange(released)])
            elif self.inflight and r < 0.85:
                self.deliver_one()
            elif r > 1 - self.lie_rate:  # a member answers a state sync with a lie
                self.liar.answer(rng.choice(self.honest), self.now)
            else:
                rng.choice(list(self.nodes.values())).tick(self.now)
        self.drop = self.dup = self.crash_rate = 0.0  # the network heals; everyone restarts,
        self.completed_before_healing = len(self.signed)
        f = self.committee.f
        silent = sum(1 for x in self.nodes.values() if isinstance(x, ByzantineNode) and x.silent)
        down = rng.sample(
            self.honest,
            rng.randint(0, f - sum(1 for x in self.nodes.values() if isinstance(x, ByzantineNode))),
        )
        for node in self.honest:  # but up to f stewards stay down (with the silent ones)
            if node in down:
                node.up, node.stays_down = False, True
            elif not node.up:
                node.boot(self.now)
        self.down = len(down) + silent
        self.run_healed(lambda: self.progress_after_healing() >= 2, 6000)

    def run_healed(self, done: Callable[[], bool], steps: int) -> None:
        """A network that loses nothing: every steward gets every order (the sync
        protocol), then every message is delivered and the honest nodes tick, until
        ``done()`` or ``steps`` steps."""
        for order in self.orders:
            for node in self.nodes.values():
                self.send(b"", node.id, order)
        self.healed_at = max(self.signed, default=0)
        for _ in range(steps):
            self.now += STEP
            while self.inflight:
                self.deliver_one()
            for node in self.honest:
                node.tick(self.now)
            if done():
                break

    def progress_after_healing(self) -> int:
        return len([n for n in self.signed if n > self.healed_at])

    def check(self) -> None:
        for number, bodies in self.signed.items():
            assert len(bodies) == 1, f"two different signed checkpoints for number {number}"
        ordered = sorted(self.completed.values(), key=lambda c: c.proposal.number)
        for older, newer in itertools.pairwise(ordered):
            assert covers(newer.proposal.vector, older.proposal.vector), "a seq vector went down"
        assert self.progress_after_healing() >= 2, "checkpoints stopped completing"
        for node in self.honest:  # nothing a peer said removed an order a steward applied
            if node.up:
                applied = vector_of(node.replica.state)
                assert covers(vector_of(node.machine.live), applied), "an applied order was undone"
        for node in self.honest:  # what a steward adopted is a signed checkpoint, exactly
            base, number = node.disk_base
            if number:
                (body,) = self.signed[number]
                assert checkpoint_of(base, number).encode() == body, "adopted another state"
