// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title FROST(secp256k1, SHA-256) signatures checked on chain (RFC 9591 section 6.5).
/// @notice A group's wallet key P signs by FROST; the signature is R || z with
/// z*G == R + c*P and c = H2(R || P || message), where H2 is RFC 9380's hash_to_field
/// (expand_message_xmd over SHA-256, tag "FROST-secp256k1-SHA256-v1chal", 48 bytes,
/// reduced mod n), and R, P are SEC1-compressed. The same signature verifies in
/// swapnet's Python FROST (proto/frost/suite.py) and in ZF's frost.
/// @dev The equation is checked with one ecrecover (the well-known trick): with
/// K = P (x = px, parity v), ecrecover(h, v, px, s) = px^-1 (s*K - h*G); for
/// s = -c*px and h = -z*px that is z*G - c*P, which must be R: its address is
/// compared with R's (R passed as (x, y), checked on the curve). Refused: P's x at or
/// above n (ecrecover takes r < n only), z at or above n (z + n would otherwise pass),
/// z = 0, c = 0, R off the curve, and ecrecover's zero address.
library FrostSecp256k1 {
    uint256 internal constant N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant P =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    bytes internal constant CHALLENGE_TAG = "FROST-secp256k1-SHA256-v1chal";

    /// @param px the wallet key's x coordinate (below n)
    /// @param parity the wallet key's y parity (0: even, 1: odd)
    /// @param message the signed bytes
    /// @param rx R's x coordinate
    /// @param ry R's y coordinate
    /// @param z the signature's scalar
    function verify(
        uint256 px,
        uint8 parity,
        bytes memory message,
        uint256 rx,
        uint256 ry,
        uint256 z
    ) internal view returns (bool) {
        if (px == 0 || px >= N || parity > 1 || z == 0 || z >= N) {
            return false;
        }
        if (rx >= P || ry >= P || !onCurve(rx, ry)) {
            return false;
        }
        uint256 c = challenge(rx, ry, px, parity, message);
        if (c == 0) {
            return false;
        }
        bytes32 h = bytes32(N - mulmod(z, px, N));
        bytes32 s = bytes32(N - mulmod(c, px, N));
        address q = ecrecover(h, 27 + parity, bytes32(px), s);
        return q != address(0) && q == pointAddress(rx, ry);
    }

    /// @notice Whether a wallet key can be checked here at all: a point of the curve
    /// whose x is below n (the odds that a random key is not: about 2^-128).
    function usableKey(uint256 px, uint8 parity) internal view returns (bool) {
        if (px == 0 || px >= N || parity > 1) {
            return false;
        }
        uint256 y2 = addmod(mulmod(mulmod(px, px, P), px, P), 7, P);
        uint256 y = modExp(y2, (P + 1) / 4, P);
        return mulmod(y, y, P) == y2;
    }

    function challenge(
        uint256 rx,
        uint256 ry,
        uint256 px,
        uint8 parity,
        bytes memory message
    ) internal pure returns (uint256) {
        bytes memory input = abi.encodePacked(
            uint8(2 + (ry & 1)),
            rx,
            uint8(2 + parity),
            px,
            message
        );
        return hashToScalar(input, CHALLENGE_TAG);
    }

    /// @notice RFC 9380 hash_to_field with expand_message_xmd(SHA-256), one element of
    /// 48 bytes, reduced mod n: (b1 || b2[0:16]) mod n.
    function hashToScalar(bytes memory m, bytes memory tag) internal pure returns (uint256) {
        bytes memory tagPrime = abi.encodePacked(tag, uint8(tag.length));
        bytes32 b0 = sha256(
            abi.encodePacked(bytes32(0), bytes32(0), m, uint16(48), uint8(0), tagPrime)
        );
        bytes32 b1 = sha256(abi.encodePacked(b0, uint8(1), tagPrime));
        bytes32 b2 = sha256(abi.encodePacked(b0 ^ b1, uint8(2), tagPrime));
        return addmod(mulmod(uint256(b1), 1 << 128, N), uint256(b2) >> 128, N);
    }

    function onCurve(uint256 x, uint256 y) internal pure returns (bool) {
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
    }

    function pointAddress(uint256 x, uint256 y) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(x, y)))));
    }

    function modExp(uint256 base, uint256 exponent, uint256 modulus)
        internal
        view
        returns (uint256 result)
    {
        (bool ok, bytes memory out) = address(0x05).staticcall(
            abi.encodePacked(uint256(32), uint256(32), uint256(32), base, exponent, modulus)
        );
        require(ok, "modexp");
        result = abi.decode(out, (uint256));
    }
}

/// @notice The library behind an external function, for tests and gas figures.
contract FrostSecp256k1Check {
    function verify(
        uint256 px,
        uint8 parity,
        bytes calldata message,
        uint256 rx,
        uint256 ry,
        uint256 z
    ) external view returns (bool) {
        return FrostSecp256k1.verify(px, parity, message, rx, ry, z);
    }

    function usableKey(uint256 px, uint8 parity) external view returns (bool) {
        return FrostSecp256k1.usableKey(px, parity);
    }

    /// @notice The check's own gas (the figure in BENCHMARKS.md), without the call's.
    function measure(
        uint256 px,
        uint8 parity,
        bytes calldata message,
        uint256 rx,
        uint256 ry,
        uint256 z
    ) external view returns (bool ok, uint256 gasUsed) {
        uint256 before = gasleft();
        ok = FrostSecp256k1.verify(px, parity, message, rx, ry, z);
        gasUsed = before - gasleft();
    }
}
