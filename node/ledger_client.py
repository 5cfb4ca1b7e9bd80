"""The ledger interface the node uses, and its devnet implementation.

What a ledger must offer swapnet (any chain plugged in implements ``LedgerClient``):

* accounts keyed by Ed25519 public keys, with integer balances per asset and a per-sender
  nonce, and signed transactions that apply at most once;
* group wallets opened by a wallet key (a FROST key whose signatures are plain Ed25519):
  deposit (a join), settle (an immediate group-signed payout over a checkpoint number),
  revoke (a member's claim from a group-signed checkpoint and a merkle proof, paid only
  after a challenge window counted in blocks), crawl back (anyone, inside the window, with
  a strictly newer checkpoint; the revoker's bond goes to whoever crawled back when the
  stale checkpoint showed more), finalize (anyone, after the window);
* the invariants of ``proto.ledger.state``: supply conserved, no wallet overdrawn, no older
  checkpoint over a newer one, no checkpoint reused;
* an event stream readable from any height, so a notary that was offline resumes exactly
  where it left off (``events(from_height)`` returns ``next``, where to ask next).

Errors: a refused transaction raises ``LedgerError`` with the ledger's machine-readable
code (``bad-signature``, ``replayed``, ``window-closed``, ...); an unreachable ledger
raises ``LedgerUnavailable``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx

from proto.errors import SwapnetError
from proto.genesis import Genesis
from proto.ledger.txs import SignedTx

MINE_PER_CALL = 10
"""The devnet ledger's cap on blocks per ``/mine`` call."""


class LedgerError(SwapnetError):
    def __init__(self, code: str, detail: str, status: int) -> None:
        self.code, self.detail, self.status = code, detail, status
        super().__init__(f"{code}: {detail}")


class LedgerUnavailable(SwapnetError):
    """The ledger did not answer."""


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]
    next: int
    height: int


def wallet_problem(genesis: Genesis, wallet: dict[str, Any]) -> str | None:
    """What makes the wallet a ledger shows (``LedgerClient.wallet``) not our genesis's,
    or None. A node checks this before it calls its wallet open or deposits into it."""
    gid = genesis.group_id().hex()
    expected = {
        "group_id": gid,
        "genesis_hash": gid,
        "key": genesis.wallet_key.hex(),
        "assets": list(genesis.assets),
        "challenge_window": genesis.challenge_window,
        "revoke_fee": genesis.revoke_fee,
    }
    for name, value in expected.items():
        if wallet.get(name) != value:
            return f"the ledger's wallet has another {name} than our genesis"
    return None


class LedgerClient(ABC):
    @abstractmethod
    async def info(self) -> dict[str, Any]: ...

    @abstractmethod
    async def submit(self, signed: SignedTx) -> str:
        """Submit a transaction; return its id (hex) once the ledger holds it durably."""

    @abstractmethod
    async def tx_status(self, tx_id: str) -> dict[str, Any]: ...

    @abstractmethod
    async def account(self, key: bytes) -> dict[str, Any]: ...

    @abstractmethod
    async def wallet(self, group_id: bytes) -> dict[str, Any]: ...

    @abstractmethod
    async def block(self, height: int) -> dict[str, Any]: ...

    @abstractmethod
    async def events(self, from_height: int, wait: float = 0) -> EventPage: ...

    @abstractmethod
    async def aclose(self) -> None: ...


class DevnetLedgerClient(LedgerClient):
    """HTTP client of ``swapnet ledger run`` (works under trio through httpx/anyio)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise LedgerUnavailable(f"{self.url}{path}: {exc}") from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise LedgerUnavailable(f"{self.url}{path}: not JSON ({response.status_code})") from exc
        if response.status_code >= 400:
            raise LedgerError(
                body.get("error", "error"), body.get("detail", ""), response.status_code
            )
        return body

    async def _get(self, path: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", path)
        return result

    async def info(self) -> dict[str, Any]:
        return await self._get("/info")

    async def submit(self, signed: SignedTx) -> str:
        body = await self._call(
            "POST",
            "/tx",
            content=signed.encode(),
            headers={"content-type": "application/octet-stream"},
        )
        return str(body["tx_id"])

    async def tx_status(self, tx_id: str) -> dict[str, Any]:
        return await self._get(f"/tx/{tx_id}")

    async def account(self, key: bytes) -> dict[str, Any]:
        return await self._get(f"/account/{key.hex()}")

    async def wallet(self, group_id: bytes) -> dict[str, Any]:
        return await self._get(f"/wallet/{group_id.hex()}")

    async def block(self, height: int) -> dict[str, Any]:
        return await self._get(f"/block/{height}")

    async def events(self, from_height: int, wait: float = 0) -> EventPage:
        body = await self._call(
            "GET",
            "/events",
            params={"from": from_height, "wait": int(wait)},
            timeout=wait + 10,
        )
        return EventPage(body["events"], body["next"], body["height"])

    # -- devnet only ----------------------------------------------------------------------
    async def mine(self, blocks: int = 1) -> int:
        """Make ``blocks`` blocks now, in calls of at most ``MINE_PER_CALL``."""
        height = 0
        while blocks > 0:
            body = await self._call("POST", "/mine", json={"blocks": min(blocks, MINE_PER_CALL)})
            height, blocks = int(body["height"]), blocks - MINE_PER_CALL
        return height

    async def faucet(self, account: bytes, asset: str, amount: int) -> str:
        body = await self._call(
            "POST", "/faucet", json={"account": account.hex(), "asset": asset, "amount": amount}
        )
        return str(body["tx_id"])

    async def aclose(self) -> None:
        await self._http.aclose()
