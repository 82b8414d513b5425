"""Partner REST request bodies -> the canonical model. Pure: no I/O.

Decisions a consumer can see:
- OCPI has one address line: address2 is joined to address1 with ", ";
- a connector given maxKw only gets the usual voltage of its power type (230 V a phase for AC, 400 V for DC) and
  the current that gives maxKw; given voltage and amperage, maxKw (if also given) caps the power;
- manual states: available -> AVAILABLE, passive and maintenance -> INOPERATIVE (OCPI's "temporarily not available,
  e.g. maintenance": a read answers `passive` for both), error -> OUTOFORDER. Busy states come from chargers and
  sessions, never from a write;
- `last_updated` is the hub's clock when the write arrives, never earlier than the object's current one;
- a token's type: rfid -> RFID, app -> APP_USER, other -> OTHER; its contract id is its uid unless given, its
  issuer the eMSP's name unless given (OCPI requires both);
- a charging profile's periods start at 0 and go up (the charger would refuse anything else); a start time
  without an offset is UTC.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

import msgspec

from hub import model
from hub.model import PartyId
from hub.services.errors import Invalid
from protocols.partner import ids, wire

MANUAL_STATUS: dict[str, model.EvseStatus] = {"available": "AVAILABLE", "passive": "INOPERATIVE", "maintenance": "INOPERATIVE",
                                               "error": "OUTOFORDER"}
VOLTAGE = {"AC_1_PHASE": 230, "AC_2_PHASE": 230, "AC_2_PHASE_SPLIT": 230, "AC_3_PHASE": 230, "DC": 400}
PHASES = {"AC_2_PHASE": 2, "AC_2_PHASE_SPLIT": 2, "AC_3_PHASE": 3}
TOKEN_TYPES: dict[str, model.TokenType] = {"rfid": "RFID", "app": "APP_USER", "other": "OTHER"}
UNSET = msgspec.UNSET


def now(after: datetime | None = None) -> datetime:
    """The hub's clock, in whole milliseconds, and later than `after` (a change must move last_updated on)."""
    t = datetime.now(timezone.utc)
    t = t.replace(microsecond=t.microsecond // 1000 * 1000)
    return max(t, after + timedelta(milliseconds=1)) if after is not None and t <= after else t


def new_id() -> str:
    return secrets.token_hex(8).upper()


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def _zone(name: str) -> str:
    if name not in _zones():
        raise Invalid("not an IANA time zone, e.g. Europe/Amsterdam", "timeZone")
    return name


def _point(c: wire.CoordinatesInput) -> model.GeoPoint:
    return model.GeoPoint(Decimal(repr(round(c.latitude, 7))), Decimal(repr(round(c.longitude, 7))))


def _hours(h: wire.OpeningHoursInput | None) -> model.Hours | None:
    if h is None:
        return None
    return model.Hours(h.twentyfourseven, [model.RegularHours(r.weekday, r.period_begin, r.period_end) for r in h.regular_hours])


def _address(a: wire.AddressInput) -> dict[str, Any]:
    line = f"{a.address1}, {a.address2}" if a.address2 else a.address1
    if len(line) > 255:
        raise Invalid("address1 and address2 together are at most 255 characters", "address.address2")
    return {"address": line, "city": a.city, "country": a.country, "postal_code": a.zip, "state": a.state}


def location(owner: PartyId, body: wire.SiteCreate) -> model.Location:
    return model.Location(
        country_code=owner.country_code, party_id=owner.party_id, id=body.ocpi_id or new_id(), publish=body.visibility == "public",
        coordinates=_point(body.coordinates), time_zone=_zone(body.time_zone), last_updated=now(), name=body.name,
        opening_times=_hours(body.opening_hours), **_address(body.address),
    )


def location_changes(loc: model.Location, body: wire.SitePatch) -> dict[str, Any]:
    """The canonical fields a PATCH changes (with last_updated when any does)."""
    changes: dict[str, Any] = {}
    if body.name is not UNSET:
        changes["name"] = body.name
    if body.address is not UNSET:
        changes.update(_address(body.address))
    if body.coordinates is not UNSET:
        changes["coordinates"] = _point(body.coordinates)
    if body.time_zone is not UNSET:
        changes["time_zone"] = _zone(body.time_zone)
    if body.opening_hours is not UNSET:
        changes["opening_times"] = _hours(body.opening_hours)
    if body.visibility is not UNSET:
        changes["publish"] = body.visibility == "public"
    changes = {k: v for k, v in changes.items() if getattr(loc, k) != v}
    if changes:
        changes["last_updated"] = now(loc.last_updated)
    return changes


def _connector(owner: PartyId, n: int, c: wire.ConnectorInput, when: datetime) -> model.Connector:
    field = f"connectors[{n}]"
    if c.voltage is not None and c.amperage is not None:
        voltage, amperage = c.voltage, c.amperage
    elif c.max_kw is not None and c.voltage is None and c.amperage is None:
        voltage = VOLTAGE[c.power_type]
        amperage = max(1, math.ceil(c.max_kw * 1000 / (voltage * PHASES.get(c.power_type, 1))))
    else:
        raise Invalid("give maxKw, or voltage and amperage", f"{field}.maxKw")
    tariffs = []
    for i, text in enumerate(c.tariff_ids):
        parsed = ids.parse(text)
        if parsed is None or parsed[0] != owner or len(parsed[1]) > 36:
            raise Invalid("not a tariff id of the site's owner", f"{field}.tariffIds[{i}]")
        tariffs.append(parsed[1])
    return model.Connector(
        id=str(n + 1), standard=c.standard, format=c.format, power_type=c.power_type, max_voltage=voltage, max_amperage=amperage,
        max_electric_power=None if c.max_kw is None else round(c.max_kw * 1000), tariff_ids=tariffs, last_updated=when,
    )


def connectors(owner: PartyId, items: list[wire.ConnectorInput], when: datetime) -> list[model.Connector]:
    return [_connector(owner, n, c, when) for n, c in enumerate(items)]


def evse(owner: PartyId, body: wire.ChargePointCreate) -> model.Evse:
    when = now()
    return model.Evse(uid=body.ocpi_id or new_id(), status=MANUAL_STATUS[body.state], connectors=connectors(owner, body.connectors, when),
                      last_updated=when, evse_id=body.evse_id, physical_reference=body.name)


def evse_changes(owner: PartyId, current: model.Evse, body: wire.ChargePointPatch) -> dict[str, Any]:
    """The canonical fields a PATCH changes (with last_updated when any does)."""
    when = now(current.last_updated)
    changes: dict[str, Any] = {}
    if body.evse_id is not UNSET:
        changes["evse_id"] = body.evse_id
    if body.name is not UNSET:
        changes["physical_reference"] = body.name
    if body.state is not UNSET:
        changes["status"] = MANUAL_STATUS[body.state]
    if body.connectors is not UNSET:
        changes["connectors"] = connectors(owner, body.connectors, when)
    changes = {k: v for k, v in changes.items() if getattr(current, k) != v}
    if changes:
        changes["last_updated"] = when
    return changes


# --- tokens ---------------------------------------------------------------------------------------------------


def token(owner: PartyId, body: wire.ChargeAuthTokenCreate, issuer: str) -> model.Token:
    """A new, valid token of the eMSP `owner`; `issuer`: its name, unless the body names one."""
    return model.Token(
        country_code=owner.country_code, party_id=owner.party_id, uid=body.identifier, type=TOKEN_TYPES[body.type],
        contract_id=body.contract_id or body.identifier, issuer=body.name or issuer[:64], valid=True, whitelist=body.whitelist,
        last_updated=now(), visual_number=body.visual_number, group_id=body.group_id, language=body.language,
    )


def token_changes(current: model.Token, body: wire.ChargeAuthTokenPatch) -> dict[str, Any]:
    """The canonical fields a PATCH changes (with last_updated when any does)."""
    given = {"issuer": body.name, "visual_number": body.visual_number, "group_id": body.group_id, "whitelist": body.whitelist,
             "language": body.language}
    return _moved(current, {k: v for k, v in given.items() if v is not UNSET})


def validity(current: model.Token, valid: bool) -> dict[str, Any]:
    """Block (valid false) or unblock: the change, or none when it is so already."""
    return _moved(current, {"valid": valid})


def _moved(current: Any, changes: dict[str, Any]) -> dict[str, Any]:
    changes = {k: v for k, v in changes.items() if getattr(current, k) != v}
    if changes:
        changes["last_updated"] = now(current.last_updated)
    return changes


# --- commands -------------------------------------------------------------------------------------------------


def charging_profile(body: wire.ChargingProfileInput) -> model.ChargingProfile:
    periods = body.charging_profile_period
    if periods[0].start_period != 0:
        raise Invalid("the first period starts at 0", "chargingProfilePeriod[0].startPeriod")
    for n in range(1, len(periods)):
        if periods[n].start_period <= periods[n - 1].start_period:
            raise Invalid("periods start later than the one before", f"chargingProfilePeriod[{n}].startPeriod")
    start = body.start_date_time
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    return model.ChargingProfile(
        charging_rate_unit=body.charging_rate_unit, start_date_time=start, duration=body.duration,
        min_charging_rate=None if body.min_charging_rate is None else Decimal(repr(body.min_charging_rate)),
        charging_profile_period=[model.ChargingProfilePeriod(p.start_period, Decimal(repr(p.limit))) for p in periods],
    )
