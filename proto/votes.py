"""Batches, steward votes and certificates.

A ``Batch`` is a list of signed orders. A steward's ``Vote`` is one Ed25519 signature
over the epoch it votes in and the batch digest (domain ``swapnet/1/vote``), so one
signature covers up to ``MAX_BATCH_ORDERS`` orders. A ``Certificate`` names its epoch and
holds a batch with a quorum of that epoch's committee's votes (``proto.epochs``): every
order in it is final. A vote counts only in the epoch it names, so a steward's vote from
one epoch can never be replayed into another.

Invariants:

* a batch never holds two orders that consume the same (member, seq), and never the same
  order twice;
* a certificate's votes are sorted by steward id without repeats, so a certificate has one
  encoding for a given set of votes;
* ``verify_certificate`` accepts only a quorum of valid votes by members of the committee
  of the epoch the certificate names; one
  bad vote makes the whole certificate invalid (a peer that sends it is at fault).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from nacl.signing import SigningKey

from proto import signing
from proto.codec import ListOf, Obj, UInt, Wire, register, wf
from proto.epochs import Epoch, Epochs
from proto.errors import InvalidCertificate, InvalidSignature, LocalProtocolError
from proto.kinds import DIGEST, MAX_BATCH_ORDERS, MAX_STEWARDS, MEMBER_ID, SIGNATURE
from proto.orders import SignedOrder

BATCH_DOMAIN = "batch"
VOTE_DOMAIN = "vote"


@register(10, "batch")
@dataclass(frozen=True)
class Batch(Wire):
    orders: tuple[SignedOrder, ...] = wf(
        ListOf(Obj(SignedOrder), min_items=1, max_items=MAX_BATCH_ORDERS)
    )

    def check_fields(self) -> None:
        seen: set[tuple[bytes, int]] = set()
        for signed in self.orders:
            for party in signed.order.parties:
                key = (party.member, party.seq)
                if key in seen:
                    raise ValueError("two orders of a batch consume the same (member, seq)")
                seen.add(key)

    def digest(self, group_id: bytes) -> bytes:
        return signing.domain_hash(BATCH_DOMAIN, group_id, self.encoded)

    @cached_property
    def encoded(self) -> bytes:
        return self.encode()


@register(11, "vote")
@dataclass(frozen=True)
class Vote(Wire):
    """A steward's signature over the epoch it votes in and a batch digest."""

    epoch: int = wf(UInt(32))
    batch_digest: bytes = wf(DIGEST)
    steward: bytes = wf(MEMBER_ID)
    signature: bytes = wf(SIGNATURE)

    def verify(self, group_id: bytes) -> None:
        signing.verify(
            self.steward,
            self.signature,
            VOTE_DOMAIN,
            group_id,
            vote_message(self.epoch, self.batch_digest),
        )


def vote_message(epoch: int, batch_digest: bytes) -> bytes:
    return epoch.to_bytes(4, "big") + batch_digest


def make_vote(key: SigningKey, group_id: bytes, batch_digest: bytes, epoch: int = 0) -> Vote:
    sig = signing.sign(key, VOTE_DOMAIN, group_id, vote_message(epoch, batch_digest))
    return Vote(epoch, batch_digest, signing.public_key_of(key), sig)


@register(12, "steward-signature")
@dataclass(frozen=True)
class StewardSignature(Wire):
    steward: bytes = wf(MEMBER_ID)
    signature: bytes = wf(SIGNATURE)


def _steward_key(s: StewardSignature) -> bytes:
    return s.steward


@register(13, "certificate")
@dataclass(frozen=True)
class Certificate(Wire):
    epoch: int = wf(UInt(32))
    batch: Batch = wf(Obj(Batch))
    votes: tuple[StewardSignature, ...] = wf(
        ListOf(
            Obj(StewardSignature),
            min_items=1,
            max_items=MAX_STEWARDS,
            strictly_sorted=True,
            sort_key=_steward_key,
        )
    )


def verify_certificate(cert: Certificate, epochs: Epochs, group_id: bytes) -> bytes:
    """Check ``cert`` against the committee of the epoch it names and return its batch
    digest; raise ``InvalidCertificate`` otherwise (an unknown epoch included)."""
    committee = epochs.epoch(cert.epoch).committee
    if len(cert.votes) < committee.quorum:
        raise InvalidCertificate(f"{len(cert.votes)} votes, quorum is {committee.quorum}")
    digest = cert.batch.digest(group_id)
    message = vote_message(cert.epoch, digest)
    for vote in cert.votes:
        if vote.steward not in committee:
            raise InvalidCertificate("a vote from outside the committee")
        try:
            signing.verify(vote.steward, vote.signature, VOTE_DOMAIN, group_id, message)
        except InvalidSignature as exc:
            raise InvalidCertificate("a vote does not verify") from exc
    return digest


class VoteCollector:
    """Gathers votes on one batch in one epoch until a quorum makes a certificate.

    ``add`` checks each vote (right epoch and batch, committee member, valid signature)
    and returns
    the certificate once the quorum is reached, and None before. A bad vote raises
    ``InvalidSignature`` or ``InvalidCertificate`` and changes nothing.
    """

    def __init__(self, batch: Batch, epoch: Epoch, group_id: bytes) -> None:
        self.batch = batch
        self.epoch = epoch
        self.committee = epoch.committee
        self.group_id = group_id
        self.digest = batch.digest(group_id)
        self.votes: dict[bytes, bytes] = {}
        self.certificate: Certificate | None = None

    def add(self, vote: Vote) -> Certificate | None:
        if self.certificate is not None:
            return self.certificate
        if vote.batch_digest != self.digest:
            raise InvalidCertificate("vote for another batch")
        if vote.epoch != self.epoch.number:
            raise InvalidCertificate(f"a vote in epoch {vote.epoch}, not {self.epoch.number}")
        if vote.steward not in self.committee:
            raise InvalidCertificate("vote from outside the committee")
        if vote.steward in self.votes:
            return None
        vote.verify(self.group_id)
        self.votes[vote.steward] = vote.signature
        if len(self.votes) >= self.committee.quorum:
            self.certificate = Certificate(
                self.epoch.number,
                self.batch,
                tuple(StewardSignature(s, sig) for s, sig in sorted(self.votes.items())),
            )
        return self.certificate


def certificate_from_votes(
    batch: Batch, votes: list[Vote], epoch: Epoch, group_id: bytes
) -> Certificate:
    """A certificate from already gathered votes (raises if they are not a valid quorum)."""
    collector = VoteCollector(batch, epoch, group_id)
    for vote in votes:
        collector.add(vote)
    if collector.certificate is None:
        raise LocalProtocolError("not enough valid votes for a quorum")
    return collector.certificate
