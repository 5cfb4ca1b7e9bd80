"""Effects: what a protocol machine asks its driver (the node, or a test) to do.

Machines never do IO; they return a list of effects and the driver carries them out in
order. ``PersistVoteLocks`` must be durable (written and fsynced) before the driver carries
out any effect after it: that is the "persist before you promise" rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from proto.handover import Seal
from proto.orders import EquivocationProof, SignedOrder
from proto.validation import Refusal
from proto.votes import Vote


@dataclass(frozen=True)
class PersistVoteLocks:
    """Write these orders as the steward's locks on their (member, seq), with fsync."""

    orders: tuple[SignedOrder, ...]


@dataclass(frozen=True)
class ForgetVoteLocks:
    """These locks are below every member's applied seq and can be deleted (no hurry)."""

    keys: tuple[tuple[bytes, int], ...]


@dataclass(frozen=True)
class SendVote:
    vote: Vote


@dataclass(frozen=True)
class RefuseBatch:
    batch_digest: bytes
    refusals: tuple[Refusal, ...]


@dataclass(frozen=True)
class ReportEquivocation:
    proof: EquivocationProof


@dataclass(frozen=True)
class PersistSeal:
    """Write this seal, with fsync, before anything after it: from now on the steward
    never votes in the sealed epoch (``proto.handover``)."""

    seal: Seal


@dataclass(frozen=True)
class SendSeal:
    seal: Seal


Effect = (
    PersistVoteLocks
    | ForgetVoteLocks
    | SendVote
    | RefuseBatch
    | ReportEquivocation
    | PersistSeal
    | SendSeal
)
