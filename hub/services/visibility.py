"""The one place that decides who may read which object and who receives each change.

Rules:
- a party always sees what it owns (and an eMSP the Sessions and CDRs of its tokens);
- Locations and Tariffs (CPO data) go to parties in a reading role (eMSP, NSP, NAP, SCSP, OTHER) that
  have a roaming agreement with the owner (every pair under the `open` policy); an unpublished Location
  (publish=false) only to the parties owning a token that matches one of its `publish_allowed_to`
  entries: its `audience`, worked out when the Location or a token changes and stored with it;
- Tokens (eMSP data) go to CPOs with an agreement with the issuing eMSP;
- Sessions and CDRs go only to the eMSP that issued the token, never broadcast;
- an upstream hub the hub is a platform behind (Gireve, Emobi) gets the published Locations, the Tariffs and the
  Tokens of the hub's parties it carries (its tenants), whatever the policy: it applies its own rules onward.

A reader is seen through a `Lens`: the few sets these rules need. The same rules exist as a Python
predicate (`Lens.sees`, for the in-memory catalogs and the fan-out) and as SQL (`clause`); a test checks
that they agree.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
import sqlalchemy as sa

from hub import model
from hub.model import PartyId
from hub.services.directory import Directory, Platform
from hub.store import documents as docs
from hub.store import schema

READER_ROLES = ("EMSP", "NSP", "NAP", "SCSP", "OTHER")
OWNER_ROLE = {"location": "CPO", "tariff": "CPO", "session": "CPO", "cdr": "CPO", "token": "EMSP"}
NOBODY: frozenset[PartyId] = frozenset()
HOLDERS = ("CONNECTED", "OFFLINE")  # platforms that hold copies of what they may see


class Lens(msgspec.Struct, frozen=True):
    """What one reader may see of one kind. `agreed` None means every owner (the open policy)."""

    own: frozenset[PartyId]
    agreed: frozenset[PartyId] | None
    audience: frozenset[PartyId]

    def sees(self, owner: PartyId, published: bool = True, audience: frozenset[PartyId] = NOBODY, emsp: PartyId | None = None) -> bool:
        if owner in self.own or (emsp is not None and emsp in self.own):
            return True
        if self.agreed is not None and owner not in self.agreed:
            return False
        return published or not audience.isdisjoint(self.audience)


def lens(directory: Directory, reader: Platform, kind: str) -> Lens:
    own = reader.parties
    if kind in ("session", "cdr"):
        return Lens(own, NOBODY, NOBODY)
    if reader.row.tenants is not None:  # an upstream hub gets what the hub's parties it carries publish, and decides onward
        return Lens(own, reader.row.tenants, NOBODY)
    if kind == "token":
        cpos = reader.parties_with_role("CPO")
        if not cpos:
            return Lens(own, NOBODY, NOBODY)
        if directory.policy == "open":
            return Lens(own, None, NOBODY)
        return Lens(own, frozenset(e for c, e in directory.snap.agreements if c in cpos), NOBODY)
    readers = frozenset(reader.parties_with_role(*READER_ROLES))
    if not readers:
        return Lens(own, NOBODY, NOBODY)
    if directory.policy == "open":
        return Lens(own, None, readers)
    return Lens(own, frozenset(c for c, e in directory.snap.agreements if e in readers), readers)


# --- the stored form of a Location's audience -------------------------------------------------------


def audience_text(parties: Iterable[PartyId]) -> str | None:
    """`|NL/ABC|DE/XYZ|`, so that one party is found with LIKE '%|NL/ABC|%'."""
    parties = sorted(parties)
    return "|" + "|".join(map(str, parties)) + "|" if parties else None


def audience_set(text: str | None) -> frozenset[PartyId]:
    return frozenset(PartyId.parse(p) for p in text.strip("|").split("|")) if text else NOBODY


def audience(conn: sa.Connection, loc: model.Location) -> frozenset[PartyId]:
    """The parties owning a token that matches one of an unpublished Location's publish_allowed_to entries
    (a match needs every field the entry sets)."""
    if loc.publish:
        return NOBODY
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
        if not (entry.uid or entry.group_id or entry.visual_number):
            continue
        for row in conn.execute(sa.select(t.c.country_code, t.c.party_id, t.c.doc).where(*conds)):
            if entry.issuer and docs.TOKEN.decode(row.doc).issuer != entry.issuer:
                continue
            owners.add(PartyId(row.country_code, row.party_id))
    return frozenset(owners)


# --- SQL -----------------------------------------------------------------------------------------------


def _pairs(cols: tuple, values: Iterable) -> sa.ColumnElement[bool]:
    """`(col1, col2, ...) IN (values)`; values are PartyIds or tuples."""
    rows = [(v.country_code, v.party_id) if isinstance(v, PartyId) else tuple(v) for v in values]
    return sa.tuple_(*cols).in_(rows) if rows else sa.false()


def clause(view: Lens, kind: docs.Kind) -> sa.ColumnElement[bool]:
    """`Lens.sees` as a predicate on `kind.table`."""
    t = kind.table
    owner = (t.c.country_code, t.c.party_id)
    own = _pairs(owner, view.own)
    if kind is docs.SESSION or kind is docs.CDR:
        own = sa.or_(own, _pairs((t.c.emsp_country_code, t.c.emsp_party_id), view.own))
    agreed = sa.true() if view.agreed is None else _pairs(owner, view.agreed)
    shown = sa.true()
    if kind is docs.LOCATION:
        shown = sa.or_(t.c.published, *(t.c.audience.like(f"%|{p}|%") for p in view.audience))
    return sa.or_(own, sa.and_(agreed, shown))


def visible_clause(directory: Directory, reader: Platform, kind: docs.Kind) -> sa.ColumnElement[bool]:
    return clause(lens(directory, reader, kind.name), kind)


# --- single objects and fan-out ---------------------------------------------------------------------


def attributes(kind: str, obj: object, audience_: frozenset[PartyId] = NOBODY) -> tuple[PartyId, bool, frozenset[PartyId], PartyId | None]:
    """(owner, published, audience, token eMSP): what the rules look at."""
    owner = PartyId.of(obj.country_code, obj.party_id)  # type: ignore[attr-defined]
    published = obj.publish if kind == "location" else True  # type: ignore[attr-defined]
    emsp = obj.cdr_token.owner_party if kind in ("session", "cdr") else None  # type: ignore[attr-defined]
    return owner, published, audience_, emsp


def may_read(directory: Directory, reader: Platform, kind: str, obj: object, audience_: frozenset[PartyId] = NOBODY) -> bool:
    return lens(directory, reader, kind).sees(*attributes(kind, obj, audience_))


def receivers(
    directory: Directory, kind: str, obj: object, source_platform: int | None, audience_: frozenset[PartyId] = NOBODY
) -> list[Platform]:
    """The platforms that must hear about a change of `obj` (now, or when they are back from OFFLINE): those
    that may see it, that take pushes of its kind, other than its owner's and the one it came from."""
    owner, published, aud, emsp = attributes(kind, obj, audience_)
    out = []
    for p in directory.platforms():
        if p.row.status not in HOLDERS or p.id == source_platform or kind not in p.row.receives or owner in p.parties:
            continue
        if kind in ("session", "cdr"):
            if emsp in p.parties_with_role("EMSP"):
                out.append(p)
        elif lens(directory, p, kind).sees(owner, published, aud, None):
            out.append(p)
    return out
