"""The fuzz targets: every decoder, and every handler that reads a peer's bytes, each a
``Target`` (make an input from a seeded random, feed it, raise ``AssertionError`` on a
finding). ``tests/fuzz/test_fuzz_*.py`` runs them under hypothesis in ``make test``;
``python -m tests.fuzz.run`` (``make fuzz``) runs each 100,000 times and prints figures.

A finding is: any exception but the refusal the surface is allowed (``DecodeError`` and
the other ``RemoteProtocolError``s, ``LedgerRejected``), an accepted input that is not
canonical, or a refused input that changed the state it was fed to.

The handlers are fed a world a rogue member lives in: a real group (stewards, funded
members, a committee, a wallet), and inputs made from its real ids, assets and keys
(``rogue_batch`` signs its orders with the members' own keys), so the input gets past
decoding and signatures and reaches the rules behind them.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Any, TypeVar

import msgpack
from hypothesis import settings

from node.formation import Ceremony, dealer_from_seed
from node.p2p import Refused
from node.runtime import NodeRuntime
from proto import signing
from proto.admission import Join, join_problem
from proto.chain_leaf import ChainLeaf
from proto.checkpoint_proposals import Completed, vector_of
from proto.checkpointing import CheckpointSteward
from proto.codec import ListOf, Obj, Wire, decode
from proto.errors import RemoteProtocolError
from proto.evidence import EvmRevokeEvidence, RevokeEvidence, read_evidence
from proto.evm_evidence import CRAWL_BACK_SELECTOR, REVOKE_SELECTOR, read_call
from proto.evm_tx import read_transaction
from proto.formation import Dealer, DkgEcho, DkgEchoPull, DkgPull, DkgReply, GroupSpec
from proto.frost.core import derive_group_info, trusted_dealer_keygen
from proto.frost.keys import KeyPackage
from proto.genesis import AdmissionPolicy
from proto.kinds import ASSET, MEMBER_ID
from proto.ledger.state import LedgerParams, LedgerRejected, LedgerState
from proto.ledger.txs import SignedTx
from proto.orders import ORDER_KINDS, SignedOrder, sign_order
from proto.state import GroupState
from proto.steward import Steward
from proto.sync import StateReply, StateRequest, SyncHello, plan_reply
from proto.votes import VOTE_DOMAIN, Batch, Certificate, StewardSignature, make_vote, vote_message
from tests.evm_cheat import evm_cheat
from tests.fuzz.inputs import (
    any_msgpack,
    every_wire_type,
    hostile_bytes,
    mutate,
    raw_object,
    sorted_unique,
)
from tests.support import Group, make_group, pub
from tests.unit.frost_helpers import scalar

WIRE_TYPES = every_wire_type()
ALLOWED = (RemoteProtocolError,)


def examples(base: int) -> int:
    """Hypothesis examples for a target: ``base`` in the default profile, scaled with
    the profile's ``max_examples`` (ten times in ``thorough``)."""
    return max(1, base * settings.default.max_examples // 100)


W = TypeVar("W", bound=Wire)


def decoded(data: bytes, cls: type[W]) -> W | None:
    """``data`` as a ``cls``, or None where the decoder refuses it (as it may)."""
    try:
        return decode(data, cls)
    except ALLOWED:
        return None


@dataclass(frozen=True)
class Target:
    name: str
    make: Callable[[random.Random], bytes]
    feed: Callable[[bytes], None]

    def run(self, rng: random.Random) -> None:
        self.feed(self.make(rng))


# -- decoders -------------------------------------------------------------------------------


def decode_target(cls: type[Wire]) -> Target:
    def feed(data: bytes) -> None:
        for expected in (cls, Wire):
            try:
                obj = decode(data, expected)
            except ALLOWED:
                continue
            assert obj.encode() == data, f"{cls.__name__}: accepted non-canonical bytes"

    return Target(f"decode {cls.__name__}", lambda rng: hostile_bytes(cls, rng), feed)


def chain_leaf_target() -> Target:
    """The ABI leaf a node stores beside its receipt and an EVM adapter sends: random words,
    mutated real leaves, wrong counts; only a canonical leaf decodes, to itself."""

    def feed(data: bytes) -> None:
        try:
            leaf = ChainLeaf.decode(data)
        except ValueError:
            return
        assert leaf.encode() == data, "accepted a non-canonical chain leaf"

    def make(rng: random.Random) -> bytes:
        count = rng.choice([0, 1, 2, 16, 17, 2**64 - 1, rng.randrange(2**256)])
        amounts = [rng.choice([0, 1, 2**64 - 1, 2**64, rng.randrange(2**256)]) for _ in range(3)]
        leaf = ChainLeaf(rng.randbytes(32), rng.randbytes(20), rng.randbytes(32), (1, 2))
        raw = bytearray(leaf.encode())
        match rng.randrange(4):
            case 0:
                raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            case 1:
                raw[5 * 32 : 6 * 32] = count.to_bytes(32, "big") if count < 2**256 else raw[160:192]
            case 2:
                raw = raw[:192] + b"".join(a.to_bytes(32, "big") for a in amounts)
            case _:
                raw = bytearray(rng.randbytes(rng.randrange(0, 400)))
        return bytes(raw)

    return Target("decode chain leaf (ABI)", make, feed)


# -- the world a rogue member lives in ------------------------------------------------------


@dataclass
class World:
    group: Group
    wallet_key: bytes
    key_package: KeyPackage

    @property
    def ids(self) -> list[bytes]:
        return self.group.ids


@cache
def world() -> World:
    g = make_group(seed="fuzz", stewards=4, members=3, funding=1000)
    rng = random.Random(5)
    t = g.committee.quorum
    shares, wallet_key, commitment = trusted_dealer_keygen(
        scalar(rng), [scalar(rng) for _ in range(t - 1)], 4
    )
    _, public = derive_group_info(list(shares), commitment)
    steward = g.stewards[0]
    index = g.committee.index_of(pub(steward)) + 1
    package = KeyPackage(index, shares[index], wallet_key, public, t)
    return World(g, wallet_key, package)


def raw_in_world(cls: type[Wire], rng: random.Random, depth: int = 3) -> list[Any]:
    """``raw_object`` with member ids, assets and seqs mostly the world's own (a fresh
    group: every member's next seq is 1), nested objects too."""
    w = world()
    value = raw_object(cls, rng)
    for i, (name, kind) in enumerate(cls.WIRE_FIELDS, start=1):
        if kind is MEMBER_ID and rng.random() < 0.9:
            value[i] = rng.choice(w.ids)
        elif kind is ASSET and rng.random() < 0.8:
            value[i] = rng.choice(("BTC", "USD", "ETH"))
        elif name == "seq" and rng.random() < 0.7:
            value[i] = 1
        elif isinstance(kind, Obj) and depth > 0:
            value[i] = raw_in_world(rng.choice(kind.classes), rng, depth - 1)
        elif isinstance(kind, ListOf) and isinstance(kind.item, Obj) and depth > 0:
            items = [raw_in_world(rng.choice(kind.item.classes), rng, depth - 1) for _ in value[i]]
            value[i] = sorted_unique(items) if kind.strictly_sorted else items
    return value


def rogue_order(rng: random.Random) -> SignedOrder | None:
    """An order of any kind between the world's members, signed with their own keys
    (now and again with a wrong one)."""
    w = world()
    cls = rng.choice(ORDER_KINDS)
    try:
        order = decode(msgpack.packb(raw_in_world(cls, rng), use_bin_type=True), cls)
    except ALLOWED:
        return None
    keys = dict(w.group.keys)
    if rng.random() < 0.1:
        keys = {m: rng.choice(list(w.group.keys.values())) for m in keys}
    if any(p.member not in keys for p in order.parties):
        return None
    return sign_order(order, keys, w.group.group_id)


def rogue_batch(rng: random.Random) -> bytes:
    orders = [o for o in (rogue_order(rng) for _ in range(rng.randint(1, 4))) if o]
    if not orders or rng.random() < 0.1:
        return hostile_bytes(Batch, rng)
    try:
        return (
            mutate(Batch(tuple(orders)).encode(), rng)
            if rng.random() < 0.2
            else Batch(tuple(orders)).encode()
        )
    except ValueError:  # two orders for one (member, seq)
        return Batch(tuple(orders[:1])).encode()


def state_digest(state: GroupState) -> bytes:
    return state.snapshot().encode()


# -- stream handlers and gossip validators -----------------------------------------------


def vote_target() -> Target:
    """``/swapnet/vote/1``: a steward checks a member's batch and votes or refuses."""

    def feed(data: bytes) -> None:
        w = world()
        batch = decoded(data, Batch)
        if batch is None:
            return
        replica = w.group.replica()
        before = state_digest(replica.state)
        steward = Steward(w.group.stewards[0], replica)
        steward.handle_batch(batch)
        assert state_digest(replica.state) == before, "a vote changed the replica"

    return Target("stream /swapnet/vote/1", rogue_batch, feed)


def certificate_target() -> Target:
    """``swapnet/1/<group>/certificates``: a replica takes only what a quorum signed."""

    def feed(data: bytes) -> None:
        replica = world().group.replica()
        before = state_digest(replica.state)
        try:
            cert = decode(data, Certificate)
            replica.receive_certificate(cert)
        except ALLOWED:
            assert state_digest(replica.state) == before, "a refused certificate changed state"
            return
        w = world()
        digest = cert.batch.digest(w.group.group_id)
        good = [
            v
            for v in cert.votes
            if v.steward in w.group.committee
            and signing.is_valid(
                v.steward,
                v.signature,
                VOTE_DOMAIN,
                w.group.group_id,
                vote_message(cert.epoch, digest),
            )
        ]
        assert len(good) >= w.group.committee.quorum, "a certificate without a quorum was taken"

    def make(rng: random.Random) -> bytes:
        """A rogue batch with votes: real ones from some stewards (a quorum now and
        again), forged ones, and ones from members outside the committee."""
        if rng.random() < 0.1:
            return hostile_bytes(Certificate, rng)
        w = world()
        try:
            batch = decode(rogue_batch(rng), Batch)
        except ALLOWED:
            return hostile_bytes(Certificate, rng)
        digest = batch.digest(w.group.group_id)
        voters = rng.sample(w.ids, rng.randint(1, len(w.ids)))
        votes = []
        for member in sorted(voters):
            vote = make_vote(w.group.keys[member], w.group.group_id, digest)
            signature = vote.signature if rng.random() < 0.8 else rng.randbytes(64)
            votes.append(StewardSignature(member, signature))
        return (
            mutate(Certificate(0, batch, tuple(votes)).encode(), rng)
            if rng.random() < 0.2
            else (Certificate(0, batch, tuple(votes)).encode())
        )

    return Target("gossip certificates", make, feed)


def sync_target() -> Target:
    """``/swapnet/sync/1``: the answer to anyone's hello is bounded and never fails."""

    def feed(data: bytes) -> None:
        hello = decoded(data, SyncHello)
        if hello is None:
            return
        mine = vector_of(world().group.genesis_state())
        reply = plan_reply(mine, hello, lambda member, seq: None)
        assert len(reply.encode()) <= 1 << 20

    def make(rng: random.Random) -> bytes:
        return mutate(msgpack.packb(raw_in_world(SyncHello, rng), use_bin_type=True), rng)

    return Target("stream /swapnet/sync/1", make, feed)


def checkpoint_machine() -> CheckpointSteward:
    w = world()
    return CheckpointSteward(
        identity=w.group.stewards[0],
        key=w.key_package,
        wallet_key=w.wallet_key,
        epochs=w.group.epochs,
        base=w.group.genesis_state(),
        base_number=0,
        adopted_at=0.0,
        interval=5.0,
        timeout=8.0,
        random_bytes=random.Random(3).randbytes,
    )


def checkpoint_target() -> Target:
    """``swapnet/1/<group>/checkpoints`` and ``/swapnet/checkpoint/1``: proposals,
    completed checkpoints and FROST messages from a steward; nothing raises, nothing
    unsigned is adopted."""

    def feed(data: bytes) -> None:
        msg = decoded(data, Wire)
        if msg is None:
            return
        machine = checkpoint_machine()
        sender = world().group.committee.stewards[1]
        machine.receive(sender, msg, 1.0)
        machine.tick(2.0)
        assert machine.base_number == 0, "an unsigned checkpoint was adopted"

    def make(rng: random.Random) -> bytes:
        names = ("Proposal", "Completed", "CommitmentRequest", "SigningRequest")
        classes = [c for c in WIRE_TYPES.values() if c.__name__ in names] or [Completed]
        return hostile_bytes(rng.choice(classes), rng)

    return Target("gossip checkpoints", make, feed)


def checkpoint_state_target() -> Target:
    """``/swapnet/checkpoint-state/1``: a peer's answer (a completed checkpoint and the
    state it commits to) is adopted only if the group signed it."""

    def feed(data: bytes) -> None:
        try:
            reply = decode(data, StateReply)
            state = GroupState.decode(reply.state) if reply.completed else None
        except ALLOWED:
            return
        if state is None:
            return
        machine = checkpoint_machine()
        assert machine.adopt_state(reply.completed[0], state, 1.0) == []

    def make(rng: random.Random) -> bytes:
        if rng.random() < 0.5:
            return hostile_bytes(StateReply, rng)
        state = world().group.genesis_state().encode()
        raw = raw_object(Completed, rng)
        return msgpack.packb([StateReply.TAG, [raw], mutate(state, rng)], use_bin_type=True)

    return Target("stream /swapnet/checkpoint-state/1", make, feed)


def state_request_target() -> Target:
    def feed(data: bytes) -> None:
        decoded(data, StateRequest)

    return Target(
        "stream /swapnet/checkpoint-state/1 (request)",
        lambda rng: hostile_bytes(StateRequest, rng),
        feed,
    )


def evidence_target() -> Target:
    """``swapnet/1/<group>/evidence``: revoke evidence of either ledger verifies or is
    refused; a real EVM cheat's evidence, mutated, never verifies."""
    cheat = evm_cheat(7)
    real = cheat.evidence.encode()

    def make(rng: random.Random) -> bytes:
        pick = rng.random()
        if pick < 0.4:
            return hostile_bytes(RevokeEvidence, rng)
        if pick < 0.7:
            return hostile_bytes(EvmRevokeEvidence, rng)
        return mutate(real, rng)

    def feed(data: bytes) -> None:
        try:
            read_evidence(data).verify(cheat.genesis)
        except ALLOWED:
            return
        assert data == real, "evidence nobody signed verified"

    return Target("gossip evidence", make, feed)


def evm_exit_call_target() -> Target:
    """What EVM evidence is read from: a raw signed transaction (RLP, the sender recovered)
    and a revoke's or crawl back's calldata (ABI, offsets followed as the contract does),
    mutated, with lengths and offsets set to anything; only ``ValueError`` comes out."""
    cheat = evm_cheat(7)
    raws = (cheat.evidence.revoke, cheat.evidence.crawl_back)
    calls = [read_transaction(r).data for r in raws]

    def make(rng: random.Random) -> bytes:
        which = rng.randrange(2)
        if rng.random() < 0.4:
            return bytes([which]) + mutate(raws[which], rng)
        data = bytearray(calls[which])
        for _ in range(rng.randint(1, 3)):
            at = 4 + 32 * rng.randrange((len(data) - 4) // 32)
            word = rng.choice([0, 1, 31, 32, 2**32, 2**64 - 1, 2**255, rng.randrange(2**256)])
            data[at : at + 32] = word.to_bytes(32, "big")
        return bytes([2 + which]) + mutate(bytes(data), rng)

    def feed(data: bytes) -> None:
        if not data:
            return
        try:
            if data[0] < 2:
                read_transaction(data[1:])
            else:
                read_call(data[1:], (REVOKE_SELECTOR, CRAWL_BACK_SELECTOR)[data[0] - 2])
        except ValueError:
            return

    return Target("EVM exit transaction (RLP, ABI)", make, feed)


POLICY = AdmissionPolicy(1, 1, (), 0, 0)


def join_target() -> Target:
    """``/swapnet/join/1`` (open to strangers): a join is judged, never raises."""

    def feed(data: bytes) -> None:
        join = decoded(data, Join)
        if join is None:
            return
        w = world()
        assert join_problem(join, w.group.group_id, bytes(32), POLICY, 100) is not None or (
            join.is_valid(w.group.group_id, bytes(32))
        )

    def make(rng: random.Random) -> bytes:
        return mutate(msgpack.packb(raw_in_world(Join, rng), use_bin_type=True), rng)

    return Target("stream /swapnet/join/1", make, feed)


def hello_target() -> Target:
    """``/swapnet/hello/1``: a member's listen addresses, JSON."""
    me = world().ids[0]

    def feed(data: bytes) -> None:
        runtime = SimpleNamespace(peer_addrs={})
        try:
            NodeRuntime._learn(runtime, me, data)  # type: ignore[arg-type]
        except ALLOWED:
            assert runtime.peer_addrs == {}
            return
        for addr in runtime.peer_addrs.get(me, []):
            assert isinstance(addr, str) and len(addr) < 256

    def make(rng: random.Random) -> bytes:
        pick = rng.randrange(4)
        if pick == 0:
            return rng.randbytes(rng.randint(0, 64))
        if pick == 1:
            return b"[" * rng.randint(1, 100_000)  # nesting past the recursion limit
        value = any_msgpack(rng) if pick == 2 else [f"/ip4/127.0.0.1/tcp/1/p2p/{rng.random()}"]
        try:
            return json.dumps(value).encode()
        except (TypeError, ValueError):
            return b"null"

    return Target("stream /swapnet/hello/1", make, feed)


def ledger_world() -> tuple[LedgerState, int]:
    w = world()
    params = LedgerParams(
        ledger_id=bytes(32),
        fee_asset="SWAP",
        min_fee=1,
        fee_collector=b"\xfe" * 32,
        allocations=tuple((m, "SWAP", 1_000) for m in w.ids),
    )
    return LedgerState(params), 1


def ledger_tx_target() -> Target:
    """``POST /tx``: any signed transaction is applied by the rules or refused, and a
    refusal changes nothing."""

    def feed(data: bytes) -> None:
        try:
            signed = decode(data, SignedTx)
        except ALLOWED:
            return
        ledger, height = ledger_world()
        before = copy.deepcopy((ledger.balances, ledger.nonces, ledger.wallets))
        try:
            ledger.apply(signed, height)
        except LedgerRejected:
            assert (ledger.balances, ledger.nonces, ledger.wallets) == before
            return
        assert sum(sum(b.values()) for b in ledger.balances.values()) >= 0

    return Target("ledger transactions", lambda rng: hostile_bytes(SignedTx, rng), feed)


def dkg_target() -> Target:
    """``/swapnet/dkg/1``: pulls from the spec's stewards and from strangers, before and
    after our echo is made. An answer is our own reply or echo; the stewards that have
    our echo stay within the spec."""
    w = world()
    spec = GroupSpec(
        "fuzz",
        tuple(sorted(pub(k) for k in w.group.stewards)),
        ("BTC", "USD"),
        bytes(32),
        10,
        5,
        1,
        bytes(32),
        AdmissionPolicy(0, 0, (), 0, 0),
    )
    dealer = dealer_from_seed(spec, w.group.stewards[0], bytes(32))
    echo = dealer.echo({})  # a real one (ours alone): what matters is who gets it
    callers = [*spec.stewards, *w.ids, bytes(32)]

    def feed(data: bytes) -> None:
        rng = random.Random(data)
        ceremony = Ceremony(dealer)
        ceremony.echo = echo if rng.random() < 0.5 else None
        caller = rng.choice(callers)
        try:
            answer = ceremony.answer(caller, data)
        except (*ALLOWED, Refused):
            assert ceremony.echo_pulled == set()
            return
        assert answer in {echo.encode(), _reply(dealer, caller)}
        assert ceremony.echo_pulled <= set(spec.stewards)

    def make(rng: random.Random) -> bytes:
        cls = rng.choice((DkgPull, DkgEchoPull, DkgReply, DkgEcho))
        value = raw_in_world(cls, rng)
        if cls in (DkgPull, DkgEchoPull) and rng.random() < 0.7:
            value[1] = spec.ceremony()
        return mutate(msgpack.packb(value, use_bin_type=True), rng)

    return Target("stream /swapnet/dkg/1", make, feed)


def _reply(dealer: Dealer, caller: bytes) -> bytes:
    reply = dealer.reply_to(caller)
    return b"" if reply is None else reply.encode()


def handler_targets() -> list[Target]:
    from tests.fuzz.stewardship_targets import stewardship_targets  # noqa: PLC0415 (a cycle)

    return [
        vote_target(),
        certificate_target(),
        sync_target(),
        checkpoint_target(),
        checkpoint_state_target(),
        state_request_target(),
        evidence_target(),
        join_target(),
        hello_target(),
        dkg_target(),
        ledger_tx_target(),
        chain_leaf_target(),
        evm_exit_call_target(),
        *stewardship_targets(),
    ]


def all_targets() -> list[Target]:
    decoders = [decode_target(c) for c in sorted(WIRE_TYPES.values(), key=lambda c: c.TAG)]
    return [*decoders, *handler_targets()]
