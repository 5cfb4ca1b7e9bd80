"""Who may call what on the control API: the cookie and scoped tokens.

Scopes are ordered: ``read`` (status-like reads: group, balance, history, badges),
``pay`` (read, and orders: pay, swap, quotes), ``admin`` (everything: joins, exits,
revokes, evidence, minting tokens). The node writes a fresh admin token to
``DATA/control.cookie`` (0600) at every start; the CLI on the same machine reads it by
itself. An operator mints scoped tokens for remote use (``swapnet token mint``); they are
kept in ``DATA/tokens.json`` (0600) as SHA-256 hashes only, so the file never holds a
usable token, and they survive restarts until revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any

from node.files import write_private

SCOPES = ("read", "pay", "admin")
TOKENS_FILE = "tokens.json"


class TokenError(ValueError):
    pass


def _digest(token: str) -> str:
    return hashlib.sha256(b"swapnet/1/token\x00" + token.encode()).hexdigest()


class TokenBook:
    def __init__(self, data_dir: Path, cookie: str) -> None:
        self.path = data_dir / TOKENS_FILE
        self.cookie = cookie
        self.minted: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text())
                if not isinstance(loaded, dict):
                    raise TokenError("not an object")
                self.minted = loaded
            except (ValueError, OSError) as exc:
                raise TokenError(f"{self.path} is not a token file: {exc}") from exc

    def scope_of(self, token: str) -> str | None:
        """The scope ``token`` grants, or None if it is no token of ours."""
        if hmac.compare_digest(token.encode(), self.cookie.encode()):
            return "admin"
        entry = self.minted.get(_digest(token))
        return None if entry is None else str(entry["scope"])

    @staticmethod
    def allows(granted: str, needed: str) -> bool:
        return SCOPES.index(granted) >= SCOPES.index(needed)

    def mint(self, scope: str, label: str) -> tuple[str, str]:
        """A new token of ``scope``; returns (token, id). Only its hash is stored."""
        if scope not in SCOPES:
            raise TokenError(f"scope must be one of {', '.join(SCOPES)}")
        if not label or len(label) > 64:
            raise TokenError("a label of 1 to 64 characters is required")
        token = f"swapnet-{scope}-{secrets.token_hex(24)}"
        digest = _digest(token)
        minted = {**self.minted, digest: {"scope": scope, "label": label, "at": int(time.time())}}
        write_private(self.path, json.dumps(minted, indent=1, sort_keys=True))
        self.minted = minted
        return token, digest[:16]

    def revoke(self, token_id: str) -> bool:
        matches = [d for d in self.minted if d.startswith(token_id)]
        if len(token_id) < 8 or len(matches) != 1:
            return False
        minted = {d: e for d, e in self.minted.items() if d != matches[0]}
        write_private(self.path, json.dumps(minted, indent=1, sort_keys=True))
        self.minted = minted
        return True

    def listing(self) -> list[dict[str, Any]]:
        return [{"id": d[:16], **e} for d, e in sorted(self.minted.items())]
