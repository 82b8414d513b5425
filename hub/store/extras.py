"""What a partner API credential's party keeps beside an object: the SQL (hub/services/extras.py)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.model import PartyId
from hub.store import schema
from hub.store.db import Tx

X = schema.partner_extras
Key = tuple[str, str, str]  # the object: (cc, pid, id) upper case, as the store keys it


class ExtrasRow(msgspec.Struct, frozen=True):
    external_id: str | None
    payload: bytes | None  # JSON
    created_us: int
    updated_us: int


def _holder(holder: PartyId) -> list[sa.ColumnElement[bool]]:
    return [X.c.holder_country_code == holder.country_code, X.c.holder_party_id == holder.party_id]


def get_many(conn: sa.Connection, holder: PartyId, kind: str, keys: Sequence[Key]) -> dict[Key, ExtrasRow]:
    if not keys:
        return {}
    rows = conn.execute(sa.select(X).where(
        X.c.kind == kind, *_holder(holder), sa.tuple_(X.c.country_code, X.c.party_id, X.c.key).in_([tuple(k) for k in keys])))
    return {(r.country_code, r.party_id, r.key): ExtrasRow(r.external_id, r.payload, r.created_us, r.updated_us) for r in rows}


def put(tx: Tx, holder: PartyId, kind: str, key: Key, values: dict[str, object], now: int) -> None:
    """Create the row (created now) or change the given columns (external_id, payload) of the one there."""
    insert_ = (sqlite_insert if tx.dialect == "sqlite" else pg_insert)(X)
    row = {"kind": kind, "country_code": key[0], "party_id": key[1], "key": key[2], "holder_country_code": holder.country_code,
           "holder_party_id": holder.party_id, "external_id": None, "payload": None, "created_us": now, "updated_us": now}
    tx.execute(insert_.values(**{**row, **values}).on_conflict_do_update(
        index_elements=[c.name for c in X.primary_key.columns], set_={**values, "updated_us": now}))


def tagged(holder: PartyId, kind: str | sa.ColumnElement, external_id: str, owner_cols: Sequence[sa.ColumnElement]) -> sa.ColumnElement[bool]:
    """The object in `owner_cols` (cc, pid, id) carries `external_id` for `holder`: a filter. `kind` may be an
    expression (a token's kind depends on its type)."""
    return sa.exists().where(
        X.c.kind == kind, *_holder(holder), X.c.external_id == external_id,
        X.c.country_code == owner_cols[0], X.c.party_id == owner_cols[1], X.c.key == owner_cols[2])


def _object(kind: str, key: Key) -> list[sa.ColumnElement[bool]]:
    return [X.c.kind == kind, X.c.country_code == key[0], X.c.party_id == key[1], X.c.key == key[2]]


def retire(tx: Tx, kind: str, gone: str, key: Key, now: int) -> None:
    """Every party's fields of the object dropped, and its owner's row of kind `gone` (the mark) written."""
    tx.execute(sa.delete(X).where(*_object(kind, key)))
    tx.execute(sa.delete(X).where(*_object(gone, key)))
    tx.execute(sa.insert(X).values(kind=gone, country_code=key[0], party_id=key[1], key=key[2], holder_country_code=key[0],
                                   holder_party_id=key[1], external_id=None, payload=None, created_us=now, updated_us=now))


def revive(tx: Tx, gone: str, key: Key) -> bool:
    """The mark removed: whether there was one."""
    return tx.execute(sa.delete(X).where(*_object(gone, key))).rowcount > 0


def is_retired(conn: sa.Connection, gone: str, key: Key) -> bool:
    return conn.execute(sa.select(X.c.key).where(*_object(gone, key))).first() is not None


def retired(gone: str | sa.ColumnElement, owner_cols: Sequence[sa.ColumnElement]) -> sa.ColumnElement[bool]:
    """The object in `owner_cols` (cc, pid, id) carries the mark `gone`: a filter."""
    return sa.exists().where(X.c.kind == gone, X.c.country_code == owner_cols[0], X.c.party_id == owner_cols[1], X.c.key == owner_cols[2])
