"""Resharing the wallet key to the next epoch's committee, on the wire: the same key,
new shares, a new steward set and threshold (``proto.frost.reshare`` is the arithmetic).
A refresh is a reshare to the same committee: new shares of the same key, the old ones
useless with them.

A ``ReshareSpec`` fixes everything: the group and the epoch handed over from, the wallet
key, the old committee (its stewards, threshold and every old public share, as each old
steward's key package records them), the dealers S (at least the old threshold of them,
by FROST identifier), and the new committee and threshold. Its hash is the ceremony id,
so nothing of one ceremony counts in another.

Approval comes first. A dealer deals only for a spec that a quorum of the old committee
approved (``ReshareApproval``, each steward's signature over the ceremony id, given when
its own operator asked for this very change): its shares to the new stewards, once the
new threshold of them are together, rebuild its weighted share, so a spec that anyone
could write (naming its own keys as the new committee) would hand it the wallet key.

The exchange is the DKG's (``proto.formation``): pull-based and idempotent. Each dealer
(an old steward in S) checks the approvals and the spec against its own key package
before it deals anything (a spec with a wrong old public share would let a liar blame an
honest dealer), deals from coefficients its node keeps sealed on disk (so a restarted
dealer deals the very same shares), and answers each new steward that asks
(authenticated by the connection) with its signed ``ResharePackage`` and the signed share
dealt to it. A new steward checks every reply: the package and share signed by the
dealer's identity key; the commitment's constant term is lambda_i * PK_i, i's
Lagrange-weighted old public share (so the constants add up to the wallet key and nobody
deals anything else); its share is on the commitment. A reply that fails one of the
last two is a ``ReshareComplaint``: the dealer's own signatures over what it got wrong,
which anyone holding the spec can judge (``judge_complaint``). Before it finishes, a new
steward signs a ``ReshareEcho`` of every package it holds and checks every other new
steward's: a dealer that gave two halves two commitments is caught by its two signed
packages.

Invariants: nothing is dealt without a quorum's approval; the key package a new steward
ends with is for the spec's wallet key, under the new threshold, with public shares every
new steward computes alike (the echo); a dealer is blamed only by its own signatures.
After a hand-over the old committee's honest stewards erase their old shares: old shares
of one sharing still combine with each other (the key is the same), never with new ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from nacl.signing import SigningKey

from proto import signing
from proto.codec import Bytes, ListOf, Obj, Text, UInt, Wire, register, wf
from proto.committee import Committee
from proto.frost.core import vss_verify
from proto.frost.curve import FrostError
from proto.frost.dkg import DkgFault
from proto.frost.keys import KeyPackage
from proto.frost.reshare import ReshareDeal, reshare_combine, reshare_deal
from proto.frost.suite import SUITES, Ciphersuite
from proto.kinds import DIGEST, MAX_STEWARDS, MEMBER_ID, SIGNATURE

APPROVAL_DOMAIN = "reshare-approval"
PACKAGE_DOMAIN = "reshare-package"
SHARE_DOMAIN = "reshare-share"
ECHO_DOMAIN = "reshare-echo"
SCALAR = Bytes(32)
POINT = Bytes(min_size=32, max_size=33)
IDENTIFIER = UInt(16, minimum=1)


@register(26, "reshare-spec")
@dataclass(frozen=True)
class ReshareSpec(Wire):
    group_id: bytes = wf(DIGEST)
    epoch: int = wf(UInt(32))
    """The epoch handed over from (the new committee is epoch + 1's)."""
    suite: str = wf(Text(48))
    group_key: bytes = wf(POINT)
    old_stewards: tuple[bytes, ...] = wf(
        ListOf(MEMBER_ID, min_items=1, max_items=MAX_STEWARDS, strictly_sorted=True)
    )
    old_threshold: int = wf(IDENTIFIER)
    old_public_shares: tuple[bytes, ...] = wf(ListOf(POINT, min_items=1, max_items=MAX_STEWARDS))
    """Old participant i's public share at position i - 1."""
    dealers: tuple[int, ...] = wf(
        ListOf(IDENTIFIER, min_items=1, max_items=MAX_STEWARDS, strictly_sorted=True)
    )
    new_stewards: tuple[bytes, ...] = wf(
        ListOf(MEMBER_ID, min_items=1, max_items=MAX_STEWARDS, strictly_sorted=True)
    )
    new_threshold: int = wf(IDENTIFIER)

    def check_fields(self) -> None:
        if self.suite not in SUITES:
            raise ValueError(f"unknown suite {self.suite!r}")
        if len(self.old_public_shares) != len(self.old_stewards):
            raise ValueError("one old public share per old steward")
        if not self.old_threshold <= len(self.dealers):
            raise ValueError(f"resharing needs at least {self.old_threshold} dealers")
        if self.dealers[-1] > len(self.old_stewards):
            raise ValueError("a dealer is not an old steward")
        if not 1 <= self.new_threshold <= len(self.new_stewards):
            raise ValueError("the new threshold must fit the new committee")

    @property
    def frost_suite(self) -> Ciphersuite:
        return SUITES[self.suite]

    def ceremony(self) -> bytes:
        return hashlib.sha256(b"swapnet/1/reshare-ceremony\x00" + self.encode()).digest()

    def dealer_key(self, dealer: int) -> bytes:
        return self.old_stewards[dealer - 1]

    def new_identifier_of(self, steward: bytes) -> int:
        return self.new_stewards.index(steward) + 1

    def matches(self, key: KeyPackage) -> bool:
        """Whether this spec's old committee is the one ``key`` (an old steward's) records."""
        return (
            key.suite.name == self.suite
            and key.group_public_key == self.group_key
            and key.threshold == self.old_threshold
            and sorted(key.public_shares) == list(range(1, len(self.old_public_shares) + 1))
            and all(key.public_shares[i + 1] == p for i, p in enumerate(self.old_public_shares))
        )


def spec_for(
    group_id: bytes,
    epoch: int,
    old_stewards: Sequence[bytes],
    key: KeyPackage,
    dealers: Sequence[int],
    new_stewards: Sequence[bytes],
    new_threshold: int,
) -> ReshareSpec:
    """The spec an old steward proposes from its own key package."""
    return ReshareSpec(
        group_id,
        epoch,
        key.suite.name,
        key.group_public_key,
        tuple(sorted(old_stewards)),
        key.threshold,
        tuple(key.public_shares[i] for i in sorted(key.public_shares)),
        tuple(sorted(dealers)),
        tuple(sorted(new_stewards)),
        new_threshold,
    )


@register(19, "reshare-approval")
@dataclass(frozen=True)
class ReshareApproval(Wire):
    """An old steward's consent to one ceremony (its operator asked for this change)."""

    ceremony: bytes = wf(DIGEST)
    steward: bytes = wf(MEMBER_ID)
    signature: bytes = wf(SIGNATURE)


def approve(spec: ReshareSpec, identity: SigningKey) -> ReshareApproval:
    ceremony = spec.ceremony()
    sig = signing.sign(identity, APPROVAL_DOMAIN, spec.group_id, ceremony)
    return ReshareApproval(ceremony, signing.public_key_of(identity), sig)


def check_approved(spec: ReshareSpec, approvals: Sequence[ReshareApproval]) -> None:
    """Raise ``FrostError`` unless a quorum of distinct old stewards approved this spec."""
    ceremony = spec.ceremony()
    good = {
        a.steward
        for a in approvals
        if a.ceremony == ceremony
        and a.steward in spec.old_stewards
        and signing.is_valid(a.steward, a.signature, APPROVAL_DOMAIN, spec.group_id, ceremony)
    }
    quorum = Committee(spec.old_stewards).quorum
    if len(good) < quorum:
        raise FrostError(f"{len(good)} old stewards approved this change, a quorum is {quorum}")


@register(27, "reshare-package")
@dataclass(frozen=True)
class ResharePackage(Wire):
    """A dealer's commitment for one ceremony, signed by the dealer: two different ones
    for one (ceremony, dealer) prove it equivocated."""

    ceremony: bytes = wf(DIGEST)
    dealer: int = wf(IDENTIFIER)
    commitment: tuple[bytes, ...] = wf(ListOf(POINT, min_items=1, max_items=MAX_STEWARDS))
    signature: bytes = wf(SIGNATURE)

    def body(self) -> bytes:
        return replace(self, signature=bytes(64)).encode()

    def is_signed_by(self, dealer: bytes) -> bool:
        return signing.is_valid(dealer, self.signature, PACKAGE_DOMAIN, self.ceremony, self.body())


@register(28, "reshare-reply")
@dataclass(frozen=True)
class ReshareReply(Wire):
    """What a dealer owes one new steward: its signed package and the signed share."""

    package: ResharePackage = wf(Obj(ResharePackage))
    recipient: int = wf(IDENTIFIER)
    share: bytes = wf(SCALAR)
    share_signature: bytes = wf(SIGNATURE)

    def share_message(self) -> bytes:
        return share_message(self.package.dealer, self.recipient, self.share)


def share_message(dealer: int, recipient: int, share: bytes) -> bytes:
    return dealer.to_bytes(2, "big") + recipient.to_bytes(2, "big") + share


@register(29, "reshare-complaint")
@dataclass(frozen=True)
class ReshareComplaint(Wire):
    """A new steward's proof against a dealer: the reply it got, signed by the dealer,
    whose commitment or share is wrong (``judge_complaint``)."""

    spec: ReshareSpec = wf(Obj(ReshareSpec))
    reply: ReshareReply = wf(Obj(ReshareReply))


class ReshareFault(DkgFault):
    """A dealer's reply is wrong: ``complaint`` proves it to anyone."""

    def __init__(self, dealer: int, reason: str, complaint: ReshareComplaint) -> None:
        super().__init__([dealer], reason)
        self.complaint = complaint


def _by_dealer(p: ResharePackage) -> int:
    return p.dealer


@register(18, "reshare-echo")
@dataclass(frozen=True)
class ReshareEcho(Wire):
    """Every dealer's package a new steward holds, signed by that new steward."""

    ceremony: bytes = wf(DIGEST)
    steward: bytes = wf(MEMBER_ID)
    packages: tuple[ResharePackage, ...] = wf(
        ListOf(
            Obj(ResharePackage),
            min_items=1,
            max_items=MAX_STEWARDS,
            strictly_sorted=True,
            sort_key=_by_dealer,
        )
    )
    signature: bytes = wf(SIGNATURE)

    def body(self) -> bytes:
        return replace(self, signature=bytes(64)).encode()

    def is_signed(self) -> bool:
        """Signed by the new steward it names."""
        return signing.is_valid(
            self.steward, self.signature, ECHO_DOMAIN, self.ceremony, self.body()
        )


@dataclass(frozen=True)
class ReshareDealer:
    """An old steward's side: its deal, from coefficients its node keeps sealed."""

    spec: ReshareSpec
    identity: SigningKey
    deal: ReshareDeal

    @classmethod
    def create(
        cls,
        spec: ReshareSpec,
        identity: SigningKey,
        key: KeyPackage,
        coefficients: Sequence[int],
        approvals: Sequence[ReshareApproval],
    ) -> ReshareDealer:
        """Raises ``FrostError`` unless a quorum of the old committee approved the spec and
        ``key`` is a dealer's of this very spec."""
        check_approved(spec, approvals)
        if not spec.matches(key):
            raise FrostError("the spec's old committee is not the one our key package records")
        if key.identifier not in spec.dealers:
            raise FrostError("we are not one of the spec's dealers")
        if signing.public_key_of(identity) != spec.dealer_key(key.identifier):
            raise FrostError("our identity is not the spec's steward for our key package")
        if len(coefficients) != spec.new_threshold - 1:
            raise FrostError(f"a deal takes {spec.new_threshold - 1} random coefficients")
        new_ids = list(range(1, len(spec.new_stewards) + 1))
        deal = reshare_deal(key, list(spec.dealers), coefficients, new_ids)
        return cls(spec, identity, deal)

    def signed_package(self) -> ResharePackage:
        ceremony = self.spec.ceremony()
        unsigned = ResharePackage(ceremony, self.deal.dealer, self.deal.commitment, bytes(64))
        sig = signing.sign(self.identity, PACKAGE_DOMAIN, ceremony, unsigned.body())
        return replace(unsigned, signature=sig)

    def reply_to(self, caller: bytes) -> ReshareReply | None:
        """What ``caller`` (an authenticated peer) is owed: None unless a new steward."""
        if caller not in self.spec.new_stewards:
            return None
        j = self.spec.new_identifier_of(caller)
        share = self.spec.frost_suite.encode_scalar(self.deal.shares[j])
        sig = signing.sign(
            self.identity,
            SHARE_DOMAIN,
            self.spec.ceremony(),
            share_message(self.deal.dealer, j, share),
        )
        return ReshareReply(self.signed_package(), j, share, sig)


def reply_problem(spec: ReshareSpec, reply: ReshareReply) -> tuple[str, bool] | None:
    """What is wrong with ``reply`` for its recipient, and whether the dealer's own
    signatures prove it (True: the dealer is at fault; False: the reply is not the
    dealer's at all, so it proves nothing about anyone); None if it is good."""
    suite, package = spec.frost_suite, reply.package
    ceremony = spec.ceremony()
    if package.ceremony != ceremony or package.dealer not in spec.dealers:
        return "a reply for another ceremony or dealer", False
    if reply.recipient > len(spec.new_stewards):
        return "a reply to nobody", False
    dealer_key = spec.dealer_key(package.dealer)
    if not package.is_signed_by(dealer_key) or not signing.is_valid(
        dealer_key, reply.share_signature, SHARE_DOMAIN, ceremony, reply.share_message()
    ):
        return "a reply its dealer did not sign", False
    try:
        share = suite.decode_scalar(reply.share)
        for point in package.commitment:
            suite.decode_point(point)
    except FrostError:
        return "a share or a commitment point that is not one", True
    if len(package.commitment) != spec.new_threshold:
        return "a commitment of the wrong degree", True
    old_public = spec.old_public_shares[package.dealer - 1]
    weighted = suite.point_mul(
        suite.lagrange_at_zero(package.dealer, list(spec.dealers)), old_public
    )
    if package.commitment[0] != weighted:
        return "a constant term other than its weighted old share", True
    if not vss_verify(reply.recipient, share, package.commitment, suite=suite):
        return "a share that is not on its commitment", True
    return None


def judge_complaint(complaint: ReshareComplaint) -> bool:
    """Anyone's judgment: True if the complaint convicts its dealer (the dealer signed a
    reply that is wrong), False if it proves nothing."""
    found = reply_problem(complaint.spec, complaint.reply)
    return found is not None and found[1]


def make_echo(
    spec: ReshareSpec, identity: SigningKey, replies: Mapping[int, ReshareReply]
) -> ReshareEcho:
    ceremony = spec.ceremony()
    packages = tuple(replies[d].package for d in sorted(replies))
    unsigned = ReshareEcho(ceremony, signing.public_key_of(identity), packages, bytes(64))
    sig = signing.sign(identity, ECHO_DOMAIN, ceremony, unsigned.body())
    return replace(unsigned, signature=sig)


def check_echoes(spec: ReshareSpec, mine: ReshareEcho, echoes: Mapping[bytes, ReshareEcho]) -> None:
    """Every other new steward's echo must hold exactly our packages. Raises ``DkgFault``
    naming a dealer whose two signed packages differ (culprit: its old identifier), or
    ``FrostError`` for an echo that is not its new steward's own."""
    ours = {p.dealer: p for p in mine.packages}
    for steward, echo in sorted(echoes.items()):
        if (
            steward not in spec.new_stewards
            or echo.ceremony != mine.ceremony
            or echo.steward != steward
            or not signing.is_valid(
                steward, echo.signature, ECHO_DOMAIN, echo.ceremony, echo.body()
            )
        ):
            raise FrostError("an echo that is not its new steward's own")
        theirs = {p.dealer: p for p in echo.packages}
        if set(theirs) != set(ours):
            raise FrostError("an echo without every dealer's package")
        for dealer, package in sorted(theirs.items()):
            if package != ours[dealer] and package.is_signed_by(spec.dealer_key(dealer)):
                raise DkgFault([dealer], "equivocation: two signed reshare packages")
            if package != ours[dealer]:
                raise FrostError("an echo carrying a package its dealer did not sign")


def finish(spec: ReshareSpec, me: bytes, replies: Mapping[int, ReshareReply]) -> KeyPackage:
    """A new steward's key package from one reply per dealer (by dealer identifier).
    Raises ``ReshareFault`` (with the complaint) naming a dealer whose own signatures
    convict it, or ``FrostError`` if a reply is missing or not its dealer's."""
    if set(replies) != set(spec.dealers):
        raise FrostError("a reshare needs a reply from every dealer")
    j = spec.new_identifier_of(me)
    deals: dict[int, ReshareDeal] = {}
    for dealer, reply in sorted(replies.items()):
        if reply.package.dealer != dealer or reply.recipient != j:
            raise FrostError("a reply from another dealer or to another steward")
        found = reply_problem(spec, reply)
        if found is not None:
            reason, proven = found
            if proven:
                raise ReshareFault(dealer, reason, ReshareComplaint(spec, reply))
            raise FrostError(reason)
        share = spec.frost_suite.decode_scalar(reply.share)
        deals[dealer] = ReshareDeal(dealer, reply.package.commitment, {j: share})
    return reshare_combine(  # each reply was checked above (``reply_problem``)
        j,
        spec.group_key,
        deals,
        spec.new_threshold,
        list(range(1, len(spec.new_stewards) + 1)),
        suite=spec.frost_suite,
    )


def dealers_for(
    old: Sequence[bytes],
    old_threshold: int,
    new: Sequence[bytes],
    without: Sequence[bytes] = (),
) -> tuple[int, ...]:
    """The dealers every old steward picks alike for a change (so that their operators'
    commands name one spec): the first ``old_threshold`` old stewards, by identifier, that
    stay in the new committee, then the first of those that leave; never one of
    ``without`` (a steward that lost its share)."""
    staying = [i for i, s in enumerate(sorted(old), 1) if s in new and s not in without]
    leaving = [i for i, s in enumerate(sorted(old), 1) if s not in new and s not in without]
    return tuple(sorted((staying + leaving)[:old_threshold]))


@register(33, "reshare-call")
@dataclass(frozen=True)
class ReshareCall(Wire):
    """What an old steward gossips when its operator asks for a change: the spec and its
    approval of it (the publisher must be the approving steward)."""

    spec: ReshareSpec = wf(Obj(ReshareSpec))
    approval: ReshareApproval = wf(Obj(ReshareApproval))

    def check(self, publisher: bytes) -> None:
        """Raise ``FrostError`` unless ``publisher`` approved this very spec, signed."""
        a, spec = self.approval, self.spec
        if (
            a.steward != publisher
            or a.ceremony != spec.ceremony()
            or a.steward not in spec.old_stewards
            or not signing.is_valid(
                a.steward, a.signature, APPROVAL_DOMAIN, spec.group_id, a.ceremony
            )
        ):
            raise FrostError("an approval that is not its publisher's of this spec")


UNDER_WAY = bytes(32)


@register(34, "reshare-pull")
@dataclass(frozen=True)
class ResharePull(Wire):
    """A new steward asks a dealer for its reply in one ceremony; a pull of no ceremony
    (``UNDER_WAY``) asks a node for what it holds of the changes under way."""

    ceremony: bytes = wf(DIGEST)


@register(36, "reshare-under-way")
@dataclass(frozen=True)
class ReshareUnderWay(Wire):
    """A node's answer to ``ResharePull`` of no ceremony (all zeros): the calls and echoes
    it holds of the changes under way, for a node that missed their gossip (restarted,
    or behind by an epoch). Each is checked by its receiver as if gossiped."""

    calls: tuple[ReshareCall, ...] = wf(ListOf(Obj(ReshareCall), max_items=MAX_STEWARDS))
    echoes: tuple[ReshareEcho, ...] = wf(ListOf(Obj(ReshareEcho), max_items=MAX_STEWARDS))
