"""OCPP 1.6J messages the hub handles, and their translation to and from the canonical model. Pure.

A 1.6 connectorId is an EVSE of its own (OCPI: one EVSE per 1.6 connector, with connector "1");
connectorId 0 is the whole charge point.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from ocpp.v16.enums import AuthorizationStatus, ChargePointStatus, RegistrationStatus, RemoteStartStopStatus

from hub import model
from protocols.ocpp import signed


class _M(msgspec.Struct, rename="camel", kw_only=True):
    """A 1.6 payload (already checked against the official schema; what the schema leaves unbounded is bounded
    here, so a value that fits it but not the hub is a PropertyConstraintViolation, never an error later)."""


PLAUSIBLE = 10**12  # a meter reading (Wh, W, A) beyond is nonsense, and could overflow the arithmetic
ConnectorNo = Annotated[int, msgspec.Meta(ge=0, le=999)]  # an EVSE uid `<identity>-<n>` stays within 36 characters
Wh = Annotated[int, msgspec.Meta(ge=-PLAUSIBLE, le=PLAUSIBLE)]


class BootNotification(_M):
    charge_point_vendor: str
    charge_point_model: str
    charge_point_serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


class StatusNotification(_M):
    connector_id: ConnectorNo
    error_code: str
    status: str
    timestamp: datetime | None = None
    info: str | None = None
    vendor_error_code: str | None = None


class Authorize(_M):
    id_tag: str


class StartTransaction(_M):
    connector_id: ConnectorNo
    id_tag: str
    meter_start: Wh
    timestamp: datetime
    reservation_id: int | None = None


class SampledValue(_M):
    value: str
    context: str | None = None
    format: str | None = None
    measurand: str | None = None
    phase: str | None = None
    location: str | None = None
    unit: str | None = None


class MeterValue(_M):
    timestamp: datetime
    sampled_value: list[SampledValue]


class MeterValues(_M):
    connector_id: ConnectorNo
    meter_value: list[MeterValue]
    transaction_id: int | None = None


class StopTransaction(_M):
    meter_stop: Wh
    timestamp: datetime
    transaction_id: int
    reason: str | None = None
    id_tag: str | None = None
    transaction_data: list[MeterValue] | None = None


MESSAGES: dict[str, type] = {
    "BootNotification": BootNotification, "StatusNotification": StatusNotification, "Authorize": Authorize,
    "StartTransaction": StartTransaction, "MeterValues": MeterValues, "StopTransaction": StopTransaction,
}

STATUS: dict[str, model.EvseStatus] = {
    ChargePointStatus.available: "AVAILABLE",
    ChargePointStatus.preparing: "CHARGING",  # the EVSE is in use
    ChargePointStatus.charging: "CHARGING",
    ChargePointStatus.suspended_ev: "CHARGING",
    ChargePointStatus.suspended_evse: "CHARGING",
    ChargePointStatus.finishing: "CHARGING",
    ChargePointStatus.reserved: "RESERVED",
    ChargePointStatus.unavailable: "INOPERATIVE",
    ChargePointStatus.faulted: "OUTOFORDER",
}
AUTHORIZATION: dict[str, str] = {
    "ALLOWED": AuthorizationStatus.accepted, "BLOCKED": AuthorizationStatus.blocked,
    "EXPIRED": AuthorizationStatus.expired, "NO_CREDIT": AuthorizationStatus.invalid, "NOT_ALLOWED": AuthorizationStatus.invalid,
}
ENERGY = "Energy.Active.Import.Register"


def boot_info(m: BootNotification) -> dict[str, Any]:
    return {"vendor": m.charge_point_vendor, "model": m.charge_point_model,
            "serial": m.charge_point_serial_number or m.charge_box_serial_number, "firmware": m.firmware_version,
            "meter_type": m.meter_type, "meter_serial": m.meter_serial_number}


def boot_accepted(interval: int) -> dict[str, Any]:
    return {"status": RegistrationStatus.accepted, "currentTime": now(), "interval": interval}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def id_tag_info(auth: model.Authorization) -> dict[str, Any]:
    """1.6 knows ConcurrentTx; the hub's other refusals (where, when) are Invalid here."""
    status = AuthorizationStatus.concurrent_tx if auth.refusal == "CONCURRENT_TX" else AUTHORIZATION[auth.allowed]
    return {"idTagInfo": {"status": status}}


def _scale(value: str, unit: str | None, base: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except ArithmeticError:
        return None
    if not number.is_finite() or abs(number) >= PLAUSIBLE:
        return None
    return number * 1000 if unit == f"k{base}" else number


def samples(values: list[MeterValue]) -> list[model.MeterReading]:
    """Energy register (Wh), power (W) and current (A) readings. Per-phase values are skipped where a total
    exists (energy, power); unparseable values are left out. A signed energy register (format SignedData: the
    value is the meter's signed string, e.g. OCMF) is kept as the reading's signed form."""
    out = []
    for mv in values:
        energy = power = current = None
        signed_energy: SampledValue | None = None
        for sv in mv.sampled_value:
            measurand = sv.measurand or ENERGY
            if sv.phase and measurand != "Current.Import":
                continue
            if sv.format == "SignedData":
                signed_energy = sv if measurand == ENERGY else signed_energy
            elif measurand == ENERGY and sv.location in (None, "Outlet"):
                energy = _scale(sv.value, sv.unit, "Wh")
            elif measurand == "Power.Active.Import":
                power = _scale(sv.value, sv.unit, "W")
            elif measurand == "Current.Import" and current is None:
                current = _scale(sv.value, None, "A")
        out.append(model.MeterReading(timestamp=mv.timestamp, energy_wh=energy, power_w=power, current_a=current,
                                      signed=_signed(signed_energy, energy)))
    return out


def _signed(sv: SampledValue | None, energy: Decimal | None) -> model.SignedReading | None:
    if sv is None:
        return None
    encoding = "OCMF" if sv.value.startswith("OCMF|") else "UNKNOWN"  # 1.6 does not say; OCMF names itself
    return signed.reading(sv.value, sv.context, encoding, None, energy)


# --- the hub's calls to a 1.6 charge point ----------------------------------------------------------


def remote_start(cmd: model.StartSession, connector_id: int | None) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {"idTag": cmd.token.uid[:20]}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    return "RemoteStartTransaction", payload


def remote_stop(transaction_id: str) -> tuple[str, dict[str, Any]]:
    return "RemoteStopTransaction", {"transactionId": int(transaction_id)}


def reserve_now(cmd: model.ReserveNow, connector_id: int, reservation: int) -> tuple[str, dict[str, Any]]:
    expiry = cmd.expiry_date.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {"connectorId": connector_id, "expiryDate": expiry, "idTag": cmd.token.uid[:20], "reservationId": reservation}
    if cmd.token.group_id:
        payload["parentIdTag"] = cmd.token.group_id[:20]
    return "ReserveNow", payload


def cancel_reservation(reservation: int) -> tuple[str, dict[str, Any]]:
    return "CancelReservation", {"reservationId": reservation}


def unlock(connector_id: int) -> tuple[str, dict[str, Any]]:
    return "UnlockConnector", {"connectorId": connector_id}


def set_profile(profile: model.ChargingProfile, connector_id: int, transaction_id: str | None, profile_id: int) -> tuple[str, dict[str, Any]]:
    """The transaction's TxProfile; without a transaction, the connector's TxDefaultProfile (its charges to come)."""
    schedule: dict[str, Any] = {
        "chargingRateUnit": profile.charging_rate_unit,
        "chargingSchedulePeriod": [{"startPeriod": p.start_period, "limit": float(round(p.limit, 1))} for p in profile.charging_profile_period]
        or [{"startPeriod": 0, "limit": 0.0}],
    }
    if profile.duration is not None:
        schedule["duration"] = profile.duration
    if profile.start_date_time is not None:
        schedule["startSchedule"] = profile.start_date_time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if profile.min_charging_rate is not None:
        schedule["minChargingRate"] = float(round(profile.min_charging_rate, 1))
    charging: dict[str, Any] = {
        "chargingProfileId": profile_id, "stackLevel": 1, "chargingProfilePurpose": "TxProfile" if transaction_id else "TxDefaultProfile",
        "chargingProfileKind": "Absolute" if profile.start_date_time else "Relative", "chargingSchedule": schedule,
    }
    if transaction_id:
        charging["transactionId"] = int(transaction_id)
    return "SetChargingProfile", {"connectorId": connector_id, "csChargingProfiles": charging}


def reset(hard: bool) -> tuple[str, dict[str, Any]]:
    """The whole charge point restarts (1.6 has no reset of one connector)."""
    return "Reset", {"type": "Hard" if hard else "Soft"}


def composite_schedule(connector_id: int, duration: int) -> tuple[str, dict[str, Any]]:
    return "GetCompositeSchedule", {"connectorId": connector_id, "duration": duration or 3600}


def clear_profile(profile_id: int) -> tuple[str, dict[str, Any]]:
    return "ClearChargingProfile", {"id": profile_id}


def active_profile(result: dict[str, Any]) -> model.ActiveChargingProfile | None:
    """A GetCompositeSchedule answer as OCPI's ActiveChargingProfile."""
    schedule = result.get("chargingSchedule")
    if result.get("status") != "Accepted" or not schedule:
        return None
    start = result.get("scheduleStart") or schedule.get("startSchedule")
    return model.ActiveChargingProfile(
        start_date_time=datetime.fromisoformat(start.replace("Z", "+00:00")) if start else datetime.now(timezone.utc).replace(microsecond=0),
        charging_profile=model.ChargingProfile(
            charging_rate_unit=schedule["chargingRateUnit"], duration=schedule.get("duration"),
            charging_profile_period=[model.ChargingProfilePeriod(p["startPeriod"], Decimal(str(p["limit"])))
                                     for p in schedule.get("chargingSchedulePeriod", [])],
        ),
    )


START_STOP_RESULT: dict[str, model.CommandResultType] = {RemoteStartStopStatus.accepted: "ACCEPTED", RemoteStartStopStatus.rejected: "REJECTED"}
RESERVE_RESULT: dict[str, model.CommandResultType] = {
    "Accepted": "ACCEPTED", "Occupied": "EVSE_OCCUPIED", "Faulted": "EVSE_INOPERATIVE", "Unavailable": "EVSE_INOPERATIVE", "Rejected": "REJECTED",
}
CANCEL_RESULT: dict[str, model.CommandResultType] = {"Accepted": "ACCEPTED", "Rejected": "UNKNOWN_RESERVATION"}
UNLOCK_RESULT: dict[str, model.CommandResultType] = {"Unlocked": "ACCEPTED", "UnlockFailed": "FAILED", "NotSupported": "NOT_SUPPORTED"}
PROFILE_RESULT: dict[str, model.ChargingProfileResultType] = {"Accepted": "ACCEPTED", "Rejected": "REJECTED", "NotSupported": "REJECTED",
                                                              "Unknown": "UNKNOWN"}
RESET_RESULT: dict[str, model.CommandResultType] = {"Accepted": "ACCEPTED", "Rejected": "REJECTED"}
