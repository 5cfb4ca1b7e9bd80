"""What a node has followed of the ledger for one group: deposits and the exit game.

The node's ledger follower feeds every event of its group's wallet here, in ledger order:
deposits (joins), and the exit game's revokes, crawl backs and finalizes. Checkpoint
proposals read the ledger at a height, and a steward checks them against this view at
that height (``proto.admission``, ``proto.claims``); the notary reads the open claims.

Invariants: events are appended in ledger order (heights never decrease); ``height`` is
the last height the follower has seen whole, so figures "at h <= height" are final; the
view is rebuilt from its events alone (``events``/``from_events``), which is how a node
stores it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from proto.codec import ListOf, Obj, Text, UInt, Wire, register, wf
from proto.errors import LocalProtocolError
from proto.kinds import MAX_ASSETS, MEMBER_ID
from proto.state import AssetBalance, by_asset

CLAIM_KINDS = ("revoke", "crawl-back", "crawl-back-honest", "finalize")
"""Ledger event kinds of the exit game that a group books as claims."""
VIEW_KINDS = ("deposit", "settle", *CLAIM_KINDS)
"""Every kind the view keeps: deposits, the wallet's own settles (booked once the ledger
shows them, ``proto.settles``) and the claims."""


@register(93, "ledger-view-event")
@dataclass(frozen=True)
class ViewEvent(Wire):
    """One ledger event of the group: one of ``VIEW_KINDS``. ``amounts`` is what was
    deposited, paid by a settle, claimed (revoke, crawl back: the claim's balances now) or
    paid (finalize)."""

    height: int = wf(UInt(64, minimum=1))
    kind: str = wf(Text(32))
    member: bytes = wf(MEMBER_ID)
    checkpoint_number: int = wf(UInt(64))
    amounts: tuple[AssetBalance, ...] = wf(
        ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)
    )

    def check_fields(self) -> None:
        if self.kind not in VIEW_KINDS:
            raise ValueError(f"unknown ledger view event {self.kind!r}")


@dataclass
class ClaimTotals:
    """A member's exit game on the ledger, cumulative: revokes, crawl backs (all, and the
    premature ones, where the stale checkpoint showed it more), and what was paid out."""

    revokes: int = 0
    crawl_backs: int = 0
    premature: int = 0
    paid: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenClaim:
    """A revoke the ledger has not paid yet: the checkpoint it stands on now (a crawl back
    moves it), the balances it would pay, and the height after which it can be paid."""

    member: bytes
    number: int
    balances: dict[str, int]
    revoked_at: int
    deadline: int
    crawled_back: bool


@dataclass
class LedgerView:
    height: int = 0
    events: list[ViewEvent] = field(default_factory=list)

    @classmethod
    def from_events(cls, height: int, events: list[ViewEvent]) -> LedgerView:
        view = cls()
        for e in events:
            view.add(e)
        view.advance(height)
        return view

    def add(self, event: ViewEvent) -> None:
        if event.height < self.height:
            raise LocalProtocolError("ledger events must come in ledger order")
        self.events.append(event)
        self.height = event.height

    def add_deposit(self, height: int, member: bytes, asset: str, amount: int) -> None:
        self.add(ViewEvent(height, "deposit", member, 0, (AssetBalance(asset, amount),)))

    def advance(self, height: int) -> None:
        self.height = max(self.height, height)

    # -- deposits -----------------------------------------------------------------------
    def cumulative(self, at_height: int) -> dict[bytes, dict[str, int]]:
        """Each member's deposits up to ``at_height``, per asset."""
        out: dict[bytes, dict[str, int]] = {}
        for e in self.events:
            if e.kind == "deposit" and e.height <= at_height:
                mine = out.setdefault(e.member, {})
                for b in e.amounts:
                    mine[b.asset] = mine.get(b.asset, 0) + b.amount
        return out

    # -- the exit game ------------------------------------------------------------------
    def claim_totals(self, at_height: int) -> dict[bytes, ClaimTotals]:
        out: dict[bytes, ClaimTotals] = {}
        for e in self.events:
            if e.kind not in CLAIM_KINDS or e.height > at_height:
                continue
            totals = out.setdefault(e.member, ClaimTotals())
            if e.kind == "revoke":
                totals.revokes += 1
            elif e.kind in ("crawl-back", "crawl-back-honest"):
                totals.crawl_backs += 1
                totals.premature += e.kind == "crawl-back"
            else:  # finalize
                for b in e.amounts:
                    totals.paid[b.asset] = totals.paid.get(b.asset, 0) + b.amount
        return out

    def open_claims(self, window: int) -> dict[bytes, OpenClaim]:
        """The claims not paid yet, by member, as far as the view has followed."""
        out: dict[bytes, OpenClaim] = {}
        for e in self.events:
            balances = {b.asset: b.amount for b in e.amounts}
            if e.kind == "revoke":
                out[e.member] = OpenClaim(
                    e.member, e.checkpoint_number, balances, e.height, e.height + window, False
                )
            elif e.kind in ("crawl-back", "crawl-back-honest") and e.member in out:
                before = out[e.member]
                out[e.member] = replace(
                    before, number=e.checkpoint_number, balances=balances, crawled_back=True
                )
            elif e.kind == "finalize":
                out.pop(e.member, None)
        return out

    def claim_events(self, member: bytes) -> list[ViewEvent]:
        return [e for e in self.events if e.member == member and e.kind in CLAIM_KINDS]

    # -- the wallet's settles -----------------------------------------------------------
    def settles(self, at_height: int) -> list[ViewEvent]:
        """The wallet's settles up to ``at_height``, in ledger order: the i-th used the
        wallet's nonce i + 2 (its opening used 1)."""
        return [e for e in self.events if e.kind == "settle" and e.height <= at_height]


def view_event(
    kind: str, height: int, member: bytes, number: int, detail: dict[str, int]
) -> ViewEvent | None:
    """The view's event for a ledger event of the group (``None`` for kinds the view does
    not keep: open). ``detail`` is the ledger's: amounts per asset, plus
    ``fee-forfeited`` on a crawl back. Raises ``ValueError`` on a malformed one."""
    if kind not in VIEW_KINDS:
        return None
    amounts = tuple(
        AssetBalance(asset, amount)
        for asset, amount in sorted(detail.items())
        if asset != "fee-forfeited" and amount
    )
    return ViewEvent(height, kind, member, number, amounts)
