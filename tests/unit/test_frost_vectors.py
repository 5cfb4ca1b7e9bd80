"""FROST against published vectors: RFC 9591 Appendix E.1 (Ed25519) and E.5 (secp256k1),
through the runner too, and the ZcashFoundation DKG vector."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from proto.frost import dkg
from proto.frost.curve import FrostError, base_mul, decode_scalar, encode_scalar
from proto.frost.vectors import Mismatch, check_vector

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "frost"
RFC = VECTORS / "rfc9591-ed25519-sha512.json"
RFC_SECP256K1 = VECTORS / "rfc9591-secp256k1-sha256.json"
RFCS = {
    RFC: "FROST(Ed25519, SHA-512), 2 of 3, signers [1, 3]",
    RFC_SECP256K1: "FROST(secp256k1, SHA-256), 2 of 3, signers [1, 3]",
}
DKG = VECTORS / "dkg-ed25519-sha512.json"
ROOT = Path(__file__).resolve().parents[2]


def rfc(path: Path = RFC) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


@pytest.mark.parametrize("path", list(RFCS), ids=lambda p: p.stem)
def test_rfc9591_vector_reproduces_every_value(path: Path) -> None:
    assert check_vector(rfc(path)) == RFCS[path]


def test_a_file_of_an_unknown_suite_is_refused() -> None:
    doc = rfc()
    doc["config"]["name"] = "FROST(P-256, SHA-256)"
    with pytest.raises(Mismatch, match=r"config\.name"):
        check_vector(doc)


def run_runner(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proto.frost.vectors", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_runner_accepts_the_rfc_files_and_prints_one_line_per_file() -> None:
    result = run_runner(RFC, RFC_SECP256K1, RFC)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok ") == 3
    assert "FROST(secp256k1, SHA-256)" in result.stdout


def flip(doc: dict[str, Any], path: list[Any], byte: int) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    raw = bytearray.fromhex(node[path[-1]])
    raw[byte] ^= 0x01
    node[path[-1]] = raw.hex()
    return out


MUTABLE = [
    *[["round_two_outputs", "outputs", k, "sig_share"] for k in (0, 1)],
    *[
        ["round_one_outputs", "outputs", k, field]
        for k in (0, 1)
        for field in (
            "hiding_nonce_randomness",
            "binding_nonce_randomness",
            "hiding_nonce",
            "binding_nonce",
        )
    ],
    ["inputs", "message"],
]


@pytest.mark.parametrize("file", list(RFCS), ids=lambda p: p.stem)
@pytest.mark.parametrize("path", MUTABLE, ids=lambda p: ".".join(map(str, p)))
def test_runner_fails_when_any_byte_of_a_share_nonce_or_message_changes(
    path: list[Any], file: Path
) -> None:
    doc = rfc(file)
    node: Any = doc
    for part in path:
        node = node[part]
    for byte in range(len(bytes.fromhex(node))):
        with pytest.raises((Mismatch, FrostError)):
            check_vector(flip(doc, path, byte))


def test_runner_exits_non_zero_and_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(flip(rfc(), ["round_two_outputs", "outputs", 1, "sig_share"], 5)))
    result = run_runner(RFC, bad)
    assert result.returncode == 1
    assert "round_two_outputs.outputs[1].sig_share" in result.stdout
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert run_runner(broken).returncode == 1
    assert run_runner().returncode == 2


def test_runner_accepts_another_correct_file_of_the_format() -> None:
    """Not only the shipped file: a 3-of-5 vector we generate passes too."""
    from proto.frost.core import (  # noqa: PLC0415
        aggregate,
        binding_factor_inputs,
        commit,
        compute_binding_factors,
        sign,
        trusted_dealer_keygen,
    )

    secret, coeffs = 0x1234567 * 99991, [77777, 5555555]
    shares, pk, _ = trusted_dealer_keygen(secret, coeffs, 5)
    signers, msg = [2, 4, 5], b"another message"
    rnd = {i: (bytes([i]) * 32, bytes([i + 100]) * 32) for i in signers}
    made = {i: commit(shares[i], *rnd[i], i) for i in signers}
    comms = [made[i][1] for i in signers]
    rho_in = binding_factor_inputs(pk, comms, msg)
    rho = compute_binding_factors(pk, comms, msg)
    z = {i: sign(i, shares[i], made[i][0], msg, comms, pk) for i in signers}
    doc = {
        "config": {
            "MAX_PARTICIPANTS": "5",
            "NUM_PARTICIPANTS": "3",
            "MIN_PARTICIPANTS": "3",
            "name": "FROST(Ed25519, SHA-512)",
        },
        "inputs": {
            "participant_list": signers,
            "group_secret_key": encode_scalar(secret).hex(),
            "group_public_key": pk.hex(),
            "message": msg.hex(),
            "share_polynomial_coefficients": [encode_scalar(c).hex() for c in coeffs],
            "participant_shares": [
                {"identifier": i, "participant_share": encode_scalar(shares[i]).hex()}
                for i in range(1, 6)
            ],
        },
        "round_one_outputs": {
            "outputs": [
                {
                    "identifier": i,
                    "hiding_nonce_randomness": rnd[i][0].hex(),
                    "binding_nonce_randomness": rnd[i][1].hex(),
                    "hiding_nonce": encode_scalar(made[i][0].hiding).hex(),
                    "binding_nonce": encode_scalar(made[i][0].binding).hex(),
                    "hiding_nonce_commitment": made[i][1].hiding.hex(),
                    "binding_nonce_commitment": made[i][1].binding.hex(),
                    "binding_factor_input": rho_in[i].hex(),
                    "binding_factor": encode_scalar(rho[i]).hex(),
                }
                for i in signers
            ]
        },
        "round_two_outputs": {
            "outputs": [{"identifier": i, "sig_share": encode_scalar(z[i]).hex()} for i in signers]
        },
        "final_output": {"sig": aggregate(comms, msg, pk, z).hex()},
    }
    assert check_vector(doc) == "FROST(Ed25519, SHA-512), 3 of 5, signers [2, 4, 5]"


def test_dkg_vector_reproduces_commitments_proofs_shares_and_keys() -> None:
    """ZcashFoundation/frost's DKG vector. Its per-participant ``signing_key`` is the
    constant term of the participant's polynomial and ``coefficient`` the next term; the
    proof-of-knowledge nonce is not in the file, so its proofs are verified, and our own
    proofs are checked the same way."""
    v = json.loads(DKG.read_text())["inputs"]
    ids = [1, 2, 3]
    scalars = {
        i: [
            decode_scalar(bytes.fromhex(v[str(i)]["signing_key"])),
            decode_scalar(bytes.fromhex(v[str(i)]["coefficient"])),
        ]
        for i in ids
    }
    published = {}
    for i in ids:
        pok = bytes.fromhex(v[str(i)]["proof_of_knowledge"])
        published[i] = dkg.Round1Package(
            i,
            tuple(bytes.fromhex(c) for c in v[str(i)]["vss_commitments"]),
            pok[:32],
            decode_scalar(pok[32:]),
        )
    dkg.check_round1(published, threshold=2, n=3)  # the published proofs verify

    keys = {i: SigningKey(bytes([i]) * 32) for i in ids}
    identities = {i: bytes(k.verify_key) for i, k in keys.items()}
    ours = {i: dkg.part1(i, scalars[i], 1000 + i, 3) for i in ids}
    for i in ids:
        assert ours[i][1].commitment == published[i].commitment
    round1 = {i: ours[i][1] for i in ids}
    dealt = {i: dkg.part2(ours[i][0], round1, keys[i], b"c" * 32) for i in ids}
    for i in ids:
        for j, share in v[str(i)]["signing_shares"].items():
            assert encode_scalar(dealt[int(j)][i].share).hex() == share
        received = {j: dealt[j][i] for j in ids if j != i}
        package = dkg.part3(ours[i][0], round1, received, identities)
        assert encode_scalar(package.signing_share).hex() == v[str(i)]["signing_share"]
        assert package.public_share.hex() == v[str(i)]["verifying_share"]
        assert package.group_public_key.hex() == v["verifying_key"]
        assert base_mul(package.signing_share) == package.public_share
