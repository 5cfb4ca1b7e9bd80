"""Handles: the strict pattern on the wire, resolving how people name a member, and the
group's rule that a handle names one member (a join whose handle is taken is never
admitted, whoever proposes it)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proto.admission import (
    Admission,
    Join,
    admissions_for,
    admissions_problem,
    apply_admissions,
    sign_join,
)
from proto.codec import decode
from proto.errors import DecodeError, LocalProtocolError
from proto.genesis import AdmissionPolicy, terms_hash
from proto.handles import handle_problem, label, resolve
from proto.ledger_view import LedgerView
from proto.state import AssetBalance, GroupState
from tests.support import key, pub

GID = hashlib.sha256(b"handles").digest()
TERMS = terms_hash("be excellent")
OPEN = AdmissionPolicy(0, 0, (), 0, 0)


def test_the_pattern_takes_plain_names_only() -> None:
    for good in ("bob", "alice_2", "a" * 20, "steward0"):
        assert handle_problem(good) is None
    for bad in (
        "",
        "al",
        "Alice",
        "1bob",
        "_bob",
        "a" * 21,
        "bob!",
        "<b>x</b>",
        "\u0430lice",
        "b b",
    ):
        assert handle_problem(bad) is not None, bad


@pytest.mark.parametrize("bad", ["Alice", "al", "x" * 21, "<script>", "bob\u200b"])
def test_a_join_with_a_bad_handle_does_not_decode(bad: str) -> None:
    """The handle is checked by the wire itself: a join naming a handle outside the
    pattern is refused before anything reads it."""
    good = sign_join(key(0, "alice"), GID, TERMS, handle="alice")
    raw = good.encode()
    assert decode(raw, Join).handle == "alice"
    encoded = bad.encode()
    forged = raw.replace(b"\xa5alice", bytes([0xA0 | len(encoded)]) + encoded)
    assert forged != raw
    with pytest.raises(DecodeError):
        decode(forged, Join)


ALICE = bytes.fromhex("ab12" + "00" * 30)
BOB = bytes.fromhex("ab13" + "11" * 30)
CAROL = bytes.fromhex("ab12" + "ff" * 30)
NAMELESS = bytes.fromhex("cd00" + "22" * 30)
DIRECTORY = {ALICE: "alice", BOB: "bob", CAROL: "carol", NAMELESS: ""}


def test_resolve_names_one_member_or_says_why_not() -> None:
    assert resolve("@alice", DIRECTORY) == ALICE
    assert resolve("ab13", DIRECTORY) == BOB
    assert resolve("CD00", DIRECTORY) == NAMELESS  # hex in either case
    stranger = "ef" * 32
    assert resolve(stranger, DIRECTORY) == bytes.fromhex(stranger)  # the protocol decides
    for query, words in [
        ("@dave", "no member goes by"),
        ("@", "no member goes by"),
        ("ab1", "4 to 64 digits"),
        ("ef01", "no member's id starts with"),
        ("alice", "@handle or a hex id"),
        ("ab1z", "@handle or a hex id"),
        ("ab" * 33, "4 to 64 digits"),
    ]:
        with pytest.raises(ValueError, match=words):
            resolve(query, DIRECTORY)
    with pytest.raises(ValueError, match=r"start of 2 ids \(@alice \(ab120000\), @carol"):
        resolve("ab12", DIRECTORY)
    assert resolve("ab12f", DIRECTORY) == CAROL  # one digit more tells them apart


def test_a_label_never_cuts_an_id_without_its_handle() -> None:
    assert label(ALICE, DIRECTORY) == "@alice (ab120000)"
    assert label(NAMELESS, DIRECTORY) == NAMELESS.hex()[:8]


@given(st.text(max_size=80))
def test_resolve_never_raises_anything_but_value_error(query: str) -> None:
    try:
        found = resolve(query, DIRECTORY)
    except ValueError:
        return
    assert len(found) == 32


def _deposited(view: LedgerView, *keys: object) -> None:
    for k in keys:
        view.add_deposit(1, pub(k), "USD", 10)  # type: ignore[arg-type]


def test_two_joiners_asking_for_one_handle_the_lower_id_gets_it() -> None:
    state = GroupState(GID, ("USD",))
    a, b = sorted([key(1, "a"), key(1, "b")], key=pub)
    view = LedgerView()
    _deposited(view, a, b)
    view.advance(1)
    joins = {pub(k): sign_join(k, GID, TERMS, handle="trader") for k in (a, b)}
    admitted = admissions_for(state, view, joins, OPEN)
    assert [x.member for x in admitted] == [pub(a)]
    apply_admissions(state, admitted, 1, 1)
    assert state.handles() == {pub(a): "trader"}
    # the other is not admitted later either, while someone goes by it
    assert admissions_for(state, view, {pub(b): joins[pub(b)]}, OPEN) == ()


def test_a_proposal_that_admits_a_taken_handle_is_refused() -> None:
    """A rogue proposer (a steward with a real key) names two joins for one handle, or a
    join for a handle a member holds: the proposal is inconsistent, and applying such
    admissions to a state raises (nothing of it is adopted)."""
    state = GroupState(GID, ("USD",))
    alice, mallory = key(2, "alice"), key(2, "mallory")
    state.admit(pub(alice), handle="alice")
    view = LedgerView()
    _deposited(view, mallory)
    view.advance(1)
    squat = sign_join(mallory, GID, TERMS, handle="alice")
    taken = (Admission(pub(mallory), (AssetBalance("USD", 10),), (squat,)),)
    assert admissions_problem(state, taken, 1, view, TERMS, OPEN) == "inconsistent"
    before = state.digest()
    with pytest.raises(LocalProtocolError, match="goes by @alice"):
        apply_admissions(state.copy(), taken, 1, 1)
    assert state.digest() == before
    carol, dave = key(2, "carol"), key(2, "dave")
    _deposited(view, carol, dave)
    twice = tuple(
        Admission(pub(k), (AssetBalance("USD", 10),), (sign_join(k, GID, TERMS, handle="carol"),))
        for k in sorted([carol, dave], key=pub)
    )
    assert admissions_problem(state, twice, 1, view, TERMS, OPEN) == "inconsistent"


def test_a_snapshot_with_one_handle_twice_does_not_decode() -> None:
    state = GroupState(GID, ("USD",))
    state.admit(pub(key(3, "a")), handle="same")
    state.admit(pub(key(3, "b")), handle="other")
    raw = state.encode()
    assert GroupState.decode(raw).handles() == state.handles()
    with pytest.raises(DecodeError):
        GroupState.decode(raw.replace(b"other", b"same\x00")[: len(raw)])
