"""Wire types of the partner REST API (Monta-style): camelCase JSON, money in integer minor units.

Pure: no I/O. Nullable fields default to None but are always encoded (as null), so a consumer sees the
full shape of every object. Datetimes are the canonical aware UTC values; msgspec renders them ISO-8601
with `Z`. The mapping from the canonical model is in protocols/partner/mapping.py.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct, field

from hub import model


class Wire(Struct, rename="camel", omit_defaults=False):
    """Base of every wire type: subclasses inherit rename and omit_defaults, but each must say kw_only."""


# --- values ------------------------------------------------------------------------------------


class Currency(Wire, kw_only=True):
    identifier: str  # ISO 4217
    decimals: int  # digits of its minor unit


class Money(Wire, kw_only=True):
    amount: int  # minor units: 75 with EUR is EUR 0.75
    currency: Currency


class Coordinates(Wire, kw_only=True):
    latitude: float
    longitude: float


class Address(Wire, kw_only=True):
    address1: str
    address2: str | None = None
    zip: str | None = None
    city: str
    country: str  # ISO 3166 alpha-3, as OCPI has it
    state: str | None = None


class Location(Wire, kw_only=True):
    coordinates: Coordinates
    address: Address


class Operator(Wire, kw_only=True):
    name: str


# --- sites ---------------------------------------------------------------------------------------


class RegularHours(Wire, kw_only=True):
    weekday: int  # 1 = Monday ... 7 = Sunday (OCPI)
    period_begin: str  # local HH:MM
    period_end: str


class OpeningHours(Wire, kw_only=True):
    """OCPI opening_times without its exceptional periods."""

    twentyfourseven: bool
    regular_hours: list[RegularHours] = field(default_factory=list)


class SiteOcpi(Wire, kw_only=True):
    country_code: str
    party_id: str
    location_id: str


Visibility = Literal["public", "private"]


class Site(Wire, kw_only=True):
    id: str
    name: str
    location: Location
    opening_hours: OpeningHours | None = None
    time_zone: str
    charge_point_count: int
    available_charge_point_count: int
    max_kw: float | None = None
    visibility: Visibility
    ocpi: SiteOcpi
    operator: Operator | None = None
    created_at: datetime
    updated_at: datetime
    partner_external_id: str | None = None
    partner_custom_payload: Any = None


# --- charge points -------------------------------------------------------------------------------

ChargePointState = Literal[
    "available", "busy", "busy-blocked", "busy-charging", "busy-non-charging", "busy-reserved", "error",
    "disconnected", "passive", "maintenance", "other",
]
CurrentType = Literal["ac", "dc"]


class Connector(Wire, kw_only=True):
    identifier: str  # the OCPI connector id
    standard: model.ConnectorStandard  # OCPI ConnectorType, e.g. IEC_62196_T2
    format: model.ConnectorFormat
    power_type: model.PowerType
    max_kw: float
    tariff_ids: list[str] = field(default_factory=list)  # REST tariff ids


class Ocpp(Wire, kw_only=True):
    """The charger as the hub's OCPP central system knows it."""

    identity: str
    connector_id: int
    connected: bool
    last_connected_at: datetime | None = None


class ChargePointOcpi(Wire, kw_only=True):
    country_code: str
    party_id: str
    location_id: str
    evse_uid: str


class ChargePoint(Wire, kw_only=True):
    """One OCPI EVSE: Monta's unit that charges one car at a time."""

    id: str
    site_id: str
    evse_id: str | None = None  # eMI3
    name: str | None = None
    state: ChargePointState
    ocpi_status: model.EvseStatus  # as the CPO sent it
    type: CurrentType | None = None  # None when the EVSE lists no connector
    max_kw: float | None = None
    connectors: list[Connector] = field(default_factory=list)
    location: Location
    ocpp: Ocpp | None = None
    ocpi: ChargePointOcpi
    created_at: datetime
    updated_at: datetime
    partner_external_id: str | None = None
    partner_custom_payload: Any = None


# --- charges and CDRs ----------------------------------------------------------------------------

ChargeState = Literal["starting", "charging", "stopped", "completed", "failed"]
ChargeAuthType = Literal["rfid", "app", "other"]


class ChargeAuth(Wire, kw_only=True):
    type: ChargeAuthType
    id: str  # the token uid


class ChargeOcpi(Wire, kw_only=True):
    country_code: str
    party_id: str
    session_id: str


class Charge(Wire, kw_only=True):
    """An OCPI Session."""

    id: str
    charge_point_id: str
    site_id: str
    state: ChargeState
    started_at: datetime
    stopped_at: datetime | None = None
    consumed_kwh: float
    cost: Money | None = None  # incl. VAT
    cost_excl_vat: Money | None = None
    charge_auth: ChargeAuth
    ocpi: ChargeOcpi
    created_at: datetime
    updated_at: datetime
    partner_external_id: str | None = None
    partner_custom_payload: Any = None


class CdrOcpi(Wire, kw_only=True):
    country_code: str
    party_id: str
    cdr_id: str


class Cdr(Wire, kw_only=True):
    id: str
    charge_id: str | None = None  # the session's, when the CPO names it
    charge_point_id: str
    site_id: str
    started_at: datetime
    stopped_at: datetime
    consumed_kwh: float
    total_cost: Money  # incl. VAT
    total_cost_excl_vat: Money
    total_time: float  # hours
    charge_auth: ChargeAuth
    ocpi: CdrOcpi
    created_at: datetime
    updated_at: datetime


# --- tariffs -------------------------------------------------------------------------------------


class PriceComponent(Wire, kw_only=True):
    type: model.TariffDimensionType
    price: Money  # per unit, excl. VAT, rounded to the minor unit
    price_decimal: str  # the exact price, since per-kWh prices often have more digits than the minor unit
    vat: float | None = None  # percent
    step_size: int


class TariffRestrictions(Wire, kw_only=True):
    """OCPI TariffRestrictions, field for field."""

    start_time: str | None = None
    end_time: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    min_kwh: float | None = None
    max_kwh: float | None = None
    min_current: float | None = None
    max_current: float | None = None
    min_power: float | None = None
    max_power: float | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[model.DayOfWeek] = field(default_factory=list)
    reservation: model.ReservationRestrictionType | None = None


class TariffElement(Wire, kw_only=True):
    price_components: list[PriceComponent]
    restrictions: TariffRestrictions | None = None


class TariffOcpi(Wire, kw_only=True):
    country_code: str
    party_id: str
    tariff_id: str


class Tariff(Wire, kw_only=True):
    id: str
    currency: Currency
    type: model.TariffType | None = None
    elements: list[TariffElement]
    min_price: Money | None = None  # excl. VAT, like the components
    max_price: Money | None = None
    ocpi: TariffOcpi
    created_at: datetime
    updated_at: datetime


# --- tokens --------------------------------------------------------------------------------------


class TokenOcpi(Wire, kw_only=True):
    country_code: str  # the issuing eMSP
    party_id: str
    uid: str
    type: model.TokenType  # a uid is unique per type only


class ChargeAuthToken(Wire, kw_only=True):
    """An eMSP's OCPI Token."""

    id: str
    identifier: str  # the uid
    type: ChargeAuthType
    contract_id: str
    visual_number: str | None = None
    name: str | None = None  # the issuer
    group_id: str | None = None
    language: str | None = None  # ISO 639-1
    valid: bool
    blocked: bool  # not valid: Monta's way of saying it
    whitelist: model.WhitelistType
    ocpi: TokenOcpi
    created_at: datetime
    updated_at: datetime
    partner_external_id: str | None = None
    partner_custom_payload: Any = None


# --- request bodies of writes ------------------------------------------------------------------------
# Lengths are OCPI 2.2.1's for the field each one becomes, so whatever is accepted here can be pushed as is.


def _text(most: int, least: int = 1) -> Any:
    return Annotated[str, Meta(min_length=least, max_length=most)]


OcpiId = Annotated[str, Meta(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]  # CiString(36), safe in a URL
Party = Annotated[str, Meta(pattern=r"^[A-Za-z]{2}[/*]?[A-Za-z0-9]{3}$", extra_json_schema={"examples": ["NL/GRN"]})]
HourMinute = Annotated[str, Meta(pattern=r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")]
ManualState = Literal["available", "passive", "maintenance", "error"]  # what an operator sets; busy-* comes from chargers


class CoordinatesInput(Wire, kw_only=True):
    latitude: Annotated[float, Meta(ge=-90, le=90)]
    longitude: Annotated[float, Meta(ge=-180, le=180)]


class AddressInput(Wire, kw_only=True):
    address1: _text(255)
    address2: _text(255) | None = None  # OCPI has one address line: joined to address1 with ", "
    zip: _text(10) | None = None
    city: _text(45)
    country: Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]  # ISO 3166 alpha-3
    state: _text(45) | None = None


class RegularHoursInput(Wire, kw_only=True):
    weekday: Annotated[int, Meta(ge=1, le=7)]
    period_begin: HourMinute
    period_end: HourMinute


class OpeningHoursInput(Wire, kw_only=True):
    twentyfourseven: bool
    regular_hours: Annotated[list[RegularHoursInput], Meta(max_length=100)] = field(default_factory=list)


class SiteCreate(Wire, kw_only=True):
    name: _text(255)
    address: AddressInput
    coordinates: CoordinatesInput
    time_zone: _text(255) = "UTC"  # IANA
    opening_hours: OpeningHoursInput | None = None
    visibility: Visibility = "public"
    ocpi_id: OcpiId | None = None  # the Location id; generated when not given
    party: Party | None = None  # an admin credential names the CPO it writes for (CC/PID)
    partner_external_id: ExternalId | None = None
    partner_custom_payload: Any = None


class SitePatch(Wire, kw_only=True):
    """Only the fields given change; null clears what may be empty."""

    name: _text(255) | msgspec.UnsetType = msgspec.UNSET
    address: AddressInput | msgspec.UnsetType = msgspec.UNSET
    coordinates: CoordinatesInput | msgspec.UnsetType = msgspec.UNSET
    time_zone: _text(255) | msgspec.UnsetType = msgspec.UNSET
    opening_hours: OpeningHoursInput | None | msgspec.UnsetType = msgspec.UNSET
    visibility: Visibility | msgspec.UnsetType = msgspec.UNSET
    partner_external_id: ExternalId | None | msgspec.UnsetType = msgspec.UNSET
    partner_custom_payload: Any = msgspec.UNSET


Positive = Annotated[int, Meta(ge=1, le=100_000)]


class ConnectorInput(Wire, kw_only=True):
    """maxKw, or voltage and amperage (both given: the power is capped at maxKw)."""

    standard: model.ConnectorStandard
    format: model.ConnectorFormat
    power_type: model.PowerType
    max_kw: Annotated[float, Meta(gt=0, le=10_000)] | None = None
    voltage: Positive | None = None
    amperage: Positive | None = None
    tariff_ids: Annotated[list[str], Meta(max_length=10)] = field(default_factory=list)  # REST tariff ids of the owner


Connectors = Annotated[list[ConnectorInput], Meta(min_length=1, max_length=24)]


class ChargePointCreate(Wire, kw_only=True):
    site_id: str
    evse_id: _text(48) | None = None  # eMI3, e.g. NL*GRN*E1234
    name: _text(16) | None = None  # the label on the EVSE (OCPI physical_reference)
    connectors: Connectors
    state: ManualState = "available"
    ocpi_id: OcpiId | None = None  # the EVSE uid; generated when not given
    partner_external_id: ExternalId | None = None
    partner_custom_payload: Any = None


class ChargePointPatch(Wire, kw_only=True):
    """Only the fields given change; `connectors` replaces the list."""

    evse_id: _text(48) | None | msgspec.UnsetType = msgspec.UNSET
    name: _text(16) | None | msgspec.UnsetType = msgspec.UNSET
    connectors: Connectors | msgspec.UnsetType = msgspec.UNSET
    state: ManualState | msgspec.UnsetType = msgspec.UNSET
    partner_external_id: ExternalId | None | msgspec.UnsetType = msgspec.UNSET
    partner_custom_payload: Any = msgspec.UNSET


# --- charge auth tokens (an eMSP's OCPI Tokens) ------------------------------------------------------------

Language = Annotated[str, Meta(pattern=r"^[a-z]{2}$")]  # ISO 639-1


class ChargeAuthTokenCreate(Wire, kw_only=True):
    type: ChargeAuthType  # rfid -> RFID, app -> APP_USER, other -> OTHER
    identifier: OcpiId  # the uid, as the charger reads it (an RFID's hex UID)
    contract_id: _text(36) | None = None  # the eMAID; the identifier when not given
    name: _text(64) | None = None  # the issuer; the eMSP's name when not given
    visual_number: _text(64) | None = None
    group_id: _text(36) | None = None
    whitelist: model.WhitelistType = "ALWAYS"  # the hub hosts this eMSP: a CPO has nobody to ask in real time
    language: Language | None = None
    party: Party | None = None  # an admin credential names the eMSP it writes for (CC/PID)
    partner_external_id: ExternalId | None = None
    partner_custom_payload: Any = None


class ChargeAuthTokenPatch(Wire, kw_only=True):
    """Only the fields given change; null clears what may be empty. Blocking: POST .../block and .../unblock."""

    name: _text(64) | msgspec.UnsetType = msgspec.UNSET
    visual_number: _text(64) | None | msgspec.UnsetType = msgspec.UNSET
    group_id: _text(36) | None | msgspec.UnsetType = msgspec.UNSET
    whitelist: model.WhitelistType | msgspec.UnsetType = msgspec.UNSET
    language: Language | None | msgspec.UnsetType = msgspec.UNSET
    partner_external_id: ExternalId | None | msgspec.UnsetType = msgspec.UNSET
    partner_custom_payload: Any = msgspec.UNSET


# --- commands ------------------------------------------------------------------------------------------

RestId = Annotated[str, Meta(min_length=1, max_length=100)]
CommandType = Literal["start", "stop", "unlock", "reboot", "set-charging-profile"]
CommandStatus = Literal["accepted", "rejected", "failed", "timeout"]


class ChargeStart(Wire, kw_only=True):
    charge_point_id: RestId
    charge_auth_token_id: RestId


class Reboot(Wire, kw_only=True):
    type: Literal["soft", "hard"] = "soft"  # soft: when the charger is idle (2.0.1 OnIdle, 1.6 Soft); hard: at once


class ChargingProfilePeriodInput(Wire, kw_only=True):
    start_period: Annotated[int, Meta(ge=0, le=31 * 86_400)]  # seconds from the profile's start; the first is 0
    limit: Annotated[float, Meta(ge=0, le=1_000_000)]  # in chargingRateUnit


class ChargingProfileInput(Wire, kw_only=True):
    """OCPI's ChargingProfile: limits from a start (the charge's, or startDateTime) on."""

    charging_rate_unit: model.ChargingRateUnit  # W or A
    start_date_time: DateTime | None = None
    duration: Annotated[int, Meta(ge=1, le=31 * 86_400)] | None = None  # seconds
    min_charging_rate: Annotated[float, Meta(ge=0, le=1_000_000)] | None = None
    charging_profile_period: Annotated[list[ChargingProfilePeriodInput], Meta(min_length=1, max_length=24)]


class CommandResult(Wire, kw_only=True):
    """What the charger answered: accepted or rejected; failed (an error, or it disconnected while asked), timeout
    (no answer within the OCPP call timeout: it may still act)."""

    id: str  # the hub's id of the command
    type: CommandType
    status: CommandStatus
    message: str | None = None
    charge_point_id: str
    charge_id: str | None = None  # the charge stopped (a started one appears in /charges once the charger starts it)


# --- lists and errors ----------------------------------------------------------------------------


class PageMeta(Wire, kw_only=True):
    current_page: int  # from 0
    per_page: int
    item_count: int
    total_page_count: int
    total_item_count: int

    @classmethod
    def of(cls, page: int, per_page: int, item_count: int, total: int) -> PageMeta:
        return cls(current_page=page, per_page=per_page, item_count=item_count,
                   total_page_count=math.ceil(total / per_page) if per_page > 0 else 0, total_item_count=total)


class CursorMeta(Wire, kw_only=True):
    """Unbounded feeds (CDRs) page by cursor: `after` is where to go on from (the page's last item; the cursor asked
    with when the page is empty; null only when nothing has been seen yet), so that a client can follow the feed as
    it grows; `hasMore`: more follow now (ask again at once), else ask again later with the same `after`."""

    after: str | None = None
    has_more: bool = False


_encoder = msgspec.json.Encoder()


def page_body(items_json: list[bytes], meta: PageMeta | CursorMeta) -> bytes:
    """`{"data":[...],"meta":{...}}` from items already encoded one by one (the list endpoints stream them)."""
    return b'{"data":[' + b",".join(items_json) + b'],"meta":' + _encoder.encode(meta) + b"}"


# --- list queries and list bodies ------------------------------------------------------------------

MAX_PER_PAGE = 100
MAX_PAGE = 10_000_000  # so that page * perPage stays an offset every database takes


class Paging(Wire, kw_only=True):
    """`page` from 0 and `perPage` items a page; every list takes them."""

    page: Annotated[int, Meta(ge=0, le=MAX_PAGE)] = 0
    per_page: Annotated[int, Meta(ge=1, le=MAX_PER_PAGE)] = 10


ExternalId = Annotated[str, Meta(min_length=1, max_length=255)]


class SiteQuery(Paging, kw_only=True):
    partner_external_id: ExternalId | None = None


class ChargePointQuery(Paging, kw_only=True):
    site_id: str | None = None
    state: ChargePointState | None = None
    partner_external_id: ExternalId | None = None


# RFC 3339 as documented; a time without an offset is taken as UTC (lenient on input)
DateTime = Annotated[datetime, Meta(extra_json_schema={"format": "date-time"})]


class ChargeAuthTokenQuery(Paging, kw_only=True):
    partner_external_id: ExternalId | None = None


class ChargeQuery(Paging, kw_only=True):
    site_id: str | None = None
    charge_point_id: str | None = None
    state: ChargeState | None = None
    from_date: DateTime | None = None  # started at or after
    to_date: DateTime | None = None  # started before


class CdrQuery(Wire, kw_only=True):
    cursor: str | None = None  # meta.after of the previous page; none: from the oldest
    limit: Annotated[int, Meta(ge=1, le=MAX_PER_PAGE)] = 10


def _list_of(item: type, meta: type = PageMeta) -> type:
    """The body of a list of `item`: `{data: [...], meta: {...}}`."""
    return msgspec.defstruct(f"{item.__name__}List", [("data", list[item]), ("meta", meta)], bases=(Wire,),  # type: ignore[valid-type]
                             kw_only=True, module=__name__)


SiteList = _list_of(Site)
ChargePointList = _list_of(ChargePoint)
ChargeList = _list_of(Charge)
CdrList = _list_of(Cdr, CursorMeta)
TariffList = _list_of(Tariff)
ChargeAuthTokenList = _list_of(ChargeAuthToken)


class Error(Wire, kw_only=True):
    status: int
    message: str
    error_code: str
    readable_message: str | None = None
    context: dict[str, Any] | None = None


# Stable codes (clients branch on them) and their HTTP status.
ERROR_CODES: dict[str, int] = {
    "INVALID_ACCESS_TOKEN": 401,
    "CONSUMER_NOT_FOUND": 401,
    "ACCESS_FORBIDDEN": 403,
    "RESOURCE_NOT_FOUND": 404,
    "VALIDATION_ERROR": 400,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "CHARGE_POINT_NOT_CONTROLLABLE": 409,  # not a charger of the hub's own central system
    "CHARGE_POINT_OFFLINE": 409,  # a charger of the hub's, not connected now
    "IDEMPOTENCY_KEY_REUSED": 422,
    "RATE_LIMITED": 429,
    "INTERNAL_ERROR": 500,
}


def error(code: str, message: str, *, readable: str | None = None, context: dict[str, Any] | None = None) -> Error:
    """An Error body for one of ERROR_CODES (KeyError for any other code: codes are a contract)."""
    return Error(status=ERROR_CODES[code], message=message, error_code=code, readable_message=readable, context=context)
