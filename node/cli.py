"""The ``swapnet`` command line (typer). Errors are one clear line on stderr and a
non-zero exit; ``--json`` gives machine-readable output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

import node
import proto.merkle
import proto.orders
import proto.state
import proto.votes
from node.wirejson import to_jsonable
from proto.codec import Wire, decode
from proto.errors import DecodeError

app = typer.Typer(
    name="swapnet",
    help="swapnet: a group-payment network with a FROST-held group wallet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def version(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the version of swapnet."""
    if as_json:
        typer.echo(json.dumps({"version": node.__version__}))
    else:
        typer.echo(f"swapnet {node.__version__}")


@app.command()
def inspect(
    source: Annotated[str, typer.Argument(help="file with one encoded object, or - for stdin")],
    hex_input: Annotated[bool, typer.Option("--hex", help="the input is hex text")] = False,
) -> None:
    """Strictly decode one wire object (order, batch, certificate, state, proof) as JSON."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror}")
    if hex_input:
        try:
            raw = bytes.fromhex(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            fail("input is not hex text")
    try:
        obj = decode(raw, Wire, max_bytes=proto.state.MAX_STATE_BYTES)
    except DecodeError as exc:
        fail(f"not a swapnet object: {exc}")
    typer.echo(json.dumps(to_jsonable(obj), indent=2))


bench_app = typer.Typer(help="Measure swapnet on this machine; results go to BENCHMARKS.md.")
app.add_typer(bench_app, name="bench")


@bench_app.command("frost")
def bench_frost(
    reps: Annotated[int, typer.Option(min=3, help="repetitions per measurement")] = 20,
    output: Annotated[Path, typer.Option(help="the benchmark ledger to append to")] = Path(
        "BENCHMARKS.md"
    ),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """FROST signing: one signer's round one and two, share verification, aggregation and
    a whole in-process t-of-n session for (3,4), (5,7), (14,20)."""
    from devnet.benchmarks import bench_frost as run  # noqa: PLC0415 (imported on use)
    from devnet.benchmarks import record  # noqa: PLC0415

    rows = run(reps)
    record(output, "frost", rows, f"swapnet bench frost --reps {reps}")
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="FROST(Ed25519, SHA-512) signing")
    for column in rows[0]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)
    typer.echo(f"recorded in {output}")


def main() -> None:
    app()
