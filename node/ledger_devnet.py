"""The ledger port (``node.ledger_port``) on the devnet ledger swapnet ships (``swapnet
ledger run``), over its HTTP API; works under trio through httpx/anyio.

``DevnetLedgerClient`` is the plain HTTP client (every route, the devnet-only ``mine`` and
``faucet`` too); ``DevnetLedger`` is the port: it turns each intent into the devnet's
signed transaction (``proto.ledger.txs``) with the node's key and its next nonce, and the
ledger's JSON events into ``LedgerEvent``. The group wallet's own transactions arrive
as ``proto.wallet_txs`` actions (an ``OpenWallet`` or a ``Settle`` whose sender is the
wallet) with the wallet key's signature.

Invariant: an event page is parsed whole before any event of it is returned, so a page
the node cannot read is never half taken (it raises ``LedgerUnavailable`` and the follower
reads it again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from nacl.signing import SigningKey

from node.ledger_port import (
    EVENT_KINDS,
    EventKind,
    EventPage,
    LedgerError,
    LedgerEvent,
    LedgerInfo,
    LedgerPort,
    LedgerUnavailable,
    Receipt,
    WalletInfo,
)
from proto.codec import decode
from proto.errors import DecodeError
from proto.evidence import Evidence, unsigned_evidence
from proto.genesis import Genesis
from proto.ledger.txs import (
    CrawlBack,
    Deposit,
    Finalize,
    OpenWallet,
    Revoke,
    Settle,
    SignedTx,
    Transfer,
    Tx,
    sign_tx,
)
from proto.signing import public_key_of
from proto.wallet_txs import WalletAction

MINE_PER_CALL = 10
"""The devnet ledger's cap on blocks per ``/mine`` call."""
WALLET_FEE_BUDGET = 10_000
"""Fee-asset units the first steward moves to the wallet key so it can pay ledger fees."""


@dataclass(frozen=True)
class RawEventPage:
    """A page of the devnet ledger's events as it sends them (JSON objects)."""

    events: list[dict[str, Any]]
    next: int
    height: int


class DevnetLedgerClient:
    """HTTP client of ``swapnet ledger run``."""

    def __init__(
        self, url: str, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout, transport=transport)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.RemoteProtocolError:
                if method != "GET":
                    raise  # a transaction is not sent twice: its sender asks the ledger again
                # a kept-alive connection the ledger closed as we reused it: a read is safe
                # to ask again, once, on a fresh connection
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

    async def events(self, from_height: int, wait: float = 0) -> RawEventPage:
        """The ledger's JSON events from ``from_height`` (long-polling up to ``wait`` s)."""
        body = await self._call(
            "GET",
            "/events",
            params={"from": from_height, "wait": int(wait)},
            timeout=wait + 10,
        )
        try:
            return RawEventPage(list(body["events"]), int(body["next"]), int(body["height"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise LedgerUnavailable(f"an unreadable events page: {exc}") from exc

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


def ledger_event(e: dict[str, Any]) -> LedgerEvent:
    """A devnet event's ``LedgerEvent``; ``ValueError`` (or ``KeyError``/``TypeError``) if
    it is malformed."""
    kind = e["kind"]
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    detail = {str(k): int(v) for k, v in dict(e["detail"]).items()}
    forfeited = detail.pop("fee-forfeited", 0)
    return LedgerEvent(
        kind=_kind(kind),
        height=int(e["height"]),
        group_id=bytes.fromhex(e["group_id"]),
        member=bytes.fromhex(e["member"]),
        checkpoint=int(e["checkpoint"]),
        amounts=detail,
        forfeited=forfeited,
        ref=str(e["tx_id"]),
    )


def wallet_info(w: dict[str, Any]) -> WalletInfo:
    """The devnet ledger's wallet JSON as ``WalletInfo``; ``LedgerUnavailable`` if it is
    not one."""
    try:
        return WalletInfo(
            bytes.fromhex(w["group_id"]),
            bytes.fromhex(w["key"]),
            bytes.fromhex(w["genesis_hash"]),
            tuple(str(a) for a in w["assets"]),
            int(w["challenge_window"]),
            int(w["revoke_fee"]),
            {str(a): int(v) for a, v in w["balances"].items()},
            int(w["highest_checkpoint"]),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise LedgerUnavailable(f"unreadable wallet from the ledger: {exc}") from exc


def _kind(kind: str) -> EventKind:
    for k in EVENT_KINDS:
        if k == kind:
            return k
    raise ValueError(f"unknown event kind {kind!r}")


class DevnetLedger(LedgerPort):
    """The port on a devnet ledger, acting with ``key`` (the node's member key, which is
    its ledger account)."""

    def __init__(self, client: DevnetLedgerClient, key: SigningKey) -> None:
        self.client = client
        self.key = key
        self.me = public_key_of(key)
        self._info: LedgerInfo | None = None

    @classmethod
    def at(cls, url: str, key: SigningKey) -> DevnetLedger:
        return cls(DevnetLedgerClient(url), key)

    def own_account(self) -> bytes:
        return self.me

    async def info(self) -> LedgerInfo:
        body = await self.client.info()
        try:
            info = LedgerInfo(
                "devnet",
                bytes.fromhex(body["ledger_id"]),
                int(body["height"]),
                str(body["fee_asset"]),
                int(body["min_fee"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise LedgerUnavailable(f"the ledger's /info is not a devnet ledger's: {exc}") from exc
        self._info = info
        return info

    async def _ledger(self) -> LedgerInfo:
        return self._info if self._info is not None else await self.info()

    async def wallet(self, group_id: bytes) -> WalletInfo:
        return wallet_info(await self.client.wallet(group_id))

    async def events(self, cursor: int, wait: float = 0) -> EventPage:
        page = await self.client.events(cursor, wait)
        try:
            events = [
                ledger_event(e) for e in page.events if e["group_id"] and e["kind"] in EVENT_KINDS
            ]
            return EventPage(events, page.next, page.height)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            # never skip what we cannot read (a deposit, a claim): the caller reads it again
            raise LedgerUnavailable(f"unreadable ledger events from {cursor}: {exc}") from exc

    # -- the group wallet's own ---------------------------------------------------------
    async def fund_wallet(self, genesis: Genesis) -> None:
        """The first steward gives a wallet short of fees ``WALLET_FEE_BUDGET``."""
        if genesis.committee.stewards[0] != self.me:
            return
        ledger = await self._ledger()
        wallet = await self.client.account(genesis.wallet_key)
        if int(wallet["balances"].get(ledger.fee_asset, 0)) >= ledger.min_fee:
            return
        await self._send(
            lambda nonce: Transfer(
                self.me,
                nonce,
                ledger.min_fee,
                genesis.wallet_key,
                ledger.fee_asset,
                WALLET_FEE_BUDGET,
            )
        )

    async def submit_wallet(self, action: WalletAction, signature: bytes) -> str:
        if not isinstance(action.payload, OpenWallet | Settle):
            raise LedgerError("wrong-ledger", "not a devnet wallet transaction", 400)
        return await self.client.submit(SignedTx(action.payload, signature))

    # -- ours -----------------------------------------------------------------------------
    async def _send(self, make: Callable[[int], Tx]) -> str:
        """Make the transaction with our next nonce, sign and submit it."""
        ledger = await self._ledger()
        account = await self.client.account(self.me)
        tx = make(int(account["next_nonce"]))
        return await self.client.submit(sign_tx(tx, self.key, ledger.ledger_id))

    async def deposit(self, group_id: bytes, asset: str, amount: int) -> str:
        fee = (await self._ledger()).min_fee
        return await self._send(lambda n: Deposit(self.me, n, fee, group_id, asset, amount))

    async def revoke(self, group_id: bytes, receipt: Receipt) -> str:
        fee = (await self._ledger()).min_fee
        return await self._send(
            lambda n: Revoke(self.me, n, fee, receipt.checkpoint, receipt.proof)
        )

    async def crawl_back(self, group_id: bytes, member: bytes, newer: Receipt) -> str:
        fee = (await self._ledger()).min_fee
        return await self._send(
            lambda n: CrawlBack(self.me, n, fee, member, newer.checkpoint, newer.proof)
        )

    async def finalize(self, group_id: bytes, member: bytes) -> str:
        fee = (await self._ledger()).min_fee
        return await self._send(lambda n: Finalize(self.me, n, fee, group_id, member))

    async def crawl_back_evidence(self, crawl: LedgerEvent, revoke_height: int) -> Evidence | None:
        crawled = await self._tx_in_block(crawl.height, lambda s: s.tx_id().hex() == crawl.ref)
        if not isinstance(crawled.tx, CrawlBack) or crawled.tx.sender != self.me:
            return None
        member = crawled.tx.member
        revoke = await self._tx_in_block(
            revoke_height, lambda s: isinstance(s.tx, Revoke) and s.tx.sender == member
        )
        return unsigned_evidence(revoke, revoke_height, crawled, crawl.height)

    async def _tx_in_block(self, height: int, wanted: Callable[[SignedTx], bool]) -> SignedTx:
        block = await self.client.block(height)
        for raw in block["txs"]:
            try:
                signed = decode(bytes.fromhex(raw), SignedTx)
            except (DecodeError, ValueError) as exc:
                raise LedgerUnavailable(f"an unreadable transaction in block {height}") from exc
            if wanted(signed):
                return signed
        raise LedgerError("unknown-tx", f"the transaction is not in block {height}", 404)

    async def aclose(self) -> None:
        await self.client.aclose()


__all__ = [
    "MINE_PER_CALL",
    "WALLET_FEE_BUDGET",
    "DevnetLedger",
    "DevnetLedgerClient",
    "ledger_event",
    "wallet_info",
]
