"""``swapnet bench``: measure swapnet on this machine. Every subcommand prints a table (or
one JSON object with ``--json``: ``{"benchmark", "command", "machine", "rows"}``) and
appends its rows to BENCHMARKS.md with the date, the machine and the command; older rows
stay for comparison. Numbers are never asserted anywhere: they are what this machine did.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from node.cli_node import JSON, fail, show

bench_app = typer.Typer(help="Measure swapnet on this machine; results go to BENCHMARKS.md.")

OUTPUT = Annotated[Path, typer.Option(help="the benchmark ledger to append to")]
NODES = Annotated[int, typer.Option("-n", "--nodes", min=2, max=64, help="steward nodes")]
SECONDS = Annotated[float, typer.Option(min=0.5, help="seconds of load")]


def _report(
    name: str, rows: list[dict[str, Any]], command: str, output: Path, as_json: bool
) -> None:
    from devnet.benchmarks import machine, record  # noqa: PLC0415

    record(output, name, [{k: str(v) for k, v in r.items()} for r in rows], command)
    if as_json:
        result = {"benchmark": name, "command": command, "machine": machine(), "rows": rows}
        typer.echo(json.dumps(result, indent=2))
        return
    show(rows[0] if len(rows) == 1 else rows, False, f"swapnet bench {name}")
    typer.echo(f"recorded in {output}")


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _sizes(text: str, *, low: int, high: int) -> tuple[int, ...]:
    """Sizes from a comma-separated list, each from ``low`` to ``high`` (exits 1 if not)."""
    try:
        wanted = tuple(int(s) for s in text.split(","))
    except ValueError:
        fail("sizes: integers separated by commas, e.g. 5,10,20,50")
    if not wanted or any(not low <= s <= high for s in wanted):
        fail(f"sizes: each from {low} to {high}")
    return wanted


def _guarded(run: Any) -> Any:
    try:
        return run()
    except Exception as exc:  # a devnet that did not come up, or a node that failed
        fail(f"the benchmark failed: {type(exc).__name__}: {str(exc)[:400]}")


@bench_app.command("throughput")
def bench_throughput(
    nodes: NODES = 5,
    seconds: SECONDS = 10.0,
    callers: Annotated[int, typer.Option(min=1, max=32, help="callers per node")] = 4,
    chunk: Annotated[int, typer.Option(min=1, max=1000, help="payments per call")] = 100,
    output: OUTPUT = Path("BENCHMARKS.md"),
    as_json: JSON = False,
) -> None:
    """Closed-loop load from every node of an N-steward devnet: certified orders/s, p50/p99
    to certificate and to checkpoint, CPU per order, peak RSS, and the verification bound
    (cores x raw verify rate / verifications per order)."""
    from devnet.bench_suite import throughput  # noqa: PLC0415

    row = _guarded(lambda: throughput(nodes, seconds, callers, chunk))
    command = (
        f"swapnet bench throughput -n {nodes} --seconds {seconds:g} --callers {callers} "
        f"--chunk {chunk}"
    )
    _report("throughput", [row], command, output, as_json)


@bench_app.command("gas")
def bench_gas_cmd(
    output: OUTPUT = Path("BENCHMARKS.md"),
    as_json: JSON = False,
) -> None:
    """The gas of every group wallet call on anvil (open, deposit, settle, revoke, crawl
    back, finalize; the FROST signature check alone), against the targets."""
    from devnet.bench_gas import bench_gas  # noqa: PLC0415

    rows = _guarded(bench_gas)
    _report("gas", rows, "swapnet bench gas", output, as_json)


@bench_app.command("latency")
def bench_latency(
    rate: Annotated[float, typer.Option(min=1.0, help="offered orders per second")] = 1000.0,
    seconds: SECONDS = 10.0,
    nodes: NODES = 5,
    chunk: Annotated[int, typer.Option(min=1, max=1000, help="payments per call")] = 10,
    output: OUTPUT = Path("BENCHMARKS.md"),
    as_json: JSON = False,
) -> None:
    """Open-loop load at a fixed offered rate: p50/p99/max from submit to certificate."""
    from devnet.bench_suite import latency  # noqa: PLC0415

    row = _guarded(lambda: latency(rate, seconds, nodes, chunk))
    command = (
        f"swapnet bench latency --rate {rate:g} --seconds {seconds:g} -n {nodes} --chunk {chunk}"
    )
    _report("latency", [row], command, output, as_json)


@bench_app.command("recovery")
def bench_recovery(
    orders: Annotated[int, typer.Option(min=1, help="certified orders to store first")] = 1_000_000,
    nodes: NODES = 3,
    callers: Annotated[int, typer.Option(min=1, max=32, help="callers per node")] = 1,
    output: OUTPUT = Path("BENCHMARKS.md"),
    as_json: JSON = False,
) -> None:
    """Fill a devnet with ORDERS certified orders, restart node 0: start to ready, RSS."""
    from devnet.bench_suite import recovery  # noqa: PLC0415

    row = _guarded(lambda: recovery(orders, nodes, callers))
    command = f"swapnet bench recovery --orders {orders} -n {nodes} --callers {callers}"
    _report("recovery", [row], command, output, as_json)


@bench_app.command("scale")
def bench_scale(
    sizes: Annotated[str, typer.Option(help="group sizes, comma separated")] = "5,10,20,50",
    seconds: SECONDS = 10.0,
    stewards: Annotated[
        int, typer.Option(min=0, max=64, help="at most this many stewards (0: all)")
    ] = 0,
    output: OUTPUT = Path("BENCHMARKS.md"),
    as_json: JSON = False,
) -> None:
    """Throughput and checkpoint time per group size, up to the first size this machine
    cannot hold (that row says why). With --stewards K, a group of N has K stewards and
    N - K members (the shape of a real trading group); by default all are stewards."""
    from devnet.bench_suite import scale  # noqa: PLC0415

    wanted = _sizes(sizes, low=2, high=64)
    cap = stewards or None
    rows = _guarded(lambda: scale(wanted, seconds, stewards=cap, say=_progress))
    command = f"swapnet bench scale --sizes {sizes} --seconds {seconds:g} --stewards {stewards}"
    _report("scale", rows, command, output, as_json)


@bench_app.command("frost")
def bench_frost(
    reps: Annotated[int, typer.Option(min=3, help="repetitions per measurement")] = 20,
    output: OUTPUT = Path("BENCHMARKS.md"),
    as_json: JSON = False,
) -> None:
    """FROST signing: one signer's round one and two, share verification, aggregation and
    a whole in-process t-of-n session for (3,4), (5,7), (14,20)."""
    from devnet.benchmarks import bench_frost as run  # noqa: PLC0415

    _report("frost", run(reps), f"swapnet bench frost --reps {reps}", output, as_json)


@bench_app.command("stewards")
def bench_stewards_command(
    reps: Annotated[int, typer.Option(min=1, help="repetitions per measurement")] = 3,
    sizes: Annotated[str, typer.Option(help="committee sizes, comma-separated")] = "4,7,20",
    live: Annotated[
        bool, typer.Option("--live", help="real processes: each change from ask to hand-over")
    ] = False,
    output: OUTPUT = Path("BENCHMARKS.md"),
    as_json: JSON = False,
) -> None:
    """Changing the committee (4, 7 and 20 stewards unless ``--sizes``): a reshare adding
    one, a refresh, repairing a lost share, checking a hand-over (the whole committee's
    computation in one process; the network adds a round trip per dealer or helper). With
    ``--live``: a devnet of real processes, each change timed from the operators' asks to
    every node in the next epoch (add, remove, refresh, repair a lost data dir)."""
    from devnet.bench_stewards import bench_live, bench_stewards  # noqa: PLC0415

    counts = _sizes(sizes, low=4, high=64)
    listed = ",".join(map(str, counts))
    if live:
        rows = _guarded(lambda: bench_live(counts))
        _report(
            "stewards-live",
            rows,
            f"swapnet bench stewards --live --sizes {listed}",
            output,
            as_json,
        )
        return
    command = f"swapnet bench stewards --reps {reps} --sizes {listed}"
    rows = _guarded(lambda: bench_stewards(reps, counts))
    _report("stewards", rows, command, output, as_json)


@bench_app.command("certify")
def bench_certify_command(
    orders: Annotated[int, typer.Option(min=1, help="orders to certify")] = 4000,
    batch: Annotated[int, typer.Option(min=1, max=512, help="orders per batch")] = 100,
    members: Annotated[int, typer.Option(min=1, max=16, help="members paying at once")] = 2,
    output: OUTPUT = Path("BENCHMARKS.md"),
    as_json: JSON = False,
) -> None:
    """The certification path alone: 4 stewards and MEMBERS members as libp2p hosts in ONE
    process (for profiling; the devnet benchmarks are the real numbers)."""
    from devnet.bench_certify import bench_certify  # noqa: PLC0415

    if orders < batch * members:
        fail("orders must be at least batch x members")
    rows = bench_certify(orders, batch, members)
    command = f"swapnet bench certify --orders {orders} --batch {batch} --members {members}"
    _report("certify", rows, command, output, as_json)
