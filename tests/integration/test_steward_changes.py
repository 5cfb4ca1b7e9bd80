"""Changes of stewards on real processes, under load: a ledger, 4 stewards and 2 members
on 127.0.0.1 (``devnet.cluster``). While member1 keeps paying member0 through its control
API, the stewards' operators (``swapnet steward`` on three, then four nodes):

1. add member0 as a fifth steward (the threshold goes from 3 to 4);
2. remove steward3 (four stewards, threshold 3);
3. refresh the shares of the same committee;
4. repair steward2, whose data dir was deleted (all but its key);

and, after 3., member0, a steward now, is killed with SIGKILL and restarted: it comes back in its
epoch with its reshared share from its own store and signs again. Every change takes
effect at a checkpoint the old committee signed; the wallet key never changes and the
ledger sees no transaction for any of it. Then member1 exits and the latest committee
signs its payout, which the ledger pays. Every order the API said was certified is applied
exactly once, and steward3's disk holds no share of the wallet key any more.
"""

from __future__ import annotations

import threading

import pytest

from devnet import local_http
from devnet.cluster import Cluster, NodeProc
from devnet.live_changes import epoch_of, lose_data_dir, wait_epoch
from storage import LevelDBStore
from storage.groups import GroupRepo
from tests.integration.processes import TIMEOUT_FACTOR, swapnet
from tests.integration.test_node_group import all_agree, form_and_join, group_of

pytestmark = pytest.mark.xdist_group("changes")  # beside the other process tests' worker


class Payer(threading.Thread):
    """member1 pays member0 1 USD at a time until stopped; counts what the API said."""

    def __init__(self, payer: NodeProc, payee: NodeProc) -> None:
        super().__init__(daemon=True)
        self.payer, self.payee = payer, payee
        self.stop = threading.Event()
        self.certified = 0
        self.pending = 0
        self.failed: list[str] = []
        self.epochs: list[int | None] = []
        """The epoch each certified payment's answer named (None: it came by sync)."""

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            body = {"to": self.payee.member.hex(), "asset": "USD", "amount": 1}
            try:
                answer = self.payer.call("POST", "/v1/pay", {**body, "request_id": f"p{n}"})
            except Exception as exc:  # a refusal or a timeout: counted, never hidden
                self.failed.append(str(exc))
                continue
            if answer.get("certified"):
                self.certified += 1
                self.epochs.append(answer["epoch"])
            else:
                self.pending += 1


def change(c: Cluster, operators: list[NodeProc], *args: str, epoch: int) -> None:
    """The operators' ``swapnet steward ...``, then every node in ``epoch``."""
    for n in operators:
        swapnet("steward", *args, "--data", str(n.data))
    wait_epoch(c, epoch, 120 * TIMEOUT_FACTOR)


def changes(c: Cluster) -> None:
    """The four changes, and member0's kill -9 and restart, one after the other."""
    s0, s1, s2, s3 = c.stewards
    m0, m1 = c.members
    # 1. a fifth steward: member0; the threshold rises from 3 to 4
    change(c, [s0, s1, s2], "add", m0.member.hex(), epoch=1)
    assert epoch_of(m1)["threshold"] == 4 and len(epoch_of(m1)["stewards"]) == 5
    c.wait("member0 to sign", lambda: group_of(m0)["steward"])
    # 2. steward3 removed: a quorum of the five asks
    change(c, [s0, s1, s2, m0], "remove", s3.member.hex(), epoch=2)
    assert s3.member.hex() not in epoch_of(m1)["stewards"]
    assert epoch_of(m1)["threshold"] == 3
    c.wait("steward3 to stop signing", lambda: not group_of(s3)["steward"])
    # 3. a refresh of the four
    change(c, [s0, s1, m0], "refresh", epoch=3)
    # member0 killed and restarted: back in epoch 3 with its share, from its disk
    m0.kill_9()
    c.restart(m0)
    c.wait("member0 back as a steward", lambda: group_of(m0)["steward"])
    before = group_of(m0)["checkpoint"]["number"]
    c.wait(
        "checkpoints after the restart",
        lambda: group_of(s0)["checkpoint"]["number"] > before + 2,
    )
    # 4. steward2 loses its data dir (its key comes back from the operator's backup):
    # restarted from the genesis, it follows the group but neither votes nor signs in
    # the epoch whose share and vote locks it lost; a repair (a refresh it does not
    # deal in) gives it a new share and it is back from the next epoch
    lose_data_dir(s2)
    c.restart(s2)
    c.wait("steward2 back in epoch 3", lambda: epoch_of(s2)["number"] == 3)
    assert not group_of(s2)["steward"]
    change(c, [s0, s1, m0], "repair", s2.member.hex(), epoch=4)
    c.wait("steward2 to sign again", lambda: group_of(s2)["steward"])
    before = group_of(s2)["checkpoint"]["number"]
    c.wait(
        "checkpoints after the repair",
        lambda: group_of(s2)["checkpoint"]["number"] > before + 2,
    )


def test_a_live_group_adds_removes_refreshes_and_repairs_stewards_while_a_member_pays(
    cluster: Cluster,
) -> None:
    c = cluster
    expected = form_and_join(c)
    s0, s3 = c.stewards[0], c.stewards[3]
    m0, m1 = c.members
    gid = group_of(s0)["group_id"]
    wallet_key = group_of(s0)["wallet_key"]
    wallet_before = local_http.get(f"{c.ledger_url}/wallet/{gid}", timeout=10).json()
    payer = Payer(m1, m0)
    payer.start()
    try:
        c.wait("a payment certified in epoch 0", lambda: 0 in payer.epochs)
        changes(c)
        c.wait("a payment certified in epoch 4", lambda: 4 in payer.epochs)
    finally:
        payer.stop.set()
        payer.join(timeout=120)
    assert payer.certified > 0, payer.failed
    # each payer is told which committee certified its order: one epoch, in order
    told = [e for e in payer.epochs if e is not None]
    assert told == sorted(told) and set(told) <= set(range(5)), told
    c.wait("agreement after the changes", lambda: all_agree(c), timeout=120 * TIMEOUT_FACTOR)
    wallet_after = local_http.get(f"{c.ledger_url}/wallet/{gid}", timeout=10).json()
    assert wallet_after == wallet_before, "the ledger saw a change of stewards"
    groups = [group_of(n) for n in c.nodes]
    assert {g["wallet_key"] for g in groups} == {wallet_key}
    paid = expected[m0.member.hex()]["USD"]
    got = groups[0]["balances"][m0.member.hex()]["USD"] - paid
    assert payer.certified <= got <= payer.certified + payer.pending  # each applied once
    assert groups[0]["balances"][m1.member.hex()]["USD"] == paid - got

    # the latest committee signs member1's exit payout: the ledger pays it
    final = groups[0]["balances"][m1.member.hex()]
    on_ledger = {a: c.ledger_balance(m1.member, a) for a in final}
    m1.call("POST", "/v1/exit", {})
    c.wait(
        "the settle",
        lambda: all(c.ledger_balance(m1.member, a) == on_ledger[a] + final[a] for a in final),
        timeout=90 * TIMEOUT_FACTOR,
    )
    codes = c.stop_all()
    assert set(codes.values()) <= {0}, codes
    with LevelDBStore(s3.data / "store") as store:  # the removed steward holds no share
        repo = GroupRepo(store)
        assert all(repo.epoch_key(bytes.fromhex(gid), e) is None for e in range(5))
