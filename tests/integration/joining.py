"""A member that joins a running group from the test process, as a node would, with a
key the test holds (to misbehave with afterwards): funds from the faucet, a deposit on
the ledger, and its signed join sent to every steward until each keeps it (a steward
keeps a join once it has seen the joiner's deposit)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import trio
from nacl.signing import SigningKey

from devnet import local_http
from node.p2p import P2P
from node.runtime import JOIN_PROTOCOL
from proto.admission import sign_join
from proto.genesis import terms_hash
from proto.ledger.txs import Deposit, sign_tx
from tests.integration.processes import TIMEOUT_FACTOR


async def join_as(
    p2p: P2P,
    key: SigningKey,
    ledger_url: str,
    group_id: bytes,
    terms: str,
    stewards: Sequence[str],
    deposits: Mapping[str, int],
    handle: str,
) -> None:
    """Deposit ``deposits`` into the group's wallet and send the signed join (going by
    ``handle``) to every steward (multiaddrs ``stewards``) until each keeps it. Admission
    follows at the next checkpoint: the caller waits for it."""
    me = bytes(key.verify_key)
    info = local_http.get(f"{ledger_url}/info", timeout=10).json()
    ledger_id, fee = bytes.fromhex(info["ledger_id"]), int(info["min_fee"])
    needs = {asset: amount + fee * len(deposits) for asset, amount in deposits.items()}
    needs.setdefault(info["fee_asset"], fee * len(deposits))
    for asset, need in needs.items():
        answer = local_http.post(
            f"{ledger_url}/faucet",
            json={"account": me.hex(), "asset": asset, "amount": need},
            timeout=10,
        )
        answer.raise_for_status()
    with trio.fail_after(30 * TIMEOUT_FACTOR):
        while not _funded(ledger_url, me, needs):
            await trio.sleep(0.2)
    for nonce, (asset, amount) in enumerate(sorted(deposits.items()), start=1):
        tx = sign_tx(Deposit(me, nonce, fee, group_id, asset, amount), key, ledger_id)
        local_http.post(f"{ledger_url}/tx", content=tx.encode(), timeout=10).raise_for_status()
    join = sign_join(key, group_id, terms_hash(terms), handle=handle).encode()
    for addr in stewards:
        steward = await p2p.connect(addr)
        with trio.fail_after(60 * TIMEOUT_FACTOR):  # kept once it has seen the deposit
            while not json.loads(await p2p.request(steward, JOIN_PROTOCOL, join))["ok"]:
                await trio.sleep(0.5)


def _funded(ledger_url: str, me: bytes, deposits: Mapping[str, int]) -> bool:
    body = local_http.get(f"{ledger_url}/account/{me.hex()}", timeout=10).json()
    return all(int(body["balances"].get(a, 0)) >= n for a, n in deposits.items())
