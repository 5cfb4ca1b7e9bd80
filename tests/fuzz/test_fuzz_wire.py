"""One fuzz target per wire type (every class registered in ``proto`` and ``node``): a
decoder fed hostile bytes shaped like that type (``tests/fuzz/inputs.py``) raises
``DecodeError`` and nothing else, and whatever it accepts is canonical (encodes back to
the very bytes). ``make fuzz`` runs the same targets 100,000 inputs each."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proto.codec import Wire
from tests.fuzz.targets import WIRE_TYPES, decode_target, examples


def test_every_registered_wire_type_has_a_target() -> None:
    assert len(WIRE_TYPES) >= 60, sorted(c.__name__ for c in WIRE_TYPES.values())


@pytest.mark.parametrize(
    "cls", sorted(WIRE_TYPES.values(), key=lambda c: c.TAG), ids=lambda c: c.__name__
)
def test_a_decoder_takes_only_canonical_objects_of_its_type(cls: type[Wire]) -> None:
    target = decode_target(cls)

    @settings(max_examples=examples(10))
    @given(st.randoms(use_true_random=False))
    def fuzz(rng: random.Random) -> None:
        target.run(rng)

    fuzz()
