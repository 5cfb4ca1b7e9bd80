"""What the control API (``node.api.control``) may ask of a node: two small Protocols it is given
instead of the runtime.

``NodeFacade`` is the node (``node.runtime.NodeRuntime`` implements it); ``GroupPort`` is
the group it runs (``node.group.Group``), reached through ``require_group`` (503
``no-group`` before there is one). Figures come out as frozen snapshots
(``node.statistics``); orders go in only through the trader and the swap desk, which sign
with our key and our next seq.

Invariants: ``node.api.control`` imports this module and ``node.statistics``, never
``node.runtime`` nor ``node.group`` (a test checks the import graph), so the API cannot
reach into the services, and the runtime and the API do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from node.activity import Entry
from node.statistics import NodeStatistics
from node.swaps import Quote
from node.trader import OrderRefused, Pending
from proto.committee import Committee
from proto.evidence import EvidenceBundle
from proto.genesis import Genesis
from proto.orders import Order
from proto.prequal import Prequal
from proto.resharing import ReshareSpec
from proto.state import GroupState
from proto.votes import Certificate


class GroupPort(Protocol):
    """One group, as the control API sees it."""

    @property
    def genesis(self) -> Genesis: ...
    @property
    def group_id(self) -> bytes: ...
    @property
    def state(self) -> GroupState:
        """The live state of our replica: read it, never change it."""
        ...

    @property
    def committee(self) -> Committee:
        """The committee voting now."""
        ...

    def history(self, limit: int) -> list[dict[str, Any]]: ...
    def activity_since(self, limit: int, kind: str | None, other: bytes | None) -> list[Entry]: ...
    async def place(
        self, make: Callable[[int], Order], request: bytes | None
    ) -> Certificate | None: ...
    async def place_many(
        self, makes: list[Callable[[int], Order]]
    ) -> list[Pending | OrderRefused]: ...
    async def outcome(self, pending: Pending) -> Certificate | None: ...
    async def take(
        self, maker: bytes, give: tuple[str, int], get: tuple[str, int], request: bytes | None
    ) -> Certificate | None: ...
    def quote(self, quote: Quote) -> int: ...
    async def revoke(self, number: int | None) -> dict[str, Any]: ...
    def prequal(self, member: bytes | None) -> Prequal: ...
    def bundle(self, member: bytes) -> EvidenceBundle: ...
    def stewards_view(self) -> dict[str, Any]: ...
    def change_stewards(
        self, action: str, member: bytes | None, threshold: int | None
    ) -> ReshareSpec: ...


class NodeFacade(Protocol):
    """The node, as the control API sees it."""

    @property
    def member_id(self) -> bytes: ...
    def not_ready(self) -> list[str]:
        """What is not up yet (``p2p``, ``ledger``, ``group``); empty when ready."""
        ...

    def require_group(self) -> GroupPort: ...
    def assets(self) -> tuple[str, ...]:
        """The group's assets (none before there is a group)."""
        ...

    def statistics(self, detail: bool = True) -> NodeStatistics: ...
    def series_columns(self) -> dict[str, Any]: ...
    def metrics_text(self) -> bytes: ...
    def getinfo(self) -> dict[str, Any]: ...
    def alerts_status(self) -> dict[str, Any]: ...
    def test_alert(self) -> None:
        """Post an alert of kind ``test`` (409 ``no-webhook`` with no webhook set)."""
        ...

    def set_webhook(self, url: str | None) -> None: ...
    async def join(
        self, deposits: dict[str, int], handle: str | None, prequals: tuple[Prequal, ...]
    ) -> dict[str, Any]: ...
