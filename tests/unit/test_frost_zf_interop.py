"""swapnet's FROST against ZF's (``frost_rs``, the Rust implementation's Python binding), for
both suites: ZF's DKG round-one packages pass our checks (the same proof-of-knowledge
challenge), the key packages ZF's DKG ends with are valid key packages here, and in mixed
signing sessions (one signer ours, one ZF's) whoever aggregates gets the same signature,
which both implementations verify and neither takes once changed."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from frost_rs import utility_ed25519, utility_secp256k1

from proto.frost import dkg
from proto.frost.core import Commitment, aggregate, commit, sign
from proto.frost.keys import KeyPackage
from proto.frost.suite import ED25519, SECP256K1, Ciphersuite

HEADER = 5
"""ZF frost's serialization header: a version byte and the ciphersuite's 4-byte id."""


@dataclass(frozen=True)
class Zf:
    """One of ZF's suites and how its packages are laid out (postcard)."""

    module: Any
    suite: Ciphersuite

    @property
    def element(self) -> int:
        return self.suite.element_size

    def round1(self, text: str) -> tuple[tuple[bytes, ...], bytes, int]:
        """A round-one package: (commitment, proof R, proof z)."""
        raw, e = unb64(text), self.element
        count, at = raw[HEADER], HEADER + 1
        commitment = tuple(raw[at + e * k : at + e * (k + 1)] for k in range(count))
        at += e * count
        assert raw[at] == e + 32  # the proof's length prefix
        proof = raw[at + 1 : at + 1 + e + 32]
        return commitment, proof[:e], self.suite.decode_scalar(proof[e:])

    def key_package(self, text: str, public_text: str) -> KeyPackage:
        raw, pub, e, s = unb64(text), unb64(public_text), self.element, self.suite
        identifier = s.decode_scalar(raw[HEADER : HEADER + 32])
        share = s.decode_scalar(raw[HEADER + 32 : HEADER + 64])
        group_key = raw[HEADER + 64 + e : HEADER + 64 + 2 * e]
        threshold = raw[HEADER + 64 + 2 * e]
        assert pub[:HEADER] == raw[:HEADER]
        public, at = {}, HEADER + 1
        for _ in range(pub[HEADER]):
            public[s.decode_scalar(pub[at : at + 32])] = pub[at + 32 : at + 32 + e]
            at += 32 + e
        assert pub[at : at + e] == group_key
        return KeyPackage(identifier, share, group_key, public, threshold, s)


SUITES = [Zf(utility_ed25519, ED25519), Zf(utility_secp256k1, SECP256K1)]


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def zf_dkg(zf: ModuleType, tag: str) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """ZF's DKG among three, 2 of 3: (ids, round-one packages, (key, public) per id)."""
    ids = [zf.get_id(f"{tag}{k}") for k in range(3)]
    r1_secret, r1_public = {}, {}
    for i in ids:
        r1_secret[i], r1_public[i] = zf.round1(i, 2, 3)
    r2_secret, r2_public = {}, {}
    for i in ids:
        others = {k: v for k, v in r1_public.items() if k != i}
        r2_secret[i], r2_public[i] = zf.round2(r1_secret[i], others)
    texts = {}
    for i in ids:
        others = {k: v for k, v in r1_public.items() if k != i}
        received = {k: v[i] for k, v in r2_public.items() if i in v}
        texts[i] = zf.round3(r2_secret[i], others, received)
    return ids, r1_public, texts


@pytest.mark.parametrize("zf", SUITES, ids=lambda z: z.suite.name)
def test_zf_dkg_packages_pass_our_checks_and_its_keys_sign_with_ours(zf: Zf) -> None:
    s = zf.suite
    ids, round1, texts = zf_dkg(zf.module, "steward")
    ours = {}
    for i in ids:
        commitment, r, mu = zf.round1(round1[i])
        ident = s.decode_scalar(unb64(i))
        ours[ident] = dkg.Round1Package(ident, commitment, r, mu)
    dkg.check_round1(ours, 2, 3, suite=s)
    keys = {k.identifier: k for k in (zf.key_package(*texts[i]) for i in ids)}
    group_key = next(iter(keys.values())).group_public_key
    assert group_key == s.point_sum([p.commitment[0] for p in ours.values()])
    signers = sorted(keys)[:2]
    made = {
        i: commit(keys[i].signing_share, bytes([i % 251]) * 32, b"\x07" * 32, i, suite=s)
        for i in signers
    }
    comms = [made[i][1] for i in signers]
    z = {
        i: sign(i, keys[i].signing_share, made[i][0], b"ours", comms, group_key, suite=s)
        for i in signers
    }
    signature = aggregate(comms, b"ours", group_key, z, suite=s)
    assert s.verify(group_key, b"ours", signature)
    assert zf.module.verify(b"ours", texts[ids[0]][1], b64(signature))


@pytest.mark.parametrize("aggregator", ["ours", "zf"])
@pytest.mark.parametrize("zf", SUITES, ids=lambda z: z.suite.name)
def test_mixed_signing_sessions_with_zf_give_one_signature_both_verify(
    zf: Zf, aggregator: str
) -> None:
    s, module = zf.suite, zf.module
    ids, _, texts = zf_dkg(module, f"mixed-{aggregator}")
    mine, theirs = ids[0], ids[1]
    key = zf.key_package(*texts[mine])
    header = unb64(texts[mine][0])[:HEADER]
    msg = b"crawl back with checkpoint 7"

    nonces, own = commit(key.signing_share, b"\x01" * 32, b"\x02" * 32, key.identifier, suite=s)
    their_nonces, their_commitments = module.preprocess(texts[theirs][0])
    raw, e = unb64(their_commitments), zf.element
    their_id = s.decode_scalar(unb64(theirs))
    theirs_c = Commitment(their_id, raw[HEADER : HEADER + e], raw[HEADER + e : HEADER + 2 * e])
    commitments = sorted([own, theirs_c], key=lambda c: c.identifier)
    zf_commitments = {mine: b64(header + own.hiding + own.binding), theirs: their_commitments}
    my_share = sign(
        key.identifier,
        key.signing_share,
        nonces,
        msg,
        commitments,
        key.group_public_key,
        suite=s,
    )
    # (a signature share and a signature are raw bytes in ZF's Python binding: no header)
    their_share = module.sign(msg, zf_commitments, their_nonces, texts[theirs][0])
    shares = {key.identifier: my_share, their_id: s.decode_scalar(unb64(their_share))}
    if aggregator == "ours":
        signature = aggregate(commitments, msg, key.group_public_key, shares, suite=s)
    else:
        zf_shares = {mine: b64(s.encode_scalar(my_share)), theirs: their_share}
        signature = unb64(module.aggregate(msg, zf_commitments, zf_shares, texts[mine][1]))
    assert signature == aggregate(commitments, msg, key.group_public_key, shares, suite=s)
    assert s.verify(key.group_public_key, msg, signature)
    assert module.verify(msg, texts[mine][1], b64(signature))
    changed = signature[:e] + s.encode_scalar((my_share + 1) % s.order)
    assert not module.verify(msg, texts[mine][1], b64(changed))
    assert not s.verify(key.group_public_key, msg, changed)
