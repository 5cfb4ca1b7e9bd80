"""A live group changes its stewards without touching the ledger (proto/, no network):
the real checkpoint machines of ``test_group_lifecycle``'s ``Net`` sign checkpoints, then
the old committee reshares the same wallet key (``proto.resharing``) to a fifth steward
with a higher threshold and seals the epoch (``proto.handover``); every machine enters
the next epoch and the new committee (the added steward included) signs the next
checkpoints and the next wallet payout, under the unchanged wallet key. Then a steward is
removed the same way and the group goes on signing without it. The ledger sees no
transaction for either change."""

from __future__ import annotations

import random
from typing import Any

from nacl.signing import SigningKey

from proto.admission import sign_join
from proto.checkpoint import SignedCheckpoint
from proto.checkpointing import CheckpointSteward
from proto.epochs import Epoch, Epochs
from proto.handover import Handover, make_seal, verify_handover
from proto.ledger.txs import Deposit, Settle, sign_tx
from proto.ledger_view import view_event
from proto.orders import Exit, Transfer, sign_order
from proto.resharing import spec_for
from proto.state import AssetBalance
from tests.support import key, pub
from tests.unit.test_group_lifecycle import LEDGER_ID, TERMS, Net
from tests.unit.test_resharing import run_reshare


class LiveNet(Net):
    """``Net``, remembering the ledger's events so that a steward added later can follow
    the ledger from the start, as a node's follower does."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.identities: dict[bytes, SigningKey] = {pub(k): k for k in self.stewards}
        self.seed = seed
        self.events: list[Any] = []
        """Every event of every transaction the ledger took, in order."""
        apply = self.ledger.apply

        def recording(signed: Any, height: int) -> Any:
            events = apply(signed, height)
            self.events.extend(events)
            return events

        self.ledger.apply = recording  # type: ignore[method-assign]

    def epochs(self) -> Epochs:
        return next(iter(self.machines.values())).epochs

    def hand_over(self, stewards: list[bytes], threshold: int) -> Epoch:
        """Reshare to ``stewards`` under ``threshold``, seal the epoch with a quorum of
        the old committee, and move every machine (and any new steward's) into it."""
        epochs = self.epochs()
        old = epochs.current
        keys = {s: m.key for s, m in self.machines.items() if m.key is not None}
        first_key = keys[old.stewards[0]]
        assert first_key is not None
        spec = spec_for(
            self.gid,
            old.number,
            old.stewards,
            first_key,
            list(range(1, old.threshold + 1)),
            stewards,
            threshold,
        )
        new_keys = run_reshare(spec, self.identities, keys, random.Random(self.seed))  # type: ignore[arg-type]
        base = self.last().completed.proposal.number
        nxt = Epoch(old.number + 1, base + 1, tuple(sorted(stewards)), threshold)
        seals = [
            make_seal(self.identities[s], self.gid, old.number, nxt, base, ())
            for s in old.stewards[: old.quorum]
        ]
        handover = Handover(nxt, tuple(sorted(seals, key=lambda s: s.steward)))
        verify_handover(handover, epochs, self.gid)
        later = epochs.then(nxt)
        for steward, machine in self.machines.items():
            machine.enter_epoch(later, new_keys.get(steward))
        for steward in stewards:
            if steward not in self.machines:
                self.machines[steward] = self.machine_for(steward, later, new_keys[steward])
                self.adopted[steward] = []
        return nxt

    def machine_for(self, steward: bytes, epochs: Epochs, key_package: object) -> CheckpointSteward:
        """A new steward's machine: it starts from the group's last checkpoint and follows
        the ledger from its first block."""
        last = self.last()
        machine = CheckpointSteward(
            identity=self.identities[steward],
            key=key_package,  # type: ignore[arg-type]
            wallet_key=self.genesis.wallet_key,
            epochs=epochs,
            base=last.state.copy(),
            base_number=last.completed.proposal.number,
            adopted_at=self.now,
            interval=1.0,
            timeout=4.0,
            random_bytes=self.rng.randbytes,
            terms_hash=TERMS,
            ledger_id=LEDGER_ID,
            ledger_fee=1,
        )
        for e in self.events:  # the ledger from its start, as the node's follower reads it
            detail = {d.name: d.value for d in e.detail}
            seen = view_event(e.kind, e.height, e.member, e.checkpoint_number, detail)
            if seen is not None:
                machine.on_ledger_event(seen)
        machine.on_ledger_height(self.height, self.now)
        machine.wallet_nonce_seen(self.ledger.nonces.get(self.genesis.wallet_key, 0))
        return machine


def checkpoint_after(net: LiveNet, number: int) -> None:
    net.until(
        lambda: all(
            xs and xs[-1].completed.proposal.number > number for xs in net.adopted.values()
        ),
        limit=net.now + 60,
    )


def test_a_group_adds_a_steward_raises_its_threshold_and_removes_one_while_it_trades() -> None:
    net = LiveNet(11)
    alice, bob = net.alice, net.bob
    a, b = pub(alice), pub(bob)
    net.open_wallet()
    net.ledger_tx(sign_tx(Deposit(a, 1, 1, net.gid, "USD", 500), alice, LEDGER_ID))
    net.ledger_tx(sign_tx(Deposit(b, 1, 1, net.gid, "USD", 300), bob, LEDGER_ID))
    for m in net.machines.values():
        m.on_join(sign_join(alice, net.gid, TERMS), net.now)
        m.on_join(sign_join(bob, net.gid, TERMS), net.now)
    net.until(lambda: any(net.adopted.values()) and net.last().state.is_member(b))
    wallet = net.genesis.wallet_key
    ledger_txs = len(net.events)

    # a fifth steward, threshold 4 (the quorum of five)
    added = key(net.seed, "steward4")
    net.identities[pub(added)] = added
    old = list(net.epochs().current.stewards)
    first = net.hand_over([*old, pub(added)], 4)
    assert len(net.events) == ledger_txs, "the ledger saw the change"
    checkpoint_after(net, first.first_checkpoint)
    signed = net.adopted[pub(added)][-1].completed.signed
    assert isinstance(signed, SignedCheckpoint)
    signed.verify(wallet)  # the new committee signed under the unchanged wallet key
    assert net.machines[pub(added)].is_steward

    # members keep paying; alice exits and the new committee signs her payout
    net.replica.state = net.last().live.copy()
    keys = {a: alice, b: bob}
    net.apply_everywhere(
        [
            sign_order(Transfer(a, 1, b, "USD", 100, b""), keys, net.gid),
            sign_order(Exit(a, 2, a), keys, net.gid),
        ]
    )
    before = net.ledger.balance(a, "USD")
    net.until(lambda: net.ledger.balance(a, "USD") > before, limit=net.now + 60)
    settles = [t for t in net.submitted if isinstance(t, Settle)]
    assert settles[-1].payouts == (AssetBalance("USD", 400),)
    assert settles[-1].checkpoint_number >= first.first_checkpoint

    # remove the first old steward: four remain, threshold 3
    removed = old[0]
    ledger_txs = len(net.events)
    second = net.hand_over([s for s in net.epochs().current.stewards if s != removed], 3)
    assert len(net.events) == ledger_txs
    assert not net.machines[removed].is_steward
    checkpoint_after(net, second.first_checkpoint)
    for steward in second.stewards:
        net.adopted[steward][-1].completed.signed.verify(wallet)
    proposers = {
        x.completed.proposal.proposer
        for x in net.adopted[pub(added)]
        if x.completed.proposal.number >= second.first_checkpoint
    }
    assert removed not in proposers
