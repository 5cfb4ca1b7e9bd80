"""Scalars and points of edwards25519 for FROST, on libsodium's primitives (via PyNaCl).

Scalars are Python ints in [0, L). Points are their canonical 32-byte encodings; the
identity is ``IDENTITY``. Decoding is strict as RFC 9591 requires: ``decode_point``
rejects non-canonical encodings, points off the curve, small-order points (the identity
among them) and points outside the prime-order subgroup; ``decode_scalar`` rejects
values >= L. Both raise ``FrostError``.
"""

from __future__ import annotations

import hashlib

from nacl import bindings as sodium

from proto.errors import RemoteProtocolError

L = 2**252 + 27742317777372353535851937790883648493
IDENTITY = bytes([1]) + bytes(31)
SCALAR_SIZE = 32
POINT_SIZE = 32


class FrostError(RemoteProtocolError):
    """A FROST input (point, scalar, share, proof, message) that is not valid."""


def encode_scalar(s: int) -> bytes:
    return (s % L).to_bytes(SCALAR_SIZE, "little")


def decode_scalar(data: bytes) -> int:
    if len(data) != SCALAR_SIZE:
        raise FrostError("a scalar is 32 bytes")
    s = int.from_bytes(data, "little")
    if s >= L:
        raise FrostError("scalar is not reduced modulo L")
    return s


def is_valid_point(data: bytes) -> bool:
    return len(data) == POINT_SIZE and bool(sodium.crypto_core_ed25519_is_valid_point(data))


def decode_point(data: bytes) -> bytes:
    """A point from untrusted bytes: canonical, in the prime-order subgroup, not identity."""
    if not is_valid_point(data):
        raise FrostError("not a canonical point of the prime-order subgroup (or the identity)")
    return bytes(data)


def base_mul(s: int) -> bytes:
    s %= L
    if s == 0:
        return IDENTITY
    return bytes(sodium.crypto_scalarmult_ed25519_base_noclamp(encode_scalar(s)))


def point_mul(s: int, p: bytes) -> bytes:
    s %= L
    if s == 0 or p == IDENTITY:
        return IDENTITY
    return bytes(sodium.crypto_scalarmult_ed25519_noclamp(encode_scalar(s), p))


def point_add(p: bytes, q: bytes) -> bytes:
    return bytes(sodium.crypto_core_ed25519_add(p, q))


def point_sum(points: list[bytes]) -> bytes:
    total = IDENTITY
    for p in points:
        total = point_add(total, p)
    return total


def inverse(s: int) -> int:
    if s % L == 0:
        raise FrostError("zero has no inverse")
    return pow(s, -1, L)


def hash_to_scalar(*parts: bytes) -> int:
    """SHA-512 of the concatenation, as a little-endian integer reduced modulo L."""
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little") % L


def polynomial_at(coefficients: list[int], x: int) -> int:
    """f(x) = c0 + c1 x + c2 x^2 + ... modulo L (Horner)."""
    out = 0
    for c in reversed(coefficients):
        out = (out * x + c) % L
    return out


def commitment_at(commitments: list[bytes], x: int) -> bytes:
    """sum_k C_k * x^k: the public image of a committed polynomial at x."""
    out = IDENTITY
    power = 1
    for c in commitments:
        out = point_add(out, point_mul(power, c))
        power = power * x % L
    return out


def lagrange_at_zero(x_i: int, xs: list[int]) -> int:
    """The Lagrange coefficient of x_i for interpolating at 0 over the points ``xs``."""
    if x_i not in xs or len(set(xs)) != len(xs):
        raise FrostError("identifiers must be distinct and include the one interpolated")
    num, den = 1, 1
    for x_j in xs:
        if x_j != x_i:
            num = num * x_j % L
            den = den * (x_j - x_i) % L
    return num * inverse(den) % L
