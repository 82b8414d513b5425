"""OCPI 2.2.1 endpoints of the hub. URL layout under /ocpi/2.2.1:

    /credentials, /hubclientinfo                      configuration modules
    /sender/{module}...                               the hub's Sender interfaces (others pull; GET All from the store)
    /receiver/{module}...                             the hub's Receiver interfaces (owners push)
    /sender/commands/{command}/{id}                   response_url the hub hands to CPOs (async CommandResult)
    /sender/chargingprofiles/results/{id}             response_url for charging-profile results
"""

from __future__ import annotations

from collections.abc import Callable

from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.exceptions.responses import create_exception_response
from litestar.params import FromPath

from hub import model
from hub.services import errors
from hub.services.charging import own_answer
from hub.store import documents as docs
from protocols.ocpi import transport as t
from hub.edge import Reply
from protocols.ocpi.transport import OcpiError
from protocols.ocpi.v221 import codec, credentials, rules, wire
from protocols.ocpi.v221 import mapping as m
from protocols.ocpi.v221.api import VERSION, Ocpi, echo_headers
from protocols.ocpi.v221.client import PROTOCOL, PeerError

# ---------------------------------------------------------------------------------------------
# versions, credentials, hubclientinfo (configuration modules: no routing headers)

MODULES = ["locations", "tariffs", "tokens", "sessions", "cdrs", "commands", "chargingprofiles"]


@get("/ocpi/versions")
async def versions(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    return ocpi.ok(request, ctx, wire.encode([wire.Version(version=v, url=url) for v, url in ocpi.versions]))  # type: ignore[arg-type]


@get(f"/ocpi/{VERSION}")
async def version_details(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    endpoints = [
        wire.Endpoint(identifier="credentials", role="SENDER", url=f"{ocpi.base}/credentials"),
        wire.Endpoint(identifier="hubclientinfo", role="SENDER", url=f"{ocpi.base}/hubclientinfo"),
    ]
    for module in MODULES:
        endpoints.append(wire.Endpoint(identifier=module, role="SENDER", url=f"{ocpi.base}/sender/{module}"))
        endpoints.append(wire.Endpoint(identifier=module, role="RECEIVER", url=f"{ocpi.base}/receiver/{module}"))
    return ocpi.ok(request, ctx, wire.encode(wire.VersionDetails(version=VERSION, endpoints=endpoints)))


@get(f"/ocpi/{VERSION}/credentials")
async def credentials_get(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    return ocpi.ok(request, ctx, wire.encode(credentials.own_credentials(ocpi, ctx.token)))


@post(f"/ocpi/{VERSION}/credentials", status_code=200)
async def credentials_post(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    theirs = await ocpi.body(request, wire.Credentials)
    return ocpi.ok(request, ctx, wire.encode(await credentials.accept(ocpi, ctx.platform, theirs, update=False)))


@put(f"/ocpi/{VERSION}/credentials")
async def credentials_put(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    theirs = await ocpi.body(request, wire.Credentials)
    return ocpi.ok(request, ctx, wire.encode(await credentials.accept(ocpi, ctx.platform, theirs, update=True)))


@delete(f"/ocpi/{VERSION}/credentials", status_code=200)
async def credentials_delete(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    await ocpi.core.parties.unregister(ctx.platform)
    return ocpi.ok(request, ctx)


@get(f"/ocpi/{VERSION}/hubclientinfo")
async def hubclientinfo_list(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    ctx = await ocpi.enter(request, functional=False)
    q = request.query_params
    limit = min(t.parse_int(q.get("limit"), "limit", ocpi.page_limit), ocpi.page_limit)
    offset = t.parse_int(q.get("offset"), "offset", 0)
    date_from = t.parse_datetime(q.get("date_from"), "date_from")
    date_to = t.parse_datetime(q.get("date_to"), "date_to")
    infos = []
    for row, status in ocpi.core.directory.client_infos():
        updated = docs.from_us(row.updated_us)
        if (date_from and updated < date_from) or (date_to and updated >= date_to):
            continue
        infos.append(model.ClientInfo(country_code=row.party.country_code, party_id=row.party.party_id, role=row.role,  # type: ignore[arg-type]
                                      status=status, last_updated=updated.replace(microsecond=0)))  # type: ignore[arg-type]
    infos.sort(key=lambda c: (c.last_updated, c.country_code, c.party_id, c.role))
    page = infos[offset : offset + limit]
    headers = {"X-Total-Count": str(len(infos)), "X-Limit": str(ocpi.page_limit)}
    link = t.link_next(f"{ocpi.core.settings.base_url}{request.scope['path']}", dict(q), offset, limit, len(infos), len(page))
    if link:
        headers["Link"] = link
    return ocpi.ok(request, ctx, wire.encode([m.client_info_from_canonical(c) for c in page]), **headers)


# ---------------------------------------------------------------------------------------------
# Sender interfaces: GET All from the hub's store, single objects, token authorization

S = f"/ocpi/{VERSION}/sender"
R = f"/ocpi/{VERSION}/receiver"


@get(f"{S}/locations")
async def locations_list(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    return await ocpi.list(request, docs.LOCATION)


@get([f"{S}/locations/{{location_id:str}}", f"{S}/locations/{{location_id:str}}/{{evse_uid:str}}",
      f"{S}/locations/{{location_id:str}}/{{evse_uid:str}}/{{connector_id:str}}"])
async def location_get(
    request: Request, ocpi: NamedDependency[Ocpi], location_id: FromPath[str], evse_uid: FromPath[str | None] = None, connector_id: FromPath[str | None] = None
) -> Reply:
    ctx = await ocpi.enter(request)
    to = ocpi.target(ctx)
    if to is not None:
        sub = "/".join(p for p in (location_id, evse_uid, connector_id) if p)
        return await ocpi.forward(request, ctx, to, "locations", "SENDER", sub)
    owner = ctx.routing.to_party if ctx.routing.to_party not in (None, ocpi.hub_party) else None
    owner = owner or await ocpi.core.objects.find_location_owner(location_id)
    if owner is None:
        raise errors.NotFound(f"unknown location {location_id} (address its CPO with OCPI-to if the id is not unique)")
    loc = await ocpi.core.objects.get(ctx.platform, docs.LOCATION, (owner.country_code, owner.party_id, location_id))
    return ocpi.ok(request, ctx, _location_part(loc, evse_uid, connector_id))


def _location_part(loc: model.Location, evse_uid: str | None, connector_id: str | None) -> bytes:
    if evse_uid is None:
        return codec.render("location", loc)
    evse = loc.evse(evse_uid)
    if evse is None:
        raise errors.NotFound(f"unknown EVSE {evse_uid}")
    if connector_id is None:
        return codec.render("evse", evse)
    connector = next((c for c in evse.connectors if c.id.upper() == connector_id.upper()), None)
    if connector is None:
        raise errors.NotFound(f"unknown connector {connector_id}")
    return codec.render("connector", connector)


@get(f"{S}/tariffs")
async def tariffs_list(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    return await ocpi.list(request, docs.TARIFF)


@get(f"{S}/tokens")
async def tokens_list(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    return await ocpi.list(request, docs.TOKEN)


@post(f"{S}/tokens/{{token_uid:str}}/authorize", status_code=200)
async def token_authorize(request: Request, ocpi: NamedDependency[Ocpi], token_uid: FromPath[str]) -> Reply:
    """Real-time authorization: routed to the token's eMSP (OCPI-to, or found by uid: open routing)."""
    ctx = await ocpi.enter(request)
    token_type = request.query_params.get("type", "RFID")
    if token_type not in ("AD_HOC_USER", "APP_USER", "OTHER", "RFID"):
        raise OcpiError(200, t.INVALID_PARAMETERS, f"unknown token type {token_type!r}")
    raw = await request.body()
    refs = wire.decode(raw, wire.LocationReferences) if raw.strip() else None
    to = ocpi.target(ctx)
    if to is None:
        token = await ocpi.core.objects.find_token(token_uid, token_type)
        if token is None:
            raise OcpiError(404, t.UNKNOWN_TOKEN, f"unknown token {token_uid}")
        owner = ocpi.core.directory.platform_of(token.owner_party)
        where = m.location_references_to_canonical(refs) if refs else None
        if owner is None:  # a token of a party the hub runs
            return ocpi.ok(request, ctx, wire.encode(m.authorization_info_from_canonical(own_answer(token, where))))
        if owner.row.protocol != PROTOCOL and ocpi.core.charging.realtime is not None:  # asked in the eMSP's own terms
            try:
                info = await ocpi.core.charging.realtime(token, where or model.LocationReferences(location_id="#NA"))
            except PeerError as exc:
                raise errors.ReceiverOffline(f"{token.owner_party} cannot be asked: {exc}") from exc
            return ocpi.ok(request, ctx, wire.encode(m.authorization_info_from_canonical(info)))
        to = token.owner_party
    return await ocpi.forward(request, ctx, to, "tokens", "SENDER", f"{token_uid}/authorize", body=raw or None,
                              method="POST", params={"type": token_type})


@get(f"{S}/sessions")
async def sessions_list(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    return await ocpi.list(request, docs.SESSION, date_from_required=True)


@put(f"{S}/sessions/{{session_id:str}}/charging_preferences")
async def charging_preferences(request: Request, ocpi: NamedDependency[Ocpi], session_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    prefs = await ocpi.body(request, wire.ChargingPreferences)
    to = ocpi.target(ctx)
    if to is None:
        session = await ocpi.core.objects.find_session(session_id)
        if session is None or session.cdr_token.owner_party not in ctx.platform.parties:
            raise errors.NotFound(f"unknown session {session_id}")
        to = session.owner_party
        if ocpi.core.directory.platform_of(to) is None:  # the hub's own chargers: OCPP has no such message
            return ocpi.ok(request, ctx, b'"NOT_POSSIBLE"')
    return await ocpi.forward(request, ctx, to, "sessions", "SENDER", f"{session_id}/charging_preferences", body=wire.encode(prefs), method="PUT")


@get(f"{S}/cdrs")
async def cdrs_list(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    return await ocpi.list(request, docs.CDR)


# ---------------------------------------------------------------------------------------------
# Receiver interfaces: owners push; the hub stores and broadcasts, or forwards when addressed


@get([f"{R}/locations/{{country_code:str}}/{{party_id:str}}/{{location_id:str}}",
      f"{R}/locations/{{country_code:str}}/{{party_id:str}}/{{location_id:str}}/{{evse_uid:str}}",
      f"{R}/locations/{{country_code:str}}/{{party_id:str}}/{{location_id:str}}/{{evse_uid:str}}/{{connector_id:str}}"])
async def location_receiver_get(
    request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], location_id: FromPath[str],
    evse_uid: FromPath[str | None] = None, connector_id: FromPath[str | None] = None,
) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    loc = await ocpi.core.objects.get(ctx.platform, docs.LOCATION, (owner.country_code, owner.party_id, location_id))
    return ocpi.ok(request, ctx, _location_part(loc, evse_uid, connector_id))


@put([f"{R}/locations/{{country_code:str}}/{{party_id:str}}/{{location_id:str}}",
      f"{R}/locations/{{country_code:str}}/{{party_id:str}}/{{location_id:str}}/{{evse_uid:str}}",
      f"{R}/locations/{{country_code:str}}/{{party_id:str}}/{{location_id:str}}/{{evse_uid:str}}/{{connector_id:str}}"])
async def location_put(
    request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], location_id: FromPath[str],
    evse_uid: FromPath[str | None] = None, connector_id: FromPath[str | None] = None,
) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    objects, cid = ocpi.core.objects, ctx.routing.correlation_id
    if evse_uid is None:
        w = await ocpi.body(request, wire.Location)
        ocpi.check(rules.check_location(w))
        ocpi.same(country_code, w.country_code, "country_code")
        ocpi.same(party_id, w.party_id, "party_id")
        ocpi.same(location_id, w.id, "id")
        obj = m.location_to_canonical(w)
        objects.check_owner(ctx.platform, owner, "location")
        if (to := ocpi.target(ctx)) is not None:
            return await ocpi.forward(request, ctx, to, "locations", "RECEIVER", f"{owner.country_code}/{owner.party_id}/{location_id}", body=wire.encode(w), method="PUT")
        created = await objects.put_location(ctx.platform, obj, correlation_id=cid)
    elif connector_id is None:
        w = await ocpi.body(request, wire.Evse)
        ocpi.check(rules.check_evse(w))
        ocpi.same(evse_uid, w.uid, "uid")
        objects.check_owner(ctx.platform, owner, "location")
        if (to := ocpi.target(ctx)) is not None:
            return await ocpi.forward(request, ctx, to, "locations", "RECEIVER", f"{owner.country_code}/{owner.party_id}/{location_id}/{evse_uid}", body=wire.encode(w), method="PUT")
        created = await objects.put_evse(ctx.platform, owner, location_id, m.evse_to_canonical(w), correlation_id=cid)
    else:
        w = await ocpi.body(request, wire.Connector)
        ocpi.same(connector_id, w.id, "id")
        objects.check_owner(ctx.platform, owner, "location")
        if (to := ocpi.target(ctx)) is not None:
            return await ocpi.forward(request, ctx, to, "locations", "RECEIVER", f"{owner.country_code}/{owner.party_id}/{location_id}/{evse_uid}/{connector_id}", body=wire.encode(w), method="PUT")
        created = await objects.put_connector(ctx.platform, owner, location_id, evse_uid, m.connector_to_canonical(w), correlation_id=cid)
    return ocpi.ok(request, ctx, status=201 if created else 200)


@patch([f"{R}/locations/{{country_code:str}}/{{party_id:str}}/{{location_id:str}}",
        f"{R}/locations/{{country_code:str}}/{{party_id:str}}/{{location_id:str}}/{{evse_uid:str}}",
        f"{R}/locations/{{country_code:str}}/{{party_id:str}}/{{location_id:str}}/{{evse_uid:str}}/{{connector_id:str}}"])
async def location_patch(
    request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], location_id: FromPath[str],
    evse_uid: FromPath[str | None] = None, connector_id: FromPath[str | None] = None,
) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    if evse_uid is None:
        w = await ocpi.body(request, wire.LocationPatch)
        ocpi.check(rules.check_location_patch(w))
        changes = m.location_patch_changes(w)
    elif connector_id is None:
        w = await ocpi.body(request, wire.EvsePatch)
        ocpi.check(rules.check_evse(w))
        changes = m.evse_patch_changes(w)
    else:
        w = await ocpi.body(request, wire.ConnectorPatch)
        changes = m.connector_patch_changes(w)
    ocpi.core.objects.check_owner(ctx.platform, owner, "location")
    if (to := ocpi.target(ctx)) is not None:
        sub = "/".join(p for p in (owner.country_code, owner.party_id, location_id, evse_uid, connector_id) if p)
        return await ocpi.forward(request, ctx, to, "locations", "RECEIVER", sub, body=wire.encode(w), method="PATCH")
    await ocpi.core.objects.patch_location(
        ctx.platform, owner, location_id, changes, evse_uid, connector_id, correlation_id=ctx.routing.correlation_id
    )
    return ocpi.ok(request, ctx)


@get(f"{R}/tariffs/{{country_code:str}}/{{party_id:str}}/{{tariff_id:str}}")
async def tariff_receiver_get(request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], tariff_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    tariff = await ocpi.core.objects.get(ctx.platform, docs.TARIFF, (owner.country_code, owner.party_id, tariff_id))
    return ocpi.ok(request, ctx, codec.render("tariff", tariff))


@put(f"{R}/tariffs/{{country_code:str}}/{{party_id:str}}/{{tariff_id:str}}")
async def tariff_put(request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], tariff_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    w = await ocpi.body(request, wire.Tariff)
    ocpi.check(rules.check_tariff(w))
    ocpi.same(country_code, w.country_code, "country_code")
    ocpi.same(party_id, w.party_id, "party_id")
    ocpi.same(tariff_id, w.id, "id")
    ocpi.core.objects.check_owner(ctx.platform, owner, "tariff")
    if (to := ocpi.target(ctx)) is not None:
        return await ocpi.forward(request, ctx, to, "tariffs", "RECEIVER", f"{owner.country_code}/{owner.party_id}/{tariff_id}", body=wire.encode(w), method="PUT")
    created = await ocpi.core.objects.put_tariff(ctx.platform, m.tariff_to_canonical(w), correlation_id=ctx.routing.correlation_id)
    return ocpi.ok(request, ctx, status=201 if created else 200)


@delete(f"{R}/tariffs/{{country_code:str}}/{{party_id:str}}/{{tariff_id:str}}", status_code=200)
async def tariff_delete(request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], tariff_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    ocpi.core.objects.check_owner(ctx.platform, owner, "tariff")
    if (to := ocpi.target(ctx)) is not None:
        return await ocpi.forward(request, ctx, to, "tariffs", "RECEIVER", f"{owner.country_code}/{owner.party_id}/{tariff_id}", method="DELETE")
    await ocpi.core.objects.delete_tariff(ctx.platform, owner, tariff_id, correlation_id=ctx.routing.correlation_id)
    return ocpi.ok(request, ctx)


def _token_type(request: Request) -> str:
    token_type = request.query_params.get("type", "RFID")
    if token_type not in ("AD_HOC_USER", "APP_USER", "OTHER", "RFID"):
        raise OcpiError(200, t.INVALID_PARAMETERS, f"unknown token type {token_type!r}")
    return token_type


@get(f"{R}/tokens/{{country_code:str}}/{{party_id:str}}/{{token_uid:str}}")
async def token_receiver_get(request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], token_uid: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    token = await ocpi.core.objects.get(ctx.platform, docs.TOKEN, (owner.country_code, owner.party_id, token_uid, _token_type(request)))
    return ocpi.ok(request, ctx, codec.render("token", token))


@put(f"{R}/tokens/{{country_code:str}}/{{party_id:str}}/{{token_uid:str}}")
async def token_put(request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], token_uid: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    w = await ocpi.body(request, wire.Token)
    ocpi.same(country_code, w.country_code, "country_code")
    ocpi.same(party_id, w.party_id, "party_id")
    ocpi.same(token_uid, w.uid, "uid")
    if "type" in request.query_params and _token_type(request) != w.type:
        raise OcpiError(200, t.INVALID_PARAMETERS, "type in the URL differs from the body")
    ocpi.core.objects.check_owner(ctx.platform, owner, "token")
    if (to := ocpi.target(ctx)) is not None:
        return await ocpi.forward(request, ctx, to, "tokens", "RECEIVER", f"{owner.country_code}/{owner.party_id}/{token_uid}", body=wire.encode(w), method="PUT", params={"type": w.type})
    created = await ocpi.core.objects.put_token(ctx.platform, m.token_to_canonical(w), correlation_id=ctx.routing.correlation_id)
    return ocpi.ok(request, ctx, status=201 if created else 200)


@patch(f"{R}/tokens/{{country_code:str}}/{{party_id:str}}/{{token_uid:str}}")
async def token_patch(request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], token_uid: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    w = await ocpi.body(request, wire.TokenPatch)
    token_type = _token_type(request)
    ocpi.core.objects.check_owner(ctx.platform, owner, "token")
    if (to := ocpi.target(ctx)) is not None:
        return await ocpi.forward(request, ctx, to, "tokens", "RECEIVER", f"{owner.country_code}/{owner.party_id}/{token_uid}", body=wire.encode(w), method="PATCH", params={"type": token_type})
    await ocpi.core.objects.patch_token(ctx.platform, owner, token_uid, token_type, m.token_patch_changes(w), correlation_id=ctx.routing.correlation_id)
    return ocpi.ok(request, ctx)


@get(f"{R}/sessions/{{country_code:str}}/{{party_id:str}}/{{session_id:str}}")
async def session_receiver_get(request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], session_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    session = await ocpi.core.objects.get(ctx.platform, docs.SESSION, (owner.country_code, owner.party_id, session_id))
    return ocpi.ok(request, ctx, codec.render("session", session))


def _addressed_to_token_owner(ocpi: Ocpi, ctx, token_owner: model.PartyId) -> model.PartyId | None:
    """Sessions and CDRs go to the token's eMSP only: an address to anyone else is refused."""
    to = ocpi.target(ctx)
    if to is not None and to != token_owner:
        raise OcpiError(200, t.INVALID_PARAMETERS, f"a Session or CDR of a {token_owner} token cannot be sent to {to}")
    return to


@put(f"{R}/sessions/{{country_code:str}}/{{party_id:str}}/{{session_id:str}}")
async def session_put(request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], session_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    w = await ocpi.body(request, wire.Session)
    ocpi.check(rules.check_session(w))
    ocpi.same(country_code, w.country_code, "country_code")
    ocpi.same(party_id, w.party_id, "party_id")
    ocpi.same(session_id, w.id, "id")
    session = m.session_to_canonical(w)
    ocpi.core.objects.check_owner(ctx.platform, owner, "session")
    to = _addressed_to_token_owner(ocpi, ctx, session.cdr_token.owner_party)
    created = await ocpi.core.objects.put_session(ctx.platform, session, correlation_id=ctx.routing.correlation_id, deliver=to is None)
    if to is not None:
        return await ocpi.forward_or_owe(request, ctx, to, docs.SESSION, session, "sessions", f"{owner.country_code}/{owner.party_id}/{session_id}",
                                         body=wire.encode(w), method="PUT")
    return ocpi.ok(request, ctx, status=201 if created else 200)


@patch(f"{R}/sessions/{{country_code:str}}/{{party_id:str}}/{{session_id:str}}")
async def session_patch(request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], session_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    w = await ocpi.body(request, wire.SessionPatch)
    ocpi.check(rules.check_session_patch(w))
    ocpi.core.objects.check_owner(ctx.platform, owner, "session")
    stored = await ocpi.core.objects.find_session(session_id, owner)
    if stored is None:
        raise errors.NotFound(f"unknown session {session_id}")
    to = _addressed_to_token_owner(ocpi, ctx, stored.cdr_token.owner_party)
    patched = await ocpi.core.objects.patch_session(
        ctx.platform, owner, session_id, m.session_patch_changes(w), correlation_id=ctx.routing.correlation_id, deliver=to is None
    )
    if to is not None:
        return await ocpi.forward_or_owe(request, ctx, to, docs.SESSION, patched, "sessions", f"{owner.country_code}/{owner.party_id}/{session_id}",
                                         body=wire.encode(w), method="PATCH")
    return ocpi.ok(request, ctx)


@post(f"{R}/cdrs", status_code=201)
async def cdr_post(request: Request, ocpi: NamedDependency[Ocpi]) -> Reply:
    """The stored CDR's URL (at the hub) goes in the Location header."""
    ctx = await ocpi.enter(request)
    w = await ocpi.body(request, wire.Cdr)
    ocpi.check(rules.check_cdr(w))
    cdr = m.cdr_to_canonical(w)
    ocpi.core.objects.check_owner(ctx.platform, cdr.owner_party, "cdr")
    to = _addressed_to_token_owner(ocpi, ctx, cdr.cdr_token.owner_party)
    await ocpi.core.objects.post_cdr(ctx.platform, cdr, correlation_id=ctx.routing.correlation_id, deliver=to is None)
    location = f"{ocpi.base}/receiver/cdrs/{cdr.country_code.upper()}/{cdr.party_id.upper()}/{cdr.id}"
    if to is not None:
        response = await ocpi.forward_or_owe(request, ctx, to, docs.CDR, cdr, "cdrs", body=wire.encode(w), method="POST")
        response.headers["location"] = location
        return response
    return ocpi.ok(request, ctx, status=201, Location=location)


@get(f"{R}/cdrs/{{country_code:str}}/{{party_id:str}}/{{cdr_id:str}}")
async def cdr_get(request: Request, ocpi: NamedDependency[Ocpi], country_code: FromPath[str], party_id: FromPath[str], cdr_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    owner = ocpi.url_party(country_code, party_id)
    cdr = await ocpi.core.objects.get(ctx.platform, docs.CDR, (owner.country_code, owner.party_id, cdr_id))
    return ocpi.ok(request, ctx, codec.render("cdr", cdr))


# ---------------------------------------------------------------------------------------------


def _ocpi_error(hub_party: model.PartyId) -> Callable[[Request, Exception], Response]:
    """Every error as an OCPI envelope, from the hub to the requester once Ocpi.enter has authenticated it."""

    def handle(request: Request, exc: Exception) -> Response:
        err = t.as_ocpi_error(exc)
        return Response(
            content=t.envelope(err.data, err.status_code, err.message), status_code=err.http_status,
            media_type="application/json", headers=echo_headers(request, None, hub_party),
        )

    return handle


def unmatched(request: Request, exc: HTTPException) -> Response:
    """A path no route matches (404) or a method its route lacks (405): the app answers these before any
    router, so it mounts this handler. Under /ocpi an OCPI envelope, elsewhere the framework's own answer."""
    if not request.url.path.startswith("/ocpi/"):
        return create_exception_response(request, exc)
    return Response(
        content=t.envelope(None, t.CLIENT_ERROR, exc.detail), status_code=exc.status_code, media_type="application/json",
        headers={**(exc.headers or {}), **echo_headers(request, None, None)},
    )


def router(ocpi: Ocpi) -> Router:
    from protocols.ocpi.v221 import commands

    handlers = [
        versions, version_details, credentials_get, credentials_post, credentials_put, credentials_delete,
        hubclientinfo_list, locations_list, location_get, tariffs_list, tokens_list, token_authorize, sessions_list,
        charging_preferences, cdrs_list, location_receiver_get, location_put, location_patch, tariff_receiver_get,
        tariff_put, tariff_delete, token_receiver_get, token_put, token_patch, session_receiver_get, session_put,
        session_patch, cdr_post, cdr_get, *commands.HANDLERS,
    ]
    return Router(
        path="/",
        route_handlers=handlers,
        dependencies={"ocpi": Provide(lambda: ocpi, use_cache=True, sync_to_thread=False)},
        before_request=t.check_url_parameters,
        exception_handlers={Exception: _ocpi_error(ocpi.hub_party)},
        include_in_schema=True,
        tags=["OCPI 2.2.1"],
    )
