"""One behaviour suite for the ledger port (``node.ledger_port``), run against both adapters
on real processes: the devnet ledger (``swapnet ledger run``) and an EVM chain (anvil with
the group wallet contract and an ERC-20), the way the store contract suite runs against
both stores.

Each test is written once, in the port's words: open, deposit, settle, revoke, crawl back,
finalize, the typed events read from a cursor, and the refusals by the same codes. A world
(``DevnetWorld``, ``EvmWorld``) only supplies what differs: the group's wallet key (FROST
Ed25519 or secp256k1), the format it signs wallet transactions and checkpoints in, and how
blocks are made.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from devnet.anvil import deploy, running
from devnet.chains import Chain, DevnetChain
from devnet.evm_chain import EvmChain
from devnet.evm_group import FrostGroup
from node.evm.adapter import EvmLedger
from node.evm.contracts import contract
from node.evm.signatures import address
from node.ledger_devnet import DevnetLedger, DevnetLedgerClient
from node.ledger_port import (
    LedgerError,
    LedgerEvent,
    LedgerPort,
    Receipt,
    wallet_problem,
)
from proto.chain_leaf import ChainTree, chain_leaves
from proto.checkpoint import SignedCheckpoint, checkpoint_of
from proto.evidence import sign_evidence
from proto.evm_wallet import evm_ledger_id, open_message, wallet_id
from proto.frost.suite import SECP256K1
from proto.genesis import AdmissionPolicy, Genesis
from proto.ledger.txs import OpenWallet
from proto.merkle import BalanceTree
from proto.state import AssetBalance, GroupState, Settlement
from proto.wallet_txs import DevnetWallet, EvmCall, EvmWallet, WalletAction, WalletFormat
from tests.integration.processes import ledger_process
from tests.ledger_support import WalletGroup
from tests.support import key, make_group, pub

WINDOW = 4
REVOKE_FEE = 50
DEPOSIT = 500


@dataclass
class World:
    """A group with two members, alice and bob, each acting through its own port."""

    alice: LedgerPort
    bob: LedgerPort
    alice_id: bytes
    bob_id: bytes
    genesis: Genesis
    accounts: dict[bytes, bytes] = field(default_factory=dict)
    """Each member's account on the ledger (where a settle or a finalize pays it)."""

    @property
    def gid(self) -> bytes:
        return self.genesis.group_id()

    def state(self, alice: int, bob: int) -> GroupState:
        state = self.genesis.initial_state()
        for member, amount in ((self.alice_id, alice), (self.bob_id, bob)):
            evm = self.accounts[member] if len(self.accounts[member]) == 20 else b""
            state.admit(member, 1, 1, evm)
            state.deposit(member, "USD", amount)
        return state

    def receipt(self, state: GroupState, number: int, member: bytes) -> Receipt:
        cp = checkpoint_of(state, number, self.genesis.ledger_id)
        snap = state.snapshot()
        tree = BalanceTree(state, snap)
        chain = ChainTree(chain_leaves(state, snap, tree))
        signed = SignedCheckpoint(cp, self.sign_checkpoint(cp))
        return Receipt(signed, tree.proof(member), chain.proof(member))

    # -- what differs per ledger ------------------------------------------------------------
    def sign_checkpoint(self, cp: Any) -> bytes:
        raise NotImplementedError

    def wallet(self) -> WalletFormat:
        raise NotImplementedError

    def sign_wallet(self, message: bytes) -> bytes:
        raise NotImplementedError

    async def open_tx(self) -> tuple[WalletAction, bytes]:
        """The wallet's opening and the group's signature."""
        action = self.wallet().opening(self.genesis)
        return action, self.sign_wallet(action.message)

    async def settle_tx(
        self, member: bytes, number: int, amount: int
    ) -> tuple[WalletAction, bytes]:
        """A settle of ``amount`` USD to ``member``, under checkpoint ``number``."""
        state = self.state(DEPOSIT, DEPOSIT)
        owed = Settlement(member, member, (AssetBalance("USD", amount),), await self.nonce())
        action = self.wallet().settle(state, number, owed)
        assert action is not None
        return action, self.sign_wallet(action.message)

    async def nonce(self) -> int:
        """The wallet's next transaction (open and settles so far, plus one)."""
        events = await all_events(self.alice, self.gid)
        return 1 + sum(e.kind in ("open", "settle") for e in events)

    async def included(self, blocks: int = 1) -> None:
        """Make ``blocks`` blocks (the devnet mines on demand; anvil mines every tx)."""
        raise NotImplementedError

    async def usd_held_by(self, member: bytes) -> int:
        """USD of the member's own ledger account (outside the wallet)."""
        raise NotImplementedError

    def chain(self) -> Chain:
        """The ledger as the devnet tools and scenarios read it (``devnet.chains``)."""
        raise NotImplementedError


class DevnetWorld(World):
    client: DevnetLedgerClient
    group: WalletGroup

    def sign_checkpoint(self, cp: Any) -> bytes:
        return self.group.frost_sign(cp.signing_message())

    def wallet(self) -> WalletFormat:
        return DevnetWallet(self.genesis.ledger_id, 1, self.genesis.wallet_key)

    def sign_wallet(self, message: bytes) -> bytes:
        return self.group.frost_sign(message)

    async def open_tx(self) -> tuple[WalletAction, bytes]:
        """As ``World``'s, with the wallet account's next nonce: a second opening is then
        refused for what it is (``wallet-exists``), not as a replay."""
        opening = self.wallet().opening(self.genesis)
        tx = opening.payload
        assert isinstance(tx, OpenWallet)
        nonce = int((await self.client.account(self.genesis.wallet_key))["next_nonce"])
        again = DevnetWallet(self.genesis.ledger_id, 1, tx.sender).action(
            dataclasses.replace(tx, nonce=nonce)
        )
        return again, self.sign_wallet(again.message)

    async def included(self, blocks: int = 1) -> None:
        await self.client.mine(blocks)

    def chain(self) -> Chain:
        return DevnetChain(self.client.url, 0, "", "SWAP")

    async def usd_held_by(self, member: bytes) -> int:
        return int((await self.client.account(member))["balances"].get("USD", 0))


class EvmWorld(World):
    w3: Web3
    frost: FrostGroup
    contract_address: bytes
    tokens: dict[str, Any]

    def sign_checkpoint(self, cp: Any) -> bytes:
        return self.frost.signature(cp.message_for(self.genesis.wallet_key))

    def wallet(self) -> WalletFormat:
        return EvmWallet(self.genesis)

    def sign_wallet(self, message: bytes) -> bytes:
        return self.frost.signature(message)

    async def included(self, blocks: int = 1) -> None:
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]

    async def usd_held_by(self, member: bytes) -> int:
        token = self.tokens["USD"]
        return int(token.functions.balanceOf(address(self.accounts[member])).call())

    def chain(self) -> Chain:
        tokens = {asset: t.address for asset, t in self.tokens.items()}
        url = self.w3.provider.endpoint_uri  # type: ignore[attr-defined]
        return EvmChain(url, 0, "", address(self.contract_address), tokens)


def stewards_genesis(
    seed: str, wallet_key: bytes, assets: tuple[str, ...], ledger: bytes, tokens: tuple[bytes, ...]
) -> tuple[Genesis, list[Any]]:
    """An EVM group's genesis (its wallet key FROST(secp256k1), ``tokens`` its assets')."""
    group = make_group(seed=seed, stewards=4, members=2, funding=0)
    genesis = Genesis(
        name=seed,
        stewards=tuple(pub(k) for k in group.stewards),
        threshold=group.committee.quorum,
        wallet_key=wallet_key,
        assets=assets,
        ledger_id=ledger,
        challenge_window=WINDOW,
        revoke_fee=REVOKE_FEE,
        checkpoint_interval=1,
        terms_hash=bytes(32),
        admission=AdmissionPolicy(0, 0, (), 0, 0),
        wallet_suite=SECP256K1.name,
        evm_tokens=tokens,
        steward_accounts=tuple(bytes([i + 1]) * 20 for i in range(len(group.stewards))),
    )
    return genesis, list(group.members)


@pytest.fixture(scope="module")
def evm_chain(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Web3, Any, dict[str, Any]]]:
    """anvil with the group wallet contract and the test tokens' build."""
    with running(tmp_path_factory.mktemp("anvil") / "anvil.log") as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        wallet = deploy(w3, contract("GroupWallet"))
        built = {"TestToken": contract("DevnetToken")}  # the committed build: nothing to compile
        yield w3, wallet, built


@pytest.fixture(params=["devnet", "evm"])
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, evm_chain: tuple[Web3, Any, dict[str, Any]]
) -> AsyncIterator[World]:
    with ExitStack() as stack:
        if request.param == "devnet":
            yield await devnet_world(stack, tmp_path)
        else:
            yield await evm_world(evm_chain)


async def devnet_world(stack: ExitStack, tmp_path: Path) -> DevnetWorld:
    ledger = stack.enter_context(ledger_process(tmp_path / "chain"))
    client = DevnetLedgerClient(ledger.url)
    lid = bytes.fromhex((await client.info())["ledger_id"])
    group = WalletGroup(1, lid, WINDOW, REVOKE_FEE)
    alice, bob = group.alice, group.bob
    ports = [DevnetLedger(DevnetLedgerClient(ledger.url), k) for k in (alice, bob)]
    world = DevnetWorld(ports[0], ports[1], pub(alice), pub(bob), group.genesis)
    world.client, world.group = client, group
    world.accounts = {pub(alice): pub(alice), pub(bob): pub(bob)}
    for k in (alice, bob):
        await client.faucet(pub(k), "USD", 10_000)
        await client.faucet(pub(k), "BTC", 10_000)
        await client.faucet(pub(k), "SWAP", 1_000)
    await client.faucet(group.wallet_key, "SWAP", 1_000)
    await client.mine(1)
    return world


async def evm_world(chain: tuple[Web3, Any, dict[str, Any]]) -> EvmWorld:
    w3, wallet, built = chain
    usd = deploy(w3, built["TestToken"], "test USD", "USD")
    btc = deploy(w3, built["TestToken"], "test BTC", "BTC")
    frost = FrostGroup(int.from_bytes(os.urandom(4), "big"))
    contract_address = bytes.fromhex(wallet.address[2:])
    lid = evm_ledger_id(w3.eth.chain_id, contract_address)
    assets = {
        "ETH": bytes(20),
        "USD": bytes.fromhex(usd.address[2:]),
        "BTC": bytes.fromhex(btc.address[2:]),
    }
    genesis, (alice, bob) = stewards_genesis(
        f"evm{os.urandom(4).hex()}", frost.key, ("ETH", "USD"), lid, (assets["ETH"], assets["USD"])
    )
    ports, accounts = [], {}
    for k in (alice, bob):
        secret = os.urandom(32)
        account = Account.from_key(secret)
        w3.provider.make_request("anvil_setBalance", [account.address, hex(10**20)])  # type: ignore[arg-type]
        for token in (usd, btc):
            token.functions.mint(account.address, 10_000).transact({"from": w3.eth.accounts[0]})
        accounts[pub(k)] = bytes.fromhex(account.address[2:])
        port = EvmLedger(w3.provider.endpoint_uri, contract_address, secret, pub(k), assets)  # type: ignore[attr-defined]
        port.follow(genesis)
        ports.append(port)
    world = EvmWorld(ports[0], ports[1], pub(alice), pub(bob), genesis, accounts)
    world.w3, world.frost, world.contract_address = w3, frost, contract_address
    world.tokens = {"USD": usd, "BTC": btc}
    return world


async def opened_with_deposits(world: World) -> None:
    await world.alice.submit_wallet(*await world.open_tx())
    await world.included()
    for port in (world.alice, world.bob):
        await port.deposit(world.gid, "USD", DEPOSIT)
    await world.included()


async def all_events(port: LedgerPort, gid: bytes) -> list[LedgerEvent]:
    """Every event of the group, page by page from cursor 1."""
    events, cursor = [], 1
    while True:
        page = await port.events(cursor)
        events += [e for e in page.events if e.group_id == gid]
        assert page.next > cursor or page.next > page.height
        if page.next > page.height:
            return events
        cursor = page.next


async def refused(code: str, call: Any) -> None:
    with pytest.raises(LedgerError) as caught:
        await call
    assert caught.value.code == code, caught.value


# -- the suite ------------------------------------------------------------------------------


async def test_open_and_deposits_show_as_the_genesis_and_as_typed_events(world: World) -> None:
    await refused("unknown-wallet", world.alice.wallet(world.gid))
    await opened_with_deposits(world)
    wallet = await world.bob.wallet(world.gid)
    assert wallet_problem(world.genesis, wallet) is None
    assert wallet.held["USD"] == 2 * DEPOSIT
    events = await all_events(world.bob, world.gid)
    assert [(e.kind, e.member, e.amounts) for e in events] == [
        ("open", b"", {}),
        ("deposit", world.alice_id, {"USD": DEPOSIT}),
        ("deposit", world.bob_id, {"USD": DEPOSIT}),
    ]
    assert all(e.ref for e in events) and len({e.ref for e in events}) == 3
    # a cursor past the tip waits, then answers an empty page that starts where it was asked
    tip = (await world.alice.info()).height
    page = await world.alice.events(tip + 1, wait=0.2)
    assert page.events == [] and page.next == tip + 1
    # the same wallet cannot be opened twice; an asset outside the wallet is refused
    await refused("wallet-exists", world.alice.submit_wallet(*await world.open_tx()))
    await refused("unknown-asset", world.alice.deposit(world.gid, "BTC", 5))


async def test_a_settle_pays_once_and_a_settled_member_cannot_revoke(world: World) -> None:
    await opened_with_deposits(world)
    before = await world.usd_held_by(world.alice_id)
    await world.bob.submit_wallet(*await world.settle_tx(world.alice_id, 2, 320))
    await world.included()
    assert await world.usd_held_by(world.alice_id) == before + 320
    assert (await world.alice.wallet(world.gid)).held["USD"] == 2 * DEPOSIT - 320
    again = world.bob.submit_wallet(*await world.settle_tx(world.alice_id, 2, 320))
    await refused("checkpoint-used", again)
    receipt = world.receipt(world.state(DEPOSIT, DEPOSIT), 3, world.alice_id)
    await refused("member-settled", world.alice.revoke(world.gid, receipt))
    settles = [e for e in await all_events(world.alice, world.gid) if e.kind == "settle"]
    assert [(e.member, e.checkpoint, e.amounts) for e in settles] == [
        (world.alice_id, 2, {"USD": 320})
    ]


async def test_a_stale_revoke_is_crawled_back_loses_its_bond_and_pays_the_newer_balance(
    world: World,
) -> None:
    await opened_with_deposits(world)
    stale = world.receipt(world.state(DEPOSIT, DEPOSIT), 2, world.bob_id)
    newer_state = world.state(DEPOSIT + 200, DEPOSIT - 200)  # bob paid alice 200 since
    newer = world.receipt(newer_state, 3, world.bob_id)
    await world.bob.revoke(world.gid, stale)
    await world.included()
    await refused("claim-open", world.bob.revoke(world.gid, stale))
    await refused("own-claim", world.bob.crawl_back(world.gid, world.bob_id, newer))
    await refused("not-newer", world.alice.crawl_back(world.gid, world.bob_id, stale))
    forged = Receipt(
        SignedCheckpoint(
            newer.checkpoint.checkpoint,
            world.receipt(newer_state, 4, world.bob_id).checkpoint.signature,
        ),
        newer.proof,
        newer.chain,
    )
    await refused("bad-checkpoint", world.alice.crawl_back(world.gid, world.bob_id, forged))
    await world.alice.crawl_back(world.gid, world.bob_id, newer)
    await world.included()
    await refused("window-open", world.alice.finalize(world.gid, world.bob_id))
    await world.included(WINDOW + 1)
    before = await world.usd_held_by(world.bob_id)
    await world.alice.finalize(world.gid, world.bob_id)
    await world.included()
    assert await world.usd_held_by(world.bob_id) == before + DEPOSIT - 200
    claims = [e for e in await all_events(world.alice, world.gid) if e.member == world.bob_id]
    assert [(e.kind, e.checkpoint, e.amounts, e.forfeited) for e in claims[1:]] == [
        ("revoke", 2, {"USD": DEPOSIT}, 0),
        ("crawl-back", 3, {"USD": DEPOSIT - 200}, REVOKE_FEE),
        ("finalize", 3, {"USD": DEPOSIT - 200}, 0),
    ]
    await refused("member-revoked", world.bob.revoke(world.gid, newer))
    await refused("no-open-claim", world.alice.finalize(world.gid, world.bob_id))
    # the revoke evidence, as the crawler's port gives it, holds offline against the genesis
    # alone; the claimant's port, whose crawl back it was not, gives none
    revoke, crawl = claims[1], claims[2]
    assert await world.bob.crawl_back_evidence(crawl, revoke.height) is None
    found = await world.alice.crawl_back_evidence(crawl, revoke.height)
    assert found is not None
    finding = sign_evidence(key("port", "reporter"), found).verify(world.genesis)
    assert finding.premature and finding.revoker == world.bob_id
    assert (finding.stale, finding.newer) == ({"USD": DEPOSIT}, {"USD": DEPOSIT - 200})
    assert (finding.revoke_height, finding.crawl_back_height) == (revoke.height, crawl.height)
    # the same story as the devnet tools and scenarios read it (``devnet.chains``)
    chain = world.chain()
    (crawl,) = chain.crawl_backs(world.genesis, world.bob_id)
    assert (crawl.checkpoint, crawl.amounts.get("USD"), crawl.forfeited) == (
        3,
        DEPOSIT - 200,
        REVOKE_FEE,
    )
    assert chain.crawl_backs(world.genesis, world.alice_id) == []
    assert chain.highest_checkpoint(world.genesis) == 3
    held = chain.balances(world.accounts[world.bob_id])["USD"]
    assert held == await world.usd_held_by(world.bob_id)


async def test_an_evm_node_acts_only_on_events_its_confirmation_depth_under(
    evm_chain: tuple[Web3, Any, dict[str, Any]],
) -> None:
    """With ``confirmations`` = 3 the adapter's height and events stay three blocks below
    the tip: a deposit in a block a reorganization could take back is not seen yet."""
    world = await evm_world(evm_chain)
    w3 = evm_chain[0]
    await world.alice.submit_wallet(*await world.open_tx())
    port = world.alice
    assert isinstance(port, EvmLedger)
    deep = EvmLedger(
        w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        port.address,
        os.urandom(32),
        world.alice_id,
        dict(port.assets),
        confirmations=3,
    )
    deep.follow(world.genesis)
    start = (await port.info()).height
    await world.alice.deposit(world.gid, "USD", 7)
    tip = w3.eth.block_number
    assert (await deep.info()).height == tip - 3
    page = await deep.events(start)
    assert page.next <= tip - 2 and not any(e.kind == "deposit" for e in page.events)
    await world.included(3)
    deposits = [e for e in (await deep.events(start)).events if e.kind == "deposit"]
    assert [(e.member, e.amounts) for e in deposits] == [(world.alice_id, {"USD": 7})]


async def test_a_strangers_wallet_naming_our_genesis_is_not_ours(
    evm_chain: tuple[Web3, Any, dict[str, Any]],
) -> None:
    """On an EVM chain anyone may open a wallet naming our group id as its genesis, under
    a key of its own: its id is another (the key is bound in it), so our adapter neither
    takes it for our wallet nor reads its events as ours."""
    world = await evm_world(evm_chain)
    w3, wallet, _ = evm_chain
    port = world.alice
    assert isinstance(port, EvmLedger)
    stranger = FrostGroup(int.from_bytes(os.urandom(4), "big"))
    g = world.genesis
    x, parity = stranger.key_args
    chain_id, contract_address = w3.eth.chain_id, bytes.fromhex(wallet.address[2:])
    args = (world.gid, x, parity, g.challenge_window, g.revoke_fee, g.evm_tokens)
    message = open_message(chain_id, contract_address, *args)
    fake = WalletAction(1, message, EvmCall("open", args), False)
    tip = (await port.info()).height
    await port.submit_wallet(fake, stranger.signature(message))  # the contract takes it
    usd = bytes.fromhex(world.tokens["USD"].address[2:])
    fake_id = wallet.functions.walletId(world.gid, x, parity).call()
    assert fake_id != wallet_id(world.gid, g.wallet_key)
    anyone = w3.eth.accounts[0]  # anyone may deposit into it, in anyone's name
    world.tokens["USD"].functions.mint(anyone, 5).transact({"from": anyone})
    world.tokens["USD"].functions.approve(wallet.address, 5).transact({"from": anyone})
    deposit = wallet.functions.deposit(fake_id, world.alice_id, address(usd), 5)
    deposit.transact({"from": anyone})
    await refused("unknown-wallet", port.wallet(world.gid))  # ours is not open: theirs is not it
    page = await port.events(tip + 1)
    assert page.events == []  # neither its opening nor the deposit into it is ours
    await opened_with_deposits(world)
    assert (await port.wallet(world.gid)).key == g.wallet_key
