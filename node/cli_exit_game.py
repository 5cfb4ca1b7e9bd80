"""``swapnet prequal`` and ``swapnet evidence``: badges and evidence bundles, fetched from
a running node or checked offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from node.cli_node import API, DATA, JSON, TOKEN, NodeClient, fail, show

prequal_app = typer.Typer(help="Prequal badges: a trader's history, signed by a group.")
evidence_app = typer.Typer(help="Evidence bundles: a premature revoke, provable offline.")


def _write(out: Path, data: bytes) -> None:
    from node.files import write_atomically  # noqa: PLC0415

    try:
        write_atomically(out, data)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")


@prequal_app.command("fetch")
def prequal_fetch(
    out: Annotated[Path, typer.Option("--out", help="where to write the badge")],
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
    member: Annotated[str | None, typer.Option(help="whose badge (hex; default: ours)")] = None,
    as_json: JSON = False,
) -> None:
    """Cut a badge from the node's newest checkpoint and write it to a file."""
    query = "" if member is None else f"?member={member}"
    body = NodeClient(data, api, token).call("GET", f"/v1/prequal{query}")
    _write(out, bytes.fromhex(body["prequal"]))
    show({"out": str(out), **{k: v for k, v in body.items() if k != "prequal"}}, as_json, "badge")


def _read_badge(file: Path) -> Any:
    from proto.codec import decode  # noqa: PLC0415
    from proto.errors import DecodeError  # noqa: PLC0415
    from proto.prequal import Prequal  # noqa: PLC0415

    try:
        return decode(file.read_bytes(), Prequal)
    except OSError as exc:
        fail(f"cannot read {file}: {exc}")
    except DecodeError as exc:
        fail(f"{file} is not a prequal badge: {exc}")


@prequal_app.command("show")
def prequal_show(file: Path, as_json: JSON = False) -> None:
    """Print what a badge states (without checking it: see ``verify``)."""
    from node.wirejson import badge_json  # noqa: PLC0415

    show(badge_json(_read_badge(file)), as_json, "badge (not verified)")


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
    as_json: JSON = False,
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
        fail(f"the badge does not verify: {exc}")
    out: dict[str, Any] = {"valid": True, **badge_json(badge)}
    if ledger_url is not None:
        import httpx  # noqa: PLC0415

        try:
            wallet = httpx.get(f"{ledger_url.rstrip('/')}/wallet/{badge.group_id.hex()}").json()
            tip = httpx.get(f"{ledger_url.rstrip('/')}/info").json()["height"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            fail(f"cannot read the group's wallet from the ledger: {exc}")
        if wallet.get("key") != badge.wallet_key.hex():
            fail("the badge's wallet key is not the group's wallet on that ledger")
        out["ledger"] = {"wallet_key_matches": True, "height": tip}
        height = tip if height is None else height
    if policy is not None:
        try:
            genesis = decode(policy.read_bytes(), Genesis)
        except (OSError, DecodeError) as exc:
            fail(f"cannot read the genesis {policy}: {exc}")
        problem = policy_problem(genesis.admission, badge.member, [badge], height or 0)
        out["admitted"] = problem is None
        if problem is not None:
            show({**out, "refused": problem}, as_json, "badge")
            fail(f"group {genesis.name!r} would refuse it: {problem}")
    show(out, as_json, "badge: valid")


@evidence_app.command("export")
def evidence_export(
    member: Annotated[str, typer.Option(help="the revoker (hex)")],
    out: Annotated[Path, typer.Option("--out", help="where to write the bundle")],
    data: DATA = Path("data"),
    api: API = None,
    token: TOKEN = None,
    as_json: JSON = False,
) -> None:
    """Write the evidence bundle against a revoker, signed by the node."""
    body = NodeClient(data, api, token).call("GET", f"/v1/evidence/{member}")
    _write(out, bytes.fromhex(body["bundle"]))
    if as_json:
        show({"out": str(out), **{k: v for k, v in body.items() if k != "bundle"}}, True)
    else:
        typer.echo(body["account"])


@evidence_app.command("verify")
def evidence_verify(file: Path, as_json: JSON = False) -> None:
    """Check every signature and link of a bundle, offline, and say what happened."""
    from proto.errors import DecodeError  # noqa: PLC0415
    from proto.evidence import BadEvidence, read_bundle  # noqa: PLC0415

    try:
        bundle = read_bundle(file.read_bytes())
        finding = bundle.verify()
        text = bundle.account()
    except OSError as exc:
        fail(f"cannot read {file}: {exc}")
    except DecodeError as exc:
        fail(f"not an evidence bundle (or altered): {exc}")
    except BadEvidence as exc:
        fail(f"the evidence does not hold: {exc}")
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
