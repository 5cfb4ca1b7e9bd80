"""Fuzz targets for the inputs of changes of stewards (``node/stewardship.py``,
``node/handovers.py``): what their validators and handlers check, fed mutations of real
calls, echoes, seals, hand-overs, pulls and replies. A finding is anything but a refusal
(``RemoteProtocolError``, ``FrostError``) for what is not genuine, or a forgery taken."""

from __future__ import annotations

import random
from functools import cache

import msgpack

from proto.codec import Wire, decode
from proto.epochs import Epoch
from proto.errors import RemoteProtocolError
from proto.frost.curve import FrostError
from proto.handover import Handover, HandoverPull, Seal, make_seal, verify_handover
from proto.resharing import (
    ReshareCall,
    ReshareDealer,
    ReshareEcho,
    ResharePull,
    ReshareReply,
    ReshareSpec,
    approve,
    make_echo,
    reply_problem,
    spec_for,
)
from tests.fuzz.inputs import mutate
from tests.fuzz.targets import Target, raw_in_world, world
from tests.support import pub

REFUSED = (RemoteProtocolError, FrostError)


@cache
def ceremony() -> tuple[ReshareSpec, ReshareDealer, list[ReshareCall], ReshareEcho]:
    """A refresh of the fuzz world's committee: the spec, steward 0's deal, a quorum's
    calls, and a new steward's echo."""
    w = world()
    g = w.group
    stewards = g.committee.stewards
    spec = spec_for(g.group_id, 0, stewards, w.key_package, (1, 2, 3, 4), stewards, 3)
    ids = {pub(k): k for k in g.stewards}
    calls = [ReshareCall(spec, approve(spec, ids[s])) for s in stewards[:3]]
    coefficients = [random.Random(i).randrange(1, 2**200) for i in range(2)]
    me = ids[stewards[w.key_package.identifier - 1]]
    dealer = ReshareDealer.create(
        spec, me, w.key_package, coefficients, [c.approval for c in calls]
    )
    reply = dealer.reply_to(stewards[1])
    assert reply is not None
    echo = make_echo(spec, ids[stewards[1]], {reply.package.dealer: reply})
    return spec, dealer, calls, echo


def stewardship_target() -> Target:
    """``swapnet/1/<group>/stewardship``: a call passes only as its approving steward's
    own signature over that very spec; an echo only as its new steward's."""
    _spec, _, calls, echo = ceremony()
    members = world().ids

    def feed(data: bytes) -> None:
        try:
            msg = decode(data, Wire)
        except REFUSED:
            return
        if isinstance(msg, ReshareCall):
            publisher = random.Random(data).choice([*members, msg.approval.steward])
            try:
                msg.check(publisher)
            except REFUSED:
                return
            genuine = {c.approval for c in calls}
            assert msg.approval in genuine and msg.spec.ceremony() == msg.approval.ceremony
        elif isinstance(msg, ReshareEcho) and msg.is_signed():
            assert msg == echo, "a forged echo verified"

    def make(rng: random.Random) -> bytes:
        pick = rng.random()
        if pick < 0.45:
            return mutate(rng.choice(calls).encode(), rng)
        if pick < 0.9:
            return mutate(echo.encode(), rng)
        cls = rng.choice((ReshareCall, ReshareEcho))
        return msgpack.packb(raw_in_world(cls, rng), use_bin_type=True)

    return Target("gossip stewardship", make, feed)


def handover_target() -> Target:
    """``swapnet/1/<group>/handovers`` and ``/swapnet/handover/1``: a seal verifies only
    as its steward's own; a hand-over moves a schedule only with a quorum of genuine seals
    for its very next epoch."""
    w = world()
    g = w.group
    nxt = Epoch(1, 5, g.committee.stewards, 3)
    seals = sorted(
        (make_seal(k, g.group_id, 0, nxt, 0, ()) for k in g.stewards), key=lambda s: s.steward
    )
    real = Handover(nxt, tuple(seals[:3]))

    def feed(data: bytes) -> None:
        try:
            msg = decode(data, Wire)
        except REFUSED:
            return
        if isinstance(msg, Seal):
            try:
                msg.verify(g.group_id)
            except REFUSED:
                return
            assert msg in seals, "a forged seal verified"
        elif isinstance(msg, Handover):
            try:
                verify_handover(msg, g.epochs, g.group_id)
            except REFUSED:
                return
            assert msg.next == nxt and set(msg.seals) <= set(seals), "a forged hand-over"
        elif isinstance(msg, HandoverPull):
            assert msg.known >= 1

    def make(rng: random.Random) -> bytes:
        pick = rng.random()
        if pick < 0.4:
            return mutate(real.encode(), rng)
        if pick < 0.8:
            return mutate(rng.choice(seals).encode(), rng)
        cls = rng.choice((Seal, Handover, HandoverPull))
        return msgpack.packb(raw_in_world(cls, rng), use_bin_type=True)

    return Target("gossip handovers", make, feed)


def reshare_pull_target() -> Target:
    """``/swapnet/reshare/1``: a dealer answers only a new steward, with its own share; a
    new steward's check of a reply takes only the dealer's genuine reply."""
    spec, dealer, _, _ = ceremony()
    callers = [*world().ids, bytes(32)]
    genuine = {dealer.reply_to(s) for s in spec.new_stewards}

    def feed(data: bytes) -> None:
        try:
            msg = decode(data, Wire)
        except REFUSED:
            return
        if isinstance(msg, ResharePull):
            caller = random.Random(data).choice(callers)
            reply = dealer.reply_to(caller)
            assert (reply is None) == (caller not in spec.new_stewards)
        elif isinstance(msg, ReshareReply) and reply_problem(spec, msg) is None:
            assert msg in genuine, "a forged reply passed its checks"

    def make(rng: random.Random) -> bytes:
        if rng.random() < 0.6:
            return mutate(rng.choice(sorted(genuine, key=lambda r: r.recipient)).encode(), rng)
        if rng.random() < 0.5:
            return ResharePull(spec.ceremony() if rng.random() < 0.8 else bytes(32)).encode()
        return msgpack.packb(raw_in_world(ReshareReply, rng), use_bin_type=True)

    return Target("stream /swapnet/reshare/1", make, feed)


def stewardship_targets() -> list[Target]:
    return [stewardship_target(), handover_target(), reshare_pull_target()]
