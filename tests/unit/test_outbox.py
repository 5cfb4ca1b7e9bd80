"""The trader's outbox on LevelDB: signed orders and request ids until applied, and the
half-signed swaps that hold a seq; all of it still there after the store is reopened."""

from __future__ import annotations

from pathlib import Path

import pytest

from proto.orders import Swap
from proto.rfq import SwapSign
from storage import LevelDBStore
from storage.memory import MemoryStore
from storage.outbox import OutboxRepo
from tests.support import make_group, pub

G = make_group(seed="outbox", stewards=1, members=2, funding=100)
ALICE, BOB = (pub(k) for k in G.members)


def half_signed(alice_seq: int) -> SwapSign:
    signed = G.swap(ALICE, alice_seq, BOB, 1, 30, 2)
    assert isinstance(signed.order, Swap)
    mine = next(
        sig
        for p, sig in zip(signed.order.parties, signed.signatures, strict=True)
        if p.member == ALICE
    )
    return SwapSign(signed.order, mine)


def test_orders_requests_and_held_swaps_outlive_a_reopen(tmp_path: Path) -> None:
    pays = [G.transfer(ALICE, seq, BOB, 5) for seq in (1, 2)]
    with LevelDBStore(tmp_path / "db") as store:
        outbox = OutboxRepo(store, G.group_id, ALICE)
        outbox.put([(pays[0], b"req-1"), (pays[1], None)])
        outbox.hold(half_signed(3), b"swap-3")  # the client's id goes with the held seq
        outbox.hold(half_signed(4))
    with LevelDBStore(tmp_path / "db") as store:
        outbox = OutboxRepo(store, G.group_id, ALICE)
        assert outbox.load() == pays
        assert outbox.seq_of_request(b"req-1") == 1 and outbox.seq_of_request(b"req-2") is None
        assert outbox.held() == {3: half_signed(3), 4: half_signed(4)}
        assert outbox.seq_of_request(b"swap-3") == 3
        assert OutboxRepo(store, G.group_id, BOB).held() == {}  # one trader's, not another's
        outbox.release([3])
        assert list(outbox.held()) == [4]
        whole = G.swap(ALICE, 4, BOB, 1, 30, 2)
        outbox.put([(whole, None)])
        outbox.remove([pays[0], whole])  # applied: the order and its held swap go
        assert outbox.load() == [pays[1]] and outbox.held() == {}
        assert outbox.seq_of_request(b"req-1") == 1  # request ids are kept
        assert outbox.seq_of_request(b"swap-3") == 3


def test_only_a_party_holds_a_swap() -> None:
    with pytest.raises(ValueError, match="not a party"):
        OutboxRepo(MemoryStore(), G.group_id, b"c" * 32).hold(half_signed(1))
