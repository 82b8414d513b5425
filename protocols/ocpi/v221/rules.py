"""OCPI 2.2.1 rules that the wire types cannot express. Pure: each check returns the problems it finds,
each naming the field's path, empty when the object is fine."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any

import msgspec

from protocols.ocpi.v221 import wire
from protocols.ocpi.v221.mapping import parse_datetime

SESSION_ONLY_DIMENSIONS = {"CURRENT", "ENERGY_EXPORT", "ENERGY_IMPORT", "POWER", "STATE_OF_CHARGE"}


class Problem(msgspec.Struct, frozen=True):
    path: str
    message: str


# --- dates ---------------------------------------------------------------------------------------

# The patterns of DateTime and Date let through what is not a day or an instant (2026-02-30, a month 13, an
# hour 25, an offset that leaves the years 1-9999): each is parsed as the mapping will parse it.
_PARSERS: dict[Any, Callable[[str], object]] = {wire.DateTime: parse_datetime, wire.Date: date.fromisoformat}


def _element_type(hint: Any) -> Any:
    """A field's type without Optional, Annotated (of a list) and list."""
    while hint not in _PARSERS:
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        elif origin in (typing.Annotated, list):
            hint = typing.get_args(hint)[0]
        else:
            break
    return hint


@lru_cache(maxsize=None)
def _dated_fields(struct: type) -> tuple[tuple[str, Any], ...]:
    """(field, its parser or the Struct type holding dates) for the fields of a wire Struct with dates in them."""
    out = []
    for f in msgspec.structs.fields(struct):
        inner = _element_type(f.type)
        if inner in _PARSERS:
            out.append((f.name, _PARSERS[inner]))
        elif isinstance(inner, type) and issubclass(inner, msgspec.Struct) and _dated_fields(inner):
            out.append((f.name, inner))
    return tuple(out)


def check_dates(obj: msgspec.Struct, path: str = "") -> list[Problem]:
    """Every DateTime and Date in a decoded wire object is a real instant or day."""
    out = []
    for name, what in _dated_fields(type(obj)):
        value = getattr(obj, name)
        if isinstance(value, list):
            items = [(f"{path}{name}[{i}]", v) for i, v in enumerate(value)]
        else:
            items = [] if value is None else [(f"{path}{name}", value)]
        for where, item in items:
            if isinstance(what, type):
                out += check_dates(item, f"{where}.")
                continue
            try:
                what(item)
            except (ValueError, OverflowError) as exc:
                out.append(Problem(where, f"{item!r} is not a real date or time ({exc})"))
    return out


# --- objects -------------------------------------------------------------------------------------


def _unique(path: str, ids: list[str], name: str) -> list[Problem]:
    """Ids of siblings compare case-insensitively (CiString): a repeat would be one object twice."""
    first: dict[str, int] = {}
    out = []
    for i, value in enumerate(ids):
        j = first.setdefault(value.upper(), i)
        if j != i:
            out.append(Problem(f"{path}[{i}].{name}", f"{value!r} repeats {path}[{j}].{name}"))
    return out


def _evses(evses: list[wire.Evse] | None) -> list[Problem]:
    out = _unique("evses", [e.uid for e in evses or []], "uid")
    for i, e in enumerate(evses or []):
        out += _unique(f"evses[{i}].connectors", [c.id for c in e.connectors], "id")
    return out


def _energy_volumes(periods: list[wire.ChargingPeriod] | None, kwh: float | None) -> list[Problem]:
    """ENERGY is in kWh: a period volume above the session's total kWh was sent in Wh."""
    if kwh is None or not periods:
        return []
    out = []
    for i, period in enumerate(periods):
        for j, dim in enumerate(period.dimensions):
            if dim.type == "ENERGY" and dim.volume > kwh + 0.001:
                out.append(Problem(f"charging_periods[{i}].dimensions[{j}].volume",
                                   f"ENERGY {dim.volume} exceeds the session's {kwh} kWh: the unit is kWh, not Wh"))
    return out


def check_session(s: wire.Session) -> list[Problem]:
    out = _energy_volumes(s.charging_periods, s.kwh)
    if s.end_date_time and parse_datetime(s.end_date_time) < parse_datetime(s.start_date_time):
        out.append(Problem("end_date_time", "before start_date_time"))
    return out


def check_session_patch(p: wire.SessionPatch) -> list[Problem]:
    return _energy_volumes(p.charging_periods, p.kwh)


def check_cdr(c: wire.Cdr) -> list[Problem]:
    out = []
    start, end = parse_datetime(c.start_date_time), parse_datetime(c.end_date_time)
    if end < start:
        out.append(Problem("end_date_time", "before start_date_time"))
    if parse_datetime(c.last_updated) < end:
        out.append(Problem("last_updated", "before end_date_time: a CDR is made after the session ended"))
    for i, period in enumerate(c.charging_periods):
        for j, dim in enumerate(period.dimensions):
            if dim.type in SESSION_ONLY_DIMENSIONS:
                out.append(Problem(f"charging_periods[{i}].dimensions[{j}].type", f"{dim.type} is for Sessions only, not CDRs"))
    out += [Problem(p.path, p.message) for p in _energy_volumes(c.charging_periods, c.total_energy)]
    if not c.credit and len(c.id) > 36:
        out.append(Problem("id", "longer than 36 characters; only a credit CDR may use 39"))
    if c.credit and not c.credit_reference_id:
        out.append(Problem("credit_reference_id", "required for a credit CDR"))
    return out


def _publish_token(path: str, t: wire.PublishTokenType) -> list[Problem]:
    out = []
    if not (t.uid or t.visual_number or t.group_id):
        out.append(Problem(path, "needs one of uid, visual_number or group_id"))
    if t.uid and not t.type:
        out.append(Problem(f"{path}.type", "required with uid"))
    if t.visual_number and not t.issuer:
        out.append(Problem(f"{path}.issuer", "required with visual_number"))
    return out


def check_location(loc: wire.Location) -> list[Problem]:
    out = _evses(loc.evses)
    if loc.publish and loc.publish_allowed_to:
        out.append(Problem("publish_allowed_to", "only allowed when publish is false"))
    for i, t in enumerate(loc.publish_allowed_to or []):
        out += _publish_token(f"publish_allowed_to[{i}]", t)
    if loc.opening_times and not loc.opening_times.twentyfourseven and not loc.opening_times.regular_hours:
        out.append(Problem("opening_times.regular_hours", "required when not twentyfourseven"))
    if loc.energy_mix and loc.energy_mix.energy_sources:
        total = sum(s.percentage for s in loc.energy_mix.energy_sources)
        if total > 100:
            out.append(Problem("energy_mix.energy_sources", f"percentages add up to {total}, more than 100"))
    return out


def check_evse(e: wire.Evse | wire.EvsePatch) -> list[Problem]:
    return _unique("connectors", [c.id for c in e.connectors or []], "id")


def check_location_patch(p: wire.LocationPatch) -> list[Problem]:
    return _evses(p.evses)


def check_tariff(t: wire.Tariff) -> list[Problem]:
    out = []
    for i, element in enumerate(t.elements):
        if element.restrictions and element.restrictions.reservation:
            for j, c in enumerate(element.price_components):
                if c.type not in ("FLAT", "TIME"):
                    out.append(Problem(f"elements[{i}].price_components[{j}].type", "a reservation is priced by FLAT or TIME only"))
    return out


def check_start_session(s: wire.StartSession) -> list[Problem]:
    if s.connector_id and not s.evse_uid:
        return [Problem("evse_uid", "required when connector_id is given")]
    return []


def check_version_details(v: wire.VersionDetails, strict: bool = False) -> list[Problem]:
    out = []
    if v.version != "2.2.1":
        out.append(Problem("version", f"{v.version!r} in the 2.2.1 version details"))
    for i, e in enumerate(v.endpoints):
        if "/2.2/" in e.url:
            out.append(Problem(f"endpoints[{i}].url", "a /2.2/ URL in the 2.2.1 version details"))
        if strict and e.identifier == "credentials" and e.role != "SENDER":
            out.append(Problem(f"endpoints[{i}].role", "the spec advises SENDER for the credentials endpoint"))
    return out


def check_versions(versions: list[wire.Version], strict: bool = False) -> list[Problem]:
    """Strict: deprecated versions (2.1, 2.2) and a missing 2.2.1 entry are flagged."""
    if not strict:
        return []
    out = [Problem(f"[{i}].version", f"{v.version} is deprecated") for i, v in enumerate(versions) if v.version in ("2.1", "2.2")]
    if not any(v.version == "2.2.1" for v in versions):
        out.append(Problem("version", "no 2.2.1 entry"))
    return out
