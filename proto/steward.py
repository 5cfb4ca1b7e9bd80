"""A steward's voting machine: batches in, votes (behind their locks) out.

The vote-lock rule: a steward never signs votes covering two different orders that
consume the same (member, seq). Before a vote leaves, the driver persists the new locks
(``PersistVoteLocks``, fsynced); after a crash the steward is rebuilt with the locks it
had on disk, so it cannot be made to vote for a conflicting order by restarting it.

The steward votes for a batch only when every order passes ``proto.validation`` against
its replica's applied (certified) state and no order conflicts with a lock. A conflict
with a lock yields equivocation evidence as well as the refusal. Locks for seqs that a
checkpoint the steward adopted has consumed can never matter again (a lower seq fails the
seq check) and are forgotten then; until then a seal reports them (``proto.handover``).

Across epochs (``proto.epochs``, ``proto.handover``): the steward votes only in its
replica's current epoch, only if it is on that epoch's committee, has not sealed it, and
has adopted the checkpoint the epoch starts from; in an epoch a hand-over opened, only for
orders the hand-over's carried locks allow. ``seal`` ends its voting in the epoch: the
seal is persisted (``PersistSeal``) before it is sent, and a steward seals an epoch once.
A steward of the current epoch cannot exit (``STEWARD_EXIT``): it is removed first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from nacl.signing import SigningKey

from proto import signing
from proto.effects import (
    Effect,
    ForgetVoteLocks,
    PersistSeal,
    PersistVoteLocks,
    RefuseBatch,
    ReportEquivocation,
    SendSeal,
    SendVote,
)
from proto.epochs import Epoch
from proto.errors import LocalProtocolError
from proto.handover import MAX_SEAL_LOCKS, Handover, Seal, make_seal
from proto.orders import ORDER_DOMAIN, Exit, SignedOrder, equivocation_proof
from proto.replica import Replica
from proto.signing import public_key_of
from proto.state import GroupState
from proto.validation import Refusal, VerifiedOrders, check_batch
from proto.votes import Batch, Certificate, make_vote

STEWARD_EXIT = "steward-must-be-removed-first"
"""A steward of the epoch asked to exit: the committee must first hand over to one
without it (``swapnet steward remove``), so that its share signs nothing once it is gone,
its settle included."""


class Steward:
    def __init__(
        self,
        key: SigningKey,
        replica: Replica,
        locks: Iterable[SignedOrder] = (),
        *,
        seal: Seal | None = None,
        checkpoint: int = 0,
        epoch_base: int = 0,
        holds_share: Callable[[int], bool] | None = None,
    ) -> None:
        self.key = key
        self.holds_share = holds_share
        """Whether the node holds its share of the wallet key for an epoch (None: always).
        A steward without one lost its store in that epoch, its vote locks with it: it
        neither votes nor seals there (a seal would report no locks), until a reshare
        gives it a share for the next epoch (``swapnet steward repair``)."""
        self.replica = replica
        self.group_id = replica.group_id
        self.id = public_key_of(key)
        self.seal_made = seal
        """The seal this steward made (on disk), if it sealed an epoch."""
        self.checkpoint = checkpoint
        """The last checkpoint this steward adopted."""
        self.epoch_base = epoch_base
        """The checkpoint the current epoch starts voting from (its hand-over's base)."""
        self.locks: dict[tuple[bytes, int], SignedOrder] = {}
        self.verified = VerifiedOrders()
        for signed in locks:
            for p in signed.order.parties:
                self.locks[(p.member, p.seq)] = signed

    @property
    def epoch(self) -> Epoch:
        return self.replica.epochs.current

    def not_voting(self) -> str | None:
        """Why this steward does not vote in the current epoch now, or None."""
        epoch = self.epoch
        if self.id not in epoch.committee:
            return "not-a-steward-of-this-epoch"
        if self.holds_share is not None and not self.holds_share(epoch.number):
            return "lost-its-store"
        if self.seal_made is not None and self.seal_made.epoch >= epoch.number:
            return "epoch-sealed"
        if self.checkpoint < self.epoch_base:
            return "waiting-for-base-checkpoint"
        return None

    def handle_batch(self, batch: Batch) -> list[Effect]:
        digest = batch.digest(self.group_id)
        why = self.not_voting()
        if why is not None:
            return [RefuseBatch(digest, (Refusal(0, why),))]
        effects: list[Effect] = []
        refusals: list[Refusal] = []
        carried = self.replica.carried
        for index, signed in enumerate(batch.orders):
            if not carried.allows(signed):
                refusals.append(Refusal(index, "conflicts-with-carried-order"))
                continue
            if isinstance(signed.order, Exit) and signed.order.member in self.epoch.committee:
                refusals.append(Refusal(index, STEWARD_EXIT))  # removed first, then settled
                continue
            for p in signed.order.parties:
                held = self.locks.get((p.member, p.seq))
                if p.seq < self.replica.state.next_seq(p.member):
                    continue  # consumed: the seq check refuses it ("bad-seq")
                if held is not None and held.order_id != signed.order_id:
                    refusals.append(Refusal(index, "conflicts-with-vote-lock"))
                    if _signed_by(signed, p.member, self.group_id):
                        proof = equivocation_proof(p.member, p.seq, held, signed)
                        effects.append(ReportEquivocation(proof))
                    break
        refusals.extend(
            check_batch(self.replica.state, batch.orders, self.group_id, verified=self.verified)
        )
        if refusals:
            unique = sorted({(r.index, r.reason) for r in refusals})
            effects.append(RefuseBatch(digest, tuple(Refusal(i, r) for i, r in unique)))
            return effects
        new_locks = []
        for signed in batch.orders:
            if any((p.member, p.seq) not in self.locks for p in signed.order.parties):
                new_locks.append(signed)
                for p in signed.order.parties:
                    self.locks[(p.member, p.seq)] = signed
        if new_locks:
            effects.append(PersistVoteLocks(tuple(new_locks)))
        effects.append(SendVote(make_vote(self.key, self.group_id, digest, self.epoch.number)))
        return effects

    def receive_certificate(self, cert: Certificate) -> list[Effect]:
        self.replica.receive_certificate(cert)
        return []

    def adopt_checkpoint(self, number: int, state: GroupState) -> list[Effect]:
        """Checkpoint ``number`` (its own state, not the live one) was adopted: drop the
        locks whose seqs it consumed. Locks of orders applied but not yet covered by a
        checkpoint stay: a seal must report them (``proto.handover``)."""
        if number <= self.checkpoint:
            return []
        self.checkpoint = number
        keys = [k for k in self.locks if k[1] < state.next_seq(k[0])]
        for key in keys:
            del self.locks[key]
        return [ForgetVoteLocks(tuple(keys))] if keys else []

    def seal(self, next_epoch: Epoch) -> list[Effect]:
        """End this steward's voting in the current epoch, for ``next_epoch``: the seal is
        persisted, then sent. Asked again for the same next epoch, the same seal is sent
        again; for another one, ``LocalProtocolError`` (an epoch is sealed once)."""
        epoch = self.epoch
        if self.id not in epoch.committee:
            raise LocalProtocolError("only a steward of the epoch seals it")
        if self.holds_share is not None and not self.holds_share(epoch.number):
            raise LocalProtocolError("we lost our store in this epoch: a seal would lie")
        made = self.seal_made
        if made is not None and made.epoch == epoch.number:
            if made.next_digest != next_epoch.digest(self.group_id):
                raise LocalProtocolError(f"epoch {epoch.number} is sealed for another epoch")
            return [SendSeal(made)]
        if next_epoch.number != epoch.number + 1:
            raise LocalProtocolError(f"epoch {next_epoch.number} does not follow {epoch.number}")
        if next_epoch.first_checkpoint <= self.checkpoint:
            raise LocalProtocolError("the next epoch starts at a checkpoint already adopted")
        state = self.replica.state
        carried = [
            s
            for s in self.replica.carried.orders()
            if any(p.seq >= state.next_seq(p.member) for p in s.order.parties)
        ]
        locks = {s.order_id: s for s in [*self.locks.values(), *carried]}
        if len(locks) > MAX_SEAL_LOCKS:
            raise LocalProtocolError(
                f"{len(locks)} open vote locks, a seal carries {MAX_SEAL_LOCKS}: seal after "
                "the next checkpoint covers more of them"
            )
        made = make_seal(
            self.key, self.group_id, epoch.number, next_epoch, self.checkpoint, locks.values()
        )
        self.seal_made = made
        return [PersistSeal(made), SendSeal(made)]

    def enter(self, handover: Handover) -> list[Effect]:
        """Take a verified hand-over into the next epoch (raises ``InvalidCertificate``,
        nothing changes). The old epoch's locks are dropped: the hand-over's carried locks
        take their place."""
        self.replica.enter(handover)
        self.epoch_base = handover.base
        keys = tuple(self.locks)
        self.locks.clear()
        return [ForgetVoteLocks(keys)] if keys else []


def _signed_by(signed: SignedOrder, member: bytes, group_id: bytes) -> bool:
    return signing.is_valid(
        member, signed.signature_of(member), ORDER_DOMAIN, group_id, signed.order.encode()
    )
