"""Checkpoints by consensus: stewards agree on the group's state and sign it with the
group wallet's FROST key. Sans-IO: messages and ``now`` in, effects out.

Numbers and proposers. After the last adopted checkpoint ``b`` (adopted at time T), the
checkpoint for attempt ``a`` gets number ``b + 1 + a`` and is proposed by
``stewards[number mod n]`` once ``now >= T + interval + timeout * a(a+1)/2``: attempt ``a``
lasts ``(a + 1) * timeout`` and its FROST rounds wait ``(a + 1) * timeout / 4``, so a group
whose stewards answer slowly (under heavy load, say) still completes one. A stalled attempt
is never resumed: the next one takes the next number (numbers may be skipped).

A proposal carries the proposer's applied seq vector, the ledger height it read the ledger
at, the admissions (joins and deposits, ``proto.admission``) it credits and the revoke
claims (``proto.claims``) it books, and the checkpoint of the state they imply: the last
adopted state, less what that checkpoint settled to exited members, plus the certified
orders up to the vector, cleared by the S&L pit (``proto.pit``), plus the admissions and
claims (``state_at``). A steward accepts
it only when:

* it comes, signed, from the proposer of its number;
* its number is above every number the steward has accepted before, or it is the very
  proposal the steward accepted last (a retry of the same signing);
* its vector covers (sender by sender, at least) the vector the steward accepted last;
* its admissions and claims agree with the steward's own view of the ledger at that
  height, and its joins with the genesis's admission policy;
* replaying the steward's own certified orders up to that vector over its last adopted
  checkpoint gives exactly the proposed checkpoint. A steward that lacks some of those
  orders, or has not followed the ledger that far, waits (``behind``); one that computes
  another state refuses.

Accepting writes a lock (``PersistCheckpointLock``) that the driver must make durable
before any later effect: only then do the steward's FROST commitment and share leave. So
an honest steward never contributes to two different checkpoints with one number, nor to
a checkpoint whose vector is below one it signed; with a FROST threshold of
ceil((n + f + 1) / 2) any two completed checkpoints share an honest signer, so no number
has two signed checkpoints and vectors never decrease as numbers grow.

A ``SignedCheckpoint`` that verifies under the wallet key and is newer than the last
adopted one is adopted once the steward can rebuild its state; the certified orders it
covers leave the steward's order log. A member that is not a steward runs the same machine
without a key share: it only adopts.

Epochs (``proto.epochs``): a proposal names the epoch whose committee signs its number
(``committee_at``), and may name the next epoch: a change of stewards (``approve_change``
records that our operator asked for it; ``hold_share`` keeps our reshared share of the
wallet key for it). A steward signs a checkpoint that names a change only if it was asked
for that very change, first checkpoint the next number; the checkpoint commits to the
next epoch's digest, so the group's signature is the old committee's agreement and a peer
cannot wrap the signed checkpoint in another change. Adopting it moves the machine into
the next epoch (with its share, if it holds one): the new committee proposes and signs
from the next number on; the node's stewards then seal the old epoch (``proto.handover``).

Wallet transactions (``approve_wallet_tx``, ``wallet_nonce_seen``): the machine runs the
FROST sessions of the jobs ``proto.wallet_signing`` says are ours to coordinate; the result
is a ``SubmitWalletTx`` effect. Who stalls a round: ``proto.steward_health``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from nacl.signing import SigningKey

from proto import signing
from proto.admission import (
    Join,
    admissions_for,
    admissions_problem,
)
from proto.checkpoint import Checkpoint, checkpoint_of
from proto.checkpoint_proposals import (
    EMPTY,
    PROPOSAL_DOMAIN,
    Completed,
    Proposal,
    covers,
    state_at,
    vector_of,
)
from proto.claims import claims_for, claims_problem
from proto.codec import Wire
from proto.committee import Committee
from proto.epoch_changes import EpochChanges
from proto.epochs import Epoch, Epochs
from proto.errors import InvalidSignature, LocalProtocolError
from proto.frost.curve import FrostError
from proto.frost.keys import KeyPackage
from proto.frost.session import (
    CommitmentMsg,
    CommitmentRequest,
    Coordinator,
    SendTo,
    SessionDone,
    SessionEffect,
    SessionFailed,
    ShareMsg,
    Signer,
    SignRequest,
)
from proto.genesis import AdmissionPolicy
from proto.ledger_view import LedgerView, ViewEvent
from proto.orders import SignedOrder
from proto.replica import Replica
from proto.settles import settles_for, settles_problem
from proto.signing_sessions import SESSION_TTL, SigningSessions, SigningStatistics
from proto.state import GroupState
from proto.steward_health import StewardHealth
from proto.wallet_signing import WalletJobs
from proto.wallet_txs import DevnetWallet, WalletAction, WalletFormat

OPEN_POLICY = AdmissionPolicy(0, 0, (), 0, 0)
VARIANTS_KEPT = 4


def attempt_at(due: float, timeout: float) -> int:
    """The attempt under way ``due`` seconds after a checkpoint fell due: attempt ``a``
    runs from ``timeout * a(a+1)/2`` for ``(a + 1) * timeout``."""
    attempt = 0
    while timeout * (attempt + 1) * (attempt + 2) / 2 <= due:
        attempt += 1
    return attempt


# -- effects ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Broadcast:
    message: Wire


@dataclass(frozen=True)
class SendToSteward:
    steward: bytes
    message: Wire


@dataclass(frozen=True)
class PersistCheckpointLock:
    """Durably record the accepted proposal before any later effect is carried out."""

    proposal: Proposal


@dataclass(frozen=True)
class CheckpointAdopted:
    """``state`` is the checkpoint's; ``live`` is it plus the certified orders beyond it:
    what the node's replica must now hold. ``decided``: the epoch this checkpoint handed
    over to (the machine is in it now; the node's stewards seal the old one)."""

    completed: Completed
    state: GroupState
    live: GroupState
    decided: Epoch | None = None


@dataclass(frozen=True)
class SubmitWalletTx:
    """A wallet transaction the group has signed: submit it to the ledger."""

    action: WalletAction
    signature: bytes


CheckpointEffect = (
    Broadcast | SendToSteward | PersistCheckpointLock | CheckpointAdopted | SubmitWalletTx
)


class CheckpointSteward:
    """One node's checkpoint machine. With ``key`` (a steward's share of the wallet key)
    it proposes, checks and signs; without, it only adopts what the group signed."""

    def __init__(
        self,
        *,
        identity: SigningKey,
        key: KeyPackage | None,
        wallet_key: bytes,
        epochs: Epochs,
        base: GroupState,
        base_number: int,
        adopted_at: float,
        interval: float,
        timeout: float,
        random_bytes: Callable[[int], bytes],
        lock: Proposal | None = None,
        log: list[SignedOrder] | None = None,
        terms_hash: bytes = bytes(32),
        ledger_id: bytes = bytes(32),
        ledger_fee: int = 0,
        policy: AdmissionPolicy = OPEN_POLICY,
        wallet: WalletFormat | None = None,
        health: StewardHealth | None = None,
    ) -> None:
        self.identity = identity
        self.id = signing.public_key_of(identity)
        self.key = key
        self.epochs = epochs
        self.group_id = base.group_id
        self.wallet_key = wallet_key
        if key is not None and key.group_public_key != wallet_key:
            raise LocalProtocolError("the key share is not for this wallet")
        self.base = base
        self.base_number = base_number
        self.adopted_at = adopted_at
        self.interval = interval
        self.timeout = timeout
        self.random_bytes = random_bytes
        self.terms_hash = terms_hash
        self.policy = policy
        self.ledger_id = ledger_id
        self.ledger_fee = ledger_fee
        self.wallet = (
            wallet if wallet is not None else DevnetWallet(ledger_id, ledger_fee, wallet_key)
        )
        """How this ledger takes the wallet's own transactions (``proto.wallet_txs``)."""
        self.ledger = LedgerView()
        self.joins: dict[bytes, Join] = {}
        self.lock = lock
        self.log: list[SignedOrder] = list(log or [])
        self.live: GroupState = base.copy()
        Replica(self.live, epochs).add_certified(self.log)
        self.signer = Signer(key) if key is not None else None
        self.coordinators: dict[bytes, Coordinator] = {}
        self.accepted: dict[bytes, Proposal] = {}
        self.pending_proposals: dict[bytes, Proposal] = {}
        self.sessions = SigningSessions(self.signer)
        """What other stewards' signing sessions may cost us (``proto.signing_sessions``)."""
        self.pending_adoptions: dict[int, dict[bytes, Completed]] = {}
        """Signed checkpoints above our base not yet rebuilt, by number, then by body: the
        group signs only the checkpoint, so a peer may wrap it in a lying proposal; an
        honest copy is never displaced by a forged one (``VARIANTS_KEPT`` per number)."""
        self.proposed: set[int] = set()
        committee = epochs.current.committee
        self.wallet_jobs = WalletJobs(committee, self.id, timeout)
        self.health = health or StewardHealth(committee.stewards, committee.quorum, self.id)
        """Who answered our signing sessions, and the rounds that waited for a steward
        (``proto.steward_health``); the node adds votes and connections."""
        self.changes = EpochChanges(self.id, wallet_key)
        """Changes of stewards we were asked for, and our shares for them."""
        self.faults = 0
        """Proposals or checkpoints refused because their state could not be computed."""
        self.last_fault = ""
        if lock is not None and lock.number > base_number:
            # Checked before it was locked; after a restart we may go on signing it (with
            # fresh nonces: the old ones died with the process).
            self.accepted[lock.session_id()] = lock
        self._approve_settlements(adopted_at)

    # -- identity helpers ---------------------------------------------------------------
    @property
    def committee(self) -> Committee:
        """The committee whose FROST shares this machine signs with: the current epoch's."""
        return self.epochs.current.committee

    def identifier_of(self, steward: bytes) -> int:
        return self.committee.index_of(steward) + 1

    def steward_of(self, identifier: int) -> bytes:
        return self.committee.stewards[identifier - 1]

    def proposer_of(self, number: int) -> bytes:
        committee = self.epochs.committee_at(number)
        return committee.stewards[number % committee.n]

    @property
    def is_steward(self) -> bool:
        return self.key is not None

    def approve_change(self, number: int, stewards: tuple[bytes, ...], threshold: int) -> None:
        """Our operator asked for this change (``proto.epoch_changes``)."""
        self.changes.approve(self.epochs, number, stewards, threshold)

    def hold_share(
        self, number: int, stewards: tuple[bytes, ...], threshold: int, key: KeyPackage
    ) -> None:
        """Our reshared share of the wallet key for that committee."""
        self.changes.hold(self.epochs, number, stewards, threshold, key)

    def enter_epoch(self, epoch: Epoch) -> None:
        """A hand-over into ``epoch`` reached us without the checkpoint that decided it
        (we were away, or joined since; ``proto.handover`` checked it): follow the
        schedule from it, with our share for it if we hold one. Nothing if we are in it."""
        if epoch.number == len(self.epochs):
            self._enter_epoch(epoch, self.changes.decided(epoch))

    def _enter_epoch(self, epoch: Epoch, key: KeyPackage | None) -> None:
        """A checkpoint we adopted handed over to ``epoch``; ``key`` is our share of the
        same wallet key for it (held by ``self.changes``, checked there), None if we are
        not one of its stewards. Signing sessions under the old shares end: a share of one
        sharing never combines with another's, and checkpoints from the epoch's first on
        are proposed and signed by the new committee, which also signs the wallet's
        pending transactions (each job's turns start over)."""
        self.epochs = self.epochs.then(epoch)
        committee = epoch.committee
        self.key = key
        self.signer = Signer(key) if key is not None else None
        self.sessions = SigningSessions(self.signer)
        self.coordinators = {}
        self.accepted = {
            k: p for k, p in self.accepted.items() if p.epoch == self.epochs.at(p.number).number
        }
        if self.lock is not None and self.lock.epoch != self.epochs.at(self.lock.number).number:
            self.lock = None  # a proposal the old committee can no longer sign
        self.wallet_jobs.committee = committee
        for job in self.wallet_jobs.jobs.values():
            job.tried.clear()
        self.health.reset(committee.stewards, committee.quorum)

    # -- inputs -------------------------------------------------------------------------
    def on_applied(self, orders: list[SignedOrder], now: float) -> list[CheckpointEffect]:
        """Certified orders the node's replica just applied (in order)."""
        Replica(self.live, self.epochs).add_certified(orders)
        self.log.extend(orders)
        return self._retry_pending(now)

    def on_join(self, join: Join, now: float) -> list[CheckpointEffect]:
        """A trader's signed join (invalid ones and members' are ignored; the admission
        policy is checked again at each proposal, as prequals age)."""
        if join.is_valid(self.group_id, self.terms_hash) and not self.live.is_member(join.member):
            self.joins.setdefault(join.member, join)
        return []

    def on_deposit(self, height: int, member: bytes, asset: str, amount: int) -> None:
        self.ledger.add_deposit(height, member, asset, amount)

    def on_ledger_event(self, event: ViewEvent) -> None:
        """An event of the group's wallet on the ledger (deposit or exit game), in order."""
        self.ledger.add(event)

    def on_ledger_height(self, height: int, now: float) -> list[CheckpointEffect]:
        """The node has followed the ledger (every deposit reported) up to ``height``."""
        self.ledger.advance(height)
        return self._retry_pending(now)

    def tick(self, now: float) -> list[CheckpointEffect]:
        live = {s for s, p in self.accepted.items() if p.number > self.base_number}
        self.sessions.forget_ended(live | set(self.wallet_jobs), now, SESSION_TTL * self.timeout)
        effects: list[CheckpointEffect] = []
        for coordinator in list(self.coordinators.values()):
            before = set(coordinator.excluded)
            effects += self._coordinator_effects(coordinator, coordinator.tick(now), now)
            dropped = {i: why for i, why in coordinator.excluded.items() if i not in before}
            for why in sorted(set(dropped.values())):
                waited = (self.steward_of(i) for i, w in dropped.items() if w == why)
                what = self._what(coordinator.session)
                self.health.stalled(what, waited, f"FROST signing: {why}", now)
        if not self.is_steward:
            return effects
        effects += self._wallet_tick(now)
        due = now - self.adopted_at - self.interval
        if due >= 0:
            attempt = attempt_at(due, self.timeout)
            number = self.base_number + 1 + attempt
            self.health.attempt_over(
                number - 1, self.proposer_of(number - 1), self.base_number, now
            )
            if self.proposer_of(number) == self.id and number not in self.proposed:
                effects += self._propose(number, attempt, now)
        return effects

    def _what(self, session: bytes) -> str:
        proposal = self.accepted.get(session)
        return f"checkpoint {proposal.number}" if proposal else "wallet transaction"

    def receive(self, sender: bytes, msg: Wire, now: float) -> list[CheckpointEffect]:
        if isinstance(msg, Completed):
            return self._on_completed(msg, now)
        if not self.is_steward:
            return []
        if isinstance(msg, Proposal):
            return self._on_proposal(msg, now)
        if isinstance(msg, CommitmentRequest | SignRequest):
            if sender not in self.committee:
                return []
            return self._on_signing_request(sender, msg, now)
        if isinstance(msg, CommitmentMsg | ShareMsg):
            coordinator = self.coordinators.get(msg.session)
            if coordinator is None or sender not in self.committee:
                return []
            if msg.attempt == coordinator.attempt:
                self.health.shared(sender, now)
            out = coordinator.receive(self.identifier_of(sender), msg, now)
            return self._coordinator_effects(coordinator, out, now)
        return []

    # -- wallet transactions ------------------------------------------------------------
    def approve_wallet_tx(self, action: WalletAction, now: float) -> None:
        """Sign ``action`` for the wallet when asked (and coordinate it in turn) until the
        ledger shows its nonce used. Only for transactions every steward derives alike
        (``self.wallet``'s, from the genesis and the adopted state)."""
        if self.is_steward:
            self.wallet_jobs.approve(action, now)

    def wallet_nonce_seen(self, nonce: int) -> None:
        """The ledger has applied the wallet's transactions up to ``nonce``."""
        self.wallet_jobs.nonce_seen(nonce)

    def _approve_settlements(self, now: float) -> None:
        """Sign the settles the adopted state owes (``WalletJobs.owe_settles``)."""
        if not self.is_steward:
            return
        owed = (self.wallet.settle(self.base, self.base_number, s) for s in self.base.settlements())
        self.wallet_jobs.owe_settles((a for a in owed if a is not None), now)

    def _wallet_tick(self, now: float) -> list[CheckpointEffect]:
        effects: list[CheckpointEffect] = []
        for session, job in self.wallet_jobs.my_turns(now, self.coordinators):
            coordinator = self._coordinator(session, job.message, self.timeout / 4)
            effects += self._coordinator_effects(coordinator, coordinator.start(now), now)
        return effects

    def _coordinator(self, session: bytes, message: bytes, timeout: float) -> Coordinator:
        assert self.key is not None
        coordinator = Coordinator(
            session=session,
            message=message,
            group_public_key=self.wallet_key,
            public_shares=dict(self.key.public_shares),
            threshold=self.key.threshold,
            available=list(self.key.public_shares),
            timeout=timeout,
            suite=self.key.suite,
        )
        self.coordinators[session] = coordinator
        return coordinator

    # -- proposing ----------------------------------------------------------------------
    def _propose(self, number: int, attempt: int, now: float) -> list[CheckpointEffect]:
        self.proposed.add(number)
        vector = vector_of(self.live)
        if self.lock is not None and (
            number <= self.lock.number or not covers(vector, self.lock.vector)
        ):
            return []  # cannot sign it ourselves: let the next proposer try
        height = self.ledger.height
        if height < self.base.ledger_height:
            return []  # we have not followed the ledger as far as the group has
        admissions = admissions_for(self.live, self.ledger, self.joins, self.policy)
        claims = claims_for(self.live, self.ledger)
        settles = settles_for(self.base, self.ledger, height)
        empty = replace(EMPTY, number=number)
        draft = Proposal(
            attempt,
            self.id,
            vector,
            height,
            admissions,
            claims,
            settles,
            empty,
            bytes(64),
            self.epochs.at(number).number,
            tuple(e for e in [self.changes.to_propose(self.epochs, number)] if e is not None),
        )
        found = self._checkpoint_for(draft)
        if isinstance(found, str):
            return []  # our own view does not replay: nothing sound to propose
        _state, checkpoint = found
        unsigned = replace(draft, checkpoint=checkpoint)
        sig = signing.sign(self.identity, PROPOSAL_DOMAIN, self.group_id, unsigned.body())
        proposal = replace(unsigned, signature=sig)
        effects: list[CheckpointEffect] = [Broadcast(proposal)]
        effects += self._on_proposal(proposal, now)
        coordinator = self._coordinator(
            proposal.session_id(),
            proposal.checkpoint.message_for(self.wallet_key),
            self.timeout / 4 * (attempt + 1),
        )
        effects += self._coordinator_effects(coordinator, coordinator.start(now), now)
        return effects

    def _coordinator_effects(
        self, coordinator: Coordinator, out: list[SessionEffect], now: float
    ) -> list[CheckpointEffect]:
        effects: list[CheckpointEffect] = []
        for e in out:
            if isinstance(e, SendTo):
                target = self.steward_of(e.identifier)
                if target == self.id:
                    effects += self._on_signing_request(self.id, e.message, now)
                else:
                    effects.append(SendToSteward(target, e.message))
            elif isinstance(e, SessionDone):
                del self.coordinators[coordinator.session]
                proposal = self.accepted.get(coordinator.session)
                job = self.wallet_jobs.get(coordinator.session)
                if proposal is not None:
                    completed = Completed(proposal, e.signature)
                    effects.append(Broadcast(completed))
                    effects += self._on_completed(completed, now)
                elif job is not None:
                    effects.append(SubmitWalletTx(job.action, e.signature))
            elif isinstance(e, SessionFailed):
                del self.coordinators[coordinator.session]
        return effects

    # -- accepting ----------------------------------------------------------------------
    def _on_proposal(self, p: Proposal, now: float) -> list[CheckpointEffect]:
        if p.number <= self.base_number or not self.is_signed_proposal(p):
            return []
        if p.epoch != self.epochs.at(p.number).number:
            return []  # signed by the committee of another epoch
        if not self.changes.accepts(self.epochs, p.number, p.next_epoch):
            return []  # a change of stewards our operator did not ask for
        self.health.proposal_heard(p.number, self.base_number, p.proposer, now)
        session = p.session_id()
        if session in self.accepted:
            return []
        if (
            self.lock is not None
            and self.lock.session_id() != session
            and (p.number <= self.lock.number or not covers(p.vector, self.lock.vector))
        ):
            return []
        problem = admissions_problem(
            self.base, p.admissions, p.ledger_height, self.ledger, self.terms_hash, self.policy
        ) or (
            claims_problem(self.base, p.claims, p.ledger_height, self.ledger)
            or settles_problem(self.base, p.settles, p.ledger_height, self.ledger)
        )
        found = problem or self._checkpoint_for(p)
        if found == "behind":
            self.pending_proposals[session] = p
            return []
        if isinstance(found, str) or found[1] != p.checkpoint:
            return []
        self.pending_proposals.pop(session, None)
        self.lock = p
        self.accepted[session] = p
        effects: list[CheckpointEffect] = [PersistCheckpointLock(p)]
        for sender, request in self.sessions.release(session):
            effects += self._on_signing_request(sender, request, now)
        return effects

    def _on_signing_request(self, sender: bytes, msg: Wire, now: float) -> list[CheckpointEffect]:
        assert self.signer is not None
        session = getattr(msg, "session", b"")
        job = self.wallet_jobs.get(session)
        proposal = self.accepted.get(session)
        if job is not None:
            expected = job.message  # deterministic bytes: any steward may coordinate
        elif proposal is None:
            self.sessions.hold(session, sender, msg, now)
            return []
        elif proposal.proposer != sender or self.lock is None or self.lock.session_id() != session:
            return []  # only the proposer of the proposal we hold the lock for
        else:
            expected = proposal.checkpoint.message_for(self.wallet_key)
        try:
            if isinstance(msg, CommitmentRequest):
                self.sessions.open(session, sender, now)
                reply: Wire = self.signer.on_commitment_request(msg, self.random_bytes(64))
            elif isinstance(msg, SignRequest):
                if msg.message != expected:
                    return []
                reply = self.signer.on_sign_request(msg)
            else:
                return []
        except FrostError:
            return []
        if sender == self.id:
            coordinator = self.coordinators.get(session)
            if coordinator is None:
                return []
            assert self.key is not None
            out = coordinator.receive(self.key.identifier, reply, now)
            return self._coordinator_effects(coordinator, out, now)
        return [SendToSteward(sender, reply)]

    def statistics(self) -> SigningStatistics:
        return SigningStatistics(
            sessions=len(self.sessions.opened),
            unused_nonces=self.sessions.unused_nonces,
            held_requests=self.sessions.held_requests,
            coordinating=len(self.coordinators),
            wallet_jobs=len(self.wallet_jobs),
            pending_adoptions=sum(len(v) for v in self.pending_adoptions.values()),
            log=len(self.log),
        )

    def is_signed_proposal(self, p: Proposal) -> bool:
        """Of our group, from the steward scheduled to propose its number, signed by it."""
        return (
            p.checkpoint.group_id == self.group_id
            and p.proposer == self.proposer_of(p.number)
            and signing.is_valid(p.proposer, p.signature, PROPOSAL_DOMAIN, self.group_id, p.body())
        )

    def is_signed_checkpoint(self, completed: Completed) -> bool:
        """Of our group and signed by the wallet key (whatever its number)."""
        if completed.proposal.checkpoint.group_id != self.group_id:
            return False
        try:
            completed.signed.verify(self.wallet_key)
        except InvalidSignature:
            return False
        return True

    # -- adopting -----------------------------------------------------------------------
    def _newer_and_signed(self, completed: Completed) -> bool:
        """Ours, above our base, signed by the wallet key, and around a proposal its
        proposer signed (as every completed checkpoint an honest steward forms is): the
        wallet's signature covers the checkpoint only, so without the proposer's any
        member could wrap it in other vectors and joins, and fill the variants a lagging
        node keeps for it."""
        return (
            completed.proposal.number > self.base_number
            and self.is_signed_checkpoint(completed)
            and self.is_signed_proposal(completed.proposal)
        )

    def _on_completed(self, completed: Completed, now: float) -> list[CheckpointEffect]:
        if not self._newer_and_signed(completed):
            return []
        p = completed.proposal
        variants = self.pending_adoptions.setdefault(p.number, {})
        if len(variants) < VARIANTS_KEPT:
            variants.setdefault(completed.encode(), completed)
        return self._retry_pending(now)

    def _retry_pending(self, now: float) -> list[CheckpointEffect]:
        effects: list[CheckpointEffect] = []
        for number in sorted(self.pending_adoptions, reverse=True):  # the newest we can
            variants = self.pending_adoptions[number].values()
            adopted = next(filter(None, (self._adopt(c, now) for c in variants)), None)
            if adopted is not None:
                effects.append(adopted)
                break
        if self.pending_proposals:
            have = vector_of(self.live)
            for proposal in list(self.pending_proposals.values()):
                if covers(have, proposal.vector):  # only then can the replay succeed
                    effects += self._on_proposal(proposal, now)
        return effects

    def adopt_state(
        self, completed: Completed, state: GroupState, now: float
    ) -> list[CheckpointEffect]:
        """Sync by checkpoint: take a newer signed checkpoint together with its whole state
        (from a peer) when the orders to rebuild it are no longer at hand. Checked: the
        wallet signed it, it is newer than ours, and the state is exactly the one it
        commits to. Anything else is ignored."""
        if not self._newer_and_signed(completed):
            return []
        p = completed.proposal
        if (
            state.group_id != self.group_id
            or self._checkpoint_of(state, p.number, p.next_digest(self.group_id)) != p.checkpoint
        ):
            return []
        # The group signed the checkpoint (and so the state, seqs included), not the
        # proposal around it: a vector that is not the state's own is a lie.
        if p.vector != vector_of(state) or not self._joins_signed(p, state):
            return []
        adopted = self._take(completed, state, now)
        return [] if adopted is None else [adopted]

    def _adopt(self, completed: Completed, now: float) -> CheckpointAdopted | None:
        p = completed.proposal
        found = self._checkpoint_for(p)
        if isinstance(found, str) or found[1] != p.checkpoint:
            return None  # behind (sync brings the orders) or not our history
        if not self._joins_signed(p, found[0]):
            return None
        return self._take(completed, found[0], now)

    def _joins_signed(self, p: Proposal, state: GroupState) -> bool:
        """The state records that a trader was admitted, not its signed join (kept as
        evidence of its consent): every join around a signed checkpoint must be the
        member's own signature over our terms, of a member of that state."""
        return all(
            j.is_valid(self.group_id, self.terms_hash) and state.is_member(j.member)
            for a in p.admissions
            for j in a.join
        )

    def _checkpoint_for(self, p: Proposal) -> tuple[GroupState, Checkpoint] | str:
        """The state and checkpoint ``p`` implies over our base and log, or why not
        (``state_at``'s reasons, or ``"fault"``)."""
        try:
            state = self._state_for(p)
        except (ValueError, ArithmeticError, LocalProtocolError) as exc:
            return self._fault(exc)
        if isinstance(state, str):
            return state
        checkpoint = self._checkpoint_of(state, p.number, p.next_digest(self.group_id))
        return "fault" if checkpoint is None else (state, checkpoint)

    def _checkpoint_of(
        self, state: GroupState, number: int, next_epoch: bytes = bytes(32)
    ) -> Checkpoint | None:
        try:
            return checkpoint_of(state, number, self.ledger_id, next_epoch)
        except (ValueError, ArithmeticError, LocalProtocolError) as exc:
            self._fault(exc)
            return None

    def _fault(self, exc: Exception) -> str:
        """A state that cannot be computed or encoded (a bug, or a value out of its field)
        refuses what needed it; it is counted, never raised: no peer's value stops us."""
        self.faults += 1
        self.last_fault = f"{type(exc).__name__}: {exc}"[:200]
        return "fault"

    def _state_for(self, p: Proposal) -> GroupState | str:
        return state_at(
            self.base,
            self.log,
            p.vector,
            self.epochs,
            p.admissions,
            claims=p.claims,
            settles=p.settles,
            ledger_height=p.ledger_height,
            number=p.number,
        )

    def _take(
        self, completed: Completed, state: GroupState, now: float
    ) -> CheckpointAdopted | None:
        """Adopt ``state`` (checked against the group's signature by the caller). What the
        log keeps is decided by the state's own seqs, never by the proposal's word; and
        certificates are final, so a state whose replay would take back an applied order
        is refused (None), whoever signed it."""
        p = completed.proposal
        target = {e.member: e.seq for e in vector_of(state)}
        log = [
            o
            for o in self.log
            if not all(q.seq <= target.get(q.member, 0) for q in o.order.parties)
        ]
        live = state.copy()
        Replica(live, self.epochs).add_certified(log)
        if not covers(vector_of(live), vector_of(self.live)):
            return None
        self.log = log
        self.base, self.base_number, self.adopted_at = state, p.number, now
        self.live = live
        for member in list(self.joins):
            if state.is_member(member):
                del self.joins[member]
        keep = self.base_number
        self.pending_adoptions = {k: v for k, v in self.pending_adoptions.items() if k > keep}
        self.accepted = {k: v for k, v in self.accepted.items() if v.number > keep}
        self.pending_proposals = {
            k: v for k, v in self.pending_proposals.items() if v.number > keep
        }
        decided = self._decided(p)
        self._approve_settlements(now)
        return CheckpointAdopted(completed, state, self.live.copy(), decided)

    def _decided(self, p: Proposal) -> Epoch | None:
        """The group signed a checkpoint handing over to ``p.next_epoch``: we are in it
        from now on (with our reshared key, if our operator approved the change and we are
        in the new committee; else as a follower)."""
        if not p.next_epoch or p.next_epoch[0].number != len(self.epochs):
            return None
        e = p.next_epoch[0]
        self._enter_epoch(e, self.changes.decided(e))
        return e
