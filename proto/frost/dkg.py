"""Pedersen distributed key generation with proofs of knowledge (FROST paper, figure 1),
as in ZcashFoundation/frost: no dealer ever holds the group key.

Over any ciphersuite (``proto.frost.suite``; every function takes ``suite``, Ed25519 by
default). Round one: participant i picks a polynomial f_i of degree t-1 (coefficients
handed in), broadcasts its commitment C_i = [G*a_i0, ..., G*a_i(t-1)] and a Schnorr
proof of knowledge of a_i0: R = G*k, mu = k + a_i0 * c with
c = HDKG(id_i || C_i0 || R), the suite's "dkg" hash (ZF frost's). Round two: i sends
f_i(j) to each j over a private channel, signed with i's identity key (domain
``swapnet/1/frost-dkg-share``), so that a bad share can be proven.
Finish: j checks every share against its dealer's commitment; its signing share is the sum,
the group key the sum of the C_i0.

Faults are identified, never guessed: a bad round-one package names its sender
(``DkgFault``); a share that fails its VSS check gives a ``ShareComplaint`` that anyone can
judge with ``judge_complaint``: it convicts the dealer if the signed share is wrong, and
the accuser if it is right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from nacl.signing import SigningKey

from proto import signing
from proto.errors import InvalidSignature
from proto.frost.core import check_identifier, vss_verify
from proto.frost.curve import FrostError
from proto.frost.keys import KeyPackage
from proto.frost.suite import ED25519, Ciphersuite

SHARE_DOMAIN = "frost-dkg-share"


class DkgFault(FrostError):
    """The ceremony cannot finish; ``culprits`` are the identifiers proven at fault."""

    def __init__(self, culprits: Sequence[int], reason: str) -> None:
        self.culprits = sorted(set(culprits))
        self.reason = reason
        super().__init__(f"{reason}: participants {self.culprits}")


@dataclass(frozen=True)
class Round1Package:
    identifier: int
    commitment: tuple[bytes, ...]
    proof_r: bytes
    proof_mu: int


@dataclass(frozen=True)
class SecretPackage:
    identifier: int
    coefficients: tuple[int, ...] = field(repr=False)
    threshold: int
    max_participants: int
    suite: Ciphersuite = ED25519


def pok_challenge(identifier: int, c0: bytes, r: bytes, *, suite: Ciphersuite = ED25519) -> int:
    return suite.HDKG(suite.encode_scalar(identifier) + c0 + r)


def part1(
    identifier: int,
    coefficients: Sequence[int],
    pok_nonce: int,
    max_participants: int,
    *,
    suite: Ciphersuite = ED25519,
) -> tuple[SecretPackage, Round1Package]:
    """Round one for one participant; t = len(coefficients). Randomness is handed in."""
    check_identifier(identifier, suite=suite)
    t, n = len(coefficients), suite.order
    if not 2 <= t <= max_participants:
        raise FrostError("need 2 <= t <= n")
    if any(not 0 <= c < n for c in coefficients) or coefficients[0] == 0 or pok_nonce % n == 0:
        raise FrostError("coefficients must be scalars, with a non-zero secret and nonce")
    commitment = tuple(suite.base_mul(c) for c in coefficients)
    r = suite.base_mul(pok_nonce)
    c = pok_challenge(identifier, commitment[0], r, suite=suite)
    mu = (pok_nonce + coefficients[0] * c) % n
    secret = SecretPackage(identifier, tuple(coefficients), t, max_participants, suite)
    return secret, Round1Package(identifier, commitment, r, mu)


def round1_problem(
    package: Round1Package, threshold: int, *, suite: Ciphersuite = ED25519
) -> str | None:
    """Why a received round-one package is invalid (None when it is valid)."""
    try:
        check_identifier(package.identifier, suite=suite)
        if len(package.commitment) != threshold:
            return f"commitment has {len(package.commitment)} terms, expected {threshold}"
        for point in (*package.commitment, package.proof_r):
            suite.decode_point(point)
    except FrostError as exc:
        return str(exc)
    if not 0 <= package.proof_mu < suite.order:
        return "proof scalar out of range"
    c = pok_challenge(package.identifier, package.commitment[0], package.proof_r, suite=suite)
    expected = suite.point_add(package.proof_r, suite.point_mul(c, package.commitment[0]))
    if suite.base_mul(package.proof_mu) != expected:
        return "proof of knowledge does not verify"
    return None


def check_round1(
    packages: Mapping[int, Round1Package], threshold: int, n: int, *, suite: Ciphersuite = ED25519
) -> None:
    """Raise ``DkgFault`` naming every sender of an invalid round-one package."""
    bad = [
        i
        for i, p in packages.items()
        if p.identifier != i or round1_problem(p, threshold, suite=suite)
    ]
    if bad:
        raise DkgFault(bad, "invalid round-one package")
    if len(packages) != n:
        raise FrostError(f"{len(packages)} round-one packages, expected {n}")


@dataclass(frozen=True)
class SignedShare:
    """Dealer ``sender``'s share for ``recipient``, signed with the dealer's identity key."""

    ceremony: bytes
    sender: int
    recipient: int
    share: int
    signature: bytes

    def message(self, suite: Ciphersuite = ED25519) -> bytes:
        return share_message(self.sender, self.recipient, self.share, suite=suite)


def share_message(
    sender: int, recipient: int, share: int, *, suite: Ciphersuite = ED25519
) -> bytes:
    return b"".join(suite.encode_scalar(x) for x in (sender, recipient, share))


def part2(
    secret: SecretPackage,
    packages: Mapping[int, Round1Package],
    identity_key: SigningKey,
    ceremony: bytes,
) -> dict[int, SignedShare]:
    """Round two: check everyone's round one, then deal a signed share to each other."""
    suite = secret.suite
    check_round1(packages, secret.threshold, secret.max_participants, suite=suite)
    out = {}
    for j in packages:
        if j == secret.identifier:
            continue
        share = suite.polynomial_at(secret.coefficients, j)
        message = share_message(secret.identifier, j, share, suite=suite)
        sig = signing.sign(identity_key, SHARE_DOMAIN, ceremony, message)
        out[j] = SignedShare(ceremony, secret.identifier, j, share, sig)
    return out


@dataclass(frozen=True)
class ShareComplaint:
    """``accuser`` shows the signed share it got from ``accused``, claiming it is wrong."""

    accuser: int
    accused: int
    signed: SignedShare


def part3(
    secret: SecretPackage,
    packages: Mapping[int, Round1Package],
    received: Mapping[int, SignedShare],
    identity_keys: Mapping[int, bytes],
) -> KeyPackage:
    """Finish: verify every received share; return this participant's key package.

    Raises ``DkgFault`` naming dealers whose shares are wrong or unsigned (with the
    complaints in ``complaints_for``)."""
    suite = secret.suite
    check_round1(packages, secret.threshold, secret.max_participants, suite=suite)
    me = secret.identifier
    bad = []
    total = suite.polynomial_at(secret.coefficients, me)
    for i in packages:
        if i == me:
            continue
        got = received.get(i)
        if got is None or not _share_is_good(got, me, packages[i], identity_keys[i], suite):
            bad.append(i)
            continue
        total = (total + got.share) % suite.order
    if bad:
        raise DkgFault(bad, "missing or invalid share")
    return key_package_from(me, total, packages, secret.threshold, suite=suite)


def _share_is_good(
    s: SignedShare, me: int, package: Round1Package, identity: bytes, suite: Ciphersuite
) -> bool:
    if s.sender != package.identifier or s.recipient != me or not 0 <= s.share < suite.order:
        return False
    message = s.message(suite)
    if not signing.is_valid(identity, s.signature, SHARE_DOMAIN, s.ceremony, message):
        return False
    return vss_verify(me, s.share, package.commitment, suite=suite)


def key_package_from(
    identifier: int,
    signing_share: int,
    packages: Mapping[int, Round1Package],
    threshold: int,
    *,
    suite: Ciphersuite = ED25519,
) -> KeyPackage:
    """The key package implied by everyone's commitments (group key = sum of C_i0)."""
    commitments = [list(p.commitment) for p in packages.values()]
    group_key = suite.point_sum([c[0] for c in commitments])
    public_shares = {
        j: suite.point_sum([suite.commitment_at(c, j) for c in commitments])
        for j in sorted(packages)
    }
    return KeyPackage(identifier, signing_share, group_key, public_shares, threshold, suite)


def judge_complaint(
    complaint: ShareComplaint,
    packages: Mapping[int, Round1Package],
    identity_keys: Mapping[int, bytes],
    ceremony: bytes,
    *,
    suite: Ciphersuite = ED25519,
) -> int:
    """Who is at fault: the accused dealer if its signed share fails the VSS check, the
    accuser if the share is fine or the complaint is not backed by the dealer's signature."""
    s = complaint.signed
    accused = packages.get(complaint.accused)
    if (
        accused is None
        or s.ceremony != ceremony
        or s.sender != complaint.accused
        or s.recipient != complaint.accuser
    ):
        return complaint.accuser
    try:
        signing.verify(
            identity_keys[complaint.accused], s.signature, SHARE_DOMAIN, ceremony, s.message(suite)
        )
    except InvalidSignature:
        return complaint.accuser
    good = 0 <= s.share < suite.order
    if good and vss_verify(complaint.accuser, s.share, accused.commitment, suite=suite):
        return complaint.accuser
    return complaint.accused
