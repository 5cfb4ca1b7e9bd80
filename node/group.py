"""One group as this node runs it: its genesis and the services that keep it (certification,
checkpoints, the trader, the swap desk, the notary, the changes of stewards, our activity),
with what the control API may ask of it (``node.api.facade.GroupPort``) and the frozen figures
``/status``, the metrics, the alerts and the charts read (``statistics``).

Invariants: the control API reaches the services only through the methods here, never
their attributes; every figure leaves as a frozen snapshot (``node.statistics``), so no
reader can change the group's state through it.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import asdict, dataclass
from typing import Any

from node.activity import Activity, Entry
from node.certification import GroupNode
from node.checkpoints import CheckpointService
from node.exit_game import ExitGame
from node.handovers import HandoverService
from node.pit_view import loans_json, pit_status, positions
from node.statistics import (
    CheckpointFigures,
    EpochFigures,
    GroupDetail,
    GroupStatistics,
    PitAtCheckpoint,
    RevokeRecord,
    frozen,
    frozen_rows,
)
from node.stewardship import StewardshipService
from node.swaps import Quote, SwapDesk
from node.trader import OrderRefused, Pending, Trader
from proto.committee import Committee
from proto.evidence import EvidenceBundle
from proto.frost.keys import KeyPackage
from proto.genesis import Genesis
from proto.orders import Order
from proto.prequal import Prequal
from proto.resharing import ReshareSpec
from proto.state import GroupState
from proto.votes import Certificate


@dataclass
class Group:
    genesis: Genesis
    node: GroupNode
    service: CheckpointService
    trader: Trader
    desk: SwapDesk
    game: ExitGame
    handovers: HandoverService
    stewardship: StewardshipService
    activity: Activity

    @property
    def key_package(self) -> KeyPackage | None:
        """Our share of the wallet key for the committee signing now (None: a member)."""
        return self.service.machine.key

    # -- what the control API reads (``node.api.facade.GroupPort``) ---------------------------
    @property
    def group_id(self) -> bytes:
        return self.node.group_id

    @property
    def state(self) -> GroupState:
        """The live state of our replica (certified orders applied)."""
        return self.node.replica.state

    @property
    def committee(self) -> Committee:
        """The committee voting now."""
        return self.node.replica.epochs.current.committee

    def history(self, limit: int) -> list[dict[str, Any]]:
        """Our last ``limit`` certified orders, newest first."""
        me = self.trader.id
        out: list[dict[str, Any]] = []
        seq = self.state.next_seq(me) - 1
        while seq >= 1 and len(out) < limit:
            cert = self.node.certificates.lookup(me, seq)
            signed = None
            if cert is not None:
                signed = next(
                    (
                        o
                        for o in cert.batch.orders
                        if any(p.member == me and p.seq == seq for p in o.order.parties)
                    ),
                    None,
                )
            if signed is not None:
                out.append(
                    {
                        "seq": seq,
                        "kind": signed.order.TYPE_NAME,
                        "legs": [
                            {
                                "from": leg.payer.hex(),
                                "to": leg.payee.hex(),
                                "asset": leg.asset,
                                "amount": leg.amount,
                            }
                            for leg in signed.order.legs
                        ],
                    }
                )
            seq -= 1
        return out

    def activity_since(self, limit: int, kind: str | None, other: bytes | None) -> list[Entry]:
        return self.activity.newest(limit, kind, other)

    async def place(
        self, make: Callable[[int], Order], request: bytes | None
    ) -> Certificate | None:
        return await self.trader.place(make, request)

    async def place_many(self, makes: list[Callable[[int], Order]]) -> list[Pending | OrderRefused]:
        return await self.trader.place_many(makes)

    async def outcome(self, pending: Pending) -> Certificate | None:
        return await self.trader.outcome(pending)

    async def take(
        self, maker: bytes, give: tuple[str, int], get: tuple[str, int], request: bytes | None
    ) -> Certificate | None:
        return await self.desk.take(maker, give, get, request)

    def quote(self, quote: Quote) -> int:
        """Stand ready to fill ``quote``; the number of our quotes standing."""
        self.desk.quote(quote)
        return len(self.desk.quotes)

    async def revoke(self, number: int | None) -> dict[str, Any]:
        return await self.game.revoke(number)

    def prequal(self, member: bytes | None) -> Prequal:
        return self.game.prequal(member)

    def bundle(self, member: bytes) -> EvidenceBundle:
        return self.game.bundle(member)

    def stewards_view(self) -> dict[str, Any]:
        """The committee signing now, the changes under way, and the complaints that
        convict a dealer (its own signed replies)."""
        epoch = self.service.machine.epochs.current
        return {
            "epoch": epoch.number,
            "first_checkpoint": epoch.first_checkpoint,
            "stewards": [s.hex() for s in epoch.stewards],
            "threshold": epoch.threshold,
            "quorum": epoch.quorum,
            "steward": self.key_package is not None,
            "changes": self.stewardship.status(),
            "complaints": [
                c.encode().hex() for c in self.stewardship.groups.complaints(self.group_id)
            ],
        }

    def change_stewards(
        self, action: str, member: bytes | None, threshold: int | None
    ) -> ReshareSpec:
        return self.stewardship.request(action, member, threshold)

    # -- figures --------------------------------------------------------------------------
    def statistics(
        self,
        now: float,
        *,
        wallet_open: bool,
        wallet_mismatch: str | None,
        online: Set[bytes] | None,
        detail: bool,
    ) -> GroupStatistics:
        """A frozen snapshot at ``now`` (trio's clock); ``online``: the members connected
        to us (None: no p2p yet); ``detail``: with the figures of every member."""
        state, machine, me = self.state, self.service.machine, self.trader.id
        pit = state.pit
        ours = positions(state, only=me).get(me) if pit.policy.on else None
        return GroupStatistics(
            group_id=self.group_id,
            name=self.genesis.name,
            wallet_key=self.genesis.wallet_key,
            steward=self.key_package is not None,
            wallet_open=wallet_open,
            wallet_mismatch=wallet_mismatch,
            checkpoint=CheckpointFigures(
                number=machine.base_number,
                state_digest=machine.base.digest() if detail else None,
                age_seconds=round(now - machine.adopted_at, 3),
                faults=machine.faults,
                last_fault=machine.last_fault,
                dropped_inputs=self.service.errors,
            ),
            stewards=self.node.health.report(now),
            notary=self.game.status(with_evidence=detail),
            orders_since_checkpoint=len(machine.log),
            ours=frozen({a: v for a in state.assets if (v := state.balance(me, a))}),
            position=ours,
            liquidations=state.accounts[me].history.pit_liquidations if me in state.accounts else 0,
            maintenance_bps=pit.policy.maintenance_bps,
            detail=self._detail(online) if detail else None,
        )

    def _detail(self, online: Set[bytes] | None) -> GroupDetail:
        state, machine = self.state, self.service.machine
        members = sorted(state.accounts)
        current = self.node.replica.epochs.current
        return GroupDetail(
            members=len(members),
            members_online=0
            if online is None
            else len((set(online) | {self.trader.id}) & set(state.accounts)),
            balances=frozen(
                {
                    m: frozen({a: v for a in state.assets if (v := state.balance(m, a))})
                    for m in members
                }
            ),
            last_seqs=frozen({m: state.accounts[m].last_seq for m in members}),
            handles=frozen({m: h for m, h in sorted(state.handles().items()) if h}),
            supply=frozen(state.supply()),
            state_digest=state.digest(),
            memory=frozen({**asdict(machine.statistics()), "pending_joins": len(machine.joins)}),
            epoch=EpochFigures(
                number=current.number,
                stewards=tuple(current.stewards),
                threshold=current.threshold,
                signing=machine.epochs.current.number,
                changes_under_way=len(self.stewardship.ceremonies),
                refused=self.stewardship.refused + self.handovers.refused,
            ),
            waiting=len(self.node.replica.waiting),
            retrying=self.trader.retrying,
            queued=len(self.trader.queue) + len(self.trader.in_flight),
            unanswered_swaps=len(self.trader.unanswered_swaps()),
            frozen=tuple(m for m in members if state.is_frozen(m)),
            exited=tuple(m for m in members if state.has_exited(m)),
            revokes=frozen(
                {
                    m: RevokeRecord(
                        h.revokes, h.crawl_backs, h.premature_revokes, h.uncovered_revokes
                    )
                    for m in members
                    if (h := state.history(m)).revokes
                }
            ),
            losses=frozen(state.losses),
            pit=pit_status(state),
            pit_at_checkpoint=PitAtCheckpoint(
                machine.base_number,
                frozen_rows(loans_json(machine.base.pit)),
                frozen(positions(machine.base)),
            ),
        )
