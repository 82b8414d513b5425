"""The partner API's write side for sites (OCPI Locations) and charge points (their EVSEs).

A site or charge point written here is its owner's own data: the credential's party must be a CPO the hub hosts
(an admin names one), and every write goes through the core's Objects services as the hub's own change (caller
None), so it is stored once and pushed to eMSPs over OCPI like any owner's change: an EVSE's change as an EVSE
PUT or PATCH, a site's as a Location PUT or PATCH. Who may write for whom is the core's answer
(Consumers.writer); another party's object is 404, as on reads.

OCPI never deletes a Location or an EVSE: DELETE of a charge point makes its EVSE REMOVED, DELETE of a site makes
every EVSE of it REMOVED (a Location without a valid EVSE has expired, and the reads no longer show it). A site
without charge points has nothing to remove, so it cannot be deleted (409): give it none, or leave it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, delete, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from hub.model import PartyId
from hub.services import extras
from hub.services.consumers import Consumer
from hub.services.errors import NotFound
from protocols.partner import inbound, wire
from protocols.partner.api import Partner
from protocols.partner.idempotency import once
from protocols.partner.resources import CHARGE_POINTS, SITES, Key, Resource, fetch_one, rendered_one
from hub.edge import Reply
from protocols.partner.transport import API, ApiError, body

UNSET = msgspec.UNSET


def _owner(key: Key) -> PartyId:
    return PartyId(key[0], key[1])


def _key(owner: PartyId, ident: str) -> Key:
    return owner.country_code, owner.party_id, ident.upper()


async def target(partner: Partner, consumer: Consumer, res: Resource, text: str, field: str | None = None,
                 role: str = "CPO") -> tuple[PartyId, Any]:
    """(owner, object) of a write: the owner one the consumer writes for (a party the hub hosts in `role`), the
    object one it may see (404 otherwise)."""
    key = res.key(text)
    missing = ApiError("RESOURCE_NOT_FOUND", f"no {res.noun} {text[:80]}", context={"field": field} if field else None)
    if key is None:
        raise missing
    try:
        owner = partner.consumers.writer(consumer, _owner(key), role)
    except NotFound:
        raise missing from None
    found = await fetch_one(partner, consumer, res, key)
    if found is None:
        raise missing
    return owner, found


async def keep(partner: Partner, consumer: Consumer, kind: str, key: Key, external_id: Any, payload: Any,
               created: datetime | None = None) -> None:
    """The consumer's party's own fields for the object; recorded on a create even when none is given (createdAt)."""
    await partner.core.extras.put(partner.consumers.holder(consumer), kind, key, external_id, payload, created)


def named_party(text: str | None) -> PartyId | None:
    return None if text is None else PartyId.parse(text)


# --- sites -------------------------------------------------------------------------------------------------


async def _create_site(request: Request, partner: Partner, consumer: Consumer) -> Reply:
    data = await body(request, wire.SiteCreate)
    owner = partner.consumers.writer(consumer, named_party(data.party))
    loc = inbound.location(owner, data)
    payload = extras.encode(data.partner_custom_payload)
    await partner.core.objects.put_location(None, loc, new=True)
    key = _key(owner, loc.id)
    await keep(partner, consumer, "location", key, data.partner_external_id, payload, loc.last_updated)
    return partner.ok(request, await rendered_one(partner, consumer, SITES, key, loc.id), 201)


async def _patch_site(request: Request, partner: Partner, consumer: Consumer, text: str) -> Reply:
    owner, loc = await target(partner, consumer, SITES, text)
    data = await body(request, wire.SitePatch)
    changes = inbound.location_changes(loc, data)
    payload = extras.encode(data.partner_custom_payload)
    if changes:
        await partner.core.objects.patch_location(None, owner, loc.id, changes)
    key = _key(owner, loc.id)
    if data.partner_external_id is not UNSET or payload is not UNSET:
        await keep(partner, consumer, "location", key, data.partner_external_id, payload)
    return partner.ok(request, await rendered_one(partner, consumer, SITES, key, text))


async def _delete_site(request: Request, partner: Partner, consumer: Consumer, text: str) -> Reply:
    owner, loc = await target(partner, consumer, SITES, text)
    await partner.core.objects.remove_location(None, owner, loc.id, inbound.now)
    return partner.no_content(request)


# --- charge points -------------------------------------------------------------------------------------------


async def _create_charge_point(request: Request, partner: Partner, consumer: Consumer) -> Reply:
    data = await body(request, wire.ChargePointCreate)
    owner, loc = await target(partner, consumer, SITES, data.site_id, "siteId")
    evse = inbound.evse(owner, data)
    payload = extras.encode(data.partner_custom_payload)
    await partner.core.objects.put_evse(None, owner, loc.id, evse, new=True)
    key = _key(owner, evse.uid)
    await keep(partner, consumer, "evse", key, data.partner_external_id, payload, evse.last_updated)
    return partner.ok(request, await rendered_one(partner, consumer, CHARGE_POINTS, key, evse.uid), 201)


async def _patch_charge_point(request: Request, partner: Partner, consumer: Consumer, text: str) -> Reply:
    owner, view = await target(partner, consumer, CHARGE_POINTS, text)
    data = await body(request, wire.ChargePointPatch)
    changes = inbound.evse_changes(owner, view.evse, data)
    payload = extras.encode(data.partner_custom_payload)
    objects = partner.core.objects
    if "connectors" in changes:  # the list is replaced: a PUT of the EVSE (a PATCH would merge connectors)
        await objects.put_evse(None, owner, view.location.id, msgspec.structs.replace(view.evse, **changes))
    elif changes:
        await objects.patch_location(None, owner, view.location.id, changes, evse_uid=view.evse.uid)
    key = _key(owner, view.evse.uid)
    if data.partner_external_id is not UNSET or payload is not UNSET:
        await keep(partner, consumer, "evse", key, data.partner_external_id, payload)
    return partner.ok(request, await rendered_one(partner, consumer, CHARGE_POINTS, key, text))


async def _delete_charge_point(request: Request, partner: Partner, consumer: Consumer, text: str) -> Reply:
    owner, view = await target(partner, consumer, CHARGE_POINTS, text)
    removed: dict[str, Any] = {"status": "REMOVED", "last_updated": inbound.now(view.evse.last_updated)}
    await partner.core.objects.patch_location(None, owner, view.location.id, removed, evse_uid=view.evse.uid)
    return partner.no_content(request)


# --- routes --------------------------------------------------------------------------------------------------

def _routes(res: Resource, create: Any, change: Any, remove: Any) -> list:
    name = res.entity.replace("-", "_")

    async def create_handler(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
        partner.need(consumer, res.entity, "write")
        return await once(request, partner, consumer, lambda: create(request, partner, consumer))

    async def patch_handler(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
        partner.need(consumer, res.entity, "write")
        return await change(request, partner, consumer, id)

    async def delete_handler(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
        partner.need(consumer, res.entity, "delete")
        return await remove(request, partner, consumer, id)

    one = f"{API}/{res.entity}/{{id:str}}"
    return [
        post(f"{API}/{res.entity}", name=f"{name}_create", operation_id=f"create_{name}", status_code=201,
             summary=f"Create a {res.noun} of a CPO the hub hosts (pushed to eMSPs over OCPI)")(create_handler),
        patch(one, name=f"{name}_patch", operation_id=f"patch_{name}", status_code=200,
              summary=f"Change the given fields of a {res.noun} (pushed to eMSPs over OCPI)")(patch_handler),
        # the Reply answers 204 itself (litestar refuses a handler that returns a value with status_code 204)
        delete(one, name=f"{name}_delete", operation_id=f"delete_{name}", status_code=200,
               summary=f"Remove a {res.noun}: its EVSEs become REMOVED, as OCPI retires them")(delete_handler),
    ]


HANDLERS = [*_routes(SITES, _create_site, _patch_site, _delete_site),
            *_routes(CHARGE_POINTS, _create_charge_point, _patch_charge_point, _delete_charge_point)]
