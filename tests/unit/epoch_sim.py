"""An in-memory simulator of a hand-over between two committees (``proto.handover``).

A group runs epoch 0 with an old committee (4, 5 or 7 stewards) and hands over, while its
members pay, to a new one: stewards added, removed and the threshold changed, the two
committees overlapping as a real change does. Up to f stewards of the old committee and
up to f of the new one are Byzantine (a steward may be in both): they vote for anything
in any epoch and seal with whatever locks they like (a subset of what they voted for,
orders of an equivocating member, none). An equivocating member signs two orders for one
seq in both epochs and keeps collecting votes of the old epoch after the hand-over; or
gets one order certified in the old epoch, shows the certificate only to a few stewards
(at random, or exactly those the new committee drops), and asks the whole new committee
to certify another order for the same seq. Half the time the hand-over is assembled by a
hostile party that waits for more seals than a quorum and keeps the quorum carrying the
fewest orders. The network drops, duplicates and reorders; honest stewards crash between
persisting a lock, a seal or a hand-over and acting on it, and restart from their store
alone.

Checkpoints come from an oracle: now and then the state of an honest replica that covers
the last checkpoint (a prefix of the certified history, as a signed checkpoint is), given
to some stewards; during the hand-over no checkpoint reaches the next epoch's first (the
old committee signs none at or past it, the new one none before it exists).

Everything runs on the real proto machines (Steward, Replica, VoteCollector, seals,
hand-overs) and real encodings: every message crosses the "wire" as bytes and is strictly
decoded on arrival. No trio, no sockets, no clock: one seeded ``random.Random``.
"""

from __future__ import annotations

import random

from nacl.signing import SigningKey

from proto.codec import Wire, decode
from proto.effects import ForgetVoteLocks, PersistSeal, PersistVoteLocks, SendSeal, SendVote
from proto.epochs import Epoch, Epochs
from proto.errors import LocalProtocolError, RemoteProtocolError
from proto.handover import Handover, Seal, make_seal, verify_handover
from proto.orders import SignedOrder, Transfer
from proto.replica import Replica
from proto.state import GroupState
from proto.steward import Steward
from proto.validation import check_batch
from proto.votes import Batch, Certificate, Vote, VoteCollector, make_vote, verify_certificate
from storage import MemoryStore
from storage.repos import EpochRepo, ReplicaRepo, VoteLockRepo
from tests.support import Group, make_group, pub
from tests.unit.sim import Net


def quorum_of(n: int) -> int:
    return (n + (n - 1) // 3 + 2) // 2


class Node:
    def __init__(self, sim: EpochSim, key: SigningKey) -> None:
        self.sim = sim
        self.key = key
        self.id = pub(key)

    def receive(self, src: bytes, data: bytes) -> None:
        try:
            self.handle(src, self.sim.decode(data))
        except RemoteProtocolError:
            self.sim.refused += 1

    def handle(self, src: bytes, msg: Wire) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """A turn with nothing delivered."""


class HonestSteward(Node):
    def __init__(self, sim: EpochSim, key: SigningKey) -> None:
        super().__init__(sim, key)
        self.store = MemoryStore()
        self.up = True
        self.disk_checkpoint = 0
        """The number of the last checkpoint adopted (a checkpoint repo's, in the node)."""
        self.log: list[SignedOrder] = []
        """Every order of every certificate applied here (the node's certificate repo)."""
        self.steward = Steward(key, Replica(sim.group.genesis_state(), sim.genesis_epochs))

    @property
    def replica(self) -> Replica:
        return self.steward.replica

    def save(self) -> None:
        ReplicaRepo(self.store, self.sim.gid).save(self.replica)

    def handle(self, src: bytes, msg: Wire) -> None:
        if not self.up:
            return
        sim = self.sim
        if isinstance(msg, Batch):
            for effect in self.steward.handle_batch(msg):
                if isinstance(effect, PersistVoteLocks):
                    VoteLockRepo(self.store, sim.gid).persist(effect.orders)
                    if sim.rng.random() < sim.crash_rate:
                        return self.crash()  # the locks are durable, the vote never left
                elif isinstance(effect, SendVote):
                    sim.net.send(self.id, src, effect.vote.encode())
        elif isinstance(msg, Certificate):
            before = self.replica.version
            self.steward.receive_certificate(msg)
            if self.replica.version != before:
                self.log.extend(msg.batch.orders)  # the node stores it as it applies it
        elif isinstance(msg, Epoch):  # a request to seal the current epoch for this next one
            try:
                effects = self.steward.seal(msg)
            except LocalProtocolError:
                return  # not ours to seal, sealed for another, or past its first checkpoint
            for effect in effects:
                if isinstance(effect, PersistSeal):
                    EpochRepo(self.store, sim.gid).save_seal(effect.seal)
                    if sim.rng.random() < sim.crash_rate:
                        return self.crash()  # sealed on disk, the seal never left
                elif isinstance(effect, SendSeal):
                    sim.net.send(self.id, src, effect.seal.encode())
        elif isinstance(msg, Handover):
            if len(self.replica.epochs) > msg.next.number:
                return  # already in it
            effects = self.steward.enter(msg)  # raises on a bad one: nothing changed
            EpochRepo(self.store, sim.gid).add_handover(msg)
            for effect in effects:
                if isinstance(effect, ForgetVoteLocks):
                    VoteLockRepo(self.store, sim.gid).forget(effect.keys)

    def adopt(self, number: int, state: GroupState) -> None:
        """A checkpoint ``number`` with ``state``: the node's live state is it plus the
        certified orders this steward holds beyond it (as ``CheckpointSteward._take``)."""
        if not self.up or number <= self.steward.checkpoint:
            return
        live = state.copy()
        Replica(live, self.replica.epochs).add_certified(self.log)
        self.replica.replace_state(live)
        self.disk_checkpoint = number
        for effect in self.steward.adopt_checkpoint(number, state):
            if isinstance(effect, ForgetVoteLocks):
                VoteLockRepo(self.store, self.sim.gid).forget(effect.keys)

    def crash(self) -> None:
        """Stop. The node stores every certificate as it applies it, so its store holds
        the replica as it is now: written here once instead of after each certificate
        (the locks, the seal and the hand-overs were written where the node writes them)."""
        self.save()
        self.up = False
        self.sim.crashes += 1

    def tick(self) -> None:
        if self.up:
            return
        sim = self.sim  # restart from the store alone
        replica = ReplicaRepo(self.store, sim.gid).load(sim.genesis_epochs)
        assert replica is not None
        repo = EpochRepo(self.store, sim.gid)
        handovers = repo.load_handovers()
        for handover in handovers:
            replica.enter(handover)
        self.steward = Steward(
            self.key,
            replica,
            VoteLockRepo(self.store, sim.gid).load(),
            seal=repo.load_seal(),
            checkpoint=self.disk_checkpoint,
            epoch_base=handovers[-1].base if handovers else 0,
        )
        self.up = True


class ByzantineSteward(Node):
    """Votes for every batch in every epoch; seals with the locks it likes."""

    def __init__(self, sim: EpochSim, key: SigningKey) -> None:
        super().__init__(sim, key)
        self.seen: list[SignedOrder] = []

    def handle(self, src: bytes, msg: Wire) -> None:
        sim, rng = self.sim, self.sim.rng
        if isinstance(msg, Batch):
            self.seen.extend(msg.orders)
            self.seen = self.seen[-40:]
            digest = msg.digest(sim.gid)
            for epoch in (0, 1):
                sim.net.send(self.id, src, make_vote(self.key, sim.gid, digest, epoch).encode())
        elif isinstance(msg, Epoch):
            # hide what it voted for (a double spend's friend), or show some of it
            locks = [] if rng.random() < 0.6 else [o for o in self.seen if rng.random() < 0.5]
            seal = make_seal(self.key, sim.gid, 0, msg, rng.randrange(sim.first), locks)
            sim.net.send(self.id, src, seal.encode())


class Client(Node):
    """An honest member: one batch at a time, never changed once sent; it follows the
    hand-over (re-asking the new committee for the same batch) and records which epoch's
    certificate applied each of its orders."""

    def __init__(self, sim: EpochSim, key: SigningKey, batches: int) -> None:
        super().__init__(sim, key)
        self.remaining = batches
        self.replica = Replica(sim.group.genesis_state(), sim.genesis_epochs)
        self.known: dict[bytes, Certificate] = {}
        self.collector: VoteCollector | None = None
        self.sent: list[SignedOrder] = []
        self.told: dict[bytes, int] = {}
        """Order id -> the epoch of the certificate that applied it (what the payer is told)."""

    @property
    def done(self) -> bool:
        return self.remaining == 0 and self.collector is None

    def handle(self, src: bytes, msg: Wire) -> None:
        if isinstance(msg, Vote) and self.collector is not None:
            try:
                cert = self.collector.add(msg)
            except RemoteProtocolError:
                return  # a vote of another epoch or batch
            if cert is not None:
                self.collector = None
                self.sim.certified(cert)
                self.learn(cert)
                self.sim.broadcast(self.id, cert.encode())
        elif isinstance(msg, Certificate):
            self.learn(msg)
        elif isinstance(msg, Handover) and len(self.replica.epochs) == msg.next.number:
            self.replica.enter(msg)
            if self.collector is not None:  # ask the new committee for the same batch
                self.collector = VoteCollector(self.collector.batch, msg.next, self.sim.gid)

    def learn(self, cert: Certificate) -> None:
        digest = cert.batch.digest(self.sim.gid)
        if digest in self.known:
            return
        for signed in self.replica.receive_certificate(cert):
            if signed.order.parties[0].member == self.id:
                self.told.setdefault(signed.order_id, cert.epoch)
        self.known[digest] = cert
        if self.collector is not None and all(
            p.seq < self.replica.state.next_seq(p.member)
            for o in self.collector.batch.orders
            for p in o.order.parties
        ):
            self.collector = None  # certified in the other epoch: done

    def tick(self) -> None:
        sim = self.sim
        if self.collector is None and self.remaining:
            batch = self.next_batch()
            if batch is None:
                return
            self.remaining -= 1
            self.sent.extend(batch.orders)
            self.collector = VoteCollector(batch, self.replica.epochs.current, sim.gid)
        if self.collector is not None:
            for steward in self.collector.epoch.stewards:
                sim.net.send(self.id, steward, self.collector.batch.encode())
                if sim.healed or sim.rng.random() < 0.3:
                    for cert in self.known.values():
                        sim.net.send(self.id, steward, cert.encode())

    def next_batch(self) -> Batch | None:
        rng, state, g = self.sim.rng, self.replica.state, self.sim.group
        seq, have = state.next_seq(self.id), state.balance(self.id, "USD")
        orders = []
        for _ in range(rng.randint(1, 3)):
            if have < 2:
                break
            amount = rng.randint(1, have // 2)
            to = rng.choice([m for m in self.sim.payees if m != self.id])
            orders.append(g.sign(Transfer(self.id, seq, to, "USD", amount, b"")))
            seq, have = seq + 1, have - amount
        if not orders:
            return None
        assert check_batch(state, tuple(orders), self.sim.gid) == []
        return Batch(tuple(orders))


class Equivocator(Node):
    """A member out to spend one seq twice. Now and then it signs two orders for its next
    seq and shows each to half of a committee (the epoch it knows, and the old one after
    the hand-over). Otherwise it sends one order to the whole old committee, keeps the
    certificate to itself if it gets one, and once it learns of the hand-over asks the
    new committee, all of it, to certify another order for the same seq."""

    def __init__(self, sim: EpochSim, key: SigningKey) -> None:
        super().__init__(sim, key)
        self.replica = Replica(sim.group.genesis_state(), sim.genesis_epochs)
        self.collectors: list[VoteCollector] = []
        self.first_spends: list[SignedOrder] = []
        self.withheld: set[bytes] = set()

    def handle(self, src: bytes, msg: Wire) -> None:
        if isinstance(msg, Certificate):
            try:
                self.replica.receive_certificate(msg)
            except RemoteProtocolError:
                return
        elif isinstance(msg, Handover) and len(self.replica.epochs) == msg.next.number:
            self.replica.enter(msg)
        elif isinstance(msg, Vote):
            for collector in self.collectors:
                try:
                    cert = collector.add(msg)
                except RemoteProtocolError:
                    continue
                if cert is not None:
                    self.sim.certified(cert)
                    if collector.batch.orders[0].order_id not in self.withheld:
                        self.sim.broadcast(self.id, cert.encode())
                    else:  # shown to a few stewards only: they apply it, no one else does
                        for s in self.leak_to(list(collector.epoch.stewards)):
                            self.sim.net.send(self.id, s, cert.encode())

    def leak_to(self, stewards: list[bytes]) -> list[bytes]:
        """Whom a withheld certificate is shown: some stewards at random, or (the change
        is public once proposed) exactly those the next committee drops, who then seal
        with the order applied and nobody in the new committee has it."""
        rng = self.sim.rng
        if rng.random() < 0.5:
            return [s for s in stewards if s not in self.sim.new_stewards]
        return rng.sample(stewards, rng.randrange(len(stewards)))

    def ask(self, batch: Batch, epoch: Epoch, stewards: list[bytes]) -> None:
        self.collectors.append(VoteCollector(batch, epoch, self.sim.gid))
        self.collectors = self.collectors[-12:]
        for s in stewards:
            self.sim.net.send(self.id, s, batch.encode())

    def spend(self, seq: int, memo: bytes) -> SignedOrder:
        sim = self.sim
        amount = sim.rng.randint(1, max(1, self.replica.state.balance(self.id, "USD") // 4))
        return sim.group.sign(
            Transfer(self.id, seq, sim.rng.choice(sim.payees[:3]), "USD", amount, memo)
        )

    def tick(self) -> None:
        rng = self.sim.rng
        seq = self.replica.state.next_seq(self.id)
        if self.replica.state.balance(self.id, "USD") < 4:
            return
        epochs = self.replica.epochs
        if len(epochs) > 1 and self.first_spends and rng.random() < 0.6:
            first = rng.choice(self.first_spends)
            second = self.spend(first.order.parties[0].seq, b"again")
            self.ask(Batch((second,)), epochs.current, list(epochs.current.stewards))
            return
        if len(epochs) == 1 and rng.random() < 0.5:
            taken = [o for o in self.first_spends if o.order.parties[0].seq == seq]
            first = taken[0] if taken else self.spend(seq, b"first")  # the same, re-sent
            if not taken:
                self.first_spends.append(first)
                self.withheld.add(first.order_id)
            self.ask(Batch((first,)), epochs.current, list(epochs.current.stewards))
            return
        a, b = self.spend(seq, b"x"), self.spend(seq, b"y")
        for epoch in epochs.epochs:
            ids = list(epoch.stewards)
            rng.shuffle(ids)
            half = len(ids) // 2
            self.ask(Batch((a,)), epoch, ids[:half])
            self.ask(Batch((b,)), epoch, ids[half:])


class EpochSim:
    def __init__(self, seed: int) -> None:
        self.rng = rng = random.Random(seed)
        n_old = rng.choice([4, 5, 7])
        added = rng.randint(0, 3)
        removed = rng.randint(0, max(2, n_old // 2))
        members = 5
        self.group: Group = make_group(
            seed=f"epoch{seed}", stewards=n_old + added, members=members, funding=1000
        )
        self.gid = self.group.group_id
        ids = [pub(k) for k in self.group.stewards]
        old = ids[:n_old]
        new = ids[removed:]
        if len(new) < 4:
            new = ids[: max(4, len(new))]
        q_new, n_new = quorum_of(len(new)), len(new)
        threshold = rng.randint(q_new, n_new - (n_new - 1) // 3)
        self.genesis_epochs = Epochs((Epoch(0, 1, tuple(sorted(old)), quorum_of(n_old)),))
        self.first = 0  # the next epoch's first checkpoint, once proposed
        self.new_stewards = tuple(sorted(new))
        self.new_threshold = threshold
        # Byzantine: at most f of the old committee and at most f of the new one.
        f_old, f_new = (n_old - 1) // 3, (n_new - 1) // 3
        byzantine: set[bytes] = set()
        for s in rng.sample(ids, len(ids)):
            if rng.random() < 0.5:
                continue
            trial = byzantine | {s}
            if len(trial & set(old)) <= f_old and len(trial & set(new)) <= f_new:
                byzantine = trial
        self.net = Net(rng, drop=rng.choice([0.0, 0.1, 0.3]), dup=rng.choice([0.0, 0.1]))
        self.crash_rate = rng.choice([0.0, 0.05, 0.1])
        self.healed = False
        self.refused = self.crashes = 0
        self.all_certificates: dict[bytes, Certificate] = {}
        self.checkpoints: list[GroupState] = []
        self.handover: Handover | None = None
        self.seals: dict[bytes, Seal] = {}
        self.stewards: dict[bytes, Node] = {}
        for k in self.group.stewards:
            cls = ByzantineSteward if pub(k) in byzantine else HonestSteward
            self.stewards[pub(k)] = cls(self, k)
        m = self.group.members
        self.payees = [pub(k) for k in m]
        self.clients = [Client(self, k, rng.randint(2, 4)) for k in m[:3]]
        self.equivocator = Equivocator(self, m[3])
        self.nodes: dict[bytes, Node] = {
            **self.stewards,
            **{c.id: c for c in self.clients},
            self.equivocator.id: self.equivocator,
        }
        self.genesis_totals = self.group.genesis_state().totals()
        self.handover_at = rng.randint(50, 300)
        self.hostile_assembler = rng.random() < 0.5
        self.decoded: dict[bytes, Wire] = {}

    # -- plumbing -------------------------------------------------------------------------
    def decode(self, data: bytes) -> Wire:
        """Strictly decode ``data``; the same bytes (a batch sent to every steward, a
        certificate gossiped to all) are decoded once: wire objects are immutable."""
        msg = self.decoded.get(data)
        if msg is None:
            msg = decode(data, Wire)  # raises DecodeError: nothing is remembered
            self.decoded[data] = msg
            if len(self.decoded) > 4096:
                del self.decoded[next(iter(self.decoded))]
        return msg

    def broadcast(self, src: bytes, data: bytes) -> None:
        for dest in self.nodes:
            if dest != src:
                self.net.send(src, dest, data)

    def certified(self, cert: Certificate) -> None:
        self.all_certificates[cert.batch.digest(self.gid) + bytes([cert.epoch])] = cert

    def epochs_known(self, replica: Replica) -> list[Epoch]:
        return list(replica.epochs.epochs)

    def honest(self) -> list[HonestSteward]:
        return [s for s in self.stewards.values() if isinstance(s, HonestSteward)]

    def honest_replicas(self) -> list[Replica]:
        return [s.replica for s in self.honest()] + [c.replica for c in self.clients]

    # -- the hand-over (the node that ran ``swapnet steward add/remove/threshold``) ---------
    def propose(self) -> None:
        if self.first == 0:
            self.first = len(self.checkpoints) + 1 + self.rng.randint(1, 2)
        nxt = self.next_epoch()
        for steward in self.genesis_epochs.current.stewards:
            self.net.send(b"proposer", steward, nxt.encode())

    def next_epoch(self) -> Epoch:
        return Epoch(1, self.first, self.new_stewards, self.new_threshold)

    def take_seal(self, data: bytes) -> None:
        try:
            seal = decode(data, Seal)
            seal.verify(self.gid)
        except RemoteProtocolError:
            self.refused += 1
            return
        nxt = self.next_epoch()
        if seal.next_digest != nxt.digest(self.gid) or seal.base >= self.first:
            return
        if seal.steward in self.genesis_epochs.current.committee:
            self.seals[seal.steward] = seal
        old = self.genesis_epochs.current
        enough = old.quorum
        if self.hostile_assembler and not self.healed:  # it waits for more to choose from
            enough = min(old.committee.n, old.quorum + old.committee.f)
        if self.handover is None and len(self.seals) >= enough:
            # anyone may assemble a hand-over: a hostile one picks the quorum of seals
            # that carries the fewest orders
            seals = list(self.seals.values())
            if self.hostile_assembler:
                seals.sort(key=lambda s: len(s.locks))
            quorum = seals[: self.genesis_epochs.current.quorum]
            chosen = tuple(sorted(quorum, key=lambda s: s.steward))
            handover = Handover(nxt, chosen)
            verify_handover(handover, self.genesis_epochs, self.gid)  # the real check
            self.handover = handover
            self.broadcast(b"proposer", handover.encode())

    # -- checkpoints (the oracle) ---------------------------------------------------------
    def checkpoint(self) -> None:
        number = len(self.checkpoints) + 1
        if self.first and self.handover is None and number >= self.first:
            return  # nobody signs it: the old committee sealed, the new one is not in yet
        last = self.checkpoints[-1] if self.checkpoints else self.group.genesis_state()
        source = self.rng.choice(self.honest())
        if not source.up:
            return
        state = source.replica.state.copy()
        if any(state.next_seq(m) < last.next_seq(m) for m in last.accounts):
            return  # not newer than the last checkpoint
        self.checkpoints.append(state)
        for s in self.honest():
            if self.healed or self.rng.random() < 0.6:
                s.adopt(number, state)

    # -- the schedule ---------------------------------------------------------------------
    def deliver(self) -> None:
        src, dest, data = self.net.pop()
        if dest == b"proposer":
            self.take_seal(data)
        else:
            self.nodes[dest].receive(src, data)

    def run(self, steps: int = 500) -> None:
        rng = self.rng
        actors = list(self.nodes.values())
        for step in range(steps):  # lossy, duplicating, reordering, crashing
            if step >= self.handover_at and self.handover is None and step % 25 == 0:
                self.propose()
            if self.net.inflight and rng.random() < 0.85:
                self.deliver()
            elif rng.random() < 0.015:
                self.checkpoint()
            elif rng.random() < 0.15:
                self.equivocator.tick()  # the attacker takes more turns than anyone
            else:
                rng.choice(actors).tick()
        self.net.drop = self.net.dup = 0.0  # the network heals, crashed stewards restart
        self.crash_rate = 0.0
        self.healed = True
        for s in self.honest():
            s.tick()
        for round_ in range(200):
            if round_ < 10:
                self.equivocator.tick()  # it goes on spending twice, now across the epochs
            if self.handover is None:
                self.propose()
            else:
                self.broadcast(b"proposer", self.handover.encode())
            self.checkpoint()
            while self.net.inflight:
                self.deliver()
            if self.handover is not None and all(c.done for c in self.clients):
                break
            for c in self.clients:
                c.tick()
        self.sync()

    def sync(self) -> None:
        """What the sync protocol guarantees: every honest member ends up holding every
        certificate any honest member holds."""
        held = {d: c for d, c in self.all_certificates.items()}
        for replica in self.honest_replicas():
            for cert in held.values():
                replica.receive_certificate(cert)  # each verifies: a refusal fails the run

    # -- the properties -------------------------------------------------------------------
    def check(self) -> None:
        assert self.handover is not None, "the hand-over never completed"
        epochs = self.genesis_epochs.then(self.handover.next)
        owner: dict[tuple[bytes, int], bytes] = {}
        for cert in self.all_certificates.values():
            verify_certificate(cert, epochs, self.gid)
            for signed in cert.batch.orders:
                for p in signed.order.parties:
                    prior = owner.setdefault((p.member, p.seq), signed.order_id)
                    assert prior == signed.order_id, (
                        f"two conflicting orders were certified (epoch {cert.epoch})"
                    )
        replicas = self.honest_replicas()
        for replica in replicas:
            assert replica.epochs == epochs, "an honest member missed the hand-over"
        reference = replicas[0].state.encode()
        for replica in replicas:
            assert replica.conflicts == []
            assert replica.state.encode() == reference, "honest members diverged"
            assert replica.state.totals() == self.genesis_totals, "value not conserved"
        final = GroupState.decode(reference)
        for c in self.clients:
            assert c.done, "an honest client's orders were not certified"
            assert final.next_seq(c.id) == len(c.sent) + 1, "an honest order was lost"
            assert {o.order_id for o in c.sent} <= set(c.told), "a payer was not told"
            assert all(e in (0, 1) for e in c.told.values())
        assert all(v > 0 for a in final.accounts.values() for v in a.balances.values())
