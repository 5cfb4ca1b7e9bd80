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

from node.cli_node import API, DATA, JSON, TOKEN, NodeClient, show, who

alerts_app = typer.Typer(
    help="Alerts: a steward silent, a checkpoint late, a revoke, a margin call...",
    invoke_without_command=True,
)


def _show(client: NodeClient, answer: dict[str, Any], as_json: bool) -> None:
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
    handles = (client.call("GET", "/status").get("group") or {}).get("handles", {})
    rows = [
        {"kind": a["kind"], "about": _about(a["subject"], handles), "what": a["detail"]}
        for a in reversed(answer["recent"])
    ]
    show(rows, False, "newest alerts")


def _about(subject: str, handles: dict[str, str]) -> str:
    """A member id as people see it (``cli_node.who``); anything else as it is."""
    is_member = len(subject) == 64 and all(c in "0123456789abcdef" for c in subject)
    return who(subject, handles) if is_member else subject


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
        client = NodeClient(data, api, token)
        _show(client, client.call("GET", "/v1/alerts"), as_json)


@alerts_app.command("set")
def alerts_set(
    url: str, data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
) -> None:
    """Post every alert to URL from now on (signed; kept across restarts)."""
    client = NodeClient(data, api, token)
    _show(client, client.call("POST", "/v1/alerts", {"url": url}), as_json)


@alerts_app.command("clear")
def alerts_clear(
    data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
) -> None:
    """Post alerts nowhere (they stay in `swapnet alerts` and /status)."""
    client = NodeClient(data, api, token)
    _show(client, client.call("POST", "/v1/alerts", {"url": None}), as_json)


@alerts_app.command("test")
def alerts_test(
    data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
) -> None:
    """Send an alert of kind `test` to the webhook."""
    client = NodeClient(data, api, token)
    _show(client, client.call("POST", "/v1/alerts", {"test": True}), as_json)
