"""The partner API's read side: GET list and GET one of sites, charge points, charges, CDRs, tariffs and charge
auth tokens.

Every resource is read the same way (`_list`, `_one`): the scope `<entity>:read` (403 without it), the query
decoded into its wire struct (400 VALIDATION_ERROR naming a bad parameter), then the core's Listing asked for what
the credential's party may see (the SQL clause is hub/services/visibility.py's, through Partner.reader), each
canonical object mapped (protocols/partner/mapping.py) and the answer encoded once. A single object is the list
query with its key, so an id that does not parse, does not exist or is not the credential's to see is the same 404.
CDRs are a feed: a cursor (`meta.after`, where to go on from; `meta.hasMore`) instead of pages.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from hub.services.consumers import Consumer
from hub.services.directory import Platform
from hub.model import PartyId
from hub.services.listing import Cursor, EvseFilter, Key, Listing, Page, SessionFilter, Tagged
from hub.services.extras import TOKEN_KINDS, ExtrasRow
from protocols.partner import ids, mapping, wire
from protocols.partner.api import Partner
from hub.edge import Reply
from protocols.partner.transport import API, ApiError, encode, query

Fetch = Callable[..., Awaitable[Page]]  # (listing, reader, query, holder, offset, limit, key) -> a page of canonical objects


@dataclass(frozen=True)
class Resource:
    entity: str  # the path segment and the scope's entity
    noun: str
    query: type  # the list's query parameters (a wire struct)
    item: type  # one object's body
    body: type  # the list's body
    fetch: Fetch
    render: Callable[[Any, mapping.Extras | None], Any]  # a canonical object and what its reader keeps beside it -> its wire struct
    kind: str | Callable[[Any], str] | None = None  # the kind of the party's own fields kept beside it (hub/services/extras.py), if any
    key_of: Callable[[Any], Key] | None = None  # its store key there
    parse: Callable[[str], Key | None] | None = None  # a REST id -> the store key fetch takes (None: key_of_id)

    def kind_of(self, item: Any) -> str:
        return self.kind(item) if callable(self.kind) else self.kind  # type: ignore[return-value]

    def key(self, text: str) -> Key | None:
        """The store key of a REST id of this resource (None: not one)."""
        return (self.parse or key_of)(text)


# --- query parameters ---------------------------------------------------------------------------------


def key_of(text: str) -> Key | None:
    """A REST id as a store key (owner, then the OCPI id upper case, as the store keeps it)."""
    parsed = ids.parse(text)
    if parsed is None:
        return None
    owner, key = parsed
    return owner.country_code, owner.party_id, key.upper()


def token_key(text: str) -> Key | None:
    """A token's REST id as its store key (cc, pid, uid upper case, type)."""
    parsed = ids.parse_token(text)
    if parsed is None:
        return None
    owner, type_, uid = parsed
    return owner.country_code, owner.party_id, uid.upper(), type_


def token_extras_key(token: Any) -> Key:
    """Where the party's own fields of a token are kept: (cc, pid, uid), under the kind of its type."""
    return token.country_code.upper(), token.party_id.upper(), token.uid.upper()


def _filter_key(text: str | None, name: str) -> Key | None:
    if text is None:
        return None
    key = key_of(text)
    if key is None:
        raise ApiError("VALIDATION_ERROR", f"{name} is not an id of this API", context={"field": name})
    return key


def _utc(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=timezone.utc) if when is not None and when.tzinfo is None else when


# --- the resources -------------------------------------------------------------------------------------


def _tagged(q: Any, holder: PartyId) -> Tagged | None:
    return None if q.partner_external_id is None else Tagged(holder, q.partner_external_id)


def _evse_filter(q: Any, holder: PartyId) -> EvseFilter:
    statuses, offline = mapping.charge_point_query(q.state) if q.state else (None, False)
    return EvseFilter(site=_filter_key(q.site_id, "siteId"), statuses=statuses, offline=offline, tagged=_tagged(q, holder))


def _session_filter(q: Any) -> SessionFilter:
    statuses, stopped = mapping.charge_query(q.state) if q.state else (None, None)
    return SessionFilter(site=_filter_key(q.site_id, "siteId"), evse=_filter_key(q.charge_point_id, "chargePointId"),
                         statuses=statuses, stopped=stopped, started_from=_utc(q.from_date), started_to=_utc(q.to_date))


def _charge_point(view: Any, extras: mapping.Extras | None) -> wire.ChargePoint:
    link = view.charger
    charger = None if link is None else mapping.ChargerInfo(
        identity=link.identity, connector_id=link.number, connected=link.connected,
        last_connected_at=datetime.fromtimestamp(link.connected_us / 1e6, tz=timezone.utc) if link.connected_us else None)
    return mapping.charge_point(view.location, view.evse, charger, extras=extras)


async def _cdr_by_key(listing: Listing, reader: Platform | None, _q: Any, _holder: PartyId, _offset: int, _limit: int, key: Key | None) -> Page:
    items, _, _ = await listing.cdrs(reader, limit=1, key=key)
    return Page(items, len(items))


def _plain(render: Callable[[Any], Any]) -> Callable[[Any, mapping.Extras | None], Any]:
    return lambda obj, _extras: render(obj)


SITES = Resource("sites", "site", wire.SiteQuery, wire.Site, wire.SiteList,
                 lambda ls, r, q, h, off, lim, key: ls.sites(r, off, lim, key, _tagged(q, h)),
                 lambda loc, extras: mapping.site(loc, extras=extras),
                 "location", lambda loc: (loc.country_code.upper(), loc.party_id.upper(), loc.id.upper()))
CHARGE_POINTS = Resource("charge-points", "charge point", wire.ChargePointQuery, wire.ChargePoint, wire.ChargePointList,
                         lambda ls, r, q, h, off, lim, key: ls.evses(r, _evse_filter(q, h), off, lim, key), _charge_point,
                         "evse", lambda v: (v.location.country_code.upper(), v.location.party_id.upper(), v.evse.uid.upper()))
CHARGES = Resource("charges", "charge", wire.ChargeQuery, wire.Charge, wire.ChargeList,
                   lambda ls, r, q, h, off, lim, key: ls.sessions(r, _session_filter(q), off, lim, key), _plain(mapping.charge))
CDRS = Resource("cdrs", "CDR", wire.CdrQuery, wire.Cdr, wire.CdrList, _cdr_by_key, _plain(mapping.cdr))
TARIFFS = Resource("tariffs", "tariff", wire.Paging, wire.Tariff, wire.TariffList,
                   lambda ls, r, q, h, off, lim, key: ls.tariffs(r, off, lim, key), _plain(mapping.tariff))
TOKENS = Resource("charge-auth-tokens", "charge auth token", wire.ChargeAuthTokenQuery, wire.ChargeAuthToken, wire.ChargeAuthTokenList,
                  lambda ls, r, q, h, off, lim, key: ls.tokens(r, off, lim, key, _tagged(q, h)),
                  lambda token, extras: mapping.charge_auth_token(token, extras=extras),
                  lambda token: TOKEN_KINDS[token.type], token_extras_key, token_key)


# --- reading ---------------------------------------------------------------------------------------------


def _extras(row: ExtrasRow | None) -> mapping.Extras | None:
    if row is None:
        return None
    return mapping.Extras(created_at=datetime.fromtimestamp(row.created_us / 1e6, tz=timezone.utc), partner_external_id=row.external_id,
                          partner_custom_payload=msgspec.json.decode(row.payload) if row.payload is not None else None)


async def _render(partner: Partner, consumer: Consumer, res: Resource, items: list[Any]) -> list[Any]:
    """Each object as its wire struct, with what the consumer's party keeps beside it."""
    if res.kind is None or res.key_of is None or not items:
        return [res.render(item, None) for item in items]
    holder = partner.consumers.holder(consumer)
    keys: dict[str, list[Key]] = {}  # one query per kind (a page of tokens may hold several types)
    for item in items:
        keys.setdefault(res.kind_of(item), []).append(res.key_of(item))
    kept = {}
    for kind, of_kind in keys.items():
        kept.update({(kind, *k): row for k, row in (await partner.core.extras.get_many(holder, kind, of_kind)).items()})
    return [res.render(item, _extras(kept.get((res.kind_of(item), *res.key_of(item))))) for item in items]


async def _list(request: Request, partner: Partner, consumer: Consumer, res: Resource) -> Reply:
    partner.need(consumer, res.entity, "read")
    q = query(request, res.query)
    offset = q.page * q.per_page
    page = await res.fetch(partner.core.listing, partner.reader(consumer), q, partner.consumers.holder(consumer), offset, q.per_page, None)
    data = await _render(partner, consumer, res, page.items)
    meta = wire.PageMeta.of(q.page, q.per_page, len(data), page.total)
    return partner.ok(request, encode(res.body(data=data, meta=meta)))


async def fetch_one(partner: Partner, consumer: Consumer, res: Resource, key: Key | None) -> Any | None:
    """One canonical object the consumer may see, by its store key (None: none)."""
    if key is None:
        return None
    page = await res.fetch(partner.core.listing, partner.reader(consumer), res.query(), partner.consumers.holder(consumer), 0, 1, key)
    return page.items[0] if page.items else None


async def rendered_one(partner: Partner, consumer: Consumer, res: Resource, key: Key | None, text: str) -> bytes:
    """One object as GET answers it; 404 when the consumer may not see it."""
    item = await fetch_one(partner, consumer, res, key)
    if item is None:
        raise ApiError("RESOURCE_NOT_FOUND", f"no {res.noun} {text[:80]}")
    return encode((await _render(partner, consumer, res, [item]))[0])


async def _one(request: Request, partner: Partner, consumer: Consumer, res: Resource, text: str) -> Reply:
    partner.need(consumer, res.entity, "read")
    return partner.ok(request, await rendered_one(partner, consumer, res, res.key(text), text))


def _cursor_text(cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(cursor)).rstrip(b"=").decode()


def _cursor(text: str) -> Cursor:
    """A cursor this API handed out (opaque to clients: base64url of the CDR's place in the feed)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return msgspec.json.decode(raw, type=tuple[int, str, str, str])  # type: ignore[return-value]
    except (binascii.Error, ValueError, msgspec.DecodeError):  # msgspec.ValidationError is a DecodeError
        raise ApiError("VALIDATION_ERROR", "cursor is not a cursor of this API (use meta.after)", context={"field": "cursor"}) from None


async def _cdr_feed(request: Request, partner: Partner, consumer: Consumer) -> Reply:
    partner.need(consumer, CDRS.entity, "read")
    q = query(request, wire.CdrQuery)
    after = _cursor(q.cursor) if q.cursor else None
    items, last, more = await partner.core.listing.cdrs(partner.reader(consumer), after, q.limit)
    meta = wire.CursorMeta(after=_cursor_text(last) if last else None, has_more=more)
    return partner.ok(request, encode(wire.CdrList(data=[mapping.cdr(c) for c in items], meta=meta)))


# --- routes ----------------------------------------------------------------------------------------------


def _routes(res: Resource, listing: bool = True) -> list:
    async def list_handler(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
        return await _list(request, partner, consumer, res)

    async def one_handler(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
        return await _one(request, partner, consumer, res, id)

    name = res.entity.replace("-", "_")
    routes = [get(f"{API}/{res.entity}/{{id:str}}", name=f"{name}_one", operation_id=f"get_{name}_one",
                  summary=f"One {res.noun} the credential may see")(one_handler)]
    if listing:
        routes.append(get(f"{API}/{res.entity}", name=f"{name}_list", operation_id=f"list_{name}",
                          summary=f"The {res.noun}s the credential may see, a page at a time")(list_handler))
    return routes


@get(f"{API}/cdrs", name="cdrs_list", operation_id="list_cdrs", summary="The CDRs the credential may see, oldest first, by cursor")
async def list_cdrs(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
    return await _cdr_feed(request, partner, consumer)


RESOURCES = (SITES, CHARGE_POINTS, CHARGES, CDRS, TARIFFS, TOKENS)
HANDLERS = [list_cdrs] + [route for res in RESOURCES for route in _routes(res, listing=res is not CDRS)]
