"""Hostile inputs for the decoders and handlers, from a seeded ``random.Random`` (fast:
the thorough run makes 100,000 per target; hypothesis hands the same generator its own
seeded randoms in ``make test``).

Structure-aware: for any registered class, msgpack values shaped by its own field kinds
(``proto.codec``), so an input gets past the tag and the field count and reaches the field
bounds, the nesting, the sort orders and the classes' cross-field rules. Then, now and
again: one field swapped for any msgpack value, and the packed bytes flipped, cut or
spliced; and now and again bytes with no structure at all.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from typing import Any

import msgpack

import node
import proto
from proto.codec import Bool, Bytes, Kind, ListOf, Obj, Text, UInt, Wire, registered_types

DEPTH = 4
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@/ é"


def every_wire_type() -> dict[int, type[Wire]]:
    """Every class registered by proto and node (their modules imported first)."""
    for package in (proto, node):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    return registered_types()


def any_msgpack(rng: random.Random, depth: int = 3) -> Any:
    """Any msgpack value."""
    pick = rng.randrange(9 if depth > 0 else 7)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.randint(-(2**63), 2**64 - 1)
    if pick == 3:
        return rng.choice([0, 1, -1, 2**32, 2**64 - 1, 255, 256])
    if pick == 4:
        return rng.random() * 10 ** rng.randint(-5, 20)
    if pick == 5:
        return text(rng, 20)
    if pick == 6:
        return rng.randbytes(rng.randint(0, 40))
    if pick == 7:
        return [any_msgpack(rng, depth - 1) for _ in range(rng.randint(0, 5))]
    return {text(rng, 5): any_msgpack(rng, depth - 1) for _ in range(rng.randint(0, 3))}


def text(rng: random.Random, most: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, most)))


def raw_of(kind: Kind, rng: random.Random, depth: int = DEPTH) -> Any:
    """A msgpack value a field of ``kind`` takes, mostly; at its edges, and past them."""
    edge = rng.random() < 0.1
    if isinstance(kind, UInt):
        if edge:
            value = rng.choice([kind.minimum - 1, kind.maximum + 1, kind.minimum, kind.maximum])
            return min(max(value, -(2**63)), 2**64 - 1)  # what msgpack can carry
        if rng.random() < 0.5:
            return rng.randint(kind.minimum, min(kind.maximum, kind.minimum + 16))
        return rng.randint(kind.minimum, kind.maximum)
    if isinstance(kind, Bool):
        return rng.random() < 0.5
    if isinstance(kind, Bytes):
        if edge:
            return rng.randbytes(rng.choice([kind.min_size - 1, kind.max_size + 1]) % 4096)
        return rng.randbytes(rng.randint(kind.min_size, min(kind.max_size, kind.min_size + 64)))
    if isinstance(kind, Text):
        if kind.pattern is not None and not edge:
            return _matching(kind, rng)
        return text(rng, min(kind.max_size + 1, 24))
    if isinstance(kind, ListOf):
        if depth <= 0:
            return []
        count = rng.randint(kind.min_items, min(kind.max_items, kind.min_items + 3))
        items = [raw_of(kind.item, rng, depth - 1) for _ in range(count)]
        if kind.strictly_sorted and rng.random() < 0.7:
            items = sorted_unique(items)
        return items
    if isinstance(kind, Obj):
        if depth <= 0:
            return []
        return raw_object(rng.choice(kind.classes), rng, depth - 1)
    return any_msgpack(rng)


def _matching(kind: Text, rng: random.Random) -> str:
    """Text that often matches the kind's pattern: upper-case names are what the
    patterns in ``proto.kinds`` take (assets, handles); else anything short."""
    head = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    tail = "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(rng.randint(0, 5))
    )
    candidate = head + tail
    assert kind.pattern is not None
    return candidate if kind.pattern.fullmatch(candidate) else text(rng, 12)


def sorted_unique(items: list[Any]) -> list[Any]:
    """Items in ascending order of their packed bytes (what most sort keys follow for
    ids, and a near miss for the rest), repeats dropped."""
    seen: dict[bytes, Any] = {}
    for item in items:
        seen.setdefault(msgpack.packb(item, use_bin_type=True), item)
    return [seen[k] for k in sorted(seen)]


def raw_object(cls: type[Wire], rng: random.Random, depth: int = DEPTH) -> list[Any]:
    return [cls.TAG, *(raw_of(kind, rng, depth) for _, kind in cls.WIRE_FIELDS)]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """``data`` flipped, cut or spliced (or as it is)."""
    out = bytearray(data)
    how = rng.randrange(5)
    if how == 1 and out:
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif how == 2 and out:
        del out[rng.randrange(len(out)) :]
    elif how == 3:
        i = rng.randint(0, len(out))
        out[i:i] = rng.randbytes(rng.randint(1, 8))
    return bytes(out)


def hostile_bytes(cls: type[Wire], rng: random.Random) -> bytes:
    """Bytes for a decoder of ``cls``."""
    if rng.random() < 0.05:
        return rng.randbytes(rng.randint(0, 64))
    value = raw_object(cls, rng)
    if len(value) > 1 and rng.random() < 0.25:
        value[rng.randint(1, len(value) - 1)] = any_msgpack(rng)
    return mutate(msgpack.packb(value, use_bin_type=True), rng)
