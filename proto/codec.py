"""Canonical msgpack encoding of swapnet's wire objects, and the strict decoder.

Every object that is signed, sent or stored is a frozen dataclass registered here with a
type tag. On the wire it is a msgpack array of fixed shape: ``[tag, field1, field2, ...]``
in the order the dataclass declares its fields; nested objects are nested arrays of the
same form. Each field has a ``Kind`` that says exactly what it may hold (unsigned integers
of a bit width, byte strings of an exact or maximum length, bounded text, bounded lists).

Invariants:

* No floats, maps, extension types or ``None`` anywhere: amounts are integers in base
  units and rates are basis points.
* ``decode(encode(x)) == x`` for every valid object, and ``decode`` accepts only bytes that
  ``encode`` would produce: after parsing, the object is re-encoded and the bytes must be
  identical. Non-minimal integers, str/bin confusion, trailing bytes and the like fail.
* ``decode`` raises ``DecodeError`` and nothing else, whatever the input.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import msgpack

from proto.errors import DecodeError, LocalProtocolError

MAX_MESSAGE_BYTES = 1 << 20
"""Largest encoded object the decoder looks at (gossip drops bigger messages anyway)."""

U64_MAX = (1 << 64) - 1


class Kind:
    """What one field may hold.

    ``check`` takes a value fresh from msgpack, validates it and returns the Python value
    (lists become tuples, nested arrays become objects), raising ``DecodeError``.
    ``validate`` checks a Python value when an object is constructed, raising
    ``ValueError``. ``to_wire`` turns a Python value into what msgpack packs.
    """

    def problem(self, value: object) -> str | None:
        """For scalar kinds: what is wrong with ``value``, or None."""
        raise LocalProtocolError(f"{type(self).__name__} must define problem()")

    def check(self, value: object, path: str) -> Any:
        trouble = self.problem(value)
        if trouble is not None:
            raise DecodeError(f"{path}: {trouble}")
        return value

    def validate(self, value: object, path: str) -> None:
        trouble = self.problem(value)
        if trouble is not None:
            raise ValueError(f"{path}: {trouble}")

    def to_wire(self, value: Any) -> Any:
        return value


class UInt(Kind):
    """An unsigned integer of at most ``bits`` bits (bool is not an integer here)."""

    def __init__(self, bits: int = 64, minimum: int = 0) -> None:
        self.maximum = (1 << bits) - 1
        self.minimum = minimum

    def problem(self, value: object) -> str | None:
        if type(value) is not int:
            return f"expected an integer, got {type(value).__name__}"
        if not self.minimum <= value <= self.maximum:
            return f"{value} outside [{self.minimum}, {self.maximum}]"
        return None


class Bool(Kind):
    def problem(self, value: object) -> str | None:
        if type(value) is not bool:
            return f"expected a boolean, got {type(value).__name__}"
        return None


class Bytes(Kind):
    """A byte string of exactly ``size`` bytes, or of ``min_size`` to ``max_size`` bytes."""

    def __init__(self, size: int | None = None, *, max_size: int = 0, min_size: int = 0) -> None:
        self.min_size = size if size is not None else min_size
        self.max_size = size if size is not None else max_size

    def problem(self, value: object) -> str | None:
        if type(value) is not bytes:
            return f"expected bytes, got {type(value).__name__}"
        if not self.min_size <= len(value) <= self.max_size:
            return f"{len(value)} bytes, expected {self.min_size}..{self.max_size}"
        return None


class Text(Kind):
    """UTF-8 text of at most ``max_size`` characters, optionally matching a pattern."""

    def __init__(self, max_size: int, pattern: str | None = None) -> None:
        self.max_size = max_size
        self.pattern = re.compile(pattern) if pattern is not None else None

    def problem(self, value: object) -> str | None:
        if type(value) is not str:
            return f"expected text, got {type(value).__name__}"
        if len(value) > self.max_size:
            return f"text longer than {self.max_size}"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return f"{value!r} does not match {self.pattern.pattern}"
        return None


class ListOf(Kind):
    """A bounded list, held as a tuple. ``strictly_sorted`` demands ascending order with no
    repeats (by the ``sort_key`` of each item), which makes sets canonical."""

    def __init__(
        self,
        item: Kind,
        *,
        max_items: int,
        min_items: int = 0,
        strictly_sorted: bool = False,
        sort_key: Callable[[Any], Any] | None = None,
    ) -> None:
        self.item = item
        self.max_items = max_items
        self.min_items = min_items
        self.strictly_sorted = strictly_sorted
        self.sort_key: Callable[[Any], Any] = sort_key or (lambda x: x)

    def _shape_problem(self, items: tuple[Any, ...] | list[Any]) -> str | None:
        if not self.min_items <= len(items) <= self.max_items:
            return f"{len(items)} items, expected {self.min_items}..{self.max_items}"
        return None

    def _order_problem(self, items: tuple[Any, ...]) -> str | None:
        if self.strictly_sorted:
            keys = [self.sort_key(v) for v in items]
            if any(a >= b for a, b in itertools.pairwise(keys)):
                return "items not in strictly ascending order"
        return None

    def check(self, value: object, path: str) -> tuple[Any, ...]:
        if type(value) is not list:
            raise DecodeError(f"{path}: expected a list, got {type(value).__name__}")
        trouble = self._shape_problem(value)
        if trouble is not None:
            raise DecodeError(f"{path}: {trouble}")
        items = tuple(self.item.check(v, f"{path}[{i}]") for i, v in enumerate(value))
        trouble = self._order_problem(items)
        if trouble is not None:
            raise DecodeError(f"{path}: {trouble}")
        return items

    def validate(self, value: object, path: str) -> None:
        if type(value) is not tuple:
            raise ValueError(f"{path}: expected a tuple, got {type(value).__name__}")
        trouble = self._shape_problem(value)
        if trouble is None:
            for i, v in enumerate(value):
                self.item.validate(v, f"{path}[{i}]")
            trouble = self._order_problem(value)
        if trouble is not None:
            raise ValueError(f"{path}: {trouble}")

    def to_wire(self, value: Any) -> Any:
        return [self.item.to_wire(v) for v in value]


class Obj(Kind):
    """A nested wire object of one of the given registered classes (validated when it was
    constructed, so ``validate`` only checks its class)."""

    def __init__(self, *classes: type[Wire]) -> None:
        self.classes = classes

    def _class_problem(self, value: object) -> str | None:
        if not isinstance(value, self.classes):
            names = ", ".join(c.__name__ for c in self.classes)
            return f"expected {names}, got {type(value).__name__}"
        return None

    def check(self, value: object, path: str) -> Wire:
        obj = from_wire(value, path)
        trouble = self._class_problem(obj)
        if trouble is not None:
            raise DecodeError(f"{path}: {trouble}")
        return obj

    def validate(self, value: object, path: str) -> None:
        trouble = self._class_problem(value)
        if trouble is not None:
            raise ValueError(f"{path}: {trouble}")

    def to_wire(self, value: Any) -> Any:
        return to_wire(value)


_NO_DEFAULT: Any = dataclasses.MISSING


def wf(kind: Kind, default: Any = _NO_DEFAULT) -> Any:
    """Declare a dataclass field together with its wire kind (and, for a field added
    after others, a default; it is on the wire all the same)."""
    return dataclasses.field(default=default, metadata={"kind": kind})


class Wire:
    """Base of every registered wire object (always a frozen dataclass).

    Construction validates every field against its kind and then ``check_fields`` (the
    cross-field rules a subclass adds), raising ``ValueError``; so an object that exists is
    a valid one, whether it was built locally or decoded.
    """

    TAG: ClassVar[int]
    TYPE_NAME: ClassVar[str]
    WIRE_FIELDS: ClassVar[tuple[tuple[str, Kind], ...]]

    def __post_init__(self) -> None:
        trusted, _decoded_fields[0] = _decoded_fields[0], False
        if not trusted:  # from_wire has just checked every field
            for name, kind in self.WIRE_FIELDS:
                kind.validate(getattr(self, name), f"{type(self).__name__}.{name}")
        self.check_fields()

    def check_fields(self) -> None:
        """Cross-field rules; raise ``ValueError`` when they fail."""

    def encode(self) -> bytes:
        """The canonical bytes, computed once per object (it is immutable)."""
        cached: bytes | None = self.__dict__.get("_wire_bytes")
        if cached is None:
            cached = encode(self)
            object.__setattr__(self, "_wire_bytes", cached)
        return cached


# True only while ``from_wire`` constructs an object from fields it has just checked (the
# constructor runs no decoding, so this never leaks into another object's construction).
_decoded_fields = [False]
_REGISTRY: dict[int, type[Wire]] = {}
_NAMES: set[str] = set()
W = TypeVar("W", bound=type[Wire])


def register(tag: int, type_name: str) -> Callable[[W], W]:
    """Class decorator: give a frozen dataclass a wire tag and a domain type name."""

    def apply(cls: W) -> W:
        if not dataclasses.is_dataclass(cls):
            raise LocalProtocolError(f"{cls.__name__} must be a dataclass")
        if tag in _REGISTRY or type_name in _NAMES:
            raise LocalProtocolError(f"wire tag {tag} or name {type_name!r} registered twice")
        fields = []
        for f in dataclasses.fields(cls):
            kind = f.metadata.get("kind")
            if not isinstance(kind, Kind):
                raise LocalProtocolError(f"{cls.__name__}.{f.name} has no wire kind")
            fields.append((f.name, kind))
        cls.TAG = tag
        cls.TYPE_NAME = type_name
        cls.WIRE_FIELDS = tuple(fields)
        _REGISTRY[tag] = cls
        _NAMES.add(type_name)
        return cls

    return apply


def to_wire(obj: Wire) -> list[Any]:
    return [obj.TAG, *(kind.to_wire(getattr(obj, name)) for name, kind in obj.WIRE_FIELDS)]


def from_wire(value: object, path: str = "$") -> Wire:
    if type(value) is not list or not value:
        raise DecodeError(f"{path}: expected a non-empty array")
    tag = value[0]
    if type(tag) is not int or tag not in _REGISTRY:
        raise DecodeError(f"{path}: unknown type tag {tag!r}")
    cls = _REGISTRY[tag]
    if len(value) != 1 + len(cls.WIRE_FIELDS):
        raise DecodeError(
            f"{path}: {cls.__name__} takes {len(cls.WIRE_FIELDS)} fields, got {len(value) - 1}"
        )
    kwargs = {
        name: kind.check(raw, f"{path}.{name}")
        for (name, kind), raw in zip(cls.WIRE_FIELDS, value[1:], strict=True)
    }
    _decoded_fields[0] = True  # each field passed ``check``: construction skips ``validate``
    try:
        return cls(**kwargs)
    except ValueError as exc:  # the class's cross-field rules
        raise DecodeError(f"{path}: {exc}") from exc
    finally:
        _decoded_fields[0] = False


def encode(obj: Wire) -> bytes:
    """The canonical bytes of ``obj``."""
    packed = msgpack.packb(to_wire(obj), use_bin_type=True)
    assert isinstance(packed, bytes)
    return packed


def _refuse_ext(code: int, data: bytes) -> object:
    raise DecodeError(f"msgpack extension type {code} is not allowed")


T = TypeVar("T", bound=Wire)


def decode(data: object, expected: type[T], *, max_bytes: int = MAX_MESSAGE_BYTES) -> T:
    """Decode canonical bytes into an object of class ``expected`` (or a subclass).

    Raises ``DecodeError`` for anything else: not bytes, too large, not msgpack, trailing
    bytes, wrong shape or kinds, unknown tag, another class, or non-canonical bytes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise DecodeError(f"{len(data)} bytes is over the {max_bytes}-byte limit")
    try:
        raw = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_refuse_ext,
        )
    except DecodeError:
        raise
    except (ValueError, OverflowError, msgpack.UnpackException) as exc:
        raise DecodeError(f"not msgpack: {type(exc).__name__}: {exc}") from exc
    obj = from_wire(raw)
    if not isinstance(obj, expected):
        raise DecodeError(f"expected {expected.__name__}, got {type(obj).__name__}")
    # Canonical: ``encode(obj) == data``. Every kind's ``to_wire`` gives back exactly the
    # raw value its ``check`` accepted (no kind normalises), so ``to_wire(obj) == raw`` and
    # the test is the same as re-packing ``raw``, which msgpack does in C.
    if msgpack.packb(raw, use_bin_type=True) != data:
        raise DecodeError(f"{expected.__name__}: bytes are not in canonical form")
    object.__setattr__(obj, "_wire_bytes", data)
    return obj


def decode_reusing(data: bytes, expected: type[T], known: Mapping[bytes, Wire]) -> T:
    """``decode(data, expected)``, except that a field whose exact bytes are a key of
    ``known`` takes that object (decoded before from those very bytes) instead of being
    decoded again: a certificate whose batch a steward has already checked, say.

    The result and every refusal are those of ``decode``: each other field is checked as
    ``decode`` would, the object is built through its constructor (so its cross-field
    rules run), and the bytes must be canonical field by field. Anything not of the
    simple shape this needs is handed to ``decode`` itself."""
    if len(data) > MAX_MESSAGE_BYTES or not known:
        return decode(data, expected)
    try:
        unpacker = msgpack.Unpacker(
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_refuse_ext,
            max_buffer_size=len(data) or 1,
        )
        unpacker.feed(data)
        count = unpacker.read_array_header()
        tag = unpacker.unpack()
        cls = _REGISTRY.get(tag) if type(tag) is int else None
        if cls is None or not issubclass(cls, expected) or count != 1 + len(cls.WIRE_FIELDS):
            return decode(data, expected)
        head = unpacker.tell()
        parts = []
        for _ in cls.WIRE_FIELDS:
            start = unpacker.tell()
            unpacker.skip()
            parts.append(data[start : unpacker.tell()])
        if unpacker.tell() != len(data):
            return decode(data, expected)
    except (ValueError, OverflowError, msgpack.UnpackException, DecodeError):
        return decode(data, expected)  # which says what is wrong
    if data[:head] != msgpack.packb([None] * count)[:-count] + msgpack.packb(tag):
        return decode(data, expected)  # a header or tag not in canonical form
    kwargs: dict[str, Any] = {}
    for (name, kind), part in zip(cls.WIRE_FIELDS, parts, strict=True):
        reused = known.get(part)
        if reused is not None:
            try:
                kind.validate(reused, f"$.{name}")
            except ValueError:
                reused = None
        if reused is not None:
            kwargs[name] = reused
            continue
        try:
            raw = msgpack.unpackb(
                part, raw=False, use_list=True, strict_map_key=True, ext_hook=_refuse_ext
            )
        except (ValueError, OverflowError, msgpack.UnpackException) as exc:
            raise DecodeError(f"not msgpack: {type(exc).__name__}: {exc}") from exc
        value = kind.check(raw, f"$.{name}")
        if msgpack.packb(raw, use_bin_type=True) != part:  # as in ``decode``
            raise DecodeError(f"{cls.__name__}.{name}: bytes are not in canonical form")
        kwargs[name] = value
    try:
        obj = cls(**kwargs)
    except ValueError as exc:
        raise DecodeError(f"$: {exc}") from exc
    object.__setattr__(obj, "_wire_bytes", data)  # canonical: header, tag and every field
    return obj


def registered_types() -> dict[int, type[Wire]]:
    """A copy of the tag registry (for tests and documentation)."""
    return dict(_REGISTRY)
