"""Attacks on the stream protocols of a real group: junk on every protocol, oversized
frames, many streams at once and slow ones, from strangers (fresh keys) and from a member
(mallory); the rogue steward answering the honest nodes' own syncs with forged
checkpoints and states, and their vote requests with forged votes; a swap ask and a
signed swap replayed after the swap was done. After each, the honest nodes agree with
the control group (``Arena.verdict``).

This module runs before ``test_attack_topics.py`` (file order), whose forgeries end in
the rogue's ban."""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace

import pytest
import trio
from libp2p.utils.varint import encode_varint_prefixed
from nacl.signing import SigningKey

from node.certification import SYNC_PROTOCOL, VOTE_PROTOCOL
from node.checkpoints import CHECKPOINT_PROTOCOL, STATE_PROTOCOL
from node.formation import DKG_PROTOCOL
from node.handovers import HANDOVER_PROTOCOL
from node.p2p import MAX_FRAME, peer_id_of
from node.runtime import HELLO_PROTOCOL, JOIN_PROTOCOL
from node.stewardship import RESHARE_PROTOCOL
from node.swaps import SWAP_PROTOCOL
from proto.checkpoint_proposals import Completed, SeqEntry
from proto.codec import decode
from proto.orders import order_signature
from proto.rfq import SwapAsk, SwapSign, SwapSigned, SwapTerms, swap_of
from proto.state import GroupState
from proto.sync import StateReply, StateRequest
from proto.validation import BatchRefused, Refusal
from proto.votes import Batch, make_vote
from tests.attack.harness import HONEST, Arena, Devnet, Rogue, rogue, wait_for

pytestmark = pytest.mark.xdist_group("attack")
PROTOCOLS = (
    VOTE_PROTOCOL,
    SYNC_PROTOCOL,
    CHECKPOINT_PROTOCOL,
    STATE_PROTOCOL,
    DKG_PROTOCOL,
    JOIN_PROTOCOL,
    HELLO_PROTOCOL,
    SWAP_PROTOCOL,
    HANDOVER_PROTOCOL,
    RESHARE_PROTOCOL,
)
JUNK = (b"", b"\xc0", b"\x93\x01\x02\x03", os.urandom(64), b"[" * 4000, b"\xff" * 1000)


async def test_strangers_junk_oversized_frames_many_and_slow_streams_change_nothing(
    the_arena: Arena,
) -> None:
    """A stranger may only ask to join: every other protocol is declined unread. It sends
    junk on all of them anyway, an oversized frame, and opens many streams it never
    finishes (slowloris) on the one protocol it may use."""
    stranger = SigningKey(os.urandom(32))
    async with rogue(the_arena, key=stranger) as r:
        answers = [
            await r.ask(member, protocol, junk)
            for member in r.honest_members
            for protocol in PROTOCOLS
            for junk in JUNK
        ]
        assert not any(isinstance(a, bytes) and len(a) > 1000 for a in answers)
        member = r.honest_members[0]
        oversized = encode_varint_prefixed(b"\x00" * (MAX_FRAME + 1))
        with contextlib.suppress(Exception):
            stream = await r.p2p.host.new_stream(peer_id_of(member), [JOIN_PROTOCOL])
            await stream.write(oversized[: 1 << 16])  # announces more than a frame
        held = []
        for _ in range(60):  # never finished
            with contextlib.suppress(Exception):
                held.append(await r.p2p.host.new_stream(peer_id_of(member), [JOIN_PROTOCOL]))
    await trio.to_thread.run_sync(the_arena.verdict)


async def test_the_rogue_answers_syncs_with_forged_checkpoints_and_states(
    the_arena: Arena,
) -> None:
    """The honest nodes ask every connected member for its newest checkpoint and state
    (anti-entropy). The rogue answers each with a real completed checkpoint wrapped in
    a rollback vector, and a state that is not the one it commits to."""
    a = the_arena
    victim = bytes.fromhex(a.attacked.node(HONEST[0])["member"])
    forged: list[Completed] = []
    wrong = GroupState(bytes.fromhex(a.group_id), ("BTC", "USD"))
    asked: list[bytes] = []

    async def lie(caller: bytes, request: bytes) -> bytes:
        asked.append(caller)
        return StateReply((forged[0],), wrong.encode()).encode()

    async with rogue(a) as r:
        answer = await r.ask(r.honest_members[0], STATE_PROTOCOL, StateRequest(0).encode())
        assert isinstance(answer, bytes), answer
        (completed,) = decode(answer, StateReply).completed  # a real one, to forge from
        forged.append(
            Completed(
                replace(completed.proposal, vector=(SeqEntry(victim, 1),)), completed.signature
            )
        )
        r.p2p.set_handler(STATE_PROTOCOL, lie)
        await trio.to_thread.run_sync(
            lambda: wait_for("the honest nodes to ask the rogue", lambda: len(set(asked)) >= 2)
        )
    await trio.to_thread.run_sync(a.verdict)


async def test_the_rogue_answers_vote_requests_with_forged_votes_and_refusals(
    the_arena: Arena,
) -> None:
    """Every honest payment asks every steward for a vote, the rogue too. It answers with
    a vote for another batch, a vote in an honest steward's name, a refusal of every
    order, and junk, in turn: the honest stewards' votes still certify every payment."""
    a = the_arena
    calls: list[bytes] = []
    gid = bytes.fromhex(a.group_id)

    async def lie(caller: bytes, request: bytes) -> bytes:
        calls.append(caller)
        batch = decode(request, Batch)
        digest = batch.digest(gid)
        honest = bytes.fromhex(a.attacked.node(HONEST[0])["member"])
        answers = (
            make_vote(a.rogue_key, gid, bytes(32)).encode(),
            replace(make_vote(a.rogue_key, gid, digest), steward=honest).encode(),
            BatchRefused(digest, (Refusal(0, "insufficient-funds"),)).encode(),
            b"\xc0",
        )
        return answers[len(calls) % len(answers)]

    async with rogue(a) as r:
        r.p2p.set_handler(VOTE_PROTOCOL, lie)
        await trio.to_thread.run_sync(a.verdict)
    assert len(calls) >= 3, "the honest nodes never asked the rogue for a vote"


SWAP_GIVE, SWAP_GET = ("USD", 50), ("BTC", 1)
"""mallory gives 50 USD for 1 BTC, from steward1's standing quote."""


async def test_a_swap_ask_and_signed_swap_replayed_after_the_swap_change_nothing(
    the_arena: Arena,
) -> None:
    """mallory takes steward1's quote once in each group (the same swap), then, in the
    attacked group only, sends the same ask and the same signed swap again while the
    quote still has a fill left: the ask names a seq that is used (declined), and the
    signed swap gets the signature it already got (the same order, applied once)."""
    a = the_arena
    maker = HONEST[1]
    quote = {"give": dict(zip(("asset", "amount"), SWAP_GET, strict=True))}
    quote["get"] = dict(zip(("asset", "amount"), SWAP_GIVE, strict=True))
    for devnet in (a.control, a.attacked):
        devnet.call(maker, "/v1/swap/quote", {**quote, "fills": 2})
    async with rogue(a, key=a.member_key, devnet=a.control) as r:
        await take_swap(r, a.control, maker)
    async with rogue(a, key=a.member_key) as r:
        ask, sign, signed = await take_swap(r, a.attacked, maker)
        maker_id = bytes.fromhex(a.attacked.node(maker)["member"])
        for _ in range(3):
            again = await r.ask(maker_id, SWAP_PROTOCOL, ask.encode())
            assert isinstance(again, str) and "not your next" in again, again
            same = await r.ask(maker_id, SWAP_PROTOCOL, sign.encode())
            assert same == signed.encode()
    await trio.to_thread.run_sync(a.verdict)


async def take_swap(r: Rogue, devnet: Devnet, maker: str) -> tuple[SwapAsk, SwapSign, SwapSigned]:
    """mallory's side of a swap, by hand: ask, sign, get the maker's signature, and wait
    until every honest node applied it."""
    me, gid = r.p2p.member_id, bytes.fromhex(devnet.status(maker)["group"]["group_id"])
    maker_id = bytes.fromhex(devnet.node(maker)["member"])
    seq = devnet.status(maker)["group"]["last_seqs"].get(me.hex(), 0) + 1
    ask = SwapAsk(*SWAP_GIVE, *SWAP_GET, seq)
    answer = await r.ask(maker_id, SWAP_PROTOCOL, ask.encode())
    assert isinstance(answer, bytes), answer
    swap = swap_of(me, maker_id, decode(answer, SwapTerms).maker_seq, ask)
    sign = SwapSign(swap, order_signature(swap, r.arena.member_key, gid))
    answer = await r.ask(maker_id, SWAP_PROTOCOL, sign.encode())
    assert isinstance(answer, bytes), answer

    def applied() -> bool:
        return all(devnet.status(n)["group"]["last_seqs"].get(me.hex()) == seq for n in HONEST)

    await trio.to_thread.run_sync(lambda: wait_for("the swap to be applied", applied))
    return ask, sign, decode(answer, SwapSigned)


async def test_a_member_holding_many_slow_streams_is_cut_off_and_changes_nothing(
    the_arena: Arena,
) -> None:
    """mallory, a member, may use every protocol: it opens far more streams than a peer
    may hold at once on all of them and sends each a frame it never finishes. Honest
    nodes go on certifying meanwhile (the verdict's payments run while the streams are
    held), and cut mallory off: too many streams and slow ones are strikes, and strikes
    a ban. (Run last in this module: mallory stays banned for a while.)"""
    a = the_arena
    async with rogue(a, key=a.member_key, gossip=False) as r:
        held = []
        for member in r.honest_members:
            for protocol in PROTOCOLS:
                for _ in range(8):
                    with contextlib.suppress(Exception):
                        stream = await r.p2p.host.new_stream(peer_id_of(member), [protocol])
                        await stream.write(b"\x05\x01")  # announces 5 bytes, sends 1
                        held.append(stream)
        assert held, "no stream was opened at all"
        await trio.to_thread.run_sync(a.verdict)
        me = r.p2p.member_id.hex()
        await trio.to_thread.run_sync(
            lambda: wait_for(
                "every honest node to ban mallory",
                lambda: all(me in a.attacked.status(n)["banned"] for n in HONEST),
            )
        )
