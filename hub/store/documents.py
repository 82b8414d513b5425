"""Canonical objects in the store: one table per kind, a document plus the columns queries need.

Everything here is a synchronous function of a connection (see `db.py`), so it runs unchanged inside a
batched write on SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any, Generic, NamedTuple, TypeVar

import msgspec
import sqlalchemy as sa

from hub import model
from hub.store import schema
from hub.store.db import Tx

S = TypeVar("S", bound=msgspec.Struct)

_encoder = msgspec.json.Encoder(decimal_format="number")
encode = _encoder.encode

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_us(when: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = when - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=timezone.utc)


def now_us() -> int:
    return to_us(datetime.now(timezone.utc))


@dataclass(frozen=True)
class Kind(Generic[S]):
    """How one canonical object kind is stored."""

    name: str
    table: sa.Table
    type: type[S]
    key: Callable[[S], tuple[str, ...]]  # the primary key, normalised
    columns: Callable[[S], dict[str, Any]]  # the indexed columns besides the key

    def __post_init__(self) -> None:
        object.__setattr__(self, "decoder", msgspec.json.Decoder(self.type))
        object.__setattr__(self, "key_columns", [c for c in self.table.primary_key.columns])

    def decode(self, doc: bytes) -> S:
        return self.decoder.decode(doc)  # type: ignore[attr-defined]

    def where_key(self, key: Sequence[str]) -> sa.ColumnElement[bool]:
        return sa.and_(*(col == value for col, value in zip(self.key_columns, key)))  # type: ignore[attr-defined]


def up(value: str) -> str:
    return value.upper()


LOCATION: Kind[model.Location] = Kind(
    "location",
    schema.locations,
    model.Location,
    key=lambda o: (up(o.country_code), up(o.party_id), up(o.id)),
    columns=lambda o: {
        "published": o.publish,
        "latitude": float(o.coordinates.latitude),
        "longitude": float(o.coordinates.longitude),
    },
)
TARIFF: Kind[model.Tariff] = Kind(
    "tariff",
    schema.tariffs,
    model.Tariff,
    key=lambda o: (up(o.country_code), up(o.party_id), up(o.id)),
    columns=lambda o: {},
)
TOKEN: Kind[model.Token] = Kind(
    "token",
    schema.tokens,
    model.Token,
    key=lambda o: (up(o.country_code), up(o.party_id), up(o.uid), o.type),
    columns=lambda o: {
        "contract_id": up(o.contract_id),
        "valid": o.valid,
        "whitelist": o.whitelist,
        "group_id": up(o.group_id) if o.group_id else None,
        "visual_number": o.visual_number,
    },
)
SESSION: Kind[model.Session] = Kind(
    "session",
    schema.sessions,
    model.Session,
    key=lambda o: (up(o.country_code), up(o.party_id), up(o.id)),
    columns=lambda o: {
        "emsp_country_code": up(o.cdr_token.country_code),
        "emsp_party_id": up(o.cdr_token.party_id),
        "token_uid": up(o.cdr_token.uid),
        "status": o.status,
        "location_id": up(o.location_id),
        "evse_uid": up(o.evse_uid),
        "started_us": to_us(o.start_date_time),
        "stopped_us": to_us(o.end_date_time) if o.end_date_time else None,
    },
)
CDR: Kind[model.Cdr] = Kind(
    "cdr",
    schema.cdrs,
    model.Cdr,
    key=lambda o: (up(o.country_code), up(o.party_id), up(o.id)),
    columns=lambda o: {
        "emsp_country_code": up(o.cdr_token.country_code),
        "emsp_party_id": up(o.cdr_token.party_id),
        "session_id": up(o.session_id) if o.session_id else None,
    },
)
KINDS = {k.name: k for k in (LOCATION, TARIFF, TOKEN, SESSION, CDR)}


class Stored(msgspec.Struct, Generic[S]):
    obj: S
    source_platform: int | None
    audience: str | None = None  # Locations only


class _Statements(NamedTuple):
    get: sa.Select
    get_for_update: sa.Select
    exists: sa.Select
    insert: sa.Insert
    update: sa.Update
    delete: sa.Delete


@lru_cache(maxsize=None)
def _statements(kind: Kind[Any]) -> _Statements:
    """The statements by primary key, built once (the key travels as parameters k0, k1, ...), so that a
    write pays neither for building SQL expressions nor for compiling them."""
    t = kind.table
    where = sa.and_(*(c == sa.bindparam(f"k{i}") for i, c in enumerate(kind.key_columns)))  # type: ignore[attr-defined]
    cols = [t.c.doc, t.c.source_platform] + ([t.c.audience] if kind is LOCATION else [])
    get = sa.select(*cols).where(where)
    return _Statements(get, get.with_for_update(), sa.select(sa.literal(1)).where(where), sa.insert(t),
                       sa.update(t).where(where), sa.delete(t).where(where))


def _key(key: Sequence[str]) -> dict[str, str]:
    return {f"k{i}": v for i, v in enumerate(key)}


def get(conn: sa.Connection, kind: Kind[S], key: Sequence[str], for_update: bool = False) -> Stored[S] | None:
    """`for_update`: the read of a read-modify-write, so the row stays locked until the write commits (PostgreSQL;
    on SQLite the writer's transactions are serialized already, BEGIN IMMEDIATE)."""
    stmts = _statements(kind)
    row = conn.execute(stmts.get_for_update if for_update else stmts.get, _key(key)).first()
    return None if row is None else Stored(kind.decode(row.doc), *row[1:])


def rendered_by_keys(conn: sa.Connection, kind: Kind[Any], keys: Sequence[Sequence[str]]) -> dict[tuple, tuple[int, bytes]]:
    """key -> (stored_us, rendered document) of the objects among `keys` that exist."""
    if not keys:
        return {}
    width = len(kind.key_columns)  # type: ignore[attr-defined]
    params = {f"k{i}_{j}": v for i, k in enumerate(keys) for j, v in enumerate(k)}
    return {tuple(r[:width]): (r[-2], r[-1]) for r in conn.execute(_by_keys(kind, len(keys)), params)}


def present(conn: sa.Connection, kind: Kind[Any], keys: Sequence[Sequence[str]]) -> set[tuple]:
    """The keys among `keys` (normalised) that are stored: one query for a batch of saves instead of one each."""
    out: set[tuple] = set()
    for start in range(0, len(keys), 100):
        batch = keys[start:start + 100]
        params = {f"k{i}_{j}": v for i, k in enumerate(batch) for j, v in enumerate(k)}
        out.update(tuple(r) for r in conn.execute(_keys_present(kind, len(batch)), params))
    return out


@lru_cache(maxsize=128)
def _keys_present(kind: Kind[Any], n: int) -> sa.Select:
    cols = kind.key_columns  # type: ignore[attr-defined]
    return sa.select(*cols).where(sa.or_(*(sa.and_(*(c == sa.bindparam(f"k{i}_{j}") for j, c in enumerate(cols))) for i in range(n))))


def objects_by_keys(conn: sa.Connection, kind: Kind[S], keys: Sequence[Sequence[str]]) -> dict[tuple, tuple[int, S]]:
    """key -> (stored_us, object) of the objects among `keys` that exist (for a Location: its shell)."""
    if not keys:
        return {}
    width = len(kind.key_columns)  # type: ignore[attr-defined]
    params = {f"k{i}_{j}": v for i, k in enumerate(keys) for j, v in enumerate(k)}
    return {tuple(r[:width]): (r[-2], kind.decode(r[-1])) for r in conn.execute(_by_keys(kind, len(keys), "doc"), params)}


@lru_cache(maxsize=512)
def _by_keys(kind: Kind[Any], n: int, column: str = "rendered") -> sa.Select:
    """SELECT key, rendered (or doc) WHERE key = k0 OR key = k1 ...: answered from the primary key on both
    databases (a row-value IN list makes SQLite scan the table). Built once per page size."""
    cols = kind.key_columns  # type: ignore[attr-defined]
    match = sa.or_(*(sa.and_(*(c == sa.bindparam(f"k{i}_{j}") for j, c in enumerate(cols))) for i in range(n)))
    return sa.select(*cols, kind.table.c.stored_us, kind.table.c[column]).where(match)


def save(
    tx: Tx, kind: Kind[S], obj: S, rendered: bytes, source_platform: int | None, exists: bool | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Insert or replace; returns True when the object is new. `extra`: columns worked out by the caller.
    The write itself is deferred (hub/store/db.Tx): the batch's saves of one kind go together.
    (A Location's row is its shell: hub/store/locations.py writes Locations.)"""
    stmts = _statements(kind)
    key = kind.key(obj)
    values = {
        "stored_us": now_us(),
        **kind.columns(obj),
        **(extra or {}),
        "updated_us": to_us(obj.last_updated),  # type: ignore[attr-defined]
        "source_platform": source_platform,
        "doc": encode(obj),
        "rendered": rendered,
    }
    if exists is None:
        exists = tx.execute(stmts.exists, _key(key)).first() is not None
    if exists:
        tx.defer(stmts.update, {**_key(key), **values})
    else:
        tx.defer(stmts.insert, {**dict(zip((c.name for c in kind.key_columns), key)), **values})  # type: ignore[attr-defined]
    return not exists


def delete(conn: sa.Connection, kind: Kind[Any], key: Sequence[str]) -> bool:
    return conn.execute(_statements(kind).delete, _key(key)).rowcount > 0


# --- lists ---------------------------------------------------------------------------------------


class Window(msgspec.Struct, frozen=True):
    """A page request: OCPI's date_from (inclusive), date_to (exclusive), offset and limit."""

    offset: int = 0
    limit: int = 100
    date_from: datetime | None = None
    date_to: datetime | None = None


def _window(kind: Kind[Any], visible: sa.ColumnElement[bool] | None, window: Window) -> tuple[sa.ColumnElement[bool], list]:
    t = kind.table
    conds = [] if visible is None else [visible]
    if window.date_from is not None:
        conds.append(t.c.updated_us >= to_us(window.date_from))
    if window.date_to is not None:
        conds.append(t.c.updated_us < to_us(window.date_to))
    return sa.and_(sa.true(), *conds), [t.c.updated_us, *kind.key_columns]  # type: ignore[attr-defined]


def page(
    conn: sa.Connection, kind: Kind[Any], visible: sa.ColumnElement[bool] | None, window: Window, column: str = "rendered"
) -> tuple[list[bytes], int]:
    """The rendered documents (or, with column="doc", the documents) of one page, oldest first, and the total count
    that matches (not for Locations, whose rows are shells: page_keys, then hub/store/locations)."""
    t = kind.table
    where, order = _window(kind, visible, window)
    total = conn.execute(sa.select(sa.func.count()).select_from(t).where(where)).scalar_one()
    if total <= window.offset or window.limit <= 0:
        return [], total
    # Walk the covering index for the offset, then fetch only the page's documents.
    keys = sa.select(*kind.key_columns).where(where).order_by(*order).offset(window.offset).limit(window.limit).subquery()  # type: ignore[attr-defined]
    join = sa.and_(*(col == keys.c[col.name] for col in kind.key_columns))  # type: ignore[attr-defined]
    rows = conn.execute(sa.select(t.c[column]).join_from(t, keys, join).order_by(*order)).scalars().all()
    return list(rows), total


def page_keys(
    conn: sa.Connection, kind: Kind[Any], visible: sa.ColumnElement[bool] | None, window: Window
) -> tuple[list[tuple], int]:
    """The keys of one page, oldest first, and the total count that matches."""
    where, order = _window(kind, visible, window)
    total = conn.execute(sa.select(sa.func.count()).select_from(kind.table).where(where)).scalar_one()
    if total <= window.offset or window.limit <= 0:
        return [], total
    rows = conn.execute(sa.select(*kind.key_columns).where(where).order_by(*order).offset(window.offset).limit(window.limit))  # type: ignore[attr-defined]
    return [tuple(r) for r in rows], total
