"""Repairable shares (``proto.frost.repair``): a lost share comes back from t helpers,
exactly; too few helpers, a helper set holding the lost one, or one wrong delta or sigma
anywhere give no key package; and each step interoperates with ZF frost's (``frost_rs``:
its step one's deltas finish with ours, ours finish with its steps two and three)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from proto.frost.curve import FrostError
from proto.frost.keys import KeyPackage
from proto.frost.repair import repair_deltas, repair_finish, repair_sigma
from proto.frost.suite import ED25519, SECP256K1, Ciphersuite
from tests.unit.test_frost_zf_interop import HEADER, SUITES, Zf, b64, unb64

SUITE_IDS = [s.name for s in (ED25519, SECP256K1)]


def dealt(suite: Ciphersuite, t: int, n: int, seed: int) -> dict[int, KeyPackage]:
    """A t-of-n sharing of a random key (identifiers 1..n)."""
    rng = random.Random(seed)
    poly = [rng.randrange(1, suite.order) for _ in range(t)]
    commitment = [suite.base_mul(c) for c in poly]
    public = {j: suite.commitment_at(commitment, j) for j in range(1, n + 1)}
    return {
        j: KeyPackage(j, suite.polynomial_at(poly, j), commitment[0], public, t, suite)
        for j in range(1, n + 1)
    }


def repair(
    keys: dict[int, KeyPackage], helpers: list[int], lost: int, rng: random.Random
) -> dict[int, int]:
    """Steps one and two: each helper's sigma."""
    suite = keys[helpers[0]].suite
    deltas = {
        i: repair_deltas(keys[i], helpers, lost, [rng.randrange(suite.order) for _ in helpers[1:]])
        for i in helpers
    }
    return {j: repair_sigma((deltas[i][j] for i in helpers), order=suite.order) for j in helpers}


@pytest.mark.parametrize("suite", [ED25519, SECP256K1], ids=SUITE_IDS)
@pytest.mark.parametrize(("t", "n"), [(2, 3), (3, 4), (5, 7)])
def test_a_lost_share_comes_back_exactly_from_any_t_helpers(
    suite: Ciphersuite, t: int, n: int
) -> None:
    keys = dealt(suite, t, n, seed=t * 10 + n)
    rng = random.Random(n)
    for lost in (1, n):
        others = [j for j in keys if j != lost]
        for helpers in (others[:t], others[-t:], others):
            sigmas = repair(keys, helpers, lost, rng)
            got = repair_finish(
                lost,
                sigmas,
                keys[lost].group_public_key,
                keys[lost].public_shares,
                t,
                suite=suite,
            )
            assert got == keys[lost]


def test_too_few_helpers_or_the_lost_one_among_them_is_refused() -> None:
    keys = dealt(ED25519, 3, 5, seed=1)
    with pytest.raises(FrostError, match="at least 3"):
        repair_deltas(keys[1], [1, 2], 5, [7])
    with pytest.raises(FrostError, match="not one of its helpers"):
        repair_deltas(keys[1], [1, 2, 5], 5, [7, 8])
    with pytest.raises(FrostError, match="random value"):
        repair_deltas(keys[1], [1, 2, 3], 5, [7])
    sigmas = repair(keys, [1, 2, 3], 5, random.Random(1))
    with pytest.raises(FrostError, match="at least 3"):
        repair_finish(
            5, dict(list(sigmas.items())[:2]), keys[5].group_public_key, keys[5].public_shares, 3
        )


def test_one_wrong_delta_or_sigma_gives_no_key_package() -> None:
    keys = dealt(ED25519, 3, 5, seed=2)
    helpers, lost = [1, 2, 3], 4
    sigmas = repair(keys, helpers, lost, random.Random(2))
    for helper in helpers:  # a lying helper (or a delta changed on the way)
        bad = dict(sigmas)
        bad[helper] = (bad[helper] + 1) % ED25519.order
        with pytest.raises(FrostError, match="does not match"):
            repair_finish(lost, bad, keys[lost].group_public_key, keys[lost].public_shares, 3)


def test_each_helpers_deltas_look_random_on_their_own() -> None:
    """A helper's deltas other than the last are the random values handed in: what one
    helper sends another says nothing about its share."""
    keys = dealt(ED25519, 3, 5, seed=3)
    deltas = repair_deltas(keys[1], [1, 2, 3], 4, [11, 22])
    assert deltas[1] == 11 and deltas[2] == 22
    lam = ED25519.lagrange_at(4, 1, [1, 2, 3])
    assert sum(deltas.values()) % ED25519.order == lam * keys[1].signing_share % ED25519.order


# -- ZF frost --------------------------------------------------------------------------------
def zf_scalar(text: str, suite: Ciphersuite) -> int:
    """A scalar as frost_rs's repair steps pass it: base64 of its serde JSON (a list of
    bytes for Ed25519, a hex string for secp256k1)."""
    value = json.loads(unb64(text))
    return suite.decode_scalar(bytes.fromhex(value) if isinstance(value, str) else bytes(value))


def to_zf_scalar(value: int, suite: Ciphersuite) -> str:
    raw = suite.encode_scalar(value)
    serde = raw.hex().upper() if suite is SECP256K1 else list(raw)
    return b64(json.dumps(serde).encode())


def zf_shares(zf: Zf, t: int, n: int) -> tuple[dict[int, str], dict[int, KeyPackage]]:
    """ZF's dealer shares (its ``SecretShare``s) and the same as our key packages."""
    s, e = zf.suite, zf.element
    texts: dict[str, str] = zf.module.get_key(t, n)
    by_id: dict[int, str] = {}
    parsed: dict[int, tuple[int, list[bytes]]] = {}
    for text in texts.values():
        raw = unb64(text)
        ident = s.decode_scalar(raw[HEADER : HEADER + 32])
        share = s.decode_scalar(raw[HEADER + 32 : HEADER + 64])
        count, at = raw[HEADER + 64], HEADER + 65
        commitment = [raw[at + e * k : at + e * (k + 1)] for k in range(count)]
        by_id[ident], parsed[ident] = text, (share, commitment)
    commitment = next(iter(parsed.values()))[1]
    public = {j: s.commitment_at(commitment, j) for j in parsed}
    keys = {j: KeyPackage(j, sh, commitment[0], public, t, s) for j, (sh, _) in parsed.items()}
    return by_id, keys


def zf_id(ident: int, suite: Ciphersuite) -> str:
    return b64(suite.encode_scalar(ident))


@pytest.mark.parametrize("zf", SUITES, ids=lambda z: z.suite.name)
def test_zf_deltas_finish_with_our_steps(zf: Zf) -> None:
    s, module = zf.suite, zf.module
    texts, keys = zf_shares(zf, 3, 5)
    helpers, lost = [1, 2, 4], 5
    ids = [zf_id(h, s) for h in helpers]
    deltas: dict[int, Any] = {
        h: module.recover_step_1(ids, texts[h], zf_id(lost, s)) for h in helpers
    }
    sigmas = {
        j: repair_sigma((zf_scalar(deltas[h][zf_id(j, s)], s) for h in helpers), order=s.order)
        for j in helpers
    }
    got = repair_finish(
        lost, sigmas, keys[lost].group_public_key, keys[lost].public_shares, 3, suite=s
    )
    assert got == keys[lost]


@pytest.mark.parametrize("zf", SUITES, ids=lambda z: z.suite.name)
def test_our_deltas_finish_with_zf_steps(zf: Zf) -> None:
    s, module = zf.suite, zf.module
    texts, keys = zf_shares(zf, 3, 5)
    helpers, lost = [2, 3, 5], 1
    rng = random.Random(9)
    ours = {
        i: repair_deltas(keys[i], helpers, lost, [rng.randrange(s.order) for _ in helpers[1:]])
        for i in helpers
    }
    sigmas = [
        module.recover_step_2([to_zf_scalar(ours[i][j], s) for i in helpers]) for j in helpers
    ]
    commitment = module.get_gen_with_dealer_coefficient_commitment(texts[lost])
    repaired = unb64(module.recover_step_3(sigmas, zf_id(lost, s), commitment))
    assert s.decode_scalar(repaired[HEADER + 32 : HEADER + 64]) == keys[lost].signing_share
