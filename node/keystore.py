"""The trader's Ed25519 key on disk, encrypted.

The file holds a ``KeyFile`` (canonical msgpack): the argon2id parameters and salt, and
the 32-byte seed sealed with SecretBox under the key argon2id derives from the passphrase;
the public key is in clear so a node can say who it is before unlocking. The file is
created with mode 0600 (never readable by others, not even for an instant), written to a
temporary name, fsynced and renamed into place, so a crash leaves either no key file or a
whole one. Loading refuses a file that group or others can read, like ssh does.

Errors are ``KeystoreError`` with a message an operator can act on.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from nacl import pwhash
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.signing import SigningKey
from nacl.utils import random as random_bytes

from node.files import write_private
from proto.codec import Bytes, Text, UInt, Wire, decode, register, wf
from proto.errors import DecodeError, SwapnetError
from proto.kinds import MEMBER_ID

KDF = "argon2id"
# Production strength by default (about half a second on a 2-core machine); tests pass
# weaker limits explicitly, and the file records what was used.
DEFAULT_OPSLIMIT = pwhash.argon2id.OPSLIMIT_MODERATE
DEFAULT_MEMLIMIT = pwhash.argon2id.MEMLIMIT_MODERATE


class KeystoreError(SwapnetError):
    """The key file is missing, unsafe, corrupt, or the passphrase is wrong."""


@register(90, "key-file")
@dataclass(frozen=True)
class KeyFile(Wire):
    kdf: str = wf(Text(16))
    opslimit: int = wf(UInt(32, minimum=1))
    memlimit: int = wf(UInt(40, minimum=8192))
    salt: bytes = wf(Bytes(pwhash.argon2id.SALTBYTES))
    sealed: bytes = wf(Bytes(SecretBox.NONCE_SIZE + SecretBox.MACBYTES + 32))
    public_key: bytes = wf(MEMBER_ID)


def _box(passphrase: bytes, salt: bytes, opslimit: int, memlimit: int) -> SecretBox:
    key = pwhash.argon2id.kdf(
        SecretBox.KEY_SIZE, passphrase, salt, opslimit=opslimit, memlimit=memlimit
    )
    return SecretBox(key)


def save_key(
    path: Path,
    key: SigningKey,
    passphrase: bytes,
    *,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
    overwrite: bool = False,
) -> None:
    """Encrypt ``key`` into ``path`` (mode 0600, atomic). Refuses to replace a key file
    unless ``overwrite``: losing a trader's key loses its funds."""
    if not passphrase:
        raise KeystoreError("the passphrase must not be empty")
    if path.exists() and not overwrite:
        raise KeystoreError(f"{path} already exists; refusing to overwrite a key")
    salt = random_bytes(pwhash.argon2id.SALTBYTES)
    sealed = bytes(_box(passphrase, salt, opslimit, memlimit).encrypt(bytes(key)))
    data = KeyFile(KDF, opslimit, memlimit, salt, sealed, bytes(key.verify_key)).encode()
    try:
        write_private(path, data)
    except OSError as exc:
        raise KeystoreError(f"cannot write {path}: {exc.strerror}") from exc


def read_key_file(path: Path) -> KeyFile:
    """The key file's clear part (no passphrase needed); checks the file's permissions."""
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeystoreError(f"no key file at {path} (create one with `swapnet init`)") from exc
    except OSError as exc:
        raise KeystoreError(f"cannot read {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeystoreError(
            f"{path} is accessible by other users (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    try:
        keyfile = decode(raw, KeyFile)
    except DecodeError as exc:
        raise KeystoreError(f"{path} is not a swapnet key file: {exc}") from exc
    if keyfile.kdf != KDF:
        raise KeystoreError(f"{path} uses an unknown key derivation {keyfile.kdf!r}")
    return keyfile


def load_key(path: Path, passphrase: bytes) -> SigningKey:
    keyfile = read_key_file(path)
    try:
        box = _box(passphrase, keyfile.salt, keyfile.opslimit, keyfile.memlimit)
        seed = box.decrypt(keyfile.sealed)
    except CryptoError as exc:
        raise KeystoreError(f"wrong passphrase for {path}, or the file is damaged") from exc
    key = SigningKey(seed)
    if bytes(key.verify_key) != keyfile.public_key:
        raise KeystoreError(f"{path} is damaged: the key does not match its public key")
    return key


PASSPHRASE_ENV = "SWAPNET_PASSPHRASE"


def passphrase_from(file: Path | None) -> bytes | None:
    """The passphrase from ``file`` (one line; the newline is not part of it) or from
    $SWAPNET_PASSPHRASE; None when neither is given (an interactive caller prompts)."""
    if file is not None:
        try:
            if file.stat().st_mode & 0o077:
                raise KeystoreError(
                    f"the passphrase file {file} can be read by others: chmod 600 it"
                )
            text = file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise KeystoreError(f"cannot read the passphrase file {file}: {exc.strerror}") from exc
        if not text:
            raise KeystoreError(f"the passphrase file {file} is empty")
        return text.encode()
    env = os.environ.get(PASSPHRASE_ENV)
    return env.encode() if env else None
