"""One fuzz target per handler that reads a peer's bytes (each stream protocol, each
gossip validator, the ledger's transactions): see ``tests/fuzz/targets.py`` for what
each is fed and what counts as a finding. ``make fuzz`` runs them 100,000 inputs each."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import Target, examples, handler_targets

TARGETS = handler_targets()


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_a_handler_survives_hostile_input_and_refusals_change_nothing(target: Target) -> None:
    @settings(max_examples=examples(50))
    @given(st.randoms(use_true_random=False))
    def fuzz(rng: random.Random) -> None:
        target.run(rng)

    fuzz()
