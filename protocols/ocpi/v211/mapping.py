"""OCPI 2.1.1 wire types <-> the canonical model (which is OCPI 2.2.1-shaped). Pure: no I/O.

Scalars convert as for 2.2.1: DateTime strings (lenient) <-> aware UTC datetimes, rendered in the `Z` form;
JSON numbers <-> Decimal by their shortest representation; lists absent <-> empty (an empty list goes out absent
unless 2.1.1 requires it). Coordinates go out with exactly the 6 decimals of 2.1.1's regex (a 7th is rounded).
What 2.1.1 lacks or names differently, and the rule used (going "in" is 2.1.1 -> canonical, "out" the reverse):

- Owner. 2.1.1 objects carry no country_code/party_id: the owner is the connection's party (its credentials, or the
  URL of a client-owned object), so every mapping in that needs one takes `owner`. Out, the owner is left out.
- Location. `type` <-> `parking_type`: ON_STREET, PARKING_GARAGE, UNDERGROUND_GARAGE and PARKING_LOT as they are;
  OTHER and UNKNOWN come in as none; ALONG_MOTORWAY and ON_DRIVEWAY go out as OTHER, none as UNKNOWN. A 2.1.1
  Location is public: in, publish=True; out, publish/publish_allowed_to are left out (send a 2.1.1 party only the
  Locations it may see). time_zone (optional in 2.1.1, required in the model) comes in as the country's zone when absent (`ZONES`;
  "" in a country of several zones); "" goes out absent. postal_code (required in 2.1.1) goes out as "" when there is none; "" comes in as none. state is not
  carried; address goes out cut to 2.1.1's 45 characters. Hours.twentyfourseven comes in false when absent (2.1.1
  makes it a choice with regular_hours) and always goes out. EnvironmentalImpact.source <-> category.
- Connector. voltage/amperage <-> max_voltage/max_amperage; tariff_id <-> tariff_ids (out, the first: put the tariff
  a 2.1.1 party should see first); max_electric_power is not carried. Values only 2.2.1 has go out as follows:
  AC_2_PHASE and AC_2_PHASE_SPLIT as AC_1_PHASE; capabilities and facilities 2.1.1 lacks are left out; standards
  CHAOJI as CHADEMO, NEMA_5_20 as DOMESTIC_B (NEMA 5-15), DOMESTIC_M as DOMESTIC_D, DOMESTIC_N as DOMESTIC_J (their
  nearest kin). Other new standards (GB/T, NEMA 6/10/14, DOMESTIC_O, pantographs) have no 2.1.1 name: such a
  connector is left out of a Location (a wrong plug on a map sends drivers to a charger they cannot use) and an EVSE
  left without connectors with it; in the Location a Session or CDR embeds it must stay, as IEC_62196_T2_COMBO (DC)
  or IEC_62196_T2 (AC).
- Tariff. type, min_price, max_price, start/end_date_time and the components' vat are not carried: push a 2.1.1
  party only the tariffs that apply to it (REGULAR, in force). An element restricted by what 2.1.1 cannot say
  (min/max_current, reservation) is left out, so it never applies where it should not; a tariff with no element
  left raises Unmappable (in a CDR, such a tariff is left out of `tariffs`).
- Token. auth_id <-> contract_id; type APP_USER and AD_HOC_USER go out as OTHER; group_id, default_profile_type and
  energy_contract are not carried. AuthorizationInfo: in, the caller passes the token it asked about; connector_ids
  of LocationReferences are not carried.
- Session and CDR. 2.1.1 names the token only by auth_id (the contract id). In, the caller passes the CdrToken of the
  Token it knows with that contract id (its Tokens store); without one the CdrToken is made from the auth_id alone:
  uid = contract_id = auth_id, type OTHER, the eMSP from the eMA ID's prefix (`DE8AC...` -> DE/8AC); an auth_id that
  is no eMA ID names no eMSP and raises Unmappable. Out, auth_id = cdr_token.contract_id. location_id, evse_uid and
  connector_id come from the embedded Location's first EVSE and its first connector (`#NA` in a Session without
  them; a CDR's cdr_location needs them). Out, the embedded Location is the canonical one the caller passes, trimmed
  to the session's EVSE and connector (without EVSEs when it has not both, e.g. `#NA`); a CDR's cdr_location
  snapshot overrides it (address, evse_id, connector standard...), and without a Location its gaps are filled with
  type UNKNOWN, status UNKNOWN, voltage and amperage 0 and the CDR's last_updated. Session start/end_datetime <->
  start/end_date_time, CDR stop_date_time <-> end_date_time. total_cost is a number excluding VAT <-> Price(excl_vat,
  incl_vat none). authorization_reference <-> authorization_id, Gireve's 2.1.1 extension (in AuthorizationInfo,
  StartSession, Session and CDR; left out when there is none). Not carried: session_id, signed_data, the total_*_cost breakdown,
  invoice/credit fields, home_charging_compensation, a period's tariff_id. status RESERVATION goes out as PENDING,
  auth_method COMMAND as AUTH_REQUEST (the eMSP authorised it). Dimensions 2.1.1 lacks are left out going out, FLAT
  (2.1.1 only) coming in; a period left without dimensions is left out.
- Commands. CANCEL_RESERVATION does not exist (Unmappable: answer NOT_SUPPORTED); StartSession's connector_id is not carried
  (its authorization_reference is Gireve's authorization_id); reservation_id is an int (a canonical id that is not digits raises
  Unmappable). The token of a command comes in owned by the eMSP that sent it. CommandResponse is both the
  synchronous answer (in with `timeout`, which 2.1.1 lacks; TIMEOUT as REJECTED) and the result POSTed to
  response_url (UNKNOWN_SESSION as REJECTED; out, EVSE_OCCUPIED, EVSE_INOPERATIVE, FAILED, UNKNOWN_RESERVATION as
  REJECTED, CANCELED_RESERVATION as ACCEPTED). Messages are not carried.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar, get_args, get_type_hints

import msgspec
from msgspec.structs import replace

from hub import model
from hub.model import PartyId
from protocols.ocpi.times import format_datetime, parse_datetime
from protocols.ocpi.v211 import wire

W = TypeVar("W")
NA = "#NA"  # OCPI's value for a required field whose value does not exist
COMMAND_TIMEOUT = 30  # seconds the hub waits for a 2.1.1 command result (2.1.1 names none)


class Unmappable(ValueError):
    """What one side has and the other cannot express."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


DATETIME_KEYS = frozenset({
    "last_updated", "start_date_time", "end_date_time", "start_datetime", "end_datetime", "stop_date_time",
    "expiry_date", "timestamp", "period_begin", "period_end",  # period_*: also HH:MM, parsed only when a DateTime
})
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")
REQUIRED_LISTS = frozenset({"connectors", "elements", "price_components", "dimensions", "endpoints"})
EMA_ID = re.compile(r"^([A-Za-z]{2})[-*]?([A-Za-z0-9]{3})[-*]?[A-Za-z0-9]{9}(?:[-*]?[A-Za-z0-9])?$")

_PARKING_TYPES = frozenset(get_args(model.ParkingType))
_LOCATION_TYPES = frozenset(get_args(wire.LocationType))
_CAPABILITIES = frozenset(get_args(wire.Capability))
_FACILITIES = frozenset(get_args(wire.Facility))
_STANDARDS = frozenset(get_args(wire.ConnectorType))
_DIMENSIONS = frozenset(get_args(wire.CdrDimensionType))
NEAREST_STANDARD = {"CHAOJI": "CHADEMO", "NEMA_5_20": "DOMESTIC_B", "DOMESTIC_M": "DOMESTIC_D", "DOMESTIC_N": "DOMESTIC_J"}
_POWER_TYPE = {"AC_2_PHASE": "AC_1_PHASE", "AC_2_PHASE_SPLIT": "AC_1_PHASE"}
_TOKEN_TYPE = {"AD_HOC_USER": "OTHER", "APP_USER": "OTHER"}
_SESSION_STATUS = {"RESERVATION": "PENDING"}
_AUTH_METHOD = {"COMMAND": "AUTH_REQUEST"}
_RESULT = {"ACCEPTED": "ACCEPTED", "CANCELED_RESERVATION": "ACCEPTED", "NOT_SUPPORTED": "NOT_SUPPORTED", "TIMEOUT": "TIMEOUT"}


# --- scalars -------------------------------------------------------------------------------------


def format_coordinate(value: Decimal | str) -> str:
    """6 decimals, as 2.1.1's regex asks."""
    return f"{Decimal(value):.6f}"


# --- trees ---------------------------------------------------------------------------------------


def _date_time(key: str, text: str) -> datetime:
    try:
        return parse_datetime(text)
    except (ValueError, OverflowError):  # the pattern lets 2026-13-45T25:61:00 through; an offset may leave the years 1-9999
        raise Unmappable(f"not a date-time: {text!r}", key) from None


def _canonical_tree(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _date_time(k, v) if k in DATETIME_KEYS and isinstance(v, str) and DATETIME.match(v) else _canonical_tree(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_canonical_tree(x) for x in node]
    return Decimal(repr(node)) if isinstance(node, float) else node


def _wire_tree(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if v is None or (v == [] and k not in REQUIRED_LISTS):
                continue
            if isinstance(v, datetime):
                out[k] = format_datetime(v)
            elif k in ("latitude", "longitude"):
                out[k] = format_coordinate(v)
            else:
                out[k] = _wire_tree(v)
        return out
    if isinstance(node, list):
        return [_wire_tree(x) for x in node]
    return float(node) if isinstance(node, Decimal) else node


def _wire_in(obj: Any) -> dict[str, Any]:
    return _canonical_tree(msgspec.to_builtins(obj))


def _model_out(obj: Any) -> dict[str, Any]:
    return msgspec.to_builtins(obj, builtin_types=(Decimal, datetime))


def _finish(tree: dict[str, Any], type_: type[W]) -> W:
    return msgspec.convert(_wire_tree(tree), type_)


def _owner(owner: PartyId) -> dict[str, str]:
    return {"country_code": owner.country_code.upper(), "party_id": owner.party_id.upper()}


def _rename(d: dict[str, Any], **names: str) -> dict[str, Any]:
    for old, new in names.items():
        if old in d:
            d[new] = d.pop(old)
    return d


def _drop(d: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        d.pop(name, None)
    return d


@lru_cache(maxsize=None)
def _field_types(type_: type) -> dict[str, Any]:
    return get_type_hints(type_)


def _changes(tree: dict[str, Any], type_: type) -> dict[str, Any]:
    """The fields a PATCH sets, canonical-typed, for `msgspec.structs.replace` in the core."""
    types = _field_types(type_)
    return {k: msgspec.convert(v, types[k]) for k, v in tree.items() if k in types}


# --- locations -----------------------------------------------------------------------------------


def _energy_mix(d: dict[str, Any] | None, old: str, new: str) -> None:
    for impact in (d or {}).get("environ_impact") or ():
        _rename(impact, **{old: new})


def _connector_in(d: dict[str, Any]) -> dict[str, Any]:
    _rename(d, voltage="max_voltage", amperage="max_amperage")
    if "tariff_id" in d:
        d["tariff_ids"] = [d.pop("tariff_id")]
    return d


def _evse_in(d: dict[str, Any]) -> dict[str, Any]:
    if "connectors" in d:
        d["connectors"] = [_connector_in(c) for c in d["connectors"]]
    return d


def _location_in(d: dict[str, Any]) -> dict[str, Any]:
    if "type" in d:
        kind = d.pop("type")
        d["parking_type"] = kind if kind in _PARKING_TYPES else None
    if d.get("postal_code") == "":
        d["postal_code"] = None
    if "opening_times" in d:
        d["opening_times"].setdefault("twentyfourseven", False)
    _energy_mix(d.get("energy_mix"), "source", "category")
    if "evses" in d:
        d["evses"] = [_evse_in(e) for e in d["evses"]]
    return d


def _connector_out(d: dict[str, Any], embedded: bool = False) -> dict[str, Any] | None:
    standard = d["standard"]
    if standard not in _STANDARDS:
        standard = NEAREST_STANDARD.get(standard)
        if standard is None and embedded:
            standard = "IEC_62196_T2_COMBO" if d["power_type"] == "DC" else "IEC_62196_T2"
        if standard is None:
            return None
    tariff_ids = d.pop("tariff_ids")
    _drop(d, "max_electric_power")
    _rename(d, max_voltage="voltage", max_amperage="amperage")
    d.update(standard=standard, power_type=_POWER_TYPE.get(d["power_type"], d["power_type"]),
             tariff_id=tariff_ids[0] if tariff_ids else None)
    return d


def _evse_out(d: dict[str, Any], embedded: bool = False) -> dict[str, Any] | None:
    connectors = [c for c in (_connector_out(c, embedded) for c in d["connectors"]) if c is not None]
    if not connectors:
        return None
    d.update(connectors=connectors, capabilities=[c for c in d["capabilities"] if c in _CAPABILITIES])
    return d


def _location_out(d: dict[str, Any], embedded: bool = False) -> dict[str, Any]:
    _drop(d, "country_code", "party_id", "publish", "publish_allowed_to", "state")
    kind = d.pop("parking_type")
    d.update(
        type=kind if kind in _LOCATION_TYPES else "UNKNOWN" if kind is None else "OTHER",
        address=d["address"][:45], postal_code=d["postal_code"] or "", time_zone=d["time_zone"] or None,
        facilities=[f for f in d["facilities"] if f in _FACILITIES],
        evses=[e for e in (_evse_out(e, embedded) for e in d["evses"]) if e is not None],
    )
    _energy_mix(d["energy_mix"], "category", "source")
    return d


# The time zone of a country that has one (2.1.1 makes time_zone optional; 2.2.1 parties need it). Spain and
# Portugal have islands of their own zone, told apart by longitude.
ZONES = {
    "AND": "Europe/Andorra", "AUT": "Europe/Vienna", "BEL": "Europe/Brussels", "BGR": "Europe/Sofia", "CHE": "Europe/Zurich",
    "CYP": "Asia/Nicosia", "CZE": "Europe/Prague", "DEU": "Europe/Berlin", "DNK": "Europe/Copenhagen", "EST": "Europe/Tallinn",
    "FIN": "Europe/Helsinki", "FRA": "Europe/Paris", "GBR": "Europe/London", "GRC": "Europe/Athens", "HRV": "Europe/Zagreb",
    "HUN": "Europe/Budapest", "IRL": "Europe/Dublin", "ISL": "Atlantic/Reykjavik", "ITA": "Europe/Rome", "LIE": "Europe/Vaduz",
    "LTU": "Europe/Vilnius", "LUX": "Europe/Luxembourg", "LVA": "Europe/Riga", "MCO": "Europe/Monaco", "MLT": "Europe/Malta",
    "NLD": "Europe/Amsterdam", "NOR": "Europe/Oslo", "POL": "Europe/Warsaw", "ROU": "Europe/Bucharest", "SRB": "Europe/Belgrade",
    "SVK": "Europe/Bratislava", "SVN": "Europe/Ljubljana", "SWE": "Europe/Stockholm", "TUR": "Europe/Istanbul",
    "UKR": "Europe/Kyiv", "ISR": "Asia/Jerusalem", "JPN": "Asia/Tokyo", "KOR": "Asia/Seoul", "CHN": "Asia/Shanghai",
    "IND": "Asia/Kolkata", "SGP": "Asia/Singapore", "NZL": "Pacific/Auckland", "ZAF": "Africa/Johannesburg",
}


def time_zone_of(country: str, longitude: str) -> str:
    """The zone of a Location that names none: its country's, or "" where a country has several (USA, Canada...)."""
    west = float(longitude)
    if country == "ESP":
        return "Atlantic/Canary" if west < -12 else "Europe/Madrid"
    if country == "PRT":
        return "Atlantic/Azores" if west < -20 else "Atlantic/Madeira" if west < -14 else "Europe/Lisbon"
    return ZONES.get(country.upper(), "")


def location_to_canonical(w: wire.Location, owner: PartyId) -> model.Location:
    d = _location_in(_wire_in(w))
    d.setdefault("time_zone", time_zone_of(w.country, w.coordinates.longitude))
    return msgspec.convert({**d, **_owner(owner), "publish": True}, model.Location)


def location_from_canonical(m: model.Location) -> wire.Location:
    return _finish(_location_out(_model_out(m)), wire.Location)


def evse_to_canonical(w: wire.Evse) -> model.Evse:
    return msgspec.convert(_evse_in(_wire_in(w)), model.Evse)


def evse_from_canonical(m: model.Evse) -> wire.Evse | None:
    """None when 2.1.1 can name none of its connectors (see the module docstring)."""
    d = _evse_out(_model_out(m))
    return None if d is None else _finish(d, wire.Evse)


def connector_to_canonical(w: wire.Connector) -> model.Connector:
    return msgspec.convert(_connector_in(_wire_in(w)), model.Connector)


def connector_from_canonical(m: model.Connector) -> wire.Connector | None:
    """None when 2.1.1 has no name for its standard (see the module docstring)."""
    d = _connector_out(_model_out(m))
    return None if d is None else _finish(d, wire.Connector)


def location_patch_changes(p: Any) -> dict[str, Any]:
    return _changes(_location_in(_wire_in(p)), model.Location)


def evse_patch_changes(p: Any) -> dict[str, Any]:
    return _changes(_evse_in(_wire_in(p)), model.Evse)


def connector_patch_changes(p: Any) -> dict[str, Any]:
    return _changes(_connector_in(_wire_in(p)), model.Connector)


# --- tariffs -------------------------------------------------------------------------------------


def _tariff_in(d: dict[str, Any], owner: PartyId) -> dict[str, Any]:
    _energy_mix(d.get("energy_mix"), "source", "category")
    return {**d, **_owner(owner)}


def _tariff_out(d: dict[str, Any]) -> dict[str, Any]:
    _drop(d, "country_code", "party_id", "type", "min_price", "max_price", "start_date_time", "end_date_time")
    elements = []
    for element in d["elements"]:
        r = element["restrictions"] or {}
        if any(r.pop(k, None) is not None for k in ("min_current", "max_current", "reservation")):
            continue
        for component in element["price_components"]:
            _drop(component, "vat")
        elements.append(element)
    if not elements:
        raise Unmappable("every element has a restriction 2.1.1 cannot express (current, reservation)", "elements")
    d["elements"] = elements
    _energy_mix(d["energy_mix"], "category", "source")
    return d


def tariff_to_canonical(w: wire.Tariff, owner: PartyId) -> model.Tariff:
    return msgspec.convert(_tariff_in(_wire_in(w), owner), model.Tariff)


def tariff_from_canonical(m: model.Tariff) -> wire.Tariff:
    return _finish(_tariff_out(_model_out(m)), wire.Tariff)


def tariff_patch_changes(p: Any) -> dict[str, Any]:
    d = _wire_in(p)
    _energy_mix(d.get("energy_mix"), "source", "category")
    return _changes(d, model.Tariff)


# --- tokens --------------------------------------------------------------------------------------


def token_to_canonical(w: wire.Token, owner: PartyId) -> model.Token:
    return msgspec.convert({**_rename(_wire_in(w), auth_id="contract_id"), **_owner(owner)}, model.Token)


def token_from_canonical(m: model.Token) -> wire.Token:
    d = _drop(_model_out(m), "country_code", "party_id", "group_id", "default_profile_type", "energy_contract")
    d.update(auth_id=d.pop("contract_id"), type=_TOKEN_TYPE.get(m.type, m.type))
    return _finish(d, wire.Token)


def token_patch_changes(p: Any) -> dict[str, Any]:
    return _changes(_rename(_wire_in(p), auth_id="contract_id"), model.Token)


def location_references_to_canonical(w: wire.LocationReferences) -> model.LocationReferences:
    return model.LocationReferences(location_id=w.location_id, evse_uids=list(w.evse_uids or []))


def location_references_from_canonical(m: model.LocationReferences) -> wire.LocationReferences:
    return _finish(_model_out(m), wire.LocationReferences)


def authorization_info_to_canonical(w: wire.AuthorizationInfo, token: model.Token) -> model.AuthorizationInfo:
    return model.AuthorizationInfo(
        allowed=w.allowed, token=token, info=None if w.info is None else model.DisplayText(w.info.language, w.info.text),
        location=None if w.location is None else location_references_to_canonical(w.location),
        authorization_reference=w.authorization_id,
    )


def authorization_info_from_canonical(m: model.AuthorizationInfo) -> wire.AuthorizationInfo:
    return _finish(_rename(_drop(_model_out(m), "token"), authorization_reference="authorization_id"), wire.AuthorizationInfo)


# --- sessions and CDRs ---------------------------------------------------------------------------


def cdr_token_for(auth_id: str) -> model.CdrToken:
    """The CdrToken of an auth_id no known Token has as contract id: its eMSP read from the eMA ID."""
    found = EMA_ID.match(auth_id)
    if found is None:
        raise Unmappable("not an eMA ID, so it names no eMSP: pass the token with this contract id", "auth_id")
    return model.CdrToken(country_code=found[1].upper(), party_id=found[2].upper(), uid=auth_id, type="OTHER",
                          contract_id=auth_id)


def _first(location: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    evse = (location.get("evses") or [{}])[0]
    return evse, (evse.get("connectors") or [{}])[0]


def _periods_in(periods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = ({**p, "dimensions": [x for x in p["dimensions"] if x["type"] != "FLAT"]} for p in periods)
    return [p for p in kept if p["dimensions"]]


def _periods_out(periods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = ({"start_date_time": p["start_date_time"], "dimensions": [x for x in p["dimensions"] if x["type"] in _DIMENSIONS]}
            for p in periods)
    return [p for p in kept if p["dimensions"]]


def _session_in(d: dict[str, Any], token: model.CdrToken | None) -> dict[str, Any]:
    if "location" in d:
        location = d.pop("location")
        evse, connector = _first(location)
        d.update(location_id=location["id"], evse_uid=evse.get("uid", NA), connector_id=connector.get("id", NA))
    if "auth_id" in d:
        d["cdr_token"] = _model_out(token or cdr_token_for(d.pop("auth_id")))
    if "total_cost" in d:
        d["total_cost"] = {"excl_vat": d["total_cost"]}
    if "charging_periods" in d:
        d["charging_periods"] = _periods_in(d["charging_periods"])
    return _rename(d, start_datetime="start_date_time", end_datetime="end_date_time", authorization_id="authorization_reference")


def _embedded(location: model.Location, evse_uid: str, connector_id: str) -> dict[str, Any]:
    """The Location a Session embeds: only its EVSE and connector (none when it lacks them)."""
    evse = location.evse(evse_uid) if evse_uid != NA else None
    connector = next((c for c in evse.connectors if c.id.upper() == connector_id.upper()), None) if evse else None
    evses = [replace(evse, connectors=[connector])] if evse and connector else []
    return _location_out(_model_out(replace(location, evses=evses)), embedded=True)


def session_to_canonical(w: wire.Session, owner: PartyId, token: model.CdrToken | None = None) -> model.Session:
    """`token`: the one whose contract_id is the session's auth_id, when the hub knows it."""
    return msgspec.convert({**_session_in(_wire_in(w), token), **_owner(owner)}, model.Session)


def session_from_canonical(m: model.Session, location: model.Location) -> wire.Session:
    """`location`: the canonical Location of m.location_id (the mapping reads nothing itself)."""
    d = _drop(_model_out(m), "country_code", "party_id", "cdr_token", "location_id", "evse_uid", "connector_id")
    _rename(d, start_date_time="start_datetime", end_date_time="end_datetime", authorization_reference="authorization_id")
    d.update(
        auth_id=m.cdr_token.contract_id, location=_embedded(location, m.evse_uid, m.connector_id),
        status=_SESSION_STATUS.get(m.status, m.status), auth_method=_AUTH_METHOD.get(m.auth_method, m.auth_method),
        total_cost=None if m.total_cost is None else m.total_cost.excl_vat, charging_periods=_periods_out(d["charging_periods"]),
    )
    return _finish(d, wire.Session)


def session_patch_changes(p: Any, token: model.CdrToken | None = None) -> dict[str, Any]:
    return _changes(_session_in(_wire_in(p), token), model.Session)


def cdr_to_canonical(w: wire.Cdr, owner: PartyId, token: model.CdrToken | None = None) -> model.Cdr:
    """`token` as for sessions. The embedded Location itself is `location_to_canonical(w.location, owner)`."""
    d = _rename(_wire_in(w), authorization_id="authorization_reference")
    location = d.pop("location")
    evse, connector = _first(location)
    if not connector:
        raise Unmappable("names no EVSE and connector", "location.evses")
    d.update(
        _owner(owner), end_date_time=d.pop("stop_date_time"), cdr_token=_model_out(token or cdr_token_for(d.pop("auth_id"))),
        total_cost={"excl_vat": d["total_cost"]}, charging_periods=_periods_in(d["charging_periods"]),
        tariffs=[_tariff_in(t, owner) for t in d.get("tariffs", [])],
        cdr_location={
            "id": location["id"], "name": location.get("name"), "address": location["address"], "city": location["city"],
            "postal_code": location["postal_code"] or None, "country": location["country"],
            "coordinates": location["coordinates"], "evse_uid": evse["uid"], "evse_id": evse.get("evse_id", NA),
            "connector_id": connector["id"], "connector_standard": connector["standard"],
            "connector_format": connector["format"], "connector_power_type": connector["power_type"],
        },
    )
    return msgspec.convert(d, model.Cdr)


def _cdr_location_out(m: model.Cdr, location: model.Location | None) -> dict[str, Any]:
    cl = m.cdr_location
    base = location or model.Location(
        country_code=m.country_code, party_id=m.party_id, id=cl.id, publish=True, address=cl.address, city=cl.city,
        country=cl.country, coordinates=cl.coordinates, time_zone="", last_updated=m.last_updated,
    )
    evse = base.evse(cl.evse_uid) or model.Evse(uid=cl.evse_uid, status="UNKNOWN", connectors=[], last_updated=m.last_updated)
    connector = next((c for c in evse.connectors if c.id.upper() == cl.connector_id.upper()), None) or model.Connector(
        id=cl.connector_id, standard=cl.connector_standard, format=cl.connector_format, power_type=cl.connector_power_type,
        max_voltage=0, max_amperage=0, last_updated=m.last_updated,
    )
    connector = replace(connector, standard=cl.connector_standard, format=cl.connector_format, power_type=cl.connector_power_type)
    evse = replace(evse, evse_id=None if cl.evse_id == NA else cl.evse_id, connectors=[connector])
    base = replace(
        base, id=cl.id, name=base.name if cl.name is None else cl.name, address=cl.address, city=cl.city,
        postal_code=base.postal_code if cl.postal_code is None else cl.postal_code, country=cl.country,
        coordinates=cl.coordinates, evses=[evse],
    )
    return _location_out(_model_out(base), embedded=True)


def cdr_from_canonical(m: model.Cdr, location: model.Location | None = None) -> wire.Cdr:
    """`location`: the canonical Location of the CDR, for what its cdr_location lacks (see the module docstring)."""
    tariffs = []
    for tariff in m.tariffs:
        try:
            tariffs.append(_tariff_out(_model_out(tariff)))
        except Unmappable:
            continue
    d = _drop(_rename(_model_out(m), authorization_reference="authorization_id"), "country_code", "party_id", "cdr_token",
              "cdr_location", "session_id", "signed_data", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
              "total_reservation_cost", "invoice_reference_id", "credit", "credit_reference_id", "home_charging_compensation")
    d.update(
        stop_date_time=d.pop("end_date_time"), auth_id=m.cdr_token.contract_id, location=_cdr_location_out(m, location),
        auth_method=_AUTH_METHOD.get(m.auth_method, m.auth_method), total_cost=m.total_cost.excl_vat,
        charging_periods=_periods_out(d["charging_periods"]), tariffs=tariffs,
    )
    return _finish(d, wire.Cdr)


# --- commands ------------------------------------------------------------------------------------


def start_session_to_canonical(w: wire.StartSession, emsp: PartyId) -> model.StartSession:
    return model.StartSession(token=token_to_canonical(w.token, emsp), location_id=w.location_id, evse_uid=w.evse_uid,
                              authorization_reference=w.authorization_id)


def stop_session_to_canonical(w: wire.StopSession) -> model.StopSession:
    return model.StopSession(session_id=w.session_id)


def reserve_now_to_canonical(w: wire.ReserveNow, emsp: PartyId) -> model.ReserveNow:
    return model.ReserveNow(token=token_to_canonical(w.token, emsp), expiry_date=_date_time("expiry_date", w.expiry_date),
                            reservation_id=str(w.reservation_id), location_id=w.location_id, evse_uid=w.evse_uid)


def unlock_connector_to_canonical(w: wire.UnlockConnector) -> model.UnlockConnector:
    return model.UnlockConnector(location_id=w.location_id, evse_uid=w.evse_uid, connector_id=w.connector_id)


def command_request_from_canonical(m: model.CommandRequest, response_url: str) -> Any:
    """A canonical command as the wire request the CPO receives, with the given response_url."""
    d: dict[str, Any] = {"response_url": response_url}
    if isinstance(m, (model.StartSession, model.ReserveNow)):
        d.update(token=msgspec.to_builtins(token_from_canonical(m.token)), location_id=m.location_id, evse_uid=m.evse_uid)
    if isinstance(m, model.StartSession):
        return _finish({**d, "authorization_id": m.authorization_reference}, wire.StartSession)
    if isinstance(m, model.ReserveNow):
        if not re.fullmatch(r"[0-9]+", m.reservation_id):
            raise Unmappable("a 2.1.1 reservation_id is an int", "reservation_id")
        return _finish({**d, "expiry_date": m.expiry_date, "reservation_id": int(m.reservation_id)}, wire.ReserveNow)
    if isinstance(m, model.StopSession):
        return _finish({**d, "session_id": m.session_id}, wire.StopSession)
    if isinstance(m, model.UnlockConnector):
        return _finish({**d, "location_id": m.location_id, "evse_uid": m.evse_uid, "connector_id": m.connector_id},
                       wire.UnlockConnector)
    raise Unmappable("OCPI 2.1.1 has no such command (answer NOT_SUPPORTED)", type(m).__name__)


def command_response_to_canonical(w: wire.CommandResponse, timeout: int = COMMAND_TIMEOUT) -> model.CommandResponse:
    """The CPO's synchronous answer to a command."""
    return model.CommandResponse(result="REJECTED" if w.result == "TIMEOUT" else w.result, timeout=timeout)


def command_response_from_canonical(m: model.CommandResponse) -> wire.CommandResponse:
    return wire.CommandResponse(result=m.result)  # every canonical CommandResponseType is a 2.1.1 one


def command_result_to_canonical(w: wire.CommandResponse) -> model.CommandResult:
    """The result the CPO POSTs to response_url."""
    return model.CommandResult(result="REJECTED" if w.result == "UNKNOWN_SESSION" else w.result)


def command_result_from_canonical(m: model.CommandResult) -> wire.CommandResponse:
    return wire.CommandResponse(result=_RESULT.get(m.result, "REJECTED"))  # type: ignore[arg-type]
