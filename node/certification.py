"""Orders to certificates on the network: one member's view of one group.

* A steward answers ``/swapnet/vote/1``: the request is a ``Batch``; the answer is a
  ``Vote``, or ``BatchRefused`` naming each refused order. The vote locks are fsynced
  (``VoteLockRepo.persist``) before the vote is written to the stream. A batch that starts
  a little past what the steward has applied (its payer's last certificate is still on its
  way by gossip) waits for it, briefly and within per-caller bounds (``CATCH_UP_*``), and
  is then decided as any other: the wait changes when a steward answers, never what.
* A member submits orders with ``submit``: it asks every steward at once, gathers votes
  until a quorum makes a certificate, applies it, stores it, and gossips it on the group's
  certificate topic.
* Everyone applies certificates from gossip (the topic validator drops anything that does
  not decode to a valid certificate, so invalid messages are not forwarded either) and
  serves ``/swapnet/sync/1`` so a member that missed some can fetch them
  (``sync_with``).

What is stored is the last adopted checkpoint with its state (``CheckpointRepo``, written
at adoption) and every certificate (``CertificateRepo``, as it arrives; fsynced when this
node formed it, since the caller is then told its orders are final). The live replica is
never stored: a (re)started node rebuilds it from the checkpoint's state plus the stored
certified orders beyond it, so a kill -9 at any moment loses nothing and applies nothing
twice. ``recovered`` holds the orders that rebuild applied, in order (the checkpoint
machine's log starts from them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import trio
from nacl.signing import SigningKey

from node.p2p import P2P, Limit, NotNow, P2PError, counted
from proto.checkpoint_proposals import vector_of
from proto.codec import Wire, decode, decode_reusing
from proto.effects import (
    ForgetVoteLocks,
    PersistSeal,
    PersistVoteLocks,
    RefuseBatch,
    ReportEquivocation,
    SendSeal,
    SendVote,
)
from proto.epochs import Epoch, Epochs
from proto.errors import LocalProtocolError, RemoteProtocolError
from proto.handover import Handover, Seal
from proto.kinds import MAX_BATCH_ORDERS
from proto.orders import EquivocationProof, SignedOrder
from proto.replica import Replica
from proto.state import GroupState
from proto.steward import Steward
from proto.steward_health import StewardHealth
from proto.sync import SyncHello, SyncReply, hello_of, plan_reply
from proto.validation import BatchRefused, Refusal, seqs_ahead
from proto.votes import Batch, Certificate, Vote, VoteCollector
from storage.certificates import CertificateRepo
from storage.repos import CheckpointRepo, EpochRepo, VoteLockRepo
from storage.store import Store

log = logging.getLogger(__name__)

VALIDATED_KEPT = 256
VOTED_KEPT = 64
CATCH_UP_WAIT = 1.0
"""How long a steward waits for the certificates a batch follows before it answers: a
payer's next batch goes out as soon as its last one is certified, and its vote request
can reach a steward before the certificate's gossip does (without the wait that batch is
refused "bad-seq" and offered again a quarter second later)."""
CATCH_UP_GAP = 2 * MAX_BATCH_ORDERS
"""A batch further ahead than this is not waited for (no honest payer is so far ahead:
one batch of its own in flight, or a swap's other side with one)."""
CATCH_UP_WAITING = 2
"""Batches of one caller waiting at once (beyond it, answered at once)."""

VOTE_PROTOCOL = "/swapnet/vote/1"
SYNC_PROTOCOL = "/swapnet/sync/1"
SYNC_LIMIT = Limit(at_once=2, per_second=10.0, burst=40.0)
"""A sync answer reads up to ``MAX_REPLY_CERTIFICATES`` certificates from the store:
per member, two at once and ten a second (an honest node asks one at a time, a few
times a minute, more while it catches up)."""


def certificate_topic(group_id: bytes) -> str:
    return f"swapnet/1/{group_id.hex()}/certificates"


class NotCertified(Exception):
    """A quorum of stewards did not vote for the batch; ``refusals`` says why."""

    def __init__(self, refusals: dict[bytes, tuple[Refusal, ...]]) -> None:
        self.refusals = refusals
        reasons = sorted({r.reason for rs in refusals.values() for r in rs})
        super().__init__(f"not certified: {', '.join(reasons) or 'no quorum'}")

    def first_refused(self) -> int | None:
        """The first order index any steward refused (None: nobody said which)."""
        indices = [r.index for rs in self.refusals.values() for r in rs]
        return min(indices) if indices else None


class GroupNode:
    def __init__(
        self,
        p2p: P2P,
        store: Store,
        epochs: Epochs,
        genesis: GroupState,
        steward_key: SigningKey | None = None,
        health: StewardHealth | None = None,
        holds_share: Callable[[int], bool] | None = None,
    ) -> None:
        self.p2p = p2p
        self.group_id = genesis.group_id
        self.topic = certificate_topic(self.group_id)
        self.certificates = CertificateRepo(store, self.group_id)
        self.locks = VoteLockRepo(store, self.group_id)
        self.base = CheckpointRepo(store, self.group_id).load_base()
        base_state = genesis if self.base is None else self.base[1]
        self.replica = Replica(base_state.copy(), epochs)
        seqs = {e.member: e.seq for e in vector_of(base_state)}
        self.recovered = self.replica.add_certified(self.certificates.orders_after(seqs))
        self.epoch_records = EpochRepo(store, self.group_id)
        handovers = self.epoch_records.load_handovers()
        for handover in handovers:  # the epochs we entered before a restart
            self.replica.enter(handover)
        self.steward = (
            Steward(
                steward_key,
                self.replica,
                self.locks.load(),
                seal=self.epoch_records.load_seal(),
                checkpoint=0 if self.base is None else self.base[0].proposal.number,
                epoch_base=handovers[-1].base if handovers else 0,
                holds_share=holds_share,
            )
            if steward_key
            else None
        )
        self.equivocations: list[EquivocationProof] = []
        self.applied = trio.Event()
        self._catching_up: dict[bytes, int] = {}
        """Per caller, its batches waiting for the certificates they follow."""
        self._voted: dict[bytes, Batch] = {}
        """Batches this steward voted for, by their bytes, so the certificate that comes
        back reuses them instead of decoding the same orders again."""
        self._validated: dict[bytes, Certificate] = {}
        """Certificates the gossip validator decoded and verified, by their bytes, until
        the reader applies them (each is decoded once)."""
        self.listeners: list[Callable[[list[SignedOrder]], None]] = []
        """Called with the orders each certificate made applicable, in order."""
        committee = self.replica.epochs.current.committee
        self.health = health or StewardHealth(committee.stewards, committee.quorum, p2p.member_id)
        """Which stewards voted for our batches, and which a batch waited for in vain (the
        runtime gives the checkpoint machine the same one: it adds signing sessions)."""

    async def start(self, nursery: trio.Nursery) -> None:
        if self.steward is not None:
            self.p2p.set_handler(VOTE_PROTOCOL, self._on_batch)
        self.p2p.set_handler(SYNC_PROTOCOL, self._on_sync, SYNC_LIMIT)
        self.p2p.set_validator(self.topic, self._valid_certificate)
        subscription = await self.p2p.subscribe(self.topic)
        nursery.start_soon(self._read_gossip, subscription)

    # -- applying -----------------------------------------------------------------------
    def apply(self, cert: Certificate, *, sync: bool = False) -> None:
        """Verify and apply a certificate; store it if it was new. Raises
        ``InvalidCertificate`` for a bad one (nothing changes)."""
        before = self.replica.version
        applied = self.replica.receive_certificate(cert)
        if self.replica.version != before:
            self.certificates.add(cert, sync=sync)
        self._applied(applied)

    def adopt(self, number: int, state: GroupState, live: GroupState) -> None:
        """Checkpoint ``number`` was adopted: ``state`` is its state, ``live`` that plus the
        orders beyond it. The steward forgets the locks the checkpoint covers."""
        if self.steward is not None:
            for effect in self.steward.adopt_checkpoint(number, state):
                if isinstance(effect, ForgetVoteLocks):
                    self.locks.forget(effect.keys)
        self._applied(self.replica.replace_state(live.copy()))

    # -- epochs (``proto.handover``) --------------------------------------------------------
    def seal(self, next_epoch: Epoch) -> Seal:
        """Seal the current epoch for ``next_epoch``: the seal is on disk before it is
        returned, and from then on we never vote in this epoch (``LocalProtocolError``
        if we are not its steward or sealed it for another epoch)."""
        if self.steward is None:
            raise LocalProtocolError("only a steward seals an epoch")
        made: Seal | None = None
        for effect in self.steward.seal(next_epoch):
            if isinstance(effect, PersistSeal):
                self.epoch_records.save_seal(effect.seal)  # fsync: before it leaves
            elif isinstance(effect, SendSeal):
                made = effect.seal
        assert made is not None
        return made

    def enter(self, handover: Handover) -> bool:
        """Take a hand-over into the next epoch: checked against our schedule (raises
        ``InvalidCertificate``, nothing changes), stored, then applied; False if we are
        in that epoch already."""
        if len(self.replica.epochs) > handover.next.number:
            return False
        # checked (and taken in memory) once; stored before the old locks leave the disk,
        # so a restart in between comes back in the new epoch with its old locks
        effects = []
        if self.steward is not None:
            effects = self.steward.enter(handover)
        else:
            self.replica.enter(handover)
        self.epoch_records.add_handover(handover)  # fsync
        for effect in effects:
            if isinstance(effect, ForgetVoteLocks):
                self.locks.forget(effect.keys)
        committee = self.replica.epochs.current.committee
        self.health.reset(committee.stewards, committee.quorum)
        log.info(
            "entered epoch %d: %d stewards, threshold %d, from checkpoint %d",
            handover.next.number,
            committee.n,
            handover.next.threshold,
            handover.next.first_checkpoint,
        )
        return True

    def _applied(self, applied: list[SignedOrder]) -> None:
        self.applied.set()
        self.applied = trio.Event()
        if applied:
            for listener in self.listeners:
                listener(applied)

    def _valid_certificate(self, publisher: bytes, data: bytes) -> bool:
        if not self.replica.state.is_member(publisher):
            return False  # only members publish certificates
        try:
            cert = decode_reusing(data, Certificate, self._voted)  # our checked batch, if any
        except RemoteProtocolError:
            return False
        if cert.epoch >= len(self.replica.epochs):
            raise NotNow("a certificate of an epoch we have not entered")  # sync brings it
        try:
            self.replica.verify(cert)  # remembered: apply won't redo it
        except RemoteProtocolError:
            return False
        self._voted.pop(cert.batch.encoded, None)
        self._validated[bytes(data)] = cert  # the reader takes it as decoded
        while len(self._validated) > VALIDATED_KEPT:
            del self._validated[next(iter(self._validated))]
        return True

    async def _read_gossip(self, subscription: object) -> None:
        async for msg in subscription:  # type: ignore[attr-defined]
            data = bytes(msg.data)
            try:
                cert = self._validated.pop(data, None) or decode(data, Certificate)
                self.apply(cert)
            except RemoteProtocolError as exc:  # the validator let it through: log, drop
                log.info("dropping a gossiped certificate: %s", exc)

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds, re-checking after each applied certificate."""
        while not predicate():
            await self.applied.wait()

    # -- voting (stewards) ----------------------------------------------------------------
    async def _on_batch(self, caller: bytes, request: bytes) -> bytes:
        batch = decode(request, Batch)  # a bad request fails the stream, nothing else
        await self._catch_up(caller, batch)
        answer = self._vote_on(caller, batch)
        if isinstance(answer, Vote):  # its certificate will come by: decode that batch once
            self._voted[request] = batch
            while len(self._voted) > VOTED_KEPT:
                del self._voted[next(iter(self._voted))]
        return answer.encode()

    async def _catch_up(self, caller: bytes, batch: Batch) -> None:
        """Wait (``CATCH_UP_WAIT`` at most) until our replica reaches where ``batch``
        starts, when it is a little ahead; the vote is decided afterwards as always, so
        waiting changes when a steward answers, never what."""
        gap = seqs_ahead(self.replica.state, batch.orders)
        if not 0 < gap <= CATCH_UP_GAP or self._catching_up.get(caller, 0) >= CATCH_UP_WAITING:
            return
        with counted(self._catching_up, caller), trio.move_on_after(CATCH_UP_WAIT):
            await self.wait_for(lambda: seqs_ahead(self.replica.state, batch.orders) == 0)

    def _vote_on(self, caller: bytes, batch: Batch) -> Wire:
        assert self.steward is not None
        answer: Wire | None = None
        for effect in self.steward.handle_batch(batch):
            if isinstance(effect, PersistVoteLocks):
                self.locks.persist(effect.orders)  # fsync: before the vote leaves
            elif isinstance(effect, SendVote):
                answer = effect.vote
            elif isinstance(effect, RefuseBatch):
                answer = BatchRefused(effect.batch_digest, effect.refusals)
                if any(r.reason == "bad-signature" for r in effect.refusals):
                    self.p2p.punish(caller)  # whoever submits a forgery answers for it
            elif isinstance(effect, ReportEquivocation):
                self.equivocations.append(effect.proof)
        assert answer is not None
        return answer

    # -- submitting (members) -------------------------------------------------------------
    async def submit(self, orders: Sequence[SignedOrder], timeout: float = 20.0) -> Certificate:
        batch = Batch(tuple(orders))
        epoch = self.replica.epochs.current
        collector = VoteCollector(batch, epoch, self.group_id)
        refusals: dict[bytes, tuple[Refusal, ...]] = {}
        voted: set[bytes] = set()
        encoded = batch.encode()
        async with trio.open_nursery() as nursery:

            async def ask(steward: bytes) -> None:
                try:
                    answer: Wire
                    if steward == self.p2p.member_id and self.steward is not None:
                        answer = self._vote_on(steward, batch)  # our own vote
                    else:
                        raw = await self.p2p.request(steward, VOTE_PROTOCOL, encoded, timeout)
                        answer = decode(raw, Wire)
                    if isinstance(answer, Vote):
                        voted.add(steward)
                        self.health.voted(steward, trio.current_time())
                    if isinstance(answer, Vote) and collector.add(answer) is not None:
                        nursery.cancel_scope.cancel()  # a quorum: the rest are not needed
                    elif isinstance(answer, BatchRefused):
                        refusals[steward] = answer.refusals
                except (P2PError, RemoteProtocolError) as exc:
                    log.info("no vote from %s: %s", steward.hex()[:16], exc)

            for steward in epoch.stewards:
                nursery.start_soon(ask, steward)
        if collector.certificate is None:
            silent = set(epoch.stewards) - voted - set(refusals)
            self.health.stalled("orders", silent, "no vote", trio.current_time())
            raise NotCertified(refusals)
        cert = collector.certificate
        self.apply(cert, sync=True)  # durable before the caller is told it is final
        await self.p2p.publish(self.topic, cert.encode())
        return cert

    # -- sync -----------------------------------------------------------------------------
    async def _on_sync(self, caller: bytes, request: bytes) -> bytes:
        hello = decode(request, SyncHello)
        mine = vector_of(self.replica.state)
        return plan_reply(mine, hello, self.certificates.lookup).encode()

    async def sync_with(self, member: bytes) -> int:
        """Fetch what ``member`` has and we lack; return how many certificates applied."""
        applied = 0
        while True:
            hello = hello_of(vector_of(self.replica.state), self.replica.waiting)
            reply = decode(await self.p2p.request(member, SYNC_PROTOCOL, hello.encode()), SyncReply)
            for cert in reply.certificates:
                before = self.replica.version
                self.apply(cert)
                applied += self.replica.version != before
            if not reply.more:
                return applied
