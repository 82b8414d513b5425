"""Idempotency keys of the partner API: the first answer to a request with a key is kept for a day and given
again to a retry of the same request (method, path and body), so a client may repeat a create whose answer it
lost without creating twice.

- a key with a different request is refused (KeyReused);
- while the first request runs, a second with its key is refused (KeyBusy), never run twice;
- only answers the caller wants kept are kept: a failed request releases its key.
"""

from __future__ import annotations

import hashlib

import msgspec

from hub.services.errors import HubError
from hub.store import documents as docs
from hub.store import idempotency as store
from hub.store.db import Database

TTL_US = 24 * 3600 * 1_000_000
STALE_US = 120 * 1_000_000  # a claim this old belongs to a request that died with its process
MAX_KEY = 255


class KeyReused(HubError):
    """The key was used for another request."""


class KeyBusy(HubError):
    """The first request with this key still runs."""


class Answer(msgspec.Struct, frozen=True):
    status: int
    body: bytes


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join((method.upper().encode(), path.encode(), hashlib.sha256(body).digest()))).hexdigest()


class Idempotency:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, client_id: str, key: str, fingerprint_: str) -> Answer | None:
        """None: this request is the first with the key and runs (then `keep` or `release`); else the kept answer."""
        now = docs.now_us()
        kept = await self.db.write(lambda tx: store.claim(tx, client_id, key, fingerprint_, now, now - TTL_US, now - STALE_US))
        if kept is None:
            return None
        if kept.fingerprint != fingerprint_:
            raise KeyReused("this Idempotency-Key was used with another request")
        if kept.status is None:
            raise KeyBusy("a request with this Idempotency-Key is still running; retry later")
        return Answer(kept.status, kept.body or b"")

    async def keep(self, client_id: str, key: str, answer: Answer) -> None:
        await self.db.write(lambda tx: store.keep(tx, client_id, key, answer.status, answer.body))

    async def release(self, client_id: str, key: str) -> None:
        await self.db.write(lambda tx: store.release(tx, client_id, key))
