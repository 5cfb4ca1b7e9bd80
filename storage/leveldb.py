"""The LevelDB ``Store`` (plyvel): the one place that touches the database files.

Every write goes through a LevelDB write batch, so it is atomic; ``sync=True`` makes
LevelDB fsync its log before returning. Any plyvel failure (IO error, full disk,
corruption, a lock held by another process) becomes ``StorageError``; a write that
failed has written nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import plyvel

from storage.errors import StorageError
from storage.store import Op, Store, check_op


class LevelDBStore(Store):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._db: plyvel.DB | None = plyvel.DB(
                str(self.path), create_if_missing=True, paranoid_checks=True
            )
        except (plyvel.Error, OSError) as exc:
            raise StorageError(f"cannot open the store at {self.path}: {exc}") from exc

    def _live(self) -> plyvel.DB:
        if self._db is None or self._db.closed:
            raise StorageError("store is closed")
        return self._db

    def get(self, key: bytes) -> bytes | None:
        check_op(key, None)
        try:
            value: bytes | None = self._live().get(key)
        except (plyvel.Error, RuntimeError) as exc:
            raise StorageError(f"read failed: {exc}") from exc
        return value

    def write(self, ops: Sequence[Op], *, sync: bool = False) -> None:
        for key, value in ops:
            check_op(key, value)
        db = self._live()
        try:
            wb = db.write_batch(sync=sync)
            for key, value in ops:
                if value is None:
                    wb.delete(key)
                else:
                    wb.put(key, value)
            wb.write()
        except (plyvel.Error, RuntimeError) as exc:
            raise StorageError(f"write failed, nothing written: {exc}") from exc

    def iterate(
        self, prefix: bytes = b"", *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        db = self._live()
        try:
            it = (
                db.iterator(prefix=prefix, reverse=reverse)
                if prefix
                else db.iterator(reverse=reverse)
            )
        except (plyvel.Error, RuntimeError) as exc:
            raise StorageError(f"iteration failed: {exc}") from exc
        return self._guarded(it)

    def _guarded(self, it: plyvel.Iterator) -> Iterator[tuple[bytes, bytes]]:
        try:
            with it:
                yield from it
        except (plyvel.Error, RuntimeError) as exc:
            raise StorageError(f"iteration failed: {exc}") from exc

    def close(self) -> None:
        if self._db is not None and not self._db.closed:
            self._db.close()
        self._db = None
