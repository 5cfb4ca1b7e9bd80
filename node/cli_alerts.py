"""``swapnet alerts``: what the node alerted on, and where it posts alerts (``node.alerts``).

``alerts`` lists the newest alerts and the webhook's delivery counts; ``alerts set URL``
posts every alert from now on to URL (signed with HMAC-SHA256 under ``DATA/webhook.secret``
in the ``X-Swapnet-Signature`` header), kept across restarts; ``alerts clear`` stops it;
``alerts test`` sends one of kind ``test``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from node.cli_node import API, DATA, JSON, TOKEN, NodeClient, show

alerts_app = typer.Typer(
    help="Alerts: a steward silent, a checkpoint late, a revoke, a margin call...",
    invoke_without_command=True,
)


def _show(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        show(answer, True)
        return
    hook = answer["webhook"]
    typer.echo(
        "webhook: none (swapnet alerts set URL)"
        if hook is None
        else f"webhook: {hook['url']} (sent {hook['sent']}, failed {hook['failed']}, "
        f"queued {hook['queued']}, dropped {hook['dropped']}; last error {hook['last_error']})"
    )
    rows = [{"kind": a["kind"], "about": a["subject"][:16], "what": a["detail"]}
            for a in reversed(answer["recent"])]  # fmt: skip
    show(rows, False, "newest alerts")


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
    as_json: JSON = False,
) -> None:
    """The newest alerts and where they go."""
    if ctx.invoked_subcommand is None:
        _show(NodeClient(data, api, token).call("GET", "/v1/alerts"), as_json)


@alerts_app.command("set")
def alerts_set(
    url: str, data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
) -> None:
    """Post every alert to URL from now on (signed; kept across restarts)."""
    _show(NodeClient(data, api, token).call("POST", "/v1/alerts", {"url": url}), as_json)


@alerts_app.command("clear")
def alerts_clear(
    data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
) -> None:
    """Post alerts nowhere (they stay in `swapnet alerts` and /status)."""
    _show(NodeClient(data, api, token).call("POST", "/v1/alerts", {"url": None}), as_json)


@alerts_app.command("test")
def alerts_test(
    data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
) -> None:
    """Send an alert of kind `test` to the webhook."""
    _show(NodeClient(data, api, token).call("POST", "/v1/alerts", {"test": True}), as_json)
