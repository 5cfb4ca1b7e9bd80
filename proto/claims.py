"""Revoke claims: how the ledger's exit game enters the group's state, at checkpoints.

A member may leave unilaterally by revoking on the ledger with a signed checkpoint; the
notaries crawl back a stale one; after the window anyone finalizes and the wallet pays
the claim. The group books all of it at checkpoints, like deposits: a proposal lists a
``ClaimRecord`` per member whose exit game moved, with the ledger's cumulative figures up
to the proposal's ledger height (revokes, crawl backs, premature crawl backs, payouts).
The checkpoint's state freezes every member that ever revoked (no new order of its is
voted from then on), writes the figures into its ``History`` (what its prequal badge
shows), and takes what the ledger paid out of its balance; a payout beyond the balance
(a stale claim no notary crawled back in time) is a loss of the group and an uncovered
revoke on the member's record.

A steward checks the records against its own ledger view at the proposal's height, as it
checks admissions: it waits if behind, and refuses a record that is not the ledger's.
Leaving a record out is not a fault (the next proposal carries it); inventing one is.

Invariants: figures only come from the ledger and are cumulative, so each payout is taken
from the state once; a revoker is frozen from the checkpoint that books its revoke on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from proto.codec import ListOf, Obj, UInt, Wire, register, wf
from proto.errors import LocalProtocolError
from proto.kinds import MAX_ASSETS, MEMBER_ID
from proto.ledger_view import ClaimTotals, LedgerView
from proto.state import AssetBalance, GroupState, by_asset


@register(94, "claim-record")
@dataclass(frozen=True)
class ClaimRecord(Wire):
    member: bytes = wf(MEMBER_ID)
    revokes: int = wf(UInt(32))
    crawl_backs: int = wf(UInt(32))
    premature: int = wf(UInt(32))
    paid: tuple[AssetBalance, ...] = wf(
        ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)
    )

    def check_fields(self) -> None:
        if self.crawl_backs > self.revokes or self.premature > self.crawl_backs:
            raise ValueError("more crawl backs than revokes, or premature than crawl backs")

    def totals(self) -> ClaimTotals:
        paid = {b.asset: b.amount for b in self.paid}
        return ClaimTotals(self.revokes, self.crawl_backs, self.premature, paid)


def by_member(r: ClaimRecord) -> bytes:
    return r.member


def record_of(member: bytes, totals: ClaimTotals) -> ClaimRecord:
    paid = tuple(AssetBalance(a, n) for a, n in sorted(totals.paid.items()) if n)
    return ClaimRecord(member, totals.revokes, totals.crawl_backs, totals.premature, paid)


def _booked(state: GroupState, member: bytes) -> ClaimTotals:
    account = state.accounts[member]
    h = account.history
    return ClaimTotals(h.revokes, h.crawl_backs, h.premature_revokes, dict(account.claims_paid))


def claims_for(state: GroupState, view: LedgerView) -> tuple[ClaimRecord, ...]:
    """What a proposer books at ``view.height``: every member whose figures moved."""
    return tuple(
        record_of(member, totals)
        for member, totals in sorted(view.claim_totals(view.height).items())
        if state.is_member(member) and totals != _booked(state, member)
    )


def claims_problem(
    state: GroupState, records: Iterable[ClaimRecord], ledger_height: int, view: LedgerView
) -> str | None:
    """``None`` if the records are the ledger's by ``view``; ``"behind"`` if the view has
    not reached ``ledger_height``; otherwise ``"inconsistent"``."""
    records = tuple(records)
    if not records:
        return None
    if view.height < ledger_height:
        return "behind"
    ledger = view.claim_totals(ledger_height)
    for r in records:
        if not state.is_member(r.member) or ledger.get(r.member) != r.totals():
            return "inconsistent"
    return None


def apply_claims(state: GroupState, records: Iterable[ClaimRecord]) -> None:
    """Book the records; raises ``LocalProtocolError`` (state may be partly changed: call
    it on a copy) when they do not fit the state."""
    for r in records:
        if not state.is_member(r.member):
            raise LocalProtocolError("a claim of someone who is not a member")
        totals = r.totals()
        state.record_claims(r.member, r.revokes, r.crawl_backs, r.premature, totals.paid)
