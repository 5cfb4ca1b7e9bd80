"""The node's frozen figures (``node.statistics``): a snapshot cannot be changed by what
reads it, and its JSON is the ``/status`` shape, ids in hex."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError

import pytest

from node.api.metrics import NodeMetrics
from tests.node.snapshots import ME, OTHER, STEWARD, claim, no_group, position, snapshot


def test_a_snapshot_is_frozen_to_its_leaves() -> None:
    s = snapshot(ours={"USD": 5}, claims=(claim(OTHER),), pit=position(call=3))
    assert s.group is not None and s.group.position is not None
    with pytest.raises(FrozenInstanceError):
        s.group.checkpoint.number = 8  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.group.ours["USD"] = 10**9  # type: ignore[index]
    with pytest.raises(TypeError):
        s.group.notary.open_claims[0].claim["USD"] = 0  # type: ignore[index]
    with pytest.raises(AttributeError):
        s.group.stewards.stewards.append(s.group.stewards.stewards[0])  # type: ignore[attr-defined]


def test_its_json_is_the_status_shape_with_ids_in_hex() -> None:
    s = snapshot(silent=True, claims=(claim(OTHER, crawled=True),), ours={"USD": 5})
    out = json.loads(json.dumps(s.json()))  # plain JSON all the way down
    assert out["member"] == ME.hex() and out["groups"] == [out["group"]]
    g = out["group"]
    assert g["checkpoint"]["number"] == 7 and g["orders_since_checkpoint"] == 3
    assert g["stewards"]["stewards"][0]["steward"] == STEWARD.hex()
    assert g["stewards"]["stewards"][0]["not_signing"] is True
    assert g["notary"]["open_claims"] == [
        {
            "member": OTHER.hex(),
            "checkpoint": 3,
            "claim": {"USD": 5},
            "deadline": 40,
            "crawled_back": True,
        }
    ]
    assert "balances" not in g  # no detail asked for: no walk over every member
    bare = no_group().json()
    assert bare["groups"] == [] and "group" not in bare


def test_metrics_read_a_snapshot_taken_at_scrape() -> None:
    taken = []

    def statistics() -> object:
        taken.append(1)
        return no_group()

    metrics = NodeMetrics(statistics)  # type: ignore[arg-type]
    before = len(taken)
    text = metrics.render().decode()
    assert "swapnet_ready 0.0" in text and "swapnet_ledger_height 0.0" in text
    assert len(taken) == before + 1  # one snapshot per scrape, never a stale one
