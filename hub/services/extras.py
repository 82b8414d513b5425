"""What a partner API credential's party keeps beside the objects it sees: its own id for each
(`partnerExternalId`), a free JSON payload, and when the object was created over that API. Each party keeps its
own: two parties never see each other's.

Beside them, an owner's mark that it deleted an object OCPI cannot delete (a Token: OCPI only makes it invalid):
`retire` writes it (and drops every party's fields of the object), the partner API's lists leave marked objects
out (hub/services/listing.py), and `revive` removes it when the owner creates the object again.

A kind is the object's canonical kind, except for Tokens: a uid is unique per type only, and the key has room for
the uid alone, so each type is a kind of its own (TOKEN_KINDS).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from hub.model import PartyId
from hub.services.errors import Invalid
from hub.store import documents as docs
from hub.store import extras as store
from hub.store.db import Database
from hub.store.extras import ExtrasRow, Key

__all__ = ["TOKEN_KINDS", "Extras", "ExtrasRow", "encode", "gone"]

MAX_PAYLOAD = 16 * 1024  # bytes of JSON
UNSET = msgspec.UNSET
TOKEN_KINDS = {"RFID": "token-rfid", "APP_USER": "token-app", "AD_HOC_USER": "token-adhoc", "OTHER": "token-other"}  # by type


def gone(kind: str) -> str:
    """The kind of the mark that an object of `kind` was deleted (at most 16 characters, as kinds are)."""
    return f"gone-{kind}"


def encode(payload: Any) -> Any:
    """A payload as stored (None and UNSET as they are); checked before anything is written."""
    if payload is None or payload is UNSET:
        return payload
    encoded = msgspec.json.encode(payload)
    if len(encoded) > MAX_PAYLOAD:
        raise Invalid(f"at most {MAX_PAYLOAD} bytes of JSON", "partnerCustomPayload")
    return encoded


class Extras:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_many(self, holder: PartyId, kind: str, keys: Sequence[Key]) -> dict[Key, ExtrasRow]:
        return await self.db.read(lambda conn: store.get_many(conn, holder, kind, keys))

    async def put(
        self, holder: PartyId, kind: str, key: Key, external_id: Any = UNSET, payload: Any = UNSET, created: datetime | None = None,
    ) -> None:
        """Record the object for `holder` (its creation time, the first time: `created`, else now) with what is given
        of its id and payload (encoded: see `encode`; None clears one; UNSET leaves it)."""
        values: dict[str, object] = {}
        if external_id is not UNSET:
            values["external_id"] = external_id
        if payload is not UNSET:
            values["payload"] = payload
        now = docs.now_us() if created is None else docs.to_us(created)
        await self.db.write(lambda tx: store.put(tx, holder, kind, key, values, now))

    async def retire(self, kind: str, key: Key) -> None:
        """The owner deleted the object: every party's fields of it dropped, its mark written (see the module)."""
        now = docs.now_us()
        await self.db.write(lambda tx: store.retire(tx, kind, gone(kind), key, now))

    async def revive(self, kind: str, key: Key) -> bool:
        """The object is there again (created anew): its mark removed. Whether it had one."""
        return await self.db.write(lambda tx: store.revive(tx, gone(kind), key))

    async def is_retired(self, kind: str, key: Key) -> bool:
        return await self.db.read(lambda conn: store.is_retired(conn, gone(kind), key))
