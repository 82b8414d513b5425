"""Answers kept for Idempotency-Key retries: the SQL (hub/services/idempotency.py)."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.store import schema
from hub.store.db import Tx

I = schema.idempotency  # noqa: E741


class Kept(msgspec.Struct, frozen=True):
    fingerprint: str
    status: int | None  # None: the first request still runs
    body: bytes | None
    created_us: int


def claim(tx: Tx, client_id: str, key: str, fingerprint: str, now: int, expired_before: int, stale_before: int) -> Kept | None:
    """Take the key for a first request (None), or what is kept under it. Kept answers older than `expired_before`
    and claims older than `stale_before` (their process died mid-request) are dropped first. One conditional
    insert decides between two racing requests: the other finds the winner's claim."""
    key_of = (I.c.client_id == client_id, I.c.key == key)
    tx.execute(sa.delete(I).where(I.c.client_id == client_id, sa.or_(
        I.c.created_us < expired_before, sa.and_(*key_of, I.c.status.is_(None), I.c.created_us < stale_before))))
    insert_ = (sqlite_insert if tx.dialect == "sqlite" else pg_insert)(I)
    won = tx.execute(insert_.values(client_id=client_id, key=key, fingerprint=fingerprint, created_us=now)
                     .on_conflict_do_nothing().returning(I.c.key)).first()
    if won is not None:
        return None
    r = tx.execute(sa.select(I.c.fingerprint, I.c.status, I.c.body, I.c.created_us).where(*key_of)).one()
    return Kept(r.fingerprint, r.status, r.body, r.created_us)


def keep(tx: Tx, client_id: str, key: str, status: int, body: bytes) -> None:
    tx.execute(sa.update(I).where(I.c.client_id == client_id, I.c.key == key).values(status=status, body=body))


def release(tx: Tx, client_id: str, key: str) -> None:
    """The claim goes, nothing kept (the request failed): a retry runs again."""
    tx.execute(sa.delete(I).where(I.c.client_id == client_id, I.c.key == key, I.c.status.is_(None)))
