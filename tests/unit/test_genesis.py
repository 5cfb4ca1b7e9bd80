"""The genesis document: the group id commits to every field; invalid genesis documents
cannot exist, built or decoded."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest

from proto.codec import decode
from proto.errors import DecodeError
from proto.frost.curve import base_mul
from proto.genesis import AdmissionPolicy, Genesis, terms_hash
from tests.support import make_group, pub

G = make_group(seed="genesis", stewards=4)
WALLET = base_mul(123456789)


def genesis(**changes: object) -> Genesis:
    base = Genesis(
        name="night traders",
        stewards=tuple(pub(k) for k in G.stewards),
        threshold=3,
        wallet_key=WALLET,
        assets=("BTC", "USD"),
        ledger_id=b"\x01" * 32,
        challenge_window=20,
        revoke_fee=50,
        checkpoint_interval=10,
        terms_hash=terms_hash("We settle in good faith."),
        admission=AdmissionPolicy(0, 0, (), 0, 0),
    )
    return dataclasses.replace(base, **changes)


def test_genesis_round_trips_and_its_id_commits_to_every_field() -> None:
    g = genesis()
    assert decode(g.encode(), Genesis) == g
    ids = {g.group_id()}
    for change in (
        {"name": "day traders"},
        {"revoke_fee": 51},
        {"terms_hash": terms_hash("other terms")},
        {"admission": AdmissionPolicy(1, 0, (), 0, 0)},
        {"stewards": tuple(reversed(g.stewards))},
    ):
        ids.add(genesis(**change).group_id())
    assert len(ids) == 6


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"threshold": 2}, "quorum"),
        ({"wallet_key": bytes(32)}, "wallet key"),
        ({"stewards": (pub(G.stewards[0]), pub(G.stewards[0]))}, "twice"),
        ({"assets": ("USD", "BTC")}, "ascending"),
        ({"steward_handles": ("ann", "bob", "ann", "cid")}, "one distinct handle"),
        ({"steward_handles": ("ann", "bob")}, "one distinct handle"),
        ({"steward_handles": ("ann", "bob", "cid", "Dee")}, "does not match"),
    ],
)
def test_an_invalid_genesis_cannot_be_built_or_decoded(
    change: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        genesis(**change)
    wire = msgpack.unpackb(genesis().encode())
    names = [name for name, _ in Genesis.WIRE_FIELDS]
    for name, value in change.items():
        raw = value.encode() if isinstance(value, AdmissionPolicy) else value
        wire[1 + names.index(name)] = list(raw) if isinstance(raw, tuple) else raw
    with pytest.raises(DecodeError, match=complaint):
        decode(msgpack.packb(wire, use_bin_type=True), Genesis)


def test_the_founding_stewards_go_by_the_genesis_handles() -> None:
    g = genesis(steward_handles=("ann", "bob", "cid", "dee"))
    assert g.founding_state().handles() == dict(zip(g.stewards, g.steward_handles, strict=True))
    assert g.group_id() != genesis().group_id()


def test_frost_identifiers_follow_the_steward_order() -> None:
    g = genesis()
    assert [g.frost_identifier(s) for s in g.stewards] == [1, 2, 3, 4]
    assert g.committee.stewards == tuple(sorted(g.stewards))


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ((0, 0, (), 1, 1_000), "trusted wallets"),  # self-made wallets' badges would count
        ((0, 0, (WALLET,), 1, 0), "maximum prequal age"),  # a years-old badge would count
    ],
)
def test_a_policy_asking_for_prequals_names_trusted_wallets_and_a_maximum_age(
    fields: tuple[object, ...], complaint: str
) -> None:
    """Issue 17 (suspected): with no trusted wallets, a joiner's badges from a wallet it
    opened itself satisfied ``min_prequals``; with ``max_prequal_age = 0`` any old badge
    did. Such a policy can no longer be built, or decoded from a peer."""
    with pytest.raises(ValueError, match=complaint):
        AdmissionPolicy(*fields)  # type: ignore[arg-type]
    wire = [80, *(list(f) if isinstance(f, tuple) else f for f in fields)]
    with pytest.raises(DecodeError, match=complaint):
        decode(msgpack.packb(wire, use_bin_type=True), AdmissionPolicy)
    assert AdmissionPolicy(0, 0, (WALLET,), 1, 1_000).min_prequals == 1
