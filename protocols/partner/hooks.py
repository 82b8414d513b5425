"""Webhook events on the wire: their bodies, the REST representation inside, and their signatures. Pure: no I/O.

Two formats per endpoint:
- `standard` (Standard Webhooks 1.0): one event per request, body `{type, timestamp, data}`, headers `webhook-id`
  (the event's, the same on every attempt), `webhook-timestamp` (this attempt, Unix seconds) and
  `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the base64-decoded part
  of the `whsec_` secret; during a rotation one signature per live secret, space-separated);
- `monta` (what Monta's Partner API sends, so that existing integrations can point at the hub): body
  `{entries: [{entityType, entityId, eventType, eventTime, payload}], pending, timestamp}` (one entry per request;
  `timestamp` in epoch milliseconds) and `X-Monta-Signature: sha1=<hex HMAC-SHA1 of the body>`, keyed with the
  secret's text as Monta does. The dotted type maps onto Monta's (entityType, eventType) pair.

`data` (and Monta's `payload`) is the object as the REST API shows it (protocols/partner/mapping.py), rendered
from the canonical object kept with the event, so that every attempt carries the same bytes. What a credential keeps
beside an object (partnerExternalId, partnerCustomPayload) is not in it: those are read from the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone
from typing import Any

import msgspec

from hub import model
from hub.services.webhooks import Occurrence
from protocols.partner import mapping

_ENCODER = msgspec.json.Encoder()
_DECODERS = {kind: msgspec.json.Decoder(t) for kind, t in (("location", model.Location), ("evse", model.Evse),
                                                          ("session", model.Session), ("cdr", model.Cdr), ("token", model.Token),
                                                          ("tariff", model.Tariff))}
_OCCURRENCE = msgspec.json.Decoder(Occurrence)

# the dotted family -> Monta's singular entity type
MONTA_ENTITIES = {"site": "site", "charge_point": "charge-point", "charge_transaction": "charge", "cdr": "cdr",
                  "charge_auth_token": "charge-auth-token", "tariff": "tariff", "command": "command", "partner": "partner",
                  "webhook": "webhook"}


class Event(msgspec.Struct, frozen=True):
    """The Standard Webhooks body."""

    type: str
    timestamp: datetime
    data: Any


class MontaEntry(msgspec.Struct, frozen=True, rename="camel"):
    entity_type: str
    entity_id: str
    event_type: str  # created | updated | deleted
    event_time: datetime
    payload: Any


class MontaBody(msgspec.Struct, frozen=True):
    entries: list[MontaEntry]
    pending: int
    timestamp: int  # epoch milliseconds, of this attempt


def occurrence(payload: bytes) -> Occurrence:
    return _OCCURRENCE.decode(payload)


def _when(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, tz=timezone.utc)


def data_of(occ: Occurrence) -> Any:
    """The REST representation of what the event is about (events without an API object carry their own)."""
    decoder = _DECODERS.get(occ.kind)
    if decoder is None:
        return occ.obj
    obj = decoder.decode(occ.obj)
    if occ.kind == "location":
        return mapping.site(obj)
    if occ.kind == "evse":
        site = _DECODERS["location"].decode(occ.site)
        link = occ.charger
        charger = None if link is None else mapping.ChargerInfo(
            identity=link.identity, connector_id=link.number, connected=link.connected,
            last_connected_at=_when(link.connected_us) if link.connected_us else None)
        return mapping.charge_point(site, obj, charger)
    render = {"session": mapping.charge, "cdr": mapping.cdr, "token": mapping.charge_auth_token, "tariff": mapping.tariff}
    return render[occ.kind](obj)


def standard_body(occ: Occurrence) -> bytes:
    return _ENCODER.encode(Event(occ.type, _when(occ.at_us), data_of(occ)))


def monta_body(occ: Occurrence, now_ms: int, pending: int = 0) -> bytes:
    family, _, action = occ.type.partition(".")
    data = data_of(occ)
    event = action if action in ("created", "deleted") else "updated"
    entity_id = str(getattr(data, "id", "") or occ.id)
    entry = MontaEntry(MONTA_ENTITIES.get(family, family), entity_id, event, _when(occ.at_us), data)
    return _ENCODER.encode(MontaBody([entry], pending, now_ms))


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def standard_signature(secrets: tuple[str, ...], msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<sig>` for each secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode() for s in secrets)


def monta_signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


class Bodies:
    """Standard bodies of recent events by event id: one change heard by many endpoints is rendered once."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.kept: dict[str, bytes] = {}

    def __call__(self, occ: Occurrence) -> bytes:
        body = self.kept.get(occ.id)
        if body is None:
            if len(self.kept) >= self.size:
                del self.kept[next(iter(self.kept))]  # the oldest (dicts keep insertion order)
            body = self.kept[occ.id] = standard_body(occ)
        return body


def signed(occ: Occurrence, fmt: str, secrets: tuple[str, ...], now: float, bodies: Bodies | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt at `now` (Unix seconds)."""
    if fmt == "monta":
        body = monta_body(occ, int(now * 1000))
        return body, {"content-type": "application/json", "x-monta-signature": monta_signature(secrets[0], body)}
    body = bodies(occ) if bodies is not None else standard_body(occ)
    ts = int(now)
    return body, {"content-type": "application/json", "webhook-id": occ.id, "webhook-timestamp": str(ts),
                  "webhook-signature": standard_signature(secrets, occ.id, ts, body)}
