"""The one place that decides who may read which object and who receives each change.

Rules:
- a party always sees what it owns;
- Locations and Tariffs (CPO data) go to parties in a reading role (eMSP, NSP, NAP, SCSP, OTHER) that
  have a roaming agreement with the owner (every pair under the `open` policy); an unpublished Location
  (publish=false) only to the parties owning a token that matches one of its `publish_allowed_to` entries;
- Tokens (eMSP data) go to CPOs with an agreement with the issuing eMSP;
- Sessions and CDRs go only to the eMSP that issued the token, never broadcast.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from hub import model
from hub.model import PartyId
from hub.services.directory import Directory, Platform
from hub.store import documents as docs
from hub.store import schema

READER_ROLES = ("EMSP", "NSP", "NAP", "SCSP", "OTHER")
OWNER_ROLE = {"location": "CPO", "tariff": "CPO", "session": "CPO", "cdr": "CPO", "token": "EMSP"}


def _pairs(cols: tuple, values: Iterable) -> sa.ColumnElement[bool]:
    """`(col1, col2, ...) IN (values)`; values are PartyIds or tuples."""
    rows = [(v.country_code, v.party_id) if isinstance(v, PartyId) else tuple(v) for v in values]
    return sa.tuple_(*cols).in_(rows) if rows else sa.false()


def _cpos_agreeing_with(directory: Directory, reader: Platform) -> set[PartyId] | None:
    """The CPOs whose data the reader may see; None means all of them (the open policy)."""
    if directory.policy == "open":
        return None
    emsps = set(reader.parties_with_role(*READER_ROLES))
    return {cpo for cpo, emsp in directory.snap.agreements if emsp in emsps}


def _emsps_agreeing_with(directory: Directory, reader: Platform) -> set[PartyId] | None:
    if directory.policy == "open":
        return None
    cpos = set(reader.parties_with_role("CPO"))
    return {emsp for cpo, emsp in directory.snap.agreements if cpo in cpos}


# --- reads -----------------------------------------------------------------------------------


def visible_clause(conn: sa.Connection, directory: Directory, reader: Platform, kind: docs.Kind) -> sa.ColumnElement[bool]:
    """A predicate on `kind.table` selecting what `reader` may see (for lists and counts)."""
    t = kind.table
    owner = (t.c.country_code, t.c.party_id)
    own = _pairs(owner, reader.parties)
    if kind is docs.SESSION or kind is docs.CDR:
        return sa.or_(own, _pairs((t.c.emsp_country_code, t.c.emsp_party_id), reader.parties))
    if kind is docs.TOKEN:
        if not reader.has_role("CPO"):
            return own
        emsps = _emsps_agreeing_with(directory, reader)
        return sa.true() if emsps is None else sa.or_(own, _pairs(owner, emsps))
    # CPO data: locations and tariffs
    if not reader.has_role(*READER_ROLES):
        return own
    cpos = _cpos_agreeing_with(directory, reader)
    agreed = sa.true() if cpos is None else _pairs(owner, cpos)
    if kind is docs.LOCATION:
        extra = unpublished_visible(conn, directory, reader)
        shown = sa.or_(t.c.published, _pairs((t.c.country_code, t.c.party_id, t.c.id), extra)) if extra else t.c.published
        return sa.or_(own, sa.and_(agreed, shown))
    return sa.or_(own, agreed)


def may_read(conn: sa.Connection, directory: Directory, reader: Platform, kind: docs.Kind, obj: object) -> bool:
    owner = PartyId.of(obj.country_code, obj.party_id)  # type: ignore[attr-defined]
    if owner in reader.parties:
        return True
    if kind is docs.SESSION or kind is docs.CDR:
        return obj.cdr_token.owner_party in reader.parties  # type: ignore[attr-defined]
    if kind is docs.TOKEN:
        return any(directory.agrees(cpo, owner) for cpo in reader.parties_with_role("CPO"))
    readers = reader.parties_with_role(*READER_ROLES)
    if not any(directory.agrees(owner, p) for p in readers):
        return False
    if kind is docs.LOCATION and not obj.publish:  # type: ignore[attr-defined]
        return bool(set(readers) & audience(conn, obj))  # type: ignore[arg-type]
    return True


def unpublished_visible(conn: sa.Connection, directory: Directory, reader: Platform) -> list[tuple[str, str, str]]:
    """Keys of the unpublished Locations that `reader` may see through its tokens."""
    readers = set(reader.parties_with_role(*READER_ROLES))
    if not readers:
        return []
    t = docs.LOCATION.table
    keys = []
    for row in conn.execute(sa.select(t.c.doc).where(sa.not_(t.c.published))):
        loc = docs.LOCATION.decode(row.doc)
        if loc.publish_allowed_to and readers & audience(conn, loc) and any(directory.agrees(loc.owner_party, p) for p in readers):
            keys.append(docs.LOCATION.key(loc))
    return keys


def audience(conn: sa.Connection, loc: model.Location) -> set[PartyId]:
    """The eMSPs owning a token that matches one of the Location's publish_allowed_to entries (all set fields)."""
    t = schema.tokens
    owners: set[PartyId] = set()
    for entry in loc.publish_allowed_to:
        conds = []
        if entry.uid:
            conds.append(t.c.uid == entry.uid.upper())
        if entry.type:
            conds.append(t.c.type == entry.type)
        if entry.group_id:
            conds.append(t.c.group_id == entry.group_id.upper())
        if entry.visual_number:
            conds.append(t.c.visual_number == entry.visual_number)
        if not conds:
            continue
        for row in conn.execute(sa.select(t.c.country_code, t.c.party_id, t.c.doc).where(*conds)):
            if entry.issuer and docs.TOKEN.decode(row.doc).issuer != entry.issuer:
                continue
            owners.add(PartyId(row.country_code, row.party_id))
    return owners


# --- fan-out ---------------------------------------------------------------------------------


def receivers(
    conn: sa.Connection, directory: Directory, kind: str, obj: object, source_platform: int | None
) -> list[Platform]:
    """The connected platforms that must hear about a change of `obj` (never the one it came from)."""
    owner = PartyId.of(obj.country_code, obj.party_id)  # type: ignore[attr-defined]
    out = []
    if kind in ("session", "cdr"):
        emsp = obj.cdr_token.owner_party  # type: ignore[attr-defined]
        candidates = [directory.platform_of(emsp, "EMSP")]
        return [p for p in candidates if p and p.connected and kind in p.row.receives and p.id != source_platform]
    audience_ = None
    for p in directory.platforms():
        if not p.connected or p.id == source_platform or kind not in p.row.receives or owner in p.parties:
            continue
        if kind == "token":
            if any(directory.agrees(cpo, owner) for cpo in p.parties_with_role("CPO")):
                out.append(p)
            continue
        readers = p.parties_with_role(*READER_ROLES)
        if not any(directory.agrees(owner, r) for r in readers):
            continue
        if kind == "location" and not obj.publish:  # type: ignore[attr-defined]
            audience_ = audience(conn, obj) if audience_ is None else audience_  # type: ignore[arg-type]
            if not set(readers) & audience_:
                continue
        out.append(p)
    return out
