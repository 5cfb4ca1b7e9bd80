"""FROST signing sessions: coordinator and signers exchange encoded messages; silent
signers are replaced, lying ones are identified and excluded, nonces are used once."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from nacl.signing import VerifyKey

from proto.codec import Wire, decode
from proto.frost.core import trusted_dealer_keygen
from proto.frost.curve import FrostError, encode_scalar
from proto.frost.keys import KeyPackage
from proto.frost.session import (
    CommitmentRequest,
    Coordinator,
    SendTo,
    SessionDone,
    SessionEffect,
    SessionFailed,
    ShareMsg,
    Signer,
    SignRequest,
)
from tests.unit.frost_helpers import scalar

SESSION = b"\x51" * 32
MSG = b"checkpoint 42: roots ..."


def key_packages(rng: random.Random, t: int, n: int) -> dict[int, KeyPackage]:
    shares, pk, commitment = trusted_dealer_keygen(
        scalar(rng), [scalar(rng) for _ in range(t - 1)], n
    )
    from proto.frost.core import derive_group_info  # noqa: PLC0415

    _, public = derive_group_info(list(shares), commitment)
    return {i: KeyPackage(i, s, pk, public, t) for i, s in shares.items()}


Behaviour = Callable[[Signer, Wire, random.Random], Wire | None]


def honest(signer: Signer, msg: Wire, rng: random.Random) -> Wire | None:
    if isinstance(msg, CommitmentRequest):
        return signer.on_commitment_request(msg, rng.randbytes(64))
    assert isinstance(msg, SignRequest)
    return signer.on_sign_request(msg)


def silent(signer: Signer, msg: Wire, rng: random.Random) -> Wire | None:
    return None


def lying(signer: Signer, msg: Wire, rng: random.Random) -> Wire | None:
    out = honest(signer, msg, rng)
    if isinstance(out, ShareMsg):
        return ShareMsg(out.session, out.attempt, out.identifier, encode_scalar(12345))
    return out


def run(
    t: int, n: int, behaviours: dict[int, Behaviour], seed: int = 0
) -> tuple[Coordinator, list[SessionEffect], dict[int, Signer]]:
    rng = random.Random(seed)
    keys = key_packages(rng, t, n)
    signers = {i: Signer(k) for i, k in keys.items()}
    pk = keys[1].group_public_key
    coordinator = Coordinator(
        session=SESSION,
        message=MSG,
        group_public_key=pk,
        public_shares=dict(keys[1].public_shares),
        threshold=t,
        available=list(keys),
        timeout=5.0,
    )
    now = 0.0
    queue = list(coordinator.start(now))
    finished: list[SessionEffect] = []
    while queue or coordinator.state in ("commit", "sign"):
        if not queue:  # nobody answers: time passes until the deadline
            now = coordinator.deadline
            queue = coordinator.tick(now)
            continue
        effect = queue.pop(0)
        if isinstance(effect, SendTo):
            wire = decode(effect.message.encode(), Wire)  # every message crosses as bytes
            reply = behaviours.get(effect.identifier, honest)(signers[effect.identifier], wire, rng)
            if reply is not None:
                queue.extend(
                    coordinator.receive(effect.identifier, decode(reply.encode(), Wire), now)
                )
        elif isinstance(effect, SessionDone | SessionFailed):
            finished.append(effect)
    return coordinator, finished, signers


def test_a_session_of_honest_signers_yields_an_ed25519_signature() -> None:
    coordinator, finished, signers = run(3, 5, {})
    (done,) = finished
    assert isinstance(done, SessionDone) and done.signers == (1, 2, 3)
    VerifyKey(coordinator.group_public_key).verify(MSG, done.signature)
    assert all(s.unused_nonces == 0 for s in signers.values())


def test_a_silent_signer_is_replaced_by_another_available_signer() -> None:
    coordinator, finished, _ = run(3, 5, {2: silent})
    (done,) = finished
    assert isinstance(done, SessionDone) and done.signers == (1, 3, 4)
    assert coordinator.excluded == {2: "silent"}
    VerifyKey(coordinator.group_public_key).verify(MSG, done.signature)


def test_a_signer_that_sends_a_bad_share_is_identified_and_excluded() -> None:
    coordinator, finished, _ = run(3, 5, {1: lying, 4: silent})
    (done,) = finished
    assert isinstance(done, SessionDone) and done.signers == (2, 3, 5)
    assert coordinator.excluded == {1: "bad-share", 4: "silent"}
    VerifyKey(coordinator.group_public_key).verify(MSG, done.signature)


def test_with_too_few_usable_signers_the_session_fails_and_says_who_and_why() -> None:
    coordinator, finished, _ = run(3, 4, {1: lying, 2: silent})
    (failed,) = finished
    assert isinstance(failed, SessionFailed)
    assert failed.excluded == ((1, "bad-share"), (2, "silent"))
    assert coordinator.signature is None


def test_a_signer_refuses_a_second_round_two_for_the_same_commitment() -> None:
    rng = random.Random(8)
    keys = key_packages(rng, 2, 3)
    a, b = Signer(keys[1]), Signer(keys[2])
    ca = a.on_commitment_request(CommitmentRequest(SESSION, 1), rng.randbytes(64))
    cb = b.on_commitment_request(CommitmentRequest(SESSION, 1), rng.randbytes(64))
    request = SignRequest(SESSION, 1, MSG, (ca, cb))
    a.on_sign_request(request)
    with pytest.raises(FrostError, match="already used"):
        a.on_sign_request(request)
    other_message = SignRequest(SESSION, 1, b"something else", (ca, cb))
    with pytest.raises(FrostError, match="already used"):
        a.on_sign_request(other_message)


def test_coordinator_ignores_stale_foreign_and_unasked_messages() -> None:
    rng = random.Random(9)
    keys = key_packages(rng, 2, 3)
    coordinator = Coordinator(
        session=SESSION,
        message=MSG,
        group_public_key=keys[1].group_public_key,
        public_shares=dict(keys[1].public_shares),
        threshold=2,
        available=[1, 2, 3],
        timeout=1.0,
    )
    coordinator.start(0.0)
    commitment = Signer(keys[3]).on_commitment_request(
        CommitmentRequest(SESSION, 1), rng.randbytes(64)
    )
    assert coordinator.receive(3, commitment, 0.1) == []  # 3 was not asked
    stale = Signer(keys[1]).on_commitment_request(CommitmentRequest(SESSION, 7), rng.randbytes(64))
    assert coordinator.receive(1, stale, 0.1) == []
    foreign = Signer(keys[1]).on_commitment_request(
        CommitmentRequest(b"\x00" * 32, 1), rng.randbytes(64)
    )
    assert coordinator.receive(1, foreign, 0.1) == []
    assert coordinator.commitments == {}
