"""The devnet ledger as a real process: the exit game over HTTP, named refusals, and a
kill -9 that loses no accepted block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from node.ledger_devnet import DevnetLedgerClient
from node.ledger_port import LedgerError
from proto.ledger.txs import CrawlBack, Deposit, Finalize, Revoke, Settle, Tx
from proto.replica import Replica
from proto.state import AssetBalance
from tests.integration.processes import ledger_process
from tests.ledger_support import WalletGroup
from tests.support import pub

WINDOW = 4
REVOKE_FEE = 50


class Scenario(WalletGroup):
    """The wallet group, acting on a real ledger through its HTTP client."""

    def __init__(self, client: DevnetLedgerClient, ledger_id: bytes, seed: int = 0) -> None:
        super().__init__(seed, ledger_id, WINDOW, REVOKE_FEE)
        self.client = client

    async def nonce(self, account: bytes) -> int:
        return int((await self.client.account(account))["next_nonce"])

    async def send(self, tx: Tx, signer: Any = None) -> str:
        return await self.client.submit(self.signed(tx, signer))

    async def refused(self, tx: Tx, signer: Any = None) -> str:
        with pytest.raises(LedgerError) as caught:
            await self.send(tx, signer)
        assert caught.value.status == 400
        return caught.value.code

    async def usd(self, account: bytes) -> int:
        return int((await self.client.account(account))["balances"].get("USD", 0))

    async def setup(self, deposit: int = 500) -> Replica:
        """Fund everyone from the faucet, open the wallet, both members join."""
        for k in self.people:
            await self.client.faucet(pub(k), "USD", 10_000)
            await self.client.faucet(pub(k), "SWAP", 1_000)
        await self.client.faucet(self.wallet_key, "SWAP", 1_000)
        await self.client.mine(1)
        w, gid = self.wallet_key, self.group.group_id
        await self.send(self.open_tx(await self.nonce(w)))
        for k in (self.alice, self.bob):
            m = pub(k)
            await self.send(Deposit(m, await self.nonce(m), 1, gid, "USD", deposit), k)
        await self.client.mine(1)
        return self.state_after_joins(deposit)


async def started(ledger_url: str) -> Scenario:
    client = DevnetLedgerClient(ledger_url)
    info = await client.info()
    return Scenario(client, bytes.fromhex(info["ledger_id"]))


async def test_deposit_then_settle_against_a_real_ledger(tmp_path: Path) -> None:
    with ledger_process(tmp_path / "chain") as ledger:
        s = await started(ledger.url)
        await s.setup()
        a, w, gid = pub(s.alice), s.wallet_key, s.group.group_id
        before = await s.usd(a)
        payout = (AssetBalance("USD", 320),)
        tx_id = await s.send(Settle(w, await s.nonce(w), 1, gid, 1, a, a, payout))
        assert (await s.client.tx_status(tx_id))["status"] == "pending"
        height = await s.client.mine(1)
        assert await s.client.tx_status(tx_id) == {"status": "included", "height": height}
        assert await s.usd(a) == before + 320
        wallet = await s.client.wallet(gid)
        assert wallet["balances"] == {"USD": 680}
        assert wallet["deposits"] == {pub(k).hex(): {"USD": 500} for k in (s.alice, s.bob)}
        replay = Settle(w, await s.nonce(w), 1, gid, 1, a, a, payout)
        assert await s.refused(replay) == "checkpoint-used"
        await s.client.aclose()


async def test_revoke_latest_then_finalize_after_the_window_and_not_twice(tmp_path: Path) -> None:
    with ledger_process(tmp_path / "chain") as ledger:
        s = await started(ledger.url)
        replica = await s.setup()
        a, n, gid = pub(s.alice), pub(s.notary), s.group.group_id
        cp = s.checkpoint(replica, 1)
        await s.send(Revoke(a, await s.nonce(a), 1, cp, s.proof(replica, a)), s.alice)
        await s.client.mine(1)
        claim = (await s.client.wallet(gid))["claims"][0]
        assert claim["member"] == a.hex() and claim["balances"] == {"USD": 500}
        assert await s.refused(Finalize(n, await s.nonce(n), 1, gid, a), s.notary) == "window-open"
        await s.client.mine(WINDOW)
        before = await s.usd(a)
        await s.send(Finalize(n, await s.nonce(n), 1, gid, a), s.notary)
        await s.client.mine(1)
        assert await s.usd(a) == before + 500
        assert (
            await s.refused(Finalize(n, await s.nonce(n), 1, gid, a), s.notary) == "no-open-claim"
        )
        await s.client.aclose()


async def test_stale_revoke_is_crawled_back_and_late_crawl_back_is_refused(tmp_path: Path) -> None:
    with ledger_process(tmp_path / "chain") as ledger:
        s = await started(ledger.url)
        replica = await s.setup()
        a, b, n, gid = pub(s.alice), pub(s.bob), pub(s.notary), s.group.group_id
        stale, stale_proof = s.checkpoint(replica, 1), s.proof(replica, a)
        replica.add_certified([s.group.transfer(a, 1, b, 200)])
        newer = s.checkpoint(replica, 2)
        await s.send(Revoke(a, await s.nonce(a), 1, stale, stale_proof), s.alice)
        await s.client.mine(1)
        notary_swap = (await s.client.account(n))["balances"]["SWAP"]
        crawl = CrawlBack(n, await s.nonce(n), 1, a, newer, s.proof(replica, a))
        await s.send(crawl, s.notary)
        await s.client.mine(1)
        assert (await s.client.account(n))["balances"]["SWAP"] == notary_swap - 1  # no bounty
        assert (await s.client.wallet(gid))["forfeited"] == REVOKE_FEE  # the cheat's loss
        claim = (await s.client.wallet(gid))["claims"][0]
        assert claim["checkpoint"] == 2 and claim["balances"] == {"USD": 300}
        page = await s.client.events(1)
        kinds = [e["kind"] for e in page.events]
        assert kinds.count("revoke") == 1 and kinds.count("crawl-back") == 1
        # Bob revokes honestly with checkpoint 2; after the window, crawling back is refused.
        await s.send(Revoke(b, await s.nonce(b), 1, newer, s.proof(replica, b)), s.bob)
        await s.client.mine(WINDOW + 1)
        three = s.checkpoint(replica, 3)
        late = CrawlBack(n, await s.nonce(n), 1, b, three, s.proof(replica, b))
        assert await s.refused(late, s.notary) == "window-closed"
        await s.client.aclose()


async def test_malformed_and_unsigned_transactions_get_named_errors(tmp_path: Path) -> None:
    with ledger_process(tmp_path / "chain") as ledger:
        s = await started(ledger.url)
        import httpx  # noqa: PLC0415

        async with httpx.AsyncClient(base_url=ledger.url) as http:
            r = await http.post("/tx", content=b"\x93garbage")
            assert r.status_code == 400 and r.json()["error"] == "malformed"
            r = await http.post("/tx", content=b"\x00" * (2 << 20))
            assert r.status_code == 413 and r.json()["error"] == "too-large"
            r = await http.get("/account/nothex")
            assert r.status_code == 400 and r.json()["error"] == "bad-request"
            r = await http.get("/events", params={"from": "x"})
            assert r.status_code == 400
            r = await http.post("/mine", json={"blocks": -1})
            assert r.status_code == 400
        a = pub(s.alice)
        await s.client.faucet(a, "SWAP", 10)
        await s.client.mine(1)
        tx = Deposit(a, 1, 1, s.group.group_id, "USD", 1)
        assert await s.refused(tx, s.bob) == "bad-signature"
        assert (await s.client.info())["mempool"] == 0
        await s.client.aclose()


async def test_kill_9_loses_no_accepted_block_or_transaction(tmp_path: Path) -> None:
    data = tmp_path / "chain"
    with ledger_process(data) as ledger:
        s = await started(ledger.url)
        accounts = [pub(k) for k in s.people]
        for i in range(30):
            await s.client.faucet(accounts[i % 3], "USD", i + 1)
            if i % 7 == 6:
                await s.client.mine(1)
        pending = await s.client.faucet(accounts[0], "BTC", 5)  # accepted, not yet in a block
        info = await s.client.info()
        blocks = [await s.client.block(h) for h in range(1, info["height"] + 1)]
        balances = [await s.client.account(k) for k in accounts]
        await s.client.aclose()
        ledger.kill_9()
    with ledger_process(data) as again:
        client = DevnetLedgerClient(again.url)
        after = await client.info()
        assert after["height"] == info["height"] and after["tip"] == info["tip"]
        assert [await client.block(h) for h in range(1, after["height"] + 1)] == blocks
        # The state includes the accepted transaction that was still waiting for a block.
        assert [await client.account(k) for k in accounts] == balances
        assert balances[0]["balances"]["BTC"] == 5
        assert (await client.tx_status(pending))["status"] == "pending"
        await client.mine(1)
        assert (await client.tx_status(pending))["status"] == "included"
        await client.aclose()


async def test_blocks_come_on_the_interval_and_the_event_stream_waits_for_them(
    tmp_path: Path,
) -> None:
    with ledger_process(tmp_path / "chain", block_interval=0.2) as ledger:
        client = DevnetLedgerClient(ledger.url)
        start = (await client.info())["height"] + 1
        tx_id = await client.faucet(b"\x07" * 32, "USD", 9)
        page = await client.events(start, wait=20)
        while not page.events:  # empty interval blocks may come first; resume at next
            page = await client.events(page.next, wait=20)
        (event,) = page.events
        assert event["kind"] == "transfer" and event["tx_id"] == tx_id
        assert page.next > event["height"] >= start
        assert (await client.tx_status(tx_id))["status"] == "included"
        await client.aclose()


def test_a_second_ledger_on_the_same_data_fails_with_one_clear_line(tmp_path: Path) -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from tests.integration.processes import ROOT  # noqa: PLC0415

    with ledger_process(tmp_path / "chain"):
        result = subprocess.run(
            [sys.executable, "-m", "node", "ledger", "run", "--data", str(tmp_path / "chain")],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert (
        result.stderr.startswith("error: cannot open the store") and result.stderr.count("\n") == 1
    )


async def test_the_devnet_conveniences_are_no_open_doors(tmp_path: Path) -> None:
    """Before: ``/faucet`` and ``/mine`` read bodies of any size (a 400 MB faucet call took
    the ledger from 54 to 1,064 MiB), ``/mine`` took ``text/plain`` from any web page and
    made up to 10,000 blocks at once (enough to close a challenge window before a notary
    acts), and one faucet call took the whole supply. Each refusal changes nothing."""
    import httpx  # noqa: PLC0415

    with ledger_process(tmp_path / "chain") as ledger:
        async with httpx.AsyncClient(base_url=ledger.url, timeout=30) as http:
            height = (await http.get("/info")).json()["height"]
            baseline = Path(f"/proc/{ledger.proc.pid}/status").read_text().split("VmRSS:")[1]
            plain = {"content-type": "text/plain"}  # what a cross-origin form may send
            r = await http.post("/mine", content=b'{"blocks": 1}', headers=plain)
            assert r.status_code == 415 and r.json()["error"] == "bad-content-type"
            r = await http.post("/mine", json={"blocks": 11})
            assert r.status_code == 400
            big = b'{"blocks": 1, "pad": "' + b"x" * (64 << 20) + b'"}'
            r = await http.post("/mine", content=big, headers={"content-type": "application/json"})
            assert r.status_code == 413 and r.json()["error"] == "too-large"
            faucet = (await http.get("/info")).json()["faucet"]
            r = await http.post(
                "/faucet", json={"account": "07" * 32, "asset": "USD", "amount": 10**13}
            )
            assert r.status_code == 400
            assert (await http.get("/info")).json()["height"] == height  # nothing was mined
            assert (await http.get("/info")).json()["mempool"] == 0  # nor any tx accepted
            r = await http.get(f"/account/{faucet}")
            assert r.json()["balances"]["USD"] == 10**15  # the faucet holds it all still
            r = await http.post("/mine", json={"blocks": 10})
            assert r.status_code == 200 and r.json()["height"] == height + 10
        peak = Path(f"/proc/{ledger.proc.pid}/status").read_text().split("VmHWM:")[1]
        assert int(peak.split()[0]) < 48 * 1024 + int(baseline.split()[0])  # never read it all
