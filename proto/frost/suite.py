"""FROST ciphersuites (RFC 9591 section 6): the group, its encodings and the hash functions
H1 to H5, behind one interface that the rest of ``proto.frost`` is written against.

* ``ED25519``: FROST(Ed25519, SHA-512), section 6.1, on libsodium (``proto.frost.curve``).
  Signatures are plain Ed25519 signatures (R || z, 64 bytes).
* ``SECP256K1``: FROST(secp256k1, SHA-256), section 6.5, on libsecp256k1 (coincurve).
  Elements are SEC1 compressed points (33 bytes), scalars 32 bytes big-endian; H1, H2 and
  H3 are ``hash_to_field`` with ``expand_message_xmd`` over SHA-256 (RFC 9380). Signatures
  are R || z (65 bytes); they verify as Schnorr signatures z*G = R + c*PK with
  c = H2(R || PK || msg), which is what an EVM contract checks.

Scalars are Python ints in [0, order). Points are their canonical encodings; the
identity, which RFC 9591 never serializes, is each suite's ``identity`` value and never
leaves this process: ``decode_point`` refuses it, as it refuses non-canonical encodings
and points off the curve (or, for Ed25519, outside the prime-order subgroup).

Invariant: nothing here draws randomness or reads a clock; every function is
deterministic in its arguments.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

from coincurve import PublicKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from proto.frost import curve
from proto.frost.curve import FrostError


class Ciphersuite(ABC):
    """One FROST ciphersuite. Subclasses fix the group and the hashes; the polynomial and
    interpolation helpers below are the same for every suite."""

    name: str
    context: bytes
    order: int
    scalar_size: int
    element_size: int
    identity: bytes

    # -- the group ------------------------------------------------------------------------
    @abstractmethod
    def encode_scalar(self, s: int) -> bytes: ...

    @abstractmethod
    def decode_scalar(self, data: bytes) -> int:
        """A scalar from untrusted bytes (``FrostError`` unless canonical and < order)."""

    @abstractmethod
    def decode_point(self, data: bytes) -> bytes:
        """A point from untrusted bytes: canonical, on the curve (in the prime-order
        group), not the identity; ``FrostError`` otherwise."""

    def is_valid_point(self, data: bytes) -> bool:
        try:
            self.decode_point(data)
        except FrostError:
            return False
        return True

    @abstractmethod
    def base_mul(self, s: int) -> bytes: ...

    @abstractmethod
    def point_mul(self, s: int, p: bytes) -> bytes: ...

    @abstractmethod
    def point_add(self, p: bytes, q: bytes) -> bytes: ...

    # -- hashes (RFC 9591 section 6) ------------------------------------------------------
    @abstractmethod
    def H1(self, m: bytes) -> int: ...

    @abstractmethod
    def H2(self, m: bytes) -> int: ...

    @abstractmethod
    def H3(self, m: bytes) -> int: ...

    @abstractmethod
    def H4(self, m: bytes) -> bytes: ...

    @abstractmethod
    def H5(self, m: bytes) -> bytes: ...

    @abstractmethod
    def HDKG(self, m: bytes) -> int:
        """The DKG proof-of-knowledge challenge (ZF frost's, not in the RFC)."""

    # -- signatures -----------------------------------------------------------------------
    @property
    def signature_size(self) -> int:
        return self.element_size + self.scalar_size

    def signature(self, group_commitment: bytes, z: int) -> bytes:
        return group_commitment + self.encode_scalar(z)

    @abstractmethod
    def verify(self, group_public_key: bytes, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is a valid signature of ``message`` under the key, as any
        verifier of this suite's signatures (not only FROST) would judge it."""

    # -- shared helpers -------------------------------------------------------------------
    def point_sum(self, points: Sequence[bytes]) -> bytes:
        total = self.identity
        for p in points:
            total = self.point_add(total, p)
        return total

    def inverse(self, s: int) -> int:
        if s % self.order == 0:
            raise FrostError("zero has no inverse")
        return pow(s, -1, self.order)

    def polynomial_at(self, coefficients: Sequence[int], x: int) -> int:
        """f(x) = c0 + c1 x + c2 x^2 + ... modulo the order (Horner)."""
        out = 0
        for c in reversed(coefficients):
            out = (out * x + c) % self.order
        return out

    def commitment_at(self, commitments: Sequence[bytes], x: int) -> bytes:
        """sum_k C_k * x^k: the public image of a committed polynomial at x."""
        out = self.identity
        power = 1
        for c in commitments:
            out = self.point_add(out, self.point_mul(power, c))
            power = power * x % self.order
        return out

    def lagrange_at_zero(self, x_i: int, xs: Sequence[int]) -> int:
        """The Lagrange coefficient of x_i for interpolating at 0 over the points ``xs``."""
        return self.lagrange_at(0, x_i, xs)

    def lagrange_at(self, x: int, x_i: int, xs: Sequence[int]) -> int:
        """The Lagrange coefficient of x_i for interpolating at ``x`` over the points ``xs``:
        the product over the other x_j of (x - x_j) / (x_i - x_j)."""
        if x_i not in xs or len(set(xs)) != len(xs):
            raise FrostError("identifiers must be distinct and include the one interpolated")
        num, den = 1, 1
        for x_j in xs:
            if x_j != x_i:
                num = num * (x_j - x) % self.order
                den = den * (x_j - x_i) % self.order
        return num * self.inverse(den) % self.order

    def __repr__(self) -> str:
        return self.name


class Ed25519Suite(Ciphersuite):
    name = "FROST(Ed25519, SHA-512)"
    context = b"FROST-ED25519-SHA512-v1"
    order = curve.L
    scalar_size = curve.SCALAR_SIZE
    element_size = curve.POINT_SIZE
    identity = curve.IDENTITY

    def encode_scalar(self, s: int) -> bytes:
        return curve.encode_scalar(s)

    def decode_scalar(self, data: bytes) -> int:
        return curve.decode_scalar(data)

    def decode_point(self, data: bytes) -> bytes:
        return curve.decode_point(data)

    def is_valid_point(self, data: bytes) -> bool:
        return curve.is_valid_point(data)

    def base_mul(self, s: int) -> bytes:
        return curve.base_mul(s)

    def point_mul(self, s: int, p: bytes) -> bytes:
        return curve.point_mul(s, p)

    def point_add(self, p: bytes, q: bytes) -> bytes:
        return curve.point_add(p, q)

    def H1(self, m: bytes) -> int:
        return curve.hash_to_scalar(self.context, b"rho", m)

    def H2(self, m: bytes) -> int:
        return curve.hash_to_scalar(m)  # no context: the Ed25519 challenge

    def H3(self, m: bytes) -> int:
        return curve.hash_to_scalar(self.context, b"nonce", m)

    def H4(self, m: bytes) -> bytes:
        return hashlib.sha512(self.context + b"msg" + m).digest()

    def H5(self, m: bytes) -> bytes:
        return hashlib.sha512(self.context + b"com" + m).digest()

    def HDKG(self, m: bytes) -> int:
        return curve.hash_to_scalar(self.context, b"dkg", m)

    def verify(self, group_public_key: bytes, message: bytes, signature: bytes) -> bool:
        if len(group_public_key) != 32 or len(signature) != 64:
            return False
        try:
            VerifyKey(group_public_key).verify(message, signature)
        except (BadSignatureError, ValueError, TypeError):
            return False
        return True


SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_IDENTITY = b"\x00"
"""SEC1's encoding of the point at infinity: a value ``decode_point`` never accepts."""


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 with SHA-256 (b_in_bytes 32, s_in_bytes 64)."""
    ell = -(-length // 32)
    if ell > 255 or length > 65535 or len(dst) > 255:
        raise FrostError("expand_message_xmd: length or tag too long")
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha256(bytes(64) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    blocks = [hashlib.sha256(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, blocks[-1], strict=True))
        blocks.append(hashlib.sha256(mixed + bytes([i]) + dst_prime).digest())
    return b"".join(blocks)[:length]


class Secp256k1Suite(Ciphersuite):
    name = "FROST(secp256k1, SHA-256)"
    context = b"FROST-secp256k1-SHA256-v1"
    order = SECP256K1_ORDER
    scalar_size = 32
    element_size = 33
    identity = SECP256K1_IDENTITY

    def encode_scalar(self, s: int) -> bytes:
        return (s % self.order).to_bytes(32, "big")

    def decode_scalar(self, data: bytes) -> int:
        if len(data) != 32:
            raise FrostError("a scalar is 32 bytes")
        s = int.from_bytes(data, "big")
        if s >= self.order:
            raise FrostError("scalar is not reduced modulo the group order")
        return s

    def decode_point(self, data: bytes) -> bytes:
        if len(data) != 33 or data[0] not in (2, 3):
            raise FrostError("not a compressed secp256k1 point")
        try:
            point = PublicKey(bytes(data))  # libsecp256k1: x < p and on the curve
        except (ValueError, TypeError) as exc:
            raise FrostError("not a point of secp256k1") from exc
        if point.format(compressed=True) != data:
            raise FrostError("not a canonical point encoding")
        return bytes(data)

    def base_mul(self, s: int) -> bytes:
        s %= self.order
        if s == 0:
            return self.identity
        return bytes(PublicKey.from_secret(s.to_bytes(32, "big")).format(compressed=True))

    def point_mul(self, s: int, p: bytes) -> bytes:
        s %= self.order
        if s == 0 or p == self.identity:
            return self.identity
        return bytes(PublicKey(p).multiply(s.to_bytes(32, "big")).format(compressed=True))

    def point_add(self, p: bytes, q: bytes) -> bytes:
        if p == self.identity:
            return q
        if q == self.identity:
            return p
        try:
            total = PublicKey.combine_keys([PublicKey(p), PublicKey(q)])
        except ValueError:  # p + q is the point at infinity (q = -p)
            return self.identity
        return bytes(total.format(compressed=True))

    def _hash_to_scalar(self, tag: bytes, m: bytes) -> int:
        return int.from_bytes(expand_message_xmd(m, self.context + tag, 48), "big") % self.order

    def H1(self, m: bytes) -> int:
        return self._hash_to_scalar(b"rho", m)

    def H2(self, m: bytes) -> int:
        return self._hash_to_scalar(b"chal", m)

    def H3(self, m: bytes) -> int:
        return self._hash_to_scalar(b"nonce", m)

    def H4(self, m: bytes) -> bytes:
        return hashlib.sha256(self.context + b"msg" + m).digest()

    def H5(self, m: bytes) -> bytes:
        return hashlib.sha256(self.context + b"com" + m).digest()

    def HDKG(self, m: bytes) -> int:
        return self._hash_to_scalar(b"dkg", m)

    def verify(self, group_public_key: bytes, message: bytes, signature: bytes) -> bool:
        """z*G == R + c*PK, c = H2(R || PK || msg); R and PK canonical, z < n."""
        if len(signature) != 65 or not self.is_valid_point(group_public_key):
            return False
        r, z_bytes = signature[:33], signature[33:]
        try:
            self.decode_point(r)
            z = self.decode_scalar(z_bytes)
        except FrostError:
            return False
        c = self.H2(r + group_public_key + message)
        return self.base_mul(z) == self.point_add(r, self.point_mul(c, group_public_key))


ED25519: Ciphersuite = Ed25519Suite()
SECP256K1: Ciphersuite = Secp256k1Suite()
SUITES: dict[str, Ciphersuite] = {s.name: s for s in (ED25519, SECP256K1)}
