"""Forming a group over libp2p: the stewards' DKG (``proto.formation``) carried on
``/swapnet/dkg/1``.

Each steward, given the same ``GroupSpec``:

1. seals a fresh 32-byte seed and stores it with the spec (fsynced) before anything leaves;
   its polynomial and proof nonce derive from that seed, so after a restart it deals the
   very same shares;
2. answers ``DkgPull`` from any steward of the spec with its ``DkgReply`` (for as long as
   the node runs: slower stewards may still be pulling after it has finished);
3. pulls every other steward's reply, retrying those it cannot reach yet, until it holds
   them all;
4. signs its echo of every round-one package it holds and serves it (``DkgEchoPull``), and
   pulls every other steward's echo: only when every echo holds the same packages does it
   finish: the genesis and its key package, stored atomically (share sealed). A steward
   restarted after it finished computes its echo again (the dealers still serve their
   replies) so that slower stewards can finish too.

A reply or echo that fails its checks names its culprit (``DkgFault``; a dealer that dealt
two polynomials is ``DkgEquivocation``, with the two signed packages as proof, kept in
``dkg-equivocation.swapnet`` in the data dir) and the ceremony stops with that error,
once every steward not at fault has our echo (so that each finds the fault itself): the
stewards must agree on a new spec without the culprit.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TypeVar

import trio
from nacl.signing import SigningKey

from node.files import write_atomically
from node.p2p import P2P, P2PError, Refused
from node.sealing import seal, unseal
from proto.codec import Wire, decode
from proto.errors import RemoteProtocolError
from proto.formation import (
    Dealer,
    DkgEcho,
    DkgEchoPull,
    DkgEquivocation,
    DkgEquivocationProof,
    DkgPull,
    DkgReply,
    GroupSpec,
    StewardKey,
)
from proto.frost.dkg import DkgFault
from proto.frost.keys import KeyPackage
from proto.genesis import Genesis
from proto.signing import public_key_of
from storage.groups import GroupRepo

log = logging.getLogger(__name__)
W = TypeVar("W", bound=Wire)

DKG_PROTOCOL = "/swapnet/dkg/1"
SEED_PURPOSE = "dkg-seed"
SHARE_PURPOSE = "wallet-share"
RETRY = 0.5
EQUIVOCATION_FILE = "dkg-equivocation.swapnet"
ECHO_LINGER = 30.0


def scalar_from(seed: bytes, label: bytes, order: int) -> int:
    # 64 bytes reduced mod the group order: uniform enough; never zero in practice, and checked.
    wide = hashlib.sha512(b"swapnet/1/dkg-coefficient\x00" + label + seed).digest()
    value = int.from_bytes(wide, "little") % order
    if value == 0:
        raise ValueError("a zero coefficient: use another seed")
    return value


def dealer_from_seed(spec: GroupSpec, identity: SigningKey, seed: bytes) -> Dealer:
    order = spec.suite.order
    coefficients = tuple(scalar_from(seed, b"a%d" % i, order) for i in range(spec.threshold))
    return Dealer.create(spec, identity, coefficients, scalar_from(seed, b"pok", order))


def prepare_dealer(repo: GroupRepo, spec: GroupSpec, identity: SigningKey) -> Dealer:
    """This steward's dealer for ``spec``: from its sealed seed, made and stored first."""
    if public_key_of(identity) not in spec.stewards:
        raise ValueError("this node's key is not one of the spec's stewards")
    stored = repo.load_spec(spec.ceremony())
    if stored is None:
        seed = os.urandom(32)
        repo.save_spec(spec, seal(identity, SEED_PURPOSE, seed))
    else:
        seed = unseal(identity, SEED_PURPOSE, stored[1])
    return dealer_from_seed(spec, identity, seed)


class Ceremony:
    """What this steward serves of the ceremony: its replies, and its echo once made."""

    def __init__(self, dealer: Dealer) -> None:
        self.dealer = dealer
        self.id = dealer.spec.ceremony()
        self.echo: DkgEcho | None = None
        self.echo_pulled: set[bytes] = set()
        """The stewards that have our echo (at most the spec's stewards)."""

    def answer(self, caller: bytes, request: bytes) -> bytes:
        """Our answer to ``caller``'s pull: the reply dealt to it, or our echo. Raises
        ``RemoteProtocolError`` (a strike) for anything but a pull of this ceremony by
        one of its stewards, ``Refused`` while our echo is not made yet."""
        spec = self.dealer.spec
        pull = decode(request, Wire)
        if not isinstance(pull, DkgPull | DkgEchoPull) or pull.ceremony != self.id:
            raise RemoteProtocolError("not a request of this ceremony")
        if isinstance(pull, DkgEchoPull):
            if caller not in spec.stewards:
                raise RemoteProtocolError("not a steward of this ceremony")
            if self.echo is None:
                raise Refused("no echo yet: we are still pulling replies")
            self.echo_pulled.add(caller)
            return self.echo.encode()
        reply = self.dealer.reply_to(caller)
        if reply is None:
            raise RemoteProtocolError("not a steward of this ceremony")
        return reply.encode()


def serve_dealer(p2p: P2P, dealer: Dealer) -> Ceremony:
    ceremony = Ceremony(dealer)

    async def answer(caller: bytes, request: bytes) -> bytes:
        return ceremony.answer(caller, request)

    p2p.set_handler(DKG_PROTOCOL, answer)
    return ceremony


async def pull_all(p2p: P2P, dealer: Dealer, request: Wire, kind: type[W]) -> dict[bytes, W]:
    """Every other steward's answer to ``request`` (retrying those not ready yet)."""
    spec, me = dealer.spec, public_key_of(dealer.identity)
    raw = request.encode()
    got: dict[bytes, W] = {}
    while len(got) < len(spec.stewards) - 1:
        for steward in spec.stewards:
            if steward == me or steward in got:
                continue
            try:
                got[steward] = decode(await p2p.request(steward, DKG_PROTOCOL, raw), kind)
            except (P2PError, RemoteProtocolError) as exc:
                log.debug("no DKG answer from %s yet: %s", steward.hex()[:16], exc)
        if len(got) < len(spec.stewards) - 1:
            await trio.sleep(RETRY)
    return got


async def run_dkg(p2p: P2P, ceremony: Ceremony, data_dir: Path) -> tuple[KeyPackage, Genesis]:
    """Pull every other steward's reply, echo, check every echo, finish. A dealer's
    equivocation stops the ceremony with its proof kept in ``data_dir`` (fsynced), for
    the stewards to show when they agree on a spec without that dealer."""
    dealer = ceremony.dealer
    cid = dealer.spec.ceremony()
    replies = await pull_all(p2p, dealer, DkgPull(cid), DkgReply)
    ceremony.echo = dealer.echo(replies)
    echoes = await pull_all(p2p, dealer, DkgEchoPull(cid), DkgEcho)
    try:
        dealer.check_echoes(ceremony.echo, echoes)
    except DkgFault as exc:
        fault = _keep_proof(dealer, exc, data_dir)
        await _linger(ceremony, exc)
        raise fault from None
    return dealer.finish(replies)


def _keep_proof(dealer: Dealer, fault: DkgFault, data_dir: Path) -> DkgFault:
    """An equivocation's proof, written (fsynced) before anything else happens; the
    fault to stop with, saying where the proof is."""
    if not isinstance(fault, DkgEquivocation):
        return fault
    cheat = dealer.spec.stewards[fault.culprits[0] - 1]
    path = data_dir / EQUIVOCATION_FILE
    write_atomically(path, DkgEquivocationProof(cheat, *fault.proof).encode())
    return DkgEquivocation(fault.culprits[0], fault.proof, f"proof kept in {path}")


async def _linger(ceremony: Ceremony, fault: DkgFault) -> None:
    """Before a failed ceremony stops this node, serve our echo until every steward not
    at fault has it (at most ``ECHO_LINGER`` seconds): a slower honest steward would
    otherwise wait for it for ever instead of finding the fault too."""
    spec = ceremony.dealer.spec
    me = public_key_of(ceremony.dealer.identity)
    waiting = {s for s in spec.stewards if s != me and spec.identifier_of(s) not in fault.culprits}
    with trio.move_on_after(ECHO_LINGER):
        while not waiting <= ceremony.echo_pulled:
            await trio.sleep(RETRY)


async def echo_again(p2p: P2P, ceremony: Ceremony) -> None:
    """After a restart, a steward that already finished makes its echo again for the
    stewards still waiting for it (it never finishes a second time)."""
    dealer = ceremony.dealer
    replies = await pull_all(p2p, dealer, DkgPull(dealer.spec.ceremony()), DkgReply)
    try:
        ceremony.echo = dealer.echo(replies)
    except DkgFault as exc:  # after the group formed: nothing to stop, say who cheated
        log.error("a dealer's reply is not what it signed: %s", exc)


def store_formed(repo: GroupRepo, identity: SigningKey, key: KeyPackage, genesis: Genesis) -> bytes:
    sealed = seal(identity, SHARE_PURPOSE, key.suite.encode_scalar(key.signing_share))
    return repo.save_formed(genesis, StewardKey.of(key, sealed))


def load_key_package(identity: SigningKey, stored: StewardKey) -> KeyPackage:
    return stored.package(unseal(identity, SHARE_PURPOSE, stored.sealed_share))
