"""The transactional outbox: events written in the same transaction as the state they announce.

An event is addressed to one destination platform and belongs to one stream (one object): events of a
stream are delivered to a destination strictly in order, streams independently. A claimed event is
`inflight` with a lease (its `next_attempt_us`); a dispatcher that dies mid-delivery lets the lease run
out and another claims the event again. Delivery is at least once.

Status: pending -> inflight -> done | parked (kept failing, or the receiver refused it) | skipped (the
destination went offline; its re-sync on return replaces the event).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import sqlalchemy as sa

from hub.store import schema
from hub.store.db import Tx
from hub.store.documents import now_us

O, A = schema.outbox, schema.outbox_attempts
OPEN = ("pending", "inflight")


class Event(msgspec.Struct, frozen=True):
    seq: int
    destination: int
    stream: str
    kind: str
    op: str
    path: str
    payload: bytes
    fields: tuple[str, ...] | None
    correlation_id: str | None
    attempts: int
    status: str = "pending"
    next_attempt_us: int = 0
    last_error: str | None = None
    created_us: int = 0


class Draft(msgspec.Struct, frozen=True):
    """An event before it has a destination."""

    stream: str
    kind: str
    op: str
    path: str
    payload: bytes
    fields: tuple[str, ...] | None = None
    correlation_id: str | None = None


def _event(row: sa.Row) -> Event:
    return Event(
        seq=row.seq, destination=row.destination, stream=row.stream, kind=row.kind, op=row.op, path=row.path,
        payload=row.payload, fields=tuple(msgspec.json.decode(row.fields)) if row.fields else None,
        correlation_id=row.correlation_id, attempts=row.attempts, status=row.status,
        next_attempt_us=row.next_attempt_us, last_error=row.last_error, created_us=row.created_us,
    )


def enqueue(tx: Tx, destinations: Sequence[int], draft: Draft) -> None:
    if not destinations:
        return
    now = now_us()
    fields = msgspec.json.encode(list(draft.fields)).decode() if draft.fields is not None else None
    tx.execute(
        sa.insert(O),
        [
            {
                "destination": d, "stream": draft.stream, "kind": draft.kind, "op": draft.op, "path": draft.path,
                "payload": draft.payload, "fields": fields, "correlation_id": draft.correlation_id,
                "status": "pending", "attempts": 0, "next_attempt_us": now, "created_us": now,
            }
            for d in destinations
        ],
    )
    tx.notify("outbox")


def heads(conn: sa.Connection, limit: int = 1000) -> list[Event]:
    """The first open event of each (destination, stream), oldest first, among the oldest `limit` open ones."""
    rows = conn.execute(sa.select(O).where(O.c.status.in_(OPEN)).order_by(O.c.seq).limit(limit)).all()
    seen: set[tuple[int, str]] = set()
    out = []
    for row in rows:
        key = (row.destination, row.stream)
        if key not in seen:
            seen.add(key)
            out.append(_event(row))
    return out


def claim(tx: Tx, seqs: Sequence[int], lease_until_us: int) -> list[int]:
    """Take the due events among `seqs`; a row another dispatcher holds is skipped, never waited for."""
    if not seqs:
        return []
    now = now_us()
    due = sa.and_(O.c.seq.in_(list(seqs)), O.c.status.in_(OPEN), O.c.next_attempt_us <= now)
    if tx.dialect == "postgresql":
        locked = sa.select(O.c.seq).where(due).with_for_update(skip_locked=True).scalar_subquery()
        due = sa.and_(O.c.seq.in_(locked), O.c.status.in_(OPEN), O.c.next_attempt_us <= now)
    stmt = sa.update(O).where(due).values(status="inflight", next_attempt_us=lease_until_us).returning(O.c.seq)
    return list(tx.execute(stmt).scalars())


def record(tx: Tx, seq: int, *, ok: bool, detail: str | None, status: str, retry_at_us: int | None = None) -> None:
    """The outcome of one attempt."""
    now = now_us()
    tx.execute(sa.insert(A).values(seq=seq, at_us=now, ok=ok, detail=(detail or "")[:2000]))
    values: dict[str, object] = {"status": status, "attempts": O.c.attempts + 1}
    if not ok:
        values["last_error"] = (detail or "")[:2000]
    if retry_at_us is not None:
        values["next_attempt_us"] = retry_at_us
    tx.execute(sa.update(O).where(O.c.seq == seq).values(**values))
    if status == "pending":
        tx.notify("outbox")


def postpone(tx: Tx, seq: int, retry_at_us: int) -> None:
    """Back to pending without counting an attempt (the hub, not the receiver, was busy)."""
    tx.execute(sa.update(O).where(O.c.seq == seq).values(status="pending", next_attempt_us=retry_at_us))
    tx.notify("outbox")


def skip_open(tx: Tx, destination: int, reason: str) -> int:
    """Drop what is still waiting for a destination that went offline (its re-sync replaces it)."""
    return tx.execute(
        sa.update(O).where(O.c.destination == destination, O.c.status.in_(OPEN)).values(status="skipped", last_error=reason)
    ).rowcount


def replay(tx: Tx, seqs: Sequence[int] | None = None, destination: int | None = None) -> int:
    """Parked (or skipped) events back to pending."""
    conds = [O.c.status.in_(("parked", "skipped"))]
    if seqs:
        conds.append(O.c.seq.in_(list(seqs)))
    if destination is not None:
        conds.append(O.c.destination == destination)
    n = tx.execute(sa.update(O).where(*conds).values(status="pending", next_attempt_us=now_us())).rowcount
    if n:
        tx.notify("outbox")
    return n


def listing(conn: sa.Connection, status: str | None = None, destination: int | None = None, limit: int = 100) -> list[Event]:
    conds = []
    if status:
        conds.append(O.c.status == status)
    if destination is not None:
        conds.append(O.c.destination == destination)
    return [_event(r) for r in conn.execute(sa.select(O).where(*conds).order_by(O.c.seq.desc()).limit(limit))]


def attempts(conn: sa.Connection, seq: int) -> list[tuple[int, bool, str]]:
    return [(r.at_us, r.ok, r.detail) for r in conn.execute(sa.select(A).where(A.c.seq == seq).order_by(A.c.id))]


def counts(conn: sa.Connection) -> dict[str, int]:
    return dict(conn.execute(sa.select(O.c.status, sa.func.count()).group_by(O.c.status)).all())


def inflight_count(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(O).where(O.c.status == "inflight")).scalar_one()


def next_due_us(conn: sa.Connection) -> int | None:
    return conn.execute(sa.select(sa.func.min(O.c.next_attempt_us)).where(O.c.status.in_(OPEN))).scalar()
