"""A steward's voting machine: batches in, votes (behind their locks) out.

The vote-lock rule: a steward never signs votes covering two different orders that
consume the same (member, seq). Before a vote leaves, the driver persists the new locks
(``PersistVoteLocks``, fsynced); after a crash the steward is rebuilt with the locks it
had on disk, so it cannot be made to vote for a conflicting order by restarting it.

The steward votes for a batch only when every order passes ``proto.validation`` against
its replica's applied (certified) state and no order conflicts with a lock. A conflict
with a lock yields equivocation evidence as well as the refusal. Locks for seqs that the
state has consumed can never matter again (a lower seq fails the seq check) and are
forgotten as certificates are applied.
"""

from __future__ import annotations

from collections.abc import Iterable

from nacl.signing import SigningKey

from proto import signing
from proto.effects import (
    Effect,
    ForgetVoteLocks,
    PersistVoteLocks,
    RefuseBatch,
    ReportEquivocation,
    SendVote,
)
from proto.errors import LocalProtocolError
from proto.orders import ORDER_DOMAIN, SignedOrder, equivocation_proof
from proto.replica import Replica
from proto.signing import public_key_of
from proto.validation import Refusal, VerifiedOrders, check_batch
from proto.votes import Batch, Certificate, make_vote


class Steward:
    def __init__(
        self,
        key: SigningKey,
        replica: Replica,
        locks: Iterable[SignedOrder] = (),
    ) -> None:
        self.key = key
        self.replica = replica
        self.group_id = replica.group_id
        self.id = public_key_of(key)
        if self.id not in replica.committee:
            raise LocalProtocolError("this key is not a steward of the committee")
        self.locks: dict[tuple[bytes, int], SignedOrder] = {}
        self.verified = VerifiedOrders()
        for signed in locks:
            for p in signed.order.parties:
                self.locks[(p.member, p.seq)] = signed

    def handle_batch(self, batch: Batch) -> list[Effect]:
        digest = batch.digest(self.group_id)
        effects: list[Effect] = []
        refusals: list[Refusal] = []
        for index, signed in enumerate(batch.orders):
            for p in signed.order.parties:
                held = self.locks.get((p.member, p.seq))
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
        effects.append(SendVote(make_vote(self.key, self.group_id, digest)))
        return effects

    def receive_certificate(self, cert: Certificate) -> list[Effect]:
        applied = self.replica.receive_certificate(cert)
        return self.forget_applied(applied)

    def forget_applied(self, applied: list[SignedOrder]) -> list[Effect]:
        """Drop the locks of orders the replica has applied (their seqs are consumed)."""
        keys = []
        for signed in applied:
            for p in signed.order.parties:
                if self.locks.pop((p.member, p.seq), None) is not None:
                    keys.append((p.member, p.seq))
        return [ForgetVoteLocks(tuple(keys))] if keys else []


def _signed_by(signed: SignedOrder, member: bytes, group_id: bytes) -> bool:
    return signing.is_valid(
        member, signed.signature_of(member), ORDER_DOMAIN, group_id, signed.order.encode()
    )
