"""The partner API's commands: POSTs that ask a charger of the hub's own OCPP central system, answered with what the
charger answered (within HUB_OCPP_CALL_TIMEOUT).

- `POST /charges {chargePointId, chargeAuthTokenId}`: start a charge (OCPP RemoteStartTransaction / 2.0.1
  RequestStartTransaction); `POST /charges/{id}/stop`: stop it (RemoteStop / RequestStopTransaction);
- `POST /charge-points/{id}/unlock` (its first connector), `.../reboot {type: soft|hard}` (OCPP Reset of the charger
  behind it: the whole charger, whose other charge points restart too), `.../set-charging-profile {a profile}`:
  on the running charge's transaction, else as the charge point's default for charges to come.

Who: the charge point's (or charge's) CPO, or an admin. What the credential cannot see is 404, as on reads; what it
sees without owning it (an eMSP sees charge points, and charges of its tokens) is 403: it knows the object is there.
A charge point the hub's central system does not run is 409 CHARGE_POINT_NOT_CONTROLLABLE, one whose charger is not
connected 409 CHARGE_POINT_OFFLINE, a charge no longer running 409 CONFLICT, a blocked token 409 CONFLICT.

The answer is 200 `{id, type, status, message, chargePointId, chargeId}` whenever the charger was asked: status
accepted, rejected (the charger's no, or the hub's when it knows the charge point is in use or out of order), failed
(an OCPP error, or the charger went away while asked) or timeout (no answer in time: it may still act). A timeout is
not a 504: the hub did its part, and a 5xx invites a blind retry that could start a second charge.

A start is authorized as any start at that charger is (the token's whitelist, or its eMSP in real time): a CPO's
request is not the token eMSP's consent, as an eMSP's own START_SESSION is. Everything goes through the core
(Commands.run, served by the OCPP central system), which records each command; this package knows no OCPP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from hub import model
from hub.model import PartyId
from hub.services import errors
from hub.services.consumers import Consumer
from hub.services.listing import EvseView
from hub.edge import Reply
from protocols.partner import ids, inbound, mapping, wire
from protocols.partner.api import Partner
from protocols.partner.idempotency import once
from protocols.partner.resources import CHARGE_POINTS, CHARGES, TOKENS, Key, fetch_one
from protocols.partner.transport import API, ApiError, body, decode, encode


def _missing(noun: str, text: str, field: str | None) -> ApiError:
    return ApiError("RESOURCE_NOT_FOUND", f"no {noun} {text[:80]}", context={"field": field} if field else None)


def _controllable(view: EvseView | None, text: str) -> EvseView:
    if view is None or view.charger is None:
        raise ApiError("CHARGE_POINT_NOT_CONTROLLABLE", f"charge point {text[:80]} is not a charger of the hub's central system")
    if not view.charger.connected:
        raise ApiError("CHARGE_POINT_OFFLINE", f"the charger of charge point {text[:80]} is not connected")
    return view


async def _charge_point(partner: Partner, consumer: Consumer, text: str, field: str | None = None) -> tuple[PartyId, EvseView]:
    """(owner, view) of a charge point the consumer may command, connected to the hub's central system."""
    view = await fetch_one(partner, consumer, CHARGE_POINTS, CHARGE_POINTS.key(text))
    if view is None:
        raise _missing(CHARGE_POINTS.noun, text, field)
    owner = PartyId.of(view.location.country_code, view.location.party_id)
    partner.consumers.commands(consumer, owner, CHARGE_POINTS.noun)
    return owner, _controllable(view, text)


async def _run(request: Request, partner: Partner, consumer: Consumer, type_: wire.CommandType, kind: str, owner: PartyId,
               command: msgspec.Struct, charge_point_id: str, charge_id: str | None = None) -> Reply:
    sender = consumer.party or partner.core.directory.hub_party
    try:
        command_id, result = await partner.core.commands.run(kind, sender, owner, command)
    except errors.ReceiverOffline as exc:  # it went away since it was looked at
        raise ApiError("CHARGE_POINT_OFFLINE", exc.message) from None
    except errors.UnknownReceiver as exc:
        raise ApiError("CHARGE_POINT_NOT_CONTROLLABLE", exc.message) from None
    except errors.UnknownSession:
        raise ApiError("CONFLICT", f"charge {charge_id} is not running") from None
    return partner.ok(request, encode(mapping.command_result(command_id, type_, result, charge_point_id, charge_id)))


# --- charges -------------------------------------------------------------------------------------------------


async def _start(request: Request, partner: Partner, consumer: Consumer) -> Reply:
    data = await body(request, wire.ChargeStart)
    owner, view = await _charge_point(partner, consumer, data.charge_point_id, "chargePointId")
    token = await fetch_one(partner, consumer, TOKENS, TOKENS.key(data.charge_auth_token_id))
    if token is None:
        raise _missing(TOKENS.noun, data.charge_auth_token_id, "chargeAuthTokenId")
    if not token.valid:
        raise ApiError("CONFLICT", f"charge auth token {data.charge_auth_token_id[:80]} is blocked", context={"field": "chargeAuthTokenId"})
    start = model.StartSession(token=token, location_id=view.location.id, evse_uid=view.evse.uid)
    return await _run(request, partner, consumer, "start", "START_CHARGE", owner, start, ids.make(owner, view.evse.uid))


async def _stop(request: Request, partner: Partner, consumer: Consumer, text: str) -> Reply:
    session = await fetch_one(partner, consumer, CHARGES, CHARGES.key(text))
    if session is None:
        raise _missing(CHARGES.noun, text, None)
    owner = session.owner_party
    partner.consumers.commands(consumer, owner, CHARGES.noun)
    point_id = ids.make(owner, session.evse_uid)
    evse: Key = (owner.country_code, owner.party_id, session.evse_uid.upper())
    _controllable(await fetch_one(partner, consumer, CHARGE_POINTS, evse), point_id)
    stop = model.StopSession(session_id=session.id)
    return await _run(request, partner, consumer, "stop", "STOP_SESSION", owner, stop, point_id, ids.make(owner, session.id))


# --- charge points -------------------------------------------------------------------------------------------


async def _unlock(request: Request, partner: Partner, consumer: Consumer, text: str) -> Reply:
    owner, view = await _charge_point(partner, consumer, text)
    connector = view.evse.connectors[0].id if view.evse.connectors else "1"
    unlock = model.UnlockConnector(location_id=view.location.id, evse_uid=view.evse.uid, connector_id=connector)
    return await _run(request, partner, consumer, "unlock", "UNLOCK_CONNECTOR", owner, unlock, ids.make(owner, view.evse.uid))


async def _reboot(request: Request, partner: Partner, consumer: Consumer, text: str) -> Reply:
    raw = await request.body()
    data = decode(raw, wire.Reboot) if raw.strip() else wire.Reboot()  # the body is optional: a soft reboot
    owner, view = await _charge_point(partner, consumer, text)
    reset = model.ResetCharger(location_id=view.location.id, evse_uid=view.evse.uid, hard=data.type == "hard")
    return await _run(request, partner, consumer, "reboot", "RESET", owner, reset, ids.make(owner, view.evse.uid))


async def _set_profile(request: Request, partner: Partner, consumer: Consumer, text: str) -> Reply:
    profile = inbound.charging_profile(await body(request, wire.ChargingProfileInput))
    owner, view = await _charge_point(partner, consumer, text)
    command = model.EvseChargingProfile(location_id=view.location.id, evse_uid=view.evse.uid, charging_profile=profile)
    return await _run(request, partner, consumer, "set-charging-profile", "SET_EVSE_PROFILE", owner, command, ids.make(owner, view.evse.uid))


# --- routes --------------------------------------------------------------------------------------------------

Run = Callable[[Request, Partner, Consumer, str], Awaitable[Reply]]


def _on_one(entity: str, action: str, run: Run, summary: str) -> Any:
    """`POST /{entity}/{id}/{action}` (scope `{entity}:write`, Idempotency-Key)."""

    async def handler(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
        partner.need(consumer, entity, "write")
        return await once(request, partner, consumer, lambda: run(request, partner, consumer, id))

    name = f"{entity}_{action}".replace("-", "_")
    return post(f"{API}/{entity}/{{id:str}}/{action}", name=name, operation_id=name, status_code=200, summary=summary)(handler)


@post(f"{API}/{CHARGES.entity}", name="charges_start", operation_id="start_charges", status_code=200,
      summary="Start a charge on a charge point of the hub's central system: the charger's answer")
async def start_charge(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
    partner.need(consumer, CHARGES.entity, "write")
    return await once(request, partner, consumer, lambda: _start(request, partner, consumer))


HANDLERS = [
    start_charge,
    _on_one(CHARGES.entity, "stop", _stop, "Stop a running charge: the charger's answer"),
    _on_one(CHARGE_POINTS.entity, "unlock", _unlock, "Unlock the charge point's connector: the charger's answer"),
    _on_one(CHARGE_POINTS.entity, "reboot", _reboot, "Restart the charger behind the charge point (soft: when idle): its answer"),
    _on_one(CHARGE_POINTS.entity, "set-charging-profile", _set_profile,
            "Limit the charge point's power: the running charge's, else the charges to come: the charger's answer"),
]
