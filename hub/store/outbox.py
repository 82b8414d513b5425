"""The transactional outbox: events written in the same transaction as the state they announce.

An event is addressed to one destination platform and belongs to one stream (one object): events of a
stream are delivered to a destination strictly in order, streams independently. A claimed event is
`inflight` and owned by the process delivering it; the claim lives as long as that process keeps beating in
the `processes` table, so the events of a process that died are claimed again within seconds. Delivery is at
least once.

Status: pending -> inflight -> done | parked (the receiver refused it) | skipped (dropped: the destination
went away, or the object is sent again as it is now instead).

A destination that cannot take events (OFFLINE) does not queue them: each object that changes is marked
stale for it once (`outbox_stale`), however often it changes, and when the destination can take events again
the current state of every stale object is queued (`take_stale`). Events of objects that have no current
state to send instead (a CDR, a command's result) stay queued.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.store import schema
from hub.store.db import Tx
from hub.store.documents import now_us

O, A, STALE, PROC = schema.outbox, schema.outbox_attempts, schema.outbox_stale, schema.processes
OPEN = ("pending", "inflight")
# as literals, the very condition of the partial index ix_outbox_open (with bound parameters the planners of both
# databases would not know the index applies)
IS_OPEN = O.c.status.in_([sa.literal_column("'pending'"), sa.literal_column("'inflight'")])
# streams whose object can be sent as it is now, instead of every change it went through
REFRESHABLE = ("location:", "tariff:", "token:", "session:")


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


class Head(msgspec.Struct, frozen=True):
    """An open event as a lane sees it when choosing what to send next (no payload)."""

    seq: int
    stream: str
    status: str
    owner: str | None
    next_attempt_us: int


class Outcome(msgspec.Struct, frozen=True):
    """What became of one delivery: done, pending again at `retry_at_us`, parked. `counted`: an attempt (not
    when the hub itself had no room to send it)."""

    seq: int
    status: str
    detail: str = ""
    retry_at_us: int | None = None
    counted: bool = True


_INSERT = sa.insert(O)


def _event(row: sa.Row) -> Event:
    return Event(
        seq=row.seq, destination=row.destination, stream=row.stream, kind=row.kind, op=row.op, path=row.path,
        payload=row.payload, fields=tuple(msgspec.json.decode(row.fields)) if row.fields else None,
        correlation_id=row.correlation_id, attempts=row.attempts, status=row.status,
        next_attempt_us=row.next_attempt_us, last_error=row.last_error, created_us=row.created_us,
    )


def _announce(tx: Tx, destinations: Iterable[int]) -> None:
    """Wake the lanes of these destinations (in this process and the others)."""
    tx.notify("outbox", ",".join(map(str, sorted(set(destinations)))))


def enqueue(tx: Tx, destinations: Sequence[int], draft: Draft) -> None:
    if not destinations:
        return
    now = now_us()
    fields = msgspec.json.encode(list(draft.fields)).decode() if draft.fields is not None else None
    tx.defer(  # new rows no other deferred statement touches: written with the batch's other events
        _INSERT,
        [
            {
                "destination": d, "stream": draft.stream, "kind": draft.kind, "op": draft.op, "path": draft.path,
                "payload": draft.payload, "fields": fields, "correlation_id": draft.correlation_id,
                "status": "pending", "attempts": 0, "next_attempt_us": now, "created_us": now,
            }
            for d in destinations
        ],
    )
    _announce(tx, destinations)


def refreshable(stream: str) -> bool:
    return stream.startswith(REFRESHABLE)


def mark_stale(tx: Tx, destinations: Sequence[int], stream: str) -> None:
    """The object of `stream` must reach these destinations as it is when they can take it (once, however
    often it changes meanwhile)."""
    _stale(tx, [(d, stream) for d in destinations])


def _stale(tx: Tx, pairs: Sequence[tuple[int, str]]) -> None:
    if not pairs:
        return
    insert = (sqlite_insert if tx.dialect == "sqlite" else pg_insert)(STALE)
    now = now_us()
    tx.execute(insert.on_conflict_do_nothing(), [{"destination": d, "stream": s, "created_us": now} for d, s in pairs])
    _announce(tx, {d for d, _ in pairs})


def to_stale(tx: Tx, destination: int, reason: str) -> int:
    """A destination that cannot take events any more: the objects of its open refreshable events become stale
    (their events are dropped), its ClientInfo events are dropped (all of them are sent when it is back); the
    rest (CDRs, results) stay queued. Returns how many events were dropped."""
    open_ = sa.and_(O.c.destination == destination, O.c.status.in_(OPEN))
    streams = tx.execute(sa.select(O.c.stream).where(open_).distinct()).scalars()
    _stale(tx, [(destination, s) for s in streams if refreshable(s)])
    dropped = sa.or_(O.c.kind == "clientinfo", *(O.c.stream.startswith(p) for p in REFRESHABLE))
    return tx.execute(sa.update(O).where(open_, dropped).values(status="skipped", owner=None, last_error=reason)).rowcount


def compact(tx: Tx, destination: int, streams: Sequence[str]) -> int:
    """Replace the pending events of these streams by their object's current state (they become stale)."""
    _stale(tx, [(destination, s) for s in streams])
    return tx.execute(sa.update(O).where(O.c.destination == destination, O.c.status == "pending", O.c.stream.in_(list(streams)))
                      .values(status="skipped", last_error="replaced by the object's current state")).rowcount


def take_stale(tx: Tx, destination: int, limit: int = 1000) -> list[str]:
    """Some stale streams of a destination, removed from the stale list (the caller queues them now)."""
    streams = list(tx.execute(sa.select(STALE.c.stream).where(STALE.c.destination == destination)
                              .order_by(STALE.c.created_us).limit(limit)).scalars())
    if streams:
        tx.execute(sa.delete(STALE).where(STALE.c.destination == destination, STALE.c.stream.in_(streams)))
    return streams


def stale_destinations(conn: sa.Connection) -> set[int]:
    return set(conn.execute(sa.select(STALE.c.destination).distinct()).scalars())


# --- lanes ------------------------------------------------------------------------------------------------------


def window(conn: sa.Connection, destination: int, limit: int) -> list[Head]:
    """The oldest open events of one destination, in order (ix_outbox_open)."""
    rows = conn.execute(
        sa.select(O.c.seq, O.c.stream, O.c.status, O.c.owner, O.c.next_attempt_us)
        .where(O.c.destination == destination, IS_OPEN).order_by(O.c.seq).limit(limit)
    )
    return [Head(*row) for row in rows]


def claim(tx: Tx, seqs: Sequence[int], owner: str, dead: Iterable[str]) -> list[Event]:
    """Take these events for `owner`: pending ones, and inflight ones whose owner died. A row another
    process holds right now is skipped, never waited for."""
    if not seqs:
        return []
    takeable = sa.or_(O.c.status == "pending", sa.and_(O.c.status == "inflight", O.c.owner.in_(list(dead))))
    cond = sa.and_(O.c.seq.in_(list(seqs)), takeable)
    if tx.dialect == "postgresql":
        locked = sa.select(O.c.seq).where(cond).with_for_update(skip_locked=True).scalar_subquery()
        cond = sa.and_(O.c.seq.in_(locked), takeable)
    rows = tx.execute(sa.update(O).where(cond).values(status="inflight", owner=owner).returning(*O.c))
    return sorted((_event(r) for r in rows), key=lambda e: e.seq)


def finish(tx: Tx, outcomes: Sequence[Outcome], owner: str) -> None:
    """Record many deliveries at once: the done ones in one statement, the others one by one (few). Only
    events still claimed by `owner` change (one dropped meanwhile, or taken over, stays as it is)."""
    mine = sa.and_(O.c.status == "inflight", O.c.owner == owner)
    done = [o.seq for o in outcomes if o.status == "done"]
    if done:
        tx.execute(sa.update(O).where(O.c.seq.in_(done), mine).values(status="done", owner=None, attempts=O.c.attempts + 1))
    now = now_us()
    for o in outcomes:
        if o.status == "done":
            continue
        values: dict[str, object] = {"status": o.status, "owner": None}
        if o.retry_at_us is not None:
            values["next_attempt_us"] = o.retry_at_us
        if o.counted:
            values.update(attempts=O.c.attempts + 1, last_error=o.detail[:2000])
        if not tx.execute(sa.update(O).where(O.c.seq == o.seq, mine).values(**values)).rowcount:
            continue
        if o.counted:
            tx.execute(sa.insert(A).values(seq=o.seq, at_us=now, ok=False, detail=o.detail[:2000]))


def release(tx: Tx, owner: str) -> None:
    """A process that stops gives its claims back at once."""
    tx.execute(sa.update(O).where(O.c.status == "inflight", O.c.owner == owner).values(status="pending", owner=None))


def with_open_events(conn: sa.Connection, destinations: Iterable[int]) -> set[int]:
    """Those of these destinations that have open events (one index probe each)."""
    probe = sa.select(sa.literal(1)).where(O.c.destination == sa.bindparam("d"), IS_OPEN).limit(1)
    return {d for d in destinations if conn.execute(probe, {"d": d}).first() is not None}


def prune(tx: Tx, before_us: int) -> int:
    """Forget delivered and dropped events older than `before_us` (their attempts go with them)."""
    old = sa.and_(O.c.status.in_(("done", "skipped")), O.c.created_us < before_us)
    tx.execute(sa.delete(A).where(A.c.seq.in_(sa.select(O.c.seq).where(old))))
    return tx.execute(sa.delete(O).where(old)).rowcount


# --- processes -----------------------------------------------------------------------------------------------


def beat(tx: Tx, instance: str, started_us: int) -> None:
    now = now_us()
    if not tx.execute(sa.update(PROC).where(PROC.c.instance == instance).values(heartbeat_us=now)).rowcount:
        tx.execute(sa.insert(PROC).values(instance=instance, started_us=started_us, heartbeat_us=now))


def alive(conn: sa.Connection, since_us: int) -> set[str]:
    return set(conn.execute(sa.select(PROC.c.instance).where(PROC.c.heartbeat_us >= since_us)).scalars())


def forget_process(tx: Tx, instance: str, dead_before_us: int) -> None:
    """This process stops; and processes silent since `dead_before_us` are gone for good."""
    tx.execute(sa.delete(PROC).where(sa.or_(PROC.c.instance == instance, PROC.c.heartbeat_us < dead_before_us)))


# --- the CLI ------------------------------------------------------------------------------------------------


def replay(tx: Tx, seqs: Sequence[int] | None = None, destination: int | None = None) -> int:
    """Parked (or skipped) events back to pending."""
    conds = [O.c.status.in_(("parked", "skipped"))]
    if seqs:
        conds.append(O.c.seq.in_(list(seqs)))
    if destination is not None:
        conds.append(O.c.destination == destination)
    rows = tx.execute(sa.update(O).where(*conds).values(status="pending", owner=None, next_attempt_us=now_us())
                      .returning(O.c.destination)).scalars().all()
    if rows:
        _announce(tx, rows)
    return len(rows)


def skip_open(tx: Tx, destination: int, reason: str) -> int:
    """Drop everything still waiting for a destination that is gone (unregistered)."""
    tx.execute(sa.delete(STALE).where(STALE.c.destination == destination))
    return tx.execute(
        sa.update(O).where(O.c.destination == destination, O.c.status.in_(OPEN)).values(status="skipped", owner=None, last_error=reason)
    ).rowcount


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


def open_count(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(O).where(O.c.status.in_(OPEN))).scalar_one()
