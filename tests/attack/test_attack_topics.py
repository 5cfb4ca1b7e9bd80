"""Attacks on the gossip topics (certificates, checkpoints, evidence) of a real group, by
a Byzantine steward (``steward3``'s real key) on its own libp2p host. After each, the
honest nodes must agree with a control group that saw no attack (``Arena.verdict``).

Replays come first: a replayed message is valid, so it costs the rogue nothing and must
change nothing. Forgeries come last: they end in the rogue's ban, which the test checks
too, and are sent as a flood (the rate limit's drop and ban of a flood of valid-looking
messages are shown on real hosts in
``tests/node/test_p2p.py::test_a_flood_is_dropped_and_ends_in_a_ban``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio

from proto.checkpoint_proposals import Completed, SeqEntry
from proto.codec import Wire, decode
from proto.orders import SignedOrder, Transfer
from proto.votes import Batch, Certificate, StewardSignature, make_vote
from tests.attack.harness import HONEST, Arena, Rogue, rogue
from tests.integration.processes import TIMEOUT_FACTOR

pytestmark = pytest.mark.xdist_group("attack")
TOPICS = ("certificates", "checkpoints", "evidence")
FLOOD = 50
"""Forged certificates (and as many forged checkpoints) the rogue floods the group with."""
FLOOD_WAVES = 4
"""Floods at most, until every honest node has banned the rogue."""


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


async def test_gossip_attacks_by_a_byzantine_steward_change_nothing(the_arena: Arena) -> None:
    """One rogue host for every phase (a departed peer id is kept out of gossip meshes
    for a while by gossipsub's prune backoff, so the phases share one connection)."""
    a = the_arena
    async with rogue(a) as r, rogue(a, devnet=a.control) as spy:
        await r.listen(*TOPICS)
        await traffic(r, a)

        # 1. replays: everything it saw, again and again (valid, so no strike; the honest
        # nodes' pubsub drops them by content id before any validator runs)
        for _ in range(3):
            for topic, messages in list(r.seen.items()):
                for data in messages:
                    await r.publish(topic, data)
        await r.delivered()
        await trio.to_thread.run_sync(a.verdict)

        # 2. another group's certificates and completed checkpoints: the same stewards'
        # keys sign in the control group, so these carry real signatures of the same
        # committee, for another group
        control_gid = a.control.status(HONEST[0])["group"]["group_id"]
        await spy.listen(*TOPICS[:2], group_id=control_gid)
        for devnet in (a.control, a.attacked):  # the same payment in both groups
            await trio.to_thread.run_sync(devnet.pay, HONEST[0], HONEST[1], 1, "traffic")
        wanted = [f"{control_gid}/{t}" for t in TOPICS[:2]]
        with trio.fail_after(60 * TIMEOUT_FACTOR):
            while not all(spy.seen.get(k) for k in wanted):
                await trio.sleep(0.2)
                spy.collect()
        before = await trio.to_thread.run_sync(r.strikes)
        for kind in wanted:  # one of each: a foreign message is refused with a strike,
            await r.publish(kind.split("/")[1], spy.seen[kind][0])  # and 5 are a ban
        await r.struck(2, before)
        await trio.to_thread.run_sync(a.verdict)

        # 3. a flood of forgeries, as fast as the rogue can publish: orders by which an
        # honest member pays the rogue (its signature forged) certified with the rogue's
        # real vote and two forged ones; and a real completed checkpoint wrapped in
        # vectors that would roll nodes back. Each one a distinct message (gossip drops
        # repeats by content), so each is a strike until the ban drops the rest unread.
        gid = bytes.fromhex(a.group_id)
        me = r.p2p.member_id
        victim = r.honest_members[0]
        completed = next(
            w for w in (decode(d, Wire) for d in r.seen["checkpoints"]) if isinstance(w, Completed)
        )

        # An attacker keeps at it: a node that was reconnecting to the rogue during one
        # flood (a slow answer makes it redial) gets the next one.
        def all_banned() -> bool:
            return all(me.hex() in a.attacked.status(n)["banned"] for n in HONEST)

        for wave in range(FLOOD_WAVES):
            for i in range(wave * FLOOD + 1, (wave + 1) * FLOOD + 1):
                theft = SignedOrder(Transfer(victim, i, me, "USD", 100 * i, b""), (bytes(64),))
                batch = Batch((theft,))
                real = make_vote(a.rogue_key, gid, batch.digest(gid))
                votes = [StewardSignature(me, real.signature)]
                fake = i.to_bytes(2, "big") * 32
                votes += [StewardSignature(m, fake) for m in r.honest_members[:2]]
                forged = Certificate(0, batch, tuple(sorted(votes, key=lambda v: v.steward)))
                await r.publish("certificates", forged.encode())
                rollback = replace(completed.proposal, vector=(SeqEntry(victim, i),))
                await r.publish("checkpoints", Completed(rollback, completed.signature).encode())
            with trio.move_on_after(20 * TIMEOUT_FACTOR):
                while not await trio.to_thread.run_sync(all_banned):
                    await trio.sleep(0.2)
            if await trio.to_thread.run_sync(all_banned):
                break
        assert await trio.to_thread.run_sync(all_banned), "an honest node never banned the rogue"
    await trio.to_thread.run_sync(a.verdict)
