"""Decoding stored records: a record that does not decode is corruption, reported as
``StorageError`` with the key, never skipped and never a bare ``DecodeError``."""

from __future__ import annotations

from typing import TypeVar

from proto.codec import MAX_MESSAGE_BYTES, Wire, decode
from proto.errors import DecodeError
from storage.errors import StorageError

W = TypeVar("W", bound=Wire)


def decode_record(key: bytes, raw: bytes, cls: type[W], *, max_bytes: int = MAX_MESSAGE_BYTES) -> W:
    try:
        return decode(raw, cls, max_bytes=max_bytes)
    except DecodeError as exc:
        raise StorageError(f"corrupt {cls.__name__} record at {key.hex()}: {exc}") from exc
