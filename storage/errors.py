"""Storage failures: the disk, the database or a stored record is not as it must be."""

from __future__ import annotations

from proto.errors import SwapnetError


class StorageError(SwapnetError):
    """The store failed (IO error, full disk, corruption, locked, closed) or holds a record
    that does not decode. A write that raises it has written nothing."""
