"""OCPI 2.2.1 wire types <-> the canonical model. Pure: no I/O.

The canonical model is OCPI-shaped, so the fields correspond one to one; what differs is the types, and
that is all this module converts:
- DateTime: wire strings (with or without `Z`, with fractional seconds, leniently with an offset) <->
  timezone-aware UTC datetimes; rendered in the `Z` form, whole seconds or milliseconds (<= 25 chars);
- GeoLocation: strings <-> Decimal, rendered with 5 to 7 decimals;
- numbers: JSON numbers (floats on the wire) <-> Decimal by their shortest representation;
- lists: absent <-> empty; an empty list is rendered absent unless OCPI requires it (cardinality `+`).
"""

from __future__ import annotations

from functools import lru_cache

import re
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from hub import model
from protocols.ocpi.times import format_datetime, parse_datetime
from protocols.ocpi.v221 import wire

W = TypeVar("W")

DATETIME_KEYS = frozenset({
    "last_updated", "start_date_time", "end_date_time", "expiry_date", "departure_time", "timestamp",
    "period_begin", "period_end",  # also HH:MM in RegularHours: only values that look like a DateTime are parsed
})
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")
REQUIRED_LISTS = frozenset({"connectors", "elements", "price_components", "dimensions", "signed_values", "endpoints", "roles"})
COORDINATES = frozenset({"latitude", "longitude"})
OWNER_KEYS = frozenset({"country_code", "party_id"})  # stored upper case (they compare case-insensitively)


# --- scalars -------------------------------------------------------------------------------------


def format_coordinate(value: Decimal | str, max_length: int = 11) -> str:
    """5 to 7 decimals, as many as the value has, within the spec's string length (10 for latitude)."""
    d = Decimal(value)
    places = min(7, max(5, -d.as_tuple().exponent if d.as_tuple().exponent < 0 else 0))  # type: ignore[operator]
    text = f"{d:.{places}f}"
    while len(text) > max_length and places > 5:
        places -= 1
        text = f"{d:.{places}f}"
    return text


# --- trees ---------------------------------------------------------------------------------------


def _canonical_tree(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in DATETIME_KEYS and isinstance(v, str) and DATETIME.match(v):
                out[k] = parse_datetime(v)
            elif k in OWNER_KEYS and isinstance(v, str):
                out[k] = v.upper()
            elif isinstance(v, float):
                out[k] = Decimal(repr(v))
            else:
                out[k] = _canonical_tree(v)
        return out
    if isinstance(node, list):
        return [_canonical_tree(x) for x in node]
    if isinstance(node, float):
        return Decimal(repr(node))
    return node


_SCALARS = (str, int, bool)


def _wire_tree(node: Any) -> Any:
    """Every object the hub stores is rendered through here: scalars are handled in place, without a call each."""
    if type(node) is dict:
        out = {}
        for k, v in node.items():
            cls = type(v)
            if v is None or (cls is list and not v and k not in REQUIRED_LISTS):
                continue
            if k in COORDINATES:
                out[k] = format_coordinate(v, 10 if k == "latitude" else 11)
            elif cls in _SCALARS:
                out[k] = v
            elif cls is list:
                out[k] = [x if type(x) in _SCALARS else _wire_tree(x) for x in v]
            elif cls is datetime:
                out[k] = format_datetime(v)
            elif cls is Decimal:
                out[k] = float(v)
            else:
                out[k] = _wire_tree(v)
        return out
    if type(node) is list:
        return [_wire_tree(x) for x in node]
    if isinstance(node, datetime):
        return format_datetime(node)
    if isinstance(node, Decimal):
        return float(node)
    return node


def _builtins(obj: Any) -> Any:
    return msgspec.to_builtins(obj, builtin_types=(Decimal, datetime))


def to_canonical(obj: Any, type_: type[W]) -> W:
    """Any wire object to its canonical counterpart."""
    return msgspec.convert(_canonical_tree(_builtins(obj)), type_)


def from_canonical(obj: Any, type_: type[W]) -> W:
    """Any canonical object to its wire counterpart."""
    return msgspec.convert(_wire_tree(_builtins(obj)), type_)


def changes(patch: Any) -> dict[str, Any]:
    """The fields a PATCH sets, canonical-typed, for `msgspec.structs.replace` in the core."""
    tree = _canonical_tree(_builtins(patch))
    return {name: _field_value(type(patch).__name__, name, tree[name]) for name in _field_names(type(patch)) if name in tree}


@lru_cache(maxsize=None)
def _field_names(type_: type) -> tuple[str, ...]:
    return tuple(f.name for f in msgspec.structs.fields(type_))  # (fields() evaluates annotations: once per type)


# the canonical type of every field a PATCH may carry that is not a plain scalar
_PATCH_FIELD_TYPES: dict[str, Any] = {
    "publish_allowed_to": list[model.PublishTokenType], "coordinates": model.GeoPoint,
    "related_locations": list[model.AdditionalGeoPoint], "evses": list[model.Evse], "directions": list[model.DisplayText],
    "operator": model.BusinessDetails, "suboperator": model.BusinessDetails, "owner": model.BusinessDetails,
    "opening_times": model.Hours, "images": list[model.Image], "energy_mix": model.EnergyMix,
    "connectors": list[model.Connector], "status_schedule": list[model.StatusSchedule],
    "energy_contract": model.EnergyContract, "cdr_token": model.CdrToken,
    "charging_periods": list[model.ChargingPeriod], "total_cost": model.Price, "kwh": Decimal,
}


def _field_value(patch_type: str, name: str, value: Any) -> Any:
    type_ = _PATCH_FIELD_TYPES.get(name)
    return value if type_ is None else msgspec.convert(value, type_)


# --- named conversions (the API the endpoints and the connectors use) ------------------------------


def location_to_canonical(w: wire.Location) -> model.Location:
    return to_canonical(w, model.Location)


def location_from_canonical(m: model.Location) -> wire.Location:
    return from_canonical(m, wire.Location)


def evse_to_canonical(w: wire.Evse) -> model.Evse:
    return to_canonical(w, model.Evse)


def evse_from_canonical(m: model.Evse) -> wire.Evse:
    return from_canonical(m, wire.Evse)


def connector_to_canonical(w: wire.Connector) -> model.Connector:
    return to_canonical(w, model.Connector)


def connector_from_canonical(m: model.Connector) -> wire.Connector:
    return from_canonical(m, wire.Connector)


def tariff_to_canonical(w: wire.Tariff) -> model.Tariff:
    return to_canonical(w, model.Tariff)


def tariff_from_canonical(m: model.Tariff) -> wire.Tariff:
    return from_canonical(m, wire.Tariff)


def token_to_canonical(w: wire.Token) -> model.Token:
    return to_canonical(w, model.Token)


def token_from_canonical(m: model.Token) -> wire.Token:
    return from_canonical(m, wire.Token)


def authorization_info_to_canonical(w: wire.AuthorizationInfo) -> model.AuthorizationInfo:
    return to_canonical(w, model.AuthorizationInfo)


def authorization_info_from_canonical(m: model.AuthorizationInfo) -> wire.AuthorizationInfo:
    return from_canonical(m, wire.AuthorizationInfo)


def location_references_to_canonical(w: wire.LocationReferences) -> model.LocationReferences:
    return to_canonical(w, model.LocationReferences)


def location_references_from_canonical(m: model.LocationReferences) -> wire.LocationReferences:
    return from_canonical(m, wire.LocationReferences)


def session_to_canonical(w: wire.Session) -> model.Session:
    return to_canonical(w, model.Session)


def session_from_canonical(m: model.Session) -> wire.Session:
    return from_canonical(m, wire.Session)


def cdr_to_canonical(w: wire.Cdr) -> model.Cdr:
    return to_canonical(w, model.Cdr)


def cdr_from_canonical(m: model.Cdr) -> wire.Cdr:
    return from_canonical(m, wire.Cdr)


def cdr_token_to_canonical(w: wire.CdrToken) -> model.CdrToken:
    return to_canonical(w, model.CdrToken)


def cdr_token_from_canonical(m: model.CdrToken) -> wire.CdrToken:
    return from_canonical(m, wire.CdrToken)


def _request_to_canonical(w: Any, type_: type[W]) -> W:
    tree = _canonical_tree(_builtins(w))
    tree.pop("response_url", None)  # the hub keeps the response_url beside the command, not in it
    return msgspec.convert(tree, type_)


def start_session_to_canonical(w: wire.StartSession) -> model.StartSession:
    return _request_to_canonical(w, model.StartSession)


def stop_session_to_canonical(w: wire.StopSession) -> model.StopSession:
    return _request_to_canonical(w, model.StopSession)


def reserve_now_to_canonical(w: wire.ReserveNow) -> model.ReserveNow:
    return _request_to_canonical(w, model.ReserveNow)


def cancel_reservation_to_canonical(w: wire.CancelReservation) -> model.CancelReservation:
    return _request_to_canonical(w, model.CancelReservation)


def unlock_connector_to_canonical(w: wire.UnlockConnector) -> model.UnlockConnector:
    return _request_to_canonical(w, model.UnlockConnector)


def command_request_from_canonical(m: model.CommandRequest, response_url: str) -> Any:
    """A canonical command as the wire request the CPO receives, with the given response_url."""
    wire_type = {
        model.StartSession: wire.StartSession, model.StopSession: wire.StopSession, model.ReserveNow: wire.ReserveNow,
        model.CancelReservation: wire.CancelReservation, model.UnlockConnector: wire.UnlockConnector,
    }[type(m)]
    return msgspec.convert({**_wire_tree(_builtins(m)), "response_url": response_url}, wire_type)


def command_response_to_canonical(w: wire.CommandResponse) -> model.CommandResponse:
    return to_canonical(w, model.CommandResponse)


def command_response_from_canonical(m: model.CommandResponse) -> wire.CommandResponse:
    return from_canonical(m, wire.CommandResponse)


def command_result_to_canonical(w: wire.CommandResult) -> model.CommandResult:
    return to_canonical(w, model.CommandResult)


def command_result_from_canonical(m: model.CommandResult) -> wire.CommandResult:
    return from_canonical(m, wire.CommandResult)


def charging_profile_to_canonical(w: wire.ChargingProfile) -> model.ChargingProfile:
    return to_canonical(w, model.ChargingProfile)


def charging_profile_from_canonical(m: model.ChargingProfile) -> wire.ChargingProfile:
    return from_canonical(m, wire.ChargingProfile)


def active_charging_profile_to_canonical(w: wire.ActiveChargingProfile) -> model.ActiveChargingProfile:
    return to_canonical(w, model.ActiveChargingProfile)


def active_charging_profile_from_canonical(m: model.ActiveChargingProfile) -> wire.ActiveChargingProfile:
    return from_canonical(m, wire.ActiveChargingProfile)


def charging_profile_response_to_canonical(w: wire.ChargingProfileResponse) -> model.ChargingProfileResponse:
    return to_canonical(w, model.ChargingProfileResponse)


def charging_profile_response_from_canonical(m: model.ChargingProfileResponse) -> wire.ChargingProfileResponse:
    return from_canonical(m, wire.ChargingProfileResponse)


def charging_profile_result_to_canonical(
    w: wire.ActiveChargingProfileResult | wire.ChargingProfileResult | wire.ClearProfileResult,
) -> model.ChargingProfileResult:
    return to_canonical(w, model.ChargingProfileResult)


def charging_profile_result_from_canonical(m: model.ChargingProfileResult, wire_type: type[W]) -> W:
    """To ActiveChargingProfileResult (keeps `profile`), ChargingProfileResult or ClearProfileResult."""
    tree = _wire_tree(_builtins(m))
    if wire_type is not wire.ActiveChargingProfileResult:
        tree.pop("profile", None)
    return msgspec.convert(tree, wire_type)


def client_info_to_canonical(w: wire.ClientInfo) -> model.ClientInfo:
    return to_canonical(w, model.ClientInfo)


def client_info_from_canonical(m: model.ClientInfo) -> wire.ClientInfo:
    return from_canonical(m, wire.ClientInfo)


def display_text_to_canonical(w: wire.DisplayText) -> model.DisplayText:
    return to_canonical(w, model.DisplayText)


def display_text_from_canonical(m: model.DisplayText) -> wire.DisplayText:
    return from_canonical(m, wire.DisplayText)


def location_patch_changes(p: wire.LocationPatch) -> dict[str, Any]:
    return changes(p)


def evse_patch_changes(p: wire.EvsePatch) -> dict[str, Any]:
    return changes(p)


def connector_patch_changes(p: wire.ConnectorPatch) -> dict[str, Any]:
    return changes(p)


def session_patch_changes(p: wire.SessionPatch) -> dict[str, Any]:
    return changes(p)


def token_patch_changes(p: wire.TokenPatch) -> dict[str, Any]:
    return changes(p)
