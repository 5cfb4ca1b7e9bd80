"""Changes of stewards on the network: the old committee reshares the wallet key to the
next committee (``proto.resharing``) while the group trades, and the change is then named
by a checkpoint (``proto.epoch_changes``) and handed over (``node.handovers``).

How a change runs (add a steward, remove one, a new threshold, or a refresh: the same
committee with new shares):

1. An old steward's operator asks for it (``ask``). The node builds the one spec every old
   steward builds alike for that change (its own key package's public shares, the
   dealers ``dealers_for`` picks), stores it with a fresh sealed dealing seed (fsynced)
   and gossips its signed approval with the spec (``ReshareCall``) on
   ``swapnet/1/<group>/stewardship``; a node that missed it (away, restarted, an epoch
   behind) gets it with the echoes from a peer's ``under_way`` (``catch_up``, asked by
   the runtime's anti-entropy), and a restarted steward resumes what it asked from its
   store.
2. Once a quorum of the old committee approved the very spec, each dealer deals from
   coefficients derived from its sealed seed (the seed is on disk before any share
   leaves, so a restarted dealer deals the same shares) and answers pulls
   (``/swapnet/reshare/1``) from the new stewards, each getting only its own share.
3. Each new steward pulls every dealer's reply and checks it (``reply_problem``); a
   reply its dealer signed that is wrong is a ``ReshareComplaint`` (kept, logged, the
   ceremony stops here: the operators must ask for a change with other dealers). Then it
   gossips its signed echo of every package, and once every new steward's echo holds the
   same packages it finishes: its share of the same wallet key, sealed and stored for the
   new epoch (fsynced) before the checkpoint machine is given it (``hold_share``).
4. A steward of either committee approves the change in its checkpoint machine
   (``approve_change``: the proposer names it, a signer signs a checkpoint naming it)
   only when its own operator asked for it (a new steward: when it holds its share) and
   every new steward's echo is in and agrees: then every new steward can finish, so the
   new committee can sign once the checkpoint hands over.

Checked before anything is kept or forwarded: a call's publisher is the old steward that
signed its approval of that spec (a strike otherwise); an echo's publisher is the new
steward that signed it. A call is kept only for our current epoch, our committee, our
wallet key, new stewards that are members, a committee in bounds and (if we hold a share)
the old public shares our key package records. A pull is answered only to a new steward
of a ceremony a quorum approved. Bounds: each old steward has at most one call we keep
(its newest approval replaces the older), so at most one ceremony per old steward; one
echo per new steward per ceremony.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import trio
from nacl.signing import SigningKey

from node.background import spawn
from node.checkpoints import CheckpointService
from node.formation import scalar_from
from node.p2p import Limit, P2PError, Refused, wire_messages
from node.sealing import seal, unseal
from proto import signing
from proto.codec import Wire, decode
from proto.epoch_changes import plan_change
from proto.epochs import Epoch
from proto.errors import LocalProtocolError, RemoteProtocolError
from proto.formation import StewardKey
from proto.frost.curve import FrostError
from proto.frost.dkg import DkgFault
from proto.frost.keys import KeyPackage
from proto.kinds import MAX_STEWARDS
from proto.resharing import (
    UNDER_WAY,
    ReshareCall,
    ReshareComplaint,
    ReshareDealer,
    ReshareEcho,
    ResharePull,
    ReshareReply,
    ReshareSpec,
    ReshareUnderWay,
    approve,
    check_approved,
    check_echoes,
    dealers_for,
    finish,
    make_echo,
    reply_problem,
    spec_for,
)
from storage.groups import GroupRepo

log = logging.getLogger(__name__)

RESHARE_PROTOCOL = "/swapnet/reshare/1"
RESHARE_LIMIT = Limit(at_once=2, per_second=5.0, burst=20.0)
SEED_PURPOSE = "reshare-seed"
SHARE_PURPOSE = "wallet-share"
RETRY = 0.5


@dataclass
class Ceremony:
    spec: ReshareSpec
    approvals: dict[bytes, ReshareCall] = field(default_factory=dict)
    ours: bool = False
    """Our operator asked for this change."""
    dealer: ReshareDealer | None = None
    echoes: dict[bytes, ReshareEcho] = field(default_factory=dict)
    key: KeyPackage | None = None
    """Our share for the new committee, once finished."""
    pulling: bool = False
    approved: bool = False
    """Given to the checkpoint machine (``approve_change``)."""
    failed: str | None = None
    complaint: ReshareComplaint | None = None
    """The dealer's own signed reply that convicts it (``judge_complaint``), if any."""

    @property
    def id(self) -> bytes:
        return self.spec.ceremony()

    @property
    def change(self) -> tuple[int, tuple[bytes, ...], int]:
        return self.spec.epoch + 1, self.spec.new_stewards, self.spec.new_threshold

    def quorum_approved(self) -> bool:
        try:
            check_approved(self.spec, [c.approval for c in self.approvals.values()])
        except FrostError:
            return False
        return True


class StewardshipService:
    def __init__(self, service: CheckpointService, identity: SigningKey, groups: GroupRepo) -> None:
        self.service = service
        self.node = service.node
        self.machine = service.machine
        self.identity = identity
        self.me = signing.public_key_of(identity)
        self.groups = groups
        self.group_id = self.node.group_id
        self.topic = f"swapnet/1/{self.group_id.hex()}/stewardship"
        self.ceremonies: dict[bytes, Ceremony] = {}
        self.refused = 0
        self._nursery: trio.Nursery | None = None

    async def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        p2p = self.node.p2p
        p2p.set_validator(self.topic, self._valid)
        p2p.set_handler(RESHARE_PROTOCOL, self._on_pull, RESHARE_LIMIT)
        subscription = await p2p.subscribe(self.topic)
        nursery.start_soon(self._read, subscription)
        for spec in self.groups.reshares(self.group_id):  # asked for before a restart
            if self._problem(spec) is None:
                self._take(ReshareCall(spec, approve(spec, self.identity)), ours=True)

    # -- the operator -------------------------------------------------------------------
    def ask(
        self, stewards: Sequence[bytes], threshold: int, lost: Sequence[bytes] = ()
    ) -> ReshareSpec:
        """Our operator asks for the committee ``stewards`` under ``threshold`` from the
        next epoch on, dealt by stewards not in ``lost`` (``LocalProtocolError`` if this
        node cannot ask for it)."""
        key = self.machine.key
        current = self.machine.epochs.current
        if key is None or self.me not in current.committee:
            raise LocalProtocolError("only a steward of the current committee asks for a change")
        committee = tuple(sorted(set(stewards)))
        try:
            Epoch(current.number + 1, current.first_checkpoint + 1, committee, threshold)
        except ValueError as exc:
            raise LocalProtocolError(str(exc)) from exc
        outsiders = [s for s in committee if not self.node.replica.state.is_member(s)]
        if outsiders:
            raise LocalProtocolError(f"not a member of the group: {outsiders[0].hex()}")
        dealers = dealers_for(current.stewards, current.threshold, committee, lost)
        if len(dealers) < current.threshold:
            raise LocalProtocolError("too few stewards hold their share to deal")
        spec = spec_for(
            self.group_id, current.number, current.stewards, key, dealers, committee, threshold
        )
        sealed = seal(self.identity, SEED_PURPOSE, os.urandom(32))  # kept if one is stored
        self.groups.save_reshare(self.group_id, spec, sealed, asked=True)  # fsync: first
        call = ReshareCall(spec, approve(spec, self.identity))
        self._take(call, ours=True)
        self._publish(call)
        return spec

    def request(
        self, action: str, member: bytes | None = None, threshold: int | None = None
    ) -> ReshareSpec:
        """``swapnet steward add|remove|threshold|refresh``: ``plan_change`` on our current
        epoch, then ``ask`` (``LocalProtocolError`` if the change cannot be)."""
        stewards, t = plan_change(self.machine.epochs.current, action, member, threshold)
        lost = (member,) if action == "repair" and member is not None else ()
        return self.ask(stewards, t, lost)

    def on_adopted(self, number: int, refresh_every: int) -> None:
        """The schedule of the genesis (``refresh_every``): once the current epoch has run
        that many checkpoints and nothing we asked for is under way, ask for a refresh
        (every steward of the epoch does at the same checkpoint: one spec, a quorum)."""
        current = self.machine.epochs.current
        if (
            refresh_every == 0
            or self.machine.key is None
            or number < current.first_checkpoint - 1 + refresh_every
            or any(c.ours for c in self.ceremonies.values())
        ):
            return
        try:
            self.request("refresh")
        except LocalProtocolError as exc:
            log.warning("no scheduled refresh at checkpoint %d: %s", number, exc)
        else:
            log.info("scheduled refresh asked for at checkpoint %d", number)

    def status(self) -> list[dict[str, object]]:
        """The changes under way, for ``/status`` and the CLI."""
        out: list[dict[str, object]] = []
        for c in self.ceremonies.values():
            out.append(
                {
                    "ceremony": c.id.hex(),
                    "epoch": c.spec.epoch + 1,
                    "stewards": [s.hex() for s in c.spec.new_stewards],
                    "threshold": c.spec.new_threshold,
                    "approvals": len(c.approvals),
                    "asked_here": c.ours,
                    "echoes": len(c.echoes),
                    "share_held": c.key is not None,
                    "approved": c.approved,
                    "failed": c.failed,
                    "complaint": None if c.complaint is None else c.complaint.encode().hex(),
                }
            )
        return out

    # -- gossip -------------------------------------------------------------------------
    def _valid(self, publisher: bytes, data: bytes) -> bool:
        try:
            msg = decode(data, Wire)
            if isinstance(msg, ReshareCall):
                msg.check(publisher)
                return msg.spec.group_id == self.group_id or self._refuse()
            if isinstance(msg, ReshareEcho):
                return (msg.steward == publisher and msg.is_signed()) or self._refuse()
        except (RemoteProtocolError, FrostError):
            pass
        return self._refuse()

    def _refuse(self) -> bool:
        self.refused += 1
        return False

    async def _read(self, subscription: object) -> None:
        async for wire in wire_messages(subscription):
            if isinstance(wire, ReshareCall):
                self._take(wire)
            elif isinstance(wire, ReshareEcho):
                self._take_echo(wire)

    def _problem(self, spec: ReshareSpec) -> str | None:
        """Why we keep no ceremony for ``spec`` (None: we do)."""
        current = self.machine.epochs.current
        key = self.machine.key
        if spec.group_id != self.group_id or spec.group_key != self.machine.wallet_key:
            return "another group or wallet"
        if (
            spec.epoch != current.number
            or spec.old_stewards != current.stewards
            or spec.old_threshold != current.threshold
        ):
            return "not a change of our current committee"
        try:
            Epoch(
                current.number + 1,
                current.first_checkpoint + 1,
                spec.new_stewards,
                spec.new_threshold,
            )
        except ValueError as exc:
            return str(exc)
        if not all(self.node.replica.state.is_member(s) for s in spec.new_stewards):
            return "a new steward that is not a member"
        if key is not None and not spec.matches(key):
            return "old public shares other than our key package's"
        return None

    def _take(self, call: ReshareCall, ours: bool = False) -> None:
        cid = call.spec.ceremony()
        c = self.ceremonies.get(cid)
        if c is None:
            problem = self._problem(call.spec)
            if problem is not None:
                log.info("ignoring a change of stewards: %s", problem)
                return
            c = self.ceremonies[cid] = Ceremony(call.spec)
        steward = call.approval.steward
        for other in self.ceremonies.values():  # one approval per old steward: its newest
            if other is not c and other.approvals.pop(steward, None) is not None:
                log.info("%s now approves another change", steward.hex()[:16])
        c.approvals[steward] = call
        c.ours = c.ours or ours
        self.ceremonies = {
            k: v for k, v in self.ceremonies.items() if v.approvals or v.ours or v.key
        }
        self._progress(c)

    def _take_echo(self, echo: ReshareEcho) -> None:
        c = self.ceremonies.get(echo.ceremony)
        if c is None or echo.steward not in c.spec.new_stewards:
            return
        c.echoes[echo.steward] = echo
        self._progress(c)

    # -- the ceremony -------------------------------------------------------------------
    def _progress(self, c: Ceremony) -> None:
        if c.failed is not None or not c.quorum_approved():
            return
        key = self.machine.key
        if c.dealer is None and key is not None and key.identifier in c.spec.dealers:
            c.dealer = self._dealer(c, key)
        if self.me in c.spec.new_stewards and not c.pulling and c.key is None:
            c.pulling = True
            self._spawn(self._pull_and_finish, c)
        self._maybe_approve(c)

    def _dealer(self, c: Ceremony, key: KeyPackage) -> ReshareDealer | None:
        stored = self.groups.load_reshare(self.group_id, c.id)
        if stored is None:  # a dealer whose operator did not ask: seed it now, on disk first
            sealed = seal(self.identity, SEED_PURPOSE, os.urandom(32))
            self.groups.save_reshare(self.group_id, c.spec, sealed, asked=False)
            stored = self.groups.load_reshare(self.group_id, c.id)
            assert stored is not None
        seed = unseal(self.identity, SEED_PURPOSE, stored[1])
        order = c.spec.frost_suite.order
        coefficients = [
            scalar_from(seed, b"r%d" % i, order) for i in range(c.spec.new_threshold - 1)
        ]
        approvals = [a.approval for a in c.approvals.values()]
        try:
            return ReshareDealer.create(c.spec, self.identity, key, coefficients, approvals)
        except FrostError as exc:
            c.failed = f"cannot deal: {exc}"
            log.warning("not dealing for ceremony %s: %s", c.id.hex()[:16], exc)
            return None

    async def _on_pull(self, caller: bytes, request: bytes) -> bytes:
        pull = decode(request, ResharePull)
        if pull.ceremony == UNDER_WAY:
            return self.under_way().encode()
        c = self.ceremonies.get(pull.ceremony)
        if c is None or c.dealer is None:
            raise Refused("no deal for this ceremony here (yet)")
        reply = c.dealer.reply_to(caller)
        if reply is None:
            raise RemoteProtocolError("not a new steward of this ceremony")
        return reply.encode()

    async def _pull_and_finish(self, c: Ceremony) -> None:
        spec = c.spec
        j = spec.new_identifier_of(self.me)
        replies: dict[int, ReshareReply] = {}
        while len(replies) < len(spec.dealers) and self._open(c):
            for dealer in spec.dealers:
                if dealer not in replies:
                    reply = await self._reply_from(c, dealer)
                    if reply is not None and reply.recipient == j:
                        replies[dealer] = reply
            if len(replies) < len(spec.dealers):
                await trio.sleep(RETRY)
        if not self._open(c):
            return
        echo = make_echo(spec, self.identity, replies)
        c.echoes[self.me] = echo
        self._publish(echo)
        while set(c.echoes) != set(spec.new_stewards):
            if not self._open(c):
                return
            await trio.sleep(RETRY)  # the others' echoes come by gossip (re-sent)
        others = {s: e for s, e in c.echoes.items() if s != self.me}
        try:
            check_echoes(spec, echo, others)
            key = finish(spec, self.me, replies)
        except (DkgFault, FrostError) as exc:
            c.failed = f"the reshare failed: {exc}"
            log.error("ceremony %s: %s", c.id.hex()[:16], c.failed)
            return
        sealed = seal(self.identity, SHARE_PURPOSE, key.suite.encode_scalar(key.signing_share))
        self.groups.save_epoch_key(self.group_id, spec.epoch + 1, StewardKey.of(key, sealed))
        c.key = key
        number, stewards, threshold = c.change
        try:
            self.machine.hold_share(number, stewards, threshold, key)
        except LocalProtocolError as exc:
            c.failed = str(exc)
            return
        self._maybe_approve(c)

    def under_way(self) -> ReshareUnderWay:
        """What we hold of the changes under way (each list within the wire's bound)."""
        calls = [a for c in self.ceremonies.values() for a in c.approvals.values()]
        echoes = [e for c in self.ceremonies.values() for e in c.echoes.values()]
        return ReshareUnderWay(tuple(calls[:MAX_STEWARDS]), tuple(echoes[:MAX_STEWARDS]))

    async def catch_up(self, member: bytes) -> None:
        """Take what ``member`` holds of the changes under way, each call and echo checked
        as if it came by gossip (their gossip is not re-sent: pubsub would drop a copy as
        seen; a node that was away or behind an epoch asks instead)."""
        raw = await self.node.p2p.request(member, RESHARE_PROTOCOL, ResharePull(UNDER_WAY).encode())
        held = decode(raw, ReshareUnderWay)
        for call in held.calls:
            try:
                call.check(call.approval.steward)
            except FrostError:
                self._strike(member)
                return
            self._take(call)
        for echo in held.echoes:
            if not echo.is_signed():
                self._strike(member)
                return
            self._take_echo(echo)

    def _strike(self, member: bytes) -> None:
        self.refused += 1
        self.node.p2p.punish(member)

    def _open(self, c: Ceremony) -> bool:
        """Still under way: not failed, and not dropped (the epoch it changes is over)."""
        return c.failed is None and self.ceremonies.get(c.id) is c

    async def _reply_from(self, c: Ceremony, dealer: int) -> ReshareReply | None:
        """One dealer's reply to us, checked; None if it is not there yet or not its
        dealer's (we ask again); a wrong one its dealer signed fails the ceremony."""
        spec, dealer_key = c.spec, c.spec.dealer_key(dealer)
        try:
            if dealer_key == self.me:
                if c.dealer is None:
                    return None
                reply = c.dealer.reply_to(self.me)
            else:
                raw = await self.node.p2p.request(
                    dealer_key, RESHARE_PROTOCOL, ResharePull(c.id).encode()
                )
                reply = decode(raw, ReshareReply)
        except (P2PError, RemoteProtocolError) as exc:
            log.debug("no reshare reply from dealer %d yet: %s", dealer, exc)
            return None
        if reply is None or reply.package.dealer != dealer:
            return None
        found = reply_problem(spec, reply)
        if found is None:
            return reply
        reason, proven = found
        if proven:
            c.complaint = ReshareComplaint(spec, reply)
            self.groups.save_complaint(self.group_id, c.complaint)  # evidence, kept
            c.failed = f"dealer {dealer_key.hex()[:16]} dealt wrong: {reason}"
            log.error("ceremony %s: %s (complaint kept)", c.id.hex()[:16], c.failed)
        return None

    def _maybe_approve(self, c: Ceremony) -> None:
        """Give the change to the checkpoint machine once every new steward echoed alike
        and we may: our operator asked (an old steward), or we hold our new share."""
        if c.approved or c.failed is not None:
            return
        spec = c.spec
        if set(c.echoes) != set(spec.new_stewards):
            return
        first = c.echoes[spec.new_stewards[0]].packages
        if any(e.packages != first for e in c.echoes.values()):
            return  # a new steward's ``check_echoes`` names the dealer
        in_new = self.me in spec.new_stewards
        if (in_new and c.key is None) or not (in_new or self.me in spec.old_stewards):
            return  # a quorum of the old committee's operators asked: that is the consent
        number, stewards, threshold = c.change
        try:
            self.machine.approve_change(number, stewards, threshold)
        except LocalProtocolError as exc:
            c.failed = str(exc)
            return
        c.approved = True
        log.info(
            "change to epoch %d approved: %d stewards, threshold %d",
            number,
            len(stewards),
            threshold,
        )

    def on_entered(self, epoch: Epoch) -> None:
        """We entered ``epoch``: the changes out of the epochs before are over; our shares
        of older committees and their dealing seeds are erased from disk."""
        self.ceremonies = {k: c for k, c in self.ceremonies.items() if c.spec.epoch >= epoch.number}
        if self.groups.epoch_key(self.group_id, epoch.number) is not None or (
            self.me not in epoch.committee
        ):
            self.groups.erase_before(self.group_id, epoch.number)

    # -- sending --------------------------------------------------------------------------
    def _publish(self, message: Wire) -> None:
        self._spawn(self.node.p2p.publish, self.topic, message.encode())

    def _spawn(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        if self._nursery is not None:
            spawn(self._nursery, fn, *args)
