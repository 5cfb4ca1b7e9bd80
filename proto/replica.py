"""A member's replica of the group: certified orders in, applied state out.

Certificates arrive in any order, duplicated or late (gossip reorders and drops; sync
fills gaps). The replica verifies each certificate against the committee of the epoch it
names (``proto.epochs``), then holds each
certified order until it is applicable: every party at its next seq and holding what it
pays. Applying an order can only make other waiting orders applicable (it credits payees
and advances its own parties' seqs), so the applied state reached from a set of
certificates does not depend on their arrival order.

Invariants:

* no balance ever goes negative (``GroupState.apply`` refuses, the replica waits);
* an order is applied at most once: a (member, seq) at or below the member's last seq is
  already consumed, and a duplicate of a waiting order is dropped;
* two certified orders that consume the same (member, seq) can only exist with more than
  f faulty stewards; if seen, the first is kept and an ``EquivocationProof`` is recorded;
* a certificate of a closed epoch is still accepted (it may form late, from votes cast
  before the hand-over): ``proto.handover`` shows it can only be for an order the
  hand-over carried or its base consumed, so it never conflicts with the new epoch's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from proto.epochs import Epochs
from proto.errors import LocalProtocolError
from proto.handover import Carried, Handover, verify_handover
from proto.orders import EquivocationProof, SignedOrder, equivocation_proof
from proto.state import GroupState
from proto.votes import Certificate, verify_certificate

_KNOWN_CERTIFICATES_KEPT = 4096


class Replica:
    def __init__(self, state: GroupState, epochs: Epochs, carried: Carried | None = None) -> None:
        self.state = state
        self.epochs = epochs
        self.carried = carried or Carried()
        """What the hand-over into the current epoch carried (nothing in epoch 0)."""
        self.group_id = state.group_id
        self.waiting: dict[tuple[bytes, int], SignedOrder] = {}
        self.conflicts: list[EquivocationProof] = []
        self.version = 0
        """Bumped whenever state or waiting orders change: a driver persists when it moves."""
        self._known: dict[bytes, None] = {}
        self._verified: dict[bytes, None] = {}

    def verify(self, cert: Certificate) -> bytes:
        """Check ``cert`` against its epoch's committee (raises ``InvalidCertificate``) and
        return its batch digest. A batch verified once is certified, so it is not checked
        again: a gossip validator and the apply that follows pay for the signatures once."""
        digest = cert.batch.digest(self.group_id)
        if digest not in self._verified:
            verify_certificate(cert, self.epochs, self.group_id)
            _remember(self._verified, digest)
        return digest

    def enter(self, handover: Handover) -> Carried:
        """Move to the next epoch: check ``handover`` (raises ``InvalidCertificate``,
        nothing changes) and take what it carries."""
        carried = verify_handover(handover, self.epochs, self.group_id)
        self.epochs = self.epochs.then(handover.next)
        carried.forget_consumed(self.next_seqs())
        self.carried = carried
        self.version += 1
        return carried

    def next_seqs(self) -> dict[bytes, int]:
        return {m: a.last_seq + 1 for m, a in self.state.accounts.items()}

    def receive_certificate(self, cert: Certificate) -> list[SignedOrder]:
        """Verify ``cert`` (raises ``InvalidCertificate``) and apply what becomes
        applicable; return the orders applied by this call, in the order applied."""
        digest = cert.batch.digest(self.group_id)
        if digest in self._known:
            return []
        self.verify(cert)
        _remember(self._known, digest)
        return self.add_certified(cert.batch.orders)

    def add_certified(self, orders: Iterable[SignedOrder]) -> list[SignedOrder]:
        """Take orders already known to be certified (from a verified certificate or the
        store) and apply what becomes applicable."""
        touched: set[bytes] = set()
        for signed in orders:
            if self._admit(signed):
                touched.update(p.member for p in signed.order.parties)
        return self._drain(touched)

    def replace_state(self, state: GroupState) -> list[SignedOrder]:
        """Take a checkpoint's live state (it covers everything applied here, with the
        checkpoint's admissions and settlements); apply what became applicable."""
        if state.group_id != self.group_id:
            raise LocalProtocolError("a state of another group")
        if any(state.next_seq(m) < a.last_seq + 1 for m, a in self.state.accounts.items()):
            raise LocalProtocolError("a state that would undo applied orders")
        self.state = state
        self.version += 1
        for key in [k for k in self.waiting if k[1] < state.next_seq(k[0])]:
            del self.waiting[key]  # consumed in the new state
        return self._drain({member for member, _ in self.waiting})

    def waiting_orders(self) -> list[SignedOrder]:
        """Certified orders not yet applicable, each once, in a stable order."""
        unique = {s.order_id: s for s in self.waiting.values()}
        return [unique[k] for k in sorted(unique)]

    def _admit(self, signed: SignedOrder) -> bool:
        parties = signed.order.parties
        if any(p.seq < self.state.next_seq(p.member) for p in parties):
            return False  # already consumed
        for p in parties:
            held = self.waiting.get((p.member, p.seq))
            if held is None:
                continue
            if held.order_id != signed.order_id:
                self.conflicts.append(equivocation_proof(p.member, p.seq, held, signed))
            return False
        for p in parties:
            self.waiting[(p.member, p.seq)] = signed
        self.version += 1
        return True

    def _drain(self, members: Iterable[bytes]) -> list[SignedOrder]:
        applied: list[SignedOrder] = []
        work = deque(members)
        while work:
            member = work.popleft()
            signed = self.waiting.get((member, self.state.next_seq(member)))
            if signed is None or self.state.apply_problem(signed.order) is not None:
                continue
            self.state.apply(signed.order)
            self.version += 1
            applied.append(signed)
            for p in signed.order.parties:
                del self.waiting[(p.member, p.seq)]
            work.extend(signed.order.members_touched())
        return applied


def _remember(seen: dict[bytes, None], digest: bytes) -> None:
    """Add to a bounded, oldest-first memory of digests."""
    seen[digest] = None
    if len(seen) > _KNOWN_CERTIFICATES_KEPT:
        del seen[next(iter(seen))]
