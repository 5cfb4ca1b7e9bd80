"""``swapnet devnet``: bring a local group up and down, see it, and read its logs."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from node.cli_node import fail

devnet_app = typer.Typer(help="A local devnet: the ledger and N nodes as processes.")

DIR = Annotated[Path, typer.Option("--dir", envvar="SWAPNET_DEVNET", help="where the devnet lives")]
JSON = Annotated[bool, typer.Option("--json", help="print JSON")]
DEFAULT_DIR = Path("devnet-data")


def _table(rows: list[dict[str, Any]], columns: list[str], title: str) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title)
    for c in columns:
        table.add_column(c, overflow="fold")
    for row in rows:
        table.add_row(*(str(row.get(c, "-")) for c in columns))
    Console().print(table)


@devnet_app.command("up")
def devnet_up(
    n: Annotated[int, typer.Option("-n", min=2, max=20, help="nodes (all stewards)")] = 4,
    seed: Annotated[str, typer.Option(help="keys are derived from it")] = "swapnet",
    detach: Annotated[bool, typer.Option(help="leave it running and return")] = False,
    ledger: Annotated[
        str, typer.Option(help="devnet (embedded) or evm (anvil + the group wallet contract)")
    ] = "devnet",
    directory: DIR = DEFAULT_DIR,
    as_json: JSON = False,
) -> None:
    """Start the ledger and N nodes, form the group, fund and join every node. With
    ``--ledger evm`` the ledger is anvil (a real EVM node, ``make evm-tools``) with the
    group wallet contract and an ERC-20 per asset, and the wallet key is FROST(secp256k1)."""
    from devnet.manage import WARNING, DevnetError, down, up  # noqa: PLC0415

    try:
        devnet = up(directory.resolve(), n, seed, detach=detach, ledger=ledger)
    except (DevnetError, OSError) as exc:
        fail(str(exc))
    except Exception as exc:  # a node that did not come up: say which, and stop
        fail(f"the devnet did not come up: {exc}")
    rows = devnet.rows()
    if as_json:
        typer.echo(
            json.dumps({"ledger": devnet.state["ledger"], "nodes": rows, "warning": WARNING})
        )
    else:
        chain = devnet.state["ledger"]
        typer.echo(f"ledger: {chain['url']}  ({chain.get('kind', 'devnet')}, data {chain['data']})")
        if chain.get("kind") == "evm":
            typer.echo(f"contract: {chain['contract']}  tokens: {chain['tokens']}")
        _table(rows, ["handle", "id", "dashboard"], "swapnet devnet")
        typer.echo(f"data dirs, keys and cookies: {directory.resolve() / 'nodes'}/<name>")
        typer.echo(f"genesis: {devnet.state['genesis']}")
        typer.echo("pay one: swapnet pay @steward1 USD:10 --data <data dir>; peer ids: --json")
        typer.echo(f"warning: {WARNING}", err=True)
    if detach:
        return
    typer.echo("running; Ctrl-C stops it", err=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    down(directory.resolve())


@devnet_app.command("down")
def devnet_down(directory: DIR = DEFAULT_DIR, as_json: JSON = False) -> None:
    """Stop every process of the devnet (nodes first, then the ledger)."""
    from devnet.manage import DevnetError, down  # noqa: PLC0415

    try:
        stopped = down(directory.resolve())
    except DevnetError as exc:
        fail(str(exc))
    typer.echo(
        json.dumps({"stopped": stopped})
        if as_json
        else f"stopped: {', '.join(stopped) or 'nothing was running'}"
    )


@devnet_app.command("status")
def devnet_status(directory: DIR = DEFAULT_DIR, as_json: JSON = False) -> None:
    """Every node: running, ready, checkpoint, where it is."""
    from devnet.manage import Devnet, DevnetError, alive  # noqa: PLC0415

    try:
        devnet = Devnet.load(directory.resolve())
    except DevnetError as exc:
        fail(str(exc))
    rows = devnet.rows()
    ledger = {**devnet.state["ledger"], "running": alive(devnet.state["ledger"]["pid"])}
    if as_json:
        typer.echo(json.dumps({"ledger": ledger, "nodes": rows}))
        return
    typer.echo(f"ledger: {ledger['url']} running={ledger['running']}")
    for row in rows:  # one column says both: stopped, or up and ready or not
        row["state"] = "ready" if row.get("ready") else "up" if row["running"] else "stopped"
    _table(rows, ["handle", "id", "state", "checkpoint", "dashboard"], "devnet status")


@devnet_app.command("logs")
def devnet_logs(
    name: Annotated[str, typer.Argument(help="a node's name, or 'ledger'")],
    lines: Annotated[int, typer.Option(min=1)] = 50,
    directory: DIR = DEFAULT_DIR,
) -> None:
    """The last lines of a node's (or the ledger's) log."""
    from devnet.manage import DevnetError, logs  # noqa: PLC0415

    try:
        typer.echo(logs(directory.resolve(), name, lines))
    except DevnetError as exc:
        fail(str(exc))


@devnet_app.command("stop")
def devnet_stop(name: str, directory: DIR = DEFAULT_DIR) -> None:
    """Stop one node (SIGTERM), or the ledger."""
    from devnet.manage import DevnetError, stop  # noqa: PLC0415

    try:
        stop(directory.resolve(), name)
    except DevnetError as exc:
        fail(str(exc))
    typer.echo(f"stopped {name}")


@devnet_app.command("start")
def devnet_start(name: str, directory: DIR = DEFAULT_DIR, as_json: JSON = False) -> None:
    """Start a stopped node again; it catches up with the group."""
    from devnet.manage import DevnetError, start  # noqa: PLC0415

    try:
        record = start(directory.resolve(), name)
    except DevnetError as exc:
        fail(str(exc))
    typer.echo(json.dumps(record) if as_json else f"started {name}: {record['api']}")


@devnet_app.command("scenario")
def devnet_scenario(
    name: Annotated[str, typer.Argument(help="trade, cheat, crash or exit")],
    directory: DIR = DEFAULT_DIR,
) -> None:
    """Play one of the seed's stories on the running devnet; exit 1 if it goes wrong."""
    from devnet.manage import Devnet, DevnetError  # noqa: PLC0415
    from devnet.scenarios import PLAYS, ScenarioFailed  # noqa: PLC0415

    if name not in PLAYS:
        fail(f"no scenario {name!r}: choose one of {', '.join(PLAYS)}")
    try:
        PLAYS[name](Devnet.load(directory.resolve()), lambda line: typer.echo(f"  {line}"))
    except (DevnetError, ScenarioFailed) as exc:
        fail(f"scenario {name} failed: {exc}")
    typer.echo(f"scenario {name}: every expectation held")
