"""The OICP 2.3 mapping: examples of each rule (EVSE data grouped into Locations, connectors from plugs and
facilities, statuses, media, CDRs, notifications, status codes) and hypothesis round trips: canonical -> OICP ->
canonical keeps what OICP can carry, and what the hub renders validates against Hubject's OpenAPI schema."""

from __future__ import annotations

import copy
import json
import string
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Any, get_args

import fastjsonschema
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import model
from hub.services import errors as hub_errors
from protocols.oicp.v23 import errors, mapping, wire
from protocols.oicp.v23.mapping import Unmappable
from tests.conftest import SPEC

OICP = SPEC / "oicp-2.3" / "openapi-3.0"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
DETAILS = mapping.OperatorDetails(hotline_phone_number="+493012345678")
SESSION_ID = "f98efba4-02d8-4fa0-b810-9a9d50d2c527"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@cache
def _bundle(side: str) -> dict[str, Any]:
    return json.loads((OICP / f"oicp-2.3-{side}.openapi.json").read_text())


@cache
def _validator(side: str, schema: str) -> Any:
    return fastjsonschema.compile({"$ref": f"#/components/schemas/{schema}", "components": _bundle(side)["components"]})


def sent(obj: Any, side: str, schema: str) -> Any:
    """What the hub sends: encoded, valid by Hubject's schema, and decoded again by the strict wire types."""
    raw = wire.encode(obj)
    _validator(side, schema)(json.loads(raw))
    return wire.decode(raw, wire.ChargingNotification if isinstance(obj, get_args(wire.ChargingNotification)) else type(obj))


def _example(side: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((OICP / f"oicp-2.3-{side}.openapi.json").read_text())["components"]["schemas"][name]["example"])


# --- a realistic operator's EVSE data ----------------------------------------------------------------------------------


def record(evse_id: str, **changes: Any) -> wire.PullEvseDataRecord:
    data: dict[str, Any] = {
        "EvseID": evse_id, "OperatorID": "DE*ABC", "OperatorName": "ABC Charging",
        "ChargingStationNames": [{"lang": "en", "value": "Main Square"}, {"lang": "de", "value": "Marktplatz"}],
        "Address": {"Country": "DEU", "City": "Berlin", "Street": "Marktplatz", "HouseNum": "1", "PostalCode": "10115",
                    "TimeZone": "UTC+01:00"},
        "GeoCoordinates": {"DecimalDegree": {"Latitude": "52.520008", "Longitude": "13.404954"}},
        "Plugs": ["Type 2 Outlet"], "ChargingFacilities": [{"PowerType": "AC_3_PHASE", "Power": 22, "Voltage": 230, "Amperage": 32}],
        "RenewableEnergy": False, "CalibrationLawDataAvailability": "Local",
        "AuthenticationModes": ["NFC RFID Classic", "REMOTE"], "PaymentOptions": ["Contract"], "ValueAddedServices": ["None"],
        "Accessibility": "Free publicly accessible", "HotlinePhoneNumber": "+493012345678", "IsOpen24Hours": True,
        "IsHubjectCompatible": True, "DynamicInfoAvailable": "true", "lastUpdate": "2025-02-01T10:00:00+01:00",
    }
    data.update(changes)
    return msgspec.convert({k: v for k, v in data.items() if v is not None}, wire.PullEvseDataRecord)


def operator_set() -> list[wire.PullEvseDataRecord]:
    """One operator: a pool of two stations (three EVSEs), a station of its own with an AC and a DC EVSE, two EVSEs
    at one address without pool or station, one at another address."""
    pool = {"ChargingPoolID": "DE*ABC*P100"}
    dc = {"Plugs": ["CCS Combo 2 Plug (Cable Attached)", "CHAdeMO"],
          "ChargingFacilities": [{"PowerType": "DC", "Power": 150, "Voltage": 920, "Amperage": 350}]}
    lane = {"Address": {"Country": "DEU", "City": "Berlin", "Street": "Alexanderstr.", "HouseNum": "7", "PostalCode": "10178"},
            "GeoCoordinates": {"Google": {"Coordinates": "52.521900 13.413200"}}}
    return [
        record("DE*ABC*E100*1", **pool, ChargingStationID="S1"),
        record("DE*ABC*E200*1", ChargingStationID="HBF-7", **dc),
        record("DE*ABC*E100*2", **pool, ChargingStationID="S1",
               GeoCoordinates={"DecimalDegree": {"Latitude": "52.520100", "Longitude": "13.405000"}}),
        record("DE*ABC*E300*1", **lane),
        record("DE*ABC*E100*3", **pool, ChargingStationID="S2", Accessibility="Restricted access"),
        record("DE*ABC*E300*2", **lane),
        record("DE*ABC*E200*2", ChargingStationID="HBF-7"),
        record("DE*ABC*E400*1", **{**lane, "Address": {**lane["Address"], "HouseNum": "9"}}),
    ]


def test_records_are_grouped_into_locations_by_pool_then_station_then_address() -> None:
    locations = mapping.evse_data_to_locations(operator_set(), received=NOW)
    assert [(loc.id, [e.evse_id for e in loc.evses]) for loc in locations] == [
        ("DE*ABC*P100", ["DE*ABC*E100*1", "DE*ABC*E100*2", "DE*ABC*E100*3"]),
        ("HBF-7", ["DE*ABC*E200*1", "DE*ABC*E200*2"]),
        (locations[2].id, ["DE*ABC*E300*1", "DE*ABC*E300*2"]),
        (locations[3].id, ["DE*ABC*E400*1"]),
    ]
    assert locations[2].id != locations[3].id and len(locations[2].id) <= 36
    assert all(loc.owner_party == model.PartyId("DE", "ABC") for loc in locations)
    assert mapping.evse_data_to_locations(operator_set(), received=NOW) == locations  # the digests are stable


def test_location_fields_come_from_the_first_record_of_the_group() -> None:
    pool = mapping.evse_data_to_locations(operator_set(), received=NOW)[0]
    assert pool.coordinates == model.GeoPoint(Decimal("52.520008"), Decimal("13.404954"))
    assert (pool.address, pool.city, pool.postal_code, pool.country) == ("Marktplatz 1", "Berlin", "10115", "DEU")
    assert pool.name == "Marktplatz"  # the name in the country's language
    assert pool.operator == model.BusinessDetails(name="ABC Charging")
    assert pool.time_zone == "Europe/Berlin" and pool.publish is True
    assert pool.opening_times == model.Hours(twentyfourseven=True)
    # an EVSE whose record has other coordinates keeps them; restricted access is for customers
    assert [e.coordinates for e in pool.evses] == [None, model.GeoPoint(Decimal("52.520100"), Decimal("13.405000")), None]
    assert [e.parking_restrictions for e in pool.evses] == [[], [], ["CUSTOMERS"]]
    assert pool.last_updated == datetime(2025, 2, 1, 9, 0, tzinfo=timezone.utc)


def test_operator_set_becomes_the_same_locations_after_a_way_back_through_oicp() -> None:
    locations = mapping.evse_data_to_locations(operator_set(), received=NOW)
    data = sent(wire.PushEvseData(action_type="fullLoad", operator_evse_data=mapping.operator_evse_data("DE*ABC", locations, DETAILS)),
                "cpo", "eRoamingPushEvseData")
    again = mapping.evse_data_to_locations(data.operator_evse_data.evse_data_record, received=NOW, operator="DE*ABC",
                                           operator_name=data.operator_evse_data.operator_name)
    # all but the DC amperage: 350 A is over the OpenAPI's 99, left out going back, so derived from 150 kW at 920 V
    dc = locations[1].evses[0]
    derived = msgspec.structs.replace(dc, connectors=[msgspec.structs.replace(c, max_amperage=163) for c in dc.connectors])
    assert again == [locations[0], msgspec.structs.replace(locations[1], evses=[derived, locations[1].evses[1]]), *locations[2:]]


def test_location_id_of_a_pool_is_the_pool_id_and_goes_back_as_charging_pool_id() -> None:
    pool = mapping.evse_data_to_locations(operator_set(), received=NOW)[0]
    records = mapping.location_to_evse_data(pool, DETAILS)
    assert {(r.charging_pool_id, r.charging_station_id) for r in records} == {("DE*ABC*P100", None)}
    station = mapping.evse_data_to_locations(operator_set(), received=NOW)[1]
    assert {(r.charging_pool_id, r.charging_station_id) for r in mapping.location_to_evse_data(station, DETAILS)} == {(None, "HBF-7")}


def test_station_id_that_is_no_ocpi_id_becomes_a_digest() -> None:
    long = mapping.evse_data_to_locations([record("DE*ABC*E1", ChargingStationId="S" * 40)], received=NOW)[0]
    assert len(long.id) == 32 and long.id != "S" * 40


def test_operator_id_names_the_owner_and_its_name_the_operator() -> None:
    [location] = mapping.evse_data_to_locations([record("NL*XYZ*E1", OperatorID="NLXYZ", OperatorName="XYZ B.V.")], received=NOW)
    assert (location.country_code, location.party_id, location.operator) == ("NL", "XYZ", model.BusinessDetails(name="XYZ B.V."))


def test_record_with_a_din_operator_id_or_none_at_all_is_unmappable_or_skipped() -> None:
    din = record("+49*810*000*438", OperatorID="+49*810")
    anonymous = record("DE*ABC*E9", OperatorID=None)
    with pytest.raises(Unmappable, match="OperatorID"):
        mapping.evse_data_to_locations([din], received=NOW)
    skipped: list[tuple[str, str]] = []
    locations = mapping.evse_data_to_locations([din, anonymous, record("DE*ABC*E1")], received=NOW,
                                               skip=lambda r, problem: skipped.append((r.evse_id, problem.path or "")))
    assert [e.evse_id for loc in locations for e in loc.evses] == ["DE*ABC*E1"]
    assert skipped == [("+49*810*000*438", "OperatorID"), ("DE*ABC*E9", "DE*ABC*E9.OperatorID")]


def test_pulled_page_maps_with_each_records_operator() -> None:
    page = wire.decode(json.dumps({"content": [msgspec.to_builtins(r) for r in operator_set()], "last": True}), wire.EvseDataPage)
    assert mapping.evse_data_to_locations(page.content, received=NOW) == mapping.evse_data_to_locations(operator_set(), received=NOW)


def test_hubject_push_example_maps_to_one_location() -> None:
    push = wire.decode(json.dumps(_example("cpo", "eRoamingPushEvseData")), wire.PushEvseData)
    data = push.operator_evse_data
    [location] = mapping.evse_data_to_locations(data.evse_data_record, received=NOW, operator=data.operator_id,
                                                 operator_name=data.operator_name)
    evse = location.evses[0]
    assert (location.id, location.address, location.name, location.parking_type) == (
        "DE*ABC*P1234TEST*1", "EUREF CAMPUS 22", "ABC Testladestation", "PARKING_GARAGE")
    assert location.opening_times.regular_hours == [model.RegularHours(d, "09:00", "18:00") for d in range(1, 8)]
    assert location.energy_mix == model.EnergyMix(
        is_green_energy=True, energy_sources=[model.EnergySource("SOLAR", Decimal(85)), model.EnergySource("WIND", Decimal(15))],
        environ_impact=[model.EnvironmentalImpact("CARBON_DIOXIDE", Decimal("30.3"))])
    assert location.related_locations[0].name == model.DisplayText("en", "Entrance")
    assert (evse.floor_level, evse.physical_reference, evse.parking_restrictions) == ("6OG", "E36", ["CUSTOMERS"])
    assert evse.capabilities == ["REMOTE_START_STOP_CAPABLE", "RESERVABLE", "RFID_READER"]
    assert evse.images == [model.Image(url="http://www.testlink.com", category="CHARGER", type="jpeg")]


# --- connectors from plugs and facilities ---------------------------------------------------------------------------------


def _evse(**changes: Any) -> model.Evse:
    return mapping.evse_data_record_to_evse(record("DE*ABC*E1", **changes), received=NOW, status="AVAILABLE")


def _electric(c: model.Connector) -> tuple[Any, ...]:
    return c.id, c.standard, c.format, c.power_type, c.max_voltage, c.max_amperage, c.max_electric_power


def test_connectors_take_the_facility_of_their_current() -> None:
    evse = _evse(Plugs=["Type 2 Outlet", "CCS Combo 2 Plug (Cable Attached)", "CHAdeMO", "Type F Schuko"],
                 ChargingFacilities=[{"PowerType": "DC", "Power": 50, "Voltage": 500, "Amperage": 99},
                                     {"PowerType": "AC_3_PHASE", "Power": 22, "Voltage": 230, "Amperage": 32},
                                     {"PowerType": "AC_1_PHASE", "Power": 3.7, "Voltage": 230, "Amperage": 16}])
    assert [_electric(c) for c in evse.connectors] == [
        ("1", "IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 32, 22000),
        ("2", "IEC_62196_T2_COMBO", "CABLE", "DC", 500, 99, 50000),
        ("3", "CHADEMO", "CABLE", "DC", 500, 99, 50000),
        ("4", "DOMESTIC_F", "SOCKET", "AC_1_PHASE", 230, 16, 3700),
    ]


def test_plugs_without_an_ocpi_type_are_left_out_and_the_others_keep_their_place() -> None:
    evse = _evse(Plugs=["AVCON Connector", "Type 2 Connector (Cable Attached)", "MCS Connector"])
    assert [(c.id, c.standard, c.format) for c in evse.connectors] == [("2", "IEC_62196_T2", "CABLE")]


def test_evse_without_a_plug_ocpi_knows_is_unmappable() -> None:
    with pytest.raises(Unmappable, match="Plugs"):
        _evse(Plugs=["Small Paddle Inductive"])
    with pytest.raises(Unmappable, match="Plugs"):
        mapping.evse_data_record_to_evse(record("DE*ABC*E1", Plugs=None), received=NOW)


def test_three_phase_voltage_given_line_to_line_becomes_line_to_neutral() -> None:
    [connector] = _evse(ChargingFacilities=[{"PowerType": "AC_3_PHASE", "Power": 22, "Voltage": 400, "Amperage": 32}]).connectors
    assert (connector.max_voltage, connector.max_amperage) == (231, 32)


def test_missing_voltage_and_amperage_are_derived_from_the_power() -> None:
    [three] = _evse(ChargingFacilities=[{"PowerType": "AC_3_PHASE", "Power": 22}]).connectors
    [one] = _evse(Plugs=["Type F Schuko"], ChargingFacilities=[{"PowerType": "AC_1_PHASE", "Power": 3.7}]).connectors
    [dc] = _evse(Plugs=["CHAdeMO"], ChargingFacilities=[{"PowerType": "DC", "Power": 50}]).connectors
    assert [_electric(c)[3:] for c in (three, one, dc)] == [("AC_3_PHASE", 230, 32, 22000), ("AC_1_PHASE", 230, 16, 3700),
                                                            ("DC", 400, 125, 50000)]


def test_plug_without_a_facility_of_its_current_gets_the_defaults_of_its_type() -> None:
    [ccs] = _evse(Plugs=["CCS Combo 2 Plug (Cable Attached)"]).connectors  # the record has an AC facility only
    assert _electric(ccs)[3:] == ("DC", 400, 0, None)


def test_old_record_with_null_power_type_and_power_still_maps() -> None:
    [connector] = _evse(ChargingFacilities=[{"PowerType": None, "Power": None}]).connectors
    assert _electric(connector)[3:] == ("AC_3_PHASE", 230, 0, None)


@pytest.mark.parametrize("amperage,standard", [(16, "IEC_60309_2_three_16"), (32, "IEC_60309_2_three_32"), (63, "IEC_60309_2_three_64")])
def test_iec_60309_three_phase_standard_follows_the_amperage(amperage: int, standard: str) -> None:
    [connector] = _evse(Plugs=["IEC 60309 Three Phase"], ChargingFacilities=[{"PowerType": "AC_3_PHASE", "Power": 22, "Amperage": amperage}]).connectors
    assert connector.standard == standard


def _connector(**changes: Any) -> model.Connector:
    base: dict[str, Any] = {"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                            "max_voltage": 230, "max_amperage": 32, "max_electric_power": 22000, "last_updated": NOW}
    return model.Connector(**{**base, **changes})


def test_amperage_over_99_and_voltage_over_999_are_left_out_not_clamped() -> None:
    facility = mapping.charging_facility(_connector(standard="IEC_62196_T2_COMBO", format="CABLE", power_type="DC", max_voltage=1000,
                                                    max_amperage=500, max_electric_power=400000))
    assert facility == wire.ChargingFacility(power_type="DC", power=Decimal(400))


def test_two_phase_current_is_sent_as_one_phase_with_its_real_power() -> None:
    facility = mapping.charging_facility(_connector(power_type="AC_2_PHASE", max_voltage=230, max_amperage=16, max_electric_power=7360))
    assert facility == wire.ChargingFacility(power_type="AC_1_PHASE", power=Decimal(7), voltage=230, amperage=16)


def test_power_without_max_electric_power_is_volts_times_amperes_times_phases() -> None:
    assert mapping.charging_facility(_connector(max_electric_power=None)).power == Decimal(22)  # 230 V x 32 A x 3


@pytest.mark.parametrize("standard,fmt,plug", [
    ("IEC_62196_T2", "SOCKET", "Type 2 Outlet"), ("IEC_62196_T2", "CABLE", "Type 2 Connector (Cable Attached)"),
    ("IEC_62196_T3A", "SOCKET", "Type 3 Outlet"), ("TESLA_R", "CABLE", "Tesla Connector"),
    ("IEC_62196_T2_COMBO", "SOCKET", "CCS Combo 2 Plug (Cable Attached)"), ("IEC_62196_T1", "SOCKET", None),
    ("CHAOJI", "CABLE", None), ("GBT_DC", "CABLE", None), ("NEMA_14_50", "SOCKET", None), ("DOMESTIC_A", "SOCKET", None),
])
def test_connector_type_names_its_plug_or_none(standard: str, fmt: str, plug: str | None) -> None:
    assert mapping.plug(_connector(standard=standard, format=fmt)) == plug


# --- statuses, access, hours, places ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("oicp,canonical", [
    ("Available", "AVAILABLE"), ("Reserved", "RESERVED"), ("Occupied", "CHARGING"), ("OutOfService", "OUTOFORDER"),
    ("Unknown", "UNKNOWN"), ("EvseNotFound", "REMOVED"), ("Blocked", "UNKNOWN"),
])
def test_evse_status_from_oicp(oicp: str, canonical: str) -> None:
    assert mapping.evse_status(oicp) == canonical


@pytest.mark.parametrize("canonical,oicp", [
    ("AVAILABLE", "Available"), ("RESERVED", "Reserved"), ("CHARGING", "Occupied"), ("BLOCKED", "Occupied"),
    ("INOPERATIVE", "OutOfService"), ("OUTOFORDER", "OutOfService"), ("UNKNOWN", "Unknown"), ("PLANNED", None), ("REMOVED", None),
])
def test_evse_status_to_oicp(canonical: model.EvseStatus, oicp: str | None) -> None:
    assert mapping.oicp_evse_status(canonical) == oicp


def test_evse_status_comes_from_the_status_pull() -> None:
    pulled = wire.decode(json.dumps(_example("emp", "eRoamingEVSEStatus")), wire.EvseStatusResponse)
    by_id = wire.decode(json.dumps(_example("emp", "eRoamingEVSEStatusByID")), wire.EvseStatusByIdResponse)
    assert mapping.evse_statuses(pulled) == mapping.evse_statuses(by_id) == {"DE*XYZ*ETEST1": "AVAILABLE"}
    [location] = mapping.evse_data_to_locations([record("DE*XYZ*ETEST1")], received=NOW, statuses=mapping.evse_statuses(pulled))
    assert location.evses[0].status == "AVAILABLE"


def test_evse_without_dynamic_info_is_unknown_and_a_deleted_record_removed() -> None:
    assert _evse(DynamicInfoAvailable="false").status == "UNKNOWN"
    assert mapping.evse_data_record_to_evse(record("DE*ABC*E1"), received=NOW).status == "UNKNOWN"  # no status known yet
    assert _evse(deltaType="delete").status == "REMOVED"


def test_test_station_is_not_published() -> None:
    [location] = mapping.evse_data_to_locations([record("DE*ABC*E1", Accessibility="Test Station")], received=NOW)
    assert location.publish is False
    assert {r.accessibility for r in mapping.location_to_evse_data(location, DETAILS)} == {"Test Station"}


def test_capabilities_from_authentication_modes_services_and_payment() -> None:
    evse = _evse(AuthenticationModes=["NFC RFID DESFire", "REMOTE", "PnC"], ValueAddedServices=["Reservation", "ChargingPlans"],
                 PaymentOptions=["Contract", "Direct"])
    assert evse.capabilities == ["CHARGING_PROFILE_CAPABLE", "CREDIT_CARD_PAYABLE", "REMOTE_START_STOP_CAPABLE", "RESERVABLE", "RFID_READER"]
    assert "REMOTE_START_STOP_CAPABLE" not in _evse(IsHubjectCompatible=False).capabilities  # Hubject refuses it there (604)


def _hours(entries: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    [location] = mapping.evse_data_to_locations([record("DE*ABC*E1", IsOpen24Hours=False, OpeningTimes=entries)], received=NOW)
    return [(h.weekday, h.period_begin, h.period_end) for h in location.opening_times.regular_hours]


def test_opening_times_expand_workdays_and_weekend_into_weekdays() -> None:
    assert _hours([{"Period": [{"begin": "07:00", "end": "20:00"}], "on": "Workdays"},
                   {"Period": [{"begin": "09:00", "end": "14:00"}], "on": "Weekend"}]) == (
        [(d, "07:00", "20:00") for d in range(1, 6)] + [(6, "09:00", "14:00"), (7, "09:00", "14:00")])


def test_opening_period_past_midnight_is_cut_at_midnight() -> None:
    assert _hours([{"Period": [{"begin": "22:00", "end": "06:00"}], "on": "Sunday"},
                   {"Period": [{"begin": "08:00", "end": "24:00"}], "on": "Monday"}]) == [
        (1, "00:00", "06:00"), (1, "08:00", "23:59"), (7, "22:00", "23:59")]


def test_not_open_all_day_without_hours_is_unknown_hours() -> None:
    [location] = mapping.evse_data_to_locations([record("DE*ABC*E1", IsOpen24Hours=False)], received=NOW)
    assert location.opening_times is None


def test_regular_hours_go_out_grouped_as_everyday_workdays_weekend_or_days() -> None:
    location = mapping.evse_data_to_locations([record("DE*ABC*E1")], received=NOW)[0]
    hours = [model.RegularHours(d, "08:00", "18:00") for d in range(1, 6)] + [model.RegularHours(6, "10:00", "14:00")]
    [out] = mapping.location_to_evse_data(msgspec.structs.replace(location, opening_times=model.Hours(False, hours)), DETAILS)
    assert (out.is_open24_hours, [(o.on, [(p.begin, p.end) for p in o.period]) for o in out.opening_times]) == (
        False, [("Workdays", [("08:00", "18:00")]), ("Saturday", [("10:00", "14:00")])])


@pytest.mark.parametrize("coordinates,point", [
    ({"Google": {"Coordinates": "52.520008 13.404954"}}, ("52.520008", "13.404954")),
    ({"Google": {"Coordinates": "52.520008, 13.404954"}}, ("52.520008", "13.404954")),
    ({"DecimalDegree": {"Latitude": "-33.9", "Longitude": "151.2"}}, ("-33.9", "151.2")),
    ({"DegreeMinuteSeconds": {"Latitude": "52°31'12.03''", "Longitude": "-13°24'17.83''"}}, ("52.520008", "-13.404953")),
])
def test_coordinates_are_read_in_every_notation(coordinates: dict[str, Any], point: tuple[str, str]) -> None:
    got = mapping.geo_point(msgspec.convert(coordinates, wire.GeoCoordinates))
    assert (got.latitude, got.longitude) == (Decimal(point[0]), Decimal(point[1]))


def test_coordinates_go_out_as_decimal_degrees_with_at_most_six_decimals() -> None:
    out = mapping.geo_coordinates(model.GeoPoint(Decimal("52.5200081"), Decimal("13")))
    assert out == wire.GeoCoordinates(decimal_degree=wire.DecimalDegree(latitude="52.520008", longitude="13.0"))


@pytest.mark.parametrize("country,offset,zone", [
    ("DEU", "UTC+01:00", "Europe/Berlin"), ("PRT", None, "Europe/Lisbon"), ("USA", "UTC-05:00", "Etc/GMT+5"),
    ("IND", "UTC+05:30", "UTC"), ("XXX", None, "UTC"),
])
def test_time_zone_from_the_country_else_from_a_whole_hour_offset(country: str, offset: str | None, zone: str) -> None:
    address = wire.Address(country=country, city="X", street="Xy", time_zone=offset)
    assert mapping.time_zone(address) == zone


def test_time_zone_goes_out_as_the_standard_offset() -> None:
    summer = datetime(2025, 7, 1, tzinfo=timezone.utc)
    assert mapping.utc_offset("Europe/Berlin", summer) == "UTC+01:00"
    assert mapping.utc_offset("America/St_Johns", summer) == "UTC-03:30"
    assert mapping.utc_offset("Not/AZone", summer) is None


@pytest.mark.parametrize("address,street,house", [
    ("Marktplatz 1", "Marktplatz", "1"), ("Rue de la Paix 12bis", "Rue de la Paix", "12bis"), ("1 Main Street", "1 Main Street", ""),
    ("Hauptbahnhof", "Hauptbahnhof", ""), ("A 1", "A 1", ""), ("X", "X_", ""),
])
def test_address_goes_out_as_street_and_house_number(address: str, street: str, house: str) -> None:
    location = mapping.evse_data_to_locations([record("DE*ABC*E1")], received=NOW)[0]
    [out] = mapping.location_to_evse_data(msgspec.structs.replace(location, address=address), DETAILS)
    assert (out.address.street, out.address.house_num) == (street, house)


def test_evses_oicp_cannot_carry_are_not_pushed() -> None:
    location = mapping.evse_data_to_locations([record("DE*ABC*E1")], received=NOW)[0]
    evse = location.evses[0]
    cases = {
        "status REMOVED": msgspec.structs.replace(evse, status="REMOVED"),
        "status PLANNED": msgspec.structs.replace(evse, status="PLANNED"),
        "no EvseID": msgspec.structs.replace(evse, evse_id=None),
        "no EvseID (evse_id 'NL-ABC-1')": msgspec.structs.replace(evse, evse_id="NL-ABC-1"),
        "no connector": msgspec.structs.replace(evse, connectors=[_connector(standard="CHAOJI", format="CABLE")]),
    }
    for reason, bad in cases.items():
        assert (mapping.why_not_pushable(bad) or "").startswith(reason)
        assert mapping.location_to_evse_data(msgspec.structs.replace(location, evses=[bad]), DETAILS) == []
        assert mapping.evse_status_records(msgspec.structs.replace(location, evses=[bad])) == []


def test_operator_details_fill_what_locations_do_not_hold() -> None:
    location = msgspec.structs.replace(mapping.evse_data_to_locations([record("DE*ABC*E1")], received=NOW)[0], operator=None)
    details = mapping.OperatorDetails(hotline_phone_number="+4989998877", calibration_law_data_availability="External")
    data = mapping.operator_evse_data("DE*ABC", [location], details)
    assert (data.operator_name, data.evse_data_record[0].hotline_phone_number, data.evse_data_record[0].calibration_law_data_availability) == (
        "DE*ABC", "+4989998877", "External")
    named = mapping.operator_evse_data("DE*ABC", [location], mapping.OperatorDetails(hotline_phone_number="+4989998877", operator_name="ABC"))
    assert named.operator_name == "ABC"


def test_hotline_that_is_no_oicp_phone_number_is_unmappable() -> None:
    location = mapping.evse_data_to_locations([record("DE*ABC*E1")], received=NOW)[0]
    with pytest.raises(Unmappable, match="HotlinePhoneNumber"):
        mapping.location_to_evse_data(location, mapping.OperatorDetails(hotline_phone_number="030 1234567"))


# --- identifiers and times ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["DE*ABC", "DEABC", "de*abc"])
def test_operator_id_names_its_party(text: str) -> None:
    assert mapping.operator_party(text) == model.PartyId("DE", "ABC")
    assert mapping.operator_id(model.PartyId("DE", "ABC")) == "DE*ABC"


def test_din_operator_id_names_no_party() -> None:
    with pytest.raises(Unmappable, match="OperatorID"):
        mapping.operator_party("+49*536")


@pytest.mark.parametrize("text", ["DE-DCB", "DE*DCB", "DEDCB", "de-dcb"])
def test_provider_id_names_its_party(text: str) -> None:
    assert mapping.provider_party(text) == model.PartyId("DE", "DCB")
    assert mapping.provider_id(model.PartyId("DE", "DCB")) == "DE-DCB"


@pytest.mark.parametrize("evse_id,operator", [("DE*ABC*E123*4", "DE*ABC"), ("DEABCE1234", "DE*ABC"), ("de*abc*E1", "DE*ABC"),
                                              ("+49*810*000*438", "+49*810")])
def test_evse_id_names_its_operator(evse_id: str, operator: str) -> None:
    assert mapping.evse_operator_id(evse_id) == operator


@pytest.mark.parametrize("evco_id", ["DE-8EO-CAet5e4XY-3", "DE8EOCAet5e4XY3", "DE*8EO*Aet5e4*3"])
def test_evco_id_names_its_provider(evco_id: str) -> None:
    assert mapping.evco_provider(evco_id) == model.PartyId("DE", "8EO")


def test_evse_uid_is_the_evse_id_or_a_digest_when_longer_than_36() -> None:
    assert mapping.evse_uid("DE*ABC*E123") == "DE*ABC*E123"
    long = "DE*ABC*E" + "1" * 30
    assert len(mapping.evse_uid(long)) == 32 and mapping.evse_uid(long) == mapping.evse_uid(long.lower())


def test_ids_compare_without_case_and_separators() -> None:
    assert mapping.id_key("DE*ABC*E1") == mapping.id_key("deabce1")


def test_times_go_out_in_utc_with_an_offset_and_come_in_from_any_offset() -> None:
    assert mapping.format_datetime(datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)) == "2025-03-01T12:00:00+00:00"
    assert mapping.format_datetime(datetime(2025, 3, 1, 12, 0, 0, 38000, tzinfo=timezone.utc)) == "2025-03-01T12:00:00.038+00:00"
    assert mapping.parse_datetime("2025-03-01T13:00:00.0381+01:00") == datetime(2025, 3, 1, 12, 0, 0, 38100, tzinfo=timezone.utc)
    assert mapping.parse_datetime("2020-09-23T14:17:53.038Z") == datetime(2020, 9, 23, 14, 17, 53, 38000, tzinfo=timezone.utc)
    with pytest.raises(Unmappable, match="SessionEnd"):
        mapping.parse_datetime("2025-02-30T10:00:00Z", "SessionEnd")


# --- media and tokens ----------------------------------------------------------------------------------------------------------

CARD = wire.Identification(rfid_mifare_family_identification=wire.RFIDMifareFamilyIdentification(uid="04A2B3C4D5E6F7"))
REMOTE = wire.Identification(remote_identification=wire.RemoteIdentification(evco_id="DE-8EO-CAet5e4XY-3"))
EMSP = model.PartyId("NL", "EMS")


def test_identification_with_all_five_media_like_hubjects_examples_is_refused() -> None:
    example = wire.decode(json.dumps(_example("cpo", "eRoamingAuthorizeStart")), wire.AuthorizeStart)
    with pytest.raises(Unmappable, match="exactly one medium"):
        mapping.identification_to_cdr_token(example.identification, EMSP)
    with pytest.raises(Unmappable, match="exactly one medium"):
        mapping.medium(wire.Identification())


def test_card_names_its_emsp_only_through_the_provider() -> None:
    assert mapping.identification_to_cdr_token(CARD, EMSP) == model.CdrToken("NL", "EMS", "04A2B3C4D5E6F7", "RFID", "04A2B3C4D5E6F7")
    with pytest.raises(Unmappable, match="provider"):
        mapping.identification_to_cdr_token(CARD)


def test_evco_id_names_the_emsp_even_where_the_provider_is_the_hub() -> None:
    assert mapping.identification_to_cdr_token(REMOTE, model.PartyId("DE", "HUB")) == model.CdrToken(
        "DE", "8EO", "DE-8EO-CAet5e4XY-3", "APP_USER", "DE-8EO-CAet5e4XY-3")


def test_qr_code_is_an_app_user_and_plug_and_charge_other() -> None:
    qr = wire.Identification(qr_code_identification=wire.QRCodeIdentification(evco_id="DE*8EO*Aet5e4*3", pin="1234"))
    pnc = wire.Identification(plug_and_charge_identification=wire.PlugAndChargeIdentification(evco_id="DE*8EO*Aet5e4*3"))
    assert mapping.identification_to_cdr_token(qr).type == "APP_USER"
    assert mapping.identification_to_cdr_token(pnc).type == "OTHER"


def test_uploaded_card_keeps_its_contract_and_printed_number() -> None:
    card = wire.Identification(rfid_identification=wire.RFIDIdentification(uid="1234ABCD", rfid="mifareCls", evco_id="DE-8EO-CAet5e4XY-3",
                                                                           printed_number="9876655"))
    token = mapping.identification_to_token(card, last_updated=NOW)
    assert (token.party_id, token.uid, token.contract_id, token.visual_number, token.whitelist) == (
        "8EO", "1234ABCD", "DE-8EO-CAet5e4XY-3", "9876655", "NEVER")


def _token(**changes: Any) -> model.Token:
    base: dict[str, Any] = {"country_code": "NL", "party_id": "EMS", "uid": "04a2b3c4", "type": "RFID", "contract_id": "NL-EMS-C12345678-9",
                            "issuer": "EMS", "valid": True, "whitelist": "ALLOWED", "last_updated": NOW}
    return model.Token(**{**base, **changes})


def test_card_goes_out_by_its_upper_case_uid_and_an_app_user_by_its_contract() -> None:
    assert mapping.identification(_token()) == wire.Identification(
        rfid_mifare_family_identification=wire.RFIDMifareFamilyIdentification(uid="04A2B3C4"))
    assert mapping.identification(_token(type="APP_USER")) == wire.Identification(
        remote_identification=wire.RemoteIdentification(evco_id="NL-EMS-C12345678-9"))
    assert mapping.identification(_token(), remote=True).remote_identification is not None


def test_token_oicp_cannot_name_is_unmappable() -> None:
    with pytest.raises(Unmappable, match="card UID"):
        mapping.identification(_token(uid="04A2B3"))
    with pytest.raises(Unmappable, match="EvcoID"):
        mapping.identification(_token(type="APP_USER", contract_id="CONTRACT-1"))


def test_authentication_data_uploads_cards_and_contracts_not_app_users() -> None:
    record_ = mapping.authentication_data_record(_token(visual_number="NL-EMS-000001"))
    assert record_ is not None and record_.identification.rfid_identification == wire.RFIDIdentification(
        uid="04A2B3C4", rfid="mifareFamily", evco_id="NL-EMS-C12345678-9", printed_number="NL-EMS-000001")
    assert mapping.authentication_data_record(_token(type="APP_USER")) is None
    sent(wire.PushAuthenticationData(action_type="fullLoad", provider_authentication_data=wire.ProviderAuthenticationData(
        provider_id="NL-EMS", authentication_data_record=[record_])), "emp", "eRoamingPushAuthenticationData")


def test_hubjects_answer_becomes_the_hubs_authorization() -> None:
    request = wire.AuthorizeStart(operator_id="DE*ABC", evse_id="DE*ABC*E1", identification=CARD)
    ok = wire.AuthorizationStart(authorization_status="Authorized", status_code=wire.StatusCode(code="000"), session_id=SESSION_ID,
                                 provider_id="NL-EMS")
    allowed = mapping.authorization(ok, request, last_updated=NOW)
    assert (allowed.allowed, allowed.reference, allowed.method, allowed.token.owner_party, allowed.token.uid) == (
        "ALLOWED", SESSION_ID, "AUTH_REQUEST", EMSP, "04A2B3C4D5E6F7")
    locked = mapping.authorization(wire.AuthorizationStart(authorization_status="NotAuthorized", status_code=wire.StatusCode(code="200")),
                                   request, last_updated=NOW)
    refused = mapping.authorization(wire.AuthorizationStart(authorization_status="NotAuthorized", status_code=wire.StatusCode(code="102")),
                                    request, last_updated=NOW)
    assert (locked.allowed, refused.allowed, refused.token) == ("BLOCKED", "NOT_ALLOWED", None)


def test_hubs_answer_to_hubjects_authorize_start() -> None:
    request = wire.AuthorizeStart(operator_id="DE*ABC", evse_id="DE*ABC*E1", identification=CARD, session_id=SESSION_ID,
                                  cpo_partner_session_id="cpo-1")
    info = model.AuthorizationInfo(allowed="ALLOWED", token=_token())
    answer = sent(mapping.authorization_start(info, request), "emp", "eRoamingAuthorizationStart")
    assert (answer.authorization_status, answer.status_code.code, answer.provider_id, answer.session_id, answer.cpo_partner_session_id) == (
        "Authorized", "000", "NL-EMS", SESSION_ID, "cpo-1")
    unknown = mapping.authorization_start(None, request)
    assert (unknown.authorization_status, unknown.status_code.code, unknown.provider_id) == ("NotAuthorized", "102", None)
    contract = msgspec.structs.replace(request, identification=REMOTE)
    assert mapping.authorization_start(None, contract).status_code.code == "105"
    blocked = model.AuthorizationInfo(allowed="BLOCKED", token=_token())
    assert mapping.authorization_start(blocked, request).status_code == wire.StatusCode(code="200", description="EvcoID locked")


# --- CDRs ---------------------------------------------------------------------------------------------------------------------


def _hub_location() -> model.Location:
    return mapping.evse_data_to_locations(
        [record("DE*XYZ*ETEST1", Plugs=["Type 2 Outlet", "CCS Combo 2 Plug (Cable Attached)"],
                ChargingFacilities=[{"PowerType": "AC_3_PHASE", "Power": 22}, {"PowerType": "DC", "Power": 50}])],
        received=NOW)[0]


def test_hubject_cdr_example_maps_once_its_identification_has_one_medium() -> None:
    data = _example("emp", "eRoamingChargeDetailRecord")
    data["Identification"] = {"RemoteIdentification": data["Identification"]["RemoteIdentification"]}
    data["ChargingEnd"], data["SessionEnd"] = "2020-09-23T15:17:53.038Z", "2020-09-23T15:27:53.039Z"
    cdr = mapping.cdr_to_canonical(wire.decode(json.dumps(data), wire.ChargeDetailRecord), location=_hub_location(), received=NOW,
                                   currency="EUR")
    assert (cdr.id, cdr.session_id, cdr.authorization_reference) == (SESSION_ID, SESSION_ID, SESSION_ID)
    assert (cdr.country_code, cdr.party_id, cdr.cdr_token.party_id, cdr.auth_method) == ("DE", "ABC", "DCB", "COMMAND")
    assert (cdr.cdr_location.evse_id, cdr.cdr_location.connector_id, cdr.cdr_location.connector_power_type) == ("DE*XYZ*ETEST1", "1", "AC_3_PHASE")
    assert (cdr.total_energy, cdr.total_time, cdr.total_parking_time) == (Decimal(10), Decimal("1.166667"), Decimal("0.166667"))
    assert [[(d.type, d.volume) for d in p.dimensions] for p in cdr.charging_periods] == [
        [("ENERGY", Decimal(10)), ("TIME", Decimal(1))], [("PARKING_TIME", Decimal("0.166667"))]]
    assert cdr.total_cost == model.Price(Decimal(0), Decimal(0))  # OICP has no money: none given, none charged
    assert cdr.signed_data.encoding_method == "UTF-8" and [v.nature for v in cdr.signed_data.signed_values] == ["Start", "End"]


def test_cdr_connector_follows_the_product_current() -> None:
    data = _example("emp", "eRoamingChargeDetailRecord")
    data["Identification"] = {"RFIDMifareFamilyIdentification": {"UID": "1234ABCD"}}
    cdr = mapping.cdr_to_canonical(wire.decode(json.dumps({**data, "PartnerProductID": "DC"}), wire.ChargeDetailRecord),
                                   location=_hub_location(), received=NOW, currency="EUR")
    assert (cdr.cdr_location.connector_id, cdr.cdr_token.party_id) == ("2", "DCB")  # the card's eMSP: HubProviderID


def test_cdr_of_an_unknown_evse_is_unmappable() -> None:
    data = _example("emp", "eRoamingChargeDetailRecord")
    data["Identification"] = {"RFIDMifareFamilyIdentification": {"UID": "1234ABCD"}}
    with pytest.raises(Unmappable, match="EvseID"):
        mapping.cdr_to_canonical(wire.decode(json.dumps({**data, "EvseID": "DE*XYZ*E404"}), wire.ChargeDetailRecord),
                                 location=_hub_location(), received=NOW, currency="EUR")


def test_cdr_costs_are_the_given_totals() -> None:
    data = _example("emp", "eRoamingChargeDetailRecord")
    data["Identification"] = {"RFIDMifareFamilyIdentification": {"UID": "1234ABCD"}}

    class Priced(msgspec.Struct):
        total_cost: model.Price = model.Price(Decimal("4.20"), Decimal("5.00"))
        total_fixed_cost: model.Price | None = None
        total_energy_cost: model.Price | None = model.Price(Decimal("4.20"), Decimal("5.00"))
        total_time_cost: model.Price | None = None
        total_parking_cost: model.Price | None = None

    cdr = mapping.cdr_to_canonical(wire.decode(json.dumps(data), wire.ChargeDetailRecord), location=_hub_location(), received=NOW,
                                   currency="EUR", costs=Priced())
    assert (cdr.total_cost, cdr.total_energy_cost, cdr.currency) == (Priced().total_cost, Priced().total_energy_cost, "EUR")


def _hub_cdr(**changes: Any) -> model.Cdr:
    location = _hub_location()
    evse = location.evses[0]
    base: dict[str, Any] = {
        "country_code": "DE", "party_id": "ABC", "id": "tx-1", "session_id": "tx-1", "authorization_reference": SESSION_ID,
        "start_date_time": NOW, "end_date_time": NOW + timedelta(hours=2), "cdr_token": model.CdrToken("NL", "EMS", "04A2B3C4", "RFID", "04A2B3C4"),
        "auth_method": "AUTH_REQUEST",
        "cdr_location": mapping._cdr_location(location, evse, evse.connectors[0]), "currency": "EUR",
        "charging_periods": [model.ChargingPeriod(NOW + timedelta(minutes=5), [model.CdrDimension("ENERGY", Decimal("20.5")), model.CdrDimension("TIME", Decimal(1))]),
                             model.ChargingPeriod(NOW + timedelta(minutes=65), [model.CdrDimension("PARKING_TIME", Decimal("0.916667"))])],
        "total_cost": model.Price(Decimal("9.99")), "total_energy": Decimal("20.5"), "total_time": Decimal(2), "last_updated": NOW,
    }
    return model.Cdr(**{**base, **changes})


def test_cdr_goes_to_hubject_under_the_session_id_of_its_authorization() -> None:
    out = sent(mapping.cdr_from_canonical(_hub_cdr()), "cpo", "eRoamingChargeDetailRecord")
    assert (out.session_id, out.cpo_partner_session_id, out.evse_id, out.partner_product_id) == (SESSION_ID, "tx-1", "DE*XYZ*ETEST1", "AC3")
    assert (out.session_start, out.charging_start, out.charging_end, out.session_end) == (
        "2025-03-01T12:00:00+00:00", "2025-03-01T12:05:00+00:00", "2025-03-01T13:05:00+00:00", "2025-03-01T14:00:00+00:00")
    assert out.consumed_energy == Decimal("20.5") and "Price" not in str(wire.encode(out))
    with pytest.raises(Unmappable, match="authorization_reference"):
        mapping.cdr_from_canonical(_hub_cdr(authorization_reference="local-auth-7"))


def test_cdr_of_a_remote_start_names_the_contract_remotely() -> None:
    token = model.CdrToken("NL", "EMS", "NL-EMS-C12345678-9", "APP_USER", "NL-EMS-C12345678-9")
    out = mapping.cdr_from_canonical(_hub_cdr(cdr_token=token, auth_method="COMMAND"))
    assert out.identification == wire.Identification(remote_identification=wire.RemoteIdentification(evco_id="NL-EMS-C12345678-9"))


def test_signed_values_beyond_ten_keep_the_start_and_the_end() -> None:
    values = [model.SignedValue("Start", "", "s")] + [model.SignedValue("Intermediate", "", f"i{n}") for n in range(12)] + [model.SignedValue("End", "", "e")]
    out = mapping.cdr_from_canonical(_hub_cdr(signed_data=model.SignedData(encoding_method="OCMF", signed_values=values)))
    assert [v.signed_metering_value for v in out.signed_metering_values] == ["s"] + [f"i{n}" for n in range(8)] + ["e"]
    assert out.calibration_law_verification_info.metering_signature_encoding_format == "OCMF"


def test_ocmf_signed_value_keeps_its_readable_payload() -> None:
    data = _example("emp", "eRoamingChargeDetailRecord")
    data["Identification"] = {"RFIDMifareFamilyIdentification": {"UID": "1234ABCD"}}
    data["SignedMeteringValues"] = [{"SignedMeteringValue": 'OCMF|{"RD":[{"RV":1.2}]}|{"SD":"30440220"}', "MeteringStatus": "Progress"}]
    cdr = mapping.cdr_to_canonical(wire.decode(json.dumps(data), wire.ChargeDetailRecord), location=_hub_location(), received=NOW, currency="EUR")
    assert cdr.signed_data.signed_values == [model.SignedValue("Intermediate", '{"RD":[{"RV":1.2}]}', 'OCMF|{"RD":[{"RV":1.2}]}|{"SD":"30440220"}')]


# --- charging notifications <-> sessions ------------------------------------------------------------------------------------


def _notification(shape: str, **changes: Any) -> Any:
    data = _example("emp", f"eRoamingChargingNotification{shape}")
    data["EvseID"] = "DE*XYZ*ETEST1"
    return wire.decode(json.dumps({**data, **changes}), wire.ChargingNotification)


def test_notifications_from_hubject_build_the_session() -> None:
    location = _hub_location()
    start = mapping.session_from_notification(_notification("Start"), None, location=location, currency="EUR", received=NOW, provider=EMSP)
    assert (start.id, start.status, start.kwh, start.start_date_time, start.cdr_token.uid) == (
        SESSION_ID, "ACTIVE", Decimal(0), datetime(2020, 9, 23, 14, 17, 53, 38000, tzinfo=timezone.utc), "1234ABCD")
    assert (start.location_id, start.evse_uid, start.authorization_reference) == (location.id, "DE*XYZ*ETEST1", SESSION_ID)
    progress = mapping.session_from_notification(_notification("Progress"), start, location=location, currency="EUR", received=NOW, provider=EMSP)
    assert (progress.kwh, progress.status) == (Decimal(9), "ACTIVE")
    ended = mapping.session_from_notification(_notification("End", ChargingStart="2020-09-23T14:17:53.038Z", ChargingEnd="2020-09-23T14:50:53.038Z"),
                                              progress, location=location, currency="EUR", received=NOW, provider=EMSP)
    assert (ended.status, ended.kwh, ended.end_date_time) == ("COMPLETED", Decimal(10), datetime(2020, 9, 23, 14, 50, 53, 38000, tzinfo=timezone.utc))


def test_end_without_session_end_is_charging_stopped_and_the_session_stays_active() -> None:
    location = _hub_location()
    start = mapping.session_from_notification(_notification("Start"), None, location=location, currency="EUR", received=NOW, provider=EMSP)
    end = _notification("End", ChargingStart="2020-09-23T14:17:53.038Z", ChargingEnd="2020-09-23T14:50:53.038Z", SessionEnd=None)
    parked = mapping.session_from_notification(end, start, location=location, currency="EUR", received=NOW, provider=EMSP)
    assert (parked.status, parked.kwh, parked.end_date_time) == ("ACTIVE", Decimal(10), None)
    assert [[d.type for d in p.dimensions] for p in parked.charging_periods] == [["ENERGY", "TIME"], ["PARKING_TIME"]]


def test_error_before_any_energy_makes_the_session_invalid() -> None:
    location = _hub_location()
    error = _notification("Error")
    assert mapping.session_from_notification(error, None, location=location, currency="EUR", received=NOW, provider=EMSP).status == "INVALID"
    charged = msgspec.structs.replace(mapping.session_from_notification(_notification("Start"), None, location=location, currency="EUR",
                                                                        received=NOW, provider=EMSP), kwh=Decimal(3))
    assert mapping.session_from_notification(error, charged, location=location, currency="EUR", received=NOW, provider=EMSP).status == "ACTIVE"


def test_first_notification_without_identification_is_unmappable() -> None:
    with pytest.raises(Unmappable, match="Identification"):
        mapping.session_from_notification(_notification("Progress", Identification=None), None, location=_hub_location(), currency="EUR", received=NOW, provider=EMSP)


def _hub_session(**changes: Any) -> model.Session:
    base: dict[str, Any] = {
        "country_code": "DE", "party_id": "ABC", "id": "tx-1", "start_date_time": NOW, "kwh": Decimal(0),
        "cdr_token": model.CdrToken("NL", "EMS", "04A2B3C4", "RFID", "04A2B3C4"), "auth_method": "AUTH_REQUEST",
        "location_id": _hub_location().id, "evse_uid": "DE*XYZ*ETEST1", "connector_id": "1", "currency": "EUR", "status": "ACTIVE",
        "authorization_reference": SESSION_ID, "last_updated": NOW,
    }
    return model.Session(**{**base, **changes})


def test_hub_session_changes_become_start_progress_end() -> None:
    location = _hub_location()
    idle, started = _hub_session(), _hub_session(kwh=Decimal("0.5"), last_updated=NOW + timedelta(minutes=1))
    more = _hub_session(kwh=Decimal("7.25"), last_updated=NOW + timedelta(minutes=20))
    done = _hub_session(kwh=Decimal(9), status="COMPLETED", end_date_time=NOW + timedelta(minutes=40), last_updated=NOW + timedelta(minutes=40))
    assert mapping.notifications(idle, None, location=location) == []
    [start] = mapping.notifications(started, idle, location=location)
    [progress] = mapping.notifications(more, started, location=location)
    [end] = mapping.notifications(done, more, location=location)
    assert isinstance(start, wire.ChargingNotificationStart) and start.charging_start == "2025-03-01T12:00:00+00:00"
    assert (progress.consumed_energy_progress, progress.charging_duration, progress.event_occurred) == (
        Decimal("7.25"), 20 * 60 * 1000, "2025-03-01T12:20:00+00:00")
    assert (end.consumed_energy, end.session_end, end.operator_id, end.cpo_partner_session_id) == (
        Decimal(9), "2025-03-01T12:40:00+00:00", "DE*ABC", "tx-1")
    assert mapping.notifications(done, done, location=location) == []
    for n in (start, progress, end):
        sent(n, "cpo", f"eRoamingChargingNotification{type(n).__name__.removeprefix('ChargingNotification')}")


def test_session_completed_at_once_sends_start_and_end_and_an_invalid_one_an_error() -> None:
    location = _hub_location()
    done = _hub_session(kwh=Decimal(9), status="COMPLETED", end_date_time=NOW + timedelta(minutes=40))
    assert [type(n).__name__ for n in mapping.notifications(done, None, location=location)] == ["ChargingNotificationStart", "ChargingNotificationEnd"]
    [error] = mapping.notifications(_hub_session(status="INVALID"), _hub_session(), location=location)
    assert (type(error).__name__, error.error_type) == ("ChargingNotificationError", "ConnectorError")


def test_session_hubject_did_not_authorize_has_no_notifications() -> None:
    started = _hub_session(kwh=Decimal(1), authorization_reference="local-4711")
    assert mapping.notifications(started, None, location=_hub_location()) == []


# --- status codes <-> the hub's errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("error,code", [
    (hub_errors.Invalid("bad"), "022"), (hub_errors.UnknownLocation("x"), "603"), (hub_errors.UnknownToken("x"), "102"),
    (hub_errors.UnknownSession("x"), "400"), (hub_errors.NotFound("x"), "022"), (hub_errors.Conflict("x"), "602"),
    (hub_errors.NotPermitted("x"), "210"), (hub_errors.NotOwner("x"), "018"), (hub_errors.UnknownReceiver("x"), "300"),
    (hub_errors.ReceiverTimeout("x"), "310"), (hub_errors.ReceiverOffline("x"), "320"), (hub_errors.NotRegistered("x"), "021"),
])
def test_each_hub_error_answers_with_its_status_code(error: hub_errors.HubError, code: str) -> None:
    status = errors.status_code(error)
    assert (status.code, status.description, status.additional_info) == (code, wire.STATUS_CODES[code], error.message)


def test_unknown_contract_is_105_where_an_unknown_card_is_102() -> None:
    assert errors.code_of(hub_errors.UnknownToken("x"), REMOTE) == "105"
    assert errors.code_of(hub_errors.UnknownToken("x"), CARD) == "102"


@pytest.mark.parametrize("code", sorted(set(wire.STATUS_CODES) - {"000"}))
def test_every_refusing_status_code_is_a_hub_error(code: str) -> None:
    error = errors.error_of(wire.StatusCode(code=code, additional_info="why"))
    assert isinstance(error, errors.ERROR_OF_CODE[code]) and code in error.message and "why" in error.message


def test_success_is_no_error_and_an_unknown_code_a_hub_error() -> None:
    assert errors.error_of(wire.StatusCode(code="000")) is None
    assert type(errors.error_of(wire.StatusCode(code="999"))) is hub_errors.HubError


@pytest.mark.parametrize("kind", sorted(errors.CODE_OF_ERROR, key=lambda k: k.__name__), ids=lambda k: k.__name__)
def test_status_code_of_a_hub_error_survives_the_way_back(kind: type[hub_errors.HubError]) -> None:
    """The hub's error answered as a StatusCode and read back is an error answered with the same code (022 is
    Data error for Invalid, NotFound and Exists alike: it comes back as Invalid)."""
    code = errors.code_of(kind("x"))
    back = errors.error_of(wire.StatusCode(code=code))
    assert back is not None and errors.code_of(back) == code


# --- round trips (hypothesis) -------------------------------------------------------------------------------------------------

ALNUM = string.ascii_uppercase + string.digits
POOL = mapping._POOL_ID
times = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(timezone.utc)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40)
lang = st.sampled_from(["de", "en", "fr", "nl", "it"])
display_text = st.builds(model.DisplayText, language=lang, text=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=150))
party = st.builds(model.PartyId, st.text(string.ascii_uppercase, min_size=2, max_size=2), st.text(ALNUM, min_size=3, max_size=3))
# countries with one zone, and one whose zone the whole-hour offset gives
places = st.sampled_from([("DEU", "Europe/Berlin"), ("NLD", "Europe/Amsterdam"), ("FRA", "Europe/Paris"), ("AUT", "Europe/Vienna"),
                          ("USA", "Etc/GMT+5"), ("ARG", "Etc/GMT+3")])


def degrees(limit: int) -> st.SearchStrategy[Decimal]:
    return st.integers(1, 6).flatmap(lambda places: st.decimals(min_value=-limit, max_value=limit, places=places))


point = st.builds(model.GeoPoint, degrees(90), degrees(180))
regular_hours = st.lists(
    st.tuples(st.integers(1, 7), st.integers(0, 1438), st.integers(1, 1439)).filter(lambda t: t[1] < t[2]), min_size=1, max_size=6,
).map(lambda hs: sorted({model.RegularHours(d, f"{b // 60:02d}:{b % 60:02d}", f"{e // 60:02d}:{e % 60:02d}") for d, b, e in hs},
                        key=lambda h: (h.weekday, h.period_begin, h.period_end)))
hours = st.one_of(st.just(model.Hours(twentyfourseven=True)), regular_hours.map(lambda r: model.Hours(twentyfourseven=False, regular_hours=r)))
energy_mix = st.builds(
    model.EnergyMix, is_green_energy=st.booleans(),
    energy_sources=st.lists(st.builds(model.EnergySource, st.sampled_from(["SOLAR", "WIND", "WATER", "GENERAL_GREEN", "COAL", "NUCLEAR",
                                                                          "GENERAL_FOSSIL", "GAS"]), st.integers(0, 99).map(Decimal)), max_size=3),
    environ_impact=st.sampled_from([[], ["CARBON_DIOXIDE"], ["NUCLEAR_WASTE"], ["CARBON_DIOXIDE", "NUCLEAR_WASTE"]]).flatmap(
        lambda cats: st.tuples(*[st.decimals(0, 99999, places=2) for _ in cats]).map(
            lambda amounts: [model.EnvironmentalImpact(c, a) for c, a in zip(cats, amounts)])),  # type: ignore[arg-type]
).filter(lambda m: m.is_green_energy or m.energy_sources or m.environ_impact)  # "not green" and nothing else is no mix at all

# plug kinds as OICP brings them in: (standard, format, current); IEC 60309 three-phase follows the amperage
AC_KINDS = [("IEC_62196_T2", "SOCKET"), ("IEC_62196_T2", "CABLE"), ("IEC_62196_T1", "CABLE"), ("IEC_62196_T3C", "SOCKET"),
            ("DOMESTIC_F", "SOCKET"), ("DOMESTIC_E", "SOCKET"), ("DOMESTIC_G", "SOCKET"), ("DOMESTIC_J", "SOCKET"),
            ("NEMA_5_20", "SOCKET"), ("IEC_60309_2_single_16", "SOCKET"), ("IEC_60309_three", "SOCKET")]
DC_KINDS = [("IEC_62196_T2_COMBO", "CABLE"), ("IEC_62196_T1_COMBO", "CABLE"), ("CHADEMO", "CABLE")]
CAPABILITIES = ["CHARGING_PROFILE_CAPABLE", "CREDIT_CARD_PAYABLE", "REMOTE_START_STOP_CAPABLE", "RESERVABLE", "RFID_READER"]


@st.composite
def evse(draw: Any, cc: str, pid: str, number: int, publish: bool, first: bool) -> model.Evse:
    updated = draw(times)
    ac = (draw(st.sampled_from(["AC_1_PHASE", "AC_3_PHASE"])), draw(st.integers(100, 300)), draw(st.integers(0, 99)), draw(st.integers(0, 999)))
    dc = ("DC", draw(st.integers(0, 999)), draw(st.integers(0, 99)), draw(st.integers(0, 999)))
    kinds = draw(st.lists(st.sampled_from(["AC", "DC", "TESLA"]), min_size=1, max_size=3))
    tesla = dc if "DC" in kinds or draw(st.booleans()) else ac  # a Tesla plug takes DC where there is DC
    connectors = []
    for n, kind in enumerate(kinds, start=1):
        current = dc if kind == "DC" else tesla if kind == "TESLA" else ac
        standard, fmt = ("TESLA_S", "CABLE") if kind == "TESLA" else draw(st.sampled_from(DC_KINDS if kind == "DC" else AC_KINDS))
        if standard == "IEC_60309_three":
            standard = "IEC_60309_2_three_16" if current[2] <= 16 else "IEC_60309_2_three_32" if current[2] <= 32 else "IEC_60309_2_three_64"
        power_type, volts, amperes, kw = current
        connectors.append(model.Connector(id=str(n), standard=standard, format=fmt, power_type=power_type, max_voltage=volts,  # type: ignore[arg-type]
                                          max_amperage=amperes, max_electric_power=kw * 1000, last_updated=updated))
    evse_id = f"{cc}*{pid}*E{number}{draw(st.text(ALNUM, max_size=8))}"
    return model.Evse(
        uid=evse_id, evse_id=evse_id, status=draw(st.sampled_from(["AVAILABLE", "RESERVED", "CHARGING", "OUTOFORDER", "UNKNOWN"])),
        connectors=connectors, last_updated=updated,
        capabilities=sorted(draw(st.sets(st.sampled_from(CAPABILITIES)))),  # type: ignore[arg-type]
        floor_level=draw(st.none() | st.text(ALNUM, min_size=1, max_size=4)), coordinates=None if first else draw(st.none() | point),
        physical_reference=draw(st.none() | st.text(ALNUM, min_size=1, max_size=5)), directions=draw(st.lists(display_text, max_size=2)),
        parking_restrictions=["CUSTOMERS"] if publish and draw(st.booleans()) else [],
        images=draw(st.sampled_from([[], [model.Image(url=f"https://img.example/{evse_id[-4:]}.png", category="CHARGER", type="png")]])),
    )


@st.composite
def location(draw: Any) -> model.Location:
    owner, (country, zone), publish = draw(party), draw(places), draw(st.booleans())
    pooled = draw(st.booleans())
    location_id = (f"{owner.country_code}*{owner.party_id}*P{draw(st.text(ALNUM, min_size=1, max_size=20))}" if pooled
                   else draw(st.text(string.ascii_letters + string.digits + " -_.", min_size=1, max_size=36).filter(lambda s: not POOL.match(s))))
    count = draw(st.integers(1, 3))
    evses = [draw(evse(owner.country_code, owner.party_id, n, publish, n == 0)) for n in range(count)]
    center = draw(point)
    evses = [e if e.coordinates != center else msgspec.structs.replace(e, coordinates=None) for e in evses]
    return model.Location(
        country_code=owner.country_code, party_id=owner.party_id, id=location_id, publish=publish,
        address=draw(st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=2, max_size=100)),
        city=draw(text), country=country, coordinates=center, time_zone=zone, last_updated=max(e.last_updated for e in evses),
        name=draw(st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=150)),
        postal_code=draw(st.none() | st.text(ALNUM, min_size=1, max_size=10)), state=draw(st.none() | text),
        related_locations=draw(st.sampled_from([[], ["entrance"]]).flatmap(
            lambda e: st.just([]) if not e else point.map(lambda p: [model.AdditionalGeoPoint(p.latitude, p.longitude, model.DisplayText("en", "Entrance"))]))),
        parking_type=draw(st.none() | st.sampled_from(["ON_STREET", "PARKING_LOT", "PARKING_GARAGE", "UNDERGROUND_GARAGE"])),
        evses=evses, directions=draw(st.lists(display_text, max_size=2)),
        operator=model.BusinessDetails(name=draw(st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=100))),
        suboperator=draw(st.none() | st.builds(model.BusinessDetails, name=st.text(ALNUM + " ", min_size=1, max_size=100))),
        opening_times=draw(hours), energy_mix=draw(st.none() | energy_mix),
    )


def through_oicp(loc: model.Location) -> list[model.Location]:
    """Pushed as EVSE data and status, as Hubject would receive them, and read back."""
    op = mapping.operator_id(loc.owner_party)
    data = sent(wire.PushEvseData(action_type="fullLoad", operator_evse_data=mapping.operator_evse_data(op, [loc], DETAILS)),
                "cpo", "eRoamingPushEvseData")
    status = sent(wire.PushEvseStatus(action_type="update", operator_evse_status=wire.OperatorEvseStatus(
        operator_id=op, evse_status_record=mapping.evse_status_records(loc))), "cpo", "eRoamingPushEvseStatus")
    return mapping.evse_data_to_locations(data.operator_evse_data.evse_data_record, received=NOW, operator=op,
                                          operator_name=data.operator_evse_data.operator_name, statuses=mapping.evse_statuses(status))


@SETTINGS
@given(location())
def test_location_through_oicp_keeps_what_oicp_carries(loc: model.Location) -> None:
    assert through_oicp(loc) == [loc]


@SETTINGS
@given(location(), st.sampled_from(["AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED", "RESERVED", "UNKNOWN"]))
def test_evse_status_through_oicp_is_the_nearest_oicp_status(loc: model.Location, status: model.EvseStatus) -> None:
    changed = msgspec.structs.replace(loc, evses=[msgspec.structs.replace(e, status=status) for e in loc.evses])
    records = mapping.evse_status_records(changed)
    back = mapping.evse_statuses(sent(wire.PushEvseStatus(action_type="update", operator_evse_status=wire.OperatorEvseStatus(
        operator_id=mapping.operator_id(loc.owner_party), evse_status_record=records)), "cpo", "eRoamingPushEvseStatus"))
    nearest = {"BLOCKED": "CHARGING", "INOPERATIVE": "OUTOFORDER"}.get(status, status)
    assert back == ({} if status in ("PLANNED", "REMOVED") else {e.evse_id: nearest for e in loc.evses})


@st.composite
def evco_id(draw: Any, owner: model.PartyId) -> str:
    if draw(st.booleans()):
        return f"{owner.country_code}-{owner.party_id}-C{draw(st.text(ALNUM, min_size=8, max_size=8))}-{draw(st.sampled_from(ALNUM))}"
    return f"{owner.country_code}*{owner.party_id}*{draw(st.text(ALNUM, min_size=6, max_size=6))}*{draw(st.sampled_from(string.digits + 'X'))}"


@st.composite
def charged_token(draw: Any) -> model.CdrToken:
    """A token in the forms OICP carries: a card (its UID is its contract), an app user or a Plug&Charge contract."""
    owner, kind = draw(party), draw(st.sampled_from(["RFID", "APP_USER", "OTHER"]))
    if kind == "RFID":
        uid = draw(st.sampled_from([8, 14, 20]).flatmap(lambda n: st.text("0123456789ABCDEF", min_size=n, max_size=n)))
        return model.CdrToken(owner.country_code, owner.party_id, uid, "RFID", uid)
    contract = draw(evco_id(owner))
    return model.CdrToken(owner.country_code, owner.party_id, contract, kind, contract)  # type: ignore[arg-type]


@SETTINGS
@given(charged_token())
def test_token_through_an_identification_keeps_what_oicp_carries(token: model.CdrToken) -> None:
    ident = sent(mapping.identification(token), "cpo", "Identification")
    assert mapping.identification_to_cdr_token(ident, token.owner_party) == token


@SETTINGS
@given(charged_token(), st.none() | st.text(ALNUM + "-", min_size=1, max_size=64), times, st.sampled_from(["ALWAYS", "ALLOWED", "NEVER"]))
def test_uploaded_token_keeps_its_card_contract_and_printed_number(charged: model.CdrToken, visual: str | None, updated: datetime,
                                                                    whitelist: model.WhitelistType) -> None:
    token = model.Token(country_code=charged.country_code, party_id=charged.party_id, uid=charged.uid, type=charged.type,
                        contract_id=charged.contract_id, issuer=mapping.provider_id(charged.owner_party), valid=True,
                        whitelist=whitelist, last_updated=updated, visual_number=visual if charged.type == "RFID" else None)
    uploaded = mapping.authentication_data_record(token)
    if charged.type == "APP_USER":
        assert uploaded is None
        return
    ident = sent(wire.PushAuthenticationData(action_type="update", provider_authentication_data=wire.ProviderAuthenticationData(
        provider_id=token.issuer, authentication_data_record=[uploaded])), "emp", "eRoamingPushAuthenticationData"
                 ).provider_authentication_data.authentication_data_record[0].identification
    assert mapping.identification_to_token(ident, last_updated=updated, provider=charged.owner_party, whitelist=whitelist) == token


def _period_hours(delta: timedelta) -> Decimal:
    return (Decimal(delta // timedelta(milliseconds=1)) / Decimal(3_600_000)).quantize(Decimal("0.000001"))


signed_value = st.one_of(
    st.builds(lambda n, d: model.SignedValue(n, "", d), st.sampled_from(["Start", "Intermediate", "End"]), st.text(ALNUM + "+/=", min_size=1, max_size=300)),
    st.builds(lambda n, r: model.SignedValue(n, f'{{"RV":{r}}}', f'OCMF|{{"RV":{r}}}|{{"SD":"AB"}}'), st.sampled_from(["Start", "End"]), st.integers(0, 10**6)),
)


@st.composite
def hubject_cdr(draw: Any) -> tuple[model.Cdr, model.Location]:
    loc = draw(location())
    evse_ = draw(st.sampled_from(loc.evses))
    connector = evse_.connectors[0]
    token = draw(charged_token())
    session_start = draw(times)
    charging_start = session_start + timedelta(milliseconds=draw(st.integers(0, 3_600_000)))
    charging_end = charging_start + timedelta(milliseconds=draw(st.integers(0, 10 * 3_600_000)))
    session_end = charging_end + timedelta(milliseconds=draw(st.integers(0, 3_600_000)))
    energy = draw(st.decimals(0, 500, places=3))
    periods = ([model.ChargingPeriod(session_start, [model.CdrDimension("PARKING_TIME", _period_hours(charging_start - session_start))])]
               if charging_start > session_start else [])
    periods.append(model.ChargingPeriod(charging_start, [model.CdrDimension("ENERGY", energy),
                                                         model.CdrDimension("TIME", _period_hours(charging_end - charging_start))]))
    if session_end > charging_end:
        periods.append(model.ChargingPeriod(charging_end, [model.CdrDimension("PARKING_TIME", _period_hours(session_end - charging_end))]))
    session_id = str(draw(st.uuids()))
    money = st.decimals(0, 1000, places=2)
    signed = draw(st.none() | st.builds(
        model.SignedData, encoding_method=st.text(ALNUM + "-", min_size=1, max_size=36), signed_values=st.lists(signed_value, min_size=1, max_size=10),
        public_key=st.none() | st.text(ALNUM, min_size=1, max_size=512), url=st.none() | st.just("https://meter.example/verify")))
    cdr = model.Cdr(
        country_code=loc.country_code, party_id=loc.party_id, id=session_id, session_id=session_id, authorization_reference=session_id,
        start_date_time=session_start, end_date_time=session_end, cdr_token=token, auth_method="COMMAND" if token.type == "APP_USER" else "AUTH_REQUEST",
        cdr_location=model.CdrLocation(
            id=loc.id, name=loc.name, address=loc.address[:45], city=loc.city, postal_code=loc.postal_code,
            state=loc.state[:20] if loc.state else None, country=loc.country, coordinates=evse_.coordinates or loc.coordinates,
            evse_uid=evse_.uid, evse_id=evse_.evse_id, connector_id=connector.id, connector_standard=connector.standard,  # type: ignore[arg-type]
            connector_format=connector.format, connector_power_type=connector.power_type),
        currency="EUR", charging_periods=periods, total_cost=draw(st.builds(model.Price, money, st.none() | money)),
        total_energy_cost=draw(st.none() | st.builds(model.Price, money, money)), total_energy=energy,
        total_time=_period_hours(session_end - session_start),
        total_parking_time=_period_hours((charging_start - session_start) + (session_end - charging_end)),
        signed_data=signed, last_updated=draw(times),
    )
    return cdr, loc


@SETTINGS
@given(hubject_cdr())
def test_cdr_through_oicp_keeps_what_oicp_carries_and_its_cost_from_the_totals(case: tuple[model.Cdr, model.Location]) -> None:
    cdr, loc = case
    out = sent(mapping.cdr_from_canonical(cdr), "cpo", "eRoamingChargeDetailRecord")
    back = mapping.cdr_to_canonical(out, location=loc, received=cdr.last_updated, currency="EUR", costs=cdr, provider=cdr.cdr_token.owner_party)
    assert back == cdr


@st.composite
def session_lifecycle(draw: Any) -> tuple[list[model.Session], model.Location]:
    loc = draw(location())
    evse_ = draw(st.sampled_from(loc.evses))
    token = draw(charged_token())
    start = draw(times)
    steps = sorted(draw(st.lists(st.integers(1, 10**7), min_size=3, max_size=3, unique=True)))
    energies = sorted(draw(st.lists(st.decimals(Decimal("0.001"), 200, places=3), min_size=3, max_size=3, unique=True)))
    base = model.Session(
        country_code=loc.country_code, party_id=loc.party_id, id=draw(st.text(ALNUM, min_size=1, max_size=36)), start_date_time=start,
        kwh=Decimal(0), cdr_token=token, auth_method="COMMAND" if token.type == "APP_USER" else "AUTH_REQUEST", location_id=loc.id,
        evse_uid=evse_.uid, connector_id=evse_.connectors[0].id, currency="EUR", status="ACTIVE",
        authorization_reference=str(draw(st.uuids())), last_updated=start)
    at = [start + timedelta(milliseconds=s) for s in steps]
    replace = msgspec.structs.replace
    return [base, replace(base, kwh=energies[0], last_updated=at[0]), replace(base, kwh=energies[1], last_updated=at[1]),
            replace(base, kwh=energies[2], status="COMPLETED", end_date_time=at[2], last_updated=at[2])], loc


@SETTINGS
@given(session_lifecycle())
def test_session_through_notifications_keeps_status_energy_and_times(case: tuple[list[model.Session], model.Location]) -> None:
    """Start carries no energy (kWh 0 until the first Progress); the SessionID is the session's id over OICP."""
    states, loc = case
    previous: model.Session | None = None
    seen: model.Session | None = None
    for state in states:
        for n in mapping.notifications(state, previous, location=loc):
            n = sent(n, "cpo", f"eRoamingChargingNotification{type(n).__name__.removeprefix('ChargingNotification')}")
            seen = mapping.session_from_notification(n, seen, location=loc, currency="EUR", received=state.last_updated,
                                                     provider=state.cdr_token.owner_party)
        previous = state
        if state.kwh == 0:
            assert seen is None  # nothing flowed yet: nothing told
            continue
        assert seen is not None
        expected_kwh = Decimal(0) if state is states[1] else state.kwh
        assert (seen.status, seen.kwh, seen.start_date_time, seen.end_date_time) == (state.status, expected_kwh, state.start_date_time, state.end_date_time)
        assert (seen.id, seen.authorization_reference, seen.cdr_token, seen.auth_method) == (
            state.authorization_reference, state.authorization_reference, state.cdr_token, state.auth_method)
        assert (seen.country_code, seen.party_id, seen.location_id, seen.evse_uid, seen.connector_id) == (
            state.country_code, state.party_id, state.location_id, state.evse_uid, state.connector_id)
