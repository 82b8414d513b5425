"""OICP 2.3 wire types: the request and response bodies of every operation Hubject defines, validated at decode
time. Pure: no I/O.

Sources: Hubject's OpenAPI 3 bundles (CPO and EMP) for shapes, the 2021 Swagger files as a second opinion on
wire names, the AsciiDoc as the leading text (tests/data/spec/oicp-2.3/SOURCE.md; the checklist is
../shared/reference/oicp.md, outside this repository).

Conventions:
- Field names are Python names; `_wire_name` turns them into OICP's PascalCase with its upper-case
  abbreviations (`cpo_partner_session_id` -> `CPOPartnerSessionID`); names that follow no rule (`lang`, `on`,
  `deltaType`, `EVSEPricing`, the Spring page fields) are given explicitly.
- Lenient where Hubject's own documents disagree: a limit only where all of them set it, a field required only
  where all of them require it (the 2.3 fields that CPOs still on 2.1/2.2 send as null are optional), both
  spellings read where the wire name varies (`ChargingStationId`/`ChargingStationID`, ...; the AsciiDoc's is
  written). Unknown fields are ignored.
- Enumerations Hubject extends in place (plugs, statuses, payment options, ...) are `str`: an unknown value is
  kept and the mapping decides what it means. `Literal` only where the set is closed and the value selects
  behaviour (ActionType, deltaType, AuthorizationStatus, the notification Type, day names, DynamicInfoAvailable,
  GeoCoordinatesResponseFormat).
- Date-times stay strings on the wire (examples round-trip as sent) and must carry an offset (`Z` or +hh:mm);
  the mapping parses them. Energy, power and money are Decimal, exact from the JSON number and written as one.
- Absent optional fields stay absent (`omit_defaults`).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct, field

T = TypeVar("T")

# OICP's abbreviations are upper case in every wire name; everything else is PascalCase.
_ABBREVIATIONS = {"id": "ID", "cpo": "CPO", "emp": "EMP", "uid": "UID", "rfid": "RFID", "qr": "QR", "pin": "PIN",
                  "cdr": "CDR", "co2": "CO2"}


def _wire_name(name: str) -> str:
    return "".join(_ABBREVIATIONS.get(part, part[:1].upper() + part[1:]) for part in name.split("_"))


def _anchored(core: str) -> str:
    # msgspec searches (re.search): anchor every pattern; (?!\n) because Python's `$` also matches before a final newline
    return f"^(?:{core})(?!\n)$"


def _s(n: int) -> Any:
    return Annotated[str, Meta(max_length=n)]


def _p(core: str) -> Any:
    return Annotated[str, Meta(pattern=_anchored(core))]


# --- identifiers (AsciiDoc 2.3 regexes; `\d` written [0-9] as Python's `\d` also takes other scripts' digits) ------
# The OpenAPI forms admit lower case where the AsciiDoc does not: Hubject upper-cases IDs itself, so read both.
EvseID = _p(r"([A-Za-z]{2}\*?[A-Za-z0-9]{3}\*?E[A-Za-z0-9\*]{1,30})|(\+?[0-9]{1,3}\*[0-9]{3}\*[0-9\*]{1,32})")
OperatorID = _p(r"([A-Za-z]{2}\*?[A-Za-z0-9]{3})|(\+?[0-9]{1,3}\*[0-9]{3})")
ProviderID = _p(r"[A-Za-z]{2}\-?[A-Za-z0-9]{3}|[A-Za-z]{2}[\*|-]?[A-Za-z0-9]{3}")
ProviderIDOrAll = _p(r"[A-Za-z]{2}\-?[A-Za-z0-9]{3}|[A-Za-z]{2}[\*|-]?[A-Za-z0-9]{3}|\*")  # pricing: `*` = every EMP
ChargingPoolID = _p(r"[A-Za-z]{2}\*?[A-Za-z0-9]{3}\*?P[A-Za-z0-9\*]{1,30}")
EvcoID = _p(r"([A-Za-z]{2}\-?[A-Za-z0-9]{3}\-?C[A-Za-z0-9]{8}\-?[0-9|A-Za-z])"
            r"|([A-Za-z]{2}[\*|\-]?[A-Za-z0-9]{3}[\*|\-]?[A-Za-z0-9]{6}[\*|\-]?[0-9|X])")
SessionID = _p(r"[A-Za-z0-9]{8}(-[A-Za-z0-9]{4}){3}-[A-Za-z0-9]{12}")  # GUID-shaped, always Hubject's
UID = _p(r"[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20}")  # 4-, 7- or 10-byte card UID, upper-case hex
PartnerSessionID = _s(250)  # the Swagger's reservation messages say 50: the wider limit
ProductID = _s(100)  # OpenAPI: 50, Swagger: 100
StatusCodeValue = _p(r"[0-9]{3}")  # three digits, leading zeros: a string, never a number
DateTime = _p(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|z|[+-][0-9]{2}:[0-9]{2})")
Hhmm = _p(r"[0-9]{2}:[0-9]{2}")
LanguageCode = _p(r"[a-z]{2,3}(?:-[A-Z]{2,3}(?:-[a-zA-Z]{4})?)?(?:-x-[a-zA-Z0-9]{1,8})?")
PhoneNumber = _p(r"\+[0-9]{5,15}")
CountryCodeAlpha3 = Annotated[str, Meta(min_length=3, max_length=3)]
TimeZone = _p(r"UTC[+,-][0-9]{2}:[0-9]{2}")  # a fixed offset such as UTC+01:00, not an IANA zone
Currency = _p(r"[A-Z]{3}")  # ISO 4217
HashValue = _p(r"[0-9A-Za-z.+/=$\\]{10,100}")
Latitude = _p(r"-?1?[0-9]{1,2}\.[0-9]{1,6}")  # DecimalDegree: 1 to 6 decimals, the dot required
Longitude = Latitude
GoogleCoordinates = _p(r"-?1?[0-9]{1,2}\.[0-9]{1,6}\s*,?\s*-?1?[0-9]{1,2}\.[0-9]{1,6}")  # "lat lon", latitude first
DegreeMinuteSeconds = _p(r"-?1?[0-9]{1,2}°[ ]?[0-9]{1,2}'[ ]?[0-9]{1,2}\.[0-9]+''")
NonNegative = Annotated[int, Meta(ge=0)]

# --- closed enumerations ---------------------------------------------------------------------------------------
ActionType = Literal["fullLoad", "update", "insert", "delete"]  # the push semantics: another value has none
DeltaType = Literal["update", "insert", "delete"]
AuthorizationStatus = Literal["Authorized", "NotAuthorized"]
Day = Literal["Everyday", "Workdays", "Weekend", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
              "Sunday"]
GeoCoordinatesResponseFormat = Literal["Google", "DegreeMinuteSeconds", "DecimalDegree"]
# A string enum ("true"/"false"/"auto"), not a JSON boolean; feeds that send a boolean are read too.
DynamicInfoAvailable = Literal["true", "false", "auto"] | bool

# --- open enumerations: the values 2.3 defines, for the mapping and for tests; the wire keeps any string ---------
PLUGS = (
    "Small Paddle Inductive", "Large Paddle Inductive", "AVCON Connector", "Tesla Connector", "NEMA 5-20",
    "Type E French Standard", "Type F Schuko", "Type G British Standard", "Type J Swiss Standard",
    "Type 1 Connector (Cable Attached)", "Type 2 Outlet", "Type 2 Connector (Cable Attached)", "Type 3 Outlet",
    "IEC 60309 Single Phase", "IEC 60309 Three Phase", "CCS Combo 2 Plug (Cable Attached)",
    "CCS Combo 1 Plug (Cable Attached)", "CHAdeMO",
)
EVSE_STATUSES = ("Available", "Reserved", "Occupied", "OutOfService", "EvseNotFound", "Unknown")
# StatusCode.Code -> Hubject's description of it (the 2.3 code table; Hubject may send others)
STATUS_CODES = {
    "000": "Success",
    "001": "Hubject system error",
    "002": "Hubject database error",
    "009": "Data transaction error",
    "017": "Unauthorized Access",
    "018": "Inconsistent EvseID",
    "019": "Inconsistent EvcoID",
    "021": "System error",
    "022": "Data error",
    "101": "QR Code Authentication failed - Invalid Credentials",
    "102": "RFID Authentication failed - invalid UID",
    "103": "RFID Authentication failed - card not readable",
    "105": "PLC Authentication failed - invalid EvcoID",
    "106": "No positive authentication response",
    "110": "QR Code App Authentication failed - time out error",
    "120": "PLC (ISO/ IEC 15118) Authentication failed - invalid underlying EvcoID",
    "121": "PLC (ISO/ IEC 15118) Authentication failed - invalid certificate",
    "122": "PLC (ISO/ IEC 15118) Authentication failed - time out error",
    "200": "EvcoID locked",
    "210": "No valid contract",
    "300": "Partner not found",
    "310": "Partner did not respond",
    "320": "Service not available",
    "400": "Session is invalid",
    "501": "Communication to EVSE failed",
    "510": "No EV connected to EVSE",
    "601": "EVSE already reserved",
    "602": "EVSE already in use/ wrong token",
    "603": "Unknown EVSE ID",
    "604": "EVSE ID is not Hubject compatible",
    "700": "EVSE out of service",
}


class _W(Struct, omit_defaults=True, kw_only=True, rename=_wire_name, gc=False):
    """Base of every wire type. gc=False: wire values hold no cycles, and a page of EVSE data is thousands of them."""


def _alt(name: str) -> Any:
    """The other spelling of a field: read, never written (the mapping reads both)."""
    return field(default=None, name=name)


# --- status and acknowledgement ----------------------------------------------------------------------------------


class StatusCode(_W):
    code: StatusCodeValue
    description: _s(200) | None = None
    additional_info: _s(1000) | None = None


class Acknowledgement(_W):
    """eRoamingAcknowledgement: the answer to every push, remote start/stop, reservation, CDR and notification."""

    result: bool
    status_code: StatusCode
    session_id: SessionID | None = None
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None


class FieldValidationError(_W, rename="camel"):
    field_reference: str | None = None
    error_message: str | None = None


class FaultBody(_W, rename="camel"):
    """Hubject's HTTP 400/500 body (schema validation and processing errors)."""

    message: str | None = None
    extended_info: str | None = None
    validation_errors: list[FieldValidationError] | None = None


class OicpFault(_W):
    """Hubject's HTTP 401/404 body (OicpERoamingFault)."""

    status_code: StatusCode | None = None
    message: str | None = field(default=None, name="message")


# --- identification ----------------------------------------------------------------------------------------------


class RFIDMifareFamilyIdentification(_W):
    uid: UID


class RFIDIdentification(_W):
    """The upload form of a card (PushAuthenticationData); never in an authorization."""

    uid: UID
    rfid: str  # mifareCls, mifareDes, calypso, nfc, mifareFamily
    evco_id: EvcoID | None = None
    printed_number: _s(150) | None = None
    expiry_date: str | None = None  # the OpenAPI has no format here (an example is `2021-01-23 14:23:54.228000+00:00`)


class LegacyHashData(_W):
    function: str  # MD5, SHA-1
    salt: _s(100) | None = None
    value: str | None = None  # OpenAPI: 20 characters, the Swagger no limit (an MD5 in hex is 32)


class HashedPIN(_W):
    value: HashValue
    function: str  # Bcrypt
    legacy_hash_data: LegacyHashData | None = None


class QRCodeIdentification(_W):
    evco_id: EvcoID
    pin: str | None = None  # clear text in an authorization (Hubject hashes it); AsciiDoc and Swagger: 20, OpenAPI: no limit
    hashed_pin: HashedPIN | None = None  # upload only


class PlugAndChargeIdentification(_W):
    evco_id: EvcoID


class RemoteIdentification(_W):
    evco_id: EvcoID


class Identification(_W):
    """Exactly one member by the rules, all five in Hubject's examples: the count is the mapping's check."""

    rfid_mifare_family_identification: RFIDMifareFamilyIdentification | None = None
    rfid_identification: RFIDIdentification | None = None
    qr_code_identification: QRCodeIdentification | None = None
    plug_and_charge_identification: PlugAndChargeIdentification | None = None
    remote_identification: RemoteIdentification | None = None


# --- authorization (charging/v21) --------------------------------------------------------------------------------


class AuthorizeStart(_W):
    """CPO -> Hubject -> EMP: may this medium charge here?"""

    operator_id: OperatorID
    identification: Identification
    session_id: SessionID | None = None  # normally absent: Hubject creates it
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None
    evse_id: EvseID | None = None
    partner_product_id: ProductID | None = None


class AuthorizationStart(_W):
    authorization_status: AuthorizationStatus
    status_code: StatusCode
    session_id: SessionID | None = None
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None
    provider_id: ProviderID | None = None
    authorization_stop_identifications: list[Identification] | None = None


class AuthorizeStop(_W):
    session_id: SessionID
    operator_id: OperatorID
    identification: Identification
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None
    evse_id: EvseID | None = None


class AuthorizationStop(_W):
    authorization_status: AuthorizationStatus
    status_code: StatusCode
    session_id: SessionID | None = None
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None
    provider_id: ProviderID | None = None


class AuthorizeRemoteStart(_W):
    """EMP -> Hubject -> CPO. The EMP leaves SessionID empty; Hubject fills it before the CPO sees it."""

    provider_id: ProviderID
    evse_id: EvseID
    identification: Identification
    session_id: SessionID | None = None
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None
    partner_product_id: ProductID | None = None


class AuthorizeRemoteStop(_W):
    session_id: SessionID
    provider_id: ProviderID
    evse_id: EvseID
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None


# --- reservation (reservation/v11) -------------------------------------------------------------------------------


class AuthorizeRemoteReservationStart(_W):
    provider_id: ProviderID
    evse_id: EvseID
    identification: Identification
    session_id: SessionID | None = None
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id_alt: PartnerSessionID | None = _alt("EMPPartnerSessionId")  # the OpenAPI's spelling
    partner_product_id: ProductID | None = None
    duration: Annotated[int, Meta(ge=1, le=99)] | None = None  # minutes

    @property
    def emp_partner_session(self) -> str | None:
        return self.emp_partner_session_id or self.emp_partner_session_id_alt


class AuthorizeRemoteReservationStop(_W):
    session_id: SessionID
    provider_id: ProviderID
    evse_id: EvseID
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id_alt: PartnerSessionID | None = _alt("EMPPartnerSessionId")

    @property
    def emp_partner_session(self) -> str | None:
        return self.emp_partner_session_id or self.emp_partner_session_id_alt


# --- charge detail records (cdrmgmt/v22) -------------------------------------------------------------------------


class MeterValueInBetween(_W):
    meter_values: list[Decimal] = field(name="meterValues")  # an object wrapping a list, no timestamps


class SignedMeteringValue(_W):
    signed_metering_value: _s(3000) | None = None
    metering_status: str | None = None  # Start, Progress, End


class CalibrationLawVerificationInfo(_W):
    calibration_law_certificate_id: _s(100) | None = None
    public_key: _s(1000) | None = None
    metering_signature_url: _s(200) | None = None
    metering_signature_encoding_format: _s(50) | None = None
    signed_metering_values_verification_instruction: _s(400) | None = None


class ChargeDetailRecord(_W):
    """eRoamingChargeDetailRecord: one per SessionID, no prices. ChargingStart/End and ConsumedEnergy are
    mandatory since 2.3 (the Swagger does not require them)."""

    session_id: SessionID
    evse_id: EvseID
    identification: Identification
    session_start: DateTime
    session_end: DateTime
    charging_start: DateTime | None = None
    charging_end: DateTime | None = None
    consumed_energy: Decimal | None = None  # kWh
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None
    partner_product_id: ProductID | None = None
    meter_value_start: Decimal | None = None
    meter_value_end: Decimal | None = None
    meter_value_in_between: MeterValueInBetween | None = None
    signed_metering_values: Annotated[list[SignedMeteringValue], Meta(max_length=10)] | None = None
    calibration_law_verification_info: CalibrationLawVerificationInfo | None = None
    hub_operator_id: OperatorID | None = None
    hub_provider_id: ProviderID | None = None
    hub_provider_id_alt: ProviderID | None = _alt("HubProviderId")  # the EMP OpenAPI's spelling

    @property
    def hub_provider(self) -> str | None:
        return self.hub_provider_id or self.hub_provider_id_alt


class GetChargeDetailRecords(_W):
    provider_id: ProviderID
    start: DateTime = field(name="From")  # Hubject's receipt time, not the session's
    end: DateTime = field(name="To")
    session_ids: list[SessionID] | None = field(default=None, name="SessionID")
    # a list on the wire (Swagger, snippets), a single value in the AsciiDoc and OpenAPI: both read, a list written
    operator_ids: list[OperatorID] | OperatorID | None = field(default=None, name="OperatorID")
    cdr_forwarded: bool | None = None
    cdr_forwarded_alt: bool | None = _alt("CDRForwarder")  # the EMP OpenAPI's misspelling

    @property
    def forwarded(self) -> bool | None:
        return self.cdr_forwarded if self.cdr_forwarded is not None else self.cdr_forwarded_alt

    @property
    def operators(self) -> list[str]:
        ids = self.operator_ids
        return [] if ids is None else [ids] if isinstance(ids, str) else list(ids)


class PageableSort(_W, rename="camel"):
    sorted: bool | None = None
    empty: bool | None = None
    unsorted: bool | None = None


class Pageable(_W, rename="camel"):
    sort: PageableSort | None = None
    page_size: int | None = None
    page_number: int | None = None
    offset: int | None = None
    paged: bool | None = None
    unpaged: bool | None = None


class Page(_W, Generic[T], rename="camel"):
    """A Spring page: the responses of PullEvseData and GetChargeDetailRecords. Paging itself is in the query
    string (`?page=&size=`). Only `content` is needed to read one; StatusCode may be null."""

    content: list[T]
    number: int | None = None
    size: int | None = None
    total_elements: int | None = None
    total_pages: int | None = None
    first: bool | None = None
    last: bool | None = None
    number_of_elements: int | None = None
    empty: bool | None = None
    pageable: Pageable | None = None
    status_code: StatusCode | None = field(default=None, name="StatusCode")


# --- charging notifications (notificationmgmt/v11): one endpoint, four shapes told apart by `Type` -----------------


class _Notification(_W, tag_field="Type"):
    session_id: SessionID
    evse_id: EvseID
    operator_id: OperatorID
    cpo_partner_session_id: PartnerSessionID | None = None
    emp_partner_session_id: PartnerSessionID | None = None
    identification: Identification | None = None


class ChargingNotificationStart(_Notification, tag="Start", kw_only=True):
    """Energy started flowing."""

    charging_start: DateTime
    session_start: DateTime | None = None
    meter_value_start: Decimal | None = None
    partner_product_id: ProductID | None = None


class ChargingNotificationProgress(_Notification, tag="Progress", kw_only=True):
    charging_start: DateTime
    event_occurred: DateTime
    charging_duration: NonNegative | None = None  # milliseconds, EventOccurred - ChargingStart
    consumed_energy_progress: Decimal | None = None  # kWh so far
    session_start: DateTime | None = None
    meter_value_start: Decimal | None = None
    meter_value_in_between: MeterValueInBetween | None = None
    partner_product_id: ProductID | None = None


class ChargingNotificationEnd(_Notification, tag="End", kw_only=True):
    """Energy stopped flowing; the car may still be plugged in (not the end of the session)."""

    charging_end: DateTime
    charging_start: DateTime | None = None
    session_start: DateTime | None = None
    session_end: DateTime | None = None
    consumed_energy: Decimal | None = None
    meter_value_start: Decimal | None = None
    meter_value_end: Decimal | None = None
    meter_value_in_between: MeterValueInBetween | None = None
    partner_product_id: ProductID | None = None
    penalty_time_start: DateTime | None = None  # blocking fees from here on


class ChargingNotificationError(_Notification, tag="Error", kw_only=True):
    error_type: str  # ConnectorError, CriticalError (the AsciiDoc prints them with a space)
    error_additional_info: _s(250) | None = None


ChargingNotification = (
    ChargingNotificationStart | ChargingNotificationProgress | ChargingNotificationEnd | ChargingNotificationError
)


# --- EVSE data (evsepush/v23, evsepull/v23) ----------------------------------------------------------------------


class InfoText(_W):
    lang: LanguageCode = field(name="lang")
    value: str = field(name="value")  # OpenAPI: 150 characters, the Swagger no limit


class Address(_W):
    """AddressIso19773. PostalCode and HouseNum are mandatory since 2.3 and null from older CPOs."""

    country: CountryCodeAlpha3  # ISO 3166 alpha-3
    city: Annotated[str, Meta(min_length=1, max_length=50)]
    street: Annotated[str, Meta(min_length=2, max_length=100)]
    postal_code: _s(10) | None = None
    house_num: _s(10) | None = None
    floor: _s(5) | None = None
    region: _s(50) | None = None
    parking_facility: bool | None = None
    parking_spot: _s(5) | None = None
    time_zone: TimeZone | None = None


class Google(_W):
    coordinates: GoogleCoordinates


class DecimalDegree(_W):
    longitude: Longitude
    latitude: Latitude


class DegreeMinuteSecondsCoordinates(_W):
    longitude: DegreeMinuteSeconds
    latitude: DegreeMinuteSeconds


class GeoCoordinates(_W):
    """Exactly one notation by the rules (the examples give all three): the mapping reads the first it knows."""

    google: Google | None = None
    decimal_degree: DecimalDegree | None = None
    degree_minute_seconds: DegreeMinuteSecondsCoordinates | None = None


class ChargingFacility(_W):
    """Not linked to the Plugs. OpenAPI caps Voltage at 999 and Amperage at 99 (less than DC chargers draw,
    hubject/oicp#153), the Swagger does not: read any; the mapping writes within the caps."""

    power_type: str | None = None  # AC_1_PHASE, AC_3_PHASE, DC; null from older CPOs
    power: Decimal | None = None  # kW: an integer <= 999 in the CPO document, any number in the EMP one
    voltage: NonNegative | None = None
    amperage: NonNegative | None = None
    charging_modes: list[str] | None = None


class EnergySource(_W):
    energy: str | None = None  # Solar, Wind, HydroPower, ...
    percentage: Annotated[int, Meta(ge=0, le=100)] | None = None  # OpenAPI: up to 99, the Swagger 100


class EnvironmentalImpact(_W):
    co2_emission: Decimal | None = None  # g/kWh
    nuclear_waste: Decimal | None = None  # g/kWh


class Period(_W):
    begin: Hhmm = field(name="begin")
    end: Hhmm = field(name="end")


class OpeningTimes(_W):
    period: list[Period]
    on: Day = field(name="on")


class EvseDataRecord(_W):
    """One EVSE with its station's data (address, coordinates, hours repeat in every record of a station).

    Required here is what both the OpenAPI and the Swagger require, minus the fields older CPOs send as null."""

    evse_id: EvseID
    address: Address
    geo_coordinates: GeoCoordinates
    authentication_modes: list[str]  # NFC RFID Classic, NFC RFID DESFire, PnC, REMOTE, Direct Payment, ...
    accessibility: str  # Free publicly accessible, Restricted access, Paying publicly accessible, Test Station
    is_open24_hours: bool
    is_hubject_compatible: bool  # false: Hubject refuses remote start/stop here (604)
    dynamic_info_available: DynamicInfoAvailable
    delta_type: DeltaType | None = field(default=None, name="deltaType")  # pulled deltas only
    last_update: DateTime | None = field(default=None, name="lastUpdate")  # pulled records only
    charging_pool_id: ChargingPoolID | None = None
    charging_station_id: _s(50) | None = field(default=None, name="ChargingStationId")  # AsciiDoc and OpenAPI
    charging_station_id_alt: _s(50) | None = _alt("ChargingStationID")  # every example and the Swagger
    # a list of names since 2.3; null from older CPOs, a single object in some published feeds
    charging_station_names: list[InfoText] | InfoText | None = None
    hardware_manufacturer: _s(50) | None = None
    charging_station_image: _s(200) | None = None  # a URL string (the Swagger types it as a Java URL object)
    sub_operator_name: _s(100) | None = None
    plugs: list[str] | None = None
    dynamic_power_level: bool | None = None
    charging_facilities: list[ChargingFacility] | None = None
    renewable_energy: bool | None = None  # true only when 100 % renewable
    energy_source: list[EnergySource] | None = None
    environmental_impact: EnvironmentalImpact | None = None
    calibration_law_data_availability: str | None = None  # Local, External, Not Available
    max_capacity: int | None = None  # kWh
    payment_options: list[str] | None = None  # No Payment, Direct, Contract
    value_added_services: list[str] | None = None  # Reservation, DynamicPricing, ..., None
    accessibility_location: str | None = None  # OnStreet, ParkingLot, ParkingGarage, UndergroundParkingGarage
    hotline_phone_number: PhoneNumber | None = None
    additional_info: list[InfoText] | None = None
    charging_station_location_reference: list[InfoText] | None = None
    geo_charging_point_entrance: GeoCoordinates | None = None
    opening_times: list[OpeningTimes] | None = None
    hub_operator_id: OperatorID | None = None
    clearinghouse_id: _s(20) | None = None

    @property
    def station_id(self) -> str | None:
        return self.charging_station_id or self.charging_station_id_alt


class PullEvseDataRecord(EvseDataRecord, kw_only=True):
    """A pulled record names its operator (OperatorID moved from the wrapper into each record in 2.3)."""

    operator_id: OperatorID | None = None
    operator_id_alt: OperatorID | None = _alt("OperatorId")  # as an example spells it
    operator_name: str | None = None  # mandatory, but null from older CPOs

    @property
    def operator(self) -> str | None:
        return self.operator_id or self.operator_id_alt


class OperatorEvseData(_W):
    operator_id: OperatorID
    evse_data_record: list[EvseDataRecord]  # with fullLoad, an empty list deletes every EVSE of the operator
    operator_name: _s(100) | None = None  # mandatory since 2.3 in the OpenAPI, optional in the Swagger


class PushEvseData(_W):
    action_type: ActionType
    operator_evse_data: OperatorEvseData


class SearchCenter(_W):
    geo_coordinates: GeoCoordinates
    radius: Decimal  # km


class PullEvseData(_W):
    """The body of PullEvseData; `page`, `size` and `sort` go in the query string. LastCall (deltas) combines
    with none of SearchCenter, CountryCodes, OperatorIds."""

    provider_id: ProviderID
    geo_coordinates_response_format: GeoCoordinatesResponseFormat
    search_center: SearchCenter | None = None
    last_call: DateTime | None = None
    country_codes: list[CountryCodeAlpha3] | None = None
    operator_ids: list[OperatorID] | None = None  # spelled OperatorIds here (OperatorIDs in pricing)
    authentication_modes: list[str] | None = None
    accessibility: list[str] | None = None
    calibration_law_data_availability: list[str] | None = None
    renewable_energy: bool | None = None
    is_hubject_compatible: bool | None = None
    is_open24_hours: bool | None = None


EvseDataPage = Page[PullEvseDataRecord]


# --- EVSE status (evsepush/v21, evsepull/v21) --------------------------------------------------------------------


class EvseStatusRecord(_W):
    evse_id: EvseID
    evse_status: str  # Available, Reserved, Occupied, OutOfService, Unknown; EvseNotFound in pulls


class OperatorEvseStatus(_W):
    operator_id: OperatorID
    evse_status_record: list[EvseStatusRecord]
    operator_name: str | None = None  # 100 characters in the push, no limit in the pulled answer


class PushEvseStatus(_W):
    action_type: ActionType
    operator_evse_status: OperatorEvseStatus


class PullEvseStatus(_W):
    provider_id: ProviderID
    search_center: SearchCenter | None = None
    evse_status: str | None = None  # the Swagger's and the snippets' spelling: written
    evse_status_alt: str | None = _alt("EVSEStatus")  # the AsciiDoc's and the OpenAPI's

    @property
    def status_filter(self) -> str | None:
        return self.evse_status or self.evse_status_alt


class PullEvseStatusById(_W):
    provider_id: ProviderID
    evse_id: Annotated[list[EvseID], Meta(max_length=100)]


class PullEvseStatusByOperatorId(_W):
    provider_id: ProviderID
    operator_id: list[OperatorID]


class EvseStatuses(_W):
    operator_evse_status: list[OperatorEvseStatus]


class EvseStatusResponse(_W):
    """The answer to PullEvseStatus and PullEvseStatusByOperatorID."""

    evse_statuses: EvseStatuses
    status_code: StatusCode | None = None


class EvseStatusRecords(_W):
    evse_status_record: list[EvseStatusRecord]


class EvseStatusByIdResponse(_W):
    """The answer to PullEvseStatusByID: another shape than the other two (hubject/oicp#117)."""

    evse_status_records: EvseStatusRecords = field(name="EVSEStatusRecords")
    status_code: StatusCode | None = None


# --- authentication data (authdata/v21): an "offline" EMP's tokens -----------------------------------------------


class AuthenticationDataRecord(_W):
    identification: Identification


class ProviderAuthenticationData(_W):
    provider_id: ProviderID
    authentication_data_record: list[AuthenticationDataRecord]


class PushAuthenticationData(_W):
    action_type: ActionType
    provider_authentication_data: ProviderAuthenticationData


# --- dynamic pricing (dynamicpricing/v10) ------------------------------------------------------------------------


class ProductAvailabilityTimes(_W):
    periods: list[Period]
    on: Day = field(name="on")


class AdditionalReference(_W):
    additional_reference: str  # START FEE, FIXED FEE, PARKING FEE, MINIMUM FEE, MAXIMUM FEE
    additional_reference_unit: str  # HOUR, KILOWATT_HOUR, MINUTE
    price_per_additional_reference_unit: Decimal


class PricingProductDataRecord(_W):
    product_id: ProductID
    reference_unit: str
    product_price_currency: Currency
    price_per_reference_unit: Decimal  # without VAT
    maximum_product_charging_power: Decimal  # kW (the AsciiDoc says "kWh")
    is_valid24hours: bool
    product_availability_times: list[ProductAvailabilityTimes]
    additional_references: list[AdditionalReference] | None = None


class PricingProductData(_W):
    operator_id: OperatorID
    provider_id: ProviderIDOrAll
    pricing_default_price: Decimal
    pricing_default_price_currency: Currency
    pricing_default_reference_unit: str
    pricing_product_data_records: list[PricingProductDataRecord]
    operator_name: _s(100) | None = None


class PushPricingProductData(_W):
    action_type: ActionType
    pricing_product_data: PricingProductData


class EvsePricing(_W):
    evse_id: EvseID
    provider_id: ProviderIDOrAll
    evse_id_product_list: list[ProductID]


class PushEvsePricing(_W):
    action_type: ActionType
    evse_pricing: list[EvsePricing] = field(name="EVSEPricing")


class PullPricingProductData(_W):
    """The provider is in the path only."""

    operator_ids: list[OperatorID] = field(name="OperatorIDs")
    last_call: DateTime | None = None


class PricingProductDataResponse(_W):
    pricing_product_data: list[PricingProductData]
    status_code: StatusCode | None = None


class PullEvsePricing(_W):
    provider_id: ProviderID
    operator_ids: list[OperatorID] = field(name="OperatorIDs")
    last_call: DateTime | None = None


class OperatorEvsePricing(_W):
    operator_id: OperatorID
    evse_pricing: list[EvsePricing] = field(name="EVSEPricing")
    operator_name: _s(100) | None = None


class EvsePricingResponse(_W):
    evse_pricing: list[OperatorEvsePricing] = field(name="EVSEPricing")  # the outer list has the inner one's name
    status_code: StatusCode | None = None


# --- codecs ------------------------------------------------------------------------------------------------------

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
