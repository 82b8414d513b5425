"""OCPP 2.0.1 messages the hub handles, and their translation to and from the canonical model. Pure.

A 2.0.1 EVSE (evseId) is an OCPI EVSE, its connectors (connectorId) OCPI connectors; evseId 0 is the
station. Transactions are reported by TransactionEvent (Started, Updated, Ended) under the station's
own transaction id.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from ocpp.v201.enums import ConnectorStatusEnumType, RegistrationStatusEnumType, RequestStartStopStatusEnumType

from hub import model
from protocols.ocpp import signed


class _M(msgspec.Struct, rename="camel", kw_only=True):
    """A 2.0.1 payload (already checked against the official schema; what the schema leaves unbounded is bounded
    here, so a value that fits it but not the hub is a PropertyConstraintViolation, never an error later)."""


PLAUSIBLE = Decimal(10) ** 12  # a meter reading (Wh, W, A) beyond is nonsense, and could overflow the arithmetic
EvseNo = Annotated[int, msgspec.Meta(ge=0, le=999)]  # an EVSE uid `<identity>-<n>` stays within 36 characters


class ChargingStation(_M):
    model: str
    vendor_name: str
    serial_number: str | None = None
    firmware_version: str | None = None


class BootNotification(_M):
    charging_station: ChargingStation
    reason: str


class StatusNotification(_M):
    timestamp: datetime
    connector_status: str
    evse_id: EvseNo
    connector_id: EvseNo


class IdToken(_M):
    id_token: str
    type: str


class Authorize(_M):
    id_token: IdToken


class UnitOfMeasure(_M):
    unit: str = "Wh"
    multiplier: Annotated[int, msgspec.Meta(ge=-9, le=9)] = 0


class SignedMeterValue(_M):
    signed_meter_data: str
    signing_method: str
    encoding_method: str
    public_key: str


class SampledValue(_M):
    value: Decimal
    context: str | None = None
    measurand: str | None = None
    phase: str | None = None
    location: str | None = None
    unit_of_measure: UnitOfMeasure | None = None
    signed_meter_value: SignedMeterValue | None = None


class MeterValue(_M):
    timestamp: datetime
    sampled_value: list[SampledValue]


class MeterValues(_M):
    evse_id: EvseNo
    meter_value: list[MeterValue]


class TransactionInfo(_M):
    transaction_id: str
    charging_state: str | None = None
    stopped_reason: str | None = None
    remote_start_id: int | None = None


class Evse(_M):
    id: EvseNo
    connector_id: EvseNo | None = None


class TransactionEvent(_M):
    event_type: str  # Started, Updated, Ended
    timestamp: datetime
    trigger_reason: str
    seq_no: Annotated[int, msgspec.Meta(ge=0, le=2**53)]
    transaction_info: TransactionInfo
    offline: bool = False
    evse: Evse | None = None
    id_token: IdToken | None = None
    meter_value: list[MeterValue] | None = None
    reservation_id: int | None = None


MESSAGES: dict[str, type] = {
    "BootNotification": BootNotification, "StatusNotification": StatusNotification, "Authorize": Authorize,
    "MeterValues": MeterValues, "TransactionEvent": TransactionEvent,
}

STATUS: dict[str, model.EvseStatus] = {
    ConnectorStatusEnumType.available: "AVAILABLE",
    ConnectorStatusEnumType.occupied: "CHARGING",
    ConnectorStatusEnumType.reserved: "RESERVED",
    ConnectorStatusEnumType.unavailable: "INOPERATIVE",
    ConnectorStatusEnumType.faulted: "OUTOFORDER",
}
AUTHORIZATION: dict[str, str] = {
    "ALLOWED": "Accepted", "BLOCKED": "Blocked", "EXPIRED": "Expired", "NO_CREDIT": "NoCredit", "NOT_ALLOWED": "Invalid",
}
REFUSAL: dict[model.AuthorizationRefusal, str] = {"CONCURRENT_TX": "ConcurrentTx", "NOT_AT_THIS_LOCATION": "NotAtThisLocation",
                                                  "NOT_AT_THIS_TIME": "NotAtThisTime"}
# IdTokenEnumType -> the OCPI token type to look for (None: any)
TOKEN_TYPE: dict[str, str | None] = {"ISO14443": "RFID", "ISO15693": "RFID", "Central": None, "eMAID": None, "KeyCode": "OTHER",
                                     "Local": "OTHER", "MacAddress": "OTHER", "NoAuthorization": "OTHER"}
CONTRACT = "eMAID"  # an ISO 15118 contract id: the token is found by its contract_id, not its uid
ENERGY = "Energy.Active.Import.Register"


def boot_info(m: BootNotification) -> dict[str, Any]:
    s = m.charging_station
    return {"vendor": s.vendor_name, "model": s.model, "serial": s.serial_number, "firmware": s.firmware_version, "reason": m.reason}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def boot_accepted(interval: int) -> dict[str, Any]:
    return {"status": RegistrationStatusEnumType.accepted, "currentTime": now(), "interval": interval}


def id_token_info(auth: model.Authorization, known: bool = True) -> dict[str, Any]:
    status = REFUSAL[auth.refusal] if auth.refusal else AUTHORIZATION[auth.allowed] if known else "Unknown"
    return {"idTokenInfo": {"status": status}}


def _value(sv: SampledValue) -> Decimal | None:
    if not sv.value.is_finite() or abs(sv.value) >= PLAUSIBLE:
        return None
    unit = sv.unit_of_measure or UnitOfMeasure()
    scale = Decimal(10) ** unit.multiplier
    factor = 1000 if unit.unit in ("kWh", "kW") else 1
    return sv.value * scale * factor


def samples(values: list[MeterValue] | None) -> list[model.MeterReading]:
    """Energy register (Wh), power (W) and current (A) readings, the energy register's signed form with them."""
    out = []
    for mv in values or []:
        energy = power = current = None
        signed_energy: model.SignedReading | None = None
        for sv in mv.sampled_value:
            measurand = sv.measurand or ENERGY
            if sv.phase and measurand != "Current.Import":
                continue
            if measurand == ENERGY and sv.location in (None, "Outlet"):
                energy = _value(sv)
                signed_energy = _signed(sv, energy) or signed_energy
            elif measurand == "Power.Active.Import":
                power = _value(sv)
            elif measurand == "Current.Import" and current is None:
                current = _value(sv)
        out.append(model.MeterReading(timestamp=mv.timestamp, energy_wh=energy, power_w=power, current_a=current, signed=signed_energy))
    return out


def _signed(sv: SampledValue, energy: Decimal | None) -> model.SignedReading | None:
    s = sv.signed_meter_value
    return None if s is None else signed.reading(s.signed_meter_data, sv.context, s.encoding_method, s.public_key, energy)


# --- the hub's calls to a 2.0.1 station -----------------------------------------------------------------


def _id_token(token: model.Token) -> dict[str, Any]:
    return {"idToken": token.uid, "type": "ISO14443" if token.type == "RFID" else "Central"}


def remote_start(cmd: model.StartSession, evse_id: int | None, remote_start_id: int) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {"idToken": _id_token(cmd.token), "remoteStartId": remote_start_id}
    if evse_id is not None:
        payload["evseId"] = evse_id
    if cmd.token.group_id:
        payload["groupIdToken"] = {"idToken": cmd.token.group_id, "type": "Central"}
    return "RequestStartTransaction", payload


def remote_stop(transaction_id: str) -> tuple[str, dict[str, Any]]:
    return "RequestStopTransaction", {"transactionId": transaction_id}


def reserve_now(cmd: model.ReserveNow, evse_id: int | None, reservation: int) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {"id": reservation, "expiryDateTime": cmd.expiry_date.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "idToken": _id_token(cmd.token)}
    if evse_id is not None:
        payload["evseId"] = evse_id
    return "ReserveNow", payload


def cancel_reservation(reservation: int) -> tuple[str, dict[str, Any]]:
    return "CancelReservation", {"reservationId": reservation}


def unlock(evse_id: int, connector_id: int) -> tuple[str, dict[str, Any]]:
    return "UnlockConnector", {"evseId": evse_id, "connectorId": connector_id}


def set_profile(profile: model.ChargingProfile, evse_id: int, transaction_id: str | None, profile_id: int) -> tuple[str, dict[str, Any]]:
    """The transaction's TxProfile; without a transaction, the EVSE's TxDefaultProfile (its charges to come)."""
    schedule: dict[str, Any] = {
        "id": profile_id, "chargingRateUnit": profile.charging_rate_unit,
        "chargingSchedulePeriod": [{"startPeriod": p.start_period, "limit": float(p.limit)} for p in profile.charging_profile_period]
        or [{"startPeriod": 0, "limit": 0.0}],
    }
    if profile.duration is not None:
        schedule["duration"] = profile.duration
    if profile.start_date_time is not None:
        schedule["startSchedule"] = profile.start_date_time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if profile.min_charging_rate is not None:
        schedule["minChargingRate"] = float(profile.min_charging_rate)
    charging: dict[str, Any] = {
        "id": profile_id, "stackLevel": 1, "chargingProfilePurpose": "TxProfile" if transaction_id else "TxDefaultProfile",
        "chargingProfileKind": "Absolute" if profile.start_date_time else "Relative", "chargingSchedule": [schedule],
    }
    if transaction_id:
        charging["transactionId"] = transaction_id
    return "SetChargingProfile", {"evseId": evse_id, "chargingProfile": charging}


def reset(hard: bool) -> tuple[str, dict[str, Any]]:
    """The whole station restarts: at once (hard), or once its transactions have ended (soft: OnIdle)."""
    return "Reset", {"type": "Immediate" if hard else "OnIdle"}


def composite_schedule(evse_id: int, duration: int) -> tuple[str, dict[str, Any]]:
    return "GetCompositeSchedule", {"evseId": evse_id, "duration": duration or 3600}


def clear_profile(profile_id: int) -> tuple[str, dict[str, Any]]:
    return "ClearChargingProfile", {"chargingProfileId": profile_id}


def active_profile(result: dict[str, Any]) -> model.ActiveChargingProfile | None:
    schedule = result.get("schedule")
    if result.get("status") != "Accepted" or not schedule:
        return None
    start = schedule.get("scheduleStart")
    return model.ActiveChargingProfile(
        start_date_time=datetime.fromisoformat(start.replace("Z", "+00:00")) if start else datetime.now(timezone.utc).replace(microsecond=0),
        charging_profile=model.ChargingProfile(
            charging_rate_unit=schedule["chargingRateUnit"], duration=schedule.get("duration"),
            charging_profile_period=[model.ChargingProfilePeriod(p["startPeriod"], Decimal(str(p["limit"])))
                                     for p in schedule.get("chargingSchedulePeriod", [])],
        ),
    )


START_STOP_RESULT: dict[str, model.CommandResultType] = {RequestStartStopStatusEnumType.accepted: "ACCEPTED",
                                                         RequestStartStopStatusEnumType.rejected: "REJECTED"}
RESERVE_RESULT: dict[str, model.CommandResultType] = {"Accepted": "ACCEPTED", "Occupied": "EVSE_OCCUPIED", "Faulted": "EVSE_INOPERATIVE",
                                                      "Unavailable": "EVSE_INOPERATIVE", "Rejected": "REJECTED"}
CANCEL_RESULT: dict[str, model.CommandResultType] = {"Accepted": "ACCEPTED", "Rejected": "UNKNOWN_RESERVATION"}
UNLOCK_RESULT: dict[str, model.CommandResultType] = {"Unlocked": "ACCEPTED", "UnlockFailed": "FAILED", "OngoingAuthorizedTransaction": "REJECTED",
                                                     "UnknownConnector": "REJECTED"}
PROFILE_RESULT: dict[str, model.ChargingProfileResultType] = {"Accepted": "ACCEPTED", "Rejected": "REJECTED"}
RESET_RESULT: dict[str, model.CommandResultType] = {"Accepted": "ACCEPTED", "Scheduled": "ACCEPTED", "Rejected": "REJECTED"}
