"""Checkpoints on the network: a steward's ``CheckpointSteward`` machine carried over libp2p.

* Proposals and completed checkpoints travel on the group's checkpoint topic (their
  signatures make them self-authenticating; the topic validator drops anything that does
  not decode to one of them).
* FROST messages go to the one steward they are for over ``/swapnet/checkpoint/1`` (a
  one-way request; the caller is authenticated by the connection, which is what the
  machine checks the proposer against).
* Effects are carried out in order. ``PersistCheckpointLock`` is fsynced
  (``CheckpointRepo.save_lock``) before anything after it leaves the process, an adopted
  checkpoint and its state are stored (``save_base``), and sends run in the background
  so a slow peer never holds up the machine.
* The machine learns every order the node applies (``GroupNode.listeners``) and is
  ticked ``TICK`` times a second. An adopted checkpoint's live state replaces the node's
  replica state (it carries the checkpoint's admissions and settlements).
* Wallet transactions the group signed (``SubmitWalletTx``) go to ``submit_wallet_tx``.
* Members that are not stewards run the same service with a keyless machine: they adopt
  completed checkpoints and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import trio

from node.background import spawn
from node.certification import GroupNode
from node.p2p import Limit, P2PError, member_of
from proto.checkpoint_proposals import Completed, Proposal
from proto.checkpointing import (
    Broadcast,
    CheckpointAdopted,
    CheckpointEffect,
    CheckpointSteward,
    PersistCheckpointLock,
    SendToSteward,
    SubmitWalletTx,
)
from proto.codec import Wire, decode
from proto.epochs import Epoch
from proto.errors import RemoteProtocolError
from proto.orders import SignedOrder
from proto.state import GroupState
from proto.sync import StateReply, StateRequest
from proto.wallet_txs import WalletAction
from storage.repos import CheckpointRepo
from storage.store import Store

log = logging.getLogger(__name__)

CHECKPOINT_PROTOCOL = "/swapnet/checkpoint/1"
STATE_PROTOCOL = "/swapnet/checkpoint-state/1"
STATE_LIMIT = Limit(at_once=1, per_second=1.0, burst=4.0)
"""A state answer is the whole group state: one at a time per member, one a second."""
TICK = 0.1


class CheckpointService:
    def __init__(
        self,
        node: GroupNode,
        machine: CheckpointSteward,
        store: Store,
        submit_wallet_tx: Callable[[WalletAction, bytes], Awaitable[None]] | None = None,
    ) -> None:
        self.node = node
        self.submit_wallet_tx = submit_wallet_tx
        self.machine = machine
        self.repo = CheckpointRepo(store, node.group_id)
        self.topic = f"swapnet/1/{node.group_id.hex()}/checkpoints"
        self.adopted: Completed | None = None
        """The newest adopted checkpoint (older ones are on disk only as far as the
        protocol needs them: the base, receipts and evidence)."""
        self.adoption_listeners: list[Callable[[Completed, GroupState], None]] = []
        self.new_adoption = trio.Event()
        self.decided_listeners: list[Callable[[Epoch], None]] = []
        """Called with the next epoch when an adopted checkpoint names one."""
        self._nursery: trio.Nursery | None = None
        # when this steward first locked each proposal: the checkpoint's time to adoption
        self._locked_at: dict[int, float] = {}
        self.on_checkpoint_seconds: Callable[[float], None] = lambda seconds: None
        self.errors = 0
        """Machine inputs dropped because handling them raised (``_guarded``)."""
        self._state_reply: tuple[int, bytes] | None = None
        """The checkpoint-state answer, built once per checkpoint number."""

    async def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        p2p = self.node.p2p
        p2p.set_handler(CHECKPOINT_PROTOCOL, self._on_direct)  # a member may become a steward
        p2p.set_validator(self.topic, self._valid)
        p2p.set_handler(STATE_PROTOCOL, self._on_state_request, STATE_LIMIT)
        subscription = await p2p.subscribe(self.topic)
        self.node.listeners.append(self._on_applied)
        nursery.start_soon(self._read_gossip, subscription)
        nursery.start_soon(self._ticker)

    # -- inputs -------------------------------------------------------------------------
    def _on_applied(self, orders: list[SignedOrder]) -> None:
        self._carry_out(self.machine.on_applied(orders, trio.current_time()))

    def feed(self, effects: list[CheckpointEffect]) -> None:
        """Carry out effects of a machine input the caller made (ledger, joins)."""
        self._carry_out(effects)

    async def _on_direct(self, caller: bytes, request: bytes) -> bytes:
        wire = decode(request, Wire)
        self._guarded(partial(self.machine.receive, caller, wire, trio.current_time()))
        return b""

    def _guarded(self, step: Callable[[], list[CheckpointEffect]]) -> None:
        """Run one input of the machine and carry out its effects. An error in it (a bug
        a peer's message reached) drops that input, is logged and counted, and the node
        stays up: no value from a peer stops the checkpoint service."""
        try:
            self._carry_out(step())
        except Exception:
            self.errors += 1
            log.exception("checkpoint machine input dropped (error %d)", self.errors)

    def _valid(self, publisher: bytes, data: bytes) -> bool:
        """Forward only what the group signed: a proposal its scheduled proposer
        published and signed, or a checkpoint the wallet key signed around a proposal its
        proposer signed (an old one too: a peer that adopted it by sync first is no liar).
        Anything else is a strike."""
        try:
            wire = decode(data, Wire)
        except RemoteProtocolError:
            return False
        if isinstance(wire, Proposal):
            return publisher == wire.proposer and self.machine.is_signed_proposal(wire)
        if isinstance(wire, Completed):
            m = self.machine
            return m.is_signed_checkpoint(wire) and m.is_signed_proposal(wire.proposal)
        return False

    async def _read_gossip(self, subscription: object) -> None:
        async for msg in subscription:  # type: ignore[attr-defined]
            publisher = member_of(msg.from_id) or b""
            try:
                wire = decode(bytes(msg.data), Wire)
            except RemoteProtocolError:
                continue
            self._guarded(partial(self.machine.receive, publisher, wire, trio.current_time()))

    async def _on_state_request(self, caller: bytes, request: bytes) -> bytes:
        """Our newest checkpoint and its state, if newer than the caller's. The answer is
        built once per checkpoint (it was: the whole state rebuilt from the store for
        every request, from anyone)."""
        have = decode(request, StateRequest).have
        number = self.machine.base_number
        if number <= have or number == 0:
            return StateReply((), b"").encode()
        if self._state_reply is None or self._state_reply[0] != number:
            base = self.repo.load_base()  # stored with the adoption that set base_number
            if base is None:
                return StateReply((), b"").encode()
            reply = StateReply((base[0],), base[1].encode()).encode()
            self._state_reply = (base[0].proposal.number, reply)
        return self._state_reply[1]

    async def sync_state_with(self, member: bytes) -> bool:
        """Sync by checkpoint: adopt ``member``'s checkpoint and state if newer than ours
        (for when the orders to rebuild it are gone). True if one was adopted."""
        have = self.machine.base_number
        raw = await self.node.p2p.request(member, STATE_PROTOCOL, StateRequest(have).encode())
        reply = decode(raw, StateReply)
        if not reply.completed:
            return False
        state = GroupState.decode(reply.state)
        effects = self.machine.adopt_state(reply.completed[0], state, trio.current_time())
        self._carry_out(effects)
        return bool(effects)

    async def _ticker(self) -> None:
        while True:
            self._guarded(partial(self.machine.tick, trio.current_time()))
            await trio.sleep(TICK)

    async def wait_adopted(self, number: int) -> Completed:
        """Wait until this steward has adopted a checkpoint numbered ``number`` or later."""
        while self.adopted is None or self.adopted.proposal.number < number:
            await self.new_adoption.wait()
        return self.adopted

    # -- effects ------------------------------------------------------------------------
    def _carry_out(self, effects: list[CheckpointEffect]) -> None:
        assert self._nursery is not None
        for effect in effects:
            if isinstance(effect, PersistCheckpointLock):
                self.repo.save_lock(effect.proposal)  # fsync, before anything else leaves
                self._locked_at.setdefault(effect.proposal.number, trio.current_time())
            elif isinstance(effect, CheckpointAdopted):
                self.repo.save_base(effect.completed, effect.state)
                number = effect.completed.proposal.number
                locked = self._locked_at.pop(number, None)
                self._locked_at = {k: v for k, v in self._locked_at.items() if k > number}
                if locked is not None:
                    self.on_checkpoint_seconds(trio.current_time() - locked)
                self.node.adopt(number, effect.state, effect.live)
                for listener in self.adoption_listeners:
                    listener(effect.completed, effect.state)
                self.adopted = effect.completed
                if effect.decided is not None:
                    for decided in self.decided_listeners:
                        decided(effect.decided)
                self.new_adoption.set()
                self.new_adoption = trio.Event()
            elif isinstance(effect, Broadcast):
                self._spawn(self.node.p2p.publish, self.topic, effect.message.encode())
            elif isinstance(effect, SendToSteward):
                self._spawn(self._send, effect.steward, effect.message)
            elif isinstance(effect, SubmitWalletTx) and self.submit_wallet_tx is not None:
                self._spawn(self.submit_wallet_tx, effect.action, effect.signature)

    def _spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Send in the background; while the node stops (its nursery cancelled or closed),
        nothing leaves any more, and that is no error: whatever must survive a stop was
        persisted before (the lock, the base)."""
        assert self._nursery is not None
        spawn(self._nursery, fn, *args)

    async def _send(self, steward: bytes, message: Wire) -> None:
        try:
            await self.node.p2p.request(steward, CHECKPOINT_PROTOCOL, message.encode())
        except P2PError as exc:  # the coordinator's timeout replaces a steward it cannot reach
            log.info("checkpoint message to %s not delivered: %s", steward.hex()[:16], exc)
