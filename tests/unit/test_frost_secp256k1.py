"""FROST(secp256k1, SHA-256) (RFC 9591 section 6.5): the suite's primitives against RFC 9380's
``expand_message_xmd`` vectors, strict decoding and verification against tampered
signatures, and the same generic key generation, DKG, refresh, resharing and signing
sessions as the Ed25519 suite. (The RFC's vector is in ``test_frost_vectors.py``, the
cross-check with ZF's frost in ``test_frost_zf_interop.py``.)"""

from __future__ import annotations

import random

import pytest
from nacl.signing import SigningKey

from proto.frost import dkg, reshare
from proto.frost.core import (
    aggregate,
    commit,
    derive_group_info,
    sign,
    trusted_dealer_keygen,
)
from proto.frost.curve import FrostError
from proto.frost.keys import KeyPackage
from proto.frost.session import CommitmentRequest, Coordinator, SendTo, SessionDone, Signer
from proto.frost.suite import SECP256K1, expand_message_xmd

S = SECP256K1
N = S.order
P = 2**256 - 2**32 - 977  # the field prime


def test_expand_message_xmd_matches_rfc9380_appendix_k1() -> None:
    dst = b"QUUX-V01-CS02-with-expander-SHA256-128"
    assert expand_message_xmd(b"", dst, 0x20).hex() == (
        "68a985b87eb6b46952128911f2a4412bbc302a9d759667f87f7a21d803f07235"
    )
    assert expand_message_xmd(b"abc", dst, 0x20).hex() == (
        "d8ccab23b5985ccea865c6c97b6e5b8350e794e603b4b97902f53a8a0d605615"
    )


def test_points_and_scalars_are_decoded_strictly() -> None:
    g = S.base_mul(1)
    assert S.decode_point(g) == g
    x = g[1:]
    bad = [
        S.identity,  # the identity is never an input
        b"\x04" + x,  # not a compressed prefix
        bytes([2]) + P.to_bytes(32, "big"),  # x >= p
        bytes([2]) + (2**256 - 1).to_bytes(32, "big"),
        bytes([2]) + (5).to_bytes(32, "big"),  # x = 5: x^3 + 7 is no square mod p
        g[:32],
        g + b"\x00",
    ]
    for data in bad:
        with pytest.raises(FrostError):
            S.decode_point(data)
    with pytest.raises(FrostError):
        S.decode_scalar(N.to_bytes(32, "big"))
    with pytest.raises(FrostError):
        S.decode_scalar(b"\x01" * 31)
    assert S.decode_scalar((N - 1).to_bytes(32, "big")) == N - 1


def test_the_group_law_holds_with_the_identity() -> None:
    rng = random.Random(3)
    a, b = rng.randrange(1, N), rng.randrange(1, N)
    assert S.point_add(S.base_mul(a), S.base_mul(b)) == S.base_mul(a + b)
    assert S.point_add(S.base_mul(a), S.base_mul(N - a)) == S.identity
    assert S.point_add(S.identity, S.base_mul(b)) == S.base_mul(b)
    assert S.point_mul(a, S.base_mul(b)) == S.base_mul(a * b)
    assert S.point_mul(0, S.base_mul(b)) == S.identity == S.base_mul(N)


def dealt(t: int, n: int, seed: int) -> tuple[dict[int, KeyPackage], bytes]:
    rng = random.Random(seed)
    shares, group_key, vss = trusted_dealer_keygen(
        rng.randrange(1, N), [rng.randrange(1, N) for _ in range(t - 1)], n, suite=S
    )
    _, public = derive_group_info(list(shares), vss, suite=S)
    return {i: KeyPackage(i, shares[i], group_key, public, t, S) for i in shares}, group_key


def signed(keys: dict[int, KeyPackage], signers: list[int], msg: bytes, seed: int) -> bytes:
    rng = random.Random(seed)
    made = {
        i: commit(keys[i].signing_share, rng.randbytes(32), rng.randbytes(32), i, suite=S)
        for i in signers
    }
    comms = [made[i][1] for i in sorted(signers)]
    key = keys[signers[0]].group_public_key
    z = {i: sign(i, keys[i].signing_share, made[i][0], msg, comms, key, suite=S) for i in signers}
    return aggregate(comms, msg, key, z, suite=S)


def test_tampered_signatures_do_not_verify() -> None:
    keys, group_key = dealt(2, 3, 1)
    msg = b"settle 100 to alice"
    sig = signed(keys, [1, 3], msg, 2)
    assert len(sig) == 65 and S.verify(group_key, msg, sig)
    r, z = sig[:33], int.from_bytes(sig[33:], "big")
    other_key = dealt(2, 3, 9)[1]
    tampered = {
        "negated R": bytes([r[0] ^ 1]) + r[1:],
        "z - 1": r + ((z - 1) % N).to_bytes(32, "big"),
        "R the identity": S.identity + sig[33:],
        # z + n fits in 32 bytes only for z < 2^256 - n (odds 2^-128): a verifier that
        # reduces z mod n would take it; ours takes no z >= n at all
        "z >= n": r + N.to_bytes(32, "big"),
        "z = 2^256 - 1": r + (2**256 - 1).to_bytes(32, "big"),
    }
    for name, bad in tampered.items():
        if bad is not None:
            assert not S.verify(group_key, msg, bad), name
    assert not S.verify(group_key, b"settle 900 to alice", sig)
    assert not S.verify(group_key, bytes([msg[0] ^ 1]) + msg[1:], sig)
    assert not S.verify(other_key, msg, sig)
    assert not S.verify(group_key, msg, sig[:64])
    assert not S.verify(S.identity, msg, sig)


def test_signing_sessions_run_over_secp256k1() -> None:
    """The sans-IO coordinator and signers, generic over the suite: a 3-of-5 session with
    one signer that sends a bad share is retried without it."""
    keys, group_key = dealt(3, 5, 4)
    signers = {i: Signer(k) for i, k in keys.items()}
    coordinator = Coordinator(
        session=b"s" * 32,
        message=b"wallet payout",
        group_public_key=group_key,
        public_shares=dict(keys[1].public_shares),
        threshold=3,
        available=list(keys),
        timeout=5.0,
        suite=S,
    )
    rng = random.Random(5)
    queue = list(coordinator.start(0.0))
    done = None
    while queue:
        effect = queue.pop(0)
        if isinstance(effect, SessionDone):
            done = effect
        if not isinstance(effect, SendTo):
            continue
        signer = signers[effect.identifier]
        if isinstance(effect.message, CommitmentRequest):
            answer = signer.on_commitment_request(effect.message, rng.randbytes(64))
        else:
            answer = signer.on_sign_request(effect.message)  # type: ignore[arg-type]
            if effect.identifier == 2:  # a liar: its share, one off
                z = (S.decode_scalar(answer.share) + 1) % N
                answer = type(answer)(
                    answer.session, answer.attempt, answer.identifier, S.encode_scalar(z)
                )
        queue.extend(coordinator.receive(effect.identifier, answer, 0.0))
    assert done is not None and 2 not in done.signers
    assert coordinator.excluded == {2: "bad-share"}
    assert S.verify(group_key, b"wallet payout", done.signature)


def test_dkg_refresh_and_reshare_keep_one_wallet_key() -> None:
    rng = random.Random(6)
    ids = [1, 2, 3, 4]
    identities = {i: SigningKey(bytes([i]) * 32) for i in ids}
    round1 = {}
    secrets = {}
    for i in ids:
        secrets[i], round1[i] = dkg.part1(
            i, [rng.randrange(1, N) for _ in range(3)], rng.randrange(1, N), 4, suite=S
        )
    dealt_shares = {i: dkg.part2(secrets[i], round1, identities[i], b"c" * 32) for i in ids}
    keys = {
        i: dkg.part3(
            secrets[i],
            round1,
            {j: dealt_shares[j][i] for j in ids if j != i},
            {j: bytes(k.verify_key) for j, k in identities.items()},
        )
        for i in ids
    }
    wallet = keys[1].group_public_key
    assert all(k.group_public_key == wallet and k.suite is S for k in keys.values())
    assert S.verify(wallet, b"m", signed(keys, [1, 2, 4], b"m", 7))
    # a forged proof of knowledge names its dealer
    forged = dict(round1)
    forged[3] = dkg.Round1Package(3, round1[3].commitment, round1[3].proof_r, 1)
    with pytest.raises(dkg.DkgFault) as err:
        dkg.check_round1(forged, 3, 4, suite=S)
    assert err.value.culprits == [3]

    deals = {
        i: reshare.refresh_deal(i, [rng.randrange(1, N) for _ in range(2)], ids, suite=S)
        for i in ids
    }
    fresh = {i: reshare.refresh_finish(keys[i], deals) for i in ids}
    assert {k.signing_share for k in fresh.values()} != {k.signing_share for k in keys.values()}
    assert S.verify(wallet, b"m2", signed(fresh, [2, 3, 4], b"m2", 8))

    old_signers, new_ids = [1, 2, 3], [1, 2, 3, 4, 5]
    deals2 = {
        i: reshare.reshare_deal(fresh[i], old_signers, [rng.randrange(1, N)], new_ids)
        for i in old_signers
    }
    new = {
        j: reshare.reshare_finish(
            j, wallet, fresh[1].public_shares, old_signers, deals2, 2, new_ids, suite=S
        )
        for j in new_ids
    }
    assert S.verify(wallet, b"m3", signed(new, [4, 5], b"m3", 9))
