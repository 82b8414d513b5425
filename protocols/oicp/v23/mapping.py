"""OICP 2.3 wire types <-> the canonical model. Pure: no I/O.

OICP is flat where the model nests: an EvseDataRecord is one EVSE repeating its station's address, coordinates,
hours and energy mix, with Plugs and ChargingFacilities as two unlinked lists; there is no Location and no
Connector. The decisions (docs/architecture.md, "OICP 2.3"):
- Locations: the records of one operator are grouped by ChargingPoolID, else ChargingStationId, else address and
  coordinates; the Location's id is the pool or station id itself when it is a valid OCPI id, else a digest of the
  group key. Its own fields come from the group's first record. Going out, a Location id shaped like a pool id
  becomes ChargingPoolID, any other becomes ChargingStationId.
- Parties: OperatorID `DE*ABC` <-> party DE/ABC, ProviderID `DE-ABC` <-> DE/ABC; DIN ids (`+49*536`) name no party.
- Connectors: one per Plug, numbered by the plug's place in the list, with the electrical values of the facility of
  matching current (DC plugs the DC facility, AC plugs an AC one); a plug OCPI has no type for is left out.
- Tokens: the single member of an Identification decides the token type; an EvcoID names its eMSP, an RFID UID
  needs the provider from elsewhere (the ProviderID of an authorization, HubProviderID of a CDR).
- Times: aware UTC inside, rendered with the offset `+00:00`; energy in kWh both sides; OICP carries no money.
What does not fit raises `Unmappable`, naming the field.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from hub import model
from protocols.oicp.v23 import wire


class Unmappable(ValueError):
    """What the wire types accept but the other side cannot take (a DIN OperatorID as a party, an Identification
    with two members, a CDR without a Hubject SessionID, ...)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


def _pattern(annotated: Any) -> re.Pattern[str]:
    return re.compile(annotated.__metadata__[0].pattern)


_EVSE_ID = _pattern(wire.EvseID)
_SESSION_ID = _pattern(wire.SessionID)
_UID = _pattern(wire.UID)
_EVCO_ID = _pattern(wire.EvcoID)
_POOL_ID = _pattern(wire.ChargingPoolID)
_LANG = _pattern(wire.LanguageCode)
_PHONE = _pattern(wire.PhoneNumber)
_PRINTABLE = re.compile(r"^[\x20-\x7E]+(?!\n)$")  # an OCPI CiString


# --- identifiers -------------------------------------------------------------------------------------------------

_ISO_OPERATOR = re.compile(r"^([A-Za-z]{2})\*?([A-Za-z0-9]{3})$")
_ISO_PROVIDER = re.compile(r"^([A-Za-z]{2})[*|-]?([A-Za-z0-9]{3})$")
_ISO_EVSE = re.compile(r"^([A-Za-z]{2})\*?([A-Za-z0-9]{3})\*?E")
_DIN_EVSE = re.compile(r"^(\+?[0-9]{1,3})\*([0-9]{3})\*")
_EVCO_PREFIX = re.compile(r"^([A-Za-z]{2})[*|-]?([A-Za-z0-9]{3})")


def operator_party(operator_id: str) -> model.PartyId:
    """`DE*ABC` or `DEABC` -> DE/ABC. A DIN OperatorID (`+49*536`) names no party: the connector maps it."""
    found = _ISO_OPERATOR.match(operator_id)
    if found is None:
        raise Unmappable(f"{operator_id!r} is no ISO OperatorID: it names no party", "OperatorID")
    return model.PartyId.of(*found.groups())


def operator_id(party: model.PartyId) -> str:
    return f"{party.country_code}*{party.party_id}"


def provider_party(provider_id: str) -> model.PartyId:
    """`DE-DCB`, `DE*DCB` or `DEDCB` -> DE/DCB."""
    found = _ISO_PROVIDER.match(provider_id)
    if found is None:
        raise Unmappable(f"{provider_id!r} is no ProviderID", "ProviderID")
    return model.PartyId.of(*found.groups())


def provider_id(party: model.PartyId) -> str:
    return f"{party.country_code}-{party.party_id}"


def evse_operator_id(evse_id: str) -> str:
    """The operator an EvseID names (ISO `DE*ABC*E1` -> `DE*ABC`, DIN `+49*810*000*438` -> `+49*810`): the
    operator or sub-operator whose EVSE it is, which Hubject checks against the pushing OperatorID (code 018)."""
    if found := _ISO_EVSE.match(evse_id):
        return f"{found.group(1).upper()}*{found.group(2).upper()}"
    if found := _DIN_EVSE.match(evse_id):
        return f"{found.group(1)}*{found.group(2)}"
    raise Unmappable(f"{evse_id!r} is no EvseID", "EvseID")


def evco_provider(evco_id: str) -> model.PartyId:
    """The eMSP of a contract id: `DE-8EO-CAet5e4XY-3` or `DE*8EO*Aet5e4*3` -> DE/8EO."""
    found = _EVCO_PREFIX.match(evco_id)
    if found is None or not _EVCO_ID.match(evco_id):
        raise Unmappable(f"{evco_id!r} is no EvcoID", "EvcoID")
    return model.PartyId.of(*found.groups())


def id_key(text: str) -> str:
    """OICP ids compare case-insensitively and with or without their separators (`DE*ABC*E1` = `deabce1`)."""
    return re.sub(r"[*\-\s]", "", text).upper()


def evse_uid(evse_id: str) -> str:
    """The canonical EVSE uid (OCPI: at most 36 characters) of an EvseID (up to 38): itself, or a digest."""
    return evse_id if len(evse_id) <= 36 else _digest("evse", id_key(evse_id))[:36]


def _digest(*parts: object) -> str:
    text = "\x1f".join(" ".join(str(p).casefold().split()) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# --- times, numbers, coordinates, texts --------------------------------------------------------------------------


def parse_datetime(text: str, path: str | None = None) -> datetime:
    """An OICP date-time (any offset; `Z`; any number of fractional digits) as an aware UTC datetime."""
    value = text[:-1] + "+00:00" if text[-1:] in "Zz" else text
    if "." in value:  # Python 3.11 reads 3 or 6 fractional digits only: pad or cut to 6
        head, _, rest = value.partition(".")
        digits = re.match(r"[0-9]*", rest).group(0)  # type: ignore[union-attr]
        value = f"{head}.{(digits + '000000')[:6]}{rest[len(digits):]}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Unmappable(f"{text!r} is no instant", path) from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def format_datetime(value: datetime) -> str:
    """With the offset `+00:00`: whole seconds, or milli- or microseconds when there are any."""
    value = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    spec = "microseconds" if value.microsecond % 1000 else "milliseconds" if value.microsecond else "seconds"
    return value.isoformat(timespec=spec)


_HOURS = Decimal("0.000001")


def _hours(delta: timedelta) -> Decimal:
    return (Decimal(delta // timedelta(microseconds=1)) / Decimal(3_600_000_000)).quantize(_HOURS)


def _milliseconds(delta: timedelta) -> int:
    return max(0, delta // timedelta(milliseconds=1))


_SIX_DECIMALS = Decimal("0.000001")
_DMS = re.compile(r"^(-?)(1?[0-9]{1,2})°[ ]?([0-9]{1,2})'[ ]?([0-9]{1,2}\.[0-9]+)''$")


def _dms(text: str) -> Decimal:
    found = _DMS.match(text)
    if found is None:
        raise Unmappable(f"{text!r} is no DegreeMinuteSeconds coordinate", "DegreeMinuteSeconds")
    sign, degrees, minutes, seconds = found.groups()
    value = Decimal(degrees) + Decimal(minutes) / 60 + Decimal(seconds) / 3600
    return (-value if sign else value).quantize(_SIX_DECIMALS)


def geo_point(coordinates: wire.GeoCoordinates, path: str = "GeoCoordinates") -> model.GeoPoint:
    """Whichever notation is there (DecimalDegree first: it names latitude and longitude)."""
    if coordinates.decimal_degree is not None:
        return model.GeoPoint(Decimal(coordinates.decimal_degree.latitude), Decimal(coordinates.decimal_degree.longitude))
    if coordinates.google is not None:
        latitude, longitude = re.split(r"\s*,\s*|\s+", coordinates.google.coordinates.strip())  # "lat lon"
        return model.GeoPoint(Decimal(latitude), Decimal(longitude))
    if coordinates.degree_minute_seconds is not None:
        return model.GeoPoint(_dms(coordinates.degree_minute_seconds.latitude), _dms(coordinates.degree_minute_seconds.longitude))
    raise Unmappable("no coordinates in a notation OICP defines", path)


def _degrees(value: Decimal) -> str:
    """At most 6 decimals (OICP), at least one (the dot is required)."""
    if value.as_tuple().exponent < -6:  # type: ignore[operator]
        value = value.quantize(_SIX_DECIMALS, rounding=ROUND_HALF_EVEN)
    text = f"{value:f}"
    return text if "." in text else f"{text}.0"


def geo_coordinates(point: model.GeoPoint) -> wire.GeoCoordinates:
    """DecimalDegree: no latitude/longitude order to get wrong."""
    return wire.GeoCoordinates(decimal_degree=wire.DecimalDegree(latitude=_degrees(point.latitude), longitude=_degrees(point.longitude)))


_ISO639_2 = {  # the three-letter codes OICP admits, to OCPI's two letters
    "bul": "bg", "ces": "cs", "cze": "cs", "dan": "da", "deu": "de", "ger": "de", "dut": "nl", "ell": "el", "gre": "el",
    "eng": "en", "est": "et", "fin": "fi", "fra": "fr", "fre": "fr", "hrv": "hr", "hun": "hu", "ita": "it", "lav": "lv",
    "lit": "lt", "ltz": "lb", "nld": "nl", "nob": "nb", "nor": "no", "pol": "pl", "por": "pt", "ron": "ro", "rum": "ro",
    "slk": "sk", "slo": "sk", "slv": "sl", "spa": "es", "swe": "sv",
}


def _language(lang: str) -> str:
    primary = lang.split("-", 1)[0].lower()
    return _ISO639_2.get(primary, primary[:2])


def _lang(language: str) -> str:
    lang = language.lower()
    return lang if _LANG.match(lang) else "en"


def _display_text(info: wire.InfoText) -> model.DisplayText:
    return model.DisplayText(language=_language(info.lang), text=info.value[:512])


def _info_text(text: model.DisplayText) -> wire.InfoText:
    return wire.InfoText(lang=_lang(text.language), value=text.text[:150])


# Address.TimeZone is a fixed offset and OCPI needs an IANA zone: a country with one zone gives it; the language is
# that of the station names the hub writes (Hubject asks for the local language).
_COUNTRIES: dict[str, tuple[str, str]] = {
    "ALB": ("Europe/Tirane", "sq"), "AND": ("Europe/Andorra", "ca"), "ARE": ("Asia/Dubai", "ar"),
    "AUT": ("Europe/Vienna", "de"), "BEL": ("Europe/Brussels", "nl"), "BGR": ("Europe/Sofia", "bg"),
    "BIH": ("Europe/Sarajevo", "bs"), "CHE": ("Europe/Zurich", "de"), "CYP": ("Asia/Nicosia", "el"),
    "CZE": ("Europe/Prague", "cs"), "DEU": ("Europe/Berlin", "de"), "DNK": ("Europe/Copenhagen", "da"),
    "ESP": ("Europe/Madrid", "es"), "EST": ("Europe/Tallinn", "et"), "FIN": ("Europe/Helsinki", "fi"),
    "FRA": ("Europe/Paris", "fr"), "GBR": ("Europe/London", "en"), "GRC": ("Europe/Athens", "el"),
    "HRV": ("Europe/Zagreb", "hr"), "HUN": ("Europe/Budapest", "hu"), "IRL": ("Europe/Dublin", "en"),
    "ISL": ("Atlantic/Reykjavik", "is"), "ISR": ("Asia/Jerusalem", "he"), "ITA": ("Europe/Rome", "it"),
    "JPN": ("Asia/Tokyo", "ja"), "KOR": ("Asia/Seoul", "ko"), "LIE": ("Europe/Vaduz", "de"),
    "LTU": ("Europe/Vilnius", "lt"), "LUX": ("Europe/Luxembourg", "fr"), "LVA": ("Europe/Riga", "lv"),
    "MCO": ("Europe/Monaco", "fr"), "MKD": ("Europe/Skopje", "mk"), "MLT": ("Europe/Malta", "mt"),
    "MNE": ("Europe/Podgorica", "sr"), "NLD": ("Europe/Amsterdam", "nl"), "NOR": ("Europe/Oslo", "no"),
    "NZL": ("Pacific/Auckland", "en"), "POL": ("Europe/Warsaw", "pl"), "PRT": ("Europe/Lisbon", "pt"),
    "ROU": ("Europe/Bucharest", "ro"), "SGP": ("Asia/Singapore", "en"), "SMR": ("Europe/San_Marino", "it"),
    "SRB": ("Europe/Belgrade", "sr"), "SVK": ("Europe/Bratislava", "sk"), "SVN": ("Europe/Ljubljana", "sl"),
    "SWE": ("Europe/Stockholm", "sv"), "TUR": ("Europe/Istanbul", "tr"), "UKR": ("Europe/Kiev", "uk"),
    "ZAF": ("Africa/Johannesburg", "en"),
}
_OFFSET = re.compile(r"^UTC([+-])([0-9]{2}):([0-9]{2})$")


def time_zone(address: wire.Address) -> str:
    """The country's zone; else, for a whole-hour TimeZone, its Etc/GMT zone (signs inverted: UTC+01:00 is
    Etc/GMT-1); else UTC."""
    known = _COUNTRIES.get(address.country.upper())
    if known:
        return known[0]
    found = _OFFSET.match(address.time_zone or "")
    if found is None or found.group(3) != "00":
        return "UTC"
    sign, hours = found.group(1), int(found.group(2))
    zone = "UTC" if hours == 0 else f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
    return zone if _zone(zone) is not None else "UTC"


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def utc_offset(zone_name: str, at: datetime) -> str | None:
    """The zone's standard offset at that moment as Address.TimeZone (`UTC+01:00` for Europe/Berlin all year)."""
    zone = _zone(zone_name)
    if zone is None:
        return None
    local = at.astimezone(zone)
    offset = (local.utcoffset() or timedelta(0)) - (local.dst() or timedelta(0))
    minutes = offset // timedelta(minutes=1)
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# --- plugs and charging facilities <-> connectors ----------------------------------------------------------------

# Plug -> (standard, format). Inductive paddles and AVCON have no OCPI type: such plugs are left out.
PLUG_TO_CONNECTOR: dict[str, tuple[model.ConnectorStandard, model.ConnectorFormat]] = {
    "Type 2 Outlet": ("IEC_62196_T2", "SOCKET"),
    "Type 2 Connector (Cable Attached)": ("IEC_62196_T2", "CABLE"),
    "CCS Combo 2 Plug (Cable Attached)": ("IEC_62196_T2_COMBO", "CABLE"),
    "CCS Combo 1 Plug (Cable Attached)": ("IEC_62196_T1_COMBO", "CABLE"),
    "Type 1 Connector (Cable Attached)": ("IEC_62196_T1", "CABLE"),
    "CHAdeMO": ("CHADEMO", "CABLE"),
    "Type 3 Outlet": ("IEC_62196_T3C", "SOCKET"),
    "Type F Schuko": ("DOMESTIC_F", "SOCKET"),
    "Type E French Standard": ("DOMESTIC_E", "SOCKET"),
    "Type G British Standard": ("DOMESTIC_G", "SOCKET"),
    "Type J Swiss Standard": ("DOMESTIC_J", "SOCKET"),
    "NEMA 5-20": ("NEMA_5_20", "SOCKET"),
    "IEC 60309 Single Phase": ("IEC_60309_2_single_16", "SOCKET"),
    "IEC 60309 Three Phase": ("IEC_60309_2_three_32", "SOCKET"),  # 16/32/64 by the facility's amperage
    "Tesla Connector": ("TESLA_S", "CABLE"),  # TESLA_R (Roadster) is the same plug name
}
# (standard, format or None for either) -> Plug. No OICP plug: CHAOJI, GB/T, most domestic types, the larger NEMA
# sockets, pantographs, and IEC_62196_T1 as a socket; a connector of those types is not pushed.
CONNECTOR_TO_PLUG: dict[tuple[str, str | None], str] = {
    ("IEC_62196_T2", "SOCKET"): "Type 2 Outlet",
    ("IEC_62196_T2", "CABLE"): "Type 2 Connector (Cable Attached)",
    ("IEC_62196_T2_COMBO", None): "CCS Combo 2 Plug (Cable Attached)",
    ("IEC_62196_T1_COMBO", None): "CCS Combo 1 Plug (Cable Attached)",
    ("IEC_62196_T1", "CABLE"): "Type 1 Connector (Cable Attached)",
    ("CHADEMO", None): "CHAdeMO",
    ("IEC_62196_T3C", None): "Type 3 Outlet",
    ("IEC_62196_T3A", None): "Type 3 Outlet",
    ("DOMESTIC_F", None): "Type F Schuko",
    ("DOMESTIC_E", None): "Type E French Standard",
    ("DOMESTIC_G", None): "Type G British Standard",
    ("DOMESTIC_J", None): "Type J Swiss Standard",
    ("NEMA_5_20", None): "NEMA 5-20",
    ("IEC_60309_2_single_16", None): "IEC 60309 Single Phase",
    ("IEC_60309_2_three_16", None): "IEC 60309 Three Phase",
    ("IEC_60309_2_three_32", None): "IEC 60309 Three Phase",
    ("IEC_60309_2_three_64", None): "IEC 60309 Three Phase",
    ("TESLA_S", None): "Tesla Connector",
    ("TESLA_R", None): "Tesla Connector",
}

# Which facility a plug takes when an EVSE has several (OICP does not link them), in order of preference.
_DC_PLUGS = {"CCS Combo 2 Plug (Cable Attached)", "CCS Combo 1 Plug (Cable Attached)", "CHAdeMO"}
_THREE_PHASE_PLUGS = {"Type 2 Outlet", "Type 2 Connector (Cable Attached)", "Type 3 Outlet", "IEC 60309 Three Phase"}
_POWER_TYPES = ("AC_1_PHASE", "AC_3_PHASE", "DC")


def _current_preference(plug: str) -> tuple[str, ...]:
    if plug in _DC_PLUGS:
        return ("DC",)
    if plug == "Tesla Connector":
        return ("DC", "AC_3_PHASE", "AC_1_PHASE")
    if plug in _THREE_PHASE_PLUGS:
        return ("AC_3_PHASE", "AC_1_PHASE")
    return ("AC_1_PHASE", "AC_3_PHASE")


def _facility_for(plug: str, facilities: list[wire.ChargingFacility]) -> wire.ChargingFacility | None:
    for power_type in _current_preference(plug):
        for facility in facilities:
            if facility.power_type == power_type:
                return facility
    return None


# Defaults where a facility leaves them out (OICP optional, OCPI mandatory): 230 V line to neutral for AC; 400 V for
# DC, an estimate (no good default exists). An amperage neither given nor derivable from the power is 0: unknown.
_AC_VOLTAGE = 230
_DC_VOLTAGE = 400


def _connector(plug: str, position: int, facility: wire.ChargingFacility | None, updated: datetime) -> model.Connector:
    standard, fmt = PLUG_TO_CONNECTOR[plug]
    preferred = _current_preference(plug)[0]
    power_type: model.PowerType = facility.power_type if facility is not None else preferred  # type: ignore[assignment]
    phases = 3 if power_type == "AC_3_PHASE" else 1
    voltage = facility.voltage if facility is not None else None
    if voltage is not None and power_type == "AC_3_PHASE" and voltage > 300:
        voltage = round(voltage / Decimal(3).sqrt())  # given line to line (400, 480): OCPI wants line to neutral
    if voltage is None:
        voltage = _DC_VOLTAGE if power_type == "DC" else _AC_VOLTAGE
    power_kw = facility.power if facility is not None else None
    amperage = facility.amperage if facility is not None else None
    if amperage is None:
        amperage = int((power_kw * 1000 / (voltage * phases)).to_integral_value()) if power_kw and voltage else 0
    if plug == "IEC 60309 Three Phase" and facility is not None and facility.amperage is not None:
        standard = "IEC_60309_2_three_16" if amperage <= 16 else "IEC_60309_2_three_32" if amperage <= 32 else "IEC_60309_2_three_64"
    watts = int(power_kw * 1000) if power_kw is not None else (voltage * amperage * phases or None)
    return model.Connector(id=str(position), standard=standard, format=fmt, power_type=power_type, max_voltage=voltage,
                           max_amperage=amperage, max_electric_power=watts, last_updated=updated)


def _connectors(record: wire.EvseDataRecord, updated: datetime) -> list[model.Connector]:
    facilities = [f for f in record.charging_facilities or [] if f.power_type in _POWER_TYPES]
    return [_connector(plug, n, _facility_for(plug, facilities), updated)
            for n, plug in enumerate(record.plugs or [], start=1) if plug in PLUG_TO_CONNECTOR]


def plug(connector: model.Connector) -> str | None:
    """The OICP plug of a connector, None when OICP has none."""
    return CONNECTOR_TO_PLUG.get((connector.standard, connector.format)) or CONNECTOR_TO_PLUG.get((connector.standard, None))


def charging_facility(connector: model.Connector) -> wire.ChargingFacility:
    """Within the OpenAPI's caps: a voltage over 999 or an amperage over 99 is left out rather than clamped
    (hubject/oicp#153); OICP has no two-phase current: AC_2_PHASE(_SPLIT) is sent as AC_1_PHASE."""
    power_type = connector.power_type if connector.power_type in _POWER_TYPES else "AC_1_PHASE"
    phases = 3 if power_type == "AC_3_PHASE" else 1
    watts = connector.max_electric_power
    if watts is None:
        watts = connector.max_voltage * connector.max_amperage * phases
    return wire.ChargingFacility(
        power_type=power_type, power=Decimal(min(999, round(watts / 1000))),  # an integer kW in the CPO document
        voltage=connector.max_voltage if connector.max_voltage <= 999 else None,
        amperage=connector.max_amperage if connector.max_amperage <= 99 else None,
    )


# --- EVSE data -> Locations --------------------------------------------------------------------------------------

_EVSE_STATUS_IN: dict[str, model.EvseStatus] = {
    "Available": "AVAILABLE", "Reserved": "RESERVED", "Occupied": "CHARGING", "OutOfService": "OUTOFORDER",
    "Unknown": "UNKNOWN", "EvseNotFound": "REMOVED",
}
# BLOCKED is physically unusable, the closest is Occupied; PLANNED and REMOVED have no status (their data is not
# pushed, or deleted)
_EVSE_STATUS_OUT: dict[str, str] = {
    "AVAILABLE": "Available", "RESERVED": "Reserved", "CHARGING": "Occupied", "BLOCKED": "Occupied",
    "INOPERATIVE": "OutOfService", "OUTOFORDER": "OutOfService", "UNKNOWN": "Unknown",
}
_PARKING_TYPE_IN: dict[str, model.ParkingType] = {
    "OnStreet": "ON_STREET", "ParkingLot": "PARKING_LOT", "ParkingGarage": "PARKING_GARAGE",
    "UndergroundParkingGarage": "UNDERGROUND_GARAGE",
}
_PARKING_TYPE_OUT = {v: k for k, v in _PARKING_TYPE_IN.items()}  # ALONG_MOTORWAY, ON_DRIVEWAY: none
_ENERGY_IN: dict[str, model.EnergySourceCategory] = {
    "Solar": "SOLAR", "Wind": "WIND", "HydroPower": "WATER", "GeothermalEnergy": "GENERAL_GREEN", "Biomass": "GENERAL_GREEN",
    "Coal": "COAL", "NuclearEnergy": "NUCLEAR", "Petroleum": "GENERAL_FOSSIL", "NaturalGas": "GAS",
}
_ENERGY_OUT = {"SOLAR": "Solar", "WIND": "Wind", "WATER": "HydroPower", "GENERAL_GREEN": "Biomass", "COAL": "Coal",
               "NUCLEAR": "NuclearEnergy", "GENERAL_FOSSIL": "Petroleum", "GAS": "NaturalGas"}
_DAYS: dict[str, tuple[int, ...]] = {
    "Everyday": (1, 2, 3, 4, 5, 6, 7), "Workdays": (1, 2, 3, 4, 5), "Weekend": (6, 7), "Monday": (1,), "Tuesday": (2,),
    "Wednesday": (3,), "Thursday": (4,), "Friday": (5,), "Saturday": (6,), "Sunday": (7,),
}
_DAY_NAMES = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday"}
_CARD_PAYMENT = {"CREDIT_CARD_PAYABLE", "DEBIT_CARD_PAYABLE", "CONTACTLESS_CARD_SUPPORT", "CHIP_CARD_SUPPORT", "PED_TERMINAL"}
_IMAGE_TYPES = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "gif": "gif", "svg": "svg", "webp": "webp"}


def evse_status(status: str) -> model.EvseStatus:
    """An OICP EvseStatus as the canonical one: Occupied is CHARGING (OCPI has no occupied-but-idle), EvseNotFound
    is REMOVED, an unknown value UNKNOWN."""
    return _EVSE_STATUS_IN.get(status, "UNKNOWN")


def oicp_evse_status(status: model.EvseStatus) -> str | None:
    """The OICP EvseStatus of a canonical one; None for PLANNED and REMOVED (no status is pushed for them)."""
    return _EVSE_STATUS_OUT.get(status)


def location_id_of(record: wire.EvseDataRecord, operator: str) -> str:
    """The id of the Location a record belongs to: its ChargingPoolID, else its ChargingStationId, used as they
    are when they fit an OCPI id (36 printable characters), else a digest; without either, a digest of the
    operator, address and coordinates (rounded to ~1 m)."""
    if record.charging_pool_id:
        pool = record.charging_pool_id
        return pool if len(pool) <= 36 else _digest("pool", id_key(operator), pool)
    station = record.station_id
    if station:
        fits = len(station) <= 36 and _PRINTABLE.match(station) and not _POOL_ID.match(station)
        return station if fits else _digest("station", id_key(operator), station)
    point, address = geo_point(record.geo_coordinates), record.address
    return _digest("site", id_key(operator), address.country, address.postal_code, address.city, address.street,
                   address.house_num, round(point.latitude, 5), round(point.longitude, 5))


def _opening_times(record: wire.EvseDataRecord) -> model.Hours | None:
    if record.is_open24_hours:
        return model.Hours(twentyfourseven=True)
    hours: set[model.RegularHours] = set()
    for entry in record.opening_times or []:
        for day in _DAYS[entry.on]:
            for period in entry.period:
                hours.update(_regular_hours(day, period))
    if not hours:  # not open all day, no hours given: unknown
        return None
    return model.Hours(twentyfourseven=False, regular_hours=sorted(hours, key=lambda h: (h.weekday, h.period_begin, h.period_end)))


def _minutes(hhmm: str) -> int:
    hours, minutes = int(hhmm[:2]), int(hhmm[3:])
    if minutes > 59 or hours * 60 + minutes > 1440:
        raise Unmappable(f"{hhmm!r} is no time of day", "OpeningTimes.Period")
    return hours * 60 + minutes


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _regular_hours(day: int, period: wire.Period) -> list[model.RegularHours]:
    """OCPI periods end later the same day, by 23:59: an OICP period that runs past midnight is cut in two, one
    ending at 24:00 ends at 23:59, one that begins where it ends is the whole day."""
    begin, end = _minutes(period.begin), _minutes(period.end)
    last = 1439
    if begin == end:
        return [model.RegularHours(day, "00:00", _hhmm(last))]
    if begin < end:
        return [model.RegularHours(day, _hhmm(begin), _hhmm(min(end, last)))]
    out = [model.RegularHours(day, _hhmm(begin), _hhmm(last))] if begin < last else []
    return out + ([model.RegularHours(day % 7 + 1, "00:00", _hhmm(end))] if end > 0 else [])


def _energy_mix(record: wire.EvseDataRecord) -> model.EnergyMix | None:
    sources = [model.EnergySource(_ENERGY_IN[s.energy], Decimal(s.percentage))
               for s in record.energy_source or [] if s.energy in _ENERGY_IN and s.percentage is not None]
    impact = record.environmental_impact
    impacts = [] if impact is None else [
        model.EnvironmentalImpact(category, amount)
        for category, amount in (("CARBON_DIOXIDE", impact.co2_emission), ("NUCLEAR_WASTE", impact.nuclear_waste))
        if amount is not None
    ]
    if not record.renewable_energy and not sources and not impacts:  # nothing said beyond "not 100 % renewable"
        return None
    return model.EnergyMix(is_green_energy=bool(record.renewable_energy), energy_sources=sources, environ_impact=impacts)  # type: ignore[arg-type]


def _capabilities(record: wire.EvseDataRecord) -> list[model.Capability]:
    modes = set(record.authentication_modes)
    services = set(record.value_added_services or [])
    found: set[model.Capability] = set()
    if modes & {"NFC RFID Classic", "NFC RFID DESFire"}:
        found.add("RFID_READER")
    if "REMOTE" in modes and record.is_hubject_compatible:  # not Hubject-compatible: Hubject refuses remote starts
        found.add("REMOTE_START_STOP_CAPABLE")
    if "Reservation" in services:
        found.add("RESERVABLE")
    if "ChargingPlans" in services:
        found.add("CHARGING_PROFILE_CAPABLE")
    if "Direct" in (record.payment_options or []) or "Direct Payment" in modes:
        found.add("CREDIT_CARD_PAYABLE")  # which card is not said
    return sorted(found)


def _image(url: str) -> model.Image:
    extension = url.rsplit(".", 1)[-1].lower() if "." in url.rsplit("/", 1)[-1] else ""
    return model.Image(url=url, category="CHARGER", type=_IMAGE_TYPES.get(extension, "jpeg"))


def evse_data_record_to_evse(record: wire.EvseDataRecord, *, received: datetime, status: model.EvseStatus | None = None) -> model.Evse:
    """One record as an EVSE. Its status is `status` (from the status pull), REMOVED for a deleted record,
    UNKNOWN where the operator sends no status (DynamicInfoAvailable "false") or none is known."""
    path = record.evse_id
    updated = parse_datetime(record.last_update, f"{path}.lastUpdate") if record.last_update else received
    connectors = _connectors(record, updated)
    if not connectors:
        raise Unmappable("no plug that OCPI has a connector type for", f"{path}.Plugs")
    if record.delta_type == "delete":
        status = "REMOVED"
    elif record.dynamic_info_available in ("false", False) or status is None:
        status = "UNKNOWN"
    address = record.address
    return model.Evse(
        uid=evse_uid(record.evse_id), evse_id=record.evse_id, status=status, connectors=connectors, last_updated=updated,
        capabilities=_capabilities(record), floor_level=address.floor[:4] if address.floor else None,
        physical_reference=address.parking_spot or None,
        directions=[_display_text(t) for t in record.charging_station_location_reference or []],
        parking_restrictions=["CUSTOMERS"] if record.accessibility == "Restricted access" else [],
        images=[_image(record.charging_station_image)] if record.charging_station_image else [],
    )


def _name(record: wire.EvseDataRecord) -> str | None:
    """OCPI has one name: the one in the country's language when there is one (the language the hub writes
    names in), else the first."""
    names = record.charging_station_names
    names = [] if names is None else [names] if isinstance(names, wire.InfoText) else names
    local = _COUNTRIES.get(record.address.country.upper(), ("UTC", "en"))[1]
    chosen = next((n for n in names if _language(n.lang) == local), names[0] if names else None)
    return chosen.value[:255] if chosen else None


def evse_data_record_to_location(
    record: wire.EvseDataRecord, *, received: datetime, operator: str | None = None, operator_name: str | None = None,
    status: model.EvseStatus | None = None,
) -> model.Location:
    """The Location one record describes, with that record's EVSE. A pulled record names its operator; a pushed
    one (OperatorEvseData) takes `operator` and `operator_name` from its wrapper."""
    if isinstance(record, wire.PullEvseDataRecord):
        operator = record.operator or operator
        operator_name = record.operator_name or operator_name
    if operator is None:
        raise Unmappable("a record without OperatorID", f"{record.evse_id}.OperatorID")
    party = operator_party(operator)
    evse = evse_data_record_to_evse(record, received=received, status=status)
    address = record.address
    street = address.street if not address.house_num else f"{address.street} {address.house_num}"
    entrance = record.geo_charging_point_entrance
    return model.Location(
        country_code=party.country_code, party_id=party.party_id, id=location_id_of(record, operator),
        publish=record.accessibility != "Test Station", address=street[:255], city=address.city[:45],
        country=address.country.upper(), coordinates=geo_point(record.geo_coordinates), time_zone=time_zone(address),
        last_updated=evse.last_updated, name=_name(record), postal_code=address.postal_code or None,
        state=address.region[:45] if address.region else None,
        related_locations=[] if entrance is None else [model.AdditionalGeoPoint(
            *_latitude_longitude(geo_point(entrance, "GeoChargingPointEntrance")), name=model.DisplayText("en", "Entrance"))],
        parking_type=_PARKING_TYPE_IN.get(record.accessibility_location or ""), evses=[evse],
        directions=[_display_text(t) for t in record.additional_info or []],
        operator=model.BusinessDetails(name=operator_name[:100]) if operator_name else None,
        suboperator=model.BusinessDetails(name=record.sub_operator_name) if record.sub_operator_name else None,
        opening_times=_opening_times(record), energy_mix=_energy_mix(record),
    )


def _latitude_longitude(point: model.GeoPoint) -> tuple[Decimal, Decimal]:
    return point.latitude, point.longitude


def evse_data_to_locations(
    records: Iterable[wire.EvseDataRecord], *, received: datetime, operator: str | None = None,
    operator_name: str | None = None, statuses: Mapping[str, model.EvseStatus] | None = None,
    skip: Callable[[wire.EvseDataRecord, Unmappable], None] | None = None,
) -> list[model.Location]:
    """EVSE data (pulled records, or one operator's pushed ones) as Locations, grouped by `location_id_of` per
    operator in the order they first appear. A group's Location is made from its first record; each later record
    adds its EVSE (replacing one with its uid), which keeps coordinates of its own where they differ from the
    Location's. `statuses` (EvseID -> status) sets the EVSEs' statuses. A record that cannot be mapped raises
    Unmappable, or with `skip` is reported to it and left out."""
    groups: dict[tuple[model.PartyId, str], tuple[model.Location, dict[str, model.Evse]]] = {}
    statuses = statuses or {}
    for record in records:
        try:
            owner = record.operator if isinstance(record, wire.PullEvseDataRecord) and record.operator else operator
            group = groups.get((operator_party(owner), location_id_of(record, owner))) if owner else None
            if group is None:
                one = evse_data_record_to_location(record, received=received, operator=operator, operator_name=operator_name,
                                                   status=statuses.get(record.evse_id))
                groups[(one.owner_party, one.id)] = (one, {one.evses[0].uid: one.evses[0]})
                continue
            evse = evse_data_record_to_evse(record, received=received, status=statuses.get(record.evse_id))
            point = geo_point(record.geo_coordinates)
        except Unmappable as problem:
            if skip is None:
                raise
            skip(record, problem)
            continue
        location, evses = group
        evses[evse.uid] = evse if point == location.coordinates else msgspec.structs.replace(evse, coordinates=point)
    return [msgspec.structs.replace(loc, evses=list(evses.values()), last_updated=max(e.last_updated for e in evses.values()))
            for loc, evses in groups.values()]


# --- Locations -> EVSE data --------------------------------------------------------------------------------------


class OperatorDetails(msgspec.Struct, frozen=True, kw_only=True):
    """What Hubject requires of an operator's EVSEs that the hub's Locations do not hold (the connector's
    configuration of the operator)."""

    hotline_phone_number: str  # +49301234567
    operator_name: str | None = None  # else the Locations' operator name, else the OperatorID
    calibration_law_data_availability: str = "Not Available"  # Local, External, Not Available


def why_not_pushable(evse: model.Evse) -> str | None:
    """Why an EVSE cannot be in OICP EVSE data, or None."""
    if evse.status in ("REMOVED", "PLANNED"):
        return f"status {evse.status}"
    if not evse.evse_id or not _EVSE_ID.match(evse.evse_id):
        return f"no EvseID (evse_id {evse.evse_id!r})"
    if not any(plug(c) for c in evse.connectors):
        return "no connector of a type OICP has a plug for"
    return None


def _street_and_house(address: str) -> tuple[str, str]:
    """`Main Street 12a` -> (`Main Street`, `12a`): a last word with a digit is the house number; joined again
    with one space the address is what it was."""
    head, space, tail = address.rpartition(" ")
    if space and head.strip() and len(head) >= 2 and len(tail) <= 10 and re.search(r"[0-9]", tail):
        return head[:100], tail
    return address[:100].ljust(2, "_"), ""  # Street has at least 2 characters (Hubject pads with `_`)


def _oicp_opening_times(hours: model.Hours | None) -> tuple[bool, list[wire.OpeningTimes] | None]:
    """(IsOpen24Hours, OpeningTimes): days with the same periods grouped as Everyday, Workdays or Weekend. Unknown
    hours are sent as open 24 hours (IsOpen24Hours is mandatory); exceptional openings and closings are lost."""
    if hours is None or hours.twentyfourseven:
        return True, None
    by_day = {day: tuple(sorted({(h.period_begin, h.period_end) for h in hours.regular_hours if h.weekday == day}))
              for day in range(1, 8)}
    groups: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    rest = set(range(1, 8))
    if by_day[1] and all(by_day[d] == by_day[1] for d in range(1, 8)):
        groups.append(("Everyday", by_day[1]))
        rest.clear()
    else:
        if by_day[1] and all(by_day[d] == by_day[1] for d in range(1, 6)):
            groups.append(("Workdays", by_day[1]))
            rest -= {1, 2, 3, 4, 5}
        if by_day[6] and by_day[7] == by_day[6]:
            groups.append(("Weekend", by_day[6]))
            rest -= {6, 7}
    groups += [(_DAY_NAMES[d], by_day[d]) for d in sorted(rest) if by_day[d]]
    if not groups:
        return False, None
    return False, [wire.OpeningTimes(period=[wire.Period(begin=b, end=e) for b, e in periods], on=on) for on, periods in groups]


def _oicp_energy(mix: model.EnergyMix | None) -> tuple[bool, list[wire.EnergySource] | None, wire.EnvironmentalImpact | None]:
    if mix is None:
        return False, None, None
    sources = [wire.EnergySource(energy=_ENERGY_OUT[s.source], percentage=min(99, max(0, round(s.percentage))))
               for s in mix.energy_sources]  # the OpenAPI caps Percentage at 99
    co2 = next((i.amount for i in mix.environ_impact if i.category == "CARBON_DIOXIDE"), None)
    waste = next((i.amount for i in mix.environ_impact if i.category == "NUCLEAR_WASTE"), None)
    impact = wire.EnvironmentalImpact(co2_emission=co2, nuclear_waste=waste) if co2 is not None or waste is not None else None
    return mix.is_green_energy, sources or None, impact


def location_to_evse_data(location: model.Location, details: OperatorDetails) -> list[wire.EvseDataRecord]:
    """One EvseDataRecord per pushable EVSE (see `why_not_pushable`), each repeating the Location's data."""
    if len(location.country) != 3:
        raise Unmappable(f"{location.country!r} is no ISO 3166 alpha-3 country", "country")
    _checked(details.hotline_phone_number, _PHONE, "phone number (+ and 5 to 15 digits)", "HotlinePhoneNumber")
    street, house = _street_and_house(location.address)
    language = _COUNTRIES.get(location.country.upper(), ("UTC", "en"))[1]
    names = [wire.InfoText(lang=language, value=(location.name or location.address)[:150])]
    pool = location.id if _POOL_ID.match(location.id) else None
    open24, opening_times = _oicp_opening_times(location.opening_times)
    renewable, sources, impact = _oicp_energy(location.energy_mix)
    entrance = location.related_locations[0] if location.related_locations else None
    records = []
    for evse in location.evses:
        if why_not_pushable(evse) is not None:
            continue
        connectors = [c for c in evse.connectors if plug(c)]
        facilities: list[wire.ChargingFacility] = []
        for facility in map(charging_facility, connectors):  # one list per EVSE, without repeats
            if facility not in facilities:
                facilities.append(facility)
        capabilities = set(evse.capabilities)
        card = bool(capabilities & _CARD_PAYMENT)
        modes = (["NFC RFID Classic"] if "RFID_READER" in capabilities else []) + (
            ["REMOTE"] if "REMOTE_START_STOP_CAPABLE" in capabilities else []) + (["Direct Payment"] if card else [])
        services = (["Reservation"] if "RESERVABLE" in capabilities else []) + (
            ["ChargingPlans"] if "CHARGING_PROFILE_CAPABLE" in capabilities else [])
        image = next((i.url for i in evse.images if i.category == "CHARGER" and len(i.url) <= 200), None)
        records.append(wire.EvseDataRecord(
            evse_id=evse.evse_id, charging_pool_id=pool, charging_station_id=None if pool else location.id,  # type: ignore[arg-type]
            charging_station_names=names, charging_station_image=image,
            sub_operator_name=location.suboperator.name[:100] if location.suboperator else None,
            address=wire.Address(
                country=location.country.upper(), city=(location.city or "_")[:50], street=street,
                postal_code=location.postal_code or "", house_num=house,
                floor=evse.floor_level or None, region=location.state[:50] if location.state else None,
                parking_spot=evse.physical_reference if evse.physical_reference and len(evse.physical_reference) <= 5 else None,
                time_zone=utc_offset(location.time_zone, evse.last_updated),
            ),
            geo_coordinates=geo_coordinates(evse.coordinates or location.coordinates),
            plugs=[plug(c) for c in connectors], charging_facilities=facilities,  # type: ignore[misc]
            renewable_energy=renewable, energy_source=sources, environmental_impact=impact,
            calibration_law_data_availability=details.calibration_law_data_availability,
            authentication_modes=modes, payment_options=["Contract", "Direct"] if card else ["Contract"],
            value_added_services=services or ["None"],
            accessibility="Test Station" if not location.publish  # the nearest to "not public"; such Locations are not pushed
            else "Restricted access" if "CUSTOMERS" in evse.parking_restrictions else "Free publicly accessible",
            accessibility_location=_PARKING_TYPE_OUT.get(location.parking_type or ""),
            hotline_phone_number=details.hotline_phone_number,
            additional_info=[_info_text(d) for d in location.directions] or None,
            charging_station_location_reference=[_info_text(d) for d in evse.directions] or None,
            geo_charging_point_entrance=None if entrance is None else geo_coordinates(model.GeoPoint(entrance.latitude, entrance.longitude)),
            is_open24_hours=open24, opening_times=opening_times,
            is_hubject_compatible=True,  # the hub relays remote start/stop; whether the EVSE can is AuthenticationModes REMOTE
            dynamic_info_available="auto",  # the hub pushes every status change
            last_update=format_datetime(evse.last_updated),
        ))
    return records


def operator_evse_data(operator: str, locations: Iterable[model.Location], details: OperatorDetails) -> wire.OperatorEvseData:
    """The EVSE data of one operator (`operator`: its OperatorID at Hubject) for a push."""
    locations = list(locations)
    name = details.operator_name or next((loc.operator.name for loc in locations if loc.operator), None) or operator
    return wire.OperatorEvseData(operator_id=operator, operator_name=name[:100],
                                 evse_data_record=[r for loc in locations for r in location_to_evse_data(loc, details)])


# --- EVSE status ---------------------------------------------------------------------------------------------------


def evse_status_records(location: model.Location | Iterable[model.Evse]) -> list[wire.EvseStatusRecord]:
    """The status of every pushable EVSE of a Location (or of these EVSEs)."""
    evses = location.evses if isinstance(location, model.Location) else location
    return [wire.EvseStatusRecord(evse_id=e.evse_id, evse_status=oicp_evse_status(e.status))  # type: ignore[arg-type]
            for e in evses if why_not_pushable(e) is None]


def evse_statuses(
    message: wire.PushEvseStatus | wire.EvseStatusResponse | wire.EvseStatusByIdResponse | Iterable[wire.EvseStatusRecord],
) -> dict[str, model.EvseStatus]:
    """EvseID -> canonical status, from a status push, either shape of a status pull, or records."""
    if isinstance(message, wire.PushEvseStatus):
        records: Iterable[wire.EvseStatusRecord] = message.operator_evse_status.evse_status_record
    elif isinstance(message, wire.EvseStatusResponse):
        records = [r for operator in message.evse_statuses.operator_evse_status for r in operator.evse_status_record]
    elif isinstance(message, wire.EvseStatusByIdResponse):
        records = message.evse_status_records.evse_status_record
    else:
        records = message
    return {r.evse_id: evse_status(r.evse_status) for r in records}


# --- Identification <-> tokens -------------------------------------------------------------------------------------

Medium = (wire.RFIDMifareFamilyIdentification | wire.RFIDIdentification | wire.QRCodeIdentification
          | wire.PlugAndChargeIdentification | wire.RemoteIdentification)


def medium(identification: wire.Identification) -> Medium:
    """The one member of an Identification (Hubject's rule; its examples fill all five)."""
    members = [m for m in (identification.rfid_mifare_family_identification, identification.rfid_identification,
                           identification.qr_code_identification, identification.plug_and_charge_identification,
                           identification.remote_identification) if m is not None]
    if len(members) != 1:
        raise Unmappable(f"an Identification carries exactly one medium, this one {len(members)}", "Identification")
    return members[0]


def identification_to_cdr_token(identification: wire.Identification, provider: model.PartyId | None = None) -> model.CdrToken:
    """The token as charged. An EvcoID names its eMSP (a sub-provider's, where Hubject's ProviderID names the
    hub); a card UID does not, so `provider` must: the ProviderID that authorized it, a CDR's HubProviderID.
    Card: RFID with the UID as contract_id too (Hubject never tells the card's contract). Remote start and QR
    code: APP_USER (the QR code's PIN is not kept). Plug&Charge: OTHER (OCPI 2.2.1 has no EMAID type)."""
    found = medium(identification)
    if isinstance(found, wire.RFIDMifareFamilyIdentification | wire.RFIDIdentification):
        evco = found.evco_id if isinstance(found, wire.RFIDIdentification) else None
        owner = evco_provider(evco) if evco else provider
        if owner is None:
            raise Unmappable("a card UID names no eMSP: the provider must be known", "Identification")
        return model.CdrToken(country_code=owner.country_code, party_id=owner.party_id, uid=found.uid, type="RFID",
                              contract_id=evco or found.uid)
    token_type: model.TokenType = "OTHER" if isinstance(found, wire.PlugAndChargeIdentification) else "APP_USER"
    owner = evco_provider(found.evco_id)
    return model.CdrToken(country_code=owner.country_code, party_id=owner.party_id, uid=found.evco_id, type=token_type,
                          contract_id=found.evco_id)


def identification_to_token(
    identification: wire.Identification, *, last_updated: datetime, provider: model.PartyId | None = None,
    whitelist: model.WhitelistType = "NEVER",
) -> model.Token:
    """A Token for the medium, as Hubject vouched for it. NEVER: the hub asks again each time, it learns no
    validity from OICP; the printed number of an uploaded card is its visual_number."""
    charged = identification_to_cdr_token(identification, provider)
    card = identification.rfid_identification
    return model.Token(
        country_code=charged.country_code, party_id=charged.party_id, uid=charged.uid, type=charged.type,
        contract_id=charged.contract_id, issuer=provider_id(charged.owner_party), valid=True, whitelist=whitelist,
        last_updated=last_updated, visual_number=card.printed_number[:64] if card and card.printed_number else None,
    )


def _checked(value: str, pattern: re.Pattern[str], what: str, path: str) -> str:
    if not pattern.match(value):
        raise Unmappable(f"{value!r} is no {what}", path)
    return value


def identification(token: model.Token | model.CdrToken, *, remote: bool = False) -> wire.Identification:
    """The medium to name in an authorization, CDR or notification: a card by its UID (upper-case hex), an app
    user's remote start (or any token with `remote`) by RemoteIdentification, OTHER as Plug&Charge, each with the
    contract id as EvcoID."""
    if token.type == "RFID" and not remote:
        uid = _checked(token.uid.upper(), _UID, "card UID (8, 14 or 20 hex digits)", "uid")
        return wire.Identification(rfid_mifare_family_identification=wire.RFIDMifareFamilyIdentification(uid=uid))
    evco = _checked(token.contract_id, _EVCO_ID, "EvcoID", "contract_id")
    if token.type == "OTHER" and not remote:
        return wire.Identification(plug_and_charge_identification=wire.PlugAndChargeIdentification(evco_id=evco))
    return wire.Identification(remote_identification=wire.RemoteIdentification(evco_id=evco))


def authentication_data_record(token: model.Token) -> wire.AuthenticationDataRecord | None:
    """A token as an "offline" EMP uploads it (PushAuthenticationData): a card with its contract id and printed
    number, a Plug&Charge contract; None for app users (remote starts need no upload)."""
    if token.type == "RFID":
        uid = _checked(token.uid.upper(), _UID, "card UID (8, 14 or 20 hex digits)", "uid")
        card = wire.RFIDIdentification(uid=uid, rfid="mifareFamily", printed_number=token.visual_number,
                                       evco_id=token.contract_id if _EVCO_ID.match(token.contract_id) else None)
        return wire.AuthenticationDataRecord(identification=wire.Identification(rfid_identification=card))
    if token.type == "OTHER" and _EVCO_ID.match(token.contract_id):
        pnc = wire.PlugAndChargeIdentification(evco_id=token.contract_id)
        return wire.AuthenticationDataRecord(identification=wire.Identification(plug_and_charge_identification=pnc))
    return None


def status(code: str, info: str | None = None) -> wire.StatusCode:
    """A StatusCode with Hubject's description of the code."""
    return wire.StatusCode(code=code, description=wire.STATUS_CODES.get(code), additional_info=info[:1000] if info else None)


def acknowledgement(code: str = "000", info: str | None = None, *, session_id: str | None = None, cpo_partner_session_id: str | None = None,
                    emp_partner_session_id: str | None = None) -> wire.Acknowledgement:
    """An acknowledgement: Result true for 000, else false with the code (and why, as AdditionalInfo)."""
    return wire.Acknowledgement(result=code == "000", status_code=status(code, info), session_id=session_id,
                                cpo_partner_session_id=cpo_partner_session_id, emp_partner_session_id=emp_partner_session_id)


def authorization(answer: wire.AuthorizationStart | wire.AuthorizationStop, request: wire.AuthorizeStart | wire.AuthorizeStop,
                  *, last_updated: datetime) -> model.Authorization:
    """Hubject's answer to the hub's AuthorizeStart/Stop as the hub's Authorization: the SessionID is its
    reference; 200 (EvcoID locked) is BLOCKED, any other refusal NOT_ALLOWED (OICP has no EXPIRED/NO_CREDIT)."""
    allowed: model.AllowedType = "ALLOWED" if answer.authorization_status == "Authorized" else (
        "BLOCKED" if answer.status_code.code == "200" else "NOT_ALLOWED")
    try:
        provider = provider_party(answer.provider_id) if answer.provider_id else None
        token = identification_to_token(request.identification, last_updated=last_updated, provider=provider)
    except Unmappable:
        token = None  # a refused card: no provider said whose it is
    return model.Authorization(allowed=allowed, token=token, method="AUTH_REQUEST", reference=answer.session_id)


# AllowedType -> StatusCode of a refusal, for a card and for a contract (EvcoID)
_REFUSAL_CODES: dict[str, tuple[str, str]] = {
    "NOT_ALLOWED": ("102", "105"), "BLOCKED": ("200", "200"), "EXPIRED": ("210", "210"), "NO_CREDIT": ("210", "210"),
}


def authorization_start(info: model.AuthorizationInfo | None, request: wire.AuthorizeStart) -> wire.AuthorizationStart:
    """The hub's answer, as EMP, to Hubject's AuthorizeStart: `info` is the eMSP's AuthorizationInfo, None for a
    token the hub does not know (Hubject broadcasts cards: most are not ours, answered NotAuthorized)."""
    card = request.identification.rfid_mifare_family_identification is not None or request.identification.rfid_identification is not None
    allowed = info is not None and info.allowed == "ALLOWED"
    code = "000" if allowed else _REFUSAL_CODES.get(info.allowed if info else "NOT_ALLOWED", ("102", "105"))[0 if card else 1]
    return wire.AuthorizationStart(
        authorization_status="Authorized" if allowed else "NotAuthorized", status_code=status(code),
        session_id=request.session_id, cpo_partner_session_id=request.cpo_partner_session_id,
        emp_partner_session_id=request.emp_partner_session_id,
        provider_id=provider_id(info.token.owner_party) if info is not None and allowed else None,
    )


# --- charge detail records -------------------------------------------------------------------------------------------


class Totals(Protocol):
    """What a CDR costs (hub.pricing.Costs is one): OICP CDRs carry no money, the connector prices them."""

    total_cost: model.Price
    total_fixed_cost: model.Price | None
    total_energy_cost: model.Price | None
    total_time_cost: model.Price | None
    total_parking_cost: model.Price | None


def _place(location: model.Location, evse_id: str, product: str | None) -> tuple[model.Evse, model.Connector]:
    """The EVSE of an EvseID and the connector used: the product's current (DC, else AC) when it names one
    (AC1/AC3/DC, as Hubject recommends), else the first."""
    key = id_key(evse_id)
    evse = next((e for e in location.evses if e.evse_id and id_key(e.evse_id) == key), None)
    if evse is None or not evse.connectors:
        raise Unmappable(f"{evse_id} is no EVSE of Location {location.id}", "EvseID")
    wanted = {"DC": ("DC",), "AC1": ("AC_1_PHASE", "AC_3_PHASE"), "AC3": ("AC_3_PHASE", "AC_1_PHASE")}.get((product or "").upper(), ())
    connector = next((c for t in wanted for c in evse.connectors if c.power_type == t), evse.connectors[0])
    return evse, connector


def _product(power_type: str) -> str:
    return {"DC": "DC", "AC_3_PHASE": "AC3"}.get(power_type, "AC1")


def _cdr_location(location: model.Location, evse: model.Evse, connector: model.Connector) -> model.CdrLocation:
    return model.CdrLocation(
        id=location.id, name=location.name, address=location.address[:45], city=location.city, postal_code=location.postal_code,
        state=location.state[:20] if location.state else None, country=location.country,
        coordinates=evse.coordinates or location.coordinates, evse_uid=evse.uid, evse_id=evse.evse_id or evse.uid,
        connector_id=connector.id, connector_standard=connector.standard, connector_format=connector.format,
        connector_power_type=connector.power_type,
    )


def _signed_value(value: wire.SignedMeteringValue) -> model.SignedValue:
    data = value.signed_metering_value or ""
    # OCPI wants the readable payload beside the signed one: an OCMF string carries it between its first and last `|`
    plain = data[5:].rsplit("|", 1)[0] if data.startswith("OCMF|") and data.count("|") >= 2 else ""
    nature = {"Start": "Start", "End": "End"}.get(value.metering_status or "", "Intermediate")
    return model.SignedValue(nature=nature, plain_data=plain, signed_data=data)


def _signed_data(cdr: wire.ChargeDetailRecord) -> model.SignedData | None:
    values = [_signed_value(v) for v in cdr.signed_metering_values or [] if v.signed_metering_value]
    if not values:
        return None
    info = cdr.calibration_law_verification_info or wire.CalibrationLawVerificationInfo()
    return model.SignedData(
        encoding_method=(info.metering_signature_encoding_format or "UNKNOWN")[:36], signed_values=values,
        public_key=info.public_key if info.public_key and len(info.public_key) <= 512 else None,
        url=info.metering_signature_url,
    )


def _charging_periods(session_start: datetime, charging_start: datetime, charging_end: datetime, session_end: datetime,
                      energy: Decimal) -> list[model.ChargingPeriod]:
    """OICP gives a charging window in a session: parking before it (if any), charging with the energy, parking after."""
    periods = []
    if charging_start > session_start:
        periods.append(model.ChargingPeriod(session_start, [model.CdrDimension("PARKING_TIME", _hours(charging_start - session_start))]))
    periods.append(model.ChargingPeriod(charging_start, [model.CdrDimension("ENERGY", energy),
                                                         model.CdrDimension("TIME", _hours(charging_end - charging_start))]))
    if session_end > charging_end:
        periods.append(model.ChargingPeriod(charging_end, [model.CdrDimension("PARKING_TIME", _hours(session_end - charging_end))]))
    return periods


def _window(session_start: datetime, session_end: datetime, charging_start: datetime | None, charging_end: datetime | None
            ) -> tuple[datetime, datetime]:
    start = min(max(charging_start or session_start, session_start), session_end)
    return start, min(max(charging_end or session_end, start), session_end)


def cdr_to_canonical(
    cdr: wire.ChargeDetailRecord, *, location: model.Location, received: datetime, currency: str,
    costs: Totals | None = None, provider: model.PartyId | None = None, tariffs: Iterable[model.Tariff] = (),
) -> model.Cdr:
    """An OICP CDR as the canonical one, of the CPO owning `location` (the hub's copy of the EVSE data: OICP CDRs
    name only the EvseID). The SessionID is its id, session id and authorization reference; the token's eMSP is
    its EvcoID's, else `provider`, else HubProviderID; the money is `costs` (zero without), since OICP has none;
    `received` is its last_updated. Lost: meter values, the certificate id and verification instruction, the
    partner ids, PartnerProductID (it only picks the connector)."""
    session_start = parse_datetime(cdr.session_start, "SessionStart")
    session_end = max(parse_datetime(cdr.session_end, "SessionEnd"), session_start)
    charging_start, charging_end = _window(
        session_start, session_end, parse_datetime(cdr.charging_start, "ChargingStart") if cdr.charging_start else None,
        parse_datetime(cdr.charging_end, "ChargingEnd") if cdr.charging_end else None)
    energy = cdr.consumed_energy
    if energy is None:  # mandatory only since 2.3
        energy = cdr.meter_value_end - cdr.meter_value_start if cdr.meter_value_end is not None and cdr.meter_value_start is not None else Decimal(0)
    if provider is None and cdr.hub_provider:
        provider = provider_party(cdr.hub_provider)
    evse, connector = _place(location, cdr.evse_id, cdr.partner_product_id)
    remote = cdr.identification.remote_identification is not None
    zero = model.Price(Decimal(0), Decimal(0))
    return model.Cdr(
        country_code=location.country_code, party_id=location.party_id, id=cdr.session_id, session_id=cdr.session_id,
        authorization_reference=cdr.session_id, start_date_time=session_start, end_date_time=session_end,
        cdr_token=identification_to_cdr_token(cdr.identification, provider), auth_method="COMMAND" if remote else "AUTH_REQUEST",
        cdr_location=_cdr_location(location, evse, connector), currency=currency, tariffs=list(tariffs),
        charging_periods=_charging_periods(session_start, charging_start, charging_end, session_end, energy),
        total_energy=energy, total_time=_hours(session_end - session_start),
        total_parking_time=_hours((charging_start - session_start) + (session_end - charging_end)),
        total_cost=costs.total_cost if costs else zero, total_fixed_cost=costs.total_fixed_cost if costs else None,
        total_energy_cost=costs.total_energy_cost if costs else None, total_time_cost=costs.total_time_cost if costs else None,
        total_parking_cost=costs.total_parking_cost if costs else None, signed_data=_signed_data(cdr), last_updated=received,
    )


def _is_charging(period: model.ChargingPeriod) -> bool:
    return any(d.type in ("ENERGY", "TIME") for d in period.dimensions)


def charging_window(start: datetime, end: datetime, periods: list[model.ChargingPeriod]) -> tuple[datetime, datetime]:
    """When energy flowed, from charging periods: the first period with energy or charging time to the start of the
    period after the last such one (the end when it is the last); the whole span without such periods."""
    ordered = sorted(periods, key=lambda p: p.start_date_time)
    charging = [n for n, p in enumerate(ordered) if _is_charging(p)]
    if not charging:
        return start, end
    first = ordered[charging[0]].start_date_time
    after = charging[-1] + 1
    last = ordered[after].start_date_time if after < len(ordered) else end
    return _window(start, end, first, last)


def _signed_metering(data: model.SignedData | None) -> tuple[list[wire.SignedMeteringValue] | None, wire.CalibrationLawVerificationInfo | None]:
    if data is None:
        return None, None
    values = [v for v in data.signed_values if len(v.signed_data) <= 3000]
    if len(values) > 10:  # OICP holds 10: the start, the end and the first 8 in between
        values = values[:9] + values[-1:]
    signed = [wire.SignedMeteringValue(signed_metering_value=v.signed_data,
                                       metering_status={"Start": "Start", "End": "End"}.get(v.nature, "Progress")) for v in values]
    info = wire.CalibrationLawVerificationInfo(
        metering_signature_encoding_format=data.encoding_method[:50],
        public_key=data.public_key if data.public_key and len(data.public_key) <= 1000 else None,
        metering_signature_url=data.url if data.url and len(data.url) <= 200 else None,
    )
    return signed or None, info


def cdr_from_canonical(cdr: model.Cdr, *, emp_partner_session_id: str | None = None) -> wire.ChargeDetailRecord:
    """A canonical CDR as the OICP one the CPO sends: under the Hubject SessionID of its authorization (the
    authorization_reference: OICP refuses invented ones), the hub's session id as CPOPartnerSessionID, the charging
    window from the charging periods, the current as PartnerProductID (AC1/AC3/DC). Lost: all money, the tariffs,
    the meter id, the remark, credit."""
    session_id = _checked(cdr.authorization_reference or "", _SESSION_ID, "Hubject SessionID", "authorization_reference")
    charging_start, charging_end = charging_window(cdr.start_date_time, cdr.end_date_time, cdr.charging_periods)
    signed, info = _signed_metering(cdr.signed_data)
    return wire.ChargeDetailRecord(
        session_id=session_id, cpo_partner_session_id=(cdr.session_id or cdr.id)[:250],
        emp_partner_session_id=emp_partner_session_id,
        partner_product_id=_product(cdr.cdr_location.connector_power_type),
        evse_id=_checked(cdr.cdr_location.evse_id, _EVSE_ID, "EvseID", "cdr_location.evse_id"),
        identification=identification(cdr.cdr_token, remote=cdr.auth_method == "COMMAND"),
        session_start=format_datetime(cdr.start_date_time), session_end=format_datetime(cdr.end_date_time),
        charging_start=format_datetime(charging_start), charging_end=format_datetime(charging_end),
        consumed_energy=cdr.total_energy, signed_metering_values=signed, calibration_law_verification_info=info,
    )


# --- charging notifications <-> sessions -----------------------------------------------------------------------------


def session_from_notification(
    notification: wire.ChargingNotification, previous: model.Session | None, *, location: model.Location, currency: str,
    received: datetime, provider: model.PartyId | None = None,
) -> model.Session:
    """The Session after a notification, from the one before (None: the first the hub hears of it). Start:
    ACTIVE from SessionStart (else ChargingStart), no energy yet; Progress: the energy so far; End: energy stopped,
    the session stays ACTIVE with a parking period unless SessionEnd says it ended (then COMPLETED); Error before
    any energy: INVALID. The SessionID is the session's id and authorization reference, as in the CDR that follows."""
    n = notification
    if previous is None:
        if n.identification is None:
            raise Unmappable("the first notification of a session must identify the medium", "Identification")
        evse, connector = _place(location, n.evse_id, getattr(n, "partner_product_id", None))
        start = getattr(n, "session_start", None) or getattr(n, "charging_start", None)
        previous = model.Session(
            country_code=location.country_code, party_id=location.party_id, id=n.session_id,
            start_date_time=parse_datetime(start, "SessionStart") if start else received, kwh=Decimal(0),
            cdr_token=identification_to_cdr_token(n.identification, provider),
            auth_method="COMMAND" if n.identification.remote_identification is not None else "AUTH_REQUEST",
            location_id=location.id, evse_uid=evse.uid, connector_id=connector.id, currency=currency, status="ACTIVE",
            authorization_reference=n.session_id, last_updated=received,
        )
    replace = msgspec.structs.replace
    if isinstance(n, wire.ChargingNotificationStart):
        start = n.session_start or n.charging_start
        return replace(previous, status="ACTIVE", start_date_time=parse_datetime(start, "SessionStart"),
                       last_updated=max(previous.last_updated, parse_datetime(n.charging_start, "ChargingStart")))
    if isinstance(n, wire.ChargingNotificationProgress):
        occurred = parse_datetime(n.event_occurred, "EventOccurred")
        kwh = n.consumed_energy_progress if n.consumed_energy_progress is not None else previous.kwh
        return replace(previous, kwh=kwh, last_updated=max(previous.last_updated, occurred))
    if isinstance(n, wire.ChargingNotificationEnd):
        charging_end = parse_datetime(n.charging_end, "ChargingEnd")
        kwh = n.consumed_energy if n.consumed_energy is not None else previous.kwh
        charging_start = parse_datetime(n.charging_start, "ChargingStart") if n.charging_start else previous.start_date_time
        if n.session_end:
            end = max(parse_datetime(n.session_end, "SessionEnd"), previous.start_date_time)
            return replace(previous, kwh=kwh, status="COMPLETED", end_date_time=end, last_updated=max(previous.last_updated, end))
        periods = _charging_periods(charging_start, charging_start, max(charging_end, charging_start), max(charging_end, charging_start), kwh)
        periods.append(model.ChargingPeriod(max(charging_end, charging_start), [model.CdrDimension("PARKING_TIME", Decimal(0))]))
        return replace(previous, kwh=kwh, charging_periods=periods, last_updated=max(previous.last_updated, charging_end))
    # Error: a session that never delivered energy did not happen; a later error changes nothing until the CDR
    status: model.SessionStatus = "INVALID" if previous.kwh == 0 else previous.status
    return replace(previous, status=status, last_updated=max(previous.last_updated, received))


def _parked(session: model.Session) -> bool:
    periods = sorted(session.charging_periods, key=lambda p: p.start_date_time)
    return bool(periods) and not _is_charging(periods[-1]) and any(_is_charging(p) for p in periods)


def _ended(session: model.Session | None) -> bool:
    return session is not None and (session.status == "COMPLETED" or _parked(session))


def _started(session: model.Session | None) -> bool:
    return session is not None and session.status in ("ACTIVE", "COMPLETED") and session.kwh > 0


def notifications(session: model.Session, previous: model.Session | None, *, location: model.Location,
                  operator: str | None = None) -> list[wire.ChargingNotification]:
    """What the hub, as CPO, tells Hubject of a session's change from `previous` to `session`: Start when energy
    first flows (kWh > 0), Progress when the energy grew (spacing them 5 minutes apart is the sender's business),
    End when charging stopped or the session completed, Error when it turned INVALID. Only sessions Hubject
    authorized have a notification (their authorization_reference is the Hubject SessionID)."""
    if not session.authorization_reference or not _SESSION_ID.match(session.authorization_reference):
        return []
    evse = location.evse(session.evse_uid)
    if evse is None or not evse.evse_id:
        raise Unmappable(f"{session.evse_uid} is no EVSE of Location {location.id}", "evse_uid")
    common: dict[str, Any] = {
        "session_id": session.authorization_reference, "cpo_partner_session_id": session.id[:250],
        "evse_id": _checked(evse.evse_id, _EVSE_ID, "EvseID", "evse_id"),
        "operator_id": operator or operator_id(session.owner_party),
        "identification": identification(session.cdr_token, remote=session.auth_method == "COMMAND"),
    }
    charging_start, charging_end = charging_window(session.start_date_time, session.end_date_time or session.last_updated,
                                                   session.charging_periods)
    out: list[wire.ChargingNotification] = []
    if session.status == "INVALID":
        if previous is None or previous.status != "INVALID":
            out.append(wire.ChargingNotificationError(
                **common, error_type="ConnectorError" if session.kwh == 0 else "CriticalError",  # no energy: the EV never drew any
                error_additional_info="the session is invalid"))
        return out
    if _started(session) and not _started(previous):
        out.append(wire.ChargingNotificationStart(**common, charging_start=format_datetime(charging_start),
                                                  session_start=format_datetime(session.start_date_time)))
    elif _started(previous) and previous is not None and session.kwh > previous.kwh and not _ended(session):
        out.append(wire.ChargingNotificationProgress(
            **common, charging_start=format_datetime(charging_start), event_occurred=format_datetime(session.last_updated),
            charging_duration=_milliseconds(session.last_updated - charging_start), consumed_energy_progress=session.kwh,
            session_start=format_datetime(session.start_date_time)))
    if _ended(session) and not _ended(previous):
        out.append(wire.ChargingNotificationEnd(
            **common, charging_start=format_datetime(charging_start), charging_end=format_datetime(charging_end),
            session_start=format_datetime(session.start_date_time), consumed_energy=session.kwh,
            session_end=format_datetime(session.end_date_time) if session.status == "COMPLETED" and session.end_date_time else None))
    return out
