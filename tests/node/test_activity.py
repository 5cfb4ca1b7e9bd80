"""The dashboard's history (``node.activity``): every applied order that touches us, paid
or received, newest first, filtered, and bounded."""

from __future__ import annotations

import hashlib

from nacl.signing import SigningKey

from node.activity import MAX_ENTRIES, Activity
from proto.orders import Leg, Mark, Party, SignedOrder, Swap, Transfer, sign_order
from tests.support import key, pub

GID = hashlib.sha256(b"activity").digest()
ME, ALICE, BOB = key(0, "me"), key(0, "alice"), key(0, "bob")
KEYS = {pub(k): k for k in (ME, ALICE, BOB)}


def pay(payer: SigningKey, seq: int, payee: SigningKey, amount: int) -> SignedOrder:
    return sign_order(Transfer(pub(payer), seq, pub(payee), "USD", amount, b""), KEYS, GID)


def test_what_we_paid_and_received_and_nothing_else() -> None:
    clock = iter(range(100, 200))
    a = Activity(pub(ME), clock=lambda: float(next(clock)))
    a.on_applied([pay(ME, 1, ALICE, 5), pay(ALICE, 1, BOB, 9)])
    a.on_applied([pay(BOB, 1, ME, 3)])
    a.on_applied([sign_order(Mark(pub(ME), 2, "USD", 1), KEYS, GID)])
    entries = a.newest(10)
    assert [(e.kind, e.seq) for e in entries] == [("mark", 2), ("transfer", 0), ("transfer", 1)]
    assert entries[1].legs == ((pub(BOB), pub(ME), "USD", 3),) and entries[1].at == 101.0
    assert [e.seq for e in a.newest(10, kind="transfer", other=pub(BOB))] == [0]
    assert a.newest(1) == entries[:1]
    assert entries[2].json()["legs"] == [
        {"from": pub(ME).hex(), "to": pub(ALICE).hex(), "asset": "USD", "amount": 5}
    ]


def test_a_swap_we_are_paid_in_counts_and_the_record_is_bounded() -> None:
    a = Activity(pub(ME))
    legs = sorted(
        [Leg(pub(ALICE), pub(ME), "USD", 2), Leg(pub(ME), pub(ALICE), "BTC", 1)],
        key=lambda g: (g.payer, g.payee, g.asset),
    )
    parties = tuple(Party(m, 1) for m in sorted([pub(ALICE), pub(ME)]))
    swap = sign_order(Swap(parties, tuple(legs), b""), KEYS, GID)
    a.on_applied([swap])
    assert a.newest(5)[0].kind == "swap"
    a.on_applied([pay(BOB, i, ME, 1) for i in range(1, MAX_ENTRIES + 10)])
    assert len(a.entries) == MAX_ENTRIES and a.newest(1)[0].legs[0][0] == pub(BOB)
