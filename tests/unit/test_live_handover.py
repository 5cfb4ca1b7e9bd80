"""A live group changes its stewards without touching the ledger (proto/, no network):
the real checkpoint machines of ``test_group_lifecycle``'s ``Net`` sign checkpoints, then
the old committee reshares the same wallet key (``proto.resharing``) to a fifth steward
with a higher threshold; the stewards approve the change, the next checkpoint names it
(agreed and signed by the old committee like any checkpoint) and every machine enters the
new epoch on adopting it; a quorum of seals for it makes a valid hand-over
(``proto.handover``). The new committee (the added steward included) signs the next
checkpoints and the next wallet payout, under the unchanged wallet key. Then a steward is
removed the same way and the group goes on signing without it. The ledger sees no
transaction for either change."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from nacl.signing import SigningKey

from proto.admission import sign_join
from proto.checkpoint import SignedCheckpoint
from proto.checkpointing import CheckpointSteward
from proto.epochs import Epoch, Epochs
from proto.errors import LocalProtocolError
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
        """The change, as the stewards' operators ask for it: the old committee reshares
        the wallet key to ``stewards`` under ``threshold``; every steward of either
        committee approves the change with its new share; the next checkpoint names it
        (agreed and signed by the old committee); every machine enters it on adopting that
        checkpoint. Returns the epoch the checkpoint decided, after checking that a quorum
        of the old committee's seals for it makes a valid hand-over."""
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
        for steward in stewards:
            if steward not in self.machines:  # follows the group until the change decides
                self.machines[steward] = self.machine_for(steward, epochs, None)
                self.adopted[steward] = []
        committee = tuple(sorted(stewards))
        for steward in {*old.stewards, *stewards}:
            machine = self.machines[steward]
            machine.approve_change(old.number + 1, committee, threshold)
            if steward in new_keys:
                machine.hold_share(old.number + 1, committee, threshold, new_keys[steward])
        self.until(
            lambda: all(len(m.epochs) == len(epochs) + 1 for m in self.machines.values()),
            limit=self.now + 60,
        )
        decided = [
            x.decided
            for xs in self.adopted.values()
            for x in xs
            if x.decided and x.decided.number == old.number + 1
        ]
        nxt = decided[0]
        assert nxt is not None and all(d == nxt for d in decided)
        closing = nxt.first_checkpoint - 1
        seals = [
            make_seal(self.identities[s], self.gid, old.number, nxt, closing, ())
            for s in old.stewards[: old.quorum]
        ]
        handover = Handover(nxt, tuple(sorted(seals, key=lambda s: s.steward)))
        verify_handover(handover, epochs, self.gid)
        return nxt

    def machine_for(self, steward: bytes, epochs: Epochs, key_package: object) -> CheckpointSteward:
        """A new steward's machine: it starts from the group's last checkpoint and follows
        the ledger from its first block."""
        last = self.last()
        machine = self.machine(
            self.identities[steward],
            key_package,  # type: ignore[arg-type]
            epochs,
            last.state,
            last.completed.proposal.number,
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
        m.on_join(sign_join(alice, net.gid, TERMS, handle="alice"), net.now)
        m.on_join(sign_join(bob, net.gid, TERMS, handle="bob"), net.now)
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


def trading_net(seed: int) -> LiveNet:
    net = LiveNet(seed)
    net.open_wallet()
    a = pub(net.alice)
    net.ledger_tx(sign_tx(Deposit(a, 1, 1, net.gid, "USD", 500), net.alice, LEDGER_ID))
    for m in net.machines.values():
        m.on_join(sign_join(net.alice, net.gid, TERMS, handle="alice"), net.now)
    net.until(lambda: any(net.adopted.values()) and net.last().state.is_member(pub(net.alice)))
    return net


def test_a_change_only_one_steward_approved_is_never_signed() -> None:
    """One operator asks for a committee of its own choosing: its proposals name it, the
    other stewards sign none of them, later proposers go on without it, and nobody enters
    another epoch."""
    net = trading_net(12)
    stewards = list(net.epochs().current.stewards)
    rogue = net.machines[stewards[0]]
    rogue.approve_change(1, tuple(stewards[1:]), 3)  # drop a steward nobody else dropped
    start = net.last().completed.proposal.number
    checkpoint_after(net, start + 4)
    assert all(len(m.epochs) == 1 for m in net.machines.values())
    assert not any(x.completed.proposal.next_epoch for xs in net.adopted.values() for x in xs)


def test_a_signed_checkpoint_wrapped_in_another_change_is_not_adopted() -> None:
    """The group signs the checkpoint (which commits to the next epoch's digest), not the
    proposal around it: a peer that swaps or drops the change is refused."""
    net = trading_net(13)
    stewards = list(net.epochs().current.stewards)
    added = key(13, "steward4")
    net.identities[pub(added)] = added
    decided = net.hand_over([*stewards, pub(added)], 4)
    adopted = next(x for x in net.adopted[stewards[0]] if x.decided == decided)
    closing, state = adopted.completed, adopted.state
    p = closing.proposal
    other = Epoch(1, decided.first_checkpoint, tuple(stewards), 3)
    follower = LiveNet(13).machines[stewards[1]]  # a node still before the change
    for lie in (replace(p, next_epoch=(other,)), replace(p, next_epoch=())):
        assert follower.adopt_state(replace(closing, proposal=lie), state, 0.0) == []
        assert len(follower.epochs) == 1 and follower.base_number == 0
    (taken,) = follower.adopt_state(closing, state, 0.0)  # the group's own: adopted
    assert taken.decided == decided and follower.epochs.current == decided
    assert not follower.is_steward  # it holds no share of the new committee: it follows


def test_approving_a_change_checks_our_share_and_the_committee() -> None:
    net = LiveNet(14)
    stewards = list(net.epochs().current.stewards)
    m = net.machines[stewards[0]]
    with pytest.raises(LocalProtocolError, match="does not follow"):
        m.approve_change(2, tuple(stewards), 3)
    with pytest.raises(ValueError, match="threshold"):
        m.approve_change(1, tuple(stewards), 1)  # below the quorum
    assert m.key is not None
    with pytest.raises(LocalProtocolError, match="ours"):  # the old share, not a reshared one
        m.hold_share(1, tuple(stewards[1:]), 3, m.key)
