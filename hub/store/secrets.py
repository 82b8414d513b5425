"""Secrets at rest: the tokens the hub presents to others are stored encrypted (AES-256-GCM).

Tokens others present to the hub are stored as hashes and never need this. The key comes from
HUB_SECRET_KEY (any string of 32 or more characters; `hub secret-key` prints a new one). Without it, an
embedded SQLite hub keeps a generated key in a file beside its database (`<database>.key`, readable by its
owner only), so the demo and a first run need nothing; a PostgreSQL hub refuses to start without one,
since several processes must share the same key.

A sealed value reads `enc1:<base64 of nonce + ciphertext>`. Values stored before encryption (plain text)
are still read, and `seal_stored` encrypts them when the hub starts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets as stdlib_secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc1:"
MIN_KEY_LENGTH = 32


class SecretKeyError(Exception):
    """No usable key, or a value sealed with another key."""


def new_key() -> str:
    return stdlib_secrets.token_urlsafe(32)


class Secrets:
    def __init__(self, key: str) -> None:
        if len(key) < MIN_KEY_LENGTH:
            raise SecretKeyError(f"HUB_SECRET_KEY must have at least {MIN_KEY_LENGTH} characters")
        self._aead = AESGCM(hashlib.sha256(key.encode()).digest())

    def seal(self, value: str) -> str:
        nonce = os.urandom(12)
        return PREFIX + base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, value.encode(), None)).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # stored before encryption; sealed at the next start
        raw = base64.urlsafe_b64decode(stored[len(PREFIX):])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], None).decode()
        except InvalidTag:
            raise SecretKeyError("a stored secret does not open with HUB_SECRET_KEY (was the key changed?)") from None


def sealed(value: str | None) -> bool:
    return value is not None and value.startswith(PREFIX)


def from_settings(secret_key: str, sqlite_path: str | None) -> Secrets:
    """The key from the settings, or for an embedded SQLite database the one kept beside it (made once)."""
    if secret_key:
        return Secrets(secret_key)
    if not sqlite_path or sqlite_path == ":memory:":
        raise SecretKeyError("HUB_SECRET_KEY is required (at least 32 characters; `hub secret-key` prints one)")
    path = Path(f"{sqlite_path}.key")
    if not path.exists():  # written whole, then linked into place: a process starting at the same time never reads half
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_key())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return Secrets(path.read_text().strip())
