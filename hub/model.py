"""The canonical model: one set of types every protocol translates into and out of.

OCPI 2.2.1 is the richest of the protocols the hub speaks, so the shapes follow it, but the types are
the domain's: timezone-aware UTC datetimes, Decimal money and coordinates, kWh for energy. Every
top-level object names its owner party (country_code + party_id, stored upper case) and carries the
owner's `last_updated`, which the hub never rewrites when it only relays.

Pure data: no I/O and no imports from the rest of the project.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from msgspec import Struct, field

# ---------------------------------------------------------------------------------------------
# Parties and enums shared by several objects

Role = Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]
ConnectionStatus = Literal["CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"]

EvseStatus = Literal[
    "AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED", "RESERVED", "UNKNOWN"
]
Capability = Literal[
    "CHARGING_PROFILE_CAPABLE", "CHARGING_PREFERENCES_CAPABLE", "CHIP_CARD_SUPPORT", "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE", "DEBIT_CARD_PAYABLE", "PED_TERMINAL", "REMOTE_START_STOP_CAPABLE", "RESERVABLE",
    "RFID_READER", "START_SESSION_CONNECTOR_REQUIRED", "TOKEN_GROUP_CAPABLE", "UNLOCK_CAPABLE",
]
ConnectorFormat = Literal["SOCKET", "CABLE"]
PowerType = Literal["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
ConnectorStandard = Literal[
    "CHADEMO", "CHAOJI", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E", "DOMESTIC_F",
    "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K", "DOMESTIC_L", "DOMESTIC_M", "DOMESTIC_N",
    "DOMESTIC_O", "GBT_AC", "GBT_DC", "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
    "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2", "IEC_62196_T2_COMBO",
    "IEC_62196_T3A", "IEC_62196_T3C", "NEMA_5_20", "NEMA_6_30", "NEMA_6_50", "NEMA_10_30", "NEMA_10_50",
    "NEMA_14_30", "NEMA_14_50", "PANTOGRAPH_BOTTOM_UP", "PANTOGRAPH_TOP_DOWN", "TESLA_R", "TESLA_S",
]
ParkingType = Literal["ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY", "ON_STREET", "UNDERGROUND_GARAGE"]
ParkingRestriction = Literal["EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"]
Facility = Literal[
    "HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "RECREATION_AREA", "NATURE", "MUSEUM",
    "BIKE_SHARING", "BUS_STOP", "TAXI_STAND", "TRAM_STOP", "METRO_STATION", "TRAIN_STATION", "AIRPORT",
    "PARKING_LOT", "CARPOOL_PARKING", "FUEL_STATION", "WIFI",
]
ImageCategory = Literal["CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"]
EnergySourceCategory = Literal["NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"]
EnvironmentalImpactCategory = Literal["NUCLEAR_WASTE", "CARBON_DIOXIDE"]
TokenType = Literal["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]
WhitelistType = Literal["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]
ProfileType = Literal["CHEAP", "FAST", "GREEN", "REGULAR"]
AllowedType = Literal["ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"]
AuthMethod = Literal["AUTH_REQUEST", "COMMAND", "WHITELIST"]
# why the hub refuses a token its eMSP would allow (OCPP has statuses for these; OCPI does not)
AuthorizationRefusal = Literal["CONCURRENT_TX", "NOT_AT_THIS_LOCATION", "NOT_AT_THIS_TIME"]
SessionStatus = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"]
CdrDimensionType = Literal[
    "CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT", "MIN_CURRENT", "MAX_POWER", "MIN_POWER",
    "PARKING_TIME", "POWER", "RESERVATION_TIME", "STATE_OF_CHARGE", "TIME",
]
TariffDimensionType = Literal["ENERGY", "FLAT", "PARKING_TIME", "TIME"]
TariffType = Literal["AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"]
DayOfWeek = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
ReservationRestrictionType = Literal["RESERVATION", "RESERVATION_EXPIRES"]
CommandType = Literal["CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"]
CommandResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "UNKNOWN_SESSION"]
CommandResultType = Literal[
    "ACCEPTED", "CANCELED_RESERVATION", "EVSE_OCCUPIED", "EVSE_INOPERATIVE", "FAILED", "NOT_SUPPORTED", "REJECTED",
    "TIMEOUT", "UNKNOWN_RESERVATION",
]
ChargingRateUnit = Literal["W", "A"]
ChargingProfileResponseType = Literal["ACCEPTED", "NOT_SUPPORTED", "REJECTED", "TOO_OFTEN", "UNKNOWN_SESSION"]
ChargingProfileResultType = Literal["ACCEPTED", "REJECTED", "UNKNOWN"]


class PartyId(Struct, frozen=True, order=True):
    """A party: ISO-3166 alpha-2 country code plus a 3-character id, always upper case."""

    country_code: str
    party_id: str

    @classmethod
    def of(cls, country_code: str, party_id: str) -> PartyId:
        return cls(country_code.upper(), party_id.upper())

    @classmethod
    def parse(cls, text: str) -> PartyId:
        """`NL/ABC`, `NL*ABC` or `NLABC`."""
        cleaned = text.replace("/", "").replace("*", "").replace("-", "").strip()
        if len(cleaned) != 5 or not cleaned.isascii() or not cleaned.isalnum():
            raise ValueError(f"party must look like CC/PID, got {text!r}")
        return cls.of(cleaned[:2], cleaned[2:])

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}"


# ---------------------------------------------------------------------------------------------
# Small value types


class DisplayText(Struct, frozen=True):
    language: str
    text: str


class Price(Struct, frozen=True):
    excl_vat: Decimal
    incl_vat: Decimal | None = None


class GeoPoint(Struct, frozen=True):
    """WGS84; Decimal keeps the digits a protocol sent."""

    latitude: Decimal
    longitude: Decimal


class AdditionalGeoPoint(Struct, frozen=True):
    latitude: Decimal
    longitude: Decimal
    name: DisplayText | None = None


class Image(Struct, frozen=True):
    url: str
    category: ImageCategory
    type: str
    thumbnail: str | None = None
    width: int | None = None
    height: int | None = None


class BusinessDetails(Struct, frozen=True):
    name: str
    website: str | None = None
    logo: Image | None = None


class RegularHours(Struct, frozen=True):
    weekday: int
    period_begin: str  # local HH:MM
    period_end: str


class ExceptionalPeriod(Struct, frozen=True):
    period_begin: datetime
    period_end: datetime


class Hours(Struct, frozen=True):
    twentyfourseven: bool
    regular_hours: list[RegularHours] = field(default_factory=list)
    exceptional_openings: list[ExceptionalPeriod] = field(default_factory=list)
    exceptional_closings: list[ExceptionalPeriod] = field(default_factory=list)


class EnergySource(Struct, frozen=True):
    source: EnergySourceCategory
    percentage: Decimal


class EnvironmentalImpact(Struct, frozen=True):
    category: EnvironmentalImpactCategory
    amount: Decimal


class EnergyMix(Struct, frozen=True):
    is_green_energy: bool
    energy_sources: list[EnergySource] = field(default_factory=list)
    environ_impact: list[EnvironmentalImpact] = field(default_factory=list)
    supplier_name: str | None = None
    energy_product_name: str | None = None


class PublishTokenType(Struct, frozen=True):
    uid: str | None = None
    type: TokenType | None = None
    visual_number: str | None = None
    issuer: str | None = None
    group_id: str | None = None


class StatusSchedule(Struct, frozen=True):
    period_begin: datetime
    status: EvseStatus
    period_end: datetime | None = None


# ---------------------------------------------------------------------------------------------
# Locations, EVSEs, connectors


class Connector(Struct, kw_only=True):
    id: str
    standard: ConnectorStandard
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int
    max_amperage: int
    last_updated: datetime
    max_electric_power: int | None = None
    tariff_ids: list[str] = field(default_factory=list)
    terms_and_conditions: str | None = None


class Evse(Struct, kw_only=True):
    uid: str
    status: EvseStatus
    connectors: list[Connector]
    last_updated: datetime
    evse_id: str | None = None
    status_schedule: list[StatusSchedule] = field(default_factory=list)
    capabilities: list[Capability] = field(default_factory=list)
    floor_level: str | None = None
    coordinates: GeoPoint | None = None
    physical_reference: str | None = None
    directions: list[DisplayText] = field(default_factory=list)
    parking_restrictions: list[ParkingRestriction] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)


class Location(Struct, kw_only=True):
    country_code: str
    party_id: str
    id: str
    publish: bool
    address: str
    city: str
    country: str  # ISO-3166 alpha-3
    coordinates: GeoPoint
    time_zone: str
    last_updated: datetime
    publish_allowed_to: list[PublishTokenType] = field(default_factory=list)
    name: str | None = None
    postal_code: str | None = None
    state: str | None = None
    related_locations: list[AdditionalGeoPoint] = field(default_factory=list)
    parking_type: ParkingType | None = None
    evses: list[Evse] = field(default_factory=list)
    directions: list[DisplayText] = field(default_factory=list)
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] = field(default_factory=list)
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] = field(default_factory=list)
    energy_mix: EnergyMix | None = None

    @property
    def owner_party(self) -> PartyId:
        return PartyId.of(self.country_code, self.party_id)

    def evse(self, uid: str) -> Evse | None:
        uid = uid.upper()
        return next((e for e in self.evses if e.uid.upper() == uid), None)


# ---------------------------------------------------------------------------------------------
# Tariffs


class PriceComponent(Struct, frozen=True):
    type: TariffDimensionType
    price: Decimal
    step_size: int
    vat: Decimal | None = None


class TariffRestrictions(Struct, frozen=True):
    start_time: str | None = None
    end_time: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[DayOfWeek] = field(default_factory=list)
    reservation: ReservationRestrictionType | None = None


class TariffElement(Struct, frozen=True):
    price_components: list[PriceComponent]
    restrictions: TariffRestrictions | None = None


class Tariff(Struct, kw_only=True):
    country_code: str
    party_id: str
    id: str
    currency: str
    elements: list[TariffElement]
    last_updated: datetime
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] = field(default_factory=list)
    tariff_alt_url: str | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    energy_mix: EnergyMix | None = None

    @property
    def owner_party(self) -> PartyId:
        return PartyId.of(self.country_code, self.party_id)


# ---------------------------------------------------------------------------------------------
# Tokens and authorization


class EnergyContract(Struct, frozen=True):
    supplier_name: str
    contract_id: str | None = None


class Token(Struct, kw_only=True):
    country_code: str  # the issuing eMSP
    party_id: str
    uid: str
    type: TokenType
    contract_id: str
    issuer: str
    valid: bool
    whitelist: WhitelistType
    last_updated: datetime
    visual_number: str | None = None
    group_id: str | None = None
    language: str | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None

    @property
    def owner_party(self) -> PartyId:
        return PartyId.of(self.country_code, self.party_id)


class LocationReferences(Struct, frozen=True):
    location_id: str
    evse_uids: list[str] = field(default_factory=list)


class AuthorizationInfo(Struct, kw_only=True):
    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: str | None = None
    info: DisplayText | None = None


class Authorization(Struct, frozen=True):
    """The hub's answer to a charger asking whether a token may charge, and how it knows."""

    allowed: AllowedType
    token: Token | None
    method: AuthMethod
    reference: str | None = None
    refusal: AuthorizationRefusal | None = None  # with allowed NOT_ALLOWED: the hub's own reason
    location: LocationReferences | None = None  # where the eMSP allows it (its AuthorizationInfo.location)

    @property
    def accepted(self) -> bool:
        return self.allowed == "ALLOWED"


# ---------------------------------------------------------------------------------------------
# Sessions and CDRs


class MeterReading(Struct, frozen=True):
    """What a charger's meter said at one moment (energy register in Wh, power in W, current in A)."""

    timestamp: datetime
    energy_wh: Decimal | None = None
    power_w: Decimal | None = None
    current_a: Decimal | None = None
    signed: SignedReading | None = None  # the energy register as the meter signed it


class SignedReading(Struct, frozen=True):
    """A reading as its meter signed it (e.g. OCMF, German calibration law): what a CDR's signed_data carries."""

    value: SignedValue
    encoding_method: str
    public_key: str | None = None


class CdrToken(Struct, frozen=True):
    """The token as charged: its issuing eMSP decides who may see the Session and the CDR."""

    country_code: str
    party_id: str
    uid: str
    type: TokenType
    contract_id: str

    @property
    def owner_party(self) -> PartyId:
        return PartyId.of(self.country_code, self.party_id)


class CdrDimension(Struct, frozen=True):
    type: CdrDimensionType
    volume: Decimal


class ChargingPeriod(Struct, frozen=True):
    start_date_time: datetime
    dimensions: list[CdrDimension]
    tariff_id: str | None = None


class Session(Struct, kw_only=True):
    country_code: str  # the CPO
    party_id: str
    id: str
    start_date_time: datetime
    kwh: Decimal
    cdr_token: CdrToken
    auth_method: AuthMethod
    location_id: str
    evse_uid: str
    connector_id: str
    currency: str
    status: SessionStatus
    last_updated: datetime
    end_date_time: datetime | None = None
    authorization_reference: str | None = None
    meter_id: str | None = None
    charging_periods: list[ChargingPeriod] = field(default_factory=list)
    total_cost: Price | None = None

    @property
    def owner_party(self) -> PartyId:
        return PartyId.of(self.country_code, self.party_id)


class CdrLocation(Struct, kw_only=True):
    id: str
    address: str
    city: str
    country: str
    coordinates: GeoPoint
    evse_uid: str
    evse_id: str
    connector_id: str
    connector_standard: ConnectorStandard
    connector_format: ConnectorFormat
    connector_power_type: PowerType
    name: str | None = None
    postal_code: str | None = None
    state: str | None = None


class SignedValue(Struct, frozen=True):
    nature: str
    plain_data: str
    signed_data: str


class SignedData(Struct, kw_only=True):
    encoding_method: str
    signed_values: list[SignedValue]
    encoding_method_version: int | None = None
    public_key: str | None = None
    url: str | None = None


class Cdr(Struct, kw_only=True):
    country_code: str  # the CPO
    party_id: str
    id: str
    start_date_time: datetime
    end_date_time: datetime
    cdr_token: CdrToken
    auth_method: AuthMethod
    cdr_location: CdrLocation
    currency: str
    charging_periods: list[ChargingPeriod]
    total_cost: Price
    total_energy: Decimal  # kWh
    total_time: Decimal  # hours
    last_updated: datetime
    session_id: str | None = None
    authorization_reference: str | None = None
    meter_id: str | None = None
    tariffs: list[Tariff] = field(default_factory=list)
    signed_data: SignedData | None = None
    total_fixed_cost: Price | None = None
    total_energy_cost: Price | None = None
    total_time_cost: Price | None = None
    total_parking_time: Decimal | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: str | None = None
    invoice_reference_id: str | None = None
    credit: bool | None = None
    credit_reference_id: str | None = None
    home_charging_compensation: bool | None = None

    @property
    def owner_party(self) -> PartyId:
        return PartyId.of(self.country_code, self.party_id)


# ---------------------------------------------------------------------------------------------
# Commands and charging profiles


class StartSession(Struct, kw_only=True, tag="START_SESSION"):
    token: Token
    location_id: str
    evse_uid: str | None = None
    connector_id: str | None = None
    authorization_reference: str | None = None


class StopSession(Struct, kw_only=True, tag="STOP_SESSION"):
    session_id: str


class ReserveNow(Struct, kw_only=True, tag="RESERVE_NOW"):
    token: Token
    expiry_date: datetime
    reservation_id: str
    location_id: str
    evse_uid: str | None = None
    authorization_reference: str | None = None


class CancelReservation(Struct, kw_only=True, tag="CANCEL_RESERVATION"):
    reservation_id: str


class UnlockConnector(Struct, kw_only=True, tag="UNLOCK_CONNECTOR"):
    location_id: str
    evse_uid: str
    connector_id: str


CommandRequest = StartSession | StopSession | ReserveNow | CancelReservation | UnlockConnector
COMMANDS: dict[str, type] = {  # an OCPI command's name -> its canonical request
    "START_SESSION": StartSession, "STOP_SESSION": StopSession, "RESERVE_NOW": ReserveNow,
    "CANCEL_RESERVATION": CancelReservation, "UNLOCK_CONNECTOR": UnlockConnector,
}


class CommandResponse(Struct, kw_only=True):
    result: CommandResponseType
    timeout: int
    message: list[DisplayText] = field(default_factory=list)


class CommandResult(Struct, kw_only=True):
    result: CommandResultType
    message: list[DisplayText] = field(default_factory=list)


class ChargingProfilePeriod(Struct, frozen=True):
    start_period: int  # seconds from the profile start
    limit: Decimal


class ChargingProfile(Struct, kw_only=True):
    charging_rate_unit: ChargingRateUnit
    start_date_time: datetime | None = None
    duration: int | None = None
    min_charging_rate: Decimal | None = None
    charging_profile_period: list[ChargingProfilePeriod] = field(default_factory=list)


class ActiveChargingProfile(Struct, kw_only=True):
    start_date_time: datetime
    charging_profile: ChargingProfile


class ChargingProfileResponse(Struct, kw_only=True):
    result: ChargingProfileResponseType
    timeout: int


class SetChargingProfile(Struct, kw_only=True):
    """A smart-charging party sets a profile on a session."""

    session_id: str
    charging_profile: ChargingProfile


class GetActiveChargingProfile(Struct, kw_only=True):
    """A smart-charging party asks what the profile of a session is over the next `duration` seconds."""

    session_id: str
    duration: int


class ClearChargingProfile(Struct, kw_only=True):
    session_id: str


class ChargingProfileResult(Struct, kw_only=True):
    """The asynchronous answer to a set, a clear or a get (then with `profile`)."""

    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


# Requests only an EVSE's own CPO makes (OCPI has no such command): on chargers of the hub's central system.


class ResetCharger(Struct, kw_only=True):
    """Restart the charger behind an EVSE (the whole charger: its other EVSEs too); `hard` at once, else when idle."""

    location_id: str
    evse_uid: str
    hard: bool = False


class EvseChargingProfile(Struct, kw_only=True):
    """A charging profile on an EVSE: the running transaction's, or without one the default of the charges to come."""

    location_id: str
    evse_uid: str
    charging_profile: ChargingProfile


# ---------------------------------------------------------------------------------------------
# Parties as the hub knows them (HubClientInfo)


class ClientInfo(Struct, kw_only=True):
    country_code: str
    party_id: str
    role: Role
    status: ConnectionStatus
    last_updated: datetime
