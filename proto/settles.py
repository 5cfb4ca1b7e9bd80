"""The wallet's settles: how a cooperative exit's payout leaves the group's state.

A checkpoint owes a settle to every exited member that holds something
(``GroupState.settlements``, numbered from the wallet's next nonce), and the stewards
FROST-sign it for the ledger. The payout leaves the member's balance only once the ledger
shows the settle: a proposal lists a ``SettleRecord`` for each settle event of the wallet
up to its ledger height that the state has not booked yet (the state has booked
``wallet_nonce - 1`` of them: the wallet's opening used nonce 1), in ledger order, and a
steward checks them against its own ledger view at that height, as it checks admissions
and claims. Leaving settles out is not a fault (the next proposal books them); inventing
one, or booking them out of order, is.

Invariants: a payout is taken from the state exactly once, and only after the ledger made
it; a settle the ledger refused (the member revoked: ``member-revoked``, ``claim-open``)
consumes no nonce, so the next settle the group signs reuses it and the wallet never jams
on a nonce gap; the state never books a payout it did not see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from proto.codec import ListOf, Obj, UInt, Wire, register, wf
from proto.errors import LocalProtocolError
from proto.kinds import MAX_ASSETS, MEMBER_ID
from proto.ledger_view import LedgerView, ViewEvent
from proto.state import AssetBalance, GroupState, by_asset


@register(98, "settle-record")
@dataclass(frozen=True)
class SettleRecord(Wire):
    member: bytes = wf(MEMBER_ID)
    checkpoint_number: int = wf(UInt(64))
    payouts: tuple[AssetBalance, ...] = wf(
        ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)
    )


def record_of(event: ViewEvent) -> SettleRecord:
    return SettleRecord(event.member, event.checkpoint_number, event.amounts)


def settles_for(state: GroupState, view: LedgerView, height: int) -> tuple[SettleRecord, ...]:
    """The settles the ledger shows up to ``height`` that ``state`` has not booked."""
    return tuple(record_of(e) for e in view.settles(height)[state.wallet_nonce - 1 :])


def settles_problem(
    state: GroupState, records: Iterable[SettleRecord], ledger_height: int, view: LedgerView
) -> str | None:
    """``None`` if the records are the ledger's next settles by ``view`` (a prefix of
    them); ``"behind"`` if the view has not reached ``ledger_height``; otherwise
    ``"inconsistent"``."""
    records = tuple(records)
    if not records:
        return None
    if view.height < ledger_height:
        return "behind"
    expected = settles_for(state, view, ledger_height)
    return None if expected[: len(records)] == records else "inconsistent"


def apply_settles(state: GroupState, records: Iterable[SettleRecord]) -> None:
    """Book the records: each payout leaves the member's balance (anything the ledger paid
    beyond it is the group's loss) and uses one wallet nonce. Raises
    ``LocalProtocolError`` for a record of someone who is not a member."""
    for r in records:
        if not state.is_member(r.member):
            raise LocalProtocolError("a settle of someone who is not a member")
        for b in r.payouts:
            state.pay_out(r.member, b.asset, b.amount)
        state.wallet_nonce += 1
