"""Orders to certificates over real libp2p hosts on 127.0.0.1 (one trio run): 4 stewards
and 2 members. Certificates reach everyone by gossip; a member that was not there catches
up by sync; a forged order certifies nothing; a steward rebuilt from its LevelDB store
still refuses to vote twice for one (sender, seq); a hand-over moves every node to the
next epoch's committee, on disk; a batch that overtakes the certificate before it waits for
it, within bounds a rogue member cannot stretch."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import trio

from node import certification
from node.certification import (
    CATCH_UP_GAP,
    CATCH_UP_WAITING,
    VOTE_PROTOCOL,
    GroupNode,
    NotCertified,
)
from node.p2p import P2P, open_p2p
from proto.codec import decode
from proto.effects import SendVote
from proto.epochs import Epoch
from proto.errors import InvalidCertificate, LocalProtocolError
from proto.handover import Handover
from proto.orders import SignedOrder, Transfer
from proto.validation import BatchRefused
from proto.votes import Batch, Vote
from storage import LevelDBStore
from tests.support import make_group, pub

G = make_group(seed="certification", stewards=4, members=2, funding=1000)
ALICE, BOB = G.members


@asynccontextmanager
async def group(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[dict[bytes, GroupNode]]:
    async with AsyncExitStack() as stack:
        nodes: dict[bytes, GroupNode] = {}
        for key in [*G.stewards, ALICE]:
            p2p = await stack.enter_async_context(open_p2p(key))
            store = stack.enter_context(LevelDBStore(tmp_path / pub(key).hex()[:12]))
            steward_key = key if key in G.stewards else None
            node = GroupNode(p2p, store, G.epochs, G.genesis_state(), steward_key)
            for other in nodes.values():
                await p2p.connect(other.p2p.addrs[0])
            await node.start(nursery)
            nodes[pub(key)] = node
        alice = nodes[pub(ALICE)]
        with trio.fail_after(30):
            await alice.p2p.wait_mesh(alice.topic, 4)
        yield nodes


def alice_pays(state_seq: int, count: int, rng: random.Random) -> list[SignedOrder]:
    others = [m for m in G.ids if m != pub(ALICE)]
    return [
        G.sign(
            Transfer(pub(ALICE), state_seq + i, rng.choice(others), "USD", rng.randint(1, 20), b"")
        )
        for i in range(count)
    ]


async def test_certificates_reach_every_node_and_a_late_member_syncs(tmp_path: Path) -> None:
    rng = random.Random(5)
    async with trio.open_nursery() as nursery, group(tmp_path, nursery) as nodes:
        alice = nodes[pub(ALICE)]
        seq = 1
        for _ in range(8):
            orders = alice_pays(seq, rng.randint(1, 3), rng)
            cert = await alice.submit(orders)
            assert cert.batch.orders == tuple(orders)
            seq += len(orders)
        final = alice.replica.state.encode()
        with trio.fail_after(30):  # gossip brings every certificate to every steward
            for node in nodes.values():
                await node.wait_for(lambda n=node: n.replica.state.encode() == final)
        # Bob was not there: he catches up from alice by sync alone.
        async with open_p2p(BOB) as p2p:
            bob = GroupNode(p2p, LevelDBStore(tmp_path / "bob"), G.epochs, G.genesis_state())
            await p2p.connect(alice.p2p.addrs[0])
            with trio.fail_after(30):
                assert await bob.sync_with(pub(ALICE)) == 8
            assert bob.replica.state.encode() == final and bob.replica.waiting == {}
        nursery.cancel_scope.cancel()  # readers stop before stores and hosts close


async def test_a_forged_order_is_refused_by_every_steward(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery, group(tmp_path, nursery) as nodes:
        alice = nodes[pub(ALICE)]
        order = Transfer(pub(ALICE), 1, pub(BOB), "USD", 5, b"")
        forged = SignedOrder(
            order, (G.sign(Transfer(pub(ALICE), 1, pub(BOB), "USD", 6, b"")).signatures[0],)
        )
        before = alice.replica.state.encode()
        with trio.fail_after(30), pytest.raises(NotCertified, match="bad-signature") as caught:
            await alice.submit([forged])
        assert len(caught.value.refusals) == 4
        assert all(n.replica.state.encode() == before for n in nodes.values())
        nursery.cancel_scope.cancel()


async def test_a_restarted_steward_still_refuses_a_second_order_for_one_seq(tmp_path: Path) -> None:
    steward = G.stewards[0]
    first = G.sign(Transfer(pub(ALICE), 1, pub(BOB), "USD", 5, b""))
    second = G.sign(Transfer(pub(ALICE), 1, pub(BOB), "USD", 7, b""))
    async with trio.open_nursery() as nursery:
        async with open_p2p(steward) as p2p, open_p2p(ALICE) as alice:
            with LevelDBStore(tmp_path / "steward") as store:
                node = GroupNode(p2p, store, G.epochs, G.genesis_state(), steward)
                await node.start(nursery)
                await alice.connect(p2p.addrs[0])
                raw = await alice.request(pub(steward), VOTE_PROTOCOL, Batch((first,)).encode())
                assert isinstance(decode(raw, Vote), Vote)
            # The process is gone; a new one is built from the same store.
            with LevelDBStore(tmp_path / "steward") as store:
                reborn = GroupNode(p2p, store, G.epochs, G.genesis_state(), steward)
                p2p.set_handler(VOTE_PROTOCOL, reborn._on_batch)
                raw = await alice.request(pub(steward), VOTE_PROTOCOL, Batch((second,)).encode())
                answer = decode(raw, BatchRefused)
                assert answer.refusals[0].reason == "conflicts-with-vote-lock"
                assert reborn.equivocations and reborn.equivocations[0].member == pub(ALICE)
        nursery.cancel_scope.cancel()


async def test_a_hand_over_moves_every_node_to_the_next_epoch_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    """Three of the four stewards seal epoch 0 for an epoch without the fourth; every node
    enters it; alice's next payment is certified by the new committee in epoch 1; the
    removed steward votes no more; a forged hand-over changes nothing; and a steward
    rebuilt from its store comes back in epoch 1, its seal kept."""
    ids = sorted(pub(k) for k in G.stewards)
    removed = ids[3]
    keys = {pub(k): k for k in G.stewards}
    nxt = Epoch(1, 2, tuple(ids[:3]), 2)
    async with trio.open_nursery() as nursery, group(tmp_path, nursery) as nodes:
        alice = nodes[pub(ALICE)]
        before = await alice.submit(alice_pays(1, 1, random.Random(1)))
        assert before.epoch == 0
        seals = [nodes[s].seal(nxt) for s in ids[:3]]
        with pytest.raises(LocalProtocolError, match="another"):
            nodes[ids[0]].seal(Epoch(1, 2, tuple(ids[1:]), 2))  # an epoch is sealed once
        forged = Handover(nxt, (seals[0], seals[1]))  # two seals: below the quorum of 3
        with pytest.raises(InvalidCertificate):
            alice.enter(forged)
        assert len(alice.replica.epochs) == 1
        handover = Handover(nxt, tuple(sorted(seals, key=lambda s: s.steward)))
        for node in nodes.values():
            assert node.enter(handover)
            assert not node.enter(handover)  # a second copy changes nothing
        cert = await alice.submit(alice_pays(2, 1, random.Random(2)))
        assert cert.epoch == 1 and {v.steward for v in cert.votes} <= set(ids[:3])
        order = alice_pays(3, 1, random.Random(3))
        raw = await alice.p2p.request(removed, VOTE_PROTOCOL, Batch(tuple(order)).encode())
        assert decode(raw, BatchRefused).refusals[0].reason == "not-a-steward-of-this-epoch"
        nursery.cancel_scope.cancel()
    steward = ids[0]
    async with open_p2p(keys[steward]) as p2p:
        with LevelDBStore(tmp_path / steward.hex()[:12]) as store:
            reborn = GroupNode(p2p, store, G.epochs, G.genesis_state(), keys[steward])
            assert reborn.replica.epochs.current == nxt
            assert reborn.steward is not None and reborn.steward.seal_made == seals[0]
            assert reborn.replica.state.next_seq(pub(ALICE)) == 3
            later = Batch(tuple(alice_pays(3, 1, random.Random(4))))
            assert any(isinstance(e, SendVote) for e in reborn.steward.handle_batch(later))


@asynccontextmanager
async def one_steward(
    tmp_path: Path, nursery: trio.Nursery
) -> AsyncIterator[tuple[GroupNode, P2P]]:
    """A steward's node and alice's bare host connected to it (alice sends what she likes)."""
    steward = G.stewards[0]
    async with open_p2p(steward) as p2p, open_p2p(ALICE) as alice:
        with LevelDBStore(tmp_path / "steward") as store:
            node = GroupNode(p2p, store, G.epochs, G.genesis_state(), steward)
            await node.start(nursery)
            await alice.connect(p2p.addrs[0])
            yield node, alice


async def waiting(node: GroupNode, count: int) -> None:
    """Until ``count`` of alice's batches wait for the certificates they follow."""
    while node._catching_up.get(pub(ALICE), 0) != count:
        await trio.sleep(0.01)


async def test_a_batch_that_overtakes_the_certificate_it_follows_is_voted_for(
    tmp_path: Path,
) -> None:
    """Alice's second batch reaches the steward before the certificate of her first (the
    gossip race): the steward waits for the certificate and votes, instead of refusing a
    batch that is only early."""
    first = G.sign(Transfer(pub(ALICE), 1, pub(BOB), "USD", 5, b""))
    second = G.sign(Transfer(pub(ALICE), 2, pub(BOB), "USD", 7, b""))
    async with trio.open_nursery() as nursery, one_steward(tmp_path, nursery) as (node, alice):

        async def certificate_arrives() -> None:
            await waiting(node, 1)
            node.apply(G.certify(Batch((first,))))

        nursery.start_soon(certificate_arrives)
        with trio.fail_after(30):
            raw = await alice.request(pub(G.stewards[0]), VOTE_PROTOCOL, Batch((second,)).encode())
        assert isinstance(decode(raw, Vote), Vote)
        nursery.cancel_scope.cancel()


async def test_a_member_cannot_hold_a_steward_with_batches_that_never_come_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rogue member (a real key) sends batches ahead of its certified seq, whose
    certificates will never come. At most ``CATCH_UP_WAITING`` of them wait (each at most
    ``CATCH_UP_WAIT``; made an hour here, so an answer that comes back did not wait); one
    more, or one further ahead than ``CATCH_UP_GAP``, is answered at once, refused; nothing
    is locked and the state does not move."""
    monkeypatch.setattr(certification, "CATCH_UP_WAIT", 3600.0)
    ahead = [G.sign(Transfer(pub(ALICE), 2 + i, pub(BOB), "USD", 1, b"")) for i in range(3)]
    too_far = G.sign(Transfer(pub(ALICE), 2 + CATCH_UP_GAP, pub(BOB), "USD", 1, b""))
    async with trio.open_nursery() as nursery, one_steward(tmp_path, nursery) as (node, alice):
        before = node.replica.state.encode()
        steward = pub(G.stewards[0])

        async def send(order: SignedOrder) -> None:
            await alice.request(steward, VOTE_PROTOCOL, Batch((order,)).encode(), timeout=3600)

        with trio.fail_after(30):
            for order in ahead[:CATCH_UP_WAITING]:
                nursery.start_soon(send, order)
            await waiting(node, CATCH_UP_WAITING)
            for order in (ahead[CATCH_UP_WAITING], too_far):
                raw = await alice.request(steward, VOTE_PROTOCOL, Batch((order,)).encode())
                assert decode(raw, BatchRefused).refusals[0].reason == "bad-seq"
        assert node._catching_up[pub(ALICE)] == CATCH_UP_WAITING  # still waiting, unanswered
        assert node.replica.state.encode() == before
        assert node.steward is not None and not node.steward.locks
        nursery.cancel_scope.cancel()
