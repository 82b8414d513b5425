"""Webhook endpoints and their delivery log: the SQL.

An endpoint is a destination of the outbox like an OCPI platform: a `platforms` row (protocol `webhook`, its
status the endpoint's: CONNECTED enabled, SUSPENDED or OFFLINE disabled) and a `webhook_endpoints` row with the
rest. Its deliveries are its outbox events, their failed attempts in `outbox_attempts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa

from hub.model import PartyId
from hub.store import schema
from hub.store.db import Tx
from hub.store.documents import now_us

W, P, C, O, A = schema.webhook_endpoints, schema.platforms, schema.consumers, schema.outbox, schema.outbox_attempts
PROTOCOL = "webhook"


class EndpointRow(msgspec.Struct, frozen=True):
    id: int  # its platform's id: the outbox destination
    client_id: str
    url: str
    event_types: tuple[str, ...]  # ("*",): every type the credential may see
    format: str
    description: str | None
    secret: str  # sealed (hub/store/secrets.py) as stored; the directory opens it
    prev_secret: str | None
    prev_until_us: int | None
    disabled_reason: str | None
    status: str  # its platform's
    created_us: int
    updated_us: int


class HookRow(msgspec.Struct, frozen=True):
    """An endpoint with what its credential is: what the fan-out needs."""

    endpoint: EndpointRow
    party: PartyId | None
    admin: bool
    scopes: str


_COLUMNS = (*W.c, P.c.status)
_JOIN = W.join(P, P.c.id == W.c.platform_id)


def _endpoint(r: Any) -> EndpointRow:
    return EndpointRow(
        r.platform_id, r.client_id, r.url, tuple(r.event_types.split(",")), r.format, r.description, r.secret,
        r.prev_secret, r.prev_until_us, r.disabled_reason, r.status, r.created_us, r.updated_us,
    )


def create(tx: Tx, client_id: str, url: str, event_types: Sequence[str], format_: str, description: str | None, secret: str) -> int:
    now = now_us()
    pid = tx.execute(sa.insert(P).values(name=(description or url)[:255], protocol=PROTOCOL, status="CONNECTED", created_us=now,
                                         updated_us=now).returning(P.c.id)).scalar_one()
    tx.execute(sa.insert(W).values(platform_id=pid, client_id=client_id, url=url, event_types=",".join(event_types), format=format_,
                                   description=description, secret=secret, created_us=now, updated_us=now))
    tx.notify("platforms")
    return pid


def get(conn: sa.Connection, endpoint_id: int, for_update: bool = False) -> EndpointRow | None:
    q = sa.select(*_COLUMNS).select_from(_JOIN).where(W.c.platform_id == endpoint_id)
    r = conn.execute(q.with_for_update(of=W) if for_update and conn.dialect.name == "postgresql" else q).first()
    return None if r is None else _endpoint(r)


def listing(conn: sa.Connection, client_id: str | None) -> list[EndpointRow]:
    q = sa.select(*_COLUMNS).select_from(_JOIN).order_by(W.c.platform_id)
    if client_id is not None:
        q = q.where(W.c.client_id == client_id)
    return [_endpoint(r) for r in conn.execute(q)]


def hooks(conn: sa.Connection) -> list[HookRow]:
    """Every endpoint of a credential that is not revoked."""
    q = sa.select(*_COLUMNS, C.c.country_code, C.c.party_id, C.c.admin, C.c.scopes).select_from(
        _JOIN.join(C, C.c.client_id == W.c.client_id)).where(C.c.revoked_us.is_(None))
    return [HookRow(_endpoint(r), PartyId(r.country_code, r.party_id) if r.country_code else None, bool(r.admin), r.scopes)
            for r in conn.execute(q)]


def update(tx: Tx, endpoint_id: int, status: str | None = None, **values: Any) -> None:
    """Change an endpoint's columns (`event_types` a sequence) and, given, its status (every process hears it)."""
    if "event_types" in values:
        values["event_types"] = ",".join(values["event_types"])
    now = now_us()
    tx.execute(sa.update(W).where(W.c.platform_id == endpoint_id).values(updated_us=now, **values))
    platform: dict[str, Any] = {"updated_us": now}
    if status is not None:
        platform.update(status=status, offline_since_us=None)
    if values.get("description") or values.get("url"):
        platform["name"] = (values.get("description") or values.get("url"))[:255]
    tx.execute(sa.update(P).where(P.c.id == endpoint_id).values(**platform))
    tx.notify("platforms")


def delete(tx: Tx, endpoint_id: int) -> None:
    """The endpoint and its deliveries (the outbox rows go with their destination)."""
    tx.execute(sa.delete(A).where(A.c.seq.in_(sa.select(O.c.seq).where(O.c.destination == endpoint_id))))
    tx.execute(sa.delete(O).where(O.c.destination == endpoint_id))
    tx.execute(sa.delete(schema.outbox_stale).where(schema.outbox_stale.c.destination == endpoint_id))
    tx.execute(sa.delete(W).where(W.c.platform_id == endpoint_id))
    tx.execute(sa.delete(P).where(P.c.id == endpoint_id))
    tx.notify("platforms")


def revoke_client(tx: Tx, client_id: str, reason: str) -> None:
    """A revoked credential's endpoints stop (its events are dropped; none are made any more)."""
    ids = list(tx.execute(sa.select(W.c.platform_id).where(W.c.client_id == client_id)).scalars())
    if not ids:
        return
    tx.execute(sa.update(W).where(W.c.platform_id.in_(ids)).values(disabled_reason=reason))
    tx.execute(sa.update(P).where(P.c.id.in_(ids)).values(status="SUSPENDED"))
    tx.execute(sa.update(O).where(O.c.destination.in_(ids), O.c.status.in_(("pending", "inflight")))
               .values(status="skipped", owner=None, last_error=reason))
    tx.notify("platforms")


# --- the delivery log -------------------------------------------------------------------------------------


class DeliveryRow(msgspec.Struct, frozen=True):
    seq: int
    endpoint_id: int
    status: str  # the outbox's
    attempts: int
    next_attempt_us: int
    last_error: str | None
    created_us: int
    payload: bytes


def _delivery(r: Any) -> DeliveryRow:
    return DeliveryRow(r.seq, r.destination, r.status, r.attempts, r.next_attempt_us, r.last_error, r.created_us, r.payload)


_DELIVERY = sa.select(O.c.seq, O.c.destination, O.c.status, O.c.attempts, O.c.next_attempt_us, O.c.last_error, O.c.created_us,
                      O.c.payload)


def endpoints_of(client_id: str, endpoint_id: int | None = None) -> sa.ScalarSelect:
    """The ids of a credential's endpoints (only `endpoint_id`, given), as a subquery."""
    q = sa.select(W.c.platform_id).where(W.c.client_id == client_id)
    return (q.where(W.c.platform_id == endpoint_id) if endpoint_id is not None else q).scalar_subquery()


def deliveries(conn: sa.Connection, endpoints: Sequence[int] | sa.ScalarSelect, statuses: Sequence[str] | None, offset: int, limit: int,
               seq: int | None = None) -> tuple[list[DeliveryRow], int]:
    """Newest first, and how many match."""
    conds = [O.c.destination.in_(endpoints if isinstance(endpoints, sa.ScalarSelect) else list(endpoints))]
    if statuses is not None:
        conds.append(O.c.status.in_(list(statuses)))
    if seq is not None:
        conds.append(O.c.seq == seq)
    rows = [_delivery(r) for r in conn.execute(_DELIVERY.where(*conds).order_by(O.c.seq.desc()).offset(offset).limit(limit))]
    total = conn.execute(sa.select(sa.func.count()).select_from(O).where(*conds)).scalar_one()
    return rows, total


def failed_attempts(conn: sa.Connection, seqs: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
    out: dict[int, list[tuple[int, str]]] = {}
    if seqs:
        for r in conn.execute(sa.select(A.c.seq, A.c.at_us, A.c.detail).where(A.c.seq.in_(list(seqs))).order_by(A.c.id)):
            out.setdefault(r.seq, []).append((r.at_us, r.detail))
    return out
