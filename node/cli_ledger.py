"""``swapnet ledger``: run the devnet ledger, or read one (after ``bitcoin-cli`` and
``cast``): info, account, wallet, tx, block, events, and on a devnet mine and faucet.

Every reading command prints a table by default and the ledger's own JSON with
``--json``; a refusal or an unreachable ledger is one line on stderr and exit code 1.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from node.cli_node import JSON, fail, lone_error, show

ledger_app = typer.Typer(help="The devnet ledger: run one, or talk to one.")

URL = Annotated[
    str,
    typer.Option("--url", help="the ledger's URL", envvar="SWAPNET_LEDGER_URL"),
]


@ledger_app.command("run")
def ledger_run(
    data: Annotated[Path, typer.Option("--data", help="the chain's directory")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0 picks a free port")] = 0,
    block_interval: Annotated[
        float, typer.Option(min=0.0, help="seconds between blocks; 0: only on `mine`")
    ] = 1.0,
) -> None:
    """Run the devnet ledger until SIGTERM; prints its URL when ready."""
    import trio  # noqa: PLC0415 (imported on use: the CLI starts fast)

    from devnet.ledger_service import run_ledger  # noqa: PLC0415
    from storage.errors import StorageError  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def serve() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(
                partial(run_ledger, data, host=host, port=port, block_interval=block_interval)
            )
            print(f"swapnet ledger ready url={url} data={data}", flush=True)

    try:
        trio.run(serve)
    except BaseException as exc:  # unwrapped, then matched or re-raised
        inner = lone_error(exc)
        if isinstance(inner, StorageError):
            fail(str(inner))
        if isinstance(inner, OSError):
            fail(f"cannot listen on {host}:{port}: {inner.strerror or inner}")
        raise


def _with_ledger(url: str, action: Callable[[Any], Awaitable[Any]]) -> Any:
    import trio  # noqa: PLC0415

    from node.ledger_devnet import DevnetLedgerClient  # noqa: PLC0415
    from node.ledger_port import LedgerError, LedgerUnavailable  # noqa: PLC0415

    async def go() -> Any:
        client = DevnetLedgerClient(url)
        try:
            return await action(client)
        finally:
            await client.aclose()

    try:
        return trio.run(go)
    except LedgerError as exc:
        fail(f"ledger refused: {exc}")
    except LedgerUnavailable as exc:
        fail(f"ledger unavailable: {exc}")


def _key(text: str, what: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        fail(f"{what} must be hex")
    if len(key) != 32:
        fail(f"{what} must be 32 bytes of hex")
    return key


@ledger_app.command("info")
def ledger_info(url: URL, as_json: JSON = False) -> None:
    """The ledger's id, height, tip, fee rule, assets and faucet."""
    show(_with_ledger(url, lambda c: c.info()), as_json, "ledger")


@ledger_app.command("account")
def ledger_account(
    account: Annotated[str, typer.Argument(help="the account's public key, hex")],
    url: URL,
    as_json: JSON = False,
) -> None:
    """An account's balances and next nonce."""
    key = _key(account, "account")
    show(_with_ledger(url, lambda c: c.account(key)), as_json, "account")


@ledger_app.command("wallet")
def ledger_wallet(
    group_id: Annotated[str, typer.Argument(help="the group's id, hex (`group show`)")],
    url: URL,
    as_json: JSON = False,
) -> None:
    """A group wallet: its key, balances, deposits and open claims."""
    key = _key(group_id, "group id")
    show(_with_ledger(url, lambda c: c.wallet(key)), as_json, "group wallet")


@ledger_app.command("tx")
def ledger_tx(
    tx_id: Annotated[str, typer.Argument(help="the transaction id, hex")],
    url: URL,
    as_json: JSON = False,
) -> None:
    """Where a transaction is: pending, or included at a height."""
    key = _key(tx_id, "tx id")
    show(_with_ledger(url, lambda c: c.tx_status(key.hex())), as_json, "transaction")


@ledger_app.command("block")
def ledger_block(
    height: Annotated[int, typer.Argument(min=1)],
    url: URL,
    as_json: JSON = False,
) -> None:
    """A block: hash, parent, time, its transactions (hex) and the events they made."""
    block = _with_ledger(url, lambda c: c.block(height))
    if as_json:
        show(block, True)
        return
    summary = {k: v for k, v in block.items() if k not in ("txs", "events")}
    summary["txs"] = len(block["txs"])
    show(summary, False, f"block {height}")
    if block["events"]:
        show([_event_row(e) for e in block["events"]], False, "events")


@ledger_app.command("events")
def ledger_events(
    url: URL,
    start: Annotated[int, typer.Option("--from", min=1, help="first height")] = 1,
    as_json: JSON = False,
) -> None:
    """Events from a height on (one page): deposits, opens, settles and the exit game."""
    page = _with_ledger(url, lambda c: c.events(start))
    if as_json:
        show({"events": page.events, "next": page.next, "height": page.height}, True)
        return
    show([_event_row(e) for e in page.events], False, f"events from {start} (next {page.next})")


def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    return {k: (v[:16] if isinstance(v, str) and len(v) == 64 else v) for k, v in event.items()}


@ledger_app.command("mine")
def ledger_mine(
    url: URL,
    blocks: Annotated[int, typer.Argument(min=1, max=10_000)] = 1,
    as_json: JSON = False,
) -> None:
    """Make BLOCKS blocks now (devnet)."""
    height = _with_ledger(url, lambda c: c.mine(blocks))
    show({"height": height}, as_json, "mined")


@ledger_app.command("faucet")
def ledger_faucet(
    url: URL,
    account: Annotated[str, typer.Argument(help="the account's public key, hex")],
    asset: Annotated[str, typer.Argument()],
    amount: Annotated[int, typer.Argument(min=1)],
    as_json: JSON = False,
) -> None:
    """Send devnet funds from the faucet to ACCOUNT."""
    key = _key(account, "account")
    tx_id = _with_ledger(url, lambda c: c.faucet(key, asset, amount))
    show({"tx_id": tx_id}, as_json, "faucet")
