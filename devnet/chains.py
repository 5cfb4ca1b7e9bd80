"""The ledger a devnet runs on, as the devnet tools and scenarios drive it: swapnet's
embedded devnet ledger (``DevnetChain``), or anvil with the group wallet contract and one
``DevnetToken`` per asset (``EvmChain``: ``swapnet devnet up --ledger evm``).

A chain knows what differs between the two for a devnet: the flags a node runs with, what
a group spec names about the ledger (an EVM wallet's suite, tokens and steward accounts),
how a node is funded (the faucet; minted tokens and ETH for gas), a node's account on the
ledger and its balances there, the wallet's highest checkpoint and the crawl backs, and how
to record it in ``devnet.json`` and find it again. Synchronous (the devnet tools are):
httpx for the devnet ledger; web3 for anvil, in ``devnet/evm_chain.py``, imported only
when a devnet runs on anvil (web3 takes seconds to import, and every ``swapnet devnet``
command reads this module).

Everything here is for devnets: anvil's chain is local and its tokens anyone may mint.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey

from devnet import local_http
from proto.genesis import Genesis


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
        info: dict[str, Any] = local_http.get(f"{self.url}/info", timeout=10).json()
        return info

    def _get(self, path: str) -> Any:
        return local_http.get(f"{self.url}{path}", timeout=10).json()

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
        r = local_http.post(
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


def chain_of(record: dict[str, Any]) -> Chain:
    """The chain ``devnet.json`` recorded (``Chain.record``)."""
    if record.get("kind", "devnet") == "evm":
        from devnet.evm_chain import EvmChain  # noqa: PLC0415 (web3 only for anvil)

        return EvmChain(
            record["url"], record["pid"], record["data"], record["contract"], record["tokens"]
        )
    return DevnetChain(record["url"], record["pid"], record["data"])


__all__ = ["Chain", "CrawlBack", "DevnetChain", "chain_of"]
