"""Forming a group: the stewards' Pedersen DKG on the wire, and the genesis it yields.

Every steward is given the same ``GroupSpec`` (everything the genesis fixes except the
wallet key, which the DKG makes). Its hash is the ceremony id, so shares and packages of
one ceremony are never valid in another. Steward i (its position in the sorted steward
list, plus one) deals from its own random polynomial, kept sealed on its own disk before
anything leaves, so a restarted steward deals the very same shares.

The exchange is pull-based and idempotent: a steward asks each other steward for a
``DkgReply`` (that steward's round-one package and the signed share dealt to the caller,
who is authenticated by the connection). When a steward holds every package and every
share it finishes (``finish``): every package's proof of knowledge is checked and every
share against its dealer's commitment (a fault names the culprit, see
``proto.frost.dkg``); the wallet key is the sum of the packages' constant terms, and the
genesis is the spec plus that key.

Broadcast (the echo). A dealer could hand out two polynomials, each with a valid proof of
knowledge, to two halves of the stewards: they would end with different wallet keys. So
every round-one package is signed by its dealer (``SignedPackage``), and before it
finishes a steward signs a ``DkgEcho`` of every package it holds and pulls every other
steward's echo: it finishes only when all of them hold the same packages. Where two echoes
differ, the two signed packages of one dealer are the proof (``DkgEquivocation``), which
anyone can check with the dealer's key alone; an echo carrying a package its dealer did
not sign blames the echoing steward. So any two honest stewards that finish hold the same
packages, hence the same genesis.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace

from nacl.signing import SigningKey

from proto import signing
from proto.codec import Bytes, ListOf, Obj, Text, UInt, Wire, register, wf
from proto.committee import Committee
from proto.frost.curve import FrostError
from proto.frost.dkg import (
    SHARE_DOMAIN,
    DkgFault,
    Round1Package,
    SecretPackage,
    SignedShare,
    part1,
    part3,
    share_message,
)
from proto.frost.keys import KeyPackage
from proto.frost.suite import ED25519, SUITES, Ciphersuite
from proto.genesis import (
    MAX_EVM_ASSETS,
    AdmissionPolicy,
    Genesis,
    accounts_problem,
    evm_problem,
    handles_problem,
)
from proto.kinds import (
    ASSET,
    DIGEST,
    EVM_ACCOUNT,
    HANDLE,
    MAX_ASSETS,
    MAX_STEWARDS,
    MEMBER_ID,
    SIGNATURE,
)
from proto.pit import PIT_OFF, PitPolicy

SCALAR = Bytes(32)
POINT = Bytes(min_size=32, max_size=33)
"""A point of the spec's suite (Ed25519: 32 bytes; secp256k1: 33)."""
PACKAGE_DOMAIN = "dkg-package"
ECHO_DOMAIN = "dkg-echo"


@register(84, "group-spec")
@dataclass(frozen=True)
class GroupSpec(Wire):
    name: str = wf(Text(64))
    stewards: tuple[bytes, ...] = wf(
        ListOf(MEMBER_ID, min_items=1, max_items=MAX_STEWARDS, strictly_sorted=True)
    )
    assets: tuple[str, ...] = wf(
        ListOf(ASSET, min_items=1, max_items=MAX_ASSETS, strictly_sorted=True)
    )
    ledger_id: bytes = wf(DIGEST)
    challenge_window: int = wf(UInt(32, minimum=1))
    revoke_fee: int = wf(UInt(64))
    checkpoint_interval: int = wf(UInt(32, minimum=1))
    terms_hash: bytes = wf(DIGEST)
    admission: AdmissionPolicy = wf(Obj(AdmissionPolicy))
    pit: PitPolicy = wf(Obj(PitPolicy), default=PIT_OFF)
    wallet_suite: str = wf(Text(48), default=ED25519.name)
    """The wallet key's FROST ciphersuite: the DKG runs over it (``Genesis.wallet_suite``)."""
    evm_tokens: tuple[bytes, ...] = wf(ListOf(EVM_ACCOUNT, max_items=MAX_EVM_ASSETS), default=())
    """For a wallet on an EVM chain, the token of each asset (``Genesis.evm_tokens``)."""
    steward_accounts: tuple[bytes, ...] = wf(
        ListOf(EVM_ACCOUNT, max_items=MAX_STEWARDS), default=()
    )
    """For a wallet on an EVM chain, each steward's EVM account (``Genesis``'s)."""
    refresh_every: int = wf(UInt(32), default=0)
    """Checkpoints between proactive refreshes of the stewards' shares (0: on demand only):
    from an epoch's first checkpoint on, every steward asks for a refresh at this many."""
    steward_handles: tuple[str, ...] = wf(ListOf(HANDLE, max_items=MAX_STEWARDS), default=())
    """Each steward's handle, in ``stewards``' order (``Genesis.steward_handles``)."""

    def check_fields(self) -> None:
        if self.pit.on and self.pit.numeraire not in self.assets:
            raise ValueError("the pit's numeraire must be one of the group's assets")
        if len(self.stewards) < 2:
            raise ValueError("a group needs at least two stewards for a threshold key")
        Committee(self.stewards)
        if self.wallet_suite not in SUITES:
            raise ValueError(f"unknown wallet suite {self.wallet_suite!r}")
        evm_problem(self.wallet_suite, self.assets, self.evm_tokens)
        accounts_problem(self.wallet_suite, self.stewards, self.steward_accounts)
        handles_problem(self.stewards, self.steward_handles)

    @property
    def suite(self) -> Ciphersuite:
        return SUITES[self.wallet_suite]

    def ceremony(self) -> bytes:
        return hashlib.sha256(b"swapnet/1/dkg-ceremony\x00" + self.encode()).digest()

    @property
    def threshold(self) -> int:
        return Committee(self.stewards).quorum

    def identifier_of(self, steward: bytes) -> int:
        return self.stewards.index(steward) + 1

    def genesis(self, wallet_key: bytes) -> Genesis:
        return Genesis(
            self.name,
            self.stewards,
            self.threshold,
            wallet_key,
            self.assets,
            self.ledger_id,
            self.challenge_window,
            self.revoke_fee,
            self.checkpoint_interval,
            self.terms_hash,
            self.admission,
            self.pit,
            self.wallet_suite,
            self.evm_tokens,
            self.steward_accounts,
            self.refresh_every,
            self.steward_handles,
        )


@register(85, "dkg-pull")
@dataclass(frozen=True)
class DkgPull(Wire):
    ceremony: bytes = wf(DIGEST)


@register(69, "dkg-signed-package")
@dataclass(frozen=True)
class SignedPackage(Wire):
    """A dealer's round-one package, signed by the dealer for one ceremony: two of them
    for one (ceremony, dealer) that differ are proof that it equivocated."""

    ceremony: bytes = wf(DIGEST)
    identifier: int = wf(UInt(16, minimum=1))
    commitment: tuple[bytes, ...] = wf(ListOf(POINT, min_items=1, max_items=MAX_STEWARDS))
    proof_r: bytes = wf(POINT)
    proof_mu: bytes = wf(SCALAR)
    signature: bytes = wf(SIGNATURE)

    def body(self) -> bytes:
        return SignedPackage(
            self.ceremony, self.identifier, self.commitment, self.proof_r, self.proof_mu, bytes(64)
        ).encode()

    def round1(self, suite: Ciphersuite) -> Round1Package:
        """The package as FROST's DKG takes it (``FrostError`` if a scalar is not one)."""
        return Round1Package(
            self.identifier, self.commitment, self.proof_r, suite.decode_scalar(self.proof_mu)
        )

    def is_signed_by(self, dealer: bytes) -> bool:
        return signing.is_valid(dealer, self.signature, PACKAGE_DOMAIN, self.ceremony, self.body())


@register(86, "dkg-reply")
@dataclass(frozen=True)
class DkgReply(Wire):
    """What a dealer owes one steward: its signed round-one package and the signed share
    it dealt to that steward."""

    package: SignedPackage = wf(Obj(SignedPackage))
    recipient: int = wf(UInt(16, minimum=1))
    share: bytes = wf(SCALAR)
    share_signature: bytes = wf(SIGNATURE)

    @property
    def ceremony(self) -> bytes:
        return self.package.ceremony

    @property
    def identifier(self) -> int:
        return self.package.identifier

    def signed_share(self, suite: Ciphersuite) -> SignedShare:
        return SignedShare(
            self.ceremony,
            self.identifier,
            self.recipient,
            suite.decode_scalar(self.share),
            self.share_signature,
        )


def by_identifier(p: SignedPackage) -> int:
    return p.identifier


@register(70, "dkg-echo-pull")
@dataclass(frozen=True)
class DkgEchoPull(Wire):
    ceremony: bytes = wf(DIGEST)


@register(71, "dkg-echo")
@dataclass(frozen=True)
class DkgEcho(Wire):
    """Every round-one package a steward holds, signed by that steward."""

    ceremony: bytes = wf(DIGEST)
    steward: bytes = wf(MEMBER_ID)
    packages: tuple[SignedPackage, ...] = wf(
        ListOf(
            Obj(SignedPackage),
            min_items=1,
            max_items=MAX_STEWARDS,
            strictly_sorted=True,
            sort_key=by_identifier,
        )
    )
    signature: bytes = wf(SIGNATURE)

    def body(self) -> bytes:
        return DkgEcho(self.ceremony, self.steward, self.packages, bytes(64)).encode()


class DkgEquivocation(DkgFault):
    """A dealer signed two different round-one packages for one ceremony: ``proof``."""

    def __init__(
        self, culprit: int, proof: tuple[SignedPackage, SignedPackage], where: str = ""
    ) -> None:
        reason = "equivocation: two signed round-one packages"
        super().__init__([culprit], f"{reason} ({where})" if where else reason)
        self.proof = proof


@register(111, "dkg-equivocation-proof")
@dataclass(frozen=True)
class DkgEquivocationProof(Wire):
    """What a steward keeps (and shows the others) when a dealer equivocated: the
    dealer's key and its two signed packages; ``equivocation_proven`` checks it."""

    dealer: bytes = wf(MEMBER_ID)
    first: SignedPackage = wf(Obj(SignedPackage))
    second: SignedPackage = wf(Obj(SignedPackage))

    @property
    def proof(self) -> tuple[SignedPackage, SignedPackage]:
        return self.first, self.second


def equivocation_proven(
    spec: GroupSpec, dealer: bytes, proof: tuple[SignedPackage, SignedPackage]
) -> bool:
    """Anyone's check of an equivocation proof: two different packages of ``dealer`` for
    this ceremony, both signed by it."""
    a, b = proof
    ceremony, i = spec.ceremony(), spec.identifier_of(dealer)
    return (
        a != b
        and all(p.ceremony == ceremony and p.identifier == i for p in proof)
        and a.is_signed_by(dealer)
        and b.is_signed_by(dealer)
    )


@dataclass(frozen=True)
class Dealer:
    """One steward's side of the ceremony, rebuilt from its sealed coefficients."""

    spec: GroupSpec
    identity: SigningKey
    secret: SecretPackage
    package: Round1Package

    @classmethod
    def create(
        cls, spec: GroupSpec, identity: SigningKey, coefficients: tuple[int, ...], nonce: int
    ) -> Dealer:
        me = spec.identifier_of(signing.public_key_of(identity))
        secret, package = part1(me, coefficients, nonce, len(spec.stewards), suite=spec.suite)
        return cls(spec, identity, secret, package)

    def reply_to(self, caller: bytes) -> DkgReply | None:
        """What ``caller`` (an authenticated peer) is owed: None unless it is a steward."""
        if caller not in self.spec.stewards or caller == signing.public_key_of(self.identity):
            return None
        j = self.spec.identifier_of(caller)
        suite = self.spec.suite
        share = suite.polynomial_at(list(self.secret.coefficients), j)
        ceremony = self.spec.ceremony()
        sig = signing.sign(
            self.identity,
            SHARE_DOMAIN,
            ceremony,
            share_message(self.secret.identifier, j, share, suite=suite),
        )
        return DkgReply(self.signed_package(), j, suite.encode_scalar(share), sig)

    def signed_package(self) -> SignedPackage:
        p = self.package
        unsigned = SignedPackage(
            self.spec.ceremony(),
            p.identifier,
            p.commitment,
            p.proof_r,
            self.spec.suite.encode_scalar(p.proof_mu),
            bytes(64),
        )
        sig = signing.sign(self.identity, PACKAGE_DOMAIN, unsigned.ceremony, unsigned.body())
        return replace(unsigned, signature=sig)

    def echo(self, replies: Mapping[bytes, DkgReply]) -> DkgEcho:
        """Our signed echo of every package we hold (ours and the replies'). Raises
        ``DkgFault`` naming a dealer whose package is not signed by it."""
        packages = [self.signed_package()]
        for steward, reply in replies.items():
            package = reply.package
            if not package.is_signed_by(steward):
                raise DkgFault([self.spec.identifier_of(steward)], "an unsigned package")
            packages.append(package)
        packages.sort(key=by_identifier)
        me = signing.public_key_of(self.identity)
        unsigned = DkgEcho(self.spec.ceremony(), me, tuple(packages), bytes(64))
        sig = signing.sign(self.identity, ECHO_DOMAIN, unsigned.ceremony, unsigned.body())
        return replace(unsigned, signature=sig)

    def check_echoes(self, mine: DkgEcho, echoes: Mapping[bytes, DkgEcho]) -> None:
        """Every other steward's echo must hold exactly our packages. Raises
        ``DkgEquivocation`` with the proof against a dealer that gave two, or
        ``DkgFault`` naming a steward whose echo is not its own or carries a package its
        dealer did not sign."""
        ours = {p.identifier: p for p in mine.packages}
        for steward, echo in sorted(echoes.items()):
            me = self.spec.identifier_of(steward)
            if (
                echo.ceremony != mine.ceremony
                or echo.steward != steward
                or not signing.is_valid(
                    steward, echo.signature, ECHO_DOMAIN, echo.ceremony, echo.body()
                )
            ):
                raise DkgFault([me], "an echo that is not the steward's own")
            theirs = {p.identifier: p for p in echo.packages}
            if set(theirs) != set(ours):
                raise DkgFault([me], "an echo without every steward's package")
            for i, package in sorted(theirs.items()):
                if package == ours[i]:
                    continue
                dealer = self.spec.stewards[i - 1]
                if not package.is_signed_by(dealer):
                    raise DkgFault([me], "an echo carrying a package its dealer did not sign")
                raise DkgEquivocation(i, (ours[i], package))

    def finish(self, replies: Mapping[bytes, DkgReply]) -> tuple[KeyPackage, Genesis]:
        """Every other steward's reply, by steward id. Raises ``DkgFault`` naming a
        culprit, or ``FrostError`` if something is missing."""
        ceremony = self.spec.ceremony()
        packages = {self.package.identifier: self.package}
        received: dict[int, SignedShare] = {}
        identities: dict[int, bytes] = {}
        for steward, reply in replies.items():
            i = self.spec.identifier_of(steward)
            identities[i] = steward
            if reply.ceremony != ceremony or reply.identifier != i:
                raise DkgFault([i], "a reply for another ceremony or steward")
            try:
                packages[i] = reply.package.round1(self.spec.suite)
                received[i] = reply.signed_share(self.spec.suite)
            except FrostError as exc:
                raise DkgFault([i], f"malformed reply: {exc}") from exc
        key = part3(self.secret, packages, received, identities)
        return key, self.spec.genesis(key.group_public_key)


@register(87, "steward-key")
@dataclass(frozen=True)
class StewardKey(Wire):
    """A steward's FROST key package as stored: the public part in the clear, the signing
    share sealed (by the node, with a key only it holds)."""

    identifier: int = wf(UInt(16, minimum=1))
    threshold: int = wf(UInt(16, minimum=1))
    group_public_key: bytes = wf(POINT)
    public_shares: tuple[bytes, ...] = wf(ListOf(POINT, min_items=1, max_items=MAX_STEWARDS))
    """Participant i's public share at position i - 1."""
    sealed_share: bytes = wf(Bytes(max_size=128))
    suite: str = wf(Text(48), default=ED25519.name)

    @classmethod
    def of(cls, key: KeyPackage, sealed_share: bytes) -> StewardKey:
        shares = tuple(key.public_shares[i] for i in sorted(key.public_shares))
        return cls(
            key.identifier,
            key.threshold,
            key.group_public_key,
            shares,
            sealed_share,
            key.suite.name,
        )

    def package(self, signing_share: bytes) -> KeyPackage:
        """The key package, given the unsealed share (``FrostError`` if they disagree)."""
        suite = SUITES.get(self.suite)
        if suite is None:
            raise FrostError(f"unknown suite {self.suite!r}")
        return KeyPackage(
            self.identifier,
            suite.decode_scalar(signing_share),
            self.group_public_key,
            {i + 1: p for i, p in enumerate(self.public_shares)},
            self.threshold,
            suite,
        )
