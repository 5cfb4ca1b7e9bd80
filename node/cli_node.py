"""The operator's commands against a running node, after lncli and lightning-cli: every one
is one HTTP call to the node's control API; human output (rich tables) by default,
``--json`` for scripts; an error is one line on stderr and exit code 1.

The node is found from its data dir: ``DATA/node.json`` (written when it is ready) gives
the API URL, ``DATA/control.cookie`` the admin token. ``--api`` and ``--token`` (or
``$SWAPNET_API``, ``$SWAPNET_TOKEN``) reach a node elsewhere with a scoped token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from node.numbers import ascii_int
from proto.handles import label

DATA = Annotated[
    Path,
    typer.Option("--data", envvar="SWAPNET_DATA", help="the node's data dir"),
]
API = Annotated[
    str | None,
    typer.Option("--api", envvar="SWAPNET_API", help="the node's API URL (default: from --data)"),
]
TOKEN = Annotated[
    str | None,
    typer.Option("--token", envvar="SWAPNET_TOKEN", help="a token (default: the cookie)"),
]
JSON = Annotated[bool, typer.Option("--json", help="print JSON")]


PENDING_EXIT = 3
"""The exit code of a command whose order is signed but not certified yet (the node's 202
``{"pending": true}``): not a failure, not an outcome; ask again with the same request id
(the node certifies it at most once) or look at ``history``."""


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr and a non-zero exit: every command's way to fail."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def lone_error(exc: BaseException) -> BaseException:
    """The single error inside nested exception groups (trio wraps errors of nurseries)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class NodeClient:
    def __init__(self, data: Path, api: str | None, token: str | None) -> None:
        if api is None:
            try:
                api = json.loads((data / "node.json").read_text())["api"]
            except (OSError, ValueError, KeyError):
                fail(f"no running node found in {data} (start it, or pass --api)")
        if token is None:
            try:
                token = (data / "control.cookie").read_text().strip()
            except OSError:
                fail(f"no cookie in {data} (pass --token)")
        self.api = str(api).rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        import httpx  # noqa: PLC0415

        try:
            reply = httpx.request(
                method,
                f"{self.api}{path}",
                json=body,
                headers={"authorization": f"Bearer {self.token}"},
                timeout=60,
            )
        except httpx.HTTPError as exc:
            fail(f"cannot reach the node at {self.api}: {exc}")
        try:
            answer = reply.json()
        except ValueError:
            fail(f"the node answered {reply.status_code} without JSON")
        if reply.status_code >= 400:
            fail(f"{answer.get('error', reply.status_code)}: {answer.get('detail', '')}")
        if reply.status_code == 202 and isinstance(answer, dict) and answer.get("pending"):
            typer.echo(json.dumps(answer, indent=2, sort_keys=True))
            typer.echo(f"pending: {answer.get('detail', 'signed, not certified yet')}", err=True)
            raise typer.Exit(PENDING_EXIT)
        return answer


def show(data: Any, as_json: bool, title: str = "") -> None:
    """JSON for scripts, or a table: a dict as key/value rows, a list of dicts as rows."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title or None, show_header=isinstance(data, list))
    if isinstance(data, list):
        columns = list(dict.fromkeys(k for row in data for k in row)) if data else ["(none)"]
        for c in columns:
            table.add_column(c)
        for row in data:
            table.add_row(*(_cell(row.get(c)) for c in columns))
    else:
        table.add_column("key", style="bold")
        table.add_column("value")
        for k, v in data.items():
            table.add_row(k, _cell(v))
    Console().print(table)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return "\n".join(_cell(v) for v in value) or "-"
    return "-" if value is None else str(value)


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:g}s ago"


def who(member: str, handles: dict[str, str], digits: int = 8) -> str:
    """A member as a table shows it: ``@alice (d83f0f0a)``; an id is never cut to a few
    digits without its handle beside it when it has one (``proto.handles.label``)."""
    return label(bytes.fromhex(member), {bytes.fromhex(m): h for m, h in handles.items()}, digits)


def _steward_row(s: dict[str, Any], handles: dict[str, str]) -> dict[str, Any]:
    return {
        "steward": who(s["steward"], handles),
        "last vote": _ago(s["last_vote_seconds"]),
        "last checkpoint share": _ago(s["last_share_seconds"]),
        "last seen": _ago(s["last_seen_seconds"]),
        "signing": "NOT SIGNING" if s["not_signing"] else "yes",
        "stalls": s["stalls"],
    }


def _stall_row(s: dict[str, Any], handles: dict[str, str]) -> dict[str, Any]:
    return {
        "round": s["what"],
        "waited for": ", ".join(who(w, handles) for w in s["waited_for"]),
        "why": s["why"],
        "when": _ago(s["seconds_ago"]),
    }


def asset_amount(text: str, what: str) -> tuple[str, int]:
    """``ASSET:AMOUNT`` (or ``ASSET=AMOUNT``)."""
    for sep in (":", "="):
        if sep in text:
            asset, _, amount = text.partition(sep)
            value = ascii_int(amount)
            if value is not None and value > 0:
                return asset.strip().upper(), value
    fail(f"{what}: expected ASSET:AMOUNT, got {text!r}")


def register(app: typer.Typer, group_app: typer.Typer) -> None:  # noqa: PLR0915 (one each)
    """Add the node commands to the CLI."""

    @app.command()
    def getinfo(
        data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
    ) -> None:
        """Who the node is: member id, peer id, addresses, API, group."""
        show(NodeClient(data, api, token).call("GET", "/v1/getinfo"), as_json, "node")

    @app.command()
    def status(
        data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
    ) -> None:
        """The node's status: group, checkpoint, orders at risk, notary, ledger."""
        client = NodeClient(data, api, token)
        s = client.call("GET", "/status")
        if as_json:
            show(s, True)
            return
        g = s.get("group") or {}
        handles = g.get("handles", {})
        summary = {
            "member": who(s["member"], handles, 64),
            "ready": s["ready"],
            "ledger height": s["ledger_height"],
            "group": g.get("name"),
            "checkpoint": g.get("checkpoint", {}).get("number"),
            "checkpoint age (s)": g.get("checkpoint", {}).get("age_seconds"),
            "orders at risk": g.get("orders_since_checkpoint"),
            "members (online)": f"{g.get('members')} ({g.get('members_online')})",
            "frozen": [who(m, handles) for m in g.get("frozen", [])],
            "open claims": len(g.get("notary", {}).get("open_claims", [])),
            "banned peers": s["banned"],
        }
        health = g.get("stewards")
        if health:
            margin = health["margin"]
            summary["stall margin"] = (
                f"{margin} (stalled)"
                if margin < 0
                else f"{margin} (one failure from stalling)"
                if margin == 0
                else str(margin)
            )
        show(summary, False, "status")
        if health:
            show([_steward_row(s, handles) for s in health["stewards"]], False, "stewards")
            if health["stalls"]:
                show([_stall_row(s, handles) for s in health["stalls"]], False, "stalled rounds")

    @app.command()
    def members(
        data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
    ) -> None:
        """The group's members: handle, id, balances (pay one as @handle)."""
        g = NodeClient(data, api, token).call("GET", "/status").get("group") or {}
        handles = g.get("handles", {})
        rows = [
            {
                "handle": f"@{handles[m]}" if m in handles else "-",
                "member": m if as_json else m[:16],
                "balances": g["balances"][m],
                "state": "frozen" if m in g.get("frozen", []) else "active",
            }
            for m in sorted(g.get("balances", {}), key=lambda m: (handles.get(m, "~"), m))
        ]
        show(rows, as_json, "members")

    @app.command()
    def balance(
        data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
    ) -> None:
        """This trader's balances in the group."""
        b = NodeClient(data, api, token).call("GET", "/v1/balance")
        if as_json:
            show(b, True)
            return
        show([{"asset": a, "amount": n} for a, n in b["balances"].items()], False, "balance")

    @app.command()
    def history(
        data: DATA = Path("data"),
        api: API = None,
        token: TOKEN = None,
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
        as_json: JSON = False,
    ) -> None:
        """This trader's last certified orders, newest first."""
        answer = NodeClient(data, api, token).call("GET", f"/v1/history?limit={limit}")
        orders, handles = answer["orders"], answer.get("handles", {})
        if as_json:
            show(orders, True)
            return
        rows = [
            {
                "seq": o["seq"],
                "kind": o["kind"],
                "legs": [
                    " ".join(
                        (who(g["from"], handles), "->", who(g["to"], handles), str(g["amount"]))
                    )
                    + f" {g['asset']}"
                    for g in o["legs"]
                ],
            }
            for o in orders
        ]
        show(rows, False, "history")

    @app.command()
    def pay(
        to: Annotated[
            str, typer.Argument(help="the payee: @handle, a unique hex prefix or a member id")
        ],
        amount: Annotated[str, typer.Argument(help="ASSET:AMOUNT, e.g. USD:100")],
        data: DATA = Path("data"),
        api: API = None,
        token: TOKEN = None,
        request_id: Annotated[str | None, typer.Option(help="an idempotency key")] = None,
        as_json: JSON = False,
    ) -> None:
        """Pay another member; waits for the certificate."""
        asset, n = asset_amount(amount, "amount")
        body: dict[str, Any] = {"to": to, "asset": asset, "amount": n}
        if request_id is not None:
            body["request_id"] = request_id
        show(NodeClient(data, api, token).call("POST", "/v1/pay", body), as_json, "payment")

    @app.command()
    def swap(
        counterparty: Annotated[
            str, typer.Argument(help="the maker: @handle, a unique hex prefix or a member id")
        ],
        give: Annotated[str, typer.Option(help="what we give, ASSET:AMOUNT")],
        get: Annotated[str, typer.Option(help="what we get, ASSET:AMOUNT")],
        data: DATA = Path("data"),
        api: API = None,
        token: TOKEN = None,
        as_json: JSON = False,
    ) -> None:
        """Take a maker's standing quote: one order both sides sign."""
        (ga, gn), (ra, rn) = asset_amount(give, "--give"), asset_amount(get, "--get")
        body = {
            "counterparty": counterparty,
            "give": {"asset": ga, "amount": gn},
            "get": {"asset": ra, "amount": rn},
        }
        show(NodeClient(data, api, token).call("POST", "/v1/swap", body), as_json, "swap")

    @app.command()
    def quote(
        give: Annotated[str, typer.Option(help="what we give, ASSET:AMOUNT")],
        get: Annotated[str, typer.Option(help="what we get, ASSET:AMOUNT")],
        fills: Annotated[int, typer.Option(min=1, help="how many takers may fill it")] = 1,
        counterparty: Annotated[
            str | None, typer.Option(help="only this member may take it (@handle or hex)")
        ] = None,
        data: DATA = Path("data"),
        api: API = None,
        token: TOKEN = None,
        as_json: JSON = False,
    ) -> None:
        """Post a standing quote as a maker: `swap` from another member takes it."""
        (ga, gn), (ra, rn) = asset_amount(give, "--give"), asset_amount(get, "--get")
        body: dict[str, Any] = {
            "give": {"asset": ga, "amount": gn},
            "get": {"asset": ra, "amount": rn},
            "fills": fills,
        }
        if counterparty is not None:
            body["counterparty"] = counterparty
        show(NodeClient(data, api, token).call("POST", "/v1/swap/quote", body), as_json, "quote")

    @app.command()
    def revoke(
        data: DATA = Path("data"),
        api: API = None,
        token: TOKEN = None,
        checkpoint: Annotated[int | None, typer.Option(help="default: the newest")] = None,
        as_json: JSON = False,
    ) -> None:
        """Leave unilaterally: claim our balance on the ledger under a checkpoint."""
        body = {} if checkpoint is None else {"checkpoint": checkpoint}
        show(NodeClient(data, api, token).call("POST", "/v1/revoke", body), as_json, "revoke")

    @group_app.command("show")
    def group_show(
        data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
    ) -> None:
        """The group this node is in: genesis fields and members."""
        from proto.codec import decode  # noqa: PLC0415
        from proto.genesis import Genesis  # noqa: PLC0415

        client = NodeClient(data, api, token)
        g = decode(bytes.fromhex(client.call("GET", "/v1/group")["genesis"]), Genesis)
        s = client.call("GET", "/status").get("group") or {}
        info = {
            "group_id": g.group_id().hex(),
            "name": g.name,
            "stewards": [m.hex() for m in g.stewards],
            "threshold": g.threshold,
            "wallet_key": g.wallet_key.hex(),
            "assets": list(g.assets),
            "challenge_window": g.challenge_window,
            "revoke_fee": g.revoke_fee,
            "checkpoint_interval": g.checkpoint_interval,
            "refresh_every": g.refresh_every,
            "terms_hash": g.terms_hash.hex(),
            "members": sorted(s.get("balances", {})),
        }
        show(info, as_json, "group")

    @group_app.command("join")
    def group_join(
        deposit: Annotated[list[str], typer.Option(help="ASSET:AMOUNT to deposit, each")],
        handle: Annotated[
            str | None, typer.Option(help="the handle to go by (a-z0-9_; a member has one)")
        ] = None,
        data: DATA = Path("data"),
        api: API = None,
        token: TOKEN = None,
        prequal: Annotated[list[Path] | None, typer.Option(help="a badge to show, each")] = None,
        as_json: JSON = False,
    ) -> None:
        """Join the group: deposit on the ledger and send our signed terms (and badges)."""
        deposits = dict(asset_amount(d, "--deposit") for d in deposit)
        try:
            badges = [p.read_bytes().hex() for p in prequal or []]
        except OSError as exc:
            fail(f"cannot read a prequal: {exc}")
        body: dict[str, object] = {"deposits": deposits, "prequals": badges}
        if handle is not None:
            body["handle"] = handle.removeprefix("@")
        show(NodeClient(data, api, token).call("POST", "/v1/join", body), as_json, "join")

    @group_app.command("exit")
    def group_exit(
        data: DATA = Path("data"),
        api: API = None,
        token: TOKEN = None,
        pay_to: Annotated[str | None, typer.Option(help="ledger account (default: ours)")] = None,
        as_json: JSON = False,
    ) -> None:
        """Leave cooperatively: the stewards settle our final balance on the ledger."""
        body = {} if pay_to is None else {"pay_to": pay_to}
        show(NodeClient(data, api, token).call("POST", "/v1/exit", body), as_json, "exit")

    token_app = typer.Typer(help="Scoped tokens (read, pay, admin) for remote control.")
    app.add_typer(token_app, name="token")

    @token_app.command("mint")
    def token_mint(
        scope: Annotated[str, typer.Option(help="read, pay or admin")],
        label: Annotated[str, typer.Option(help="who or what it is for")],
        data: DATA = Path("data"),
        api: API = None,
        token: TOKEN = None,
        as_json: JSON = False,
    ) -> None:
        """Mint a token (shown once; the node keeps only its hash)."""
        body = {"scope": scope, "label": label}
        show(NodeClient(data, api, token).call("POST", "/v1/tokens", body), as_json, "token")

    @token_app.command("list")
    def token_list(
        data: DATA = Path("data"), api: API = None, token: TOKEN = None, as_json: JSON = False
    ) -> None:
        """The minted tokens (ids, scopes, labels; never the tokens)."""
        show(NodeClient(data, api, token).call("GET", "/v1/tokens")["tokens"], as_json, "tokens")

    @token_app.command("revoke")
    def token_revoke(
        token_id: Annotated[str, typer.Argument(help="the id from `token list`")],
        data: DATA = Path("data"),
        api: API = None,
        token: TOKEN = None,
        as_json: JSON = False,
    ) -> None:
        """Revoke a minted token."""
        client = NodeClient(data, api, token)
        show(client.call("DELETE", f"/v1/tokens/{token_id}"), as_json, "revoked")
