"""Changes of stewards on real libp2p hosts, each node with its LevelDB store: the old
committee reshares the wallet key over ``/swapnet/reshare/1`` once a quorum of its
operators asked (``node.stewardship``), the next checkpoint names the change, the stewards
seal and gossip the hand-over (``node.handovers``), and every node enters the new epoch;
the new committee certifies and signs checkpoints under the unchanged wallet key. Also the
attacks on those inputs: a call a non-steward published, a forged approval, a pull by a
member that is not a new steward, a seal from outside the committee."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
import trio
from nacl.signing import SigningKey, VerifyKey

from node.certification import GroupNode, NotCertified
from node.checkpoints import CheckpointService
from node.handovers import HandoverService
from node.p2p import Refused
from node.stewardship import StewardshipService
from proto.codec import decode
from proto.epochs import Epoch
from proto.errors import RemoteProtocolError
from proto.frost.keys import KeyPackage
from proto.handover import Handover, HandoverPull, Seal, make_seal
from proto.orders import Transfer
from proto.resharing import ReshareCall, ResharePull, ReshareReply, approve, dealers_for, spec_for
from storage import LevelDBStore
from storage.groups import GroupRepo
from tests.node.test_checkpoints import ALICE, G, _run_host, steward_machine, wallet_keys
from tests.support import pub


class Member:
    def __init__(
        self,
        node: GroupNode,
        service: CheckpointService,
        handovers: HandoverService,
        changes: StewardshipService,
        groups: GroupRepo,
    ) -> None:
        self.node, self.service, self.handovers = node, service, handovers
        self.changes, self.groups = changes, groups


async def start_group(
    tmp_path: Path,
    nursery: trio.Nursery,
    keys: dict[int, KeyPackage],
    stores: list[LevelDBStore],
    refresh_every: int = 0,
) -> list[Member]:
    """The 4 stewards and alice, each with its group, checkpoint, hand-over and
    stewardship services (a refresh every ``refresh_every`` checkpoints), meshed."""
    stewards = sorted(G.stewards, key=pub)
    members: list[Member] = []
    for index, key in enumerate([*stewards, ALICE]):
        p2p = await nursery.start(_run_host, key)
        store = LevelDBStore(tmp_path / pub(key).hex()[:12])
        stores.append(store)
        node = GroupNode(p2p, store, G.epochs, G.genesis_state(), key)
        for other in members:
            await p2p.connect(other.node.p2p.addrs[0])
        await node.start(nursery)
        machine = steward_machine(key, keys.get(index + 1) if key != ALICE else None, keys)
        service = CheckpointService(node, machine, store)
        handovers = HandoverService(node)
        groups = GroupRepo(store)
        changes = StewardshipService(service, key, groups)
        service.decided_listeners.append(handovers.on_decided)
        handovers.entered_listeners.append(lambda h, c=changes: c.on_entered(h.next))
        service.adoption_listeners.append(
            lambda done, _, c=changes: c.on_adopted(done.proposal.number, refresh_every)  # type: ignore[misc]
        )
        await service.start(nursery)
        await handovers.start(nursery)
        await changes.start(nursery)
        members.append(Member(node, service, handovers, changes, groups))
    with trio.fail_after(30):
        for topic in (
            members[0].node.topic,
            members[0].service.topic,
            members[0].handovers.topic,
            members[0].changes.topic,
        ):
            await members[0].node.p2p.wait_mesh(topic, 3)
    return members


async def wait_epoch(members: list[Member], number: int) -> Epoch:
    with trio.fail_after(60):
        for m in members:
            while len(m.node.replica.epochs) <= number:
                await trio.sleep(0.05)
    epoch = members[0].node.replica.epochs.current
    assert all(m.node.replica.epochs.current == epoch for m in members)
    return epoch


async def test_a_live_group_adds_its_member_as_a_fifth_steward_over_the_network(
    tmp_path: Path,
) -> None:
    rng = random.Random(8)
    keys = wallet_keys(rng)
    wallet = VerifyKey(keys[1].group_public_key)
    stores: list[LevelDBStore] = []
    async with trio.open_nursery() as nursery:
        members = await start_group(tmp_path, nursery, keys, stores)
        alice = members[-1]
        stewards = sorted(G.stewards, key=pub)
        await alice.node.submit([G.sign(Transfer(pub(ALICE), 1, pub(stewards[0]), "USD", 3, b""))])
        committee = [*(pub(s) for s in stewards), pub(ALICE)]
        specs = {m.changes.ask(committee, 4).ceremony() for m in members[:3]}  # a quorum asks
        assert len(specs) == 1, "every operator's command names one spec"
        epoch = await wait_epoch(members, 1)
        assert epoch.stewards == tuple(sorted(committee)) and epoch.threshold == 4
        held = alice.service.machine.key
        assert held is not None and held.group_public_key == keys[1].group_public_key
        assert alice.groups.epoch_key(G.group_id, 1) is not None  # sealed on disk
        for m in members[:4]:  # the dealing seeds are erased once the epoch is entered
            assert m.groups.reshares(G.group_id) == []
        cert = await alice.node.submit(
            [G.sign(Transfer(pub(ALICE), 2, pub(stewards[1]), "USD", 3, b""))]
        )
        assert cert.epoch == 1
        with trio.fail_after(60):  # the new committee signs checkpoints, same wallet key
            while True:
                done = alice.service.adopted
                if done is not None and done.proposal.number > epoch.first_checkpoint:
                    break
                await alice.service.new_adoption.wait()
        wallet.verify(done.proposal.checkpoint.signing_message(), done.signature)
        assert done.proposal.epoch == 1
        nursery.cancel_scope.cancel()
    for store in stores:
        store.close()


async def test_changes_of_stewards_refuse_what_a_liar_sends(tmp_path: Path) -> None:
    """A member that is no steward gossips a call with its own approval (a strike, kept
    nowhere); a steward's approval re-signed by another key; a seal from outside the
    committee; two hand-overs without a quorum of seals: each refused and struck, nothing
    changes in the honest nodes (and the liar is banned). A pull before a quorum approved
    gets nothing; one by a peer that is not a new steward is a protocol breach; a new
    steward gets its own share only."""
    rng = random.Random(9)
    keys = wallet_keys(rng)
    stores: list[LevelDBStore] = []
    async with trio.open_nursery() as nursery:
        members = await start_group(tmp_path, nursery, keys, stores)
        alice, steward = members[-1], members[0]
        current = G.epochs.current
        committee = [pub(s) for s in sorted(G.stewards, key=pub)]
        spec = spec_for(
            G.group_id,
            0,
            current.stewards,
            keys[1],
            dealers_for(current.stewards, current.threshold, [*committee, pub(ALICE)]),
            [*committee, pub(ALICE)],
            4,
        )
        own = ReshareCall(spec, approve(spec, ALICE))  # alice is no steward
        steward_sk = sorted(G.stewards, key=pub)[1]
        forged = ReshareCall(spec, replace(approve(spec, steward_sk), steward=pub(ALICE)))
        for topic in (steward.changes.topic, steward.handovers.topic):  # alice turns liar:
            alice.node.p2p.pubsub.remove_topic_validator(topic)  # her lies leave her host
        for call in (own, forged):
            await alice.node.p2p.publish(steward.changes.topic, call.encode())
        nxt = Epoch(1, 5, tuple(committee), 3)
        seal = make_seal(ALICE, G.group_id, 0, nxt, 0, ())
        await alice.node.p2p.publish(steward.handovers.topic, seal.encode())
        one = make_seal(sorted(G.stewards, key=pub)[0], G.group_id, 0, nxt, 0, ())
        for lie in (Handover(nxt, (one,)), Handover(nxt, tuple(sorted((one, seal), key=_by)))):
            await alice.node.p2p.publish(steward.handovers.topic, lie.encode())  # no quorum
        with trio.fail_after(30):
            while min(m.changes.refused for m in members[:4]) < 2:
                await trio.sleep(0.05)
            while min(m.handovers.refused for m in members[:4]) < 3:
                await trio.sleep(0.05)
        assert all(len(m.node.replica.epochs) == 1 for m in members[:4])
        assert await steward.handovers._on_pull(pub(ALICE), HandoverPull(1).encode()) == b""
        honest = members[:4]
        assert all(not m.changes.ceremonies for m in honest)
        assert all(not m.handovers.seals for m in honest)
        alice.changes.ceremonies = {}  # the liar's own node took its lies in; she repents
        # a real change two stewards asked for (a quorum is three): nobody deals yet
        for m in members[:2]:
            m.changes.ask([*committee, pub(ALICE)], 4)
        dealer = members[0].changes
        pull = ResharePull(spec.ceremony()).encode()
        with pytest.raises(Refused):
            await dealer._on_pull(pub(ALICE), pull)  # (alice is banned by now: called here)
        members[2].changes.ask([*committee, pub(ALICE)], 4)  # the quorum: dealing starts
        with trio.fail_after(30):
            while not any(c.dealer for c in dealer.ceremonies.values()):
                await trio.sleep(0.05)
        outsider = SigningKey(b"\x07" * 32)  # authenticated by its connection, not a new steward
        with pytest.raises(RemoteProtocolError):
            await dealer._on_pull(pub(outsider), pull)
        reply = decode(await dealer._on_pull(pub(ALICE), pull), ReshareReply)
        assert reply.recipient == spec.new_identifier_of(pub(ALICE))  # hers, and only hers
        nursery.cancel_scope.cancel()
    for store in stores:
        store.close()


async def test_shares_are_refreshed_on_the_genesis_schedule_while_a_member_pays(
    tmp_path: Path,
) -> None:
    """``refresh_every`` = 3: every steward asks for a refresh at the epoch's third
    checkpoint, so the group goes through epochs 1 and 2 on its own, new shares each time,
    the same wallet key, while alice keeps paying."""
    rng = random.Random(10)
    keys = wallet_keys(rng)
    wallet = VerifyKey(keys[1].group_public_key)
    stores: list[LevelDBStore] = []
    async with trio.open_nursery() as nursery:
        members = await start_group(tmp_path, nursery, keys, stores, refresh_every=3)
        alice = members[-1]
        shares: list[set[int]] = [{share_of(m)} for m in members[:4]]
        seq = 0
        with trio.fail_after(120):
            while len(alice.node.replica.epochs) < 3:
                seq += 1
                order = G.sign(Transfer(pub(ALICE), seq, G.ids[seq % 4], "USD", 1, b""))
                while True:  # as the trader does: a batch refused mid-hand-over goes again
                    try:
                        await alice.node.submit([order])
                        break
                    except NotCertified:  # sealed, or votes of the next epoch: later
                        await trio.sleep(0.2)
                for held, m in zip(shares, members[:4], strict=True):
                    held.add(share_of(m))
        assert all(m.node.replica.epochs.current.number >= 2 for m in members[:4])
        for held in shares:  # a new share in each epoch, all of the same wallet key
            assert len(held) >= 3
        assert all(m.service.machine.key.group_public_key == wallet.encode() for m in members[:4])  # type: ignore[union-attr]
        assert seq > 0 and alice.node.replica.state.next_seq(pub(ALICE)) == seq + 1
        nursery.cancel_scope.cancel()
    for store in stores:
        store.close()


def share_of(m: Member) -> int:
    key = m.service.machine.key
    assert key is not None
    return key.signing_share


def _by(seal: Seal) -> bytes:
    return seal.steward
