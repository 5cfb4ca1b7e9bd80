"""A devnet's ledger on anvil: the group wallet contract and one ``DevnetToken`` per asset
(``swapnet devnet up --ledger evm``), driven by web3. Kept apart from ``devnet/chains.py``
so that a devnet on the embedded ledger never imports web3.

Everything here is for devnets: anvil's chain is local and its tokens anyone may mint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nacl.signing import SigningKey
from web3 import Web3
from web3.types import RPCEndpoint

from devnet.anvil import AnvilProc, deploy
from devnet.chains import Chain, CrawlBack
from node.evm.account import evm_account
from node.evm.contracts import contract
from node.evm.signatures import address
from proto.evm_wallet import evm_ledger_id, wallet_id
from proto.frost.suite import SECP256K1
from proto.genesis import Genesis

ETH_FOR_GAS = 10**21
"""What an EVM devnet gives each node for gas and revoke bonds (1,000 ETH)."""
EVM_BLOCK_TIME = 0.5


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
