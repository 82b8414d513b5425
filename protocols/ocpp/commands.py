"""eMSPs' commands and charging profiles, run on the hub's own chargers.

The core hands a recorded request here when its receiver is a CPO whose chargers the hub runs. The
synchronous answer says whether the charger can be asked (it is connected); the charger's answer then
becomes the asynchronous result, which the core sends to the eMSP's response_url. A call that times out
is TIMEOUT; a charger that is gone, FAILED; the hub refuses to start on an EVSE it knows is busy or broken.

`run` (the core's Commands.runner) is the same in one step, for requests answered at once (the partner API's):
the charger's answer is returned; a charger that cannot be asked is the core's error (errors.ReceiverOffline,
UnknownReceiver, UnknownSession).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from hub import model
from hub.model import PartyId
from hub.services.charging import Charging, evse_uid
from hub.services.commands import CommandRecord, Commands
from hub.services import errors
from hub.services.errors import NotFound
from hub.store import chargers as store
from hub.store.chargers import Charger
from protocols.ocpp import v16, v201
from protocols.ocpp.rpc import RpcError
from protocols.ocpp.server import ChargerOffline, OcppServer

log = logging.getLogger(__name__)

REQUEST = {**model.COMMANDS,
           "SET_PROFILE": model.SetChargingProfile, "GET_PROFILE": model.GetActiveChargingProfile,
           "CLEAR_PROFILE": model.ClearChargingProfile,
           # a CPO's own requests (the partner API): START_CHARGE is a START_SESSION that authorizes nothing by itself
           # (charging.py lets a recent START_SESSION authorize the start: the token's eMSP sent that one, a CPO this)
           "START_CHARGE": model.StartSession, "RESET": model.ResetCharger, "SET_EVSE_PROFILE": model.EvseChargingProfile}
DEFAULT_PROFILE_ID = 2_000_000_000  # + the EVSE's number: the id of its TxDefaultProfile, so a new one replaces it


class Refused(Exception):
    """The command cannot be passed on: the synchronous answer says so."""

    def __init__(self, result: str, message: str, error: type[errors.HubError] = errors.ReceiverOffline) -> None:
        super().__init__(message)
        self.result = result
        self.message = message
        self.error = error  # what it is when the answer is awaited (run)


class Target(msgspec.Struct):
    charger: Charger
    evse_no: int | None = None
    connector_no: int | None = None
    transaction: str | None = None
    reservation: int | None = None


class ChargerCommands:
    def __init__(self, server: OcppServer, charging: Charging, commands: Commands) -> None:
        self.server = server
        self.charging = charging
        self.commands = commands
        self.timeout = int(server.settings.ocpp_call_timeout + 15)
        self._tasks: set[asyncio.Task] = set()

    def install(self) -> None:
        self.commands.local["command"] = self.command
        self.commands.local["profile"] = self.profile
        self.commands.runner = self.run

    # --- the synchronous half -----------------------------------------------------------------------

    async def command(self, record: CommandRecord) -> model.CommandResponse:
        request = record.decoded(REQUEST[record.kind])
        try:
            target = await self._target(record, request)
            early = await self._known_state(target, request)
        except Refused as refused:
            return model.CommandResponse(result=refused.result, timeout=0, message=[model.DisplayText("en", refused.message)])  # type: ignore[arg-type]
        self._later(self._command(record, request, target, early))
        return model.CommandResponse(result="ACCEPTED", timeout=self.timeout)

    async def profile(self, record: CommandRecord) -> model.ChargingProfileResponse:
        request = record.decoded(REQUEST[record.kind])
        try:
            target = await self._session_target(record.receiver, request.session_id)
        except Refused as refused:
            return model.ChargingProfileResponse(result=refused.result, timeout=0)  # type: ignore[arg-type]
        self._later(self._profile(record, request, target))
        return model.ChargingProfileResponse(result="ACCEPTED", timeout=self.timeout)

    async def run(self, record: CommandRecord) -> model.CommandResult:
        """The charger's answer to a request, awaited."""
        request = record.decoded(REQUEST[record.kind])
        try:
            target = await self._target(record, request)
        except Refused as refused:
            raise refused.error(refused.message) from None
        return await self._known_state(target, request) or await self._outcome(record, request, target)

    def _later(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _target(self, record: CommandRecord, request: Any) -> Target:
        cpo = record.receiver
        if isinstance(request, model.StopSession):
            return await self._session_target(cpo, request.session_id)
        if isinstance(request, model.CancelReservation):
            return await self._reservation_target(record.sender, request.reservation_id)
        chargers = await self.charging.db.read(lambda conn: store.at_location(conn, cpo, request.location_id))
        uid = getattr(request, "evse_uid", None)
        for charger in chargers:
            prefix = f"{charger.identity.upper()}-"
            if uid is None or uid.upper().startswith(prefix):
                evse_no = int(uid.upper()[len(prefix):]) if uid else None
                connector = getattr(request, "connector_id", None)
                if charger.instance is None:
                    raise Refused("REJECTED", f"charger {charger.identity} is not connected")
                return Target(charger, evse_no, int(connector) if connector and connector.isdigit() else None)
        raise Refused("REJECTED", f"no charger for EVSE {uid} at location {request.location_id}", errors.UnknownReceiver)

    async def _session_target(self, cpo: PartyId, session_id: str) -> Target:
        found = await self.charging.session_of(cpo, session_id)
        if found is None:
            raise Refused("UNKNOWN_SESSION", f"no active session {session_id}", errors.UnknownSession)
        identity, transaction = found
        charger = await self.charging.db.read(lambda conn: store.get(conn, identity))
        if charger is None or charger.instance is None:
            raise Refused("REJECTED", f"charger {identity} is not connected")
        row = await self.charging.db.read(lambda conn: store.find_transaction(conn, identity, transaction))
        state = msgspec.json.decode(row.state)
        evse_no = int(state["evse_uid"].rsplit("-", 1)[1])
        return Target(charger, evse_no, int(state["connector_id"]), transaction)

    async def _reservation_target(self, emsp: PartyId, reservation_id: str) -> Target:
        row = await self.charging.db.read(lambda conn: store.reservation(conn, emsp, reservation_id))
        charger = row and await self.charging.db.read(lambda conn: store.get(conn, row.charger))
        if not charger:
            raise Refused("REJECTED", f"unknown reservation {reservation_id}", errors.NotFound)
        if charger.instance is None:
            raise Refused("REJECTED", f"charger {charger.identity} is not connected")
        return Target(charger, reservation=row.id)

    async def _known_state(self, target: Target, request: Any) -> model.CommandResult | None:
        """What the hub already knows makes calling the charger pointless."""
        if not isinstance(request, model.StartSession) or target.evse_no is None:
            return None
        charger = target.charger
        evse = await self.charging.objects.evse(charger.party, charger.location_id, evse_uid(charger.identity, target.evse_no))
        if evse is not None and evse.status == "CHARGING":
            return model.CommandResult(result="EVSE_OCCUPIED")
        if evse is not None and evse.status in ("OUTOFORDER", "INOPERATIVE"):
            return model.CommandResult(result="EVSE_INOPERATIVE")
        return None

    # --- the asynchronous half ---------------------------------------------------------------------------

    async def _call(self, charger: Charger, action_payload: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        action, payload = action_payload
        return await self.server.call(charger.identity, action, payload)

    async def _command(self, record: CommandRecord, request: Any, target: Target, early: model.CommandResult | None) -> None:
        await self.commands.complete(record, early or await self._outcome(record, request, target))

    async def _outcome(self, record: CommandRecord, request: Any, target: Target) -> model.CommandResult:
        """The charger's answer as a CommandResult, also when it has none (TIMEOUT, FAILED)."""
        try:
            result = await self._run(record, request, target)
        except asyncio.TimeoutError:
            result = model.CommandResult(result="TIMEOUT")
        except ChargerOffline:
            result = model.CommandResult(result="FAILED", message=[model.DisplayText("en", "the charger disconnected")])
        except (RpcError, NotFound) as exc:
            code = getattr(exc, "code", "")
            result = model.CommandResult(result="NOT_SUPPORTED" if code in ("NotImplemented", "NotSupported") else "FAILED",
                                         message=[model.DisplayText("en", str(exc)[:512])])
        except Exception:
            log.exception("command %s failed", record.id)
            result = model.CommandResult(result="FAILED")
        return result

    async def _run(self, record: CommandRecord, request: Any, target: Target) -> model.CommandResult:
        charger, old = target.charger, charger_is_16(target.charger)
        v = v16 if old else v201
        if isinstance(request, model.StartSession):
            call = v16.remote_start(request, target.evse_no) if old else v201.remote_start(request, target.evse_no, _small_id(record.id))
            answer = await self._call(charger, call)
            return model.CommandResult(result=v.START_STOP_RESULT.get(answer["status"], "REJECTED"))
        if isinstance(request, model.StopSession):
            answer = await self._call(charger, v.remote_stop(target.transaction))  # type: ignore[arg-type]
            return model.CommandResult(result=v.START_STOP_RESULT.get(answer["status"], "REJECTED"))
        if isinstance(request, model.ReserveNow):
            reservation = await self.charging.db.write(lambda tx: store.reserve(tx, charger.identity, record.sender, request.reservation_id))
            call = v16.reserve_now(request, target.evse_no or 0, reservation) if old else v201.reserve_now(request, target.evse_no, reservation)
            answer = await self._call(charger, call)
            return model.CommandResult(result=v.RESERVE_RESULT.get(answer["status"], "REJECTED"))
        if isinstance(request, model.CancelReservation):
            answer = await self._call(charger, v.cancel_reservation(target.reservation))  # type: ignore[arg-type]
            return model.CommandResult(result=v.CANCEL_RESULT.get(answer["status"], "UNKNOWN_RESERVATION"))
        if isinstance(request, model.UnlockConnector):
            call = v16.unlock(target.evse_no or 1) if old else v201.unlock(target.evse_no or 1, target.connector_no or 1)
            answer = await self._call(charger, call)
            return model.CommandResult(result=v.UNLOCK_RESULT.get(answer["status"], "FAILED"))
        if isinstance(request, model.ResetCharger):
            answer = await self._call(charger, v.reset(request.hard))
            scheduled = [model.DisplayText("en", "after the running transactions")] if answer["status"] == "Scheduled" else []
            return model.CommandResult(result=v.RESET_RESULT.get(answer["status"], "REJECTED"), message=scheduled)
        if isinstance(request, model.EvseChargingProfile):
            return await self._evse_profile(record, request, target)
        raise NotFound(f"{record.kind} cannot be run on a charger")

    async def _evse_profile(self, record: CommandRecord, request: model.EvseChargingProfile, target: Target) -> model.CommandResult:
        """On the transaction running at the EVSE (TxProfile), else as the EVSE's default (TxDefaultProfile)."""
        charger, v = target.charger, v16 if charger_is_16(target.charger) else v201
        evse_no = target.evse_no or 1
        transaction = None
        for session in await self.charging.objects.active_sessions_at(charger.party, request.location_id, request.evse_uid):
            found = await self.charging.session_of(charger.party, session.id)
            if found is not None and found[0] == charger.identity:
                transaction = found[1]
                break
        if transaction is None:
            profile_id = DEFAULT_PROFILE_ID + evse_no
        else:
            profile_id = int(transaction) if transaction.isdigit() else _small_id(transaction)
        answer = await self._call(charger, v.set_profile(request.charging_profile, evse_no, transaction, profile_id))
        result = v.PROFILE_RESULT.get(answer["status"], "REJECTED")
        return model.CommandResult(result="ACCEPTED" if result == "ACCEPTED" else "REJECTED")

    async def _profile(self, record: CommandRecord, request: Any, target: Target) -> None:
        charger, old = target.charger, charger_is_16(target.charger)
        v = v16 if old else v201
        profile_id = int(target.transaction) if (target.transaction or "").isdigit() else _small_id(target.transaction or record.id)
        place = target.connector_no if old else target.evse_no
        try:
            if isinstance(request, model.SetChargingProfile):
                answer = await self._call(charger, v.set_profile(request.charging_profile, place or 1, target.transaction, profile_id))  # type: ignore[arg-type]
                result = model.ChargingProfileResult(result=v.PROFILE_RESULT.get(answer["status"], "REJECTED"))
            elif isinstance(request, model.GetActiveChargingProfile):
                answer = await self._call(charger, v.composite_schedule(place or 1, request.duration))
                profile = v.active_profile(answer)
                result = model.ChargingProfileResult(result="ACCEPTED" if profile else "REJECTED", profile=profile)
            else:
                answer = await self._call(charger, v.clear_profile(profile_id))
                result = model.ChargingProfileResult(result="ACCEPTED" if answer.get("status") == "Accepted" else "UNKNOWN")
        except (asyncio.TimeoutError, ChargerOffline, RpcError) as exc:
            log.warning("charging profile %s on %s: %s", record.kind, charger.identity, exc)
            result = model.ChargingProfileResult(result="REJECTED")
        await self.commands.complete(record, result)


def charger_is_16(charger: Charger) -> bool:
    return (charger.protocol or "ocpp1.6") == "ocpp1.6"


def _small_id(text: str) -> int:
    """A positive 31-bit integer from an id string (OCPP wants integers where OCPI has strings)."""
    return int(text[:8], 16) & 0x7FFFFFFF if all(c in "0123456789abcdefABCDEF" for c in text[:8]) else abs(hash(text)) & 0x7FFFFFFF
