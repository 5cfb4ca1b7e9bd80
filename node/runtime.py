"""The long-running node: ``swapnet run``.

Start-up, in order: the trader key (decrypted), the store (LevelDB, schema checked), the
ledger (its id and fee rules), the libp2p host (peer id from the trader key), the control
API (cookie written), the bootstrap dialer. Then the group: a formed one from the store; or
a steward forms one from its ``group_spec`` (DKG with the other stewards); or a member
takes the ``genesis_file`` it was given. Then the services: certification
(``GroupNode``), checkpoints (``CheckpointService``; a keyless follower for members), the
ledger follower (deposits and the wallet's nonce feed the checkpoint machine), the
trader's own orders (``Trader``), and anti-entropy (every ``SYNC_EVERY`` seconds, sync
certificates, and if need be the checkpoint, with one connected member).

When everything is up the node prints one JSON line on stdout (``{"ready": true, ...}``)
for launchers, and ``/readyz`` turns 200.

Shutdown: SIGTERM or SIGINT sets the shutdown event; the API stops taking calls, the
services are cancelled and the store is closed last. Every write is an atomic batch, so
whatever the moment of the stop (a kill -9 included) nothing is half-written; a restart
rebuilds the live state from the last checkpoint and the stored certificates.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import asdict
from typing import Any

import trio
from nacl.signing import SigningKey

from node import __version__ as VERSION
from node.activity import Activity
from node.alerts import (
    ALERT_POLL,
    SECRET_FILE,
    Alert,
    Webhook,
    alerts_between,
    load_secret,
    read_webhook_url,
    save_webhook_url,
)
from node.api.control import build_app
from node.api.http_api import BadRequest, serve_app, untrusted_json
from node.api.metrics import NodeMetrics
from node.api.tokens import TokenBook
from node.certification import GroupNode
from node.checkpoints import CheckpointService
from node.config import NodeConfig
from node.exit_game import ExitGame
from node.files import write_cookie, write_private
from node.formation import (
    echo_again,
    load_key_package,
    prepare_dealer,
    run_dkg,
    serve_dealer,
    store_formed,
)
from node.group import Group
from node.handovers import HANDOVER_PROTOCOL, HandoverService
from node.ledger_devnet import DevnetLedger
from node.ledger_port import (
    LedgerError,
    LedgerInfo,
    LedgerPort,
    LedgerUnavailable,
    wallet_problem,
)
from node.logs import LOG_FILE, setup_logging
from node.p2p import P2P, Limit, P2PError, open_p2p, peer_id_of
from node.series import Series
from node.statistics import AlertFigures, NodeStatistics, frozen, frozen_rows
from node.stewardship import StewardshipService
from node.swaps import SwapDesk
from node.trader import Trader
from proto.admission import Join, join_problem, sign_join
from proto.checkpointing import CheckpointSteward
from proto.codec import decode
from proto.epochs import Epoch
from proto.errors import RemoteProtocolError
from proto.formation import GroupSpec
from proto.frost.keys import KeyPackage
from proto.genesis import Genesis, terms_hash
from proto.handles import handle_problem, taken
from proto.prequal import Prequal
from proto.signing import public_key_of
from proto.state import GroupState
from proto.steward_health import StewardHealth
from proto.wallet_txs import WalletAction, join_needs, wallet_format
from storage import LevelDBStore
from storage.groups import GroupRepo
from storage.outbox import OutboxRepo
from storage.repos import CheckpointRepo, ensure_schema
from storage.store import Store

log = logging.getLogger(__name__)

JOIN_PROTOCOL = "/swapnet/join/1"
NODE_FILE = "node.json"
HELLO_PROTOCOL = "/swapnet/hello/1"
HELLO_LIMIT = Limit(at_once=1, per_second=1.0, burst=4.0)
JOIN_LIMIT = Limit(at_once=1, per_second=1.0, burst=4.0)
"""Open to strangers: one join at a time per key, about one a second."""
SYNC_EVERY = 2.0
LEDGER_POLL = 2.0
NO_DEPOSIT = "no-deposit"
"""A steward's answer to a join whose deposit it has not seen on the ledger yet."""
NOT_A_STEWARD = "not-a-steward"
"""A join sent to a member that is no steward of the current committee."""
HANDLE_TAKEN = "handle-taken"
"""A join whose handle a member, or another joiner's join we hold, goes by."""
RECENT_ALERTS = 50
MAX_PENDING_JOINS = 256
CATCH_UP_PEERS = 4
"""Peers a joiner pulls the hand-overs from before it tells the stewards (one honest one
is enough: each hand-over is checked against the genesis's schedule)."""
JOIN_DEADLINE = 45.0
DIAL_TIMEOUT = 10.0


def genesis_state(genesis: Genesis) -> GroupState:
    return genesis.founding_state()


def ledger_port(config: NodeConfig, key: SigningKey) -> LedgerPort:
    """The port on the configured ledger, acting with the node's key (on an EVM chain,
    its EVM account: ``node.evm.account``). web3 and eth-account are imported only for an
    EVM chain: they cost a devnet node a second at every start."""
    if config.ledger == "evm":
        from node.evm.account import evm_secret  # noqa: PLC0415
        from node.evm.adapter import EvmLedger  # noqa: PLC0415

        member = public_key_of(key)
        return EvmLedger(
            config.ledger_url,
            config.evm_contract,
            evm_secret(key),
            member,
            confirmations=config.evm_confirmations,
        )
    return DevnetLedger.at(config.ledger_url, key)


class NodeRuntime:
    """The node process. The control API is given it as a ``node.api.facade.NodeFacade`` (and
    the group as a ``GroupPort``, ``node.group.Group``): it reads frozen snapshots
    (``statistics``) and places orders through the trader, never the services' insides."""

    def __init__(self, config: NodeConfig, key: SigningKey) -> None:
        self.config = config
        self.key = key
        self.member_id = public_key_of(key)
        self.group: Group | None = None
        self.p2p: P2P | None = None
        self.ledger: LedgerPort = ledger_port(config, key)
        self.ledger_info: LedgerInfo | None = None
        self.wallet_open = False
        """The ledger shows our group's wallet, and it is our genesis's (``wallet_problem``)."""
        self.wallet_seen = False
        self.stewards: frozenset[bytes] = frozenset()
        """The group's stewards (the spec's while it forms): admitted to every protocol."""
        self.wallet_mismatch: str | None = None
        self.api_url = ""
        self.peer_addrs: dict[bytes, list[str]] = {}
        self.shutdown = trio.Event()
        self.started = trio.current_time()
        self.alerts: deque[dict[str, Any]] = deque(maxlen=RECENT_ALERTS)
        """The newest alerts (``node.alerts``), whether or not a webhook is set."""
        self.webhook: Webhook | None = None
        self._last_look: NodeStatistics | None = None
        """The figures the alerts were last looked for in (``_look_for_alerts``)."""
        self.series = Series()
        """The dashboard's charts (``node.series``), sampled with the alerts."""
        self.metrics = NodeMetrics(self.statistics)  # reads a snapshot at every scrape

    # -- what the API reads ---------------------------------------------------------------
    def not_ready(self) -> list[str]:
        problems = []
        if self.p2p is None:
            problems.append("p2p")
        if self.ledger_info is None:
            problems.append("ledger")
        if self.group is None:
            problems.append("group")
        return problems

    def require_group(self) -> Group:
        if self.group is None:
            raise BadRequest("no-group", "this node has no group yet", 503)
        return self.group

    def getinfo(self) -> dict[str, Any]:
        """Who this node is and where to reach it (``swapnet getinfo``)."""
        g = self.group
        return {
            "version": VERSION,
            "member": self.member_id.hex(),
            "peer_id": self.p2p.peer_id.to_base58() if self.p2p else None,
            "addresses": self.p2p.addrs if self.p2p else [],
            "api": self.api_url,
            "data_dir": str(self.config.data_dir),
            "ledger_url": self.config.ledger_url,
            "group_id": g.node.group_id.hex() if g else None,
            "group_name": g.genesis.name if g else None,
            "steward": bool(g and g.key_package is not None),
            "ready": not self.not_ready(),
        }

    def assets(self) -> tuple[str, ...]:
        return () if self.group is None else self.group.genesis.assets

    def statistics(self, detail: bool = True) -> NodeStatistics:
        """A frozen snapshot of this node's figures (``node.statistics``): ``/status``,
        the metrics, the alerts and the charts read it. ``detail=False`` leaves out what
        costs a walk over every member (the alerts and charts take one every 2 s)."""
        now = trio.current_time()
        p2p, g = self.p2p, self.group
        return NodeStatistics(
            version=VERSION,
            member=self.member_id,
            peer_id=p2p.peer_id.to_base58() if p2p else None,
            addresses=tuple(p2p.addrs) if p2p else (),
            ledger_height=g.game.view.height if g else 0,
            ready=not self.not_ready(),
            banned=tuple(p2p.guard.banned(now)) if p2p else (),
            refused=frozen(
                {"strikes": p2p.strikes, "declined": p2p.declined, "busy": p2p.busy} if p2p else {}
            ),
            alerts=self._alert_figures(),
            group=None
            if g is None
            else g.statistics(
                now,
                wallet_open=self.wallet_open,
                wallet_mismatch=self.wallet_mismatch,
                online=p2p.connected_members() if p2p else None,
                detail=detail,
            ),
        )

    def series_columns(self) -> dict[str, Any]:
        return self.series.columns()

    def metrics_text(self) -> bytes:
        return self.metrics.render()

    # -- running --------------------------------------------------------------------------
    async def run(self) -> None:
        data = self.config.data_dir
        data.mkdir(parents=True, exist_ok=True)
        with LevelDBStore(data / "store") as store:
            ensure_schema(store)
            try:
                async with trio.open_nursery() as outer:
                    outer.start_soon(self._watch_signals)
                    async with (
                        open_p2p(self.key, self.config.listen) as p2p,
                        trio.open_nursery() as nursery,
                    ):
                        self.p2p = p2p
                        for addr in p2p.addrs:
                            log.info("libp2p listening addr=%s", addr)
                        nursery.start_soon(self._serve, store, p2p, nursery)
                        await self.shutdown.wait()
                        nursery.cancel_scope.cancel()
                    outer.cancel_scope.cancel()
            finally:
                await self.ledger.aclose()

    async def _watch_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                self.shutdown.set()
                # py-libp2p can hold a task that ignores cancellation under heavy load; a
                # stop must still end. Every promise is on disk already (fsynced batches),
                # so leaving late is like a kill -9, which the store is built to survive.
                timer = threading.Timer(SHUTDOWN_GRACE, _exit_late)
                timer.daemon = True
                timer.start()
                return

    def _admits(self, member: bytes, what: str) -> bool:
        """The gate of our libp2p host (``P2P.admits``): anyone may ask to join; everything
        else is for the group's members and stewards only (the spec's stewards while the
        group forms)."""
        if what in (JOIN_PROTOCOL, HANDOVER_PROTOCOL):  # a joiner learns the committee
            return True
        if member in self.stewards:
            return True
        return self.group is not None and member in self.group.node.replica.state.accounts

    async def _serve(self, store: Store, p2p: P2P, nursery: trio.Nursery) -> None:
        p2p.admits = self._admits
        tokens = TokenBook(self.config.data_dir, write_cookie(self.config.data_dir))
        host, port = self.config.api_listen
        self.api_url = await serve_app(
            build_app(self, tokens, host), host, port, self.shutdown, nursery
        )
        nursery.start_soon(self._dial_bootstrap, p2p)
        self.ledger_info = await self._ledger_info()
        groups = GroupRepo(store)
        genesis = await self._group(groups, p2p)
        if genesis.ledger_id != self.ledger_info.ledger_id:
            raise ValueError("the group's genesis is for another ledger than ledger_url's")
        if 2 * self.config.evm_confirmations >= genesis.challenge_window:
            raise ValueError(  # the notary would see a revoke too late to crawl it back
                f"evm_confirmations ({self.config.evm_confirmations}) must be under half the "
                f"group's challenge window ({genesis.challenge_window} blocks)"
            )
        self.ledger.follow(genesis)
        gid = genesis.group_id()
        committee = genesis.committee
        health = StewardHealth(committee.stewards, committee.quorum, self.member_id)
        node = GroupNode(
            p2p,
            store,
            genesis.epochs,
            genesis_state(genesis),
            self.key,  # any member may be made a steward: it votes only when it is one
            health,
            holds_share=lambda epoch: groups.holds_epoch_key(gid, epoch),
        )
        base = node.base
        interval = float(genesis.checkpoint_interval)
        epochs = node.replica.epochs  # genesis's, and the hand-overs stored since
        if base is not None and base[0].proposal.next_epoch:
            decided = base[0].proposal.next_epoch[0]  # our last checkpoint handed over:
            if decided.number == len(epochs):  # the machine is in that epoch already
                epochs = epochs.then(decided)
        key_package = self._epoch_key(groups, gid, epochs.current)
        machine = CheckpointSteward(
            identity=self.key,
            key=key_package,
            wallet_key=genesis.wallet_key,
            epochs=epochs,
            base=genesis_state(genesis) if base is None else base[1],
            base_number=0 if base is None else base[0].proposal.number,
            adopted_at=trio.current_time(),
            interval=interval,
            timeout=max(4.0, 2 * interval),
            random_bytes=os.urandom,
            lock=CheckpointRepo(store, gid).load_lock(),
            log=list(node.recovered),
            terms_hash=genesis.terms_hash,
            ledger_id=genesis.ledger_id,
            ledger_fee=self.ledger_info.min_fee,
            policy=genesis.admission,
            wallet=wallet_format(genesis, self.ledger_info.min_fee),
            health=health,  # one view of the stewards: votes, shares, connections
        )
        for join in groups.joins(gid):
            machine.on_join(join, trio.current_time())
        service = CheckpointService(node, machine, store, self._submit_wallet_tx)
        game = ExitGame(
            key=self.key,
            genesis=genesis,
            service=service,
            store=store,
            ledger=self.ledger,
            ledger_id=machine.ledger_id,
            data_dir=self.config.data_dir,
            terms=self._terms(genesis),
            on_wallet_seen=self._wallet_seen,
        )
        node.listeners.append(lambda orders: self.metrics.orders_certified.inc(len(orders)))
        activity = Activity(self.member_id, node)
        node.listeners.append(self.series.on_applied)
        service.adoption_listeners.append(lambda c, s: self.metrics.checkpoints_adopted.inc())
        service.on_checkpoint_seconds = self.metrics.checkpoint_seconds.observe
        await node.start(nursery)
        await service.start(nursery)
        await game.start(nursery)
        trader = Trader(node, self.key, OutboxRepo(store, gid, self.member_id))
        trader.on_certified = self.metrics.certify_seconds.observe
        desk = SwapDesk(p2p, trader, nursery)
        handovers, stewardship = await self._start_changes(service, groups, genesis, nursery)
        self.group = Group(
            genesis, node, service, trader, desk, game, handovers, stewardship, activity
        )
        on_join = self._on_join_factory(groups, genesis, service)  # stewards change
        p2p.set_handler(JOIN_PROTOCOL, on_join, JOIN_LIMIT)
        nursery.start_soon(self._keep_wallet_open, genesis, machine if key_package else None)
        nursery.start_soon(trader.run)
        nursery.start_soon(self._anti_entropy)
        nursery.start_soon(self._watch_stewards)
        self._start_alerts(nursery, service, genesis.checkpoint_interval)
        self._announce(p2p, gid, key_package is not None)

    def _announce(self, p2p: P2P, gid: bytes, steward: bool) -> None:
        """Tell scripts (a line of JSON, and ``node.json`` in the data dir) and people
        (the banner) where this node is."""
        ready = {
            "ready": True,
            "member": self.member_id.hex(),
            "peer_id": p2p.peer_id.to_base58(),
            "addrs": p2p.addrs,
            "api": self.api_url,
            "group_id": gid.hex(),
            "steward": steward,
            "data_dir": str(self.config.data_dir),
            "pid": os.getpid(),
        }
        # where the CLI finds this node (``swapnet --data DIR ...``)
        write_private(self.config.data_dir / NODE_FILE, json.dumps(ready))
        print(json.dumps(ready), flush=True)  # one line for scripts; the banner for people
        print(self._banner(ready), file=sys.stderr, flush=True)
        log.info("node ready member=%s api=%s", self.member_id.hex()[:16], self.api_url)

    def _banner(self, ready: dict[str, Any]) -> str:
        data = self.config.data_dir
        lines = [
            f"swapnet {VERSION} ready",
            f"  member     {ready['member']}",
            f"  peer id    {ready['peer_id']}",
            *(f"  listening  {a}" for a in ready["addrs"]),
            f"  status     {self.api_url}/status  (dashboard {self.api_url}/)",
            f"  group      {ready['group_id']} ({'steward' if ready['steward'] else 'member'})",
            f"  data dir   {data}",
            f"  log file   {data / LOG_FILE}",
            f"  alerts     POST {self.webhook.url} (signed with {data / SECRET_FILE})"
            if self.webhook is not None
            else "  alerts     no webhook: --webhook-url URL, or `swapnet alerts set URL`",
        ]
        return "\n".join(lines)

    def _start_alerts(
        self, nursery: trio.Nursery, service: CheckpointService, interval: int
    ) -> None:
        """Alerts are looked for every ``ALERT_POLL`` seconds and at every checkpoint we
        adopt, so a condition that lasts one checkpoint (a margin call with a grace of
        one) is seen whatever the poll's phase."""
        url = self.config.webhook_url or read_webhook_url(self.config.data_dir)
        if url:
            self.set_webhook(url)
        service.adoption_listeners.append(lambda c, s: self._alerts_at_checkpoint(interval))
        nursery.start_soon(self._watch_alerts, interval)

    def _alert_figures(self) -> AlertFigures:
        return AlertFigures(
            frozen_rows(list(self.alerts)[-10:]),
            None if self.webhook is None else frozen(self.webhook.status()),
        )

    def alerts_status(self) -> dict[str, Any]:
        """The newest alerts, and where they are posted (``node.alerts``)."""
        return self._alert_figures().json()

    def test_alert(self) -> None:
        """An alert of kind ``test``: does the webhook reach the operator?"""
        if self.webhook is None:
            raise BadRequest("no-webhook", "set a webhook URL first", 409)
        self._alert(Alert("test", self.member_id.hex(), "a test alert, asked for by the operator"))

    def _alert(self, alert: Alert) -> None:
        """Keep ``alert`` for ``/status`` and post it to the webhook, if one is set."""
        at = time.time()
        log.warning("alert %s: %s", alert.kind, alert.detail)
        self.alerts.append({"at": round(at, 3), **asdict(alert)})
        if self.webhook is not None:
            self.webhook.send(alert, at)

    def set_webhook(self, url: str | None) -> None:
        """Post alerts to ``url`` from now on (None: nowhere); kept for restarts in the
        data dir (``node.alerts.save_webhook_url``)."""
        save_webhook_url(self.config.data_dir, url)
        if self.webhook is not None:
            self.webhook.close()
            self.webhook = None
        g, p2p = self.group, self.p2p
        if url is None or g is None or p2p is None:
            return
        self.webhook = Webhook(
            url, load_secret(self.config.data_dir), g.node.group_id.hex(), self.member_id.hex()
        )
        p2p.nursery.start_soon(self.webhook.run)

    def _terms(self, genesis: Genesis) -> str | None:
        if self.config.terms_file is None:
            return None
        text = self.config.terms_file.read_text()
        if terms_hash(text) != genesis.terms_hash:
            raise ValueError("terms_file is not the text the group's genesis fixes")
        return text

    async def _ledger_info(self) -> LedgerInfo:
        while True:
            try:
                return await self.ledger.info()
            except LedgerUnavailable as exc:
                log.warning("waiting for the ledger: %s", exc)
                await trio.sleep(1.0)

    async def _group(self, groups: GroupRepo, p2p: P2P) -> Genesis:
        spec: GroupSpec | None = None
        if self.config.group_spec is not None:
            spec = decode(self.config.group_spec.read_bytes(), GroupSpec)
            self.stewards = frozenset(spec.stewards)
            dealer = prepare_dealer(groups, spec, self.key)
            ceremony = serve_dealer(p2p, dealer)  # for as long as we run: others may pull
        gid = groups.current()
        if gid is not None and spec is not None:  # formed before a restart: echo again
            p2p.nursery.start_soon(echo_again, p2p, ceremony)
        if gid is None:
            if spec is not None:
                assert self.ledger_info is not None
                if spec.ledger_id != self.ledger_info.ledger_id:
                    raise ValueError("the group spec is for another ledger")
                key_package, genesis = await run_dkg(p2p, ceremony, self.config.data_dir)
                gid = store_formed(groups, self.key, key_package, genesis)
            elif self.config.genesis_file is not None:
                genesis = decode(self.config.genesis_file.read_bytes(), Genesis)
                gid = groups.save_formed(genesis, None)
            else:
                raise ValueError("no group: configure group_spec (steward) or genesis_file")
        genesis_found = groups.genesis(gid)
        assert genesis_found is not None
        self.stewards = frozenset(genesis_found.stewards)
        return genesis_found

    async def _start_changes(
        self,
        service: CheckpointService,
        groups: GroupRepo,
        genesis: Genesis,
        nursery: trio.Nursery,
    ) -> tuple[HandoverService, StewardshipService]:
        """Changes of stewards: the reshare (``node.stewardship``), the seals and the
        hand-over once a checkpoint decides the change (``node.handovers``), a refresh
        when the genesis's schedule says so."""
        handovers = HandoverService(service.node)
        stewardship = StewardshipService(service, self.key, groups)
        service.decided_listeners.append(handovers.on_decided)
        handovers.entered_listeners.append(lambda h: service.machine.enter_epoch(h.next))
        handovers.entered_listeners.append(lambda h: stewardship.on_entered(h.next))
        every = genesis.refresh_every
        service.adoption_listeners.append(
            lambda c, _: stewardship.on_adopted(c.proposal.number, every)
        )
        await handovers.start(nursery)
        await stewardship.start(nursery)
        return handovers, stewardship

    def _epoch_key(self, groups: GroupRepo, gid: bytes, epoch: Epoch) -> KeyPackage | None:
        """Our share of the wallet key for ``epoch``'s committee, if we are in it and hold
        one (a steward that lost it follows the group until a repair gives it back)."""
        if self.member_id not in epoch.committee:
            return None
        stored = groups.epoch_key(gid, epoch.number)
        if stored is None:
            log.warning("no key share for epoch %d here: following, not signing", epoch.number)
            return None
        return load_key_package(self.key, stored)

    async def _dial_bootstrap(self, p2p: P2P) -> None:
        """Keep every peer we know an address of connected: the bootstrap peers, and
        every peer that told us its listen addresses (``/swapnet/hello/1``); redial any
        that drops. After each dial both sides swap their listen addresses, so a group
        bootstrapped in a chain ends fully connected and heals after restarts."""
        p2p.set_handler(HELLO_PROTOCOL, self._on_hello, HELLO_LIMIT)
        while True:
            connected = {p2p_peer_b58(m) for m in p2p.connected_members()}
            targets = {a.rsplit("/p2p/", 1)[-1]: a for a in self.config.bootstrap}
            for member, addrs in self.peer_addrs.items():
                targets[p2p_peer_b58(member)] = addrs[0]
            for peer, addr in targets.items():
                if peer in connected:
                    continue
                # a peer that answers the handshake and then goes silent must not hold up
                # the loop (before: it froze it for good)
                with trio.move_on_after(DIAL_TIMEOUT) as dial:
                    try:
                        member = await p2p.connect(addr)
                        answer = await p2p.request(member, HELLO_PROTOCOL, _addrs_json(p2p))
                        self._learn(member, answer)
                    except (P2PError, RemoteProtocolError) as exc:
                        log.debug("peer %s not reachable yet: %s", addr, exc)
                if dial.cancelled_caught:
                    log.info("dialling %s took over %.0f s: skipped this round", addr, DIAL_TIMEOUT)
            await trio.sleep(1.0)

    async def _on_hello(self, caller: bytes, request: bytes) -> bytes:
        self._learn(caller, request)
        assert self.p2p is not None
        return _addrs_json(self.p2p)

    def _learn(self, member: bytes, raw: bytes) -> None:
        """Keep ``member``'s listen addresses (only ones that name its own peer id)."""
        try:
            addrs = untrusted_json(raw)
        except ValueError as exc:
            raise RemoteProtocolError("hello is not JSON") from exc
        suffix = f"/p2p/{p2p_peer_b58(member)}"
        if not isinstance(addrs, list) or not all(
            isinstance(a, str) and a.endswith(suffix) and len(a) < 256 for a in addrs[:8]
        ):
            raise RemoteProtocolError("hello must list the caller's own multiaddrs")
        if addrs:
            self.peer_addrs[member] = addrs[:8]

    # -- the ledger -----------------------------------------------------------------------
    def _wallet_seen(self, wallet_txs: int) -> None:
        self.wallet_seen = self.wallet_seen or wallet_txs > 0

    async def _check_wallet(self, genesis: Genesis) -> None:
        """Call the wallet open only once the ledger's wallet for our group id is our
        genesis's: its key, window, fee and assets (never on an ``open`` event alone)."""
        wallet = await self.ledger.wallet(genesis.group_id())
        self.wallet_mismatch = wallet_problem(genesis, wallet)
        if self.wallet_mismatch is not None:
            self.wallet_open = False
            log.error("the ledger's wallet is not our group's: %s", self.wallet_mismatch)
            raise BadRequest("wallet-mismatch", self.wallet_mismatch, 409)
        self.wallet_open = True

    async def _keep_wallet_open(self, genesis: Genesis, machine: CheckpointSteward | None) -> None:
        """Until the ledger shows our genesis's wallet: check what the follower saw, and a
        steward (``machine``) signs the wallet's opening."""
        while not self.wallet_open:
            try:
                if self.wallet_seen:
                    await self._check_wallet(genesis)
                elif machine is not None:
                    await self._open_wallet(genesis, machine)
            except (LedgerUnavailable, LedgerError, BadRequest) as exc:
                log.warning("group wallet not open: %s", exc)
            await trio.sleep(LEDGER_POLL)

    async def _open_wallet(self, genesis: Genesis, machine: CheckpointSteward) -> None:
        """Stewards sign the wallet's opening (once the ledger can take it)."""
        try:
            await self.ledger.fund_wallet(genesis)
        except LedgerError as exc:
            log.warning("cannot fund the wallet's fees: %s", exc)
        machine.approve_wallet_tx(machine.wallet.opening(genesis), trio.current_time())

    async def _submit_wallet_tx(self, action: WalletAction, signature: bytes) -> None:
        try:
            tx_id = await self.ledger.submit_wallet(action, signature)
            log.info("wallet tx %s submitted: %s", tx_id[:16], action.label)
        except LedgerError as exc:  # another steward's copy got there first, typically
            log.info("wallet tx %s not accepted: %s", action.label, exc)
        except LedgerUnavailable as exc:
            log.warning("wallet tx %s not submitted: %s", action.label, exc)

    # -- joining --------------------------------------------------------------------------
    def _on_join_factory(
        self, groups: GroupRepo, genesis: Genesis, service: CheckpointService
    ) -> Any:
        gid = genesis.group_id()

        async def on_join(caller: bytes, request: bytes) -> bytes:
            join = decode(request, Join)
            machine = service.machine
            if not machine.is_steward:
                return json.dumps({"ok": False, "reason": NOT_A_STEWARD}).encode()
            if join.member != caller or not join.is_valid(gid, machine.terms_hash):
                raise RemoteProtocolError("a join must be the caller's own, over our terms")
            problem = join_needs(genesis, join.evm_account) or join_problem(
                join, gid, machine.terms_hash, machine.policy, machine.ledger.height
            )
            if problem is None:
                problem = _handle_in_use(join, machine.live.handles(), machine.joins)
            if problem is None and not machine.ledger.cumulative(machine.ledger.height).get(
                join.member
            ):  # a join costs its sender a deposit first: strangers cannot fill our disk
                problem = NO_DEPOSIT
            if (
                problem is None
                and join.member not in machine.joins
                and (len(machine.joins) >= MAX_PENDING_JOINS)
            ):
                problem = "too many joins waiting: try again after the next checkpoint"
            if problem is not None:
                return json.dumps({"ok": False, "reason": problem}).encode()
            groups.add_join(gid, join)  # fsynced: kept across restarts until admitted
            service.feed(machine.on_join(join, trio.current_time()))
            return json.dumps({"ok": True}).encode()

        return on_join

    async def join(
        self, deposits: dict[str, int], handle: str | None, prequals: tuple[Prequal, ...] = ()
    ) -> dict[str, Any]:
        """Check our join against the group's admission policy and our handle against the
        members' (as our replica knows them), deposit on the ledger, then give every
        steward our signed join (with the prequals shown). A member tops up its deposit
        the same way; its handle stays the one it was admitted with."""
        g = self.require_group()
        assert self.ledger_info is not None and self.p2p is not None
        if not self.wallet_open:
            raise BadRequest("wallet-not-open", "the group's wallet is not on the ledger yet", 409)
        await self._check_wallet(g.genesis)  # again, right before money moves
        gid = g.node.group_id
        evm = self.ledger.own_account() if g.genesis.on_evm else b""
        state = g.node.replica.state
        if state.is_member(self.member_id):
            handle = state.accounts[self.member_id].handle or f"m{self.member_id.hex()[:8]}"
        if handle is None:
            raise BadRequest("bad-request", "handle: choose the handle to go by in the group")
        problem = handle_problem(handle)
        if problem is not None:
            raise BadRequest("bad-request", problem)
        signed = sign_join(self.key, gid, g.genesis.terms_hash, prequals, evm, handle=handle)
        problem = _handle_in_use(signed, state.handles(), {}) or join_problem(
            signed, gid, g.genesis.terms_hash, g.genesis.admission, g.game.view.height
        )
        if problem is not None:  # before any deposit: a refused join changes nothing
            raise BadRequest("join-refused", problem, 409)
        tx_ids = []
        for asset, amount in deposits.items():
            tx_ids.append(await self.ledger.deposit(gid, asset, amount))
        for peer in sorted(self.p2p.connected_members())[:CATCH_UP_PEERS]:
            await g.handovers.catch_up(peer)  # the committee signing now: tell it
        told, refused = await self._tell_stewards(g, signed.encode())
        return {"deposits": tx_ids, "stewards_told": told, "refused": refused}

    async def _tell_stewards(self, g: Group, join: bytes) -> tuple[list[str], dict[str, str]]:
        """Give every steward our signed join. A steward keeps a join only once it has
        seen our deposit on the ledger, so one that has not yet is asked again each
        second, for up to ``JOIN_DEADLINE`` seconds."""
        assert self.p2p is not None
        told: list[str] = []
        refused: dict[str, str] = {}
        committee = g.node.replica.epochs.current.committee
        waiting = [s for s in committee.stewards if s != self.member_id]
        if len(waiting) < committee.n:
            told.append(self.member_id.hex())
        deadline = trio.current_time() + JOIN_DEADLINE
        while waiting:
            later = []
            for steward in waiting:
                try:
                    answer = untrusted_json(await self.p2p.request(steward, JOIN_PROTOCOL, join))
                except (P2PError, ValueError) as exc:
                    log.info("join not delivered to %s: %s", steward.hex()[:16], exc)
                    later.append(steward)
                    continue
                if isinstance(answer, dict) and answer.get("ok"):
                    told.append(steward.hex())
                    refused.pop(steward.hex(), None)
                else:
                    reason = answer.get("reason") if isinstance(answer, dict) else answer
                    refused[steward.hex()] = str(reason)
                    if reason == NO_DEPOSIT:
                        later.append(steward)
            waiting = later
            if not waiting or trio.current_time() >= deadline:
                break
            await trio.sleep(1.0)
        return told, refused

    # -- anti-entropy ---------------------------------------------------------------------
    async def _watch_stewards(self) -> None:
        """Note, every second, which stewards are connected (``/status``'s last seen), and
        log each round that stalled waiting for some."""
        logged = 0
        while True:
            g, p2p = self.group, self.p2p
            if g is not None and p2p is not None:
                health = g.node.health
                health.seen(p2p.connected_members(), trio.current_time())
                fresh = min(health.stalled_total - logged, len(health.stalls))
                for stall in list(health.stalls)[len(health.stalls) - fresh :]:
                    names = ", ".join(s.hex()[:16] for s in stall.waited_for)
                    log.warning("%s stalled waiting for %s (%s)", stall.what, names, stall.why)
                logged = health.stalled_total
            await trio.sleep(1.0)

    async def _watch_alerts(self, interval: int) -> None:
        """Every ``ALERT_POLL`` seconds: a sample of the figures for the dashboard's charts
        (``node.series``), and the alerts that started since the last look."""
        while True:
            self.series.sample(time.time(), self._look_for_alerts(interval))
            await trio.sleep(ALERT_POLL)

    def _alerts_at_checkpoint(self, interval: int) -> None:
        """At an adoption: a fault in looking for alerts is logged, never allowed to
        stop the checkpoint service that called us."""
        try:
            self._look_for_alerts(interval)
        except Exception:  # the adoption must go on whatever this hits
            log.exception("looking for alerts at a checkpoint failed")

    def _look_for_alerts(self, interval: int) -> NodeStatistics:
        """What started since the last look (``alerts_between``): kept for ``/status`` and
        posted to the webhook, if one is set. Returns the snapshot it looked at."""
        now = self.statistics(detail=False)
        for alert in alerts_between(self._last_look, now, interval):
            self._alert(alert)
        self._last_look = now
        return now

    async def _anti_entropy(self) -> None:
        rng = random.Random()
        while True:
            await trio.sleep(SYNC_EVERY)
            g, p2p = self.group, self.p2p
            if g is None or p2p is None:
                continue
            peers = sorted(p2p.connected_members() & set(g.node.replica.state.accounts))
            if not peers:
                continue
            peer = rng.choice(peers)
            for step in (
                g.handovers.catch_up,  # a new epoch's certificates need its hand-over
                g.stewardship.catch_up,  # a change we missed the gossip of
                g.service.sync_state_with,
                g.node.sync_with,
            ):
                try:  # each on its own: a peer that fails one is still asked the rest
                    await step(peer)
                except (P2PError, RemoteProtocolError) as exc:
                    log.info("sync with %s failed: %s", peer.hex()[:16], exc)


SHUTDOWN_GRACE = 15.0


def _handle_in_use(join: Join, handles: dict[bytes, str], waiting: dict[bytes, Join]) -> str | None:
    """Why ``join``'s handle cannot be had: a member goes by it, or another joiner's join
    we hold names it (the group admits one of them: the lower member id)."""
    holder = taken(handles, join.handle)
    if holder is not None and holder != join.member:
        return f"{HANDLE_TAKEN}: a member goes by @{join.handle}"
    if any(j.handle == join.handle and m != join.member for m, j in waiting.items()):
        return f"{HANDLE_TAKEN}: another joiner asked for @{join.handle}"
    return None


def _exit_late() -> None:
    log.error("shutdown took longer than %.0f s: exiting now", SHUTDOWN_GRACE)
    logging.shutdown()
    os._exit(1)


def _addrs_json(p2p: P2P) -> bytes:
    return json.dumps(p2p.addrs).encode()


def p2p_peer_b58(member: bytes) -> str:
    return str(peer_id_of(member).to_base58())


async def run_node(config: NodeConfig, key: SigningKey) -> None:
    setup_logging(config.data_dir, config.log_level)
    await NodeRuntime(config, key).run()
