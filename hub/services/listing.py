"""Paged reads of canonical objects, for surfaces that list them object by object (the partner REST API).

What a reader may see is the SQL clause hub/services/visibility.py gives (a reader is a Platform view, see
Consumers.reader; None, an admin, sees everything); this module only adds filters, an order, a page and a count.
Each list is one query for the page (documents decoded with msgspec, no ORM objects) and one for the count;
a single object is the same query with its key, so it is visible exactly when it would be listed.
Keys and filters take the store's upper-case key values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa

from hub import model
from hub.model import PartyId
from hub.services import visibility
from hub.services.directory import Directory, Platform
from hub.services.extras import TOKEN_KINDS, gone
from hub.store import documents as docs
from hub.store import extras, locations, schema
from hub.store.db import Database

Key = tuple[str, ...]
Cursor = tuple[int, str, str, str]  # a CDR's place in the feed: (stored_us, cc, pid, id)
E, L, C = schema.evses, schema.locations, schema.chargers

# The charger of the hub's central system behind an EVSE: its uid is `<IDENTITY>-<n>` (hub/services/charging.evse_uid)
# at the charger's Location. Digits only after the prefix, so a charger `CP` never claims `CP-1-1` (that is `CP-1`'s).
_ID_LEN = sa.func.length(C.c.identity)
_REST = sa.func.substr(E.c.uid, _ID_LEN + 2, type_=sa.String)
_CHARGER = sa.and_(
    C.c.country_code == E.c.country_code, C.c.party_id == E.c.party_id, C.c.location_id == E.c.location_id,
    sa.func.substr(E.c.uid, 1, _ID_LEN + 1, type_=sa.String) == sa.func.upper(C.c.identity, type_=sa.String).concat("-"),
    _REST != "", sa.func.ltrim(_REST, "0123456789", type_=sa.String) == "",
)
_EVSES = E.join(L, sa.and_(L.c.country_code == E.c.country_code, L.c.party_id == E.c.party_id, L.c.id == E.c.location_id)) \
    .outerjoin(C, _CHARGER)
_OF_SITE = sa.and_(E.c.country_code == L.c.country_code, E.c.party_id == L.c.party_id, E.c.location_id == L.c.id)
_LIVE = sa.or_(~sa.exists().where(_OF_SITE), sa.exists().where(_OF_SITE, E.c.status != "REMOVED"))  # not expired
_OFFLINE = sa.and_(C.c.identity.is_not(None), C.c.instance.is_(None))  # a charger of ours without a socket
_TOKEN_GONE = {type_: gone(kind) for type_, kind in TOKEN_KINDS.items()}  # a token's type -> the kind of its deletion mark


class Page(NamedTuple):
    items: list[Any]
    total: int  # every match, not only this page's


class ChargerLink(msgspec.Struct, frozen=True):
    """The charger of the hub's central system behind an EVSE."""

    identity: str
    number: int  # the EVSE's number on the charger (OCPP 1.6: its connectorId)
    connected: bool
    connected_us: int | None  # when it last connected


class EvseView(NamedTuple):
    location: model.Location  # its own fields, without EVSEs
    evse: model.Evse
    charger: ChargerLink | None


class Tagged(NamedTuple):
    """Objects a party gave its own id (hub/services/extras.py)."""

    holder: PartyId
    external_id: str


class EvseFilter(msgspec.Struct, frozen=True):
    site: Key | None = None  # (cc, pid, location id)
    tagged: Tagged | None = None
    statuses: frozenset[str] | None = None  # EVSE statuses, of EVSEs whose charger (if one of ours) is connected
    offline: bool = False  # with statuses: also every EVSE of a charger of ours that is not connected


class SessionFilter(msgspec.Struct, frozen=True):
    site: Key | None = None  # (cc, pid, location id)
    evse: Key | None = None  # (cc, pid, evse uid)
    statuses: frozenset[str] | None = None
    stopped: bool | None = None  # whether it has an end time
    started_from: datetime | None = None  # inclusive
    started_to: datetime | None = None  # exclusive


def _match(cols: Sequence[sa.ColumnElement[Any]], key: Key | None) -> list[sa.ColumnElement[bool]]:
    return [] if key is None else [c == v for c, v in zip(cols, key, strict=True)]


def _page(
    conn: sa.Connection, cols: Sequence[Any], from_: Any, where: list[sa.ColumnElement[bool]], order: Sequence[Any],
    offset: int, limit: int, count: bool = True,
) -> tuple[list[sa.Row], int]:
    """One page of rows and the number of every match (not counted for a single object: `count` false)."""
    total = conn.execute(sa.select(sa.func.count()).select_from(from_).where(*where)).scalar_one() if count else -1
    if count and total <= offset:
        return [], total
    rows = conn.execute(sa.select(*cols).select_from(from_).where(*where).order_by(*order).offset(offset).limit(limit)).all()
    return list(rows), total


class Listing:
    def __init__(self, db: Database, directory: Directory) -> None:
        self.db = db
        self.directory = directory

    def _visible(self, reader: Platform | None, kind: docs.Kind) -> list[sa.ColumnElement[bool]]:
        return [] if reader is None else [visibility.visible_clause(self.directory, reader, kind)]

    # --- Locations and their EVSEs ---------------------------------------------------------------

    async def sites(
        self, reader: Platform | None, offset: int = 0, limit: int = 10, key: Key | None = None, tagged: Tagged | None = None,
    ) -> Page:
        """Locations with their EVSEs, by owner and id; not those that have EVSEs and none left that is not REMOVED
        (OCPI: such a Location has expired, the way a Location is deleted)."""
        order = [L.c.country_code, L.c.party_id, L.c.id]
        where = self._visible(reader, docs.LOCATION) + _match(order, key) + [_LIVE]
        if tagged is not None:
            where.append(extras.tagged(tagged.holder, "location", tagged.external_id, order))

        def op(conn: sa.Connection) -> Page:
            rows, total = _page(conn, [*order, L.c.doc], L, where, order, offset, limit, count=key is None)
            evses = locations.evses_by_keys(conn, [tuple(r[:3]) for r in rows])
            return Page([msgspec.structs.replace(docs.LOCATION.decode(r.doc), evses=evses[tuple(r[:3])]) for r in rows], total)

        return await self.db.read(op)

    async def evses(
        self, reader: Platform | None, where: EvseFilter = EvseFilter(), offset: int = 0, limit: int = 10, key: Key | None = None,
    ) -> Page:
        """EVSEs (not REMOVED: those are gone) with their Location's own fields and the charger of ours behind each,
        in the order of their Locations. `key`: (cc, pid, evse uid)."""
        conds = self._visible(reader, docs.LOCATION) + [E.c.status != "REMOVED"]
        conds += _match((E.c.country_code, E.c.party_id, E.c.location_id), where.site)
        conds += _match((E.c.country_code, E.c.party_id, E.c.uid), key)
        if where.tagged is not None:
            conds.append(extras.tagged(where.tagged.holder, "evse", where.tagged.external_id, (E.c.country_code, E.c.party_id, E.c.uid)))
        if where.statuses is not None:
            state = sa.and_(E.c.status.in_(sorted(where.statuses)), sa.not_(_OFFLINE))
            conds.append(sa.or_(state, _OFFLINE) if where.offline else state)
        order = [E.c.country_code, E.c.party_id, E.c.location_id, E.c.position, E.c.uid]
        cols = [E.c.country_code, E.c.party_id, E.c.location_id, L.c.doc.label("site"), E.c.doc, E.c.uid,
                C.c.identity, C.c.instance, C.c.connected_us]

        def op(conn: sa.Connection) -> Page:
            rows, total = _page(conn, cols, _EVSES, conds, order, offset, limit, count=key is None)
            sites: dict[tuple, model.Location] = {}  # each Location decoded once per page
            items = []
            for r in rows:
                site = sites.get(tuple(r[:3]))
                if site is None:
                    site = sites[tuple(r[:3])] = docs.LOCATION.decode(r.site)
                charger = None
                if r.identity is not None:
                    charger = ChargerLink(r.identity, int(r.uid.rpartition("-")[2]), r.instance is not None, r.connected_us)
                items.append(EvseView(site, locations.decode_evse(r.doc), charger))
            return Page(items, total)

        return await self.db.read(op)

    # --- documents of one table -------------------------------------------------------------------

    async def _objects(
        self, reader: Platform | None, kind: docs.Kind, conds: list[sa.ColumnElement[bool]], order: Sequence[Any],
        offset: int, limit: int, single: bool,
    ) -> Page:
        where = self._visible(reader, kind) + conds
        t = kind.table

        def op(conn: sa.Connection) -> Page:
            rows, total = _page(conn, [t.c.doc], t, where, order, offset, limit, count=not single)
            return Page([kind.decode(r.doc) for r in rows], total)

        return await self.db.read(op)

    async def sessions(
        self, reader: Platform | None, where: SessionFilter = SessionFilter(), offset: int = 0, limit: int = 10,
        key: Key | None = None,
    ) -> Page:
        """Sessions, the latest start first (ix_sessions_started)."""
        t = docs.SESSION.table
        owner = (t.c.country_code, t.c.party_id)
        conds = _match((*owner, t.c.id), key) + _match((*owner, t.c.location_id), where.site) + _match((*owner, t.c.evse_uid), where.evse)
        if where.statuses is not None:
            conds.append(t.c.status.in_(sorted(where.statuses)))
        if where.stopped is not None:
            conds.append(t.c.stopped_us.is_not(None) if where.stopped else t.c.stopped_us.is_(None))
        if where.started_from is not None:
            conds.append(t.c.started_us >= docs.to_us(where.started_from))
        if where.started_to is not None:
            conds.append(t.c.started_us < docs.to_us(where.started_to))
        order = [t.c.started_us.desc(), t.c.country_code.desc(), t.c.party_id.desc(), t.c.id.desc()]
        return await self._objects(reader, docs.SESSION, conds, order, offset, limit, key is not None)

    async def tariffs(self, reader: Platform | None, offset: int = 0, limit: int = 10, key: Key | None = None) -> Page:
        t = docs.TARIFF.table
        order = [t.c.country_code, t.c.party_id, t.c.id]
        return await self._objects(reader, docs.TARIFF, _match(order, key), order, offset, limit, key is not None)

    async def tokens(
        self, reader: Platform | None, offset: int = 0, limit: int = 10, key: Key | None = None, tagged: Tagged | None = None,
    ) -> Page:
        """Tokens by issuer, uid and type; not those their owner deleted over the partner API (hub/services/extras.py).
        `key`: (cc, pid, uid, type)."""
        t = docs.TOKEN.table
        order = [t.c.country_code, t.c.party_id, t.c.uid, t.c.type]
        owner = (t.c.country_code, t.c.party_id, t.c.uid)
        conds = _match(order, key) + [sa.not_(extras.retired(sa.case(_TOKEN_GONE, value=t.c.type, else_=""), owner))]
        if tagged is not None:
            conds.append(extras.tagged(tagged.holder, sa.case(TOKEN_KINDS, value=t.c.type, else_=""), tagged.external_id, owner))
        return await self._objects(reader, docs.TOKEN, conds, order, offset, limit, key is not None)

    # --- CDRs: a feed, by cursor -------------------------------------------------------------------

    async def cdrs(
        self, reader: Platform | None, after: Cursor | None = None, limit: int = 10, key: Key | None = None,
    ) -> tuple[list[model.Cdr], Cursor | None, bool]:
        """CDRs in the order the hub stored them, from just after the cursor `after`: (the page, the cursor of its
        last CDR (`after` for an empty page: where to ask again), whether more follow now). A keyset on (stored_us,
        owner, id): a page costs the same however deep it is, and CDRs never change, so a walk sees each exactly
        once."""
        t = docs.CDR.table
        order = [t.c.stored_us, t.c.country_code, t.c.party_id, t.c.id]
        conds = self._visible(reader, docs.CDR) + _match(order[1:], key)
        if after is not None:
            stored = after[0]
            # stored_us first on its own, so the range is read from the stored_us index
            conds.append(sa.and_(t.c.stored_us >= stored, sa.or_(t.c.stored_us > stored, sa.tuple_(*order[1:]) > sa.tuple_(*after[1:]))))

        def op(conn: sa.Connection) -> tuple[list[model.Cdr], Cursor | None, bool]:
            rows, _ = _page(conn, [*order, t.c.doc], t, conds, order, 0, limit + 1, count=False)
            page = rows[:limit]
            last: Cursor | None = tuple(page[-1][:4]) if page else after  # type: ignore[assignment]
            return [docs.CDR.decode(r.doc) for r in page], last, len(rows) > limit

        return await self.db.read(op)
