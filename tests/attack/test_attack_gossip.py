"""Attacks on the gossip topics (certificates, checkpoints, evidence) of a real group, by
a Byzantine steward (``steward3``'s real key) on its own libp2p host. After each, the
honest nodes must agree with a control group that saw no attack (``Arena.verdict``).

Replays come first: a replayed message is valid, so it costs the rogue nothing and must
change nothing. Forgeries and floods come last: they end in the rogue's ban, which the
tests check too.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio

from proto.checkpointing import Completed, SeqEntry
from proto.codec import Wire, decode
from proto.orders import SignedOrder, Transfer
from proto.votes import Batch, Certificate, StewardSignature, make_vote
from tests.attack.harness import HONEST, Arena, Rogue, rogue, wait_for
from tests.integration.processes import TIMEOUT_FACTOR

pytestmark = pytest.mark.xdist_group("processes")
TOPICS = ("certificates", "checkpoints", "evidence")


async def traffic(r: Rogue, arena: Arena) -> None:
    """A round of honest payments (and so certificates, and soon a checkpoint) that the
    rogue sees."""
    before = arena.attacked.status(HONEST[0])["group"]["checkpoint"]["number"]
    await trio.to_thread.run_sync(arena.verdict)
    with trio.fail_after(60 * TIMEOUT_FACTOR):
        while not r.seen.get("certificates") or not r.seen.get("checkpoints"):
            await trio.sleep(0.2)
            r.collect()
    assert arena.attacked.status(HONEST[0])["group"]["checkpoint"]["number"] > before


async def test_replayed_certificates_and_checkpoints_change_nothing(the_arena: Arena) -> None:
    async with rogue(the_arena) as r:
        await r.listen(*TOPICS)
        await traffic(r, the_arena)
        for _ in range(3):  # everything it saw, again and again
            for topic, messages in r.seen.items():
                for data in messages:
                    await r.publish(topic, data)
        await r.delivered()
    await trio.to_thread.run_sync(the_arena.verdict)


async def test_another_groups_certificates_and_checkpoints_are_refused(the_arena: Arena) -> None:
    """The same stewards' keys sign in the control group: its certificates and completed
    checkpoints carry real signatures of the same committee, for another group."""
    control = the_arena.control
    async with rogue(the_arena) as r, rogue(the_arena, devnet=control) as spy:
        control_gid = control.status(HONEST[0])["group"]["group_id"]
        await spy.listen(*TOPICS[:2], group_id=control_gid)
        for devnet in (control, the_arena.attacked):  # the same payment in both groups
            await trio.to_thread.run_sync(devnet.pay, HONEST[0], HONEST[1], 1, "traffic")
        wanted = [f"{control_gid}/{t}" for t in TOPICS[:2]]
        with trio.fail_after(60 * TIMEOUT_FACTOR):
            while not all(spy.seen.get(k) for k in wanted):
                await trio.sleep(0.2)
                spy.collect()
        for kind in wanted:  # on the attacked group's topics, again and again
            for _ in range(3):
                for data in spy.seen[kind]:
                    await r.publish(kind.split("/")[1], data)
        await r.delivered()
    await trio.to_thread.run_sync(the_arena.verdict)


async def test_forged_certificates_and_checkpoints_are_refused_and_end_in_a_ban(
    the_arena: Arena,
) -> None:
    """The rogue certifies an order by which an honest member pays it (the member's
    signature forged) with its own real vote and two forged ones; and wraps a real
    completed checkpoint in vectors that would roll nodes back. Each is a distinct
    message (gossip drops repeats by content), so each counts."""
    a = the_arena
    async with rogue(a) as r:
        if not r.seen.get("checkpoints"):  # run alone: see some traffic first
            await r.listen(*TOPICS)
            await traffic(r, a)
        gid = bytes.fromhex(a.group_id)
        me = r.p2p.member_id
        victim = r.honest_members[0]
        completed = next(
            w for w in (decode(d, Wire) for d in r.seen["checkpoints"]) if isinstance(w, Completed)
        )
        for i in range(1, 11):
            theft = SignedOrder(Transfer(victim, i, me, "USD", 100 * i, b""), (bytes(64),))
            batch = Batch((theft,))
            real = make_vote(a.rogue_key, gid, batch.digest(gid))
            votes = [StewardSignature(me, real.signature)]
            votes += [StewardSignature(m, bytes([i]) * 64) for m in r.honest_members[:2]]
            forged = Certificate(batch, tuple(sorted(votes, key=lambda v: v.steward)))
            await r.publish("certificates", forged.encode())
            rollback = replace(completed.proposal, vector=(SeqEntry(victim, i),))
            await r.publish("checkpoints", Completed(rollback, completed.signature).encode())
        await trio.to_thread.run_sync(
            lambda: wait_for(
                "every honest node to ban the rogue",
                lambda: all(a.attacked.status(n)["banned"] == [me.hex()] for n in HONEST),
            )
        )
    await trio.to_thread.run_sync(a.verdict)


async def test_a_gossip_flood_is_dropped(the_arena: Arena) -> None:
    async with rogue(the_arena) as r:
        for i in range(3000):
            await r.publish("certificates", b"flood %d" % i)
        # banned by the forgeries before: the flood is dropped at the door (a flood's
        # own ban is shown on real hosts in tests/node/test_p2p.py)
        await trio.sleep(0)
    await trio.to_thread.run_sync(the_arena.verdict)
