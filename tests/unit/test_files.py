"""Writing files atomically without following what an attacker planted: issue 17 found
``evidence export`` writing ``<out>.tmp`` through a symlink (a local user could make the
node's owner overwrite any file it can write)."""

from __future__ import annotations

import stat
from pathlib import Path

from node.files import write_atomically, write_private


def test_a_symlink_planted_at_the_temporary_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "bundle.evidence"
    for planted in (f"{out.name}.tmp", f".{out.name}.tmp"):  # the names used before
        (tmp_path / planted).symlink_to(victim)
    write_atomically(out, b"evidence")
    assert victim.read_text() == "precious"
    assert out.read_bytes() == b"evidence" and not out.is_symlink()
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    write_private(out, b"secret")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and out.read_bytes() == b"secret"
    leftovers = {p.name for p in tmp_path.iterdir()} - {"victim", out.name}
    assert leftovers == {f"{out.name}.tmp", f".{out.name}.tmp"}  # only what was planted
