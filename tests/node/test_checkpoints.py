"""Checkpoints by consensus over real libp2p hosts: 4 stewards holding a 3-of-4 FROST
wallet key agree on checkpoints while a member pays; the group signature verifies as
plain Ed25519 under the wallet key; what a steward adopted is on disk."""

from __future__ import annotations

import os
import random
from pathlib import Path

import trio
from nacl.signing import SigningKey, VerifyKey

from node.certification import GroupNode
from node.checkpoints import CheckpointService
from node.p2p import open_p2p
from proto.checkpoint_proposals import Completed, covers, vector_of
from proto.checkpointing import Broadcast, CheckpointSteward, SendToSteward
from proto.frost.core import derive_group_info, trusted_dealer_keygen
from proto.frost.curve import L
from proto.frost.keys import KeyPackage
from proto.orders import Transfer
from storage import LevelDBStore
from storage.repos import CheckpointRepo
from tests.support import make_group, pub

G = make_group(seed="checkpoints", stewards=4, members=1, funding=1000)
(ALICE,) = G.members


def wallet_keys(rng: random.Random) -> dict[int, KeyPackage]:
    t = G.committee.quorum
    shares, pk, commitment = trusted_dealer_keygen(
        rng.randrange(1, L), [rng.randrange(1, L) for _ in range(t - 1)], G.committee.n
    )
    _, public = derive_group_info(list(shares), commitment)
    return {i: KeyPackage(i, s, pk, public, t) for i, s in shares.items()}


async def test_stewards_agree_on_signed_checkpoints_while_a_member_pays(  # noqa: PLR0915
    tmp_path: Path,
) -> None:
    rng = random.Random(7)
    keys = wallet_keys(rng)
    stewards = sorted(G.stewards, key=pub)  # FROST identifier i is committee position i - 1
    services: list[CheckpointService] = []
    adopted: list[list[Completed]] = []
    stores = []
    async with trio.open_nursery() as nursery:
        hosts = []
        for key in [*stewards, ALICE]:
            hosts.append(await nursery.start(_run_host, key))
        nodes = []
        for key, p2p in zip([*stewards, ALICE], hosts, strict=True):
            store = LevelDBStore(tmp_path / pub(key).hex()[:12])
            stores.append(store)
            node = GroupNode(p2p, store, G.epochs, G.genesis_state(), key if key != ALICE else None)
            for other in nodes:
                await p2p.connect(other.p2p.addrs[0])
            await node.start(nursery)
            nodes.append(node)
        for index, (key, node) in enumerate(zip(stewards, nodes, strict=False)):
            machine = steward_machine(key, keys[index + 1], keys)
            service = CheckpointService(node, machine, stores[index])
            seen: list[Completed] = []
            service.adoption_listeners.append(lambda c, _, seen=seen: seen.append(c))  # type: ignore[misc]
            adopted.append(seen)
            await service.start(nursery)
            services.append(service)
        alice = nodes[-1]
        with trio.fail_after(30):
            for topic in (alice.topic, services[0].topic):
                await nodes[0].p2p.wait_mesh(topic, 3)
        seq = 1
        for _ in range(6):
            count = rng.randint(1, 3)
            orders = [
                G.sign(Transfer(pub(ALICE), seq + i, rng.choice(G.ids[:4]), "USD", 3, b""))
                for i in range(count)
            ]
            await alice.submit(orders)
            seq += count
        final = vector_of(alice.replica.state)
        with trio.fail_after(90):
            for service in services:
                while not service.adopted or not covers(service.adopted.proposal.vector, final):
                    await service.new_adoption.wait()
        by_number: dict[int, set[bytes]] = {}
        for seen in adopted:
            for completed in seen:
                by_number.setdefault(completed.proposal.number, set()).add(completed.encode())
        assert all(len(v) == 1 for v in by_number.values()), "two checkpoints for one number"
        wallet = VerifyKey(keys[1].group_public_key)
        for service, store in zip(services, stores[: len(services)], strict=True):
            latest = service.adopted
            assert latest is not None and latest == adopted[services.index(service)][-1]
            wallet.verify(latest.proposal.checkpoint.signing_message(), latest.signature)
            stored = CheckpointRepo(store, G.group_id).load_base()
            assert stored is not None and stored[0] == latest
        nursery.cancel_scope.cancel()  # readers stop before the stores close below
    # a stopping node: what a last input sends leaves nothing and is no error (it was a
    # traceback in the log when a peer's message came in while the node stopped)
    last = services[0].adopted
    assert last is not None
    before = services[0].errors
    services[0]._guarded(lambda: [SendToSteward(pub(stewards[1]), last), Broadcast(last)])
    assert services[0].errors == before
    for store in stores:
        store.close()


def steward_machine(
    identity: SigningKey, key: KeyPackage | None, keys: dict[int, KeyPackage]
) -> CheckpointSteward:
    """A checkpoint machine of the test group from genesis (a checkpoint a second)."""
    return CheckpointSteward(
        identity=identity,
        key=key,
        wallet_key=keys[1].group_public_key,
        epochs=G.epochs,
        base=G.genesis_state(),
        base_number=0,
        adopted_at=trio.current_time(),
        interval=1.0,
        timeout=6.0,
        random_bytes=os.urandom,
    )


async def _run_host(key: object, task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED) -> None:  # type: ignore[type-arg]
    async with open_p2p(key) as p2p:  # type: ignore[arg-type]
        task_status.started(p2p)
        await trio.sleep_forever()
