"""OCPI 2.1.1 endpoints of the hub. URL layout under /ocpi/2.1.1:

    (the version details)                         the caller's role picks its endpoints: one URL per module
    /credentials                                  the handshake
    /emsp/{module}...                             the hub as eMSP, for 2.1.1 CPOs (they push, pull tokens, ask)
    /emsp/commands/{command id}                   the response_url of the commands the hub sends a 2.1.1 CPO
    /cpo/{module}...                              the hub as CPO, for 2.1.1 eMSPs (they pull, push tokens)

Everything a party pushes is stored in the canonical model (2.2.1 parties get it in 2.2.1); ownership, visibility
and fan-out are the core's rules, as for every version.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from hub import model
from hub.edge import Reply
from hub.services import errors
from hub.store import documents as docs
from hub.store.documents import now_us
from protocols.ocpi import transport as t
from protocols.ocpi.transport import OcpiError
from protocols.ocpi.v211 import credentials, wire
from protocols.ocpi.v211 import mapping as m
from protocols.ocpi.v211.api import ROLE_PREFIX, Ocpi211, role
from protocols.ocpi.v211.client import VERSION

B = f"/ocpi/{VERSION}"
E = f"{B}/emsp"
C = f"{B}/cpo"
MODULES = {"CPO": ["locations", "tariffs", "sessions", "cdrs", "tokens"],  # the hub's eMSP interface
           "EMSP": ["locations", "tariffs", "sessions", "cdrs", "tokens", "commands"]}  # the hub's CPO interface
LOCATION_PATHS = ["{location_id:str}", "{location_id:str}/{evse_uid:str}", "{location_id:str}/{evse_uid:str}/{connector_id:str}"]
OWNED = "{country_code:str}/{party_id:str}"


# --- configuration: versions details and credentials ----------------------------------------


@get(B)
async def version_details(request: Request, ocpi: NamedDependency[Ocpi211]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    caller = role(ctx.platform) or "EMSP"
    prefix = f"{ocpi.base}/{ROLE_PREFIX[caller]}"
    endpoints = [wire.Endpoint(identifier="credentials", url=f"{ocpi.base}/credentials")]
    endpoints += [wire.Endpoint(identifier=module, url=f"{prefix}/{module}") for module in MODULES[caller]]
    return ocpi.ok(request, wire.encode(wire.VersionDetails(version=VERSION, endpoints=endpoints)))


@get(f"{B}/credentials")
async def credentials_get(request: Request, ocpi: NamedDependency[Ocpi211]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    return ocpi.ok(request, wire.encode(credentials.own_credentials(ocpi, ctx.token)))


@post(f"{B}/credentials", status_code=200)
async def credentials_post(request: Request, ocpi: NamedDependency[Ocpi211]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    theirs = await ocpi.body(request, wire.Credentials)
    return ocpi.ok(request, wire.encode(await credentials.accept(ocpi, ctx.platform, theirs, update=False)))


@put(f"{B}/credentials")
async def credentials_put(request: Request, ocpi: NamedDependency[Ocpi211]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    theirs = await ocpi.body(request, wire.Credentials)
    return ocpi.ok(request, wire.encode(await credentials.accept(ocpi, ctx.platform, theirs, update=True)))


@delete(f"{B}/credentials", status_code=200)
async def credentials_delete(request: Request, ocpi: NamedDependency[Ocpi211]) -> Reply:
    ctx = await ocpi.enter(request, allow_a=True, functional=False)
    await ocpi.core.parties.unregister(ctx.platform)
    return ocpi.ok(request)


# --- the hub as eMSP: what 2.1.1 CPOs push ---------------------------------------------------


def _stamped(changes: dict) -> dict:
    """A 2.1.1 PATCH need not carry last_updated; the store orders changes by it, so it is the time of arrival."""
    changes.setdefault("last_updated", docs.from_us(now_us()).replace(microsecond=0))
    return changes


@get([f"{E}/locations/{OWNED}/{p}" for p in LOCATION_PATHS])
async def location_emsp_get(
    request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], location_id: FromPath[str],
    evse_uid: FromPath[str | None] = None, connector_id: FromPath[str | None] = None,
) -> Reply:
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ocpi.url_party(country_code, party_id)
    loc = await ocpi.core.objects.get(ctx.platform, docs.LOCATION, (owner.country_code, owner.party_id, location_id))
    return ocpi.ok(request, await _location_part(ocpi, loc, evse_uid, connector_id))


async def _location_part(ocpi: Ocpi211, loc: model.Location, evse_uid: str | None, connector_id: str | None) -> bytes:
    kind, part = "location", loc
    if evse_uid is not None:
        kind, part = "evse", loc.evse(evse_uid)
        if part is not None and connector_id is not None:
            kind, part = "connector", next((c for c in part.connectors if c.id.upper() == connector_id.upper()), None)
    rendered = None if part is None else await ocpi.render(kind, part)
    if rendered is None:
        raise errors.NotFound(f"unknown {kind}")
    return rendered


@put([f"{E}/locations/{OWNED}/{p}" for p in LOCATION_PATHS])
async def location_put(
    request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], location_id: FromPath[str],
    evse_uid: FromPath[str | None] = None, connector_id: FromPath[str | None] = None,
) -> Reply:
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ocpi.url_party(country_code, party_id)
    objects = ocpi.core.objects
    objects.check_owner(ctx.platform, owner, "location")
    if evse_uid is None:
        w = await ocpi.body(request, wire.Location)
        ocpi.same(location_id, w.id, "id")
        created = await objects.put_location(ctx.platform, m.location_to_canonical(w, owner))
    elif connector_id is None:
        w = await ocpi.body(request, wire.Evse)
        ocpi.same(evse_uid, w.uid, "uid")
        created = await objects.put_evse(ctx.platform, owner, location_id, m.evse_to_canonical(w))
    else:
        w = await ocpi.body(request, wire.Connector)
        ocpi.same(connector_id, w.id, "id")
        created = await objects.put_connector(ctx.platform, owner, location_id, evse_uid, m.connector_to_canonical(w))
    return ocpi.ok(request, status=201 if created else 200)


@patch([f"{E}/locations/{OWNED}/{p}" for p in LOCATION_PATHS])
async def location_patch(
    request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], location_id: FromPath[str],
    evse_uid: FromPath[str | None] = None, connector_id: FromPath[str | None] = None,
) -> Reply:
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ocpi.url_party(country_code, party_id)
    if evse_uid is None:
        changes = m.location_patch_changes(await ocpi.body(request, wire.LocationPatch))
    elif connector_id is None:
        changes = m.evse_patch_changes(await ocpi.body(request, wire.EvsePatch))
    else:
        changes = m.connector_patch_changes(await ocpi.body(request, wire.ConnectorPatch))
    ocpi.core.objects.check_owner(ctx.platform, owner, "location")
    await ocpi.core.objects.patch_location(ctx.platform, owner, location_id, _stamped(changes), evse_uid, connector_id)
    return ocpi.ok(request)


@get(f"{E}/tariffs/{OWNED}/{{tariff_id:str}}")
async def tariff_emsp_get(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], tariff_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ocpi.url_party(country_code, party_id)
    tariff = await ocpi.core.objects.get(ctx.platform, docs.TARIFF, (owner.country_code, owner.party_id, tariff_id))
    return ocpi.ok(request, await _rendered(ocpi, "tariff", tariff))


async def _rendered(ocpi: Ocpi211, kind: str, obj: object) -> bytes:
    rendered = await ocpi.render(kind, obj)
    if rendered is None:
        raise errors.NotFound(f"unknown {kind}")
    return rendered


@put(f"{E}/tariffs/{OWNED}/{{tariff_id:str}}")
async def tariff_put(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], tariff_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ocpi.url_party(country_code, party_id)
    w = await ocpi.body(request, wire.Tariff)
    ocpi.same(tariff_id, w.id, "id")
    created = await ocpi.core.objects.put_tariff(ctx.platform, m.tariff_to_canonical(w, owner))
    return ocpi.ok(request, status=201 if created else 200)


@patch(f"{E}/tariffs/{OWNED}/{{tariff_id:str}}")
async def tariff_patch(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], tariff_id: FromPath[str]) -> Reply:
    """2.1.1 may PATCH a Tariff (2.2.1 may not): applied to the stored one and stored whole."""
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ocpi.url_party(country_code, party_id)
    changes = _stamped(m.tariff_patch_changes(await ocpi.body(request, wire.TariffPatch)))
    ocpi.core.objects.check_owner(ctx.platform, owner, "tariff")
    stored = await ocpi.core.objects.get(ctx.platform, docs.TARIFF, (owner.country_code, owner.party_id, tariff_id))
    if changes.keys() & {"country_code", "party_id", "id"}:
        raise OcpiError(200, t.INVALID_PARAMETERS, "an identifier cannot be changed by PATCH")
    await ocpi.core.objects.put_tariff(ctx.platform, msgspec.structs.replace(stored, **changes))
    return ocpi.ok(request)


@delete(f"{E}/tariffs/{OWNED}/{{tariff_id:str}}", status_code=200)
async def tariff_delete(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], tariff_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request, as_role="CPO")
    await ocpi.core.objects.delete_tariff(ctx.platform, ocpi.url_party(country_code, party_id), tariff_id)
    return ocpi.ok(request)


@get(f"{E}/sessions/{OWNED}/{{session_id:str}}")
async def session_emsp_get(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], session_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ocpi.url_party(country_code, party_id)
    session = await ocpi.core.objects.get(ctx.platform, docs.SESSION, (owner.country_code, owner.party_id, session_id))
    return ocpi.ok(request, await _rendered(ocpi, "session", session))


@put(f"{E}/sessions/{OWNED}/{{session_id:str}}")
async def session_put(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], session_id: FromPath[str]) -> Reply:
    """The Session goes to the eMSP of its token (found by the auth_id), in that eMSP's version."""
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ocpi.url_party(country_code, party_id)
    w = await ocpi.body(request, wire.Session)
    ocpi.same(session_id, w.id, "id")
    session = m.session_to_canonical(w, owner, await ocpi.cdr_token(w.auth_id))
    ocpi.core.objects.check_owner(ctx.platform, owner, "session")
    created = await ocpi.core.objects.put_session(ctx.platform, session)
    return ocpi.ok(request, status=201 if created else 200)


@patch(f"{E}/sessions/{OWNED}/{{session_id:str}}")
async def session_patch(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], session_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ocpi.url_party(country_code, party_id)
    w = await ocpi.body(request, wire.SessionPatch)
    token = await ocpi.cdr_token(w.auth_id) if w.auth_id else None
    changes = _stamped(m.session_patch_changes(w, token))
    ocpi.core.objects.check_owner(ctx.platform, owner, "session")
    await ocpi.core.objects.patch_session(ctx.platform, owner, session_id, changes)
    return ocpi.ok(request)


@post(f"{E}/cdrs", status_code=201)
async def cdr_post(request: Request, ocpi: NamedDependency[Ocpi211]) -> Reply:
    """A 2.1.1 CDR is the connection's party's; its URL at the hub goes in the Location header."""
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ctx.party
    assert owner is not None
    w = await ocpi.body(request, wire.Cdr)
    cdr = m.cdr_to_canonical(w, owner, await ocpi.cdr_token(w.auth_id))
    await ocpi.core.objects.post_cdr(ctx.platform, cdr)
    return ocpi.ok(request, status=201, Location=f"{ocpi.base}/emsp/cdrs/{owner.country_code}/{owner.party_id}/{cdr.id}")


@get(f"{E}/cdrs/{OWNED}/{{cdr_id:str}}")
async def cdr_emsp_get(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], cdr_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request, as_role="CPO")
    owner = ocpi.url_party(country_code, party_id)
    cdr = await ocpi.core.objects.get(ctx.platform, docs.CDR, (owner.country_code, owner.party_id, cdr_id))
    return ocpi.ok(request, await _rendered(ocpi, "cdr", cdr))


@get(f"{E}/tokens")
async def tokens_list(request: Request, ocpi: NamedDependency[Ocpi211]) -> Reply:
    ctx = await ocpi.enter(request, as_role="CPO")
    return await ocpi.list(request, ctx, docs.TOKEN)


@post(f"{E}/tokens/{{token_uid:str}}/authorize", status_code=200)
async def token_authorize(request: Request, ocpi: NamedDependency[Ocpi211], token_uid: FromPath[str]) -> Reply:
    """Real-time authorization of a token the CPO does not know (2.1.1 names no type: an RFID card, else any)."""
    await ocpi.enter(request, as_role="CPO")
    raw = await request.body()
    refs = m.location_references_to_canonical(wire.decode(raw, wire.LocationReferences)) if raw.strip() else None
    token = await ocpi.core.objects.find_token(token_uid, "RFID") or await ocpi.core.objects.find_token(token_uid, "OTHER")
    if token is None:
        raise OcpiError(404, t.UNKNOWN_TOKEN, f"unknown token {token_uid}")
    info = await ocpi.authorize(token, refs)
    return ocpi.ok(request, wire.encode(m.authorization_info_from_canonical(info)))


@post(f"{E}/commands/{{command_id:str}}", status_code=200)
async def command_result(request: Request, ocpi: NamedDependency[Ocpi211], command_id: FromPath[str]) -> Reply:
    """The 2.1.1 CPO's result of a command the hub sent it: kept, and sent on to the command's sender."""
    ctx = await ocpi.enter(request, as_role="CPO")
    w = await ocpi.body(request, wire.CommandResponse)
    record = await ocpi.core.commands.get(command_id)
    if record is None or record.receiver not in ctx.platform.parties:
        raise errors.NotFound("unknown command")
    await ocpi.core.commands.complete(record, m.command_result_to_canonical(w))
    return ocpi.ok(request)


# --- the hub as CPO: what 2.1.1 eMSPs read ---------------------------------------------------


def _lister(kind: docs.Kind) -> Callable:
    async def handler(request: Request, ocpi: NamedDependency[Ocpi211]) -> Reply:
        ctx = await ocpi.enter(request, as_role="EMSP")
        return await ocpi.list(request, ctx, kind)

    return handler


LISTS = [get(f"{C}/{module}", name=f"v211_{module}_list")(_lister(kind)) for module, kind in
         (("locations", docs.LOCATION), ("tariffs", docs.TARIFF), ("sessions", docs.SESSION), ("cdrs", docs.CDR))]


@get([f"{C}/locations/{p}" for p in LOCATION_PATHS])
async def location_cpo_get(
    request: Request, ocpi: NamedDependency[Ocpi211], location_id: FromPath[str], evse_uid: FromPath[str | None] = None,
    connector_id: FromPath[str | None] = None,
) -> Reply:
    ctx = await ocpi.enter(request, as_role="EMSP")
    owner = await ocpi.core.objects.find_location_owner(location_id)
    if owner is None:
        raise errors.NotFound(f"unknown location {location_id}")
    loc = await ocpi.core.objects.get(ctx.platform, docs.LOCATION, (owner.country_code, owner.party_id, location_id))
    return ocpi.ok(request, await _location_part(ocpi, loc, evse_uid, connector_id))


@get(f"{C}/tokens/{OWNED}/{{token_uid:str}}")
async def token_cpo_get(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], token_uid: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request, as_role="EMSP")
    owner = ocpi.url_party(country_code, party_id)
    token = await _own_token(ocpi, ctx.platform, owner, token_uid)
    return ocpi.ok(request, await _rendered(ocpi, "token", token))


async def _own_token(ocpi: Ocpi211, platform, owner: model.PartyId, uid: str) -> model.Token:
    """2.1.1 names a token by uid alone: the eMSP's one of that uid (whatever its type)."""
    ocpi.core.objects.check_owner(platform, owner, "token")
    for type_ in ("RFID", "OTHER", "APP_USER", "AD_HOC_USER"):
        if await ocpi.core.objects.exists(docs.TOKEN, (owner.country_code, owner.party_id, uid.upper(), type_)):
            return await ocpi.core.objects.get(platform, docs.TOKEN, (owner.country_code, owner.party_id, uid, type_))
    raise errors.NotFound(f"unknown token {uid}")


@put(f"{C}/tokens/{OWNED}/{{token_uid:str}}")
async def token_put(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], token_uid: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request, as_role="EMSP")
    owner = ocpi.url_party(country_code, party_id)
    w = await ocpi.body(request, wire.Token)
    ocpi.same(token_uid, w.uid, "uid")
    platform = await ocpi.behind(ctx.platform, owner, "EMSP")
    created = await ocpi.core.objects.put_token(platform, m.token_to_canonical(w, owner))
    return ocpi.ok(request, status=201 if created else 200)


@patch(f"{C}/tokens/{OWNED}/{{token_uid:str}}")
async def token_patch(request: Request, ocpi: NamedDependency[Ocpi211], country_code: FromPath[str], party_id: FromPath[str], token_uid: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request, as_role="EMSP")
    owner = ocpi.url_party(country_code, party_id)
    changes = _stamped(m.token_patch_changes(await ocpi.body(request, wire.TokenPatch)))
    token = await _own_token(ocpi, ctx.platform, owner, token_uid)
    await ocpi.core.objects.patch_token(ctx.platform, owner, token.uid, token.type, changes)
    return ocpi.ok(request)


COMMANDS = {"START_SESSION": (wire.StartSession, m.start_session_to_canonical), "STOP_SESSION": (wire.StopSession, m.stop_session_to_canonical),
            "RESERVE_NOW": (wire.ReserveNow, m.reserve_now_to_canonical), "UNLOCK_CONNECTOR": (wire.UnlockConnector, m.unlock_connector_to_canonical)}


@post(f"{C}/commands/{{command:str}}", status_code=200)
async def command_post(request: Request, ocpi: NamedDependency[Ocpi211], command: FromPath[str]) -> Reply:
    """A 2.1.1 eMSP's command, to whichever CPO runs the place (the hub's chargers, or a CPO of any version); the
    result goes to its response_url from the outbox, in 2.1.1."""
    ctx = await ocpi.enter(request, as_role="EMSP")
    if command not in COMMANDS:
        raise OcpiError(404, t.INVALID_PARAMETERS, f"unknown command {command!r}")
    wire_type, to_canonical = COMMANDS[command]
    w = await ocpi.body(request, wire_type)
    req = to_canonical(w, ctx.party) if command in ("START_SESSION", "RESERVE_NOW") else to_canonical(w)
    commands = ocpi.core.commands
    try:
        receiver = await commands.route(ctx.platform, ctx.party, req, None)
    except errors.UnknownLocation as exc:
        body = wire.encode(wire.CommandResponse(result="REJECTED"))
        return Reply(t.envelope(body, t.UNKNOWN_LOCATION, exc.message), 200, {})
    except errors.NotPermitted:
        return ocpi.ok(request, wire.encode(wire.CommandResponse(result="REJECTED")))
    except errors.UnknownReceiver:
        if command != "STOP_SESSION":
            raise
        return ocpi.ok(request, wire.encode(wire.CommandResponse(result="UNKNOWN_SESSION")))  # none, or not this eMSP's
    record = await commands.open(command, ctx.party, receiver, req, w.response_url, None)
    platform = ocpi.core.directory.platform_of(receiver)
    if platform is None:
        run = commands.local.get("command")
    else:
        remote = commands.remote.get(platform.row.protocol)
        run = None if remote is None else (lambda r: remote(r, platform))
    response = model.CommandResponse(result="NOT_SUPPORTED", timeout=0) if run is None else await run(record)
    await commands.responded(record.id, response)
    return ocpi.ok(request, wire.encode(m.command_response_from_canonical(response)))


# ---------------------------------------------------------------------------------------------


def _error(request: Request, exc: Exception) -> Response:
    """Every error as an OCPI envelope; what 2.1.1 cannot express of a push is the pusher's parameter error."""
    err = OcpiError(200, t.INVALID_PARAMETERS, str(exc)) if isinstance(exc, m.Unmappable) else t.as_ocpi_error(exc)
    return Response(content=t.envelope(err.data, err.status_code, err.message), status_code=err.http_status, media_type="application/json")


def router(ocpi: Ocpi211) -> Router:
    handlers = [
        version_details, credentials_get, credentials_post, credentials_put, credentials_delete,
        location_emsp_get, location_put, location_patch, tariff_emsp_get, tariff_put, tariff_patch, tariff_delete,
        session_emsp_get, session_put, session_patch, cdr_post, cdr_emsp_get, tokens_list, token_authorize, command_result,
        *LISTS, location_cpo_get, token_cpo_get, token_put, token_patch, command_post,
    ]
    return Router(
        path="/", route_handlers=handlers,
        dependencies={"ocpi": Provide(lambda: ocpi, use_cache=True, sync_to_thread=False)},
        before_request=t.check_url_parameters, exception_handlers={Exception: _error}, include_in_schema=True, tags=["OCPI 2.1.1"],
    )
