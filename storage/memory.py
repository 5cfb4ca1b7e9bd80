"""An in-memory ``Store`` for tests and simulations. Same contract as LevelDB, minus
durability across processes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from storage.errors import StorageError
from storage.store import Op, Store, check_op


class MemoryStore(Store):
    def __init__(self) -> None:
        self._data: dict[bytes, bytes] | None = {}

    def _live(self) -> dict[bytes, bytes]:
        if self._data is None:
            raise StorageError("store is closed")
        return self._data

    def get(self, key: bytes) -> bytes | None:
        check_op(key, None)
        return self._live().get(key)

    def write(self, ops: Sequence[Op], *, sync: bool = False) -> None:
        data = self._live()
        for key, value in ops:
            check_op(key, value)
        for key, value in ops:
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value

    def iterate(
        self, prefix: bytes = b"", *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        data = self._live()
        snapshot = sorted((k, v) for k, v in data.items() if k.startswith(prefix))
        if reverse:
            snapshot.reverse()
        return self._guarded(iter(snapshot))

    def _guarded(self, it: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
        for item in it:
            self._live()
            yield item

    def close(self) -> None:
        self._data = None
