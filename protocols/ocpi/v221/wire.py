"""OCPI 2.2.1 wire types: the schema itself, validated at decode time. Pure: no I/O.

Conventions: CiString(n) is printable ASCII of at most n characters (case-insensitive in meaning; lower
case is accepted), string(n) at most n characters; enums are the canonical model's Literals; DateTime
stays a string on the wire (so examples round-trip as sent), is checked to be a real instant by
rules.check_dates and parsed by the mapping; numbers are float and go out as JSON numbers. Absent optional
fields stay absent (`omit_defaults`), unknown fields are ignored (partners add their own).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

from hub import model as mo

T = TypeVar("T")

_PRINTABLE = r"^[\x20-\x7E]*(?!\n)$"  # (?!\n): Python's `$` also matches before a final newline


def _ci(n: int) -> Any:
    return Annotated[str, Meta(max_length=n, pattern=_PRINTABLE)]


def _s(n: int) -> Any:
    return Annotated[str, Meta(max_length=n)]


CiString2 = _ci(2)
CiString3 = _ci(3)
CiString4 = _ci(4)
CiString20 = _ci(20)
CiString32 = _ci(32)
CiString36 = _ci(36)
CiString39 = _ci(39)
CiString48 = _ci(48)
String2 = _s(2)
String3 = _s(3)
String4 = _s(4)
String5 = _s(5)
String10 = _s(10)
String16 = _s(16)
String45 = _s(45)
String64 = _s(64)
String100 = _s(100)
String255 = _s(255)
String512 = _s(512)
String5000 = _s(5000)
URL = Annotated[str, Meta(max_length=255, pattern=r"^[^\x00-\x1F\x7F]*$")]  # no control characters
DateTime = Annotated[
    str,
    Meta(max_length=35, pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|z|[+-]\d{2}:\d{2})?$"),
]
# The spec says string(10)/string(11) but its own regexes allow one more character: accept what the regex allows.
Latitude = Annotated[str, Meta(pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
Longitude = Annotated[str, Meta(pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]
Hhmm = Annotated[str, Meta(max_length=5, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Date = Annotated[str, Meta(max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$")]
Int5 = Annotated[int, Meta(ge=0, le=99999)]
Weekday = Annotated[int, Meta(ge=1, le=7)]

# Upper bounds of the lists that multiply the hub's work (indexing, merging, pricing, fan-out), far above any
# real object: the largest charging parks have a few hundred EVSEs, an EVSE 1 to 4 connectors; a tariff with a
# price for every hour of the week has 168 elements, an element at most one component per dimension type (4);
# a charging period starts when a tariff dimension changes, a few a day (10,000 is one every 15 minutes for
# three months), with at most one dimension per type (13). The body size (Settings.max_body_bytes) bounds the rest.
MAX_EVSES = 2_000
MAX_CONNECTORS = 32
MAX_TARIFF_ELEMENTS = 1_000
MAX_PRICE_COMPONENTS = 32
MAX_CHARGING_PERIODS = 10_000
MAX_DIMENSIONS = 32

VersionNumber = Literal["2.0", "2.1", "2.1.1", "2.2", "2.2.1"]
InterfaceRole = Literal["SENDER", "RECEIVER"]
ModuleID = str  # the standard ids, or a custom prefixed one (e.g. "nltnm-tokens")
ChargingPreferencesResponseType = Literal[
    "ACCEPTED", "DEPARTURE_REQUIRED", "ENERGY_NEED_REQUIRED", "NOT_POSSIBLE", "PROFILE_TYPE_NOT_SUPPORTED"
]


class _W(Struct, omit_defaults=True, kw_only=True):
    """Base of every wire type."""


# --- types ---------------------------------------------------------------------------------------


class DisplayText(_W):
    language: String2
    text: String512


class Price(_W):
    excl_vat: float
    incl_vat: float | None = None


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
    type: CiString4
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
    twentyfourseven: bool
    regular_hours: list[RegularHours] | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None


class EnergySource(_W):
    source: mo.EnergySourceCategory
    percentage: float


class EnvironmentalImpact(_W):
    category: mo.EnvironmentalImpactCategory
    amount: float


class EnergyMix(_W):
    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


class PublishTokenType(_W):
    uid: CiString36 | None = None
    type: mo.TokenType | None = None
    visual_number: String64 | None = None
    issuer: String64 | None = None
    group_id: CiString36 | None = None


class StatusSchedule(_W):
    period_begin: DateTime
    status: mo.EvseStatus
    period_end: DateTime | None = None


# --- locations -----------------------------------------------------------------------------------


class Connector(_W):
    id: CiString36
    standard: mo.ConnectorStandard
    format: mo.ConnectorFormat
    power_type: mo.PowerType
    max_voltage: int
    max_amperage: int
    last_updated: DateTime
    max_electric_power: int | None = None
    tariff_ids: list[CiString36] | None = None
    terms_and_conditions: URL | None = None


class Evse(_W):
    uid: CiString36
    status: mo.EvseStatus
    connectors: Annotated[list[Connector], Meta(min_length=1, max_length=MAX_CONNECTORS)]
    last_updated: DateTime
    evse_id: CiString48 | None = None
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[mo.Capability] | None = None
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[mo.ParkingRestriction] | None = None
    images: list[Image] | None = None


class Location(_W):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    publish: bool
    address: String255
    city: String45
    country: String3
    coordinates: GeoLocation
    time_zone: String255
    last_updated: DateTime
    publish_allowed_to: list[PublishTokenType] | None = None
    name: String255 | None = None
    postal_code: String10 | None = None
    state: String45 | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: mo.ParkingType | None = None
    evses: Annotated[list[Evse], Meta(max_length=MAX_EVSES)] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[mo.Facility] | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None


class LocationPatch(_W):
    last_updated: DateTime
    publish: bool | None = None
    publish_allowed_to: list[PublishTokenType] | None = None
    name: String255 | None = None
    address: String255 | None = None
    city: String45 | None = None
    postal_code: String10 | None = None
    state: String45 | None = None
    country: String3 | None = None
    coordinates: GeoLocation | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: mo.ParkingType | None = None
    evses: Annotated[list[Evse], Meta(max_length=MAX_EVSES)] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[mo.Facility] | None = None
    time_zone: String255 | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    # identifiers may be repeated in a PATCH; the core refuses a change
    country_code: CiString2 | None = None
    party_id: CiString3 | None = None
    id: CiString36 | None = None


class EvsePatch(_W):
    last_updated: DateTime
    status: mo.EvseStatus | None = None
    connectors: Annotated[list[Connector], Meta(min_length=1, max_length=MAX_CONNECTORS)] | None = None
    evse_id: CiString48 | None = None
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[mo.Capability] | None = None
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[mo.ParkingRestriction] | None = None
    images: list[Image] | None = None
    uid: CiString36 | None = None


class ConnectorPatch(_W):
    last_updated: DateTime
    standard: mo.ConnectorStandard | None = None
    format: mo.ConnectorFormat | None = None
    power_type: mo.PowerType | None = None
    max_voltage: int | None = None
    max_amperage: int | None = None
    max_electric_power: int | None = None
    tariff_ids: list[CiString36] | None = None
    terms_and_conditions: URL | None = None
    id: CiString36 | None = None


# --- tariffs -------------------------------------------------------------------------------------


class PriceComponent(_W):
    type: mo.TariffDimensionType
    price: float
    step_size: Annotated[int, Meta(ge=0)]
    vat: float | None = None


class TariffRestrictions(_W):
    start_time: Hhmm | None = None
    end_time: Hhmm | None = None
    start_date: Date | None = None
    end_date: Date | None = None
    min_kwh: float | None = None
    max_kwh: float | None = None
    min_current: float | None = None
    max_current: float | None = None
    min_power: float | None = None
    max_power: float | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[mo.DayOfWeek] | None = None
    reservation: mo.ReservationRestrictionType | None = None


class TariffElement(_W):
    price_components: Annotated[list[PriceComponent], Meta(min_length=1, max_length=MAX_PRICE_COMPONENTS)]
    restrictions: TariffRestrictions | None = None


class Tariff(_W):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    currency: String3
    elements: Annotated[list[TariffElement], Meta(min_length=1, max_length=MAX_TARIFF_ELEMENTS)]
    last_updated: DateTime
    type: mo.TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None


# --- tokens --------------------------------------------------------------------------------------


class EnergyContract(_W):
    supplier_name: String64
    contract_id: String64 | None = None


class Token(_W):
    country_code: CiString2
    party_id: CiString3
    uid: CiString36
    type: mo.TokenType
    contract_id: CiString36
    issuer: String64
    valid: bool
    whitelist: mo.WhitelistType
    last_updated: DateTime
    visual_number: String64 | None = None
    group_id: CiString36 | None = None
    language: String2 | None = None
    default_profile_type: mo.ProfileType | None = None
    energy_contract: EnergyContract | None = None


class TokenPatch(_W):
    last_updated: DateTime
    contract_id: CiString36 | None = None
    issuer: String64 | None = None
    valid: bool | None = None
    whitelist: mo.WhitelistType | None = None
    visual_number: String64 | None = None
    group_id: CiString36 | None = None
    language: String2 | None = None
    default_profile_type: mo.ProfileType | None = None
    energy_contract: EnergyContract | None = None
    country_code: CiString2 | None = None
    party_id: CiString3 | None = None
    uid: CiString36 | None = None
    type: mo.TokenType | None = None


class LocationReferences(_W):
    location_id: CiString36
    evse_uids: list[CiString36] | None = None


class AuthorizationInfo(_W):
    allowed: mo.AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString36 | None = None
    info: DisplayText | None = None


# --- sessions and CDRs ---------------------------------------------------------------------------


class CdrToken(_W):
    country_code: CiString2
    party_id: CiString3
    uid: CiString36
    type: mo.TokenType
    contract_id: CiString36


class CdrDimension(_W):
    type: mo.CdrDimensionType
    volume: float


class ChargingPeriod(_W):
    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Meta(min_length=1, max_length=MAX_DIMENSIONS)]
    tariff_id: CiString36 | None = None


class Session(_W):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    start_date_time: DateTime
    kwh: float
    cdr_token: CdrToken
    auth_method: mo.AuthMethod
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36
    currency: String3
    status: mo.SessionStatus
    last_updated: DateTime
    end_date_time: DateTime | None = None
    authorization_reference: CiString36 | None = None
    meter_id: String255 | None = None
    charging_periods: Annotated[list[ChargingPeriod], Meta(max_length=MAX_CHARGING_PERIODS)] | None = None
    total_cost: Price | None = None


class SessionPatch(_W):
    last_updated: DateTime
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    kwh: float | None = None
    cdr_token: CdrToken | None = None
    auth_method: mo.AuthMethod | None = None
    authorization_reference: CiString36 | None = None
    location_id: CiString36 | None = None
    evse_uid: CiString36 | None = None
    connector_id: CiString36 | None = None
    meter_id: String255 | None = None
    currency: String3 | None = None
    charging_periods: Annotated[list[ChargingPeriod], Meta(max_length=MAX_CHARGING_PERIODS)] | None = None
    total_cost: Price | None = None
    status: mo.SessionStatus | None = None
    country_code: CiString2 | None = None
    party_id: CiString3 | None = None
    id: CiString36 | None = None


class ChargingPreferences(_W):
    profile_type: mo.ProfileType
    departure_time: DateTime | None = None
    energy_need: float | None = None
    discharge_allowed: bool | None = None


class CdrLocation(_W):
    id: CiString36
    address: String45
    city: String45
    country: String3
    coordinates: GeoLocation
    evse_uid: CiString36
    evse_id: CiString48
    connector_id: CiString36
    connector_standard: mo.ConnectorStandard
    connector_format: mo.ConnectorFormat
    connector_power_type: mo.PowerType
    name: String255 | None = None
    postal_code: String10 | None = None
    state: _s(20) | None = None  # type: ignore[valid-type]


class SignedValue(_W):
    nature: CiString32
    plain_data: String5000
    signed_data: String5000


class SignedData(_W):
    encoding_method: CiString36
    signed_values: Annotated[list[SignedValue], Meta(min_length=1)]
    encoding_method_version: int | None = None
    public_key: String512 | None = None
    url: String512 | None = None


class Cdr(_W):
    country_code: CiString2
    party_id: CiString3
    id: CiString39
    start_date_time: DateTime
    end_date_time: DateTime
    cdr_token: CdrToken
    auth_method: mo.AuthMethod
    cdr_location: CdrLocation
    currency: String3
    charging_periods: Annotated[list[ChargingPeriod], Meta(min_length=1, max_length=MAX_CHARGING_PERIODS)]
    total_cost: Price
    total_energy: float
    total_time: float
    last_updated: DateTime
    session_id: CiString36 | None = None
    authorization_reference: CiString36 | None = None
    meter_id: String255 | None = None
    tariffs: list[Tariff] | None = None
    signed_data: SignedData | None = None
    total_fixed_cost: Price | None = None
    total_energy_cost: Price | None = None
    total_time_cost: Price | None = None
    total_parking_time: float | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String255 | None = None
    invoice_reference_id: CiString39 | None = None
    credit: bool | None = None
    credit_reference_id: CiString39 | None = None
    home_charging_compensation: bool | None = None


# --- commands ------------------------------------------------------------------------------------


class StartSession(_W):
    response_url: URL
    token: Token
    location_id: CiString36
    evse_uid: CiString36 | None = None
    connector_id: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class StopSession(_W):
    response_url: URL
    session_id: CiString36


class ReserveNow(_W):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: CiString36
    location_id: CiString36
    evse_uid: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class CancelReservation(_W):
    response_url: URL
    reservation_id: CiString36


class UnlockConnector(_W):
    response_url: URL
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36


class CommandResponse(_W):
    result: mo.CommandResponseType
    timeout: int
    message: list[DisplayText] | None = None


class CommandResult(_W):
    result: mo.CommandResultType
    message: list[DisplayText] | None = None


# --- charging profiles ---------------------------------------------------------------------------


class ChargingProfilePeriod(_W):
    start_period: Annotated[int, Meta(ge=0)]
    limit: float


class ChargingProfile(_W):
    charging_rate_unit: mo.ChargingRateUnit
    start_date_time: DateTime | None = None
    duration: int | None = None
    min_charging_rate: float | None = None
    charging_profile_period: list[ChargingProfilePeriod] | None = None


class SetChargingProfile(_W):
    charging_profile: ChargingProfile
    response_url: URL


class ActiveChargingProfile(_W):
    start_date_time: DateTime
    charging_profile: ChargingProfile


class ChargingProfileResponse(_W):
    result: mo.ChargingProfileResponseType
    timeout: int


class ActiveChargingProfileResult(_W):
    result: mo.ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(_W):
    result: mo.ChargingProfileResultType


class ClearProfileResult(_W):
    result: mo.ChargingProfileResultType


# --- configuration modules -----------------------------------------------------------------------


class CredentialsRole(_W):
    role: mo.Role
    business_details: BusinessDetails
    party_id: CiString3
    country_code: CiString2


class Credentials(_W):
    token: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[\x21-\x7E]+$")]
    url: URL
    roles: Annotated[list[CredentialsRole], Meta(min_length=1)]


class Version(_W):
    version: VersionNumber
    url: URL


class Endpoint(_W):
    identifier: ModuleID
    role: InterfaceRole
    url: URL


class VersionDetails(_W):
    version: VersionNumber
    endpoints: Annotated[list[Endpoint], Meta(min_length=1)]


class ClientInfo(_W):
    party_id: CiString3
    country_code: CiString2
    role: mo.Role
    status: mo.ConnectionStatus
    last_updated: DateTime


class Response(Struct, Generic[T], omit_defaults=True, kw_only=True):
    """The envelope of every response. `data` may be absent, null or anything when it is not a success."""

    status_code: int
    timestamp: DateTime
    data: T | None = None
    status_message: str | None = None


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
