"""The ledger port (``node.ledger_port``) on an EVM chain with the group wallet contract
(``GroupWallet.sol``, beside this file), through web3.py.

The node's EVM account (a secp256k1 key the adapter holds) signs every transaction
locally; the chain only ever sees raw signed transactions, so any EVM node serves. Each
intent is first run as a call (``eth_call``): a refusal comes back as the contract's custom
error and is raised as ``LedgerError`` with the devnet ledger's code for it (``ERROR_CODES``)
before anything is sent; then the transaction is signed with the account's next nonce, sent,
and waited for.

Groups and wallets: a wallet id is ``keccak256(abi.encode(genesis, keyX, parity))``, so the
adapter derives the id of the group it follows (``follow``) from the group id and the
wallet key the genesis fixes; events of every other wallet are ignored (a stranger may open
a wallet naming our genesis under its own key: it gets another id). Asset codes map to token
accounts (``assets``; ETH is the zero account); amounts are the tokens' base units (wei for
ETH), which the group keeps as 64-bit integers.

web3.py is synchronous: every call runs in a worker thread (``trio.to_thread``), one at a
time (a lock keeps nonces in order). A connection failure is ``LedgerUnavailable``.

Revoke evidence (``crawl_back_evidence``) is the two raw signed transactions as the chain
returns them (``eth_getRawTransactionByHash``): ``proto.evm_evidence`` checks them offline.

A confirmation depth (``confirmations``, the node's ``evm_confirmations``) keeps events
``confirmations`` blocks behind the tip: a revoke or a deposit in a block that a
reorganization takes back is not acted on. A reorganization deeper than that is not
handled (the node would have to roll its ledger view back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import requests
import trio
from eth_account import Account
from eth_typing import HexStr
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3Exception

from node.evm.contracts import contract
from node.evm.signatures import address, as_bytes, leaf_args, signature_args
from node.ledger_port import (
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
from proto.evidence import Evidence, EvmRevokeEvidence
from proto.evm_tx import read_transaction
from proto.evm_wallet import evm_ledger_id, wallet_id
from proto.genesis import Genesis
from proto.wallet_txs import EvmCall, WalletAction

T = TypeVar("T")
ETH = bytes(20)
MAX_LOG_BLOCKS = 1_000
"""Blocks per ``eth_getLogs`` request (one event page)."""
POLL = 0.2
GAS_MARGIN = 1.25
ERC20_APPROVE = [
    {
        "type": "function",
        "name": "approve",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]

ERROR_CODES = {
    "WalletExists": "wallet-exists",
    "UnknownWallet": "unknown-wallet",
    "BadGenesis": "bad-genesis",
    "NotWalletKey": "not-wallet-key",
    "UnknownAsset": "unknown-asset",
    "BadAmount": "bad-amount",
    "CheckpointUsed": "checkpoint-used",
    "ClaimOpen": "claim-open",
    "MemberRevoked": "member-revoked",
    "MemberSettled": "member-settled",
    "StaleCheckpoint": "stale-checkpoint",
    "BadCheckpoint": "bad-checkpoint",
    "BadProof": "bad-proof",
    "NotLeafAccount": "not-leaf-account",
    "WrongBond": "fee-too-low",
    "NoOpenClaim": "no-open-claim",
    "OwnClaim": "own-claim",
    "WindowClosed": "window-closed",
    "WindowOpen": "window-open",
    "NotNewer": "not-newer",
    "WalletInsufficient": "wallet-insufficient",
    "BadPayTo": "bad-pay-to",
    "NotTheClaim": "not-the-claim",
}
"""The contract's custom errors and the devnet ledger's codes for the same refusals."""


def wallet_key_of(x: int, parity: int) -> bytes:
    """The compressed key of the contract's (x, parity)."""
    return bytes([2 + parity]) + x.to_bytes(32, "big")


class EvmLedger(LedgerPort):
    def __init__(
        self,
        url: str,
        contract_address: bytes,
        account_key: bytes,
        member: bytes,
        assets: dict[str, bytes] | None = None,
        timeout: float = 30.0,
        confirmations: int = 0,
    ) -> None:
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
        self.address = contract_address
        self.contract = self.w3.eth.contract(
            address=address(contract_address), abi=contract("GroupWallet")["abi"]
        )
        self.account = Account.from_key(account_key)
        self.me = bytes.fromhex(self.account.address[2:])
        self.member = member
        """The member id our deposits credit (the node's Ed25519 key)."""
        self.assets = dict(assets or {})
        """Asset codes and their tokens: the followed genesis's, and any given here."""
        self.codes = {token: code for code, token in self.assets.items()}
        self.timeout = timeout
        self.confirmations = confirmations
        """Blocks an event must be under before the node sees it (``info().height`` and
        ``events`` stop that far below the chain's tip)."""
        self.wallets: dict[bytes, bytes] = {}  # wallet id -> group id
        self.groups: dict[bytes, bytes] = {}  # group id -> wallet id
        self._tokens: dict[bytes, list[bytes]] = {}  # wallet id -> its assets (fixed at open)
        self._lock = trio.Lock()
        self._events = {
            name: getattr(self.contract.events, name)()
            for name in ("Opened", "Deposited", "Settled", "Revoked", "CrawledBack", "Finalized")
        }
        self._topics = {
            "0x" + keccak(text=e.abi_element_identifier).hex(): e for e in self._events.values()
        }
        self._selectors = {
            keccak(text=_signature(dict(item)))[:4]: ERROR_CODES.get(
                str(item["name"]), str(item["name"])
            )
            for item in self.contract.abi
            if item["type"] == "error"
        }

    # -- plumbing ---------------------------------------------------------------------------
    async def _run(self, fn: Callable[[], T]) -> T:
        def guarded() -> T:
            try:
                return fn()
            except ContractCustomError as exc:
                raise self._refusal(exc) from exc
            except ContractLogicError as exc:
                raise LedgerError("reverted", str(exc), 409) from exc
            except (requests.RequestException, OSError) as exc:
                raise LedgerUnavailable(f"the EVM node: {exc}") from exc
            except Web3Exception as exc:
                raise LedgerUnavailable(f"the EVM node: {exc}") from exc

        async with self._lock:
            return await trio.to_thread.run_sync(guarded)

    def _confirmed(self) -> int:
        """The newest block ``confirmations`` deep (0 before there is one)."""
        return max(0, int(self.w3.eth.block_number) - self.confirmations)

    def _refusal(self, exc: ContractCustomError) -> LedgerError:
        data = exc.data if isinstance(exc.data, str) else ""
        raw = bytes.fromhex(data[2:]) if data.startswith("0x") else b""
        code = self._selectors.get(raw[:4], "reverted")
        return LedgerError(code, f"the contract refused it ({code})", 409)

    def _send(self, function: Any, value: int = 0) -> str:
        """Run ``function`` as a call (raising the contract's refusal), then sign, send and
        wait for it; its transaction hash."""
        params = {"from": self.account.address, "value": value}
        function.call(params)
        gas = int(function.estimate_gas(params) * GAS_MARGIN)
        tx = function.build_transaction(
            {
                **params,
                "gas": gas,
                "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
                "chainId": self.w3.eth.chain_id,
            }
        )
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout)
        if receipt["status"] != 1:
            raise LedgerError("reverted", f"transaction {tx_hash.hex()} reverted", 409)
        return "0x" + bytes(tx_hash).hex()

    def _wallet_id(self, group_id: bytes) -> bytes:
        try:
            return self.groups[group_id]
        except KeyError:
            raise LedgerError("unknown-wallet", "this node follows no such group", 404) from None

    def _token(self, asset: str) -> bytes:
        try:
            return self.assets[asset]
        except KeyError:
            raise LedgerError("unknown-asset", f"no token for {asset} on this chain", 400) from None

    def _code(self, token: bytes) -> str:
        return self.codes.get(token, "0x" + token.hex())

    # -- reading ----------------------------------------------------------------------------
    def own_account(self) -> bytes:
        return self.me

    def follow(self, genesis: Genesis) -> None:
        """Follow the group's wallet, with the tokens its genesis names for its assets."""
        gid = genesis.group_id()
        wid = wallet_id(gid, genesis.wallet_key)
        self.wallets[wid], self.groups[gid] = gid, wid
        for asset, token in zip(genesis.assets, genesis.evm_tokens, strict=True):
            self.assets.setdefault(asset, token)
            self.codes.setdefault(token, asset)

    async def info(self) -> LedgerInfo:
        def read() -> LedgerInfo:
            chain = self.w3.eth.chain_id
            return LedgerInfo(
                "evm", evm_ledger_id(chain, self.address), self._confirmed(), "ETH", 0
            )

        return await self._run(read)

    async def wallet(self, group_id: bytes) -> WalletInfo:
        wid = self._wallet_id(group_id)

        def read() -> WalletInfo:
            x, parity, window, fee, tokens, highest, _ = self.contract.functions.walletOf(
                wid
            ).call()
            held = {
                self._code(as_bytes(t)): self.contract.functions.held(wid, t).call() for t in tokens
            }
            return WalletInfo(
                group_id,
                wallet_key_of(x, parity),
                group_id,  # the wallet id binds the genesis: it is this group's
                tuple(self._code(as_bytes(t)) for t in tokens),
                window,
                fee,
                held,
                highest,
            )

        return await self._run(read)

    async def events(self, cursor: int, wait: float = 0) -> EventPage:
        deadline = trio.current_time() + wait
        while True:
            latest = await self._run(self._confirmed)
            if latest >= cursor or trio.current_time() >= deadline:
                break
            await trio.sleep(POLL)
        if latest < cursor:
            return EventPage([], cursor, latest)
        last = min(latest, cursor + MAX_LOG_BLOCKS - 1)

        def read() -> list[Any]:
            return list(
                self.w3.eth.get_logs(
                    {"address": self.contract.address, "fromBlock": cursor, "toBlock": last}
                )
            )

        logs = await self._run(read)
        try:
            events = []
            for log in logs:
                event = await self._event(log)
                if event is not None:
                    events.append(event)
        except (KeyError, ValueError, TypeError, Web3Exception) as exc:
            # never skip what we cannot read (a deposit, a claim): the caller reads it again
            raise LedgerUnavailable(f"unreadable contract events from {cursor}: {exc}") from exc
        return EventPage(events, last + 1, latest)

    async def _event(self, log: Any) -> LedgerEvent | None:
        topics = log["topics"]
        if not topics:
            return None
        decoder = self._topics.get("0x" + bytes(topics[0]).hex())
        if decoder is None:
            return None
        args = decoder.process_log(log)["args"]
        gid = self.wallets.get(bytes(args["wallet"]))
        if gid is None:
            return None  # another group's wallet
        name = decoder.event_name
        height = int(log["blockNumber"])
        ref = "0x" + bytes(log["transactionHash"]).hex()
        if name == "Opened":
            return LedgerEvent("open", height, gid, b"", ref=ref)
        member = bytes(args["member"])
        if name == "Deposited":
            amounts = {self._code(as_bytes(args["asset"])): int(args["amount"])}
            return LedgerEvent("deposit", height, gid, member, 0, amounts, ref=ref)
        tokens = await self._assets_of(self.groups[gid])
        amounts = {self._code(t): int(a) for t, a in zip(tokens, args["amounts"], strict=True) if a}
        kind: EventKind = "settle"
        forfeited = 0
        if name == "CrawledBack":
            kind = "crawl-back" if args["premature"] else "crawl-back-honest"
            forfeited = int(args["forfeited"])
        elif name == "Revoked":
            kind = "revoke"
        elif name == "Finalized":
            kind = "finalize"
        return LedgerEvent(kind, height, gid, member, int(args["number"]), amounts, forfeited, ref)

    async def _assets_of(self, wid: bytes) -> list[bytes]:
        if wid not in self._tokens:
            tokens = await self._run(lambda: self.contract.functions.walletOf(wid).call()[4])
            self._tokens[wid] = [as_bytes(t) for t in tokens]
        return self._tokens[wid]

    # -- the group wallet's own -------------------------------------------------------------
    async def fund_wallet(self, genesis: Genesis) -> None:
        """Nothing: on an EVM chain whoever submits a wallet transaction pays its gas."""

    async def submit_wallet(self, action: WalletAction, signature: bytes) -> str:
        call = action.payload
        if not isinstance(call, EvmCall) or call.function not in ("open", "settle"):
            raise LedgerError("wrong-ledger", "not an EVM wallet transaction", 400)
        args = list(call.args)
        if call.function == "open":  # (genesis, x, parity, window, fee, tokens)
            args[5] = [address(t) for t in args[5]]  # type: ignore[attr-defined]
        else:  # (wallet id, member, number, pay to, amounts)
            args[3] = address(args[3])  # type: ignore[arg-type]
            args[4] = list(args[4])  # type: ignore[call-overload]
        function = getattr(self.contract.functions, call.function)(*args, signature_args(signature))
        return await self._run(lambda: self._send(function))

    # -- ours -------------------------------------------------------------------------------
    async def deposit(self, group_id: bytes, asset: str, amount: int) -> str:
        wid, token, me = self._wallet_id(group_id), self._token(asset), self.member
        if token == ETH:
            return await self._run(
                lambda: self._send(self.contract.functions.depositETH(wid, me), amount)
            )
        erc20 = self.w3.eth.contract(address=address(token), abi=ERC20_APPROVE)

        def approve_and_deposit() -> str:
            self._send(erc20.functions.approve(self.contract.address, amount))
            return self._send(self.contract.functions.deposit(wid, me, address(token), amount))

        return await self._run(approve_and_deposit)

    async def revoke(self, group_id: bytes, receipt: Receipt) -> str:
        wid = self._wallet_id(group_id)
        args = self._exit_args(receipt)
        fee = await self._run(lambda: int(self.contract.functions.walletOf(wid).call()[3]))
        return await self._run(lambda: self._send(self.contract.functions.revoke(wid, *args), fee))

    async def crawl_back(self, group_id: bytes, member: bytes, newer: Receipt) -> str:
        wid = self._wallet_id(group_id)
        args = self._exit_args(newer)
        claimed = await self._claimed(wid, member)
        return await self._run(
            lambda: self._send(self.contract.functions.crawlBack(wid, claimed, *args))
        )

    async def finalize(self, group_id: bytes, member: bytes) -> str:
        wid = self._wallet_id(group_id)
        claimed = await self._claimed(wid, member)
        return await self._run(
            lambda: self._send(self.contract.functions.finalize(wid, member, claimed))
        )

    def _exit_args(self, receipt: Receipt) -> tuple[Any, ...]:
        if receipt.chain is None:
            raise LedgerError("bad-proof", "the receipt has no chain proof", 400)
        proof = receipt.chain
        return (
            receipt.checkpoint.checkpoint.chain_args(),
            signature_args(receipt.checkpoint.signature),
            leaf_args(proof.leaf),
            proof.index,
            list(proof.path),
        )

    async def _claimed(self, wid: bytes, member: bytes) -> list[int]:
        """The open claim's amounts, as its last event gave them (the contract keeps only
        their hash)."""
        revoked, crawled = self._events["Revoked"], self._events["CrawledBack"]

        def read() -> list[int]:
            logs = self.w3.eth.get_logs(
                {
                    "address": self.contract.address,
                    "fromBlock": 0,
                    "toBlock": "latest",
                    "topics": [
                        [revoked.topic, crawled.topic],
                        "0x" + wid.hex(),
                        "0x" + member.hex(),
                    ],
                }
            )
            if not logs:
                raise LedgerError("no-open-claim", "no claim of that member on chain", 409)
            last = logs[-1]
            first = "0x" + bytes(last["topics"][0]).hex()
            decoder = crawled if first == _hex(crawled.topic) else revoked
            return list(decoder.process_log(last)["args"]["amounts"])

        return await self._run(read)

    async def crawl_back_evidence(self, crawl: LedgerEvent, revoke_height: int) -> Evidence | None:
        wid = self._wallet_id(crawl.group_id)
        revoked = self._events["Revoked"]

        def raw(tx_hash: Any) -> bytes:
            return bytes(self.w3.eth.get_raw_transaction(tx_hash))

        def read() -> tuple[bytes, bytes] | None:
            crawled = raw(HexStr(crawl.ref))
            try:
                if read_transaction(crawled).sender != self.me:
                    return None  # another notary's crawl back: its evidence is its to report
            except ValueError as exc:
                raise LedgerUnavailable(f"the chain gave an unreadable transaction: {exc}") from exc
            logs = self.w3.eth.get_logs(
                {
                    "address": self.contract.address,
                    "fromBlock": revoke_height,
                    "toBlock": revoke_height,
                    "topics": [revoked.topic, "0x" + wid.hex(), "0x" + crawl.member.hex()],
                }
            )
            if not logs:
                missing = f"no revoke of that member in block {revoke_height}"
                raise LedgerError("unknown-tx", missing, 404)
            return raw(logs[-1]["transactionHash"]), crawled

        found = await self._run(read)
        if found is None:
            return None
        revoke, crawled = found
        return EvmRevokeEvidence(
            bytes(32), crawl.group_id, revoke, revoke_height, crawled, crawl.height, bytes(64)
        )

    async def aclose(self) -> None:
        return None


def _hex(topic: Any) -> str:
    """A topic web3 gave as text or bytes, as 0x-hex."""
    return topic if isinstance(topic, str) else "0x" + bytes(topic).hex()


def _signature(item: dict[str, Any]) -> str:
    """An ABI error's signature, e.g. ``StaleCheckpoint(uint64)``."""
    return f"{item['name']}({','.join(_type(i) for i in item.get('inputs', []))})"


def _type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return str(item["type"])


__all__ = ["ERROR_CODES", "EvmLedger"]
