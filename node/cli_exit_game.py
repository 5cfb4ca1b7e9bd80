"""``swapnet prequal`` and ``swapnet evidence``: badges and evidence bundles, fetched from
a running node or checked offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from node.cli_node import API, DATA, TOKEN, NodeClient

prequal_app = typer.Typer(help="Prequal badges: a trader's history, signed by a group.")
evidence_app = typer.Typer(help="Evidence bundles: a premature revoke, provable offline.")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _write(out: Path, data: bytes) -> None:
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)


@prequal_app.command("fetch")
def prequal_fetch(
    out: Annotated[Path, typer.Option("--out", help="where to write the badge")],
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
    member: Annotated[str | None, typer.Option(help="whose badge (hex; default: ours)")] = None,
) -> None:
    """Cut a badge from the node's newest checkpoint and write it to a file."""
    query = "" if member is None else f"?member={member}"
    body = NodeClient(data, api, token).call("GET", f"/v1/prequal{query}")
    _write(out, bytes.fromhex(body["prequal"]))
    typer.echo(json.dumps({k: v for k, v in body.items() if k != "prequal"}))


def _read_badge(file: Path) -> Any:
    from proto.codec import decode  # noqa: PLC0415
    from proto.errors import DecodeError  # noqa: PLC0415
    from proto.prequal import Prequal  # noqa: PLC0415

    try:
        return decode(file.read_bytes(), Prequal)
    except OSError as exc:
        _fail(f"cannot read {file}: {exc}")
    except DecodeError as exc:
        _fail(f"{file} is not a prequal badge: {exc}")


@prequal_app.command("show")
def prequal_show(file: Path) -> None:
    """Print what a badge states (without checking it: see ``verify``)."""
    from node.wirejson import badge_json  # noqa: PLC0415

    typer.echo(json.dumps(badge_json(_read_badge(file)), indent=2))


@prequal_app.command("verify")
def prequal_verify(
    file: Path,
    ledger_url: Annotated[
        str | None, typer.Option(help="check the wallet key against the group's on this ledger")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="a genesis file: would its admission policy admit this?")
    ] = None,
    height: Annotated[int | None, typer.Option(help="ledger height for the age rule")] = None,
) -> None:
    """Check a badge: the wallet key signed the checkpoint and the proof holds; with
    ``--ledger-url`` that key is the group's wallet on the ledger; with ``--policy`` that
    the group's admission policy takes it. Exit 1 if any check fails."""
    from node.wirejson import badge_json  # noqa: PLC0415
    from proto.codec import decode  # noqa: PLC0415
    from proto.errors import DecodeError, InvalidProof, InvalidSignature  # noqa: PLC0415
    from proto.genesis import Genesis  # noqa: PLC0415
    from proto.prequal import policy_problem  # noqa: PLC0415

    badge = _read_badge(file)
    try:
        badge.verify()
    except (InvalidSignature, InvalidProof) as exc:
        _fail(f"the badge does not verify: {exc}")
    out: dict[str, Any] = {"valid": True, **badge_json(badge)}
    if ledger_url is not None:
        import httpx  # noqa: PLC0415

        try:
            wallet = httpx.get(f"{ledger_url.rstrip('/')}/wallet/{badge.group_id.hex()}").json()
            tip = httpx.get(f"{ledger_url.rstrip('/')}/info").json()["height"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            _fail(f"cannot read the group's wallet from the ledger: {exc}")
        if wallet.get("key") != badge.wallet_key.hex():
            _fail("the badge's wallet key is not the group's wallet on that ledger")
        out["ledger"] = {"wallet_key_matches": True, "height": tip}
        height = tip if height is None else height
    if policy is not None:
        try:
            genesis = decode(policy.read_bytes(), Genesis)
        except (OSError, DecodeError) as exc:
            _fail(f"cannot read the genesis {policy}: {exc}")
        problem = policy_problem(genesis.admission, badge.member, [badge], height or 0)
        out["admitted"] = problem is None
        if problem is not None:
            typer.echo(json.dumps({**out, "refused": problem}, indent=2))
            _fail(f"group {genesis.name!r} would refuse it: {problem}")
    typer.echo(json.dumps(out, indent=2))


@evidence_app.command("export")
def evidence_export(
    member: Annotated[str, typer.Option(help="the revoker (hex)")],
    out: Annotated[Path, typer.Option("--out", help="where to write the bundle")],
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
) -> None:
    """Write the evidence bundle against a revoker, signed by the node."""
    body = NodeClient(data, api, token).call("GET", f"/v1/evidence/{member}")
    _write(out, bytes.fromhex(body["bundle"]))
    typer.echo(body["account"])


@evidence_app.command("verify")
def evidence_verify(
    file: Path, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False
) -> None:
    """Check every signature and link of a bundle, offline, and say what happened."""
    from proto.errors import DecodeError  # noqa: PLC0415
    from proto.evidence import BadEvidence, read_bundle  # noqa: PLC0415

    try:
        bundle = read_bundle(file.read_bytes())
        finding = bundle.verify()
        text = bundle.account()
    except OSError as exc:
        _fail(f"cannot read {file}: {exc}")
    except DecodeError as exc:
        _fail(f"not an evidence bundle (or altered): {exc}")
    except BadEvidence as exc:
        _fail(f"the evidence does not hold: {exc}")
    if not as_json:
        typer.echo(text)
        return
    facts = {
        "valid": True,
        "group_id": bundle.genesis.group_id().hex(),
        "revoker": finding.revoker.hex(),
        "notary": finding.notary.hex(),
        "exporter": bundle.exporter.hex(),
        "premature": finding.premature,
        "stale": {"checkpoint": finding.stale_number, "balances": finding.stale},
        "newer": {"checkpoint": finding.newer_number, "balances": finding.newer},
        "revoke": {"tx": finding.revoke_tx.hex(), "height": finding.revoke_height},
        "crawl_back": {"tx": finding.crawl_back_tx.hex(), "height": finding.crawl_back_height},
        "account": text,
    }
    typer.echo(json.dumps(facts, indent=2))
