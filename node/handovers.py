"""The hand-over on the wire (``proto.handover``): once a checkpoint this node adopted names
the next epoch, its steward (if it is one of the closing committee) seals the old epoch and
gossips the seal on ``swapnet/1/<group>/handovers``; any node holding a quorum of seals for
the change its own checkpoint decided assembles the ``Handover``, enters it and gossips it;
every node enters a valid hand-over it receives. A node that missed the gossip pulls the
hand-over into the epoch after its last from a peer (``/swapnet/handover/1``, asked by the
runtime's anti-entropy every few seconds, and by a joiner before it tells the stewards).

Checked before anything is kept or forwarded (the topic validator; a refusal is a strike
against the publisher, so only what is provably wrong is refused, a valid copy of what we
already hold is let through, and what we cannot judge yet, a seal or a hand-over of epochs
ahead of ours, is dropped without a strike: ``NotNow``): the publisher is a member; a seal
must be signed by its steward, a steward of the epoch it seals, of our current epoch or
the one we just left; a hand-over must extend our schedule with a quorum of valid seals
(``verify_handover``) or be the one we entered. A seal that comes before our own
checkpoint decided the change is kept until it does (a steward that adopted the checkpoint
sooner sealed sooner); then only seals for that very change, from a base before its first
checkpoint, count.

Bounds: one seal per steward of the current committee (a newer one replaces it), each at
most ``MAX_SEAL_LOCKS`` orders (the codec); a hand-over is verified once per arrival and
stored once (``GroupNode.enter``); a pull is answered from the store, one hand-over per
answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from node.background import spawn
from node.certification import GroupNode
from node.p2p import Limit, NotNow, P2PError, wire_messages
from proto.codec import Wire, decode
from proto.epochs import Epoch, Epochs
from proto.errors import InvalidSignature, LocalProtocolError, RemoteProtocolError
from proto.handover import Handover, HandoverPull, Seal, verify_handover

log = logging.getLogger(__name__)

HANDOVER_PROTOCOL = "/swapnet/handover/1"
PULL_LIMIT = Limit(at_once=1, per_second=2.0, burst=8.0)


class HandoverService:
    def __init__(self, node: GroupNode) -> None:
        self.node = node
        self.topic = f"swapnet/1/{node.group_id.hex()}/handovers"
        self.decided: Epoch | None = None
        """The epoch the last checkpoint we adopted handed over to, until we entered it."""
        self.seals: dict[bytes, Seal] = {}
        self.refused = 0
        """Seals and hand-overs refused (the validator, ``GroupNode.enter``)."""
        self.entered_listeners: list[Callable[[Handover], None]] = []
        """Called with each hand-over this node entered."""
        self._nursery: trio.Nursery | None = None

    async def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.node.p2p.set_validator(self.topic, self._valid)
        self.node.p2p.set_handler(HANDOVER_PROTOCOL, self._on_pull, PULL_LIMIT)
        subscription = await self.node.p2p.subscribe(self.topic)
        nursery.start_soon(self._read, subscription)

    def on_decided(self, epoch: Epoch) -> None:
        """A checkpoint we adopted named ``epoch``: if we are a steward of the epoch it
        closes, seal it (on disk first) and gossip the seal; assemble what we can."""
        epochs = self.node.replica.epochs
        if len(epochs) > epoch.number:
            return  # entered already (the hand-over came first)
        self.decided = epoch
        self.seals = {k: v for k, v in self.seals.items() if self._seal_problem(v) is None}
        if self.node.p2p.member_id in epochs.current.committee:
            try:
                seal = self.node.seal(epoch)
            except LocalProtocolError as exc:
                log.warning("not sealing epoch %d: %s", epoch.number - 1, exc)
            else:
                self._publish(seal)
                self.seals[seal.steward] = seal
        self._assemble()

    # -- gossip -------------------------------------------------------------------------
    def _valid(self, publisher: bytes, data: bytes) -> bool:
        if not self.node.replica.state.is_member(publisher):
            return False
        try:
            msg = decode(data, Wire)
        except RemoteProtocolError:
            return self._refuse()
        epochs = self.node.replica.epochs
        if isinstance(msg, Seal):
            if msg.epoch == epochs.current.number - 1 and self._seal_is_signed(msg, True):
                return True  # a slower steward's seal of the epoch we just left
            if msg.epoch != epochs.current.number:
                raise NotNow("a seal of an epoch we are not in")  # we are behind, or it is
            return self._seal_problem(msg, judge_change=False) is None or self._refuse()
        if isinstance(msg, Handover):
            if msg.next.number > len(epochs):
                raise NotNow("a hand-over past the epoch after ours")  # catch-up pulls it
            if len(epochs) > msg.next.number:
                return self._entered(msg) or self._refuse()
            try:
                verify_handover(msg, epochs, self.node.group_id)
            except RemoteProtocolError:
                return self._refuse()
            return True
        return self._refuse()

    def _refuse(self) -> bool:
        self.refused += 1
        return False

    def _entered(self, handover: Handover) -> bool:
        """Whether ``handover`` verifies as the one into an epoch we entered (a copy of
        it, or another quorum of seals for it: both are true)."""
        epochs = self.node.replica.epochs
        number = handover.next.number
        if epochs.epoch(number) != handover.next:
            return False
        try:
            verify_handover(handover, Epochs(epochs.epochs[:number]), self.node.group_id)
        except RemoteProtocolError:
            return False
        return True

    def _seal_is_signed(self, seal: Seal, previous: bool = False) -> bool:
        epochs = self.node.replica.epochs
        number = epochs.current.number - (1 if previous else 0)
        if seal.epoch != number or seal.steward not in epochs.epoch(number).committee:
            return False
        try:
            seal.verify(self.node.group_id)
        except InvalidSignature:
            return False
        return True

    def _seal_problem(self, seal: Seal, judge_change: bool = True) -> str | None:
        if not self._seal_is_signed(seal):
            return "a seal that is not a steward's of our epoch, signed"
        decided = self.decided
        if (
            judge_change
            and decided is not None
            and (
                seal.next_digest != decided.digest(self.node.group_id)
                or seal.base >= decided.first_checkpoint
            )
        ):
            return "a seal for another change than our checkpoint's"
        return None

    async def _read(self, subscription: object) -> None:
        async for wire in wire_messages(subscription):
            if isinstance(wire, Seal) and self._seal_problem(wire, judge_change=False) is None:
                self.seals[wire.steward] = wire  # one per steward: the newest
                self._assemble()
            elif isinstance(wire, Handover):
                self._enter(wire)

    def _assemble(self) -> None:
        """With the change decided here and a quorum of seals for it: the hand-over."""
        decided = self.decided
        if decided is None:
            return
        old = self.node.replica.epochs.current
        chosen = sorted(
            (s for s in self.seals.values() if self._seal_problem(s) is None),
            key=lambda s: s.steward,
        )
        if len(chosen) >= old.quorum:
            handover = Handover(decided, tuple(chosen))
            if self._enter(handover):
                self._publish(handover)

    def _enter(self, handover: Handover) -> bool:
        try:
            entered = self.node.enter(handover)
        except RemoteProtocolError as exc:
            self.refused += 1
            log.info("refusing a hand-over: %s", exc)
            return False
        if entered:
            self.decided, self.seals = None, {}
            for listener in self.entered_listeners:
                listener(handover)
        return entered

    def _publish(self, message: Seal | Handover) -> None:
        if self._nursery is not None:
            spawn(self._nursery, self.node.p2p.publish, self.topic, message.encode())

    # -- pulls ----------------------------------------------------------------------------
    async def _on_pull(self, caller: bytes, request: bytes) -> bytes:
        """The hand-over into the epoch after the caller's last, if we entered it."""
        pull = decode(request, HandoverPull)
        handover = self.node.epoch_records.handover(pull.known)
        return b"" if handover is None else handover.encode()

    async def catch_up(self, member: bytes) -> int:
        """Pull from ``member`` the hand-overs we missed and enter them; how many."""
        entered = 0
        while True:
            known = len(self.node.replica.epochs)
            try:
                raw = await self.node.p2p.request(
                    member, HANDOVER_PROTOCOL, HandoverPull(known).encode()
                )
            except P2PError:
                return entered
            if not raw:
                return entered
            handover = decode(raw, Handover)
            if handover.next.number != known or not self._enter(handover):
                return entered
            entered += 1
