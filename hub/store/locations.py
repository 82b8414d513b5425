"""Locations in the store: the Location's own fields on its row (its shell) and each EVSE on a row of its own.

A charger's status change, a meter value or a transaction event touches one EVSE; at a site of 50 chargers
it must cost what it costs at a site of one. So the `locations` row holds the Location without its EVSEs
(`doc`), and its OCPI rendering split where the EVSEs go (`rendered`, see the renderer's `location_shell`);
each `evses` row holds one EVSE's document and rendering, with its place in the Location's list. A change
below the Location writes that EVSE's row and the Location's small row (its `last_updated` follows its
children). The whole Location is put together when it is read: as an object from the documents, as bytes
from the renderings (the same bytes a rendering of the whole would give).

Everything here is a synchronous function of a connection, like hub/store/documents.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

import msgspec
import sqlalchemy as sa

from hub import model
from hub.store import documents as docs
from hub.store import schema
from hub.store.db import Tx

L, E = schema.locations, schema.evses

_evse_decoder = msgspec.json.Decoder(model.Evse)


class Rendering(Protocol):
    """What the store keeps beside documents, in the primary wire format (the app injects it)."""

    def render(self, kind: str, obj: Any) -> bytes: ...

    def location_shell(self, loc: model.Location) -> bytes: ...

    def assemble_location(self, shell: bytes, evses: list[bytes]) -> bytes: ...


_OF_LOCATION = sa.and_(E.c.country_code == sa.bindparam("k0"), E.c.party_id == sa.bindparam("k1"), E.c.location_id == sa.bindparam("k2"))
_EVSES = sa.select(E.c.doc).where(_OF_LOCATION).order_by(E.c.position)
_EVSE = sa.select(E.c.doc, E.c.position).where(_OF_LOCATION, E.c.uid == sa.bindparam("k3"))
_LAST = sa.select(sa.func.max(E.c.position)).where(_OF_LOCATION)
_DROP_EVSES = sa.delete(E).where(_OF_LOCATION)
_INSERT_EVSE = sa.insert(E)
_UPDATE_EVSE = sa.update(E).where(_OF_LOCATION, E.c.uid == sa.bindparam("k3")).values(
    {c: sa.bindparam(c) for c in ("evse_id", "status", "position", "updated_us", "doc", "rendered")})


def _params(key: Sequence[str]) -> dict[str, str]:
    return {f"k{i}": v for i, v in enumerate(key)}


def shell_of(loc: model.Location) -> model.Location:
    return msgspec.structs.replace(loc, evses=[])


# --- reads -----------------------------------------------------------------------------------------------------


def get(conn: sa.Connection, key: Sequence[str], for_update: bool = False, with_evses: bool = True) -> docs.Stored[model.Location] | None:
    """The Location (with its EVSEs in order, unless `with_evses` is false). `for_update`: see documents.get."""
    stored = docs.get(conn, docs.LOCATION, key, for_update)
    if stored is None or not with_evses:
        return stored
    evses = [_evse_decoder.decode(doc) for doc in conn.execute(_EVSES, _params(key)).scalars()]
    return docs.Stored(msgspec.structs.replace(stored.obj, evses=evses), stored.source_platform, stored.audience)


def evse(conn: sa.Connection, key: Sequence[str], uid: str, for_update: bool = False) -> tuple[model.Evse, int] | None:
    """One EVSE of a Location and its place in the list."""
    statement = _EVSE.with_for_update() if for_update else _EVSE
    row = conn.execute(statement, {**_params(key), "k3": uid.upper()}).first()
    return None if row is None else (_evse_decoder.decode(row.doc), row.position)


def uid_taken(conn: sa.Connection, owner: model.PartyId, uid: str) -> bool:
    """The owner has an EVSE with this uid at one of its Locations (uids are unique within a CPO)."""
    found = conn.execute(sa.select(E.c.uid).where(
        E.c.country_code == owner.country_code, E.c.party_id == owner.party_id, E.c.uid == uid.upper()).limit(1)).first()
    return found is not None


def rendered_by_keys(conn: sa.Connection, keys: Sequence[Sequence[str]], assemble: Any) -> dict[tuple, tuple[int, bytes]]:
    """key -> (stored_us, the whole Location rendered) of the Locations among `keys` that exist."""
    shells = docs.rendered_by_keys(conn, docs.LOCATION, keys)
    parts: dict[tuple, list[bytes]] = {key: [] for key in shells}
    if shells:
        params = {f"k{i}_{j}": v for i, k in enumerate(shells) for j, v in enumerate(k)}
        for row in conn.execute(_evses_by_keys(len(shells)), params):
            parts[(row[0], row[1], row[2])].append(row[3])
    return {key: (version, assemble(shell, parts[key])) for key, (version, shell) in shells.items()}


@lru_cache(maxsize=512)
def _evses_by_keys(n: int, column: str = "rendered") -> sa.Select:
    """The renderings (or documents) of the EVSEs of n Locations, in order (an OR of keys: answered from the index)."""
    cols = (E.c.country_code, E.c.party_id, E.c.location_id)
    match = sa.or_(*(sa.and_(*(c == sa.bindparam(f"k{i}_{j}") for j, c in enumerate(cols))) for i in range(n)))
    return sa.select(*cols, E.c[column]).where(match).order_by(*cols, E.c.position)


def objects_by_keys(conn: sa.Connection, keys: Sequence[Sequence[str]]) -> dict[tuple, tuple[int, model.Location]]:
    """key -> (stored_us, the whole Location) of the Locations among `keys` that exist."""
    shells = docs.objects_by_keys(conn, docs.LOCATION, keys)
    evses = evses_by_keys(conn, list(shells))
    return {key: (version, msgspec.structs.replace(shell, evses=evses[key])) for key, (version, shell) in shells.items()}


def evses_by_keys(conn: sa.Connection, keys: Sequence[Sequence[str]]) -> dict[tuple, list[model.Evse]]:
    """key -> the EVSEs of each of these Locations, in order (decoded: for surfaces that map canonical objects)."""
    out: dict[tuple, list[model.Evse]] = {tuple(k): [] for k in keys}
    if keys:
        params = {f"k{i}_{j}": v for i, k in enumerate(keys) for j, v in enumerate(k)}
        for row in conn.execute(_evses_by_keys(len(keys), "doc"), params):
            out[(row[0], row[1], row[2])].append(_evse_decoder.decode(row[3]))
    return out


def decode_evse(doc: bytes) -> model.Evse:
    return _evse_decoder.decode(doc)


# --- writes ----------------------------------------------------------------------------------------------------


def save(tx: Tx, loc: model.Location, rendering: Rendering, source: int | None, extra: dict[str, Any],
         exists: bool | None = None) -> bool:
    """The whole Location, its own fields and every EVSE (EVSEs it no longer lists are gone). True: new."""
    created = save_shell(tx, loc, rendering, source, extra, exists)
    key = docs.LOCATION.key(loc)
    if not created:
        tx.execute(_DROP_EVSES, _params(key))
    if loc.evses:
        tx.defer(_INSERT_EVSE, [_evse_row(key, e, n, rendering) for n, e in enumerate(loc.evses)])
    return created


def save_shell(tx: Tx, loc: model.Location, rendering: Rendering, source: int | None, extra: dict[str, Any],
               exists: bool | None = True) -> bool:
    """The Location's own fields (its EVSEs untouched): a change below it moves its last_updated."""
    shell = shell_of(loc)
    return docs.save(tx, docs.LOCATION, shell, rendering.location_shell(loc), source, exists, {**extra, "evses_apart": True})


def save_evse(tx: Tx, key: Sequence[str], new: model.Evse, position: int | None, rendering: Rendering) -> None:
    """One EVSE: in its place (`position`), or appended (None). Deferred, as documents.save."""
    if position is None:
        last = tx.execute(_LAST, _params(key)).scalar()
        tx.defer(_INSERT_EVSE, [_evse_row(key, new, 0 if last is None else last + 1, rendering)])
    else:
        row = _evse_row(key, new, position, rendering)
        tx.defer(_UPDATE_EVSE, {**_params(key), "k3": row["uid"], **{c: row[c] for c in _CHANGING}})


_CHANGING = ("evse_id", "status", "position", "updated_us", "doc", "rendered")


def _evse_row(key: Sequence[str], e: model.Evse, position: int, rendering: Rendering) -> dict[str, Any]:
    return {
        "country_code": key[0], "party_id": key[1], "location_id": key[2], "uid": e.uid.upper(),
        "evse_id": e.evse_id.upper() if e.evse_id else None, "status": e.status, "position": position,
        "updated_us": docs.to_us(e.last_updated), "doc": docs.encode(e), "rendered": rendering.render("evse", e),
    }


def split_legacy(tx: Tx, rendering: Rendering) -> int:
    """Locations stored whole, before EVSEs had rows of their own, get them (keeping their version)."""
    rows = tx.execute(sa.select(L.c.doc, L.c.source_platform, L.c.audience, L.c.stored_us).where(sa.not_(L.c.evses_apart))).all()
    for row in rows:
        loc = docs.LOCATION.decode(row.doc)
        save(tx, loc, rendering, row.source_platform, {"audience": row.audience, "stored_us": row.stored_us}, exists=True)
    return len(rows)
