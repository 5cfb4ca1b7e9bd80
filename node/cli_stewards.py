"""``swapnet steward``: the group's committee and changes of it, from a node's control API.

A change (``add``, ``remove``, ``threshold``, ``refresh``) is asked for on an old
steward's node, by its operator; it runs once a quorum of the committee's operators have
asked for the same change (``node.stewardship``), and takes effect at the next checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from node.cli_node import API, DATA, JSON, TOKEN, NodeClient, show

steward_app = typer.Typer(help="The group's stewards: who signs now, and changes of them.")
THRESHOLD = Annotated[
    int | None,
    typer.Option(min=1, max=128, help="the new committee's threshold (default: kept in bounds)"),
]


def _ask(body: dict[str, Any], data: Path, api: str | None, token: str | None, js: bool) -> None:
    answer = NodeClient(data, api, token).call("POST", "/v1/stewards", body)
    if not js:
        typer.echo(
            f"asked for epoch {answer['epoch']}: {len(answer['stewards'])} stewards, threshold "
            f"{answer['threshold']} (ceremony {answer['ceremony'][:16]}); it runs once a quorum "
            "of the stewards' operators asked for the same change"
        )
        return
    show(answer, True)


def _member_change(action: str, member: str, threshold: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"action": action, "member": member}
    if threshold is not None:
        body["threshold"] = threshold
    return body


@steward_app.command("add")
def add(
    member: Annotated[
        str,
        typer.Argument(
            help="the member to make a steward: @handle, a unique hex prefix or a member id"
        ),
    ],
    threshold: THRESHOLD = None,
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
    as_json: JSON = False,
) -> None:
    """Ask for a committee with MEMBER added (the wallet key is reshared, not changed)."""
    _ask(_member_change("add", member, threshold), data, api, token, as_json)


@steward_app.command("remove")
def remove(
    member: Annotated[
        str, typer.Argument(help="the steward: @handle, a unique hex prefix or a member id")
    ],
    threshold: THRESHOLD = None,
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
    as_json: JSON = False,
) -> None:
    """Ask for a committee without MEMBER (its share then signs nothing with the new ones)."""
    _ask(_member_change("remove", member, threshold), data, api, token, as_json)


@steward_app.command("threshold")
def threshold_cmd(
    threshold: Annotated[int, typer.Argument(min=1, max=128, help="the new threshold")],
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
    as_json: JSON = False,
) -> None:
    """Ask for the same committee under another threshold."""
    _ask({"action": "threshold", "threshold": threshold}, data, api, token, as_json)


@steward_app.command("refresh")
def refresh(
    data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
) -> None:
    """Ask for new shares of the same key for the same committee (old shares go useless)."""
    _ask({"action": "refresh"}, data, api, token, as_json)


@steward_app.command("repair")
def repair(
    member: Annotated[
        str, typer.Argument(help="the steward that lost its data dir (@handle or hex)")
    ],
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
    as_json: JSON = False,
) -> None:
    """Ask for a refresh that MEMBER does not deal in: it lost its share (and its vote
    locks) with its data dir, restarted from its key and the genesis, and gets a new share
    of the same key; it votes and signs again from the next epoch."""
    _ask({"action": "repair", "member": member}, data, api, token, as_json)


@steward_app.command("status")
def status(
    data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
) -> None:
    """The committee signing now and the changes under way."""
    body = NodeClient(data, api, token).call("GET", "/v1/stewards")
    if as_json:
        show(body, True)
        return
    typer.echo(
        f"epoch {body['epoch']} from checkpoint {body['first_checkpoint']}: "
        f"{len(body['stewards'])} stewards, threshold {body['threshold']}, quorum "
        f"{body['quorum']}{' (this node is one)' if body['steward'] else ''}"
    )
    show([{"steward": s} for s in body["stewards"]], False, "stewards")
    if body["changes"]:
        rows = [
            {**c, "ceremony": c["ceremony"][:16], "stewards": len(c["stewards"])}
            for c in body["changes"]
        ]
        show(rows, False, "changes under way")
