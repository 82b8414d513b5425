"""Commands and ChargingProfiles through the hub: the request goes to the CPO with a response_url of the
hub's own; the CPO's asynchronous result comes back there and is relayed to the sender's response_url.

A CPO whose chargers the hub runs itself is served by a local executor (the OCPP central system).
"""

from __future__ import annotations

import msgspec
from litestar import Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from hub import model
from hub.services import errors
from hub.services.commands import CommandRecord
from hub.services.directory import Platform
from protocols.ocpi import transport as t
from hub.edge import Reply
from protocols.ocpi.transport import OcpiError
from protocols.ocpi.v221 import rules, wire
from protocols.ocpi.v221 import mapping as m
from protocols.ocpi.v221.api import VERSION, Ctx, Ocpi
from protocols.ocpi.peer import ask
from protocols.ocpi.v221.client import PROTOCOL, endpoint, join

S = f"/ocpi/{VERSION}/sender"
R = f"/ocpi/{VERSION}/receiver"

REQUEST_TYPES = {
    "START_SESSION": (wire.StartSession, m.start_session_to_canonical),
    "STOP_SESSION": (wire.StopSession, m.stop_session_to_canonical),
    "RESERVE_NOW": (wire.ReserveNow, m.reserve_now_to_canonical),
    "CANCEL_RESERVATION": (wire.CancelReservation, m.cancel_reservation_to_canonical),
    "UNLOCK_CONNECTOR": (wire.UnlockConnector, m.unlock_connector_to_canonical),
}
COMMAND_TIMEOUT = 60  # seconds the sender should wait for a local charger's result


@post(f"{R}/commands/{{command:str}}", status_code=200)
async def command_post(request: Request, ocpi: NamedDependency[Ocpi], command: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    if command not in REQUEST_TYPES:
        raise OcpiError(404, t.INVALID_PARAMETERS, f"unknown command {command!r}")
    wire_type, to_canonical = REQUEST_TYPES[command]
    w = await ocpi.body(request, wire_type)
    if command == "START_SESSION":
        ocpi.check(rules.check_start_session(w))
    req = to_canonical(w)
    try:
        receiver = await ocpi.core.commands.route(ctx.platform, ctx.party, req, ocpi.target(ctx) or _to(ctx, ocpi))
    except errors.UnknownLocation as exc:  # the spec's answer: 2003 with a REJECTED CommandResponse
        body = wire.encode(wire.CommandResponse(result="REJECTED", timeout=0))
        return ocpi.respond(request, ctx, t.envelope(body, t.UNKNOWN_LOCATION, exc.message))
    except errors.NotPermitted as exc:
        response = model.CommandResponse(result="REJECTED", timeout=0, message=[model.DisplayText("en", exc.message[:512])])
        return ocpi.ok(request, ctx, wire.encode(m.command_response_from_canonical(response)))
    platform = ocpi.core.directory.platform_of(receiver)
    if (upstream_rules := ocpi.rules_of(platform)) is not None and command not in upstream_rules.commands:  # an upstream hub without it
        return ocpi.ok(request, ctx, wire.encode(wire.CommandResponse(result="NOT_SUPPORTED", timeout=0)))
    record = await ocpi.core.commands.open(command, ctx.party, receiver, req, w.response_url, ctx.routing.correlation_id)
    local = ocpi.core.commands.local.get("command")
    remote = ocpi.core.commands.remote.get(platform.row.protocol) if platform is not None and platform.row.protocol != PROTOCOL else None
    if platform is None or remote is not None:  # the hub's own chargers, or a platform of another protocol
        if remote is not None:
            response = await remote(record, platform)
        elif local is None:
            response = model.CommandResponse(result="NOT_SUPPORTED", timeout=0)
        else:
            response = await local(record)
        await ocpi.core.commands.responded(record.id, response)
        return ocpi.ok(request, ctx, wire.encode(m.command_response_from_canonical(response)))
    hub_url = f"{ocpi.base}/sender/commands/{command}/{record.id}"
    relayed = await ocpi.forward(
        request, ctx, receiver, "commands", "RECEIVER", command, method="POST",
        body=wire.encode(msgspec.structs.replace(w, response_url=hub_url)), params={},
    )
    await ocpi.core.commands.responded(record.id, None, failed=relayed.status_code >= 300)
    return relayed


def _to(ctx: Ctx, ocpi: Ocpi) -> model.PartyId | None:
    """OCPI-to naming a party the hub runs (its own chargers' CPO)."""
    to = ctx.routing.to_party
    return to if to is not None and to != ocpi.hub_party else None


@post(f"{S}/commands/{{command:str}}/{{command_id:str}}", status_code=200)
async def command_result(request: Request, ocpi: NamedDependency[Ocpi], command: FromPath[str], command_id: FromPath[str]) -> Reply:
    """The CPO's asynchronous CommandResult (a bare object), relayed to the eMSP's own response_url."""
    ctx = await ocpi.enter(request)
    w = await ocpi.body(request, wire.CommandResult)
    result = m.command_result_to_canonical(w)
    record = await ocpi.core.commands.get(command_id)
    sender = ocpi.core.directory.platform_of(record.sender) if record is not None else None
    if record is not None and sender is not None and sender.row.protocol != PROTOCOL:
        # a sender of another version or protocol: it gets the result from the outbox, in its own terms
        if record.receiver not in ctx.platform.parties:
            raise errors.NotFound("unknown command")
        await ocpi.core.commands.complete(record, result)
        return ocpi.ok(request, ctx)
    record = await ocpi.core.commands.result(ctx.platform, command_id, result)
    return await _relay_result(request, ocpi, ctx, record, wire.encode(w))


async def remote_command(ocpi: Ocpi, record: CommandRecord, platform: Platform) -> model.CommandResponse:
    """A command for a 2.2.1 CPO from a sender of another version or protocol: sent with the hub's response_url, the
    CPO's answer returned (its result comes back to command_result, which completes the record)."""
    base = endpoint(platform, "commands", "RECEIVER")
    if base is None:
        return model.CommandResponse(result="NOT_SUPPORTED", timeout=0)
    body = m.command_request_from_canonical(record.decoded(model.COMMANDS[record.kind]), f"{ocpi.base}/sender/commands/{record.kind}/{record.id}")
    answer = await ask(ocpi.client, ocpi.core, platform, join(base, record.kind), wire.encode(body), wire.CommandResponse,
                       f"{record.kind} to {record.receiver}", from_party=record.sender, to_party=record.receiver)
    return m.command_response_to_canonical(answer)


async def _relay_result(request: Request, ocpi: NamedDependency[Ocpi], ctx: Ctx, record, body: bytes) -> Reply:
    if ocpi.core.directory.platform_of(record.sender) is None:  # a sender the hub runs: stored is delivered
        return ocpi.ok(request, ctx)
    return await ocpi.forward(
        request, ctx, record.sender, "commands", "SENDER", url=record.response_url, method="POST", body=body, params={},
        from_party=record.receiver,
    )


# --- charging profiles -------------------------------------------------------------------------


async def _profile_request(
    request: Request, ocpi: Ocpi, ctx: Ctx, session_id: str, kind: str, response_url: str, payload: msgspec.Struct,
    body: bytes | None, params: dict[str, str],
) -> Reply:
    try:
        receiver = await ocpi.core.commands.profile_receiver(ctx.platform, ctx.party, session_id, ocpi.target(ctx) or _to(ctx, ocpi))
    except errors.UnknownSession:  # unknown, or another eMSP's: the same answer, so nothing leaks
        unknown = model.ChargingProfileResponse(result="UNKNOWN_SESSION", timeout=0)
        return ocpi.ok(request, ctx, wire.encode(m.charging_profile_response_from_canonical(unknown)))
    upstream_rules = ocpi.rules_of(ocpi.core.directory.platform_of(receiver))
    if upstream_rules is not None and not upstream_rules.charging_profiles:  # an upstream hub without them
        unsupported = model.ChargingProfileResponse(result="NOT_SUPPORTED", timeout=0)
        return ocpi.ok(request, ctx, wire.encode(m.charging_profile_response_from_canonical(unsupported)))
    record = await ocpi.core.commands.open(kind, ctx.party, receiver, payload, response_url, ctx.routing.correlation_id)
    hub_url = f"{ocpi.base}/sender/chargingprofiles/results/{record.id}"
    if ocpi.core.directory.platform_of(receiver) is None:
        local = ocpi.core.commands.local.get("profile")
        response = model.ChargingProfileResponse(result="NOT_SUPPORTED", timeout=0) if local is None else await local(record)
        await ocpi.core.commands.responded(record.id, response)
        return ocpi.ok(request, ctx, wire.encode(m.charging_profile_response_from_canonical(response)))
    if body is not None:
        body = wire.encode(msgspec.structs.replace(wire.decode(body, wire.SetChargingProfile), response_url=hub_url))
    else:
        params = {**params, "response_url": hub_url}
    relayed = await ocpi.forward(request, ctx, receiver, "chargingprofiles", "RECEIVER", session_id, method=request.method, body=body, params=params)
    await ocpi.core.commands.responded(record.id, None, failed=relayed.status_code >= 300)
    return relayed


@get(f"{R}/chargingprofiles/{{session_id:str}}")
async def profile_get(request: Request, ocpi: NamedDependency[Ocpi], session_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    response_url = request.query_params.get("response_url")
    if not response_url:
        raise OcpiError(200, t.INVALID_PARAMETERS, "response_url is required")
    duration = t.parse_int(request.query_params.get("duration"), "duration", 0)
    payload = model.GetActiveChargingProfile(session_id=session_id, duration=duration)
    return await _profile_request(request, ocpi, ctx, session_id, "GET_PROFILE", response_url, payload, None, {"duration": str(duration)})


@put(f"{R}/chargingprofiles/{{session_id:str}}")
async def profile_put(request: Request, ocpi: NamedDependency[Ocpi], session_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    w = await ocpi.body(request, wire.SetChargingProfile)
    payload = model.SetChargingProfile(session_id=session_id, charging_profile=m.charging_profile_to_canonical(w.charging_profile))
    return await _profile_request(request, ocpi, ctx, session_id, "SET_PROFILE", w.response_url, payload, wire.encode(w), {})


@delete(f"{R}/chargingprofiles/{{session_id:str}}", status_code=200)
async def profile_delete(request: Request, ocpi: NamedDependency[Ocpi], session_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    response_url = request.query_params.get("response_url")
    if not response_url:
        raise OcpiError(200, t.INVALID_PARAMETERS, "response_url is required")
    payload = model.ClearChargingProfile(session_id=session_id)
    return await _profile_request(request, ocpi, ctx, session_id, "CLEAR_PROFILE", response_url, payload, None, {})


RESULT_TYPES = {"GET_PROFILE": wire.ActiveChargingProfileResult, "SET_PROFILE": wire.ChargingProfileResult, "CLEAR_PROFILE": wire.ClearProfileResult}


@post(f"{S}/chargingprofiles/results/{{command_id:str}}", status_code=200)
async def profile_result(request: Request, ocpi: NamedDependency[Ocpi], command_id: FromPath[str]) -> Reply:
    ctx = await ocpi.enter(request)
    record = await ocpi.core.commands.get(command_id)
    if record is None or record.kind not in RESULT_TYPES:
        raise errors.NotFound("unknown charging profile request")
    w = await ocpi.body(request, RESULT_TYPES[record.kind])
    record = await ocpi.core.commands.result(ctx.platform, command_id, w)
    if ocpi.core.directory.platform_of(record.sender) is None:
        return ocpi.ok(request, ctx)
    return await ocpi.forward(
        request, ctx, record.sender, "chargingprofiles", "SENDER", url=record.response_url, method="POST",
        body=wire.encode(w), params={}, from_party=record.receiver,
    )


@put(f"{S}/chargingprofiles/{{session_id:str}}")
async def active_profile_put(request: Request, ocpi: NamedDependency[Ocpi], session_id: FromPath[str]) -> Reply:
    """The CPO reports a changed ActiveChargingProfile: relayed to whoever last set a profile on the session."""
    ctx = await ocpi.enter(request)
    w = await ocpi.body(request, wire.ActiveChargingProfile)
    setter = await ocpi.core.commands.latest_profile_setter(session_id, ctx.party)
    if setter is None:
        raise errors.NotFound(f"nobody set a charging profile on session {session_id}")
    if ocpi.core.directory.platform_of(setter.sender) is None:
        return ocpi.ok(request, ctx)
    return await ocpi.forward(request, ctx, setter.sender, "chargingprofiles", "SENDER", session_id, method="PUT", body=wire.encode(w), params={})


HANDLERS = [command_post, command_result, profile_get, profile_put, profile_delete, profile_result, active_profile_put]
