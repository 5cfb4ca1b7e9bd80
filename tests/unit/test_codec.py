"""The wire format: canonical encoding, strict decoding, one error type for bad input."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proto.codec import Wire, decode, decode_reusing, encode, registered_types, to_wire
from proto.errors import DecodeError
from proto.orders import SignedOrder, Transfer
from proto.state import StateSnapshot
from proto.votes import Batch, Certificate
from tests.unit.strategies import any_object, certificates, member_ids

A = b"\x01" * 32
B = b"\x02" * 32


def transfer_wire(**overrides: object) -> list[object]:
    fields = {"sender": A, "seq": 1, "recipient": B, "asset": "USD", "amount": 5, "memo": b""}
    fields.update(overrides)
    return [Transfer.TAG, *fields.values()]


def test_a_transfer_encodes_as_a_tagged_fixed_shape_array() -> None:
    t = Transfer(A, 1, B, "USD", 5, b"m")
    assert msgpack.unpackb(t.encode()) == [Transfer.TAG, A, 1, B, "USD", 5, b"m"]


@given(any_object)
def test_every_object_decodes_back_to_itself(obj: Wire) -> None:
    data = encode(obj)
    assert decode(data, type(obj)) == obj
    assert decode(data, Wire) == obj


@given(st.binary(max_size=512))
def test_decoding_arbitrary_bytes_raises_only_decode_error(data: bytes) -> None:
    for cls in (Wire, SignedOrder, Batch, Certificate, StateSnapshot):
        try:
            obj = decode(data, cls)
        except DecodeError:
            continue
        assert encode(obj) == data


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


@given(msgpack_values, st.integers(min_value=0, max_value=50))
def test_decoding_arbitrary_msgpack_raises_only_decode_error(value: object, tag: int) -> None:
    for candidate in (value, [tag, value], [tag, *value] if isinstance(value, list) else [tag]):
        data = msgpack.packb(candidate, use_bin_type=True)
        try:
            obj = decode(data, Wire)
        except DecodeError:
            continue
        assert encode(obj) == data


@given(any_object, st.data())
def test_a_mutated_encoding_is_rejected_or_is_itself_canonical(
    obj: Wire, data: st.DataObject
) -> None:
    raw = bytearray(encode(obj))
    i = data.draw(st.integers(0, len(raw) - 1))
    how = data.draw(st.sampled_from(["flip", "delete", "insert"]))
    if how == "flip":
        raw[i] ^= data.draw(st.integers(1, 255))
    elif how == "delete":
        del raw[i]
    else:
        raw.insert(i, data.draw(st.integers(0, 255)))
    try:
        again = decode(bytes(raw), Wire)
    except DecodeError:
        return
    assert encode(again) == bytes(raw)
    assert again != obj


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("extra field", [*transfer_wire(), b""]),
        ("missing field", transfer_wire()[:-1]),
        ("unknown tag", [250, *transfer_wire()[1:]]),
        ("zero amount", transfer_wire(amount=0)),
        ("negative amount", transfer_wire(amount=-1)),
        ("bool for int", transfer_wire(seq=True)),
        ("text for bytes", transfer_wire(sender="x" * 32)),
        ("short member id", transfer_wire(sender=b"\x01" * 31)),
        ("oversize memo", transfer_wire(memo=b"x" * 257)),
        ("lower-case asset", transfer_wire(asset="usd")),
        ("bytes for asset", transfer_wire(asset=b"USD")),
        ("float amount", transfer_wire(amount=5.0)),
        ("map for object", {"sender": A}),
        ("pays itself", transfer_wire(recipient=A)),
        ("not an array", 7),
    ],
)
def test_malformed_objects_are_rejected(name: str, wire: object) -> None:
    data = msgpack.packb(wire, use_bin_type=True)
    with pytest.raises(DecodeError):
        decode(data, Transfer)


def test_non_minimal_integer_encoding_is_rejected() -> None:
    good = Transfer(A, 1, B, "USD", 5, b"").encode()
    # The amount 5 is a positive fixint (0x05); the same value as uint64 is not canonical.
    tail = b"\x05\xc4\x00"
    assert good.endswith(tail)
    bad = good[: -len(tail)] + b"\xcf" + (5).to_bytes(8, "big") + b"\xc4\x00"
    assert msgpack.unpackb(bad) == msgpack.unpackb(good)
    with pytest.raises(DecodeError, match="canonical"):
        decode(bad, Transfer)


def test_non_minimal_string_header_is_rejected() -> None:
    good = Transfer(A, 1, B, "USD", 5, b"").encode()
    bad = good.replace(b"\xa3USD", b"\xd9\x03USD")
    assert bad != good and msgpack.unpackb(bad, raw=False) == msgpack.unpackb(good, raw=False)
    with pytest.raises(DecodeError, match="canonical"):
        decode(bad, Transfer)


def test_trailing_bytes_are_rejected() -> None:
    with pytest.raises(DecodeError):
        decode(Transfer(A, 1, B, "USD", 5, b"").encode() + b"\x00", Transfer)


def test_an_object_of_another_type_is_rejected() -> None:
    with pytest.raises(DecodeError, match="expected SignedOrder"):
        decode(Transfer(A, 1, B, "USD", 5, b"").encode(), SignedOrder)


def test_oversize_input_is_rejected_before_parsing() -> None:
    with pytest.raises(DecodeError, match="limit"):
        decode(b"\x00" * 101, Transfer, max_bytes=100)


def test_non_bytes_input_is_rejected() -> None:
    with pytest.raises(DecodeError):
        decode("not bytes", Transfer)


@given(member_ids, member_ids)
def test_unsorted_or_repeated_set_fields_are_rejected(s1: bytes, s2: bytes) -> None:
    wire = [
        Certificate.TAG,
        [
            Batch.TAG,
            [
                msgpack.unpackb(
                    SignedOrder(Transfer(A, 1, B, "USD", 5, b""), (b"\x00" * 64,)).encode()
                )
            ],
        ],
        [[12, max(s1, s2), b"\x00" * 64], [12, min(s1, s2), b"\x00" * 64]],
    ]
    with pytest.raises(DecodeError):
        decode(msgpack.packb(wire, use_bin_type=True), Certificate)


def test_local_construction_validates_like_decoding() -> None:
    with pytest.raises(ValueError, match="amount"):
        Transfer(A, 1, B, "USD", 0, b"")
    with pytest.raises(ValueError, match="pay its sender"):
        Transfer(A, 1, A, "USD", 5, b"")


def test_tags_and_domain_names_are_unique() -> None:
    types = registered_types()
    names = [cls.TYPE_NAME for cls in types.values()]
    assert len(names) == len(set(names))
    assert all(tag == types[tag].TAG for tag in types)


@given(certificates(), st.data())
def test_decode_reusing_a_known_batch_agrees_with_decode_on_every_byte(
    cert: Certificate, data: st.DataObject
) -> None:
    raw = cert.encode()
    batch = decode(cert.batch.encode(), Batch)
    known: dict[bytes, Wire] = {cert.batch.encode(): batch}
    again = decode_reusing(raw, Certificate, known)
    assert again == cert and again.batch is batch and again.encode() == raw
    for i in data.draw(st.lists(st.integers(0, len(raw) - 1), max_size=8)):
        altered = bytearray(raw)
        altered[i] ^= data.draw(st.integers(1, 255))
        try:
            expected: object = decode(bytes(altered), Certificate)
        except DecodeError:
            expected = DecodeError
        try:
            got: object = decode_reusing(bytes(altered), Certificate, known)
        except DecodeError:
            got = DecodeError
        assert got == expected


@given(certificates())
def test_decode_reusing_refuses_trailing_bytes_and_a_wrong_class(cert: Certificate) -> None:
    raw = cert.encode()
    known: dict[bytes, Wire] = {cert.batch.encode(): cert.batch}
    with pytest.raises(DecodeError):
        decode_reusing(raw + b"\x00", Certificate, known)
    with pytest.raises(DecodeError):
        decode_reusing(raw, Batch, known)


@given(any_object)
def test_to_wire_gives_back_the_raw_value_decode_accepted(obj: Wire) -> None:
    """What the canonical check in ``decode`` rests on: no kind normalises a raw value."""
    raw = msgpack.unpackb(obj.encode(), raw=False)
    assert to_wire(decode(obj.encode(), Wire)) == raw
