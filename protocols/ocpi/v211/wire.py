"""OCPI 2.1.1 wire types: the schema itself, validated at decode time. Pure: no I/O.

Conventions as in 2.2.1 (protocols/ocpi/v221/wire.py): ids are printable ASCII of at most n characters (2.1.1
calls them string(n), case-sensitive; every 2.1.1 string is "printable ASCII", but free text is accepted as
UTF-8, as partners send it), other strings at most n characters; DateTime stays a string on the wire (lenient:
with or without `Z`, fractional seconds, an offset) and is parsed by the mapping; numbers are float; absent
optional fields stay absent (`omit_defaults`), unknown fields are ignored.

Enums are 2.1.1's own values (where 2.1.1 has the same set as the canonical model, the model's Literal): a value
2.1.1 does not define, including one that only 2.2.1 added, is rejected, as the 2.2.1 types reject values 2.2.1
does not define. Deliberate leniencies: Location.address accepts 255 characters (2.1.1 says 45; 2.2.1 lengthened
it, the mapping cuts it to 45 going out); coordinates accept 5 to 7 decimals (2.1.1's regex says 6, the mapping
renders 6); Hours.twentyfourseven may be absent (2.1.1 makes it one of a choice with regular_hours).

What 2.1.1 does not have: country_code/party_id in Location, Session, CDR, Tariff and Token (the owner is the
connection's party); routing headers; Endpoint.role; CdrToken, CdrLocation (a Session or CDR embeds a whole
Location with its one EVSE and connector); CANCEL_RESERVATION; CommandResult (the CPO POSTs a CommandResponse
to response_url); ChargingProfiles; HubClientInfo. A PATCH body needs no last_updated in 2.1.1.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Generic, Literal, Optional, TypeVar, get_type_hints

import msgspec
from msgspec import Meta, Struct

from hub import model as mo

T = TypeVar("T")

_PRINTABLE = r"^[\x20-\x7E]*(?!\n)$"  # (?!\n): Python's `$` also matches before a final newline


def _id(n: int) -> Any:
    return Annotated[str, Meta(max_length=n, pattern=_PRINTABLE)]


def _s(n: int) -> Any:
    return Annotated[str, Meta(max_length=n)]


Id2 = _id(2)
Id3 = _id(3)
Id36 = _id(36)
Id39 = _id(39)
Id48 = _id(48)
String2 = _s(2)
String3 = _s(3)
String4 = _s(4)
String10 = _s(10)
String16 = _s(16)
String36 = _s(36)
String45 = _s(45)
String64 = _s(64)
String100 = _s(100)
String255 = _s(255)
String512 = _s(512)
URL = Annotated[str, Meta(max_length=255, pattern=r"^[^\x00-\x1F\x7F]*$")]
DateTime = Annotated[
    str,
    Meta(max_length=35, pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|z|[+-]\d{2}:\d{2})?$"),
]
Latitude = Annotated[str, Meta(pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
Longitude = Annotated[str, Meta(pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]
Hhmm = Annotated[str, Meta(max_length=5, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Date = Annotated[str, Meta(max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$")]
Int5 = Annotated[int, Meta(ge=0, le=99999)]
Weekday = Annotated[int, Meta(ge=1, le=7)]

# bounds of the lists that multiply the hub's work, as for 2.2.1 (see v221/wire.py)
MAX_EVSES = 2_000
MAX_CONNECTORS = 32
MAX_TARIFF_ELEMENTS = 1_000
MAX_PRICE_COMPONENTS = 32
MAX_CHARGING_PERIODS = 10_000
MAX_DIMENSIONS = 32

# --- the enums 2.1.1 defines differently from the canonical model (2.2.1) -----------------------
LocationType = Literal["ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"]
Capability = Literal[
    "CHARGING_PROFILE_CAPABLE", "CREDIT_CARD_PAYABLE", "REMOTE_START_STOP_CAPABLE", "RESERVABLE", "RFID_READER",
    "UNLOCK_CAPABLE",
]
ConnectorType = Literal[
    "CHADEMO", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E", "DOMESTIC_F", "DOMESTIC_G",
    "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K", "DOMESTIC_L", "IEC_60309_2_single_16",
    "IEC_60309_2_three_16", "IEC_60309_2_three_32", "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO",
    "IEC_62196_T2", "IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C", "TESLA_R", "TESLA_S",
]
PowerType = Literal["AC_1_PHASE", "AC_3_PHASE", "DC"]
Facility = Literal[
    "HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "RECREATION_AREA", "NATURE", "MUSEUM", "BUS_STOP",
    "TAXI_STAND", "TRAIN_STATION", "AIRPORT", "CARPOOL_PARKING", "FUEL_STATION", "WIFI",
]
TokenType = Literal["OTHER", "RFID"]
AuthMethod = Literal["AUTH_REQUEST", "WHITELIST"]
SessionStatus = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING"]
CdrDimensionType = Literal["ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"]
CommandType = Literal["RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"]
CommandResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "TIMEOUT", "UNKNOWN_SESSION"]
# a versions list names every version a platform serves, so the later ones too
VersionNumber = Literal["2.0", "2.1", "2.1.1", "2.2", "2.2.1"]
ModuleID = str  # the standard ids, or a custom prefixed one (e.g. "nltnm-tokens")


class _W(Struct, omit_defaults=True, kw_only=True):
    """Base of every wire type."""


# --- types ---------------------------------------------------------------------------------------


class DisplayText(_W):
    language: String2
    text: String512


class GeoLocation(_W):
    latitude: Latitude
    longitude: Longitude


class AdditionalGeoLocation(_W):
    latitude: Latitude
    longitude: Longitude
    name: DisplayText | None = None


class Image(_W):
    url: URL
    category: mo.ImageCategory
    type: String4
    thumbnail: URL | None = None
    width: Int5 | None = None
    height: Int5 | None = None


class BusinessDetails(_W):
    name: String100
    website: URL | None = None
    logo: Image | None = None


class RegularHours(_W):
    weekday: Weekday
    period_begin: Hhmm
    period_end: Hhmm


class ExceptionalPeriod(_W):
    period_begin: DateTime
    period_end: DateTime


class Hours(_W):
    regular_hours: list[RegularHours] | None = None
    twentyfourseven: bool | None = None  # one of a choice with regular_hours; the examples send both
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None


class EnergySource(_W):
    source: mo.EnergySourceCategory
    percentage: float


class EnvironmentalImpact(_W):
    source: mo.EnvironmentalImpactCategory  # `category` in 2.2.1
    amount: float


class EnergyMix(_W):
    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


class StatusSchedule(_W):
    period_begin: DateTime
    status: mo.EvseStatus
    period_end: DateTime | None = None


# --- locations -----------------------------------------------------------------------------------


class Connector(_W):
    id: Id36
    standard: ConnectorType
    format: mo.ConnectorFormat
    power_type: PowerType
    voltage: int
    amperage: int
    last_updated: DateTime
    tariff_id: Id36 | None = None
    terms_and_conditions: URL | None = None


class Evse(_W):
    uid: Id39
    status: mo.EvseStatus
    connectors: Annotated[list[Connector], Meta(min_length=1, max_length=MAX_CONNECTORS)]
    last_updated: DateTime
    evse_id: Id48 | None = None
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[Capability] | None = None
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[mo.ParkingRestriction] | None = None
    images: list[Image] | None = None


class Location(_W):
    id: Id39
    type: LocationType
    address: String255  # 45 in 2.1.1: accepted up to 2.2.1's 255, sent at most 45
    city: String45
    postal_code: String10
    country: String3
    coordinates: GeoLocation
    last_updated: DateTime
    name: String255 | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
    evses: Annotated[list[Evse], Meta(max_length=MAX_EVSES)] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: String255 | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None


# --- tariffs -------------------------------------------------------------------------------------


class PriceComponent(_W):
    type: mo.TariffDimensionType
    price: float  # excluding VAT
    step_size: Annotated[int, Meta(ge=0)]


class TariffRestrictions(_W):
    start_time: Hhmm | None = None
    end_time: Hhmm | None = None
    start_date: Date | None = None
    end_date: Date | None = None
    min_kwh: float | None = None
    max_kwh: float | None = None
    min_power: float | None = None
    max_power: float | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[mo.DayOfWeek] | None = None


class TariffElement(_W):
    price_components: Annotated[list[PriceComponent], Meta(min_length=1, max_length=MAX_PRICE_COMPONENTS)]
    restrictions: TariffRestrictions | None = None


class Tariff(_W):
    id: Id36
    currency: String3
    elements: Annotated[list[TariffElement], Meta(min_length=1, max_length=MAX_TARIFF_ELEMENTS)]
    last_updated: DateTime
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    energy_mix: EnergyMix | None = None


# --- tokens --------------------------------------------------------------------------------------


class Token(_W):
    uid: Id36
    type: TokenType
    auth_id: Id36  # the contract id (eMA ID recommended)
    issuer: String64
    valid: bool
    whitelist: mo.WhitelistType
    last_updated: DateTime
    visual_number: String64 | None = None
    language: String2 | None = None


class LocationReferences(_W):
    location_id: Id39
    evse_uids: list[Id39] | None = None
    connector_ids: list[Id36] | None = None


class AuthorizationInfo(_W):
    allowed: mo.AllowedType
    location: LocationReferences | None = None
    info: DisplayText | None = None
    authorization_id: String36 | None = None  # Gireve's extension: 2.2's authorization_reference, stored and echoed


# --- sessions and CDRs ---------------------------------------------------------------------------


class CdrDimension(_W):
    type: CdrDimensionType
    volume: float


class ChargingPeriod(_W):
    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Meta(min_length=1, max_length=MAX_DIMENSIONS)]


class Session(_W):
    id: Id36
    start_datetime: DateTime  # sic: start_date_time everywhere else
    kwh: float
    auth_id: Id36
    auth_method: AuthMethod
    location: Location  # with only the session's EVSE and connector
    currency: String3
    status: SessionStatus
    last_updated: DateTime
    end_datetime: DateTime | None = None
    meter_id: String255 | None = None
    charging_periods: Annotated[list[ChargingPeriod], Meta(max_length=MAX_CHARGING_PERIODS)] | None = None
    total_cost: float | None = None  # excluding VAT
    authorization_id: String36 | None = None  # Gireve's extension: 2.2's authorization_reference, stored and echoed


class Cdr(_W):
    id: Id36
    start_date_time: DateTime
    stop_date_time: DateTime
    auth_id: Id36
    auth_method: AuthMethod
    location: Location  # with only the session's EVSE and connector
    currency: String3
    charging_periods: Annotated[list[ChargingPeriod], Meta(min_length=1, max_length=MAX_CHARGING_PERIODS)]
    total_cost: float  # excluding VAT
    total_energy: float
    total_time: float
    last_updated: DateTime
    meter_id: String255 | None = None
    tariffs: list[Tariff] | None = None
    total_parking_time: float | None = None
    remark: String255 | None = None
    authorization_id: String36 | None = None  # Gireve's extension: 2.2's authorization_reference, stored and echoed


# --- commands ------------------------------------------------------------------------------------


class StartSession(_W):
    response_url: URL
    token: Token
    location_id: Id39
    evse_uid: Id39 | None = None
    authorization_id: String36 | None = None  # Gireve's extension: 2.2's authorization_reference, stored and echoed


class StopSession(_W):
    response_url: URL
    session_id: Id36


class ReserveNow(_W):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: int
    location_id: Id39
    evse_uid: Id39 | None = None


class UnlockConnector(_W):
    response_url: URL
    location_id: Id39
    evse_uid: Id39
    connector_id: Id36


class CommandResponse(_W):
    """Both the CPO's synchronous answer and the result it POSTs to response_url."""

    result: CommandResponseType


# --- configuration modules -----------------------------------------------------------------------


class Credentials(_W):
    token: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[\x21-\x7E]+$")]
    url: URL
    business_details: BusinessDetails
    party_id: Id3
    country_code: Id2


class Version(_W):
    version: VersionNumber
    url: URL


class Endpoint(_W):
    identifier: ModuleID
    url: URL


class VersionDetails(_W):
    version: VersionNumber
    endpoints: Annotated[list[Endpoint], Meta(min_length=1)]


class Response(Struct, Generic[T], omit_defaults=True, kw_only=True):
    """The envelope of every response. `data` may be absent, null or anything when it is not a success."""

    status_code: int
    timestamp: DateTime
    data: T | None = None
    status_message: str | None = None


# --- PATCH bodies: every field of the object, all optional (2.1.1 requires none, not even last_updated) ---


def _patch_of(type_: type) -> Any:
    hints = get_type_hints(type_, include_extras=True)
    fields = [(f.name, Optional[hints[f.name]], None) for f in msgspec.structs.fields(type_)]
    return msgspec.defstruct(f"{type_.__name__}Patch", fields, bases=(_W,), kw_only=True, omit_defaults=True)


LocationPatch = _patch_of(Location)
EvsePatch = _patch_of(Evse)
ConnectorPatch = _patch_of(Connector)
TariffPatch = _patch_of(Tariff)
TokenPatch = _patch_of(Token)
SessionPatch = _patch_of(Session)


# --- codecs --------------------------------------------------------------------------------------

_encoder = msgspec.json.Encoder(decimal_format="number")
encode = _encoder.encode


@lru_cache(maxsize=None)
def decoder(type_: Any) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(type_)


def decode(data: bytes | str | msgspec.Raw, type_: Any) -> Any:
    try:
        return decoder(type_).decode(data)
    except RecursionError:  # msgspec bounds nesting by the interpreter's recursion limit: no JSON we can read
        raise msgspec.DecodeError("JSON nested too deeply") from None
