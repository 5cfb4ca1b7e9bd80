"""Forming a group over libp2p: the stewards' DKG (``proto.formation``) carried on
``/swapnet/dkg/1``.

Each steward, given the same ``GroupSpec``:

1. seals a fresh 32-byte seed and stores it with the spec (fsynced) before anything leaves;
   its polynomial and proof nonce derive from that seed, so after a restart it deals the
   very same shares;
2. answers ``DkgPull`` from any steward of the spec with its ``DkgReply`` (for as long as
   the node runs: slower stewards may still be pulling after it has finished);
3. pulls every other steward's reply, retrying those it cannot reach yet, until it holds
   them all, then finishes: the genesis and its key package, stored atomically (share
   sealed).

A reply that fails its checks names its dealer (``DkgFault``) and the ceremony stops with
that error: the stewards must agree on a new spec without the culprit.
"""

from __future__ import annotations

import hashlib
import logging
import os

import trio
from nacl.signing import SigningKey

from node.p2p import P2P, P2PError
from node.sealing import seal, unseal
from proto.codec import decode
from proto.errors import RemoteProtocolError
from proto.formation import Dealer, DkgPull, DkgReply, GroupSpec, StewardKey
from proto.frost.curve import L, encode_scalar
from proto.frost.keys import KeyPackage
from proto.genesis import Genesis
from proto.signing import public_key_of
from storage.groups import GroupRepo

log = logging.getLogger(__name__)

DKG_PROTOCOL = "/swapnet/dkg/1"
SEED_PURPOSE = "dkg-seed"
SHARE_PURPOSE = "wallet-share"
RETRY = 0.5


def _scalar_from(seed: bytes, label: bytes) -> int:
    # 64 bytes reduced mod L: uniform enough; never zero in practice, and checked.
    wide = hashlib.sha512(b"swapnet/1/dkg-coefficient\x00" + label + seed).digest()
    value = int.from_bytes(wide, "little") % L
    if value == 0:
        raise ValueError("a zero coefficient: use another seed")
    return value


def dealer_from_seed(spec: GroupSpec, identity: SigningKey, seed: bytes) -> Dealer:
    coefficients = tuple(_scalar_from(seed, b"a%d" % i) for i in range(spec.threshold))
    return Dealer.create(spec, identity, coefficients, _scalar_from(seed, b"pok"))


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


def serve_dealer(p2p: P2P, dealer: Dealer) -> None:
    ceremony = dealer.spec.ceremony()

    async def answer(caller: bytes, request: bytes) -> bytes:
        pull = decode(request, DkgPull)
        reply = dealer.reply_to(caller)
        if pull.ceremony != ceremony or reply is None:
            raise RemoteProtocolError("not a steward of this ceremony")
        return reply.encode()

    p2p.set_handler(DKG_PROTOCOL, answer)


async def run_dkg(p2p: P2P, dealer: Dealer) -> tuple[KeyPackage, Genesis]:
    """Pull every other steward's reply (retrying) and finish the ceremony."""
    spec, me = dealer.spec, public_key_of(dealer.identity)
    pull = DkgPull(spec.ceremony()).encode()
    replies: dict[bytes, DkgReply] = {}
    while len(replies) < len(spec.stewards) - 1:
        for steward in spec.stewards:
            if steward == me or steward in replies:
                continue
            try:
                replies[steward] = decode(await p2p.request(steward, DKG_PROTOCOL, pull), DkgReply)
            except (P2PError, RemoteProtocolError) as exc:
                log.debug("no DKG reply from %s yet: %s", steward.hex()[:16], exc)
        if len(replies) < len(spec.stewards) - 1:
            await trio.sleep(RETRY)
    return dealer.finish(replies)


def store_formed(repo: GroupRepo, identity: SigningKey, key: KeyPackage, genesis: Genesis) -> bytes:
    sealed = seal(identity, SHARE_PURPOSE, encode_scalar(key.signing_share))
    return repo.save_formed(genesis, StewardKey.of(key, sealed))


def load_key_package(identity: SigningKey, stored: StewardKey) -> KeyPackage:
    return stored.package(unseal(identity, SHARE_PURPOSE, stored.sealed_share))
