"""The ``Store`` interface every backend implements, and the write batch.

Contract (``tests/unit/test_store_contract.py`` runs it against every backend):

* keys and values are ``bytes``; ``get`` of a missing key is None;
* ``write`` applies a list of puts and deletes atomically: all or none, even on a crash;
  with ``sync=True`` it returns only once the write is durable (fsync): that is the write
  a node makes before it promises anything (a vote, a signature share);
* ``iterate(prefix)`` yields (key, value) in ascending byte order of keys (descending with
  ``reverse=True``), from a snapshot taken when it starts: later writes do not show;
* after ``close`` every call raises ``StorageError``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from types import TracebackType

Op = tuple[bytes, bytes | None]
"""A put (key, value) or a delete (key, None)."""


def check_op(key: object, value: object) -> None:
    if type(key) is not bytes or not key:
        raise TypeError("store keys are non-empty bytes")
    if value is not None and type(value) is not bytes:
        raise TypeError("store values are bytes")


class Store(ABC):
    @abstractmethod
    def get(self, key: bytes) -> bytes | None: ...

    @abstractmethod
    def write(self, ops: Sequence[Op], *, sync: bool = False) -> None: ...

    @abstractmethod
    def iterate(
        self, prefix: bytes = b"", *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]: ...

    @abstractmethod
    def close(self) -> None: ...

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        self.write([(key, value)], sync=sync)

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        self.write([(key, None)], sync=sync)

    def batch(self, *, sync: bool = False) -> WriteBatch:
        return WriteBatch(self, sync=sync)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class WriteBatch:
    """Collects puts and deletes and writes them in one atomic ``Store.write`` when the
    ``with`` block ends normally; if the block raises, nothing is written."""

    def __init__(self, store: Store, *, sync: bool) -> None:
        self.store = store
        self.sync = sync
        self.ops: list[Op] = []

    def put(self, key: bytes, value: bytes) -> None:
        check_op(key, value)
        self.ops.append((key, value))

    def delete(self, key: bytes) -> None:
        check_op(key, None)
        self.ops.append((key, None))

    def __enter__(self) -> WriteBatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self.ops:
            self.store.write(self.ops, sync=self.sync)
