"""An in-memory simulator of a group: n stewards (up to f Byzantine), honest members,
one equivocating member, and one replaying member (``Replayer``: it sends every message it
saw again, to anyone, and certificates the same stewards formed in another group), over a
network that drops, duplicates and reorders.

Everything runs on the real proto machines (Steward, Replica, VoteCollector) and real
encodings: every message crosses the "wire" as bytes and is strictly decoded on arrival.
Honest stewards persist their vote locks and replica to a MemoryStore through the real
repositories, and may crash between persisting and sending; a restarted steward is
rebuilt from its store only. No trio, no sockets, no clock: one seeded ``random.Random``
drives the whole schedule, so a failing seed replays exactly.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from nacl.signing import SigningKey

from proto.codec import Wire, decode
from proto.effects import ForgetVoteLocks, PersistVoteLocks, SendVote
from proto.errors import RemoteProtocolError
from proto.orders import Leg, Party, SignedOrder, Swap, Transfer, sign_order
from proto.replica import Replica
from proto.state import GroupState
from proto.steward import Steward
from proto.validation import check_batch
from proto.votes import (
    Batch,
    Certificate,
    Vote,
    VoteCollector,
    certificate_from_votes,
    make_vote,
    verify_certificate,
)
from storage import MemoryStore
from storage.repos import ReplicaRepo, VoteLockRepo
from tests.support import Group, make_group, pub


@dataclass
class Net:
    rng: random.Random
    drop: float
    dup: float
    inflight: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)

    def send(self, src: bytes, dest: bytes, data: bytes) -> None:
        if self.rng.random() < self.drop:
            return
        self.inflight.append((src, dest, data))
        if self.rng.random() < self.dup:
            self.inflight.append((src, dest, data))

    def pop(self) -> tuple[bytes, bytes, bytes]:
        i = self.rng.randrange(len(self.inflight))
        self.inflight[i], self.inflight[-1] = self.inflight[-1], self.inflight[i]
        return self.inflight.pop()


class Node:
    def __init__(self, sim: Sim, key: SigningKey) -> None:
        self.sim = sim
        self.key = key
        self.id = pub(key)

    def receive(self, src: bytes, data: bytes) -> None:
        try:
            msg = decode(data, Wire)
            self.handle(src, msg)
        except RemoteProtocolError:
            self.sim.dropped_bad += 1

    def handle(self, src: bytes, msg: Wire) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """Called when this node gets a turn with nothing delivered."""


class HonestSteward(Node):
    def __init__(self, sim: Sim, key: SigningKey) -> None:
        super().__init__(sim, key)
        self.store = MemoryStore()
        self.up = True
        self.steward = Steward(key, sim.group.replica())
        ReplicaRepo(self.store, sim.gid).save(self.steward.replica)

    @property
    def replica(self) -> Replica:
        return self.steward.replica

    def handle(self, src: bytes, msg: Wire) -> None:
        if not self.up:
            return
        if isinstance(msg, Batch):
            for effect in self.steward.handle_batch(msg):
                if isinstance(effect, PersistVoteLocks):
                    VoteLockRepo(self.store, self.sim.gid).persist(effect.orders)
                    if self.sim.rng.random() < self.sim.crash_rate:
                        self.crash()  # after the locks are durable, before the vote leaves
                        return
                elif isinstance(effect, SendVote):
                    self.sim.net.send(self.id, src, effect.vote.encode())
        elif isinstance(msg, Certificate):
            before = self.replica.version
            effects = self.steward.receive_certificate(msg)
            if self.replica.version != before:
                ReplicaRepo(self.store, self.sim.gid).save(self.replica)
            for effect in effects:
                if isinstance(effect, ForgetVoteLocks):
                    VoteLockRepo(self.store, self.sim.gid).forget(effect.keys)
            self.sim.check_replica(self.replica)

    def crash(self) -> None:
        self.up = False
        self.sim.crashes += 1

    def tick(self) -> None:
        if not self.up:  # restart from the store alone
            replica = ReplicaRepo(self.store, self.sim.gid).load(self.sim.group.epochs)
            assert replica is not None
            locks = VoteLockRepo(self.store, self.sim.gid).load()
            self.steward = Steward(self.key, replica, locks)
            self.up = True


class ByzantineSteward(Node):
    """Votes for every batch it sees, conflicting or not; sometimes sends a forged vote."""

    def handle(self, src: bytes, msg: Wire) -> None:
        if isinstance(msg, Batch):
            digest = msg.digest(self.sim.gid)
            vote = make_vote(self.key, self.sim.gid, digest)
            if self.sim.rng.random() < 0.1:
                vote = Vote(0, digest, self.id, bytes(64))
            self.sim.net.send(self.id, src, vote.encode())
            if self.sim.rng.random() < 0.05:
                self.sim.net.send(self.id, src, b"\x93\x01garbage")


class Client(Node):
    """An honest member: certifies its own orders one batch at a time, never changing a
    batch once sent, and re-sends the batch and the certificates it holds until done."""

    def __init__(self, sim: Sim, key: SigningKey, partner: SigningKey, batches: int) -> None:
        super().__init__(sim, key)
        self.partner = partner
        self.remaining = batches
        self.replica = sim.group.replica()
        self.known: dict[bytes, Certificate] = {}
        self.collector: VoteCollector | None = None

    @property
    def done(self) -> bool:
        return self.remaining == 0 and self.collector is None

    def handle(self, src: bytes, msg: Wire) -> None:
        if isinstance(msg, Vote) and self.collector is not None:
            cert = self.collector.add(msg)
            if cert is not None:
                self.collector = None
                self.sim.certified(cert)
                self.learn(cert)
                self.sim.broadcast(self.id, cert)
        elif isinstance(msg, Certificate):
            self.learn(msg)

    def learn(self, cert: Certificate) -> None:
        digest = cert.batch.digest(self.sim.gid)
        if digest in self.known:
            return
        self.replica.receive_certificate(cert)  # verifies; raises on a bad certificate
        self.known[digest] = cert
        self.sim.check_replica(self.replica)

    def tick(self) -> None:
        if self.collector is None and self.remaining:
            batch = self.next_batch()
            if batch is None:
                return
            self.remaining -= 1
            self.collector = VoteCollector(batch, self.sim.group.epoch, self.sim.gid)
        if self.collector is not None:
            resend_certificates = self.sim.rng.random() < 0.3 or self.sim.healed
            for steward in self.sim.steward_ids:
                self.sim.net.send(self.id, steward, self.collector.batch.encode())
                if resend_certificates:
                    for cert in self.known.values():
                        self.sim.net.send(self.id, steward, cert.encode())

    def next_batch(self) -> Batch | None:
        rng, state, g = self.sim.rng, self.replica.state, self.sim.group
        me, partner = self.id, pub(self.partner)
        spent: dict[tuple[bytes, str], int] = {}
        seqs = {me: state.next_seq(me), partner: state.next_seq(partner)}
        orders: list[SignedOrder] = []

        def free(m: bytes, asset: str) -> int:
            return state.balance(m, asset) - spent.get((m, asset), 0)

        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.25 and free(me, "USD") > 1 and free(partner, "BTC") > 1:
                usd = rng.randint(1, free(me, "USD") // 2 or 1)
                btc = rng.randint(1, free(partner, "BTC") // 2 or 1)
                parties = tuple(
                    sorted(
                        (Party(me, seqs[me]), Party(partner, seqs[partner])), key=lambda p: p.member
                    )
                )
                legs = tuple(
                    sorted(
                        (Leg(me, partner, "USD", usd), Leg(partner, me, "BTC", btc)),
                        key=lambda x: (x.payer, x.payee, x.asset),
                    )
                )
                signed = g.sign(Swap(parties, legs, b""))
            else:
                asset = rng.choice(["USD", "BTC"])
                if free(me, asset) < 1:
                    continue
                to = rng.choice([m for m in g.ids if m != me])
                amount = rng.randint(1, max(1, free(me, asset) // 2))
                signed = g.sign(Transfer(me, seqs[me], to, asset, amount, b""))
            for p in signed.order.parties:
                seqs[p.member] += 1
            for k, v in signed.order.debits().items():
                spent[k] = spent.get(k, 0) + v
            orders.append(signed)
        if not orders:
            return None
        assert check_batch(state, tuple(orders), self.sim.gid) == []
        return Batch(tuple(orders))


class Equivocator(Node):
    """A member that signs two different orders for its next seq and shows each to a
    different half of the stewards, and sometimes tries to overspend."""

    def __init__(self, sim: Sim, key: SigningKey) -> None:
        super().__init__(sim, key)
        self.replica = sim.group.replica()
        self.collectors: list[VoteCollector] = []

    def handle(self, src: bytes, msg: Wire) -> None:
        if isinstance(msg, Certificate):
            try:
                self.replica.receive_certificate(msg)
            except RemoteProtocolError:
                return
        elif isinstance(msg, Vote):
            for collector in self.collectors:
                try:
                    cert = collector.add(msg)
                except RemoteProtocolError:
                    continue
                if cert is not None:
                    self.sim.certified(cert)
                    self.sim.broadcast(self.id, cert)

    def tick(self) -> None:
        rng, g, state = self.sim.rng, self.sim.group, self.replica.state
        me, seq = self.id, state.next_seq(self.id)
        have = state.balance(me, "USD")
        if have < 1:
            return
        targets = [m for m in g.ids if m != me]
        if rng.random() < 0.3:
            bad = Batch((g.sign(Transfer(me, seq, rng.choice(targets), "USD", have + 1, b"")),))
            batches = [(bad, self.sim.steward_ids)]
        else:
            a = g.sign(Transfer(me, seq, rng.choice(targets), "USD", rng.randint(1, have), b"x"))
            b = g.sign(Transfer(me, seq, rng.choice(targets), "USD", rng.randint(1, have), b"y"))
            ids = self.sim.steward_ids[:]
            rng.shuffle(ids)
            half = len(ids) // 2
            batches = [(Batch((a,)), ids[:half]), (Batch((b,)), ids[half:])]
        for batch, stewards in batches:
            self.collectors.append(VoteCollector(batch, g.epoch, self.sim.gid))
            for s in stewards:
                self.sim.net.send(me, s, batch.encode())
        self.collectors = self.collectors[-6:]


class Replayer(Node):
    """A Byzantine member that replays: every certificate, vote and batch it has seen,
    again, to anyone, at any time; and a certificate of another group (the same stewards
    run both) over its own order with the seq it would use here. None of it may change an
    honest member's state: replays are idempotent, and signatures name their group."""

    KEPT = 64

    def __init__(self, sim: Sim, key: SigningKey) -> None:
        super().__init__(sim, key)
        self.seen: list[bytes] = []
        self.replays = 0
        other = hashlib.sha256(b"swapnet/test/another-group" + sim.gid).digest()
        g = sim.group
        target = next(m for m in g.ids if m != self.id)
        order = sign_order(Transfer(self.id, 1, target, "USD", 999, b"elsewhere"), g.keys, other)
        batch = Batch((order,))
        votes = [make_vote(k, other, batch.digest(other)) for k in g.stewards]
        self.foreign = certificate_from_votes(batch, votes, g.epoch, other)

    def receive(self, src: bytes, data: bytes) -> None:
        self.seen.append(data)
        self.seen = self.seen[-self.KEPT :]

    def tick(self) -> None:
        rng = self.sim.rng
        dest = rng.choice([n for n in self.sim.nodes if n != self.id])
        data = rng.choice(self.seen) if self.seen and rng.random() < 0.8 else None
        self.sim.net.send(self.id, dest, data if data is not None else self.foreign.encode())
        self.replays += 1


class Sim:
    def __init__(self, seed: int) -> None:
        self.rng = rng = random.Random(seed)
        n = rng.choice([4, 4, 5, 7])
        f = (n - 1) // 3
        byzantine = rng.randint(0, f)
        self.group: Group = make_group(seed=f"sim{seed}", stewards=n, members=8, funding=1000)
        self.gid = self.group.group_id
        self.net = Net(rng, drop=rng.choice([0.0, 0.1, 0.3]), dup=rng.choice([0.0, 0.1]))
        self.crash_rate = rng.choice([0.0, 0.05])
        self.healed = False
        self.dropped_bad = 0
        self.crashes = 0
        self.all_certificates: dict[bytes, Certificate] = {}
        self.genesis_totals = self.group.genesis_state().totals()

        stewards = self.group.stewards
        self.stewards: list[Node] = [ByzantineSteward(self, k) for k in stewards[:byzantine]]
        self.stewards += [HonestSteward(self, k) for k in stewards[byzantine:]]
        self.steward_ids = [s.id for s in self.stewards]
        m = self.group.members
        self.clients = [Client(self, m[i], m[i + 3], rng.randint(2, 5)) for i in range(3)]
        self.equivocator = Equivocator(self, m[6])
        self.nodes: dict[bytes, Node] = {
            x.id: x for x in [*self.stewards, *self.clients, self.equivocator]
        }
        self.replayer = Replayer(self, m[7])
        self.nodes[self.replayer.id] = self.replayer

    # -- plumbing -----------------------------------------------------------------------
    def broadcast(self, src: bytes, cert: Certificate) -> None:
        for dest in self.nodes:
            if dest != src:
                self.net.send(src, dest, cert.encode())

    def certified(self, cert: Certificate) -> None:
        self.all_certificates[cert.batch.digest(self.gid)] = cert

    def check_replica(self, replica: Replica) -> None:
        for account in replica.state.accounts.values():
            assert all(v > 0 for v in account.balances.values()), "a balance went negative"

    def honest_replicas(self) -> list[Replica]:
        reps = [s.replica for s in self.stewards if isinstance(s, HonestSteward)]
        return reps + [c.replica for c in self.clients]

    # -- the schedule -------------------------------------------------------------------
    def run(self, steps: int = 3000) -> None:
        rng = self.rng
        actors = list(self.nodes.values())
        for _ in range(steps):  # phase 1: lossy, duplicating, reordering, crashing
            if self.net.inflight and rng.random() < 0.85:
                src, dest, data = self.net.pop()
                self.nodes[dest].receive(src, data)
            else:
                rng.choice(actors).tick()
        self.net.drop = self.net.dup = 0.0  # phase 2: the network heals, crashed nodes restart
        self.crash_rate = 0.0
        self.healed = True
        for s in self.stewards:
            s.tick() if isinstance(s, HonestSteward) and not s.up else None
        self.equivocator.tick = lambda: None  # type: ignore[method-assign]
        for _ in range(200):
            while self.net.inflight:
                src, dest, data = self.net.pop()
                self.nodes[dest].receive(src, data)
            if all(c.done for c in self.clients):
                break
            for c in self.clients:
                c.tick()
        self.sync()

    def sync(self) -> None:
        """What the sync protocol guarantees: every honest member ends up holding every
        certificate that any honest member holds."""
        held: dict[bytes, Certificate] = {}
        for s in self.stewards:
            if isinstance(s, HonestSteward):
                held.update(
                    (d, c)
                    for d, c in self.all_certificates.items()
                    if any(self._applied_or_waiting(s.replica, o) for o in c.batch.orders)
                )
        for c in self.clients:
            held.update(c.known)
        for replica in self.honest_replicas():
            for cert in held.values():
                replica.receive_certificate(cert)

    @staticmethod
    def _applied_or_waiting(replica: Replica, signed: SignedOrder) -> bool:
        p = signed.order.parties[0]
        return p.seq < replica.state.next_seq(p.member) or (p.member, p.seq) in replica.waiting

    # -- the properties -----------------------------------------------------------------
    def check(self) -> None:
        # No two conflicting orders are both certified, among all certificates anyone formed.
        owner: dict[tuple[bytes, int], bytes] = {}
        for cert in self.all_certificates.values():
            verify_certificate(cert, self.group.epochs, self.gid)
            for signed in cert.batch.orders:
                for p in signed.order.parties:
                    prior = owner.setdefault((p.member, p.seq), signed.order_id)
                    assert prior == signed.order_id, "two conflicting orders were certified"
        replicas = self.honest_replicas()
        reference = replicas[0].state.encode()
        for replica in replicas:
            assert replica.waiting == {}, "a certified order never became applicable"
            assert replica.conflicts == []
            assert replica.state.encode() == reference, "honest members diverged"
            assert replica.state.totals() == self.genesis_totals, "value not conserved"
        assert all(c.done for c in self.clients), "an honest client's orders were not certified"
        for replica in replicas:  # another group's certificate, replayed here, took nothing
            assert replica.state.next_seq(self.replayer.id) == 1, "a foreign certificate applied"
        final = GroupState.decode(reference)
        assert all(v > 0 for a in final.accounts.values() for v in a.balances.values())
