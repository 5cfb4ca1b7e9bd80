"""The encrypted key file: round trip, permissions, wrong passphrase, damage, no
overwrite, and the same key as the libp2p identity."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from nacl import pwhash
from nacl.signing import SigningKey

from node.keystore import KeystoreError, load_key, read_key_file, save_key

FAST = {"opslimit": pwhash.argon2id.OPSLIMIT_MIN, "memlimit": pwhash.argon2id.MEMLIMIT_MIN}


def test_a_saved_key_loads_back_with_the_passphrase_and_is_private(tmp_path: Path) -> None:
    key = SigningKey(b"\x05" * 32)
    path = tmp_path / "keys" / "trader.key"
    save_key(path, key, b"correct horse", **FAST)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert bytes(key) not in path.read_bytes()  # the seed is never on disk in clear
    assert load_key(path, b"correct horse") == key
    assert read_key_file(path).public_key == bytes(key.verify_key)
    assert not list(tmp_path.glob("keys/.*.tmp"))


def test_the_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    save_key(path, SigningKey(b"\x06" * 32), b"right", **FAST)
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        load_key(path, b"wrong")


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    save_key(path, SigningKey(b"\x07" * 32), b"pw", **FAST)
    os.chmod(path, 0o644)
    with pytest.raises(KeystoreError, match="chmod 600"):
        load_key(path, b"pw")


def test_a_damaged_or_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    save_key(path, SigningKey(b"\x08" * 32), b"pw", **FAST)
    raw = bytearray(path.read_bytes())
    raw[-40] ^= 1  # inside the sealed seed
    path.write_bytes(bytes(raw))
    with pytest.raises(KeystoreError):
        load_key(path, b"pw")
    path.write_bytes(b"not a key file")
    with pytest.raises(KeystoreError, match="not a swapnet key file"):
        load_key(path, b"pw")
    with pytest.raises(KeystoreError, match="swapnet init"):
        load_key(tmp_path / "missing", b"pw")


def test_an_existing_key_is_never_overwritten_by_accident(tmp_path: Path) -> None:
    path = tmp_path / "k"
    first = SigningKey(b"\x09" * 32)
    save_key(path, first, b"pw", **FAST)
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        save_key(path, SigningKey(b"\x0a" * 32), b"pw", **FAST)
    assert load_key(path, b"pw") == first
    with pytest.raises(KeystoreError, match="empty"):
        save_key(tmp_path / "k2", first, b"", **FAST)


def test_default_strength_is_moderate_argon2id(tmp_path: Path) -> None:
    path = tmp_path / "k"
    save_key(path, SigningKey(b"\x0b" * 32), b"pw")
    header = read_key_file(path)
    assert header.opslimit == pwhash.argon2id.OPSLIMIT_MODERATE
    assert header.memlimit == pwhash.argon2id.MEMLIMIT_MODERATE
