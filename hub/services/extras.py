"""What a partner API credential's party keeps beside the objects it sees: its own id for each
(`partnerExternalId`), a free JSON payload, and when the object was created over that API. Each party keeps its
own: two parties never see each other's."""

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

__all__ = ["Extras", "ExtrasRow", "encode"]

MAX_PAYLOAD = 16 * 1024  # bytes of JSON
UNSET = msgspec.UNSET


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
