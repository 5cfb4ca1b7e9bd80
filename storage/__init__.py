"""swapnet's storage layer: a small key-value ``Store`` with a LevelDB (plyvel) backend and
an in-memory backend, the key schema, and typed repositories over them.

Only this package imports plyvel. Nothing here decides what is valid: repositories encode
and decode ``proto`` objects and report a record that does not decode as ``StorageError``.
"""

from storage.errors import StorageError
from storage.leveldb import LevelDBStore
from storage.memory import MemoryStore
from storage.store import Store, WriteBatch

__all__ = ["LevelDBStore", "MemoryStore", "StorageError", "Store", "WriteBatch"]
