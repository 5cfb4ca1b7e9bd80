"""Check FROST signing vector files in the RFC 9591 JSON format (the cfrg draft's poc
files), for either suite the file names in ``config.name`` (FROST(Ed25519, SHA-512) or
FROST(secp256k1, SHA-256)): ``python -m proto.frost.vectors FILE [FILE ...]``.

For each file, every value is recomputed from the file's inputs alone (group secret,
polynomial coefficients, nonce randomness, message, participant list) and compared with
the file: group key, participant shares, nonces, nonce commitments, binding factor inputs,
binding factors, signature shares and the final signature, which must also verify as a
plain signature of the suite. One line per file; the exit status is non-zero when a file
fails, and the line names the first field that does not match.

``check_vector`` is pure; ``main`` is the only code in ``proto`` that reads files, a
developer tool reached only through ``python -m``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from proto.frost.core import (
    aggregate,
    binding_factor_inputs,
    commit,
    compute_binding_factors,
    secret_share_shard,
    sign,
)
from proto.frost.curve import FrostError
from proto.frost.suite import SUITES, Ciphersuite


class Mismatch(Exception):
    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        super().__init__(f"{field}: {detail}")


def _hex(doc: Any, path: str) -> bytes:
    value = _get(doc, path)
    if not isinstance(value, str):
        raise Mismatch(path, "expected a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise Mismatch(path, "not hex") from exc


def _get(doc: Any, path: str) -> Any:
    node = doc
    for part in path.replace("]", "").replace("[", ".").split("."):
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise Mismatch(path, "missing") from exc
    return node


def _list(doc: Any, path: str) -> list[Any]:
    value = _get(doc, path)
    if not isinstance(value, list):
        raise Mismatch(path, "expected a list")
    return value


def _int(doc: Any, path: str) -> int:
    value = _get(doc, path)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Mismatch(path, "expected an integer")
    try:
        return int(value)
    except ValueError as exc:
        raise Mismatch(path, "expected an integer") from exc


def _scalar(doc: Any, path: str, suite: Ciphersuite) -> int:
    try:
        return suite.decode_scalar(_hex(doc, path))
    except FrostError as exc:
        raise Mismatch(path, str(exc)) from exc


def _expect(doc: Any, path: str, computed: bytes) -> None:
    given = _hex(doc, path)
    if given != computed:
        raise Mismatch(path, f"file has {given.hex()}, computed {computed.hex()}")


def check_vector(doc: Any) -> str:
    """Recompute everything in one vector document; return a summary or raise
    ``Mismatch`` naming the first field that differs (``FrostError`` for a value that is
    not valid at all, such as a zero identifier)."""
    name = _get(doc, "config.name")
    suite = SUITES.get(name) if isinstance(name, str) else None
    if suite is None:
        raise Mismatch("config.name", f"{name!r} is none of {', '.join(SUITES)}")
    n = _int(doc, "config.MAX_PARTICIPANTS")
    t = _int(doc, "config.MIN_PARTICIPANTS")
    n_signers = len(_list(doc, "inputs.participant_list"))
    signers = [_int(doc, f"inputs.participant_list[{k}]") for k in range(n_signers)]
    if _int(doc, "config.NUM_PARTICIPANTS") != len(signers):
        raise Mismatch("config.NUM_PARTICIPANTS", "does not match inputs.participant_list")
    secret = _scalar(doc, "inputs.group_secret_key", suite)
    coefficients = [
        _scalar(doc, f"inputs.share_polynomial_coefficients[{k}]", suite)
        for k in range(len(_list(doc, "inputs.share_polynomial_coefficients")))
    ]
    if len(coefficients) != t - 1:
        raise Mismatch("inputs.share_polynomial_coefficients", f"expected {t - 1} coefficients")
    group_key = suite.base_mul(secret)
    _expect(doc, "inputs.group_public_key", group_key)
    msg = _hex(doc, "inputs.message")

    listed = _list(doc, "inputs.participant_shares")
    ids = [_int(doc, f"inputs.participant_shares[{k}].identifier") for k in range(len(listed))]
    shares = secret_share_shard(secret, coefficients, ids, suite=suite)
    for k, i in enumerate(ids):
        encoded = suite.encode_scalar(shares[i])
        _expect(doc, f"inputs.participant_shares[{k}].participant_share", encoded)
    _check_signing(doc, signers, shares, group_key, msg, suite)
    return f"{suite.name}, {t} of {n}, signers {signers}"


def _check_signing(
    doc: Any,
    signers: list[int],
    shares: dict[int, int],
    group_key: bytes,
    msg: bytes,
    suite: Ciphersuite,
) -> None:
    r1 = "round_one_outputs.outputs"
    outputs = _list(doc, r1)
    if [_int(doc, f"{r1}[{k}].identifier") for k in range(len(outputs))] != signers:
        raise Mismatch(r1, "identifiers differ from inputs.participant_list")
    nonces, commitments = {}, []
    for k, i in enumerate(signers):
        if i not in shares:
            raise Mismatch(f"{r1}[{k}].identifier", "no share for this participant")
        p = f"{r1}[{k}]"
        nonce, c = commit(
            shares[i],
            _hex(doc, f"{p}.hiding_nonce_randomness"),
            _hex(doc, f"{p}.binding_nonce_randomness"),
            i,
            suite=suite,
        )
        _expect(doc, f"{p}.hiding_nonce", suite.encode_scalar(nonce.hiding))
        _expect(doc, f"{p}.binding_nonce", suite.encode_scalar(nonce.binding))
        _expect(doc, f"{p}.hiding_nonce_commitment", c.hiding)
        _expect(doc, f"{p}.binding_nonce_commitment", c.binding)
        nonces[i] = nonce
        commitments.append(c)
    commitments.sort(key=lambda c: c.identifier)
    rho_inputs = binding_factor_inputs(group_key, commitments, msg, suite=suite)
    rho = compute_binding_factors(group_key, commitments, msg, suite=suite)
    for k, i in enumerate(signers):
        _expect(doc, f"{r1}[{k}].binding_factor_input", rho_inputs[i])
        _expect(doc, f"{r1}[{k}].binding_factor", suite.encode_scalar(rho[i]))

    r2 = "round_two_outputs.outputs"
    sig_shares = {}
    for k, i in enumerate(signers):
        if _int(doc, f"{r2}[{k}].identifier") != i:
            raise Mismatch(f"{r2}[{k}].identifier", "differs from inputs.participant_list")
        z = sign(i, shares[i], nonces[i], msg, commitments, group_key, suite=suite)
        _expect(doc, f"{r2}[{k}].sig_share", suite.encode_scalar(z))
        sig_shares[i] = z
    signature = aggregate(commitments, msg, group_key, sig_shares, suite=suite)
    _expect(doc, "final_output.sig", signature)
    if not suite.verify(group_key, msg, signature):
        raise Mismatch("final_output.sig", f"does not verify as a {suite.name} signature")


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m proto.frost.vectors FILE [FILE ...]", file=sys.stderr)
        return 2
    failed = 0
    for path in argv:
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
            summary = check_vector(doc)
        except OSError as exc:
            print(f"FAIL {path}: cannot read: {exc.strerror}")
            failed += 1
        except (ValueError, FrostError, Mismatch) as exc:  # bad JSON, bad values, mismatches
            print(f"FAIL {path}: {exc}")
            failed += 1
        else:
            print(f"ok   {path}: {summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
