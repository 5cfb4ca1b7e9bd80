"""The node's configuration: a TOML file, every key of which a command-line flag can
override (flags win). Validation is strict: an unknown key, a wrong type or a bad value
is a ``ConfigError`` that names the key, and nothing starts.

Keys (all optional except ``data_dir``):

| key | type | default | meaning |
| --- | --- | --- | --- |
| data_dir | path | (required) | where the node keeps its LevelDB store |
| key_file | path | data_dir/trader.key | the encrypted trader key (``swapnet init``) |
| passphrase_file | path | none | file holding the key's passphrase (else $SWAPNET_PASSPHRASE) |
| listen | list of multiaddrs | ["/ip4/127.0.0.1/tcp/0"] | libp2p listen addresses |
| bootstrap | list of multiaddrs | [] | peers to dial at start, each ending in /p2p/<peer id> |
| ledger_url | URL | "" | the ledger's HTTP API (an EVM node's JSON-RPC for ``evm``) |
| ledger | text | "devnet" | ``devnet`` (swapnet's ledger) or ``evm`` (the group wallet contract) |
| evm_contract | 0x + 40 hex | none | the group wallet contract (required for ``evm``) |
| evm_confirmations | 0..1000 | 3 | blocks an event must be under before it counts (``evm``) |
| api_listen | host:port | "127.0.0.1:0" | the status and control API |
| log_level | text | "info" | debug, info, warning or error |
| group_spec | path | none | a steward's ``GroupSpec`` file: form that group (DKG) |
| genesis_file | path | none | a joining member's copy of the group's genesis |
| terms_file | path | none | the group's terms text (must hash to the genesis's terms hash) |

Relative paths in a file are relative to the file's directory; in flags, to the working
directory. ``evm_confirmations`` is for a chain that reorganizes (3 by default; the devnet's
anvil, which never does, runs with 0); it must stay under half the group's challenge window,
or the notary would see a revoke too late to crawl it back (the node refuses to start).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from multiaddr import Multiaddr

from node.numbers import ascii_int
from proto.errors import SwapnetError

LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(SwapnetError):
    pass


@dataclass(frozen=True)
class NodeConfig:
    data_dir: Path
    key_file: Path
    passphrase_file: Path | None
    listen: tuple[str, ...]
    bootstrap: tuple[str, ...]
    ledger_url: str
    api_listen: tuple[str, int]
    log_level: str
    group_spec: Path | None = None
    genesis_file: Path | None = None
    terms_file: Path | None = None
    ledger: str = "devnet"
    evm_contract: bytes = b""
    evm_confirmations: int = 0
    webhook_url: str = ""
    """Where alerts are posted (``node.alerts``), signed; empty: nowhere."""


LEDGERS = ("devnet", "evm")
KEYS = (
    "data_dir",
    "key_file",
    "passphrase_file",
    "listen",
    "bootstrap",
    "ledger_url",
    "api_listen",
    "log_level",
    "group_spec",
    "genesis_file",
    "terms_file",
    "ledger",
    "evm_contract",
    "evm_confirmations",
    "webhook_url",
)
DEFAULT_CONFIRMATIONS = 3
MAX_URL = 2048
MAX_CONFIRMATIONS = 1000


def load_config(path: Path | None, overrides: Mapping[str, Any] | None = None) -> NodeConfig:
    """Read ``path`` (if given), apply ``overrides`` (flags; None values are ignored), and
    validate everything."""
    values: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            values = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"no config file at {path}") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        base = path.parent
        values = {k: (v, base) for k, v in values.items()}
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = (value, Path.cwd())
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    if "data_dir" not in values:
        raise ConfigError("data_dir is required")
    ledger = values.get("ledger", ("devnet",))[0]
    if (ledger == "evm") != ("evm_contract" in values):
        raise ConfigError('evm_contract is required with ledger = "evm", and only then')
    if ledger != "evm" and "evm_confirmations" in values:
        raise ConfigError('evm_confirmations is for ledger = "evm" only')
    data_dir = _path(values, "data_dir")
    assert data_dir is not None
    key_file = _path(values, "key_file") or data_dir / "trader.key"
    return NodeConfig(
        data_dir=data_dir,
        key_file=key_file,
        passphrase_file=_path(values, "passphrase_file"),
        listen=_addrs(values, "listen", ("/ip4/127.0.0.1/tcp/0",), need_peer=False),
        bootstrap=_addrs(values, "bootstrap", (), need_peer=True),
        ledger_url=_url(values),
        webhook_url=_url(values, "webhook_url"),
        api_listen=_host_port(values),
        log_level=_choice(values, "log_level", "info", LOG_LEVELS),
        group_spec=_path(values, "group_spec"),
        genesis_file=_path(values, "genesis_file"),
        terms_file=_path(values, "terms_file"),
        ledger=_choice(values, "ledger", "devnet", LEDGERS),
        evm_contract=_contract(values),
        evm_confirmations=_confirmations(values) if ledger == "evm" else 0,
    )


def _get(values: dict[str, Any], key: str) -> tuple[Any, Path] | None:
    found: tuple[Any, Path] | None = values.get(key)
    return found


def _path(values: dict[str, Any], key: str) -> Path | None:
    found = _get(values, key)
    if found is None:
        return None
    value, base = found
    if not isinstance(value, str | Path) or not str(value):
        raise ConfigError(f"{key} must be a path")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _addrs(
    values: dict[str, Any], key: str, default: tuple[str, ...], *, need_peer: bool
) -> tuple[str, ...]:
    found = _get(values, key)
    if found is None:
        return default
    value = found[0]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a list of multiaddrs")
    for addr in value:
        try:
            parsed = Multiaddr(addr)
        except Exception as exc:
            raise ConfigError(f"{key}: {addr!r} is not a multiaddr") from exc
        protocols = [p.name for p in parsed.protocols()]
        if "tcp" not in protocols:
            raise ConfigError(f"{key}: {addr!r} has no /tcp/ part")
        if need_peer and "p2p" not in protocols:
            raise ConfigError(f"{key}: {addr!r} must end in /p2p/<peer id>")
    return tuple(value)


def _url(values: dict[str, Any], key: str = "ledger_url") -> str:
    found = _get(values, key)
    if found is None:
        return ""
    value = checked_url(found[0], key)
    return value.rstrip("/") if key == "ledger_url" else value


_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?"
URL_PATTERN = (
    r"^https?://(?:[A-Za-z0-9._~!$&'()*+,;=:-]{1,256}@)?"
    + _HOST
    + r"(?::"
    + _PORT
    + r")?(?:[/?#][!-~]*)?$"
)
"""Every URL swapnet takes (the ledger's, the webhook's): http(s), optional user info, a
host that is a DNS name or an IPv4 address (no IPv6 literal: name it), an optional port
of 1..65535, then printable ASCII. The control API's description says the same pattern, so
a URL it calls valid is one the node takes (schemathesis checks that both agree)."""
_URL = re.compile(URL_PATTERN)


def checked_url(value: object, key: str) -> str:
    """``value`` if it is a URL of ``URL_PATTERN`` httpx reads (``ConfigError`` else)."""
    if (
        not isinstance(value, str)
        or not value.startswith(("http://", "https://"))
        or len(value) > MAX_URL
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        raise ConfigError(f"{key} must be an http:// or https:// URL")
    if not _URL.fullmatch(value):
        raise ConfigError(
            f"{key} names no host (a DNS name or an IPv4 address, then an optional port "
            "1..65535 and path)"
        )
    try:
        httpx.URL(value)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise ConfigError(f"{key} is not a URL: {exc}") from exc
    return value


def _contract(values: dict[str, Any]) -> bytes:
    found = _get(values, "evm_contract")
    if found is None:
        return b""
    value = found[0]
    if (
        not isinstance(value, str)
        or len(value) != 42
        or not value.startswith("0x")
        or any(c not in "0123456789abcdefABCDEF" for c in value[2:])
    ):
        raise ConfigError("evm_contract must be 0x and 40 hex digits")
    return bytes.fromhex(value[2:])


def _confirmations(values: dict[str, Any]) -> int:
    found = _get(values, "evm_confirmations")
    if found is None:
        return DEFAULT_CONFIRMATIONS
    value = found[0]
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str):
        number = ascii_int(value)
    if number is None or not 0 <= number <= MAX_CONFIRMATIONS:
        raise ConfigError(f"evm_confirmations must be a whole number 0..{MAX_CONFIRMATIONS}")
    return number


def _host_port(values: dict[str, Any]) -> tuple[str, int]:
    found = _get(values, "api_listen")
    if found is None:
        return ("127.0.0.1", 0)
    value = found[0]
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError("api_listen must be host:port")
    host, _, port = value.rpartition(":")
    number = ascii_int(port)
    if not host or number is None or not 0 <= number <= 65535:
        raise ConfigError(f"api_listen: {value!r} is not host:port with a port 0..65535")
    return (host.strip("[]"), number)


def _choice(values: dict[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    found = _get(values, key)
    if found is None:
        return default
    if found[0] not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}")
    return str(found[0])
