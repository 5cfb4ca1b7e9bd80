"""The devnet ledger process: ``swapnet ledger run --data DIR``.

One trio process on 127.0.0.1: a LevelDB chain (``storage.ledger_repo``), the rules of
``proto.ledger``, and an HTTP API (starlette under hypercorn). Blocks come on an interval
and on demand (``POST /mine``). Persist before promise: a transaction is fsynced into the
mempool before ``POST /tx`` answers 202, and a block is fsynced before anyone can see it,
so kill -9 at any moment loses no accepted block and no accepted transaction.

API (JSON; bytes as hex; errors are ``{"error": code, "detail": text}`` with a 4xx status):

| call | what |
| --- | --- |
| ``GET /info`` | ledger id, height, tip hash, fee asset, minimum fee, assets, faucet account |
| ``POST /tx`` | body: the canonical bytes of a ``SignedTx``; 202 ``{tx_id, status, height}`` |
| ``GET /tx/{id}`` | ``{status: pending or included, height}``; 404 if unknown |
| ``GET /account/{key}`` | balances and next nonce |
| ``GET /wallet/{group}`` | a group wallet with its open claims |
| ``GET /block/{height}`` | the block (transactions as hex) and its events |
| ``GET /events?from=H&wait=S`` | events of blocks H on (waits up to S s for H); ``next`` resumes |
| ``POST /mine`` | ``{"blocks": N}`` (JSON, N <= 10): make N blocks now (devnet) |
| ``POST /faucet`` | ``{"account", "asset", "amount"}`` (JSON, <= 10^12): from the faucet |
| ``GET /livez`` | 200 while the process runs |
"""

from __future__ import annotations

import logging
import os
import signal
import time
from functools import partial
from pathlib import Path
from typing import Any, cast

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from nacl.signing import SigningKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from node.api.http_api import BadRequest, hex32, json_body, read_bounded
from node.api.openapi import ledger_openapi
from node.numbers import ascii_int
from proto.codec import MAX_MESSAGE_BYTES, decode
from proto.errors import DecodeError
from proto.ledger.chain import Allocation, Block, Chain, LedgerGenesis
from proto.ledger.state import Event, LedgerRejected, Wallet
from proto.ledger.txs import SignedTx, Transfer, sign_tx
from storage import LevelDBStore, StorageError
from storage.ledger_repo import LedgerRepo
from storage.repos import ensure_schema

log = logging.getLogger(__name__)

DEVNET_ASSETS = ("BTC", "SWAP", "USD")
FEE_ASSET = "SWAP"
FAUCET_SUPPLY = 10**15
MAX_FAUCET_AMOUNT = 10**12
"""What one faucet call gives at most (a thousandth of the supply)."""
MAX_BLOCKS_PER_CALL = 10
"""Blocks one ``/mine`` call makes at most: half the devnet's challenge window, and the
transactions sent between two calls (a notary's crawl back) go into the next block."""
MAX_CONVENIENCE_BODY = 4096
MAX_EVENT_BLOCKS = 500
MAX_WAIT_SECONDS = 30.0
MAX_DRAINED_BYTES = 8 << 20
MAX_HEIGHT = 2**63
OPENAPI = ledger_openapi()


def new_genesis() -> tuple[LedgerGenesis, bytes]:
    seed = os.urandom(32)
    faucet = bytes(SigningKey(seed).verify_key)
    allocations = tuple(Allocation(faucet, a, FAUCET_SUPPLY) for a in DEVNET_ASSETS)
    genesis = LedgerGenesis(
        os.urandom(32), "swapnet-devnet", FEE_ASSET, 1, faucet, faucet, allocations
    )
    return genesis, seed


class LedgerService:
    """The chain, its store, and the operations the API exposes."""

    def __init__(self, data_dir: Path) -> None:
        self.store = LevelDBStore(data_dir / "chain")
        ensure_schema(self.store)
        self.repo = LedgerRepo(self.store)
        loaded = self.repo.load_genesis()
        if loaded is None:
            loaded = new_genesis()
            self.repo.save_genesis(*loaded)
        self.genesis, seed = loaded
        self.faucet_key = SigningKey(seed)
        self.chain = Chain(self.genesis)
        for block in self.repo.blocks():
            self.chain.replay(block)
        self.mempool_seq = 0
        for seq, signed in self.repo.mempool():
            self.mempool_seq = seq + 1
            try:
                self.chain.accept(signed, self.chain.check(signed))
            except LedgerRejected as exc:  # cannot happen unless the rules changed
                log.warning("dropping stored mempool tx %s: %s", signed.tx_id().hex(), exc)
        self.new_block = trio.Event()

    def close(self) -> None:
        self.store.close()

    # -- writes -------------------------------------------------------------------------
    def submit(self, signed: SignedTx) -> dict[str, Any]:
        write = self.chain.check(signed)
        self.repo.add_to_mempool(self.mempool_seq, signed)
        self.mempool_seq += 1
        self.chain.accept(signed, write)
        return {"tx_id": signed.tx_id().hex(), "status": "pending", "height": self.chain.height + 1}

    def produce_block(self) -> Block:
        block = self.chain.next_block(int(time.time()))
        self.repo.save_block(block, self.chain.pending_events)
        self.chain.commit_block(block)
        self.new_block.set()
        self.new_block = trio.Event()
        return block

    def faucet(self, account: bytes, asset: str, amount: int) -> dict[str, Any]:
        faucet = bytes(self.faucet_key.verify_key)
        tx = Transfer(
            faucet,
            self.chain.state.next_nonce(faucet),
            self.genesis.min_fee,
            account,
            asset,
            amount,
        )
        return self.submit(sign_tx(tx, self.faucet_key, self.genesis.ledger_id))

    # -- reads --------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return {
            "ledger_id": self.genesis.ledger_id.hex(),
            "name": self.genesis.name,
            "height": self.chain.height,
            "tip": self.chain.tip_hash.hex(),
            "fee_asset": self.genesis.fee_asset,
            "min_fee": self.genesis.min_fee,
            "assets": list(self.genesis.assets),
            "faucet": self.genesis.faucet.hex(),
            "mempool": len(self.chain.mempool),
        }

    def tx_status(self, tx_id: bytes) -> dict[str, Any]:
        height = self.repo.tx_height(tx_id)
        if height is not None:
            return {"status": "included", "height": height}
        if tx_id in self.chain.included:
            return {"status": "pending", "height": self.chain.height + 1}
        raise BadRequest("unknown-tx", "no such transaction", 404)

    def account(self, key: bytes) -> dict[str, Any]:
        state = self.chain.state
        return {
            "account": key.hex(),
            "balances": dict(sorted(state.balances.get(key, {}).items())),
            "next_nonce": state.next_nonce(key),
        }

    def wallet(self, group_id: bytes) -> dict[str, Any]:
        wallet = self.chain.state.wallets.get(group_id)
        if wallet is None:
            raise BadRequest("unknown-wallet", "no group wallet with that id", 404)
        return wallet_json(wallet)

    def block(self, height: int) -> dict[str, Any]:
        block = self.repo.block(height)
        if block is None:
            raise BadRequest("unknown-block", f"no block at height {height}", 404)
        return {
            "height": block.height,
            "hash": block.hash().hex(),
            "parent": block.parent.hex(),
            "time": block.time,
            "txs": [t.encode().hex() for t in block.txs],
            "events": [event_json(e) for e in self.repo.events(height)],
        }

    def events_from(self, start: int) -> tuple[list[dict[str, Any]], int]:
        out: list[dict[str, Any]] = []
        last = min(self.chain.height, start + MAX_EVENT_BLOCKS - 1)
        for h in range(start, last + 1):
            out.extend(event_json(e) for e in self.repo.events(h))
        return out, max(start, last + 1)


def wallet_json(w: Wallet) -> dict[str, Any]:
    return {
        "group_id": w.group_id.hex(),
        "key": w.key.hex(),
        "genesis_hash": w.genesis_hash.hex(),
        "assets": list(w.assets),
        "challenge_window": w.challenge_window,
        "revoke_fee": w.revoke_fee,
        "balances": dict(sorted(w.balances.items())),
        "highest_checkpoint": w.highest_checkpoint,
        "forfeited": w.forfeited,
        "deposits": {m.hex(): dict(sorted(d.items())) for m, d in sorted(w.deposits.items())},
        "claims": [
            {
                "member": c.member.hex(),
                "checkpoint": c.number,
                "balances": dict(sorted(c.balances.items())),
                "deadline": c.deadline,
                "bond": c.bond,
            }
            for c in sorted(w.claims.values(), key=lambda c: c.member)
        ],
    }


def event_json(e: Event) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "height": e.height,
        "tx_id": e.tx_id.hex(),
        "group_id": e.group_id.hex(),
        "member": e.member.hex(),
        "checkpoint": e.checkpoint_number,
        "detail": {d.name: d.value for d in e.detail},
    }


# -- HTTP ------------------------------------------------------------------------------


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = ascii_int(raw)  # ASCII digits only: not "+5", " 5", "1_000" or other scripts'
    if value is None:
        raise BadRequest("bad-request", f"{name} must be an integer in ASCII digits")
    if not low <= value <= high:
        raise BadRequest("bad-request", f"{name} must be in [{low}, {high}]")
    return value


def build_app(service: LedgerService, lock: trio.Lock) -> Starlette:
    async def info(request: Request) -> Response:
        return JSONResponse(service.info())

    async def livez(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def submit(request: Request) -> Response:
        body = await read_bounded(request, MAX_MESSAGE_BYTES, MAX_DRAINED_BYTES - MAX_MESSAGE_BYTES)
        try:
            signed = decode(bytes(body), SignedTx)
        except DecodeError as exc:
            raise BadRequest("malformed", str(exc)) from exc
        async with lock:
            return JSONResponse(service.submit(signed), status_code=202)

    async def tx(request: Request) -> Response:
        return JSONResponse(service.tx_status(hex32(request.path_params["tx_id"], "tx id")))

    async def account(request: Request) -> Response:
        return JSONResponse(service.account(hex32(request.path_params["key"], "account")))

    async def wallet(request: Request) -> Response:
        return JSONResponse(service.wallet(hex32(request.path_params["group_id"], "group id")))

    async def block(request: Request) -> Response:
        height = ascii_int(request.path_params["height"])
        if height is None:
            raise BadRequest("bad-request", "height must be an integer in ASCII digits")
        if not 0 <= height <= MAX_HEIGHT:  # found by the fuzzer: 2**80 was a 500
            raise BadRequest("bad-request", f"height must be in [0, {MAX_HEIGHT}]")
        return JSONResponse(service.block(height))

    async def events(request: Request) -> Response:
        start = _int_param(request, "from", 1, 1, 2**63)
        wait = _int_param(request, "wait", 0, 0, int(MAX_WAIT_SECONDS))
        with trio.move_on_after(wait):
            while start > service.chain.height:
                await service.new_block.wait()
        found, next_height = service.events_from(start)
        return JSONResponse({"events": found, "next": next_height, "height": service.chain.height})

    async def mine(request: Request) -> Response:
        body = await json_body(request, MAX_CONVENIENCE_BODY)
        blocks = body.get("blocks", 1)
        if type(blocks) is not int or not 1 <= blocks <= MAX_BLOCKS_PER_CALL:
            raise BadRequest(
                "bad-request", f"blocks must be an integer from 1 to {MAX_BLOCKS_PER_CALL}"
            )
        async with lock:
            for _ in range(blocks):
                service.produce_block()
        return JSONResponse({"height": service.chain.height})

    async def faucet(request: Request) -> Response:
        body = await json_body(request, MAX_CONVENIENCE_BODY)
        account_hex, asset, amount = body.get("account"), body.get("asset"), body.get("amount")
        if not isinstance(account_hex, str) or asset not in service.genesis.assets:
            raise BadRequest(
                "bad-request", f"account (hex) and asset (one of {service.genesis.assets})"
            )
        if type(amount) is not int or not 1 <= amount <= MAX_FAUCET_AMOUNT:
            raise BadRequest(
                "bad-request", f"amount must be an integer from 1 to {MAX_FAUCET_AMOUNT}"
            )
        async with lock:
            return JSONResponse(
                service.faucet(hex32(account_hex, "account"), asset, amount), status_code=202
            )

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadRequest)
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=exc.status)

    async def rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LedgerRejected)
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=400)

    async def storage_failed(request: Request, exc: Exception) -> Response:
        log.error("storage failure: %s", exc)  # nothing was promised: the write is atomic
        return JSONResponse({"error": "storage", "detail": str(exc)}, status_code=503)

    return Starlette(
        routes=[
            Route("/info", info),
            Route("/livez", livez),
            Route("/openapi.json", openapi),
            Route("/tx", submit, methods=["POST"]),
            Route("/tx/{tx_id}", tx),
            Route("/account/{key}", account),
            Route("/wallet/{group_id}", wallet),
            Route("/block/{height}", block),
            Route("/events", events),
            Route("/mine", mine, methods=["POST"]),
            Route("/faucet", faucet, methods=["POST"]),
        ],
        exception_handlers={
            BadRequest: bad_request,
            LedgerRejected: rejected,
            StorageError: storage_failed,
        },
    )


async def run_ledger(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    block_interval: float = 1.0,
    task_status: Any = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the ledger until SIGTERM or SIGINT; report the URL through ``task_status``."""
    service = LedgerService(data_dir)
    lock = trio.Lock()
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 2.0
    shutdown = trio.Event()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, shutdown)
            binds = await nursery.start(
                partial(
                    serve,
                    cast(Any, build_app(service, lock)),
                    config,
                    shutdown_trigger=shutdown.wait,
                )
            )
            url = binds[0]
            producer = trio.CancelScope()
            if block_interval > 0:
                nursery.start_soon(_produce_blocks, service, lock, block_interval, producer)
            log.info("ledger ready url=%s height=%d", url, service.chain.height)
            task_status.started(url)
            await shutdown.wait()
            producer.cancel()  # no block starts after shutdown begins; one under way finishes
            nursery.cancel_scope.deadline = trio.current_time() + config.graceful_timeout + 1
    finally:
        service.close()


async def _watch_signals(shutdown: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            shutdown.set()
            return


async def _produce_blocks(
    service: LedgerService, lock: trio.Lock, interval: float, scope: trio.CancelScope
) -> None:
    with scope:
        while True:
            await trio.sleep(interval)
            async with lock:
                try:
                    service.produce_block()
                except StorageError as exc:  # nothing half-written; try again next interval
                    log.error("cannot store block %d: %s", service.chain.height + 1, exc)
