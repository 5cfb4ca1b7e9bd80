"""The ``swapnet`` command line (typer). Errors are one clear line on stderr and a
non-zero exit; ``--json`` gives machine-readable output."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

import node
import proto.merkle
import proto.orders
import proto.state
import proto.votes
from node.cli_alerts import alerts_app
from node.cli_bench import bench_app
from node.cli_devnet import devnet_app
from node.cli_exit_game import evidence_app, prequal_app
from node.cli_ledger import ledger_app
from node.cli_node import fail, lone_error
from node.cli_node import register as register_node_commands
from node.cli_pit import register as register_pit_commands
from node.cli_stewards import steward_app
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


@app.command()
def init(
    data: Annotated[Path, typer.Option("--data", help="the node's data directory")],
    key_file: Annotated[
        Path | None, typer.Option(help="where to write the key (default DATA/trader.key)")
    ] = None,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="read the passphrase from this file")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create this trader's Ed25519 key, encrypted with a passphrase (argon2id + SecretBox,
    mode 0600). The passphrase comes from --passphrase-file, $SWAPNET_PASSPHRASE, or a
    prompt."""
    from nacl.signing import SigningKey  # noqa: PLC0415

    from node.keystore import KeystoreError, passphrase_from, save_key  # noqa: PLC0415
    from node.p2p import peer_id_of  # noqa: PLC0415

    path = key_file or data / "trader.key"
    try:
        if path.exists():
            fail(f"{path} already exists; refusing to overwrite a key")
        passphrase = passphrase_from(passphrase_file)
        if passphrase is None:
            if not sys.stdin.isatty():
                fail("no passphrase: use --passphrase-file or $SWAPNET_PASSPHRASE")
            passphrase = typer.prompt(
                "Passphrase", hide_input=True, confirmation_prompt=True
            ).encode()
        key = SigningKey.generate()
        save_key(path, key, passphrase)
    except KeystoreError as exc:
        fail(str(exc))
    member = bytes(key.verify_key)
    info = {"member_id": member.hex(), "peer_id": str(peer_id_of(member)), "key_file": str(path)}
    if as_json:
        typer.echo(json.dumps(info))
    else:
        for name, value in info.items():
            typer.echo(f"{name}: {value}")


@app.command()
def run(
    config: Annotated[Path | None, typer.Option("--config", help="the node's TOML file")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="the node's data directory")] = None,
    key_file: Annotated[Path | None, typer.Option(help="the encrypted trader key")] = None,
    passphrase_file: Annotated[Path | None, typer.Option(help="the key's passphrase")] = None,
    listen: Annotated[list[str] | None, typer.Option(help="libp2p listen multiaddr")] = None,
    bootstrap: Annotated[list[str] | None, typer.Option(help="peer multiaddr /p2p/..")] = None,
    ledger_url: Annotated[str | None, typer.Option(help="the ledger's HTTP API")] = None,
    api_listen: Annotated[str | None, typer.Option(help="host:port of the node's API")] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning, error")] = None,
    group_spec: Annotated[Path | None, typer.Option(help="form this group (stewards)")] = None,
    genesis_file: Annotated[Path | None, typer.Option(help="join this group")] = None,
    terms_file: Annotated[Path | None, typer.Option(help="the group's terms text")] = None,
    ledger: Annotated[str | None, typer.Option(help="devnet or evm")] = None,
    evm_contract: Annotated[str | None, typer.Option(help="the group wallet contract")] = None,
    evm_confirmations: Annotated[
        str | None, typer.Option(help="blocks an EVM event must be under (default 3)")
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="post signed alerts here (DATA/webhook.secret)")
    ] = None,
) -> None:
    """Run the node until SIGTERM or SIGINT. Every config key is also a flag (flags win)."""
    import trio  # noqa: PLC0415

    from node.config import ConfigError, load_config  # noqa: PLC0415
    from node.keystore import KeystoreError, load_key, passphrase_from  # noqa: PLC0415
    from node.runtime import run_node  # noqa: PLC0415

    overrides = {
        "data_dir": data_dir,
        "key_file": key_file,
        "passphrase_file": passphrase_file,
        "listen": listen or None,
        "bootstrap": bootstrap or None,
        "ledger_url": ledger_url,
        "api_listen": api_listen,
        "log_level": log_level,
        "group_spec": group_spec,
        "genesis_file": genesis_file,
        "terms_file": terms_file,
        "ledger": ledger,
        "evm_contract": evm_contract,
        "evm_confirmations": evm_confirmations,
        "webhook_url": webhook_url,
    }
    try:
        cfg = load_config(config, overrides)
        if not cfg.ledger_url:
            fail("ledger_url is required")
        passphrase = passphrase_from(cfg.passphrase_file)
        if passphrase is None:
            fail("no passphrase: set passphrase_file or $SWAPNET_PASSPHRASE")
        key = load_key(cfg.key_file, passphrase)
    except (ConfigError, KeystoreError) as exc:
        fail(str(exc))
    try:
        trio.run(run_node, cfg, key)
    except BaseException as exc:
        err = lone_error(exc)
        if isinstance(err, KeyboardInterrupt):
            raise SystemExit(130) from None
        if isinstance(err, SystemExit):
            raise err from None
        logging.getLogger("swapnet").exception("node failed")
        fail(f"node failed: {err}")


group_app = typer.Typer(help="Groups: describe one to form, show what a node holds.")
app.add_typer(group_app, name="group")
register_node_commands(app, group_app)
register_pit_commands(app)
app.add_typer(devnet_app, name="devnet")
app.add_typer(prequal_app, name="prequal")
app.add_typer(evidence_app, name="evidence")
app.add_typer(steward_app, name="steward")
app.add_typer(alerts_app, name="alerts")


def _stewards(given: list[str]) -> dict[bytes, str]:
    """``--steward HANDLE=MEMBER_ID`` values: member id -> handle (``ValueError`` in
    words a person can act on)."""
    from proto.handles import handle_problem  # noqa: PLC0415

    out: dict[bytes, str] = {}
    for value in given:
        handle, sep, hex_id = value.partition("=")
        handle = handle.removeprefix("@")
        if not sep:
            raise ValueError(f"--steward {value[:80]}: give HANDLE=MEMBER_ID")
        problem = handle_problem(handle)
        if problem is not None:
            raise ValueError(f"--steward {value[:80]}: {problem}")
        member = bytes.fromhex(hex_id)
        if member in out or handle in out.values():
            raise ValueError(f"--steward {value[:80]}: named twice")
        out[member] = handle
    return out


@group_app.command("create")
@group_app.command("spec", hidden=True)
def group_spec_cmd(
    out: Annotated[Path, typer.Option("--out", help="where to write the spec file")],
    name: Annotated[str, typer.Option(help="the group's name")],
    steward: Annotated[
        list[str], typer.Option(help="a steward as HANDLE=MEMBER_ID (its id in hex), each")
    ],
    ledger_url: Annotated[str, typer.Option(help="the ledger the group lives on")],
    asset: Annotated[list[str], typer.Option(help="an asset the group holds, each")],
    terms: Annotated[Path, typer.Option(help="the terms text every member signs")],
    challenge_window: Annotated[int, typer.Option(help="blocks a revoke waits")] = 20,
    revoke_fee: Annotated[int, typer.Option(help="fee-asset units a premature revoke costs")] = 100,
    checkpoint_interval: Annotated[int, typer.Option(help="seconds between checkpoints")] = 5,
    max_premature_revokes: Annotated[
        int, typer.Option(min=0, help="admission: premature revokes allowed on prequals")
    ] = 0,
    max_pit_defaults: Annotated[
        int, typer.Option(min=0, help="admission: pit defaults allowed on prequals")
    ] = 0,
    trusted_wallet: Annotated[
        list[str] | None, typer.Option(help="admission: a wallet key whose badges count, each")
    ] = None,
    min_prequals: Annotated[
        int,
        typer.Option(
            min=0, max=8, help="admission: prequals a joiner must show (needs --trusted-wallet)"
        ),
    ] = 0,
    max_prequal_age: Annotated[
        int,
        typer.Option(
            min=0, help="admission: blocks a prequal may be old (0: any; >0 with --min-prequals)"
        ),
    ] = 0,
    pit_numeraire: Annotated[
        str, typer.Option(help="the S&L pit's numeraire, one of the assets ('': no pit)")
    ] = "",
    pit_maintenance_bps: Annotated[
        int, typer.Option(min=10_000, help="pit: collateral ratio below which a call comes")
    ] = 12_000,
    pit_grace: Annotated[int, typer.Option(min=0, help="pit: checkpoints a call lasts")] = 2,
    pit_mark_fresh: Annotated[
        int, typer.Option(min=1, help="pit: checkpoints a member's mark counts for")
    ] = 30,
    pit_outlier_bps: Annotated[
        int, typer.Option(min=0, help="pit: marks this far from the median are dropped")
    ] = 2_000,
    pit_max_rate_bps: Annotated[
        int, typer.Option(min=0, help="pit: the highest rate an offer may ask, bps a day")
    ] = 100,
    pit_mark_quorum: Annotated[
        int,
        typer.Option(
            min=1, help="pit: q; a group mark needs 2q-1 members' marks, fewer than q liars fail"
        ),
    ] = 2,
    pit_mark_step_bps: Annotated[
        int, typer.Option(min=1, help="pit: how far a group mark may move per checkpoint")
    ] = 5_000,
    refresh_every: Annotated[
        int,
        typer.Option(
            min=0, max=2**32 - 1, help="checkpoints between share refreshes (0: on demand only)"
        ),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a group: write the GroupSpec (name, stewards, assets, ledger, exit-game
    parameters, terms hash, admission policy, S&L pit rules) that every steward then runs with
    ``swapnet run --group-spec FILE``; their DKG turns it into the genesis."""
    import httpx  # noqa: PLC0415

    from proto.formation import GroupSpec  # noqa: PLC0415
    from proto.genesis import AdmissionPolicy, terms_hash  # noqa: PLC0415
    from proto.pit import PIT_OFF, PitPolicy  # noqa: PLC0415

    try:
        stewards = _stewards(steward)
        info = httpx.get(f"{ledger_url.rstrip('/')}/info", timeout=10).json()
        spec = GroupSpec(
            name,
            tuple(sorted(stewards)),
            tuple(sorted(asset)),
            bytes.fromhex(info["ledger_id"]),
            challenge_window,
            revoke_fee,
            checkpoint_interval,
            terms_hash(terms.read_text()),
            AdmissionPolicy(
                max_premature_revokes,
                max_pit_defaults,
                tuple(sorted(bytes.fromhex(w) for w in trusted_wallet or [])),
                min_prequals,
                max_prequal_age,
            ),
            PitPolicy(
                pit_numeraire.upper(),
                pit_maintenance_bps,
                pit_grace,
                pit_mark_fresh,
                pit_outlier_bps,
                pit_max_rate_bps,
                pit_mark_quorum,
                pit_mark_step_bps,
            )
            if pit_numeraire
            else PIT_OFF,
            refresh_every=refresh_every,
            steward_handles=tuple(stewards[s] for s in sorted(stewards)),
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach the ledger: {exc}")
    except (OSError, ValueError, KeyError) as exc:
        fail(f"cannot make the spec: {exc}")
    out.write_bytes(spec.encode())
    ceremony = spec.ceremony().hex()
    if as_json:
        typer.echo(
            json.dumps({"spec": str(out), "ceremony": ceremony, "threshold": spec.threshold})
        )
    else:
        typer.echo(
            f"wrote {out}: {len(spec.stewards)} stewards, threshold {spec.threshold}, "
            f"ceremony {ceremony[:16]}; give it to every steward "
            "(swapnet run --group-spec FILE)"
        )


app.add_typer(bench_app, name="bench")
app.add_typer(ledger_app, name="ledger")


def main() -> None:
    app()
