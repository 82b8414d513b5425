"""OICP 2.3 wire types against Hubject's own definitions (tests/data/spec/oicp-2.3): every example decodes and
encodes back to the same JSON, every wire name is the spec's, the spec's constraints hold at decode time, and the
leniency the reference asks for (nulls from older partners, both spellings, unknown values) is there."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from functools import cache
from typing import Any

import msgspec
import pytest

from protocols.oicp.v23 import wire
from tests.conftest import SPEC

OICP = SPEC / "oicp-2.3"
BUNDLES = {"cpo": OICP / "openapi-3.0" / "oicp-2.3-cpo.openapi.json", "emp": OICP / "openapi-3.0" / "oicp-2.3-emp.openapi.json"}
SWAGGER = sorted((OICP / "swagger-2.0").glob("*.json"))


@cache
def bundle(side: str) -> dict[str, Any]:
    return json.loads(BUNDLES[side].read_text(), parse_float=Decimal)


@cache
def swagger_definitions() -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for path in SWAGGER:
        for name, schema in json.loads(path.read_text())["definitions"].items():
            found.setdefault(name, []).append(schema)
    return found


# schema name -> the wire type of its example (both bundles use the same names)
EXAMPLE_TYPES: dict[str, Any] = {
    "OpeningTimes": wire.OpeningTimes,
    "OperatorEvseData": wire.OperatorEvseData,
    "PlugAndChargeIdentification": wire.PlugAndChargeIdentification,
    "RFIDIdentification": wire.RFIDIdentification,
    "RFIDMifareFamilyIdentification": wire.RFIDMifareFamilyIdentification,
    "RemoteIdentification": wire.RemoteIdentification,
    "StatusCode": wire.StatusCode,
    "eRoamingAcknowledgment": wire.Acknowledgement,
    "eRoamingAuthorizationStart": wire.AuthorizationStart,
    "eRoamingAuthorizationStop": wire.AuthorizationStop,
    "eRoamingAuthorizeRemoteReservationStart": wire.AuthorizeRemoteReservationStart,
    "eRoamingAuthorizeRemoteReservationStop": wire.AuthorizeRemoteReservationStop,
    "eRoamingAuthorizeRemoteStart": wire.AuthorizeRemoteStart,
    "eRoamingAuthorizeRemoteStop": wire.AuthorizeRemoteStop,
    "eRoamingAuthorizeStart": wire.AuthorizeStart,
    "eRoamingAuthorizeStop": wire.AuthorizeStop,
    "eRoamingChargeDetailRecord": wire.ChargeDetailRecord,
    "eRoamingChargeDetailRecords": wire.Page[wire.ChargeDetailRecord],
    "eRoamingChargingNotificationEnd": wire.ChargingNotification,
    "eRoamingChargingNotificationError": wire.ChargingNotification,
    "eRoamingChargingNotificationProgress": wire.ChargingNotification,
    "eRoamingChargingNotificationStart": wire.ChargingNotification,
    "eRoamingEVSEPricing": wire.EvsePricingResponse,
    "eRoamingEVSEStatus": wire.EvseStatusResponse,
    "eRoamingEVSEStatusByID": wire.EvseStatusByIdResponse,
    "eRoamingGetChargeDetailRecords": wire.GetChargeDetailRecords,
    "eRoamingPullEVSEData": wire.PullEvseData,
    "eRoamingPullEVSEPricing": wire.PullEvsePricing,
    "eRoamingPullEVSEStatus": wire.PullEvseStatus,
    "eRoamingPullEVSEStatusByID": wire.PullEvseStatusById,
    "eRoamingPullEVSEStatusByOperatorID": wire.PullEvseStatusByOperatorId,
    "eRoamingPullPricingProductData": wire.PullPricingProductData,
    "eRoamingPushAuthenticationData": wire.PushAuthenticationData,
    "eRoamingPushEVSEPricing": wire.PushEvsePricing,
    "eRoamingPushEvseData": wire.PushEvseData,
    "eRoamingPushEvseStatus": wire.PushEvseStatus,
    "eRoamingPushPricingProductData": wire.PushPricingProductData,
}
# (bundle, schema) -> why its example is not what its schema says (tests/data/spec/oicp-2.3/SOURCE.md)
DEFECTIVE = {
    ("cpo", "OperatorEvseData"): "an authorization's fields, not OperatorEvseData",
    ("cpo", "eRoamingAuthorizeStop"): "PartnerProductID is no field of eRoamingAuthorizeStop",
    ("emp", "eRoamingAuthorizeStop"): "PartnerProductID is no field of eRoamingAuthorizeStop",
    ("emp", "eRoamingPushAuthenticationData"): "the media sit beside Identification, not in it",
}


def examples() -> list[tuple[str, str]]:
    return sorted((side, name) for side in BUNDLES for name, schema in bundle(side)["components"]["schemas"].items()
                  if isinstance(schema.get("example"), dict))


def example(side: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(bundle(side)["components"]["schemas"][name]["example"])


def _raw(data: Any) -> bytes:
    return json.dumps(data, default=str).encode()  # Decimal as its digits: a JSON number again


def _json(data: bytes) -> Any:
    return json.loads(data, parse_float=Decimal)


def _without_nulls(value: Any) -> Any:
    """Absent and null mean the same for optional OICP fields."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _round_trip(data: Any, type_: Any) -> Any:
    return _json(wire.encode(wire.decode(_raw(data), type_)))


# --- the official examples ---------------------------------------------------------------------------------------


def test_the_definitions_are_there() -> None:
    assert all(p.is_file() for p in BUNDLES.values()), f"the OICP definitions are missing under {OICP}"
    assert len(SWAGGER) == 7


def test_every_example_has_a_wire_type() -> None:
    found = examples()
    assert len(found) == 57  # 25 in the CPO bundle, 32 in the EMP one
    assert {name for _, name in found} == set(EXAMPLE_TYPES)


@pytest.mark.parametrize("side,name", [e for e in examples() if e not in DEFECTIVE], ids="-".join)
def test_example_decodes_and_encodes_to_the_same_json(side: str, name: str) -> None:
    data = example(side, name)
    assert _without_nulls(_round_trip(data, EXAMPLE_TYPES[name])) == _without_nulls(data)


def test_notification_examples_decode_to_the_shape_their_type_names() -> None:
    for shape in ("Start", "Progress", "End", "Error"):
        decoded = wire.decode(_raw(example("emp", f"eRoamingChargingNotification{shape}")), wire.ChargingNotification)
        assert type(decoded).__name__ == f"ChargingNotification{shape}"


def test_operator_evse_data_example_is_rejected_for_its_missing_operator_id() -> None:
    with pytest.raises(msgspec.ValidationError, match="OperatorID"):
        wire.decode(_raw(example("cpo", "OperatorEvseData")), wire.OperatorEvseData)


@pytest.mark.parametrize("side", ["cpo", "emp"])
def test_authorize_stop_example_loses_the_partner_product_id_it_may_not_carry(side: str) -> None:
    data = example(side, "eRoamingAuthorizeStop")
    assert "PartnerProductID" in data
    expected = {k: v for k, v in data.items() if k != "PartnerProductID"}
    assert _round_trip(data, wire.AuthorizeStop) == expected


def test_push_authentication_data_example_keeps_only_the_media_inside_identification() -> None:
    data = example("emp", "eRoamingPushAuthenticationData")
    record = data["ProviderAuthenticationData"]["AuthenticationDataRecord"][0]
    assert set(record) == {"Identification", "QRCodeIdentification", "PlugAndChargeIdentification", "RemoteIdentification",
                           "RFIDIdentification"}
    data["ProviderAuthenticationData"]["AuthenticationDataRecord"][0] = {"Identification": record["Identification"]}
    assert _round_trip(example("emp", "eRoamingPushAuthenticationData"), wire.PushAuthenticationData) == data


SCALAR_EXAMPLES = {
    "EvseID": wire.EvseID, "OperatorID": wire.OperatorID, "ProviderID": wire.ProviderID, "ProviderIDAsterisk": wire.ProviderIDOrAll,
    "ChargingPoolID": wire.ChargingPoolID, "EvcoID": wire.EvcoID, "SessionID": wire.SessionID, "UID": wire.UID,
    "CurrencyID": wire.Currency, "ProductID": wire.ProductID,
}


@pytest.mark.parametrize("name", sorted(SCALAR_EXAMPLES))
def test_identifier_examples_fit_their_types(name: str) -> None:
    for side in BUNDLES:
        value = bundle(side)["components"]["schemas"][name]["example"]
        assert wire.decode(_raw(value), SCALAR_EXAMPLES[name]) == value


def test_time_zone_example_fits_its_type() -> None:
    value = bundle("cpo")["components"]["schemas"]["AddressIso19773"]["properties"]["TimeZone"]["example"]
    assert wire.decode(_raw(value), wire.TimeZone) == value


def evse_data_page() -> dict[str, Any]:
    """A PullEvseData answer as the 2.3 page (the EMP bundle has no example): the PushEvseData example's record
    with the OperatorID and OperatorName each pulled record carries."""
    push = example("cpo", "eRoamingPushEvseData")["OperatorEvseData"]
    record = {**push["EvseDataRecord"][0], "OperatorID": push["OperatorID"], "OperatorName": push["OperatorName"]}
    return {"content": [record], "number": 0, "size": 20, "totalElements": 1, "totalPages": 1, "first": True, "last": True,
            "numberOfElements": 1, "StatusCode": {"Code": "000", "Description": "Success"}}


def test_evse_data_page_decodes_and_encodes_to_the_same_json() -> None:
    page = evse_data_page()
    assert _round_trip(page, wire.EvseDataPage) == page
    decoded = wire.decode(_raw(page), wire.EvseDataPage)
    assert decoded.content[0].operator == "DE*ABC" and decoded.content[0].station_id == "TEST 1"


# --- wire names ----------------------------------------------------------------------------------------------------

# wire type -> where its schema is: in the OpenAPI bundles (schema name, then properties, `[]` for the items of an
# array) and in the Swagger files (definition name, then the same)
SCHEMAS: dict[Any, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    wire.StatusCode: (("StatusCode",), ("StatusCodeType",)),
    wire.Acknowledgement: (("eRoamingAcknowledgment",), ("ERoamingAcknowledgement",)),
    wire.FaultBody: ((), ("FaultBody",)),
    wire.FieldValidationError: ((), ("FieldValidationError",)),
    wire.OicpFault: ((), ("OicpERoamingFault",)),
    wire.RFIDMifareFamilyIdentification: (("RFIDMifareFamilyIdentification",), ("RFIDmifarefamilyIdentificationDTO",)),
    wire.RFIDIdentification: (("RFIDIdentification",), ("RFIDIdentificationDTO",)),
    wire.QRCodeIdentification: (("QRCodeIdentification",), ("QRCodeIdentificationDTO",)),
    wire.HashedPIN: (("QRCodeIdentification", "HashedPIN"), ("HashedPINDTO",)),
    wire.LegacyHashData: (("QRCodeIdentification", "HashedPIN", "LegacyHashData"), ("LegacyHashDataDTO",)),
    wire.PlugAndChargeIdentification: (("PlugAndChargeIdentification",), ("PlugAndChargeIdentificationDTO",)),
    wire.RemoteIdentification: (("RemoteIdentification",), ("RemoteIdentificationDTO",)),
    wire.Identification: (("Identification",), ("Identification",)),
    wire.AuthorizeStart: (("eRoamingAuthorizeStart",), ("ERoamingAuthorizeStart",)),
    wire.AuthorizationStart: (("eRoamingAuthorizationStart",), ("ERoamingAuthorizationStart",)),
    wire.AuthorizeStop: (("eRoamingAuthorizeStop",), ("ERoamingAuthorizeStop",)),
    wire.AuthorizationStop: (("eRoamingAuthorizationStop",), ("ERoamingAuthorizationStop",)),
    wire.AuthorizeRemoteStart: (("eRoamingAuthorizeRemoteStart",), ("ERoamingAuthorizeRemoteStart",)),
    wire.AuthorizeRemoteStop: (("eRoamingAuthorizeRemoteStop",), ("ERoamingAuthorizeRemoteStop",)),
    wire.AuthorizeRemoteReservationStart: (("eRoamingAuthorizeRemoteReservationStart",), ("ERoamingAuthorizeRemoteReservationStart",)),
    wire.AuthorizeRemoteReservationStop: (("eRoamingAuthorizeRemoteReservationStop",), ("ERoamingAuthorizeRemoteReservationStop",)),
    wire.MeterValueInBetween: (("eRoamingChargeDetailRecord", "MeterValueInBetween"), ("MeterValueInBetweenDTO",)),
    wire.SignedMeteringValue: (("eRoamingChargeDetailRecord", "SignedMeteringValues", "[]"), ("SignedMeteringValuesType",)),
    wire.CalibrationLawVerificationInfo: (("eRoamingChargeDetailRecord", "CalibrationLawVerificationInfo"), ("CalibrationLawVerificationType",)),
    wire.ChargeDetailRecord: (("eRoamingChargeDetailRecord",), ("ERoamingChargeDetailRecord",)),
    wire.GetChargeDetailRecords: (("eRoamingGetChargeDetailRecords",), ("ERoamingGetChargeDetailRecords",)),
    wire.Pageable: (("eRoamingChargeDetailRecords", "pageable"), None),
    wire.PageableSort: (("eRoamingChargeDetailRecords", "pageable", "sort"), None),
    wire.Page: (("eRoamingChargeDetailRecords",), ("ERoamingPageOfEvseDataRecord",)),
    wire.ChargingNotificationStart: (("eRoamingChargingNotificationStart",), ("AbstractChargingNotification",)),
    wire.ChargingNotificationProgress: (("eRoamingChargingNotificationProgress",), ("AbstractChargingNotification",)),
    wire.ChargingNotificationEnd: (("eRoamingChargingNotificationEnd",), ("AbstractChargingNotification",)),
    wire.ChargingNotificationError: (("eRoamingChargingNotificationError",), ("AbstractChargingNotification",)),
    wire.InfoText: (("InfoTextType",), ("InfoText",)),
    wire.Address: (("AddressIso19773",), ("AddressIso19773",)),
    wire.Google: (("GeoCoordinates", "Google"), ("GeoCoordinatesGoogle",)),
    wire.DecimalDegree: (("GeoCoordinates", "DecimalDegree"), ("GeoCoordinatesDecimalDegree",)),
    wire.DegreeMinuteSecondsCoordinates: (("GeoCoordinates", "DegreeMinuteSeconds"), ("GeoCoordinatesDegreeMinuteSeconds",)),
    wire.GeoCoordinates: (("GeoCoordinates",), ("GeoCoordinates",)),
    wire.ChargingFacility: (("ChargingFacility",), ("ChargingFacility",)),
    wire.EnergySource: (("EnergySource",), ("EnergySource",)),
    wire.EnvironmentalImpact: (("EvseDataRecord", "EnvironmentalImpact"), ("EnvironmentalImpact",)),
    wire.Period: (("OpeningTimes", "Period", "[]"), ("Period",)),
    wire.OpeningTimes: (("OpeningTimes",), ("OpeningTime",)),
    wire.EvseDataRecord: (("EvseDataRecord",), ("EvseDataRecord",)),
    wire.PullEvseDataRecord: (("PullEvseDataRecord",), ("EvseDataRecord",)),
    wire.OperatorEvseData: (("eRoamingPushEvseData", "OperatorEvseData"), ("OperatorEvseData",)),
    wire.PushEvseData: (("eRoamingPushEvseData",), ("ERoamingPushEvseData",)),
    wire.SearchCenter: (("eRoamingPullEVSEData", "SearchCenter"), ("SearchCenter",)),
    wire.PullEvseData: (("eRoamingPullEVSEData",), ("ERoamingPullEvseData",)),
    wire.EvseStatusRecord: (("eRoamingPushEvseStatus", "OperatorEvseStatus", "EvseStatusRecord", "[]"), ("EvseStatusRecord",)),
    wire.OperatorEvseStatus: (("eRoamingPushEvseStatus", "OperatorEvseStatus"), ("OperatorEvseStatus",)),
    wire.PushEvseStatus: (("eRoamingPushEvseStatus",), ("ERoamingPushEvseStatus",)),
    wire.PullEvseStatus: (("eRoamingPullEVSEStatus",), ("ERoamingPullEvseStatus",)),
    wire.PullEvseStatusById: (("eRoamingPullEVSEStatusByID",), ("ERoamingPullEvseStatusByID",)),
    wire.PullEvseStatusByOperatorId: (("eRoamingPullEVSEStatusByOperatorID",), ("ERoamingPullEvseStatusByOperatorID",)),
    wire.EvseStatuses: (("eRoamingEVSEStatus", "EvseStatuses"), ("EvseStatuses",)),
    wire.EvseStatusResponse: (("eRoamingEVSEStatus",), ("ERoamingEvseStatus",)),
    wire.EvseStatusRecords: (("eRoamingEVSEStatusByID", "EVSEStatusRecords"), ("EvseStatusRecords",)),
    wire.EvseStatusByIdResponse: (("eRoamingEVSEStatusByID",), ("ERoamingEvseStatusByID",)),
    wire.AuthenticationDataRecord: (("ProviderAuthenticationData", "AuthenticationDataRecord", "[]"), None),
    wire.ProviderAuthenticationData: (("ProviderAuthenticationData",), None),
    wire.PushAuthenticationData: (("eRoamingPushAuthenticationData",), ("ERoamingPushAuthenticationData",)),
    wire.ProductAvailabilityTimes: (("PricingProductDataRecord", "ProductAvailabilityTimes", "[]"), None),
    wire.AdditionalReference: (("PricingProductDataRecord", "AdditionalReferences", "[]"), None),
    wire.PricingProductDataRecord: (("PricingProductDataRecord",), None),
    wire.PricingProductData: (("PricingProductDataType",), None),
    wire.PushPricingProductData: (("eRoamingPushPricingProductData",), None),
    wire.EvsePricing: (("eRoamingPushEVSEPricing", "EVSEPricing", "[]"), None),
    wire.PushEvsePricing: (("eRoamingPushEVSEPricing",), None),
    wire.PullPricingProductData: (("eRoamingPullPricingProductData",), None),
    wire.PricingProductDataResponse: (("eRoamingPricingProductData",), None),
    wire.PullEvsePricing: (("eRoamingPullEVSEPricing",), None),
    wire.OperatorEvsePricing: (("OperatorEVSEPricing",), None),
    wire.EvsePricingResponse: (("eRoamingEVSEPricing",), None),
}
# names the OpenAPI lacks but another document uses (read beside the OpenAPI's spelling)
OTHER_DOCUMENTS = {"ChargingStationID", "HubProviderID", "CDRForwarded", "EvseStatus", "OperatorId"}
# ... and of those, the ones no file here has: OperatorId is how the AsciiDoc's PullEvseData example spells a
# pulled record's OperatorID (../shared/reference/oicp.md, 3.1)
ASCIIDOC_ONLY = {"OperatorId"}


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        *_, kind, name = schema["$ref"].split("/")
        schema = root["components" if "components" in root else "definitions"]
        schema = schema["schemas"][name] if kind == "schemas" else schema[name]
    return schema


def _properties(root: dict[str, Any], table: dict[str, Any], path: tuple[str, ...]) -> set[str] | None:
    if not path or path[0] not in table:
        return None
    schema = _resolve(root, table[path[0]])
    for step in path[1:]:
        schema = _resolve(root, schema["items"] if step == "[]" else schema["properties"][step])
    return set(schema.get("properties") or {})


def _openapi_names(path: tuple[str, ...]) -> set[str]:
    found = [_properties(bundle(s), bundle(s)["components"]["schemas"], path) for s in BUNDLES]
    return set().union(*(f for f in found if f is not None))


def _swagger_names(path: tuple[str, ...] | None) -> set[str]:
    if path is None:
        return set()
    names: set[str] = set()
    for schema in swagger_definitions().get(path[0], []):  # a definition repeated in several files: each of them
        names |= _properties(_swagger_roots(), {path[0]: schema}, path) or set()
    return names


@cache
def _swagger_roots() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in SWAGGER:
        merged.update(json.loads(path.read_text())["definitions"])
    return {"definitions": merged}


def _wire_names(type_: Any) -> set[str]:
    tag = type_.__struct_config__.tag_field
    return {f.encode_name for f in msgspec.structs.fields(type_)} | ({tag} if tag else set())


def test_every_wire_type_is_checked_against_the_spec() -> None:
    structs = {t for t in vars(wire).values() if isinstance(t, type) and issubclass(t, msgspec.Struct)
               and t.__module__ == wire.__name__ and not t.__name__.startswith("_")}
    assert structs == set(SCHEMAS)


@pytest.mark.parametrize("type_", list(SCHEMAS), ids=lambda t: t.__name__)
def test_every_wire_name_is_spelled_as_a_hubject_document_spells_it(type_: Any) -> None:
    openapi_path, swagger_path = SCHEMAS[type_]
    spec = _openapi_names(openapi_path) | _swagger_names(swagger_path) | ASCIIDOC_ONLY
    assert spec != ASCIIDOC_ONLY, f"no schema for {type_.__name__}"
    assert _wire_names(type_) - spec == set()


@pytest.mark.parametrize("type_", [t for t, (p, _) in SCHEMAS.items() if p], ids=lambda t: t.__name__)
def test_every_field_of_the_openapi_schema_has_a_wire_field(type_: Any) -> None:
    openapi_path, _ = SCHEMAS[type_]
    assert _openapi_names(openapi_path) - _wire_names(type_) == set()


def test_names_only_other_documents_use_are_read_beside_the_openapi_spelling() -> None:
    written = {n for t in SCHEMAS for n in _wire_names(t)}
    assert OTHER_DOCUMENTS <= written


# --- validation at decode time ---------------------------------------------------------------------------------------

AUTHORIZE_START = {"OperatorID": "DE*ABC", "EvseID": "DE*ABC*E1234", "Identification": {"RFIDMifareFamilyIdentification": {"UID": "1234ABCD"}}}


def _invalid(data: Any, type_: Any, field: str) -> None:
    with pytest.raises(msgspec.ValidationError) as exc:
        wire.decode(_raw(data), type_)
    assert field in str(exc.value), str(exc.value)


@pytest.mark.parametrize("evse_id", ["DE*ABC*X1234", "DE*AB*E1", "DE*ABC*E", "49*810*000*438x", "DE*ABC*E1234\n", "",
                                     "DE*ABC*E" + "1" * 31])
def test_evse_id_off_the_pattern_is_rejected(evse_id: str) -> None:
    _invalid({**AUTHORIZE_START, "EvseID": evse_id}, wire.AuthorizeStart, "EvseID")


@pytest.mark.parametrize("evse_id", ["DE*ABC*E1234", "DEABCE1234", "de*abc*Eab12", "+49*810*000*438", "49*810*000*438",
                                     "DE*ABC*E" + "1*" * 15])
def test_evse_id_in_iso_and_din_form_is_read(evse_id: str) -> None:
    assert wire.decode(_raw({**AUTHORIZE_START, "EvseID": evse_id}), wire.AuthorizeStart).evse_id == evse_id


@pytest.mark.parametrize("operator", ["DE*AB", "DE**ABC", "DE-ABC", "DEU*ABC", "+49*53"])
def test_operator_id_off_the_pattern_is_rejected(operator: str) -> None:
    _invalid({**AUTHORIZE_START, "OperatorID": operator}, wire.AuthorizeStart, "OperatorID")


@pytest.mark.parametrize("uid", ["1234abcd", "1234ABC", "1234ABCD00", "", "1234ABCDX"])
def test_card_uid_that_is_not_4_7_or_10_bytes_of_upper_case_hex_is_rejected(uid: str) -> None:
    _invalid({**AUTHORIZE_START, "Identification": {"RFIDMifareFamilyIdentification": {"UID": uid}}}, wire.AuthorizeStart, "UID")


@pytest.mark.parametrize("session_id", ["b2688855-7f00-0002-6d8e", "b2688855_7f00_0002_6d8e_48d883f6abb6", "not-a-session"])
def test_session_id_that_is_not_guid_shaped_is_rejected(session_id: str) -> None:
    _invalid({**AUTHORIZE_START, "SessionID": session_id}, wire.AuthorizeStart, "SessionID")


def test_partner_session_id_over_250_characters_is_rejected() -> None:
    _invalid({**AUTHORIZE_START, "CPOPartnerSessionID": "x" * 251}, wire.AuthorizeStart, "CPOPartnerSessionID")
    assert wire.decode(_raw({**AUTHORIZE_START, "CPOPartnerSessionID": "x" * 250}), wire.AuthorizeStart)


def test_over_long_address_fields_are_rejected() -> None:
    record = evse_data_page()["content"][0]
    for field, length in (("City", 51), ("Street", 101), ("PostalCode", 11), ("HouseNum", 11), ("Floor", 6)):
        bad = {**record, "Address": {**record["Address"], field: "x" * length}}
        _invalid(bad, wire.PullEvseDataRecord, field)
    _invalid({**record, "Address": {**record["Address"], "Street": "x"}}, wire.PullEvseDataRecord, "Street")
    _invalid({**record, "Address": {**record["Address"], "Country": "DE"}}, wire.PullEvseDataRecord, "Country")


def test_over_long_status_texts_are_rejected() -> None:
    _invalid({"Result": True, "StatusCode": {"Code": "000", "Description": "x" * 201}}, wire.Acknowledgement, "Description")
    _invalid({"Result": True, "StatusCode": {"Code": "000", "AdditionalInfo": "x" * 1001}}, wire.Acknowledgement, "AdditionalInfo")


@pytest.mark.parametrize("code", ["0", "0000", 0, "abc"])
def test_status_code_is_three_digits_as_a_string(code: Any) -> None:
    _invalid({"Result": False, "StatusCode": {"Code": code}}, wire.Acknowledgement, "Code")


@pytest.mark.parametrize("field,value", [
    ("Result", "true"), ("Result", 1), ("StatusCode", "000"), ("SessionID", 12345678),
])
def test_wrong_types_in_an_acknowledgement_are_rejected(field: str, value: Any) -> None:
    data = {"Result": True, "StatusCode": {"Code": "000"}, field: value}
    _invalid(data, wire.Acknowledgement, field)


@pytest.mark.parametrize("field,value", [
    ("ConsumedEnergy", True), ("ConsumedEnergy", {"kWh": 1}), ("SessionStart", 1600000000), ("Identification", ["RFID"]),
    ("SignedMeteringValues", {"SignedMeteringValue": "x"}), ("MeterValueInBetween", [1, 2]),
])
def test_wrong_types_in_a_cdr_are_rejected(field: str, value: Any) -> None:
    _invalid({**example("cpo", "eRoamingChargeDetailRecord"), field: value}, wire.ChargeDetailRecord, field)


def test_more_than_ten_signed_metering_values_are_rejected() -> None:
    cdr = example("cpo", "eRoamingChargeDetailRecord")
    cdr["SignedMeteringValues"] = [{"SignedMeteringValue": "x", "MeteringStatus": "Progress"}] * 11
    _invalid(cdr, wire.ChargeDetailRecord, "SignedMeteringValues")
    cdr["SignedMeteringValues"] = [{"SignedMeteringValue": "x" * 3001, "MeteringStatus": "End"}]
    _invalid(cdr, wire.ChargeDetailRecord, "SignedMeteringValue")


@pytest.mark.parametrize("value", ["2020-09-23T14:17:53", "2020-09-23 14:17:53Z", "23.09.2020 14:17", "2020-09-23T14:17:53+0200"])
def test_date_time_without_offset_or_not_iso_is_rejected(value: str) -> None:
    _invalid({**example("cpo", "eRoamingChargeDetailRecord"), "SessionEnd": value}, wire.ChargeDetailRecord, "SessionEnd")


@pytest.mark.parametrize("value", ["2020-09-23T14:17:53Z", "2020-09-23T14:17:53.038Z", "2020-09-23T16:17:53+02:00",
                                   "2020-09-23T14:17:53.038123456-05:30"])
def test_date_time_with_offset_or_z_is_read(value: str) -> None:
    cdr = wire.decode(_raw({**example("cpo", "eRoamingChargeDetailRecord"), "SessionEnd": value}), wire.ChargeDetailRecord)
    assert cdr.session_end == value


def test_unknown_action_type_is_rejected() -> None:
    data = example("cpo", "eRoamingPushEvseStatus")
    _invalid({**data, "ActionType": "replace"}, wire.PushEvseStatus, "ActionType")


def test_unknown_notification_type_is_rejected() -> None:
    _invalid({**example("cpo", "eRoamingChargingNotificationStart"), "Type": "Pause"}, wire.ChargingNotification, "Type")


def test_reservation_duration_is_1_to_99_minutes() -> None:
    data = example("cpo", "eRoamingAuthorizeRemoteReservationStart")
    for minutes in (0, 100):
        _invalid({**data, "Duration": minutes}, wire.AuthorizeRemoteReservationStart, "Duration")


def test_status_by_id_asks_for_at_most_100_evses() -> None:
    _invalid({"ProviderID": "DE-DCB", "EvseID": ["DE*ABC*E1"] * 101}, wire.PullEvseStatusById, "EvseID")


def test_coordinates_off_their_notation_are_rejected() -> None:
    record = evse_data_page()["content"][0]
    for coordinates in ({"Google": {"Coordinates": "52 13"}}, {"DecimalDegree": {"Latitude": "52.1234567", "Longitude": "13.1"}},
                        {"DegreeMinuteSeconds": {"Latitude": "52°21'39.32\"", "Longitude": "9°21'39.32''"}}):
        _invalid({**record, "GeoCoordinates": coordinates}, wire.PullEvseDataRecord, "GeoCoordinates")


def test_deeply_nested_json_is_a_decode_error() -> None:
    with pytest.raises(msgspec.DecodeError):
        wire.decode(b'{"Identification":' + b"[" * 100_000 + b"]" * 100_000 + b"}", wire.AuthorizeStart)


# --- leniency ------------------------------------------------------------------------------------------------------------


def test_unknown_fields_are_ignored() -> None:
    data = {**example("cpo", "eRoamingAcknowledgment"), "Hint": "new in 2.4", "StatusCode": {"Code": "000", "Extra": 1}}
    assert wire.decode(_raw(data), wire.Acknowledgement).status_code.code == "000"


def test_unknown_enumeration_values_are_kept() -> None:
    record = {**evse_data_page()["content"][0], "Plugs": ["Type 2 Outlet", "MCS Connector"], "Accessibility": "Members only",
              "AuthenticationModes": ["Face ID"], "ValueAddedServices": ["Cafe"], "PaymentOptions": ["Crypto"]}
    assert _round_trip(record, wire.PullEvseDataRecord) == record
    status = {"EvseStatuses": {"OperatorEvseStatus": [{"OperatorID": "DE*ABC", "EvseStatusRecord": [{"EvseID": "DE*ABC*E1", "EvseStatus": "Charging"}]}]}}
    assert _round_trip(status, wire.EvseStatusResponse) == status


def test_record_of_a_cpo_on_an_older_version_with_nulls_is_read() -> None:
    record = evse_data_page()["content"][0]
    for field in ("OperatorName", "ChargingStationNames", "PaymentOptions", "RenewableEnergy", "CalibrationLawDataAvailability",
                  "Plugs", "ChargingFacilities", "ValueAddedServices", "HotlinePhoneNumber", "OpeningTimes", "ChargingStationID"):
        record[field] = None
    record["Address"] = {**record["Address"], "HouseNum": None, "PostalCode": None}
    record["ChargingFacilities"] = [{"PowerType": None, "Power": None}]
    decoded = wire.decode(_raw(record), wire.PullEvseDataRecord)
    assert decoded.operator_name is None and decoded.address.house_num is None and decoded.charging_facilities[0].power is None
    assert _without_nulls(_round_trip(record, wire.PullEvseDataRecord)) == _without_nulls(record)


def test_charging_station_id_is_read_in_both_spellings_and_written_as_the_asciidoc_spells_it() -> None:
    record = evse_data_page()["content"][0]
    assert record["ChargingStationID"] == "TEST 1"
    upper = wire.decode(_raw(record), wire.PullEvseDataRecord)
    lower = wire.decode(_raw({**{k: v for k, v in record.items() if k != "ChargingStationID"}, "ChargingStationId": "TEST 1"}),
                        wire.PullEvseDataRecord)
    assert upper.station_id == lower.station_id == "TEST 1"
    written = wire.EvseDataRecord(**{f: getattr(upper, f) for f in wire.EvseDataRecord.__struct_fields__
                                     if f != "charging_station_id_alt"} | {"charging_station_id": "TEST 1"})
    assert "ChargingStationId" in _json(wire.encode(written)) and "ChargingStationID" not in _json(wire.encode(written))


def test_operator_id_of_a_pulled_record_is_read_in_both_spellings() -> None:
    record = evse_data_page()["content"][0]
    record["OperatorId"] = record.pop("OperatorID")
    assert wire.decode(_raw(record), wire.PullEvseDataRecord).operator == "DE*ABC"


def test_other_spellings_are_read() -> None:
    cdr = example("emp", "eRoamingChargeDetailRecord")
    assert wire.decode(_raw({**cdr, "HubProviderID": None, "HubProviderId": "DE-DCB"}), wire.ChargeDetailRecord).hub_provider == "DE-DCB"
    get = example("emp", "eRoamingGetChargeDetailRecords")
    assert wire.decode(_raw({**get, "CDRForwarded": None, "CDRForwarder": True}), wire.GetChargeDetailRecords).forwarded is True
    pull = {"ProviderID": "DE-DCB", "EVSEStatus": "Available"}
    assert wire.decode(_raw(pull), wire.PullEvseStatus).status_filter == "Available"
    reservation = {**example("cpo", "eRoamingAuthorizeRemoteReservationStop"), "EMPPartnerSessionID": None, "EMPPartnerSessionId": "e-1"}
    assert wire.decode(_raw(reservation), wire.AuthorizeRemoteReservationStop).emp_partner_session == "e-1"


def test_operator_id_filter_of_get_cdrs_is_read_as_one_id_or_a_list() -> None:
    get = example("emp", "eRoamingGetChargeDetailRecords")
    assert wire.decode(_raw(get), wire.GetChargeDetailRecords).operators == ["DE*ABC"]
    assert wire.decode(_raw({**get, "OperatorID": ["DE*ABC", "DE*XYZ"]}), wire.GetChargeDetailRecords).operators == ["DE*ABC", "DE*XYZ"]
    _invalid({**get, "OperatorID": ["DE*ABC", "DE-XYZ"]}, wire.GetChargeDetailRecords, "OperatorID")


def test_dynamic_info_available_is_a_string_enum_and_a_json_boolean_is_read_too() -> None:
    record = evse_data_page()["content"][0]
    assert wire.decode(_raw({**record, "DynamicInfoAvailable": "auto"}), wire.PullEvseDataRecord).dynamic_info_available == "auto"
    assert wire.decode(_raw({**record, "DynamicInfoAvailable": False}), wire.PullEvseDataRecord).dynamic_info_available is False
    _invalid({**record, "DynamicInfoAvailable": "maybe"}, wire.PullEvseDataRecord, "DynamicInfoAvailable")


def test_charging_station_names_as_one_object_is_read() -> None:
    record = {**evse_data_page()["content"][0], "ChargingStationNames": {"lang": "de", "value": "Ladestation"}}
    assert wire.decode(_raw(record), wire.PullEvseDataRecord).charging_station_names == wire.InfoText(lang="de", value="Ladestation")


def test_amperage_and_voltage_over_the_openapi_caps_are_read() -> None:
    """The Swagger sets no cap; DC chargers draw more than 99 A (hubject/oicp#153)."""
    record = {**evse_data_page()["content"][0], "ChargingFacilities": [{"PowerType": "DC", "Power": 350, "Voltage": 1000, "Amperage": 500}]}
    facility = wire.decode(_raw(record), wire.PullEvseDataRecord).charging_facilities[0]
    assert (facility.amperage, facility.voltage, facility.power) == (500, 1000, Decimal(350))


def test_remote_start_without_session_id_is_read() -> None:
    """The EMP leaves SessionID empty; Hubject fills it in before the CPO sees the request."""
    data = {k: v for k, v in example("emp", "eRoamingAuthorizeRemoteStart").items() if k != "SessionID"}
    assert wire.decode(_raw(data), wire.AuthorizeRemoteStart).session_id is None


def test_energy_keeps_its_digits() -> None:
    cdr = wire.decode(_raw({**example("cpo", "eRoamingChargeDetailRecord"), "ConsumedEnergy": Decimal("12.345")}), wire.ChargeDetailRecord)
    assert cdr.consumed_energy == Decimal("12.345")
    assert b'"ConsumedEnergy":12.345' in wire.encode(cdr)
