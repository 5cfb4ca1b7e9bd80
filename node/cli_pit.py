"""``swapnet lend``, ``swapnet loans``, ``swapnet marks`` and ``swapnet mark``: the S&L pit
from a node's control API (tables by default, ``--json`` for scripts)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from node.cli_node import API, DATA, JSON, TOKEN, NodeClient, asset_amount, fail, show, who
from proto.pit import PRICE_SCALE

lend_app = typer.Typer(help="Lend offers to the group's S&L pit.")


def _short(client: NodeClient, rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """``rows`` with the member ids under ``keys`` shown as people see them (``@alice
    (d83f0f0a)``: ``cli_node.who``)."""
    handles = (client.call("GET", "/status").get("group") or {}).get("handles", {})
    return [
        {k: (who(v, handles) if k in keys and isinstance(v, str) else v) for k, v in r.items()}
        for r in rows
    ]


@lend_app.command("offer")
def lend_offer(
    amount: Annotated[str, typer.Argument(help="ASSET:AMOUNT to offer, e.g. USD:50000")],
    rate_bps: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="bps a day")] = 10,
    min_collateral_bps: Annotated[
        int, typer.Option(min=10_000, max=2**32 - 1, help="collateral / debt, in bps")
    ] = 15_000,
    expiry: Annotated[int, typer.Option(min=0, help="last checkpoint (0: none)")] = 0,
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
    as_json: JSON = False,
) -> None:
    """Offer (or change the offer) to lend an asset; it is reserved out of our balance."""
    asset, n = asset_amount(amount, "amount")
    body = {
        "asset": asset,
        "amount": n,
        "rate_bps": rate_bps,
        "min_collateral_bps": min_collateral_bps,
        "expiry": expiry,
    }
    show(NodeClient(data, api, token).call("POST", "/v1/lend/offer", body), as_json, "offer")


@lend_app.command("withdraw")
def lend_withdraw(
    asset: Annotated[str, typer.Argument(help="the asset of our offer")],
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
    as_json: JSON = False,
) -> None:
    """Withdraw our offer (what credit lines hold of it is freed at the next checkpoint)."""
    body = {"asset": asset.upper()}
    show(NodeClient(data, api, token).call("POST", "/v1/lend/withdraw", body), as_json, "withdrawn")


@lend_app.command("list")
def lend_list(
    data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
) -> None:
    """The group's lend offers and the credit lines carved out of them."""
    client = NodeClient(data, api, token)
    body = client.call("GET", "/v1/lend")
    if as_json:
        show(body, True)
        return
    show(_short(client, body["offers"], "lender"), False, "lend offers")
    lines = [{**r, "from": len(r["from"])} for r in body["lines"]]
    show(_short(client, lines, "member"), False, "credit lines")


def register(app: typer.Typer) -> None:
    app.add_typer(lend_app, name="lend")

    @app.command()
    def loans(
        data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
    ) -> None:
        """Open loans, every member's pit position, margin calls."""
        client = NodeClient(data, api, token)
        body = client.call("GET", "/v1/loans")
        if as_json:
            show(body, True)
            return
        show(_short(client, body["loans"], "lender", "borrower"), False, "loans")
        positions = [{"member": m, **p} for m, p in body["positions"].items()]
        show(_short(client, positions, "member"), False, "positions")

    @app.command()
    def marks(
        data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
    ) -> None:
        """The group's marks, and every member's latest mark."""
        client = NodeClient(data, api, token)
        body = client.call("GET", "/v1/marks")
        if as_json:
            show(body, True)
            return
        group = [{"asset": a, **m} for a, m in body["group"].items()]
        show(group, False, f"group marks (in {body['numeraire']} per unit)")
        show(_short(client, body["members"], "member"), False, "member marks")

    @app.command()
    def mark(
        asset: Annotated[str, typer.Argument()],
        price: Annotated[str, typer.Argument(help="numeraire base units per base unit")],
        data: DATA = Path("data"),
        api: API = None,
        token: TOKEN = None,
        as_json: JSON = False,
    ) -> None:
        """Sign and send our price mark of an asset (e.g. `mark BTC 600.5`)."""
        try:
            scaled = Decimal(price) * PRICE_SCALE
        except InvalidOperation:
            fail(f"price must be a decimal number, got {price!r}")
        if scaled != scaled.to_integral_value() or scaled < 1:
            fail("price must be positive, with at most 8 decimals")
        body = {"asset": asset.upper(), "price": int(scaled)}
        show(NodeClient(data, api, token).call("POST", "/v1/marks", body), as_json, "mark")
