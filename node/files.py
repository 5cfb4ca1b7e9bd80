"""Writing a node's files atomically: a temporary file made fresh next to the target
(``mkstemp``: created exclusively, so a symlink or file planted at a guessable name is
never followed or overwritten), mode 0600 from the first byte (or ``mode`` set before it
is renamed), fsynced with its directory, and renamed over the old file; so a crash
leaves the old file or the new one and never a torn or world-readable one. The control
API's admin cookie is written here (launchers read it without importing a node)."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

COOKIE_NAME = "control.cookie"
"""The admin token of a node's control API, in its data directory (read by launchers)."""


def write_cookie(data_dir: Path) -> str:
    """A fresh admin token in ``data_dir/control.cookie`` (0600, atomic)."""
    token = secrets.token_hex(32)
    write_private(data_dir / COOKIE_NAME, token)
    return token


def write_private(path: Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` readable by the owner only; on failure remove the
    temporary file and re-raise."""
    write_atomically(path, data, 0o600)


def write_atomically(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` (file mode ``mode``); on failure remove the
    temporary file and re-raise."""
    raw = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
