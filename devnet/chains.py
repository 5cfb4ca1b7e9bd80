"""The ledger a devnet runs on, as the devnet tools and scenarios drive it: swapnet's
embedded devnet ledger (``DevnetChain``), or anvil with the group wallet contract and one
``DevnetToken`` per asset (``EvmChain``: ``swapnet devnet up --ledger evm``).

A chain knows what differs between the two for a devnet: the flags a node runs with, what
a group spec names about the ledger (an EVM wallet's suite, tokens and steward accounts),
how a node is funded (the faucet; minted tokens and ETH for gas), a node's account on the
ledger and its balances there, the wallet's highest checkpoint and the crawl backs, and how
to record it in ``devnet.json`` and find it again. Synchronous (the devnet tools are):
httpx for the devnet ledger, web3 for anvil.

Everything here is for devnets: anvil's chain is local and its tokens anyone may mint.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from nacl.signing import SigningKey
from web3 import Web3
from web3.types import RPCEndpoint

from devnet.anvil import AnvilProc, deploy
from node.evm.account import evm_account
from node.evm.contracts import contract
from node.evm.signatures import address
from proto.evm_wallet import evm_ledger_id, wallet_id
from proto.frost.suite import SECP256K1
from proto.genesis import Genesis

ETH_FOR_GAS = 10**21
"""What an EVM devnet gives each node for gas and revoke bonds (1,000 ETH)."""
EVM_BLOCK_TIME = 0.5


@dataclass(frozen=True)
class CrawlBack:
    member: str
    height: int
    checkpoint: int
    amounts: dict[str, int]
    forfeited: int


class Chain(ABC):
    kind: str
    url: str
    pid: int

    @abstractmethod
    def node_args(self) -> list[str]: ...

    @abstractmethod
    def ledger_id(self) -> bytes: ...

    @abstractmethod
    def spec_fields(self, stewards: list[SigningKey], assets: tuple[str, ...]) -> dict[str, Any]:
        """What a group spec on this ledger names beyond the devnet's defaults."""

    @abstractmethod
    def fund(self, key: SigningKey, amounts: dict[str, int]) -> None:
        """Give the node with ``key`` these amounts on the ledger (and what its
        transactions cost)."""

    @abstractmethod
    def account(self, key: SigningKey) -> bytes:
        """The node's account on the ledger."""

    @abstractmethod
    def balances(self, account: bytes) -> dict[str, int]: ...

    @abstractmethod
    def highest_checkpoint(self, genesis: Genesis) -> int: ...

    @abstractmethod
    def crawl_backs(self, genesis: Genesis, member: bytes) -> list[CrawlBack]:
        """The premature crawl backs of ``member``'s claims, in ledger order."""

    @abstractmethod
    def record(self) -> dict[str, Any]:
        """What ``devnet.json`` keeps of it (``chain_of`` reads it back)."""


class DevnetChain(Chain):
    kind = "devnet"

    def __init__(self, url: str, pid: int, data: str, fee_asset: str = "") -> None:
        self.url, self.pid, self.data = url, pid, data
        self.fee_asset = fee_asset or self._info()["fee_asset"]

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = httpx.get(f"{self.url}/info", timeout=10).json()
        return info

    def _get(self, path: str) -> Any:
        return httpx.get(f"{self.url}{path}", timeout=10).json()

    def node_args(self) -> list[str]:
        return ["--ledger-url", self.url]

    def ledger_id(self) -> bytes:
        return bytes.fromhex(self._info()["ledger_id"])

    def spec_fields(self, stewards: list[SigningKey], assets: tuple[str, ...]) -> dict[str, Any]:
        return {}

    def fund(self, key: SigningKey, amounts: dict[str, int]) -> None:
        member = bytes(key.verify_key)
        for asset, amount in {self.fee_asset: max(amounts.values()), **amounts}.items():
            self.faucet(member, asset, amount)

    def faucet(self, account: bytes, asset: str, amount: int) -> None:
        r = httpx.post(
            f"{self.url}/faucet",
            json={"account": account.hex(), "asset": asset, "amount": amount},
            timeout=10,
        )
        if r.status_code >= 400:
            raise RuntimeError(f"faucet: {r.text}")

    def account(self, key: SigningKey) -> bytes:
        return bytes(key.verify_key)

    def balances(self, account: bytes) -> dict[str, int]:
        return {k: int(v) for k, v in self._get(f"/account/{account.hex()}")["balances"].items()}

    def highest_checkpoint(self, genesis: Genesis) -> int:
        return int(self._get(f"/wallet/{genesis.group_id().hex()}")["highest_checkpoint"])

    def crawl_backs(self, genesis: Genesis, member: bytes) -> list[CrawlBack]:
        found, start_at = [], 1
        while True:
            page = self._get(f"/events?from={start_at}")
            for e in page["events"]:
                if e["kind"] == "crawl-back" and e["member"] == member.hex():
                    detail = dict(e["detail"])
                    forfeited = int(detail.pop("fee-forfeited", 0))
                    found.append(
                        CrawlBack(e["member"], e["height"], e["checkpoint"], detail, forfeited)
                    )
            if page["next"] > page["height"]:
                return found
            start_at = page["next"]

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "pid": self.pid, "url": self.url, "data": self.data}


class EvmChain(Chain):
    """anvil, the group wallet contract and one ``DevnetToken`` per asset."""

    kind = "evm"

    def __init__(
        self, url: str, pid: int, data: str, contract_address: str, tokens: dict[str, str]
    ) -> None:
        self.url, self.pid, self.data = url, pid, data
        self.node: AnvilProc | None = None
        """The anvil process, when this process started it (``start``)."""
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        self.contract_address = contract_address
        self.wallet = self.w3.eth.contract(
            address=Web3.to_checksum_address(contract_address), abi=contract("GroupWallet")["abi"]
        )
        self.tokens = {
            asset: self.w3.eth.contract(
                address=Web3.to_checksum_address(token), abi=contract("DevnetToken")["abi"]
            )
            for asset, token in tokens.items()
        }

    @classmethod
    def start(cls, data: Path, assets: tuple[str, ...], *, detach: bool) -> EvmChain:
        """anvil (a block every ``EVM_BLOCK_TIME`` s), the contract and the tokens."""
        node = AnvilProc.start(data / "anvil.log", block_time=EVM_BLOCK_TIME, detach=detach)
        try:
            w3 = Web3(Web3.HTTPProvider(node.url))
            wallet = deploy(w3, contract("GroupWallet"))
            tokens = {
                asset: deploy(w3, contract("DevnetToken"), f"devnet {asset}", asset).address
                for asset in assets
            }
        except BaseException:
            node.proc.kill()
            node.proc.wait()
            raise
        chain = cls(node.url, node.proc.pid, str(data), wallet.address, tokens)
        chain.node = node
        return chain

    def node_args(self) -> list[str]:
        return [
            *("--ledger-url", self.url, "--ledger", "evm"),
            *("--evm-contract", self.contract_address),
            *("--evm-confirmations", "0"),  # anvil never reorganizes
        ]

    def _contract_bytes(self) -> bytes:
        return bytes.fromhex(self.contract_address[2:])

    def ledger_id(self) -> bytes:
        return evm_ledger_id(self.w3.eth.chain_id, self._contract_bytes())

    def spec_fields(self, stewards: list[SigningKey], assets: tuple[str, ...]) -> dict[str, Any]:
        by_member = {bytes(k.verify_key): evm_account(k) for k in stewards}
        return {
            "wallet_suite": SECP256K1.name,
            "evm_tokens": tuple(bytes.fromhex(self.tokens[a].address[2:]) for a in assets),
            "steward_accounts": tuple(by_member[m] for m in sorted(by_member)),
        }

    def fund(self, key: SigningKey, amounts: dict[str, int]) -> None:
        account = address(evm_account(key))
        self.w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [account, hex(ETH_FOR_GAS)])
        minter = self.w3.eth.accounts[0]
        for asset, amount in amounts.items():
            tx = self.tokens[asset].functions.mint(account, amount).transact({"from": minter})
            self.w3.eth.wait_for_transaction_receipt(tx)

    def account(self, key: SigningKey) -> bytes:
        return evm_account(key)

    def balances(self, account: bytes) -> dict[str, int]:
        who = address(account)
        return {a: int(t.functions.balanceOf(who).call()) for a, t in self.tokens.items()}

    def highest_checkpoint(self, genesis: Genesis) -> int:
        wid = wallet_id(genesis.group_id(), genesis.wallet_key)
        return int(self.wallet.functions.walletOf(wid).call()[5])

    def crawl_backs(self, genesis: Genesis, member: bytes) -> list[CrawlBack]:
        wid = wallet_id(genesis.group_id(), genesis.wallet_key)
        event = self.wallet.events.CrawledBack()
        logs = self.w3.eth.get_logs(
            {
                "address": self.wallet.address,
                "fromBlock": 0,
                "toBlock": "latest",
                "topics": [event.topic, "0x" + wid.hex(), "0x" + member.hex()],
            }
        )
        found = []
        for log in logs:
            args = event.process_log(log)["args"]
            if not args["premature"]:
                continue
            amounts = dict(zip(genesis.assets, (int(a) for a in args["amounts"]), strict=True))
            found.append(
                CrawlBack(
                    member.hex(),
                    int(log["blockNumber"]),
                    int(args["number"]),
                    amounts,
                    int(args["forfeited"]),
                )
            )
        return found

    def record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "pid": self.pid,
            "url": self.url,
            "data": self.data,
            "contract": self.contract_address,
            "tokens": {a: t.address for a, t in self.tokens.items()},
        }


def chain_of(record: dict[str, Any]) -> Chain:
    """The chain ``devnet.json`` recorded (``Chain.record``)."""
    if record.get("kind", "devnet") == "evm":
        return EvmChain(
            record["url"], record["pid"], record["data"], record["contract"], record["tokens"]
        )
    return DevnetChain(record["url"], record["pid"], record["data"])


__all__ = ["Chain", "CrawlBack", "DevnetChain", "EvmChain", "chain_of"]
