"""The node's side of the exit game: the ledger follower, the notary, revokes, receipts,
prequal badges and revoke evidence.

* The follower reads the ledger's events for the group from the height it last processed
  (``storage.follow``): each page's new events and the new cursor are written in one
  fsynced batch before anything acts on them, then fed to the checkpoint machine (whose
  ``LedgerView`` the proposals read), then the notary runs. A restart resumes from the
  cursor with the whole view, so nothing is missed and nothing counted twice.
* The notary (``proto.notary``) runs after every page and every adopted checkpoint: a
  claim that stands on an older checkpoint than the newest one the node holds, with other
  balances, is crawled back with that checkpoint and the claimant's proof. When a crawl
  back of this node's lands, it fetches both transactions from the ledger, signs
  revoke evidence (``proto.evidence``: the two transactions as its ledger holds them, of
  either ledger) and gossips it on the group's evidence topic; every node checks evidence
  against the group's genesis and keeps it.
* On every adopted checkpoint the node keeps its own receipt (the signed checkpoint and its
  proof); it revokes with a receipt (the newest, unless told otherwise) and finalizes its
  own claim once the window has passed. When the node has exited and its settle is
  booked, it writes its badge to ``DATA/prequal-final.swapnet``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import trio
from nacl.signing import SigningKey

from node.background import spawn
from node.checkpoints import CheckpointService
from node.files import write_private
from node.ledger_port import LedgerError, LedgerEvent, LedgerPort, LedgerUnavailable, Receipt
from node.statistics import ClaimFigures, HeldEvidence, NotaryFigures, frozen
from proto.chain_leaf import ChainTree, chain_leaves
from proto.checkpoint_proposals import Completed
from proto.errors import DecodeError, RemoteProtocolError
from proto.evidence import (
    BadEvidence,
    EvidenceBundle,
    read_evidence,
    sign_bundle,
    sign_evidence,
)
from proto.genesis import Genesis
from proto.ledger_view import LedgerView, ViewEvent
from proto.merkle import BalanceTree
from proto.notary import Notary
from proto.prequal import Prequal, prequal_of
from proto.signing import public_key_of
from proto.state import GroupState
from storage.follow import EvidenceRepo, FollowRepo, ReceiptRepo
from storage.groups import GroupRepo
from storage.store import Store

log = logging.getLogger(__name__)

LEDGER_POLL = 1.0
FINALIZE_RETRY_BLOCKS = 5


class ExitGameError(Exception):
    """An exit-game action that cannot be done; ``code`` for the API, message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ExitGame:
    def __init__(
        self,
        *,
        key: SigningKey,
        genesis: Genesis,
        service: CheckpointService,
        store: Store,
        ledger: LedgerPort,
        ledger_id: bytes,
        data_dir: Path,
        terms: str | None,
        on_wallet_seen: Callable[[int], Any],
    ) -> None:
        self.key = key
        self.me = public_key_of(key)
        self.genesis = genesis
        self.gid = genesis.group_id()
        self.service = service
        self.machine = service.machine
        self.ledger = ledger
        self.ledger_id = ledger_id
        self.data_dir = data_dir
        self.terms = terms
        self.on_wallet_seen = on_wallet_seen
        self.follow_repo = FollowRepo(store, self.gid)
        self.evidence = EvidenceRepo(store, self.gid)
        self.receipts = ReceiptRepo(store, self.gid)
        self.groups = GroupRepo(store)
        followed = self.follow_repo.load()
        self.machine.ledger = LedgerView.from_events(followed.height, followed.events)
        self.wallet_txs = followed.wallet_txs
        self.notary = Notary(self.me, genesis.challenge_window)
        self.crawls_sent = 0
        self.ledger_down_since: float | None = None
        """When reading the ledger's events first failed, while it keeps failing."""
        self.finalize_sent: dict[int, int] = {}
        self.topic = f"swapnet/1/{self.gid.hex()}/evidence"
        self.base: tuple[Completed, GroupState] | None = None
        self._nursery: trio.Nursery | None = None
        self._acting = trio.Lock()

    @property
    def view(self) -> LedgerView:
        return self.machine.ledger

    # -- running ------------------------------------------------------------------------
    async def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        p2p = self.service.node.p2p
        p2p.set_validator(self.topic, self._valid_evidence)
        subscription = await p2p.subscribe(self.topic)
        nursery.start_soon(self._read_evidence, subscription)
        self.service.adoption_listeners.append(self._on_adopted)
        base = self.service.repo.load_base()
        if base is not None:
            self._on_adopted(base[0], base[1])
        if self.wallet_txs:
            self.on_wallet_seen(self.wallet_txs)
        nursery.start_soon(self._follow)

    async def _follow(self) -> None:
        while True:
            try:
                page = await self.ledger.events(self.view.height + 1, wait=LEDGER_POLL)
            except LedgerUnavailable as exc:
                # never skip what we cannot read (a deposit, a claim): read it again later
                log.warning("ledger events from height %d: %s", self.view.height + 1, exc)
                if self.ledger_down_since is None:
                    self.ledger_down_since = trio.current_time()
                await trio.sleep(LEDGER_POLL)
                continue
            self.ledger_down_since = None
            new, wallet_txs, crawl_backs = _ours(page.events, self.gid)
            self.wallet_txs += wallet_txs
            height = page.next - 1
            # persist before anything acts on it: a crash here reads the page again
            self.follow_repo.advance(height, self.wallet_txs, len(self.view.events), new)
            for event in new:
                self.machine.on_ledger_event(event)
            self.service.feed(self.machine.on_ledger_height(height, trio.current_time()))
            self.machine.wallet_nonce_seen(self.wallet_txs)
            self.on_wallet_seen(self.wallet_txs)
            for e in crawl_backs:
                await self._report(e)
            await self.act()

    async def act(self) -> None:
        """Crawl back what is due; finalize our own claim once its window has passed."""
        async with self._acting:
            claims = self.view.open_claims(self.genesis.challenge_window)
            if self.base is None or not claims:
                return  # the usual case: no tree to build
            completed, state = self.base
            snap = state.snapshot()  # once, for both trees
            tree = BalanceTree(state, snap)
            chain = ChainTree(chain_leaves(state, snap, tree))

            def balances_of(member: bytes) -> dict[str, int] | None:
                if not state.is_member(member):
                    return None
                return {b.asset: b.amount for b in tree.proof(member).leaf.balances}

            for due in self.notary.due(self.view, completed.proposal.number, balances_of):
                log.warning(
                    "notary: claim of %s stands on checkpoint %d; crawling back with %d "
                    "(window closes at height %d)",
                    due.member.hex()[:16],
                    due.claim_number,
                    due.checkpoint_number,
                    due.deadline,
                )
                newer = Receipt(completed.signed, tree.proof(due.member), chain.proof(due.member))
                if await self._submit(partial(self.ledger.crawl_back, self.gid, due.member, newer)):
                    self.crawls_sent += 1
            mine = claims.get(self.me)
            if mine is not None and self.view.height > mine.deadline:
                sent = self.finalize_sent.get(mine.revoked_at)
                if sent is None or self.view.height >= sent + FINALIZE_RETRY_BLOCKS:
                    self.finalize_sent[mine.revoked_at] = self.view.height
                    await self._submit(partial(self.ledger.finalize, self.gid, self.me))

    async def _submit(self, send: Callable[[], Awaitable[str]]) -> str | None:
        """Send an intent; None if the ledger refused it or is away."""
        try:
            return await send()
        except (LedgerError, LedgerUnavailable) as exc:
            log.info("ledger transaction not accepted: %s", exc)
            return None

    # -- evidence -----------------------------------------------------------------------
    async def _report(self, crawl: LedgerEvent) -> None:
        """A premature revoke was crawled back; if by us, gossip the evidence."""
        revoked = [
            e
            for e in self.view.claim_events(crawl.member)
            if e.kind == "revoke" and e.height <= crawl.height
        ]
        try:
            found = await self.ledger.crawl_back_evidence(crawl, revoked[-1].height)
            if found is None:
                return
            evidence = sign_evidence(self.key, found)
            evidence.verify(self.genesis)
        except (LedgerError, LedgerUnavailable, BadEvidence, IndexError, ValueError) as exc:
            log.warning("cannot build revoke evidence: %s", exc)
            return
        if self.evidence.add(evidence):
            log.warning("notary: premature revoke by %s crawled back", crawl.member.hex()[:16])
        await self.service.node.p2p.publish(self.topic, evidence.encode())

    def _valid_evidence(self, publisher: bytes, data: bytes) -> bool:
        try:
            read_evidence(data).verify(self.genesis)  # of our group, or BadEvidence
        except (DecodeError, RemoteProtocolError):
            return False
        return True

    async def _read_evidence(self, subscription: Any) -> None:
        while True:
            msg = await subscription.get()
            evidence = read_evidence(bytes(msg.data))  # the validator checked it
            if self.evidence.add(evidence):
                log.warning("revoke evidence against %s received", evidence.revoker.hex()[:16])

    def bundle(self, member: bytes) -> EvidenceBundle:
        """The evidence bundle against ``member``, signed by this node."""
        found = self.evidence.against(member)
        if not found:
            raise ExitGameError("no-evidence", "this node holds no revoke evidence against them")
        if self.terms is None:
            raise ExitGameError("no-terms", "this node has no terms text (set terms_file)")
        join = self.groups.join(self.gid, member)
        if join is None:
            raise ExitGameError("no-join", "this node does not hold the member's signed join")
        return sign_bundle(self.key, self.genesis, self.terms, join, found[-1])

    # -- receipts, revokes, badges ------------------------------------------------------
    def _on_adopted(self, completed: Completed, state: GroupState) -> None:
        self.base = (completed, state)
        for admission in completed.proposal.admissions:
            for join in admission.join:
                if self.groups.join(self.gid, join.member) is None:  # keep the first
                    self.groups.add_join(self.gid, join)
        if state.is_member(self.me):
            snap = state.snapshot()  # once, for both trees
            tree = BalanceTree(state, snap)
            receipt = prequal_of(
                self.genesis.wallet_key, completed.signed, tree.proof(self.me), self.me
            )
            chain = ChainTree(chain_leaves(state, snap, tree)).proof(self.me)
            self.receipts.put(receipt, chain)
            if state.has_exited(self.me) and not any(state.accounts[self.me].balances.values()):
                path = self.data_dir / "prequal-final.swapnet"
                if not path.exists():
                    write_private(path, receipt.encode())
                    log.info("exit settled; badge written to %s", path)
        if self._nursery is not None:  # (an adoption may come while the node stops)
            spawn(self._nursery, self.act)

    async def revoke(self, number: int | None) -> dict[str, Any]:
        """Claim our balance on the ledger under checkpoint ``number`` (default: the
        newest we hold). Revoking with an older one than the group's newest is a
        premature revoke: the notaries crawl it back and it costs the revoke fee."""
        if self.machine.live.has_exited(self.me):
            raise ExitGameError(
                "exited",
                "we left by exit: the group settles us on the ledger, and a revoke too would "
                "jam the settle (the ledger pays a member one way only)",
            )
        numbers = self.receipts.numbers()
        if not numbers:
            raise ExitGameError("no-checkpoint", "no checkpoint of ours to revoke with yet")
        chosen = max(numbers) if number is None else number
        receipt = self.receipts.get(chosen)
        if receipt is None:
            raise ExitGameError("unknown-checkpoint", f"we hold no receipt for {chosen}")
        # a refusal (stale-checkpoint, claim-open, ...) reaches the caller as the ledger's
        chain = self.receipts.chain(chosen)
        tx_id = await self.ledger.revoke(
            self.gid, Receipt(receipt.checkpoint, receipt.proof, chain)
        )
        log.warning("revoked under checkpoint %d (newest held: %d)", chosen, max(numbers))
        return {
            "tx_id": tx_id,
            "checkpoint": chosen,
            "newest": max(numbers),
            "claim": {b.asset: b.amount for b in receipt.proof.leaf.balances},
        }

    def prequal(self, member: bytes | None) -> Prequal:
        """A badge for ``member`` (default: us) from the newest checkpoint we hold."""
        base = self.base
        who = self.me if member is None else member
        if base is None or not base[1].is_member(who):
            raise ExitGameError("no-checkpoint", "no checkpoint holds that member yet")
        completed, state = base
        return prequal_of(
            self.genesis.wallet_key, completed.signed, BalanceTree(state).proof(who), who
        )

    def status(self, with_evidence: bool = True) -> NotaryFigures:
        """Our notary's figures; the evidence held (read from the store) if asked for."""
        claims = self.view.open_claims(self.genesis.challenge_window)
        return NotaryFigures(
            ledger_height=self.view.height,
            ledger_unreachable_seconds=None
            if self.ledger_down_since is None
            else round(trio.current_time() - self.ledger_down_since, 1),
            crawl_backs_sent=self.crawls_sent,
            open_claims=tuple(
                ClaimFigures(c.member, c.number, frozen(c.balances), c.deadline, c.crawled_back)
                for c in claims.values()
            ),
            evidence=tuple(
                HeldEvidence(e.revoker, e.revoke_id, e.crawl_back_id, e.reporter)
                for e in self.evidence.all()
            )
            if with_evidence
            else None,
        )


def _ours(events: list[LedgerEvent], gid: bytes) -> tuple[list[ViewEvent], int, list[LedgerEvent]]:
    """Our group's events of a ledger page: what the view keeps, how many wallet
    transactions (open, settle) it shows, and the premature crawl backs."""
    new, wallet_txs, crawl_backs = [], 0, []
    for e in events:
        if e.group_id != gid:
            continue
        wallet_txs += e.kind in ("open", "settle")
        event = e.view_event()
        if event is not None:
            new.append(event)
        if e.kind == "crawl-back":
            crawl_backs.append(e)
    return new, wallet_txs, crawl_backs
