"""Webhooks: which endpoints hear of each change, and the endpoints and delivery log their credentials manage.

A change becomes webhook events in the transaction that makes it (`announce`, called by the writes of
hub/services/objects.py and the charger connection of hub/services/charging.py), like every other egress: one
outbox event per endpoint that subscribes to its type, whose credential may read its entity (scope) and may see
the object (hub/services/visibility.py, the same rules as the API's reads and OCPI). The event holds the canonical
object as it was, so every retry sends the same body; the partner protocol renders it (protocols/partner/hooks.py).

Each endpoint is its own outbox lane, so one that is slow or down delays no other; events of one object reach it in
order (the stream is the object). Webhook streams are never compacted nor dropped while an endpoint fails: every
event is delivered or, after the retry schedule, marked failed (replayable). An endpoint that answers 410, or fails
without a success for `webhook_disable_after` seconds, is disabled; events made while it is disabled are not kept.
"""

from __future__ import annotations

import base64
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import sqlalchemy as sa

from hub import model
from hub.model import PartyId
from hub.services import visibility
from hub.services.consumers import Consumer, reader_of
from hub.services.directory import Directory, Hook
from hub.services.errors import Conflict, Invalid, NotFound, NotPermitted
from hub.services.listing import ChargerLink
from hub.services.scopes import ADMIN_ONLY, EVENT_TYPES
from hub.store import chargers, outbox
from hub.store import documents as docs
from hub.store import webhooks as store
from hub.store.db import Database, Tx
from hub.store.documents import now_us
from hub.store.secrets import Secrets
from hub.store.webhooks import DeliveryRow, EndpointRow

log = logging.getLogger(__name__)

FORMATS = ("standard", "monta")
ROTATION_US = 86_400_000_000  # the previous secret still signs this long after a rotation
STREAM = "wh:"  # not a refreshable stream (hub/store/outbox.py): webhook events are never replaced by a later state


class Occurrence(msgspec.Struct, frozen=True, omit_defaults=True):
    """One webhook event as the outbox keeps it: the canonical object as it was when it happened."""

    id: str  # webhook-id: the same on every attempt
    type: str
    at_us: int
    kind: str  # location | evse | session | cdr | token | tariff | test | command | party
    obj: msgspec.Raw  # its canonical document
    site: msgspec.Raw = msgspec.Raw(b"null")  # an EVSE's Location (its own fields); a Raw cannot be optional
    charger: ChargerLink | None = None  # the charger of the hub's central system behind an EVSE


_ENCODER = msgspec.json.Encoder()


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _visible(reader: Any, kind: str, obj: Any, site: model.Location | None, audience: frozenset[PartyId], directory: Directory) -> bool:
    if reader is None:  # an admin
        return True
    if kind == "evse":
        return visibility.may_read(directory, reader, "location", site, audience)
    if kind in ("location", "session", "cdr", "token", "tariff"):
        return visibility.may_read(directory, reader, kind, obj, audience)
    return False


class Webhooks:
    def __init__(self, db: Database, directory: Directory, secrets_: Secrets) -> None:
        self.db = db
        self.directory = directory
        self.secrets = secrets_
        self.verify: Callable[[str], Awaitable[None]] = _no_verify  # raises when the hub may not call the URL (the core sets it)

    # --- the fan-out (inside the transaction of the change) -----------------------------------------

    def announce(
        self, tx: Tx, type_: str, kind: str, obj: Any, stream: str, *, site: model.Location | None = None,
        audience: frozenset[PartyId] = visibility.NOBODY,
    ) -> None:
        """Queue a `type_` event about `obj` (of canonical `kind`; an EVSE with its Location `site`) for every
        endpoint that must hear of it."""
        hooks = self.directory.hooks()
        if not hooks:
            return
        targets = [h.id for h in hooks if h.takes(type_) and _visible(self._reader(h), kind, obj, site, audience, self.directory)]
        if not targets:
            return
        charger = _charger_link(tx.conn, site, obj) if kind == "evse" else None
        occurrence = Occurrence(
            f"msg_{uuid.uuid4().hex}", type_, now_us(), kind, msgspec.Raw(docs.encode(obj)),
            msgspec.Raw(docs.encode(site) if site is not None else b"null"), charger,
        )
        outbox.enqueue(tx, targets, outbox.Draft(STREAM + stream, "webhook", "post", type_[:200], _ENCODER.encode(occurrence)))

    def announce_to(self, tx: Tx, type_: str, parties: set[PartyId], kind: str, data: dict[str, Any], stream: str) -> None:
        """Queue a `type_` event about something that is no API object (a command's result, a partner's status) for
        the endpoints of these parties' credentials and of admins; `data` is its body as the API shows it."""
        targets = [h.id for h in self.directory.hooks() if h.takes(type_) and (h.admin or h.party in parties)]
        if targets:
            occurrence = Occurrence(f"msg_{uuid.uuid4().hex}", type_, now_us(), kind, msgspec.Raw(_ENCODER.encode(data)))
            outbox.enqueue(tx, targets, outbox.Draft(STREAM + stream, "webhook", "post", type_, _ENCODER.encode(occurrence)))

    def _reader(self, hook: Hook) -> Any:
        return None if hook.admin else reader_of(self.directory, hook.party)

    # --- endpoints ----------------------------------------------------------------------------------

    def _check_types(self, consumer: Consumer, event_types: list[str]) -> tuple[str, ...]:
        if not event_types:
            raise Invalid("at least one event type, or [\"*\"] for every type this credential may read", "eventTypes")
        if "*" in event_types:
            if len(event_types) > 1:
                raise Invalid("\"*\" stands alone", "eventTypes")
            return ("*",)
        for t in event_types:
            if t not in EVENT_TYPES:
                raise Invalid(f"unknown event type {t[:60]!r} (known: {', '.join(EVENT_TYPES)})", "eventTypes")
            entity = EVENT_TYPES[t]
            if (t in ADMIN_ONLY and not consumer.admin) or (entity and not consumer.scopes.allows(entity, "read")):
                raise NotPermitted(f"this credential may not read what {t} is about (scope {entity}:read)")
        return tuple(dict.fromkeys(event_types))

    async def _check_url(self, url: str) -> str:
        if len(url) > 2000:
            raise Invalid("at most 2000 characters", "url")
        try:
            await self.verify(url)
        except Exception as exc:  # Forbidden and its kin: a clear reason, never a call
            raise Invalid(f"the hub may not call this URL: {exc}", "url") from None
        return url

    async def create(self, consumer: Consumer, url: str, event_types: list[str], format_: str, description: str | None) -> tuple[EndpointRow, str]:
        """A new endpoint and its secret (shown this once)."""
        types = self._check_types(consumer, event_types)
        await self._check_url(url)
        secret = new_secret()
        sealed = self.secrets.seal(secret)
        eid = await self.db.write(lambda tx: store.create(tx, consumer.client_id, url, types, format_, description, sealed))
        await self.directory.refresh()
        return await self.get(consumer, eid), secret

    async def get(self, consumer: Consumer, endpoint_id: int) -> EndpointRow:
        row = await self.db.read(lambda conn: store.get(conn, endpoint_id))
        if row is None or row.client_id != consumer.client_id:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        return row

    async def listing(self, consumer: Consumer) -> list[EndpointRow]:
        return await self.db.read(lambda conn: store.listing(conn, consumer.client_id))

    async def update(self, consumer: Consumer, endpoint_id: int, *, url: str | None = None, event_types: list[str] | None = None,
                     format_: str | None = None, description: str | None = None, enabled: bool | None = None) -> EndpointRow:
        await self.get(consumer, endpoint_id)
        values: dict[str, Any] = {}
        if url is not None:
            values["url"] = await self._check_url(url)
        if event_types is not None:
            values["event_types"] = self._check_types(consumer, event_types)
        if format_ is not None:
            values["format"] = format_
        if description is not None:
            values["description"] = description
        status = None
        if enabled is not None:
            status = "CONNECTED" if enabled else "SUSPENDED"
            values["disabled_reason"] = None if enabled else "disabled by its owner"

        def op(tx: Tx) -> None:
            store.update(tx, endpoint_id, status, **values)
            if enabled:
                tx.notify("outbox", str(endpoint_id))  # what waited for it goes out

        await self.db.write(op)
        await self.directory.refresh()
        return await self.get(consumer, endpoint_id)

    async def delete(self, consumer: Consumer, endpoint_id: int) -> None:
        await self.get(consumer, endpoint_id)
        await self.db.write(lambda tx: store.delete(tx, endpoint_id))
        await self.directory.refresh()

    async def rotate(self, consumer: Consumer, endpoint_id: int) -> tuple[EndpointRow, str]:
        """A new secret; the previous one still signs beside it for 24 h."""
        current = await self.get(consumer, endpoint_id)
        secret = new_secret()
        sealed = self.secrets.seal(secret)
        until = now_us() + ROTATION_US
        await self.db.write(lambda tx: store.update(tx, endpoint_id, secret=sealed, prev_secret=current.secret, prev_until_us=until))
        await self.directory.refresh()
        return await self.get(consumer, endpoint_id), secret

    async def disable(self, endpoint_id: int, reason: str) -> None:
        """The endpoint takes no more events (410 Gone, or failing for days) until its owner enables it again."""
        log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
        await self.db.write(lambda tx: store.update(tx, endpoint_id, "SUSPENDED", disabled_reason=reason[:500]))

    # --- test events and the delivery log -----------------------------------------------------------

    async def test(self, consumer: Consumer, endpoint_id: int) -> DeliveryRow:
        """A `webhook.test` event to this endpoint (whatever types it subscribes to)."""
        row = await self.get(consumer, endpoint_id)
        if row.status != "CONNECTED":
            raise Conflict("the endpoint is disabled: enable it first")
        occurrence = Occurrence(f"msg_{uuid.uuid4().hex}", "webhook.test", now_us(), "test",
                                msgspec.Raw(_ENCODER.encode({"endpointId": endpoint_id, "message": "a test event from the hub"})))

        def op(tx: Tx) -> None:
            outbox.enqueue(tx, [endpoint_id], outbox.Draft(f"{STREAM}test:{endpoint_id}", "webhook", "post", "webhook.test",
                                                          _ENCODER.encode(occurrence)))

        await self.db.write(op)
        return await self._newest(endpoint_id)

    async def _newest(self, endpoint_id: int) -> DeliveryRow:
        rows, _ = await self.db.read(lambda conn: store.deliveries(conn, [endpoint_id], None, 0, 1))
        return rows[0]

    async def deliveries(self, consumer: Consumer, endpoint_id: int | None, statuses: list[str] | None, offset: int, limit: int,
                         seq: int | None = None) -> tuple[list[DeliveryRow], int, dict[int, list[tuple[int, str]]]]:
        """The consumer's deliveries (of one endpoint), newest first, with the failed attempts of each."""
        mine = store.endpoints_of(consumer.client_id, endpoint_id)

        def op(conn: sa.Connection) -> tuple[list[DeliveryRow], int, dict[int, list[tuple[int, str]]]]:
            rows, total = store.deliveries(conn, mine, statuses, offset, limit, seq)
            return rows, total, store.failed_attempts(conn, [r.seq for r in rows])

        return await self.db.read(op)

    async def replay(self, consumer: Consumer, seq: int) -> DeliveryRow:
        """Send a delivery's event again (the same webhook-id: receivers deduplicate on it), as a new delivery."""
        rows, _, _ = await self.deliveries(consumer, None, None, 0, 1, seq)
        if not rows:
            raise NotFound(f"no webhook delivery {seq}")
        row = rows[0]
        endpoint = await self.get(consumer, row.endpoint_id)
        if endpoint.status != "CONNECTED":
            raise Conflict("the endpoint is disabled: enable it first")
        type_ = msgspec.json.decode(row.payload, type=Occurrence).type

        def op(tx: Tx) -> None:
            outbox.enqueue(tx, [row.endpoint_id], outbox.Draft(f"{STREAM}replay:{seq}", "webhook", "post", type_, row.payload))

        await self.db.write(op)
        return await self._newest(row.endpoint_id)


def _charger_link(conn: sa.Connection, site: model.Location | None, evse: model.Evse) -> ChargerLink | None:
    """The charger of the hub's central system behind an EVSE (its uid is `<IDENTITY>-<n>`), if there is one."""
    parts = chargers.split_evse_uid(evse.uid)
    found = chargers.link(conn, site.owner_party, site.id, parts[0]) if parts and site is not None else None
    if found is None:
        return None
    name, connected, connected_us = found
    return ChargerLink(name, parts[1], connected, connected_us)  # type: ignore[index]


async def _no_verify(_url: str) -> None:
    raise NotPermitted("webhooks are not set up in this process")
