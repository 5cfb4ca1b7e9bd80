"""Epochs: which committee certifies and signs from which checkpoint on.

An ``Epoch`` is a committee (its stewards, the wallet's FROST threshold, and the quorum
that follows from their number) from a first checkpoint on. Epoch 0 is the genesis's, from
checkpoint 1. An epoch ends at a hand-over (``proto.handover``): a quorum of its own
stewards seals it and names the next epoch, whose first checkpoint is the one after the
last the old committee signs. ``Epochs`` is the schedule a node holds: every machine asks
it ``epoch(number)`` (for a vote or a certificate, which name their epoch) or
``committee_at(checkpoint)`` (for a checkpoint proposal) instead of holding one committee,
as py-evm picks a fork's rules by block number.

Invariants:

* epoch numbers run 0, 1, 2, ... without gaps, and first checkpoints strictly increase, so
  every checkpoint number has exactly one epoch;
* a committee's threshold t is at least its quorum (t stewards can never sign what a
  quorum did not agree to, and t > f) and at most n - f (the honest stewards alone can
  always sign);
* a schedule only grows: ``then`` returns a longer one, the known epochs never change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from proto import signing
from proto.codec import ListOf, UInt, Wire, register, wf
from proto.committee import Committee
from proto.errors import InvalidCertificate
from proto.kinds import MAX_STEWARDS, MEMBER_ID

EPOCH_DOMAIN = "epoch"
MAX_EPOCHS = 1 << 16
"""Epochs one group may go through (a change a day for 179 years)."""


@register(17, "epoch")
@dataclass(frozen=True)
class Epoch(Wire):
    number: int = wf(UInt(32))
    first_checkpoint: int = wf(UInt(64, minimum=1))
    """The first checkpoint this committee signs (epoch 0: checkpoint 1)."""
    stewards: tuple[bytes, ...] = wf(
        ListOf(MEMBER_ID, min_items=1, max_items=MAX_STEWARDS, strictly_sorted=True)
    )
    threshold: int = wf(UInt(16, minimum=1))

    def check_fields(self) -> None:
        committee = Committee(self.stewards)
        if not committee.quorum <= self.threshold <= committee.n - committee.f:
            raise ValueError(
                f"threshold {self.threshold} outside [{committee.quorum}, "
                f"{committee.n - committee.f}] for {committee.n} stewards"
            )
        if self.number == 0 and self.first_checkpoint != 1:
            raise ValueError("epoch 0 starts at checkpoint 1")

    @cached_property
    def committee(self) -> Committee:
        return Committee(self.stewards)

    @property
    def quorum(self) -> int:
        return self.committee.quorum

    def digest(self, group_id: bytes) -> bytes:
        return signing.domain_hash(EPOCH_DOMAIN, group_id, self.encode())


def genesis_epoch(stewards: Sequence[bytes], threshold: int) -> Epoch:
    return Epoch(0, 1, tuple(sorted(stewards)), threshold)


class Epochs:
    """A group's schedule of epochs, oldest first (``InvalidCertificate`` for an epoch it
    does not know: a peer named it)."""

    def __init__(self, epochs: Sequence[Epoch]) -> None:
        if not 1 <= len(epochs) <= MAX_EPOCHS:
            raise ValueError(f"a schedule has 1..{MAX_EPOCHS} epochs")
        for i, epoch in enumerate(epochs):
            if epoch.number != i:
                raise ValueError("epoch numbers run 0, 1, 2, ... without gaps")
            if i and epoch.first_checkpoint <= epochs[i - 1].first_checkpoint:
                raise ValueError("an epoch starts after the one before it")
        self.epochs: tuple[Epoch, ...] = tuple(epochs)

    @property
    def current(self) -> Epoch:
        return self.epochs[-1]

    def epoch(self, number: int) -> Epoch:
        if not 0 <= number < len(self.epochs):
            raise InvalidCertificate(f"epoch {number} is not known here")
        return self.epochs[number]

    def at(self, checkpoint: int) -> Epoch:
        """The epoch whose committee signs checkpoint number ``checkpoint``."""
        for epoch in reversed(self.epochs):
            if epoch.first_checkpoint <= checkpoint:
                return epoch
        return self.epochs[0]

    def committee_at(self, checkpoint: int) -> Committee:
        return self.at(checkpoint).committee

    def then(self, epoch: Epoch) -> Epochs:
        """This schedule with ``epoch`` appended (``ValueError`` unless it is the next)."""
        return Epochs((*self.epochs, epoch))

    def __len__(self) -> int:
        return len(self.epochs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Epochs) and other.epochs == self.epochs

    def __hash__(self) -> int:
        return hash(self.epochs)


def single(committee: Committee, threshold: int | None = None) -> Epochs:
    """The schedule of a group that never changed its stewards: epoch 0 alone."""
    return Epochs((genesis_epoch(committee.stewards, threshold or committee.quorum),))
