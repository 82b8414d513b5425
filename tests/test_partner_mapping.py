"""The partner REST API's pure part: REST ids, money in minor units, and the mapping of canonical objects
(built by fixtures/generate.py or decoded from the official OCPI examples) to its wire types."""

from __future__ import annotations

import string
from datetime import datetime, timezone
from decimal import Decimal as D
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures import generate
from hub import model
from protocols.ocpi.v221 import mapping as ocpi_mapping
from protocols.ocpi.v221 import wire as ocpi_wire
from protocols.partner import ids, mapping, wire
from tests.conftest import SPEC

EXAMPLES = SPEC / "ocpi-2.2.1" / "examples"
CPO = model.PartyId.of("NL", "GRN")
EMSP = model.PartyId.of("DE", "EMS")
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


def example(name: str, type_: Any, to_canonical: Any) -> Any:
    return to_canonical(ocpi_wire.decode((EXAMPLES / name).read_bytes(), type_))


def as_json(obj: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(obj))


def session(status: str = "ACTIVE", **kw: Any) -> model.Session:
    return model.Session(
        country_code="NL", party_id="GRN", id="S-1", start_date_time=T0, kwh=D("12.345"),
        cdr_token=model.CdrToken("DE", "EMS", "04A1B2C3", "RFID", "DE-EMS-C00000001-X"), auth_method="WHITELIST",
        location_id="LOC1", evse_uid="LOC1-1", connector_id="1", currency="EUR", status=status,  # type: ignore[arg-type]
        last_updated=T0, **kw,
    )


# --- ids -----------------------------------------------------------------------------------------


def test_ids_are_the_owner_then_the_ocpi_id() -> None:
    assert ids.make(CPO, "LOC1") == "NLGRN-LOC1"
    assert ids.parse("NLGRN-LOC1") == (CPO, "LOC1")
    assert ids.parse("nlgrn-LOC-1-a") == (CPO, "LOC-1-a")  # party case-insensitive, key as is, '-' allowed


@pytest.mark.parametrize("text", ["", "NLGRN", "NLGRN-", "NLGR-LOC1", "NLGRNLOC1", "NL*GR-LOC1", "NLGR N-X", "ÑLGRN-X", "NL-GRN-X"])
def test_malformed_ids_parse_to_none(text: str) -> None:
    assert ids.parse(text) is None


PARTIES = st.builds(
    model.PartyId.of,
    st.text(string.ascii_letters, min_size=2, max_size=2),
    st.text(string.ascii_letters + string.digits, min_size=3, max_size=3),
)
KEYS = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=40)


@given(PARTIES, KEYS)
def test_ids_round_trip(party: model.PartyId, key: str) -> None:
    assert ids.parse(ids.make(party, key)) == (party, key)
    assert ids.parse(ids.make(party, key).lower()[:5] + ids.make(party, key)[5:]) == (party, key)


# --- money ---------------------------------------------------------------------------------------


def test_money_uses_the_minor_unit_of_each_currency_and_rounds_half_even() -> None:
    assert as_json(mapping.money(D("0.75"), "EUR")) == {"amount": 75, "currency": {"identifier": "EUR", "decimals": 2}}
    assert mapping.money(D("1500"), "JPY").amount == 1500
    assert mapping.money(D("1.2345"), "KWD") == wire.Money(amount=1234, currency=wire.Currency(identifier="KWD", decimals=3))
    assert [mapping.money(D(x), "EUR").amount for x in ("0.125", "0.135", "-0.125", "0.1251")] == [12, 14, -12, 13]
    assert mapping.money(D("9.99"), "huf").currency == wire.Currency(identifier="HUF", decimals=2)


CURRENCIES = st.sampled_from(["EUR", "SEK", "JPY", "ISK", "KWD", "BHD", "CLF", "XYZ"])


@given(CURRENCIES, st.data())
def test_money_round_trips_amounts_of_the_minor_unit(code: str, data: st.DataObject) -> None:
    decimals = mapping.currency(code).decimals
    amount = data.draw(st.decimals(min_value=-10**9, max_value=10**9, places=decimals))
    assert D(mapping.money(amount, code).amount).scaleb(-decimals) == amount


@given(CURRENCIES, st.decimals(min_value=-10**6, max_value=10**6, places=6))
def test_money_is_within_half_a_minor_unit(code: str, amount: D) -> None:
    m = mapping.money(amount, code)
    assert abs(D(m.amount).scaleb(-m.currency.decimals) - amount) <= D(1).scaleb(-m.currency.decimals) / 2


# --- sites and charge points ---------------------------------------------------------------------


def test_site_from_the_ocpi_location_example() -> None:
    loc = example("location_example.json", ocpi_wire.Location, ocpi_mapping.location_to_canonical)
    body = as_json(mapping.site(loc))
    assert body == {
        "id": "BEBEC-LOC1", "name": "Gent Zuid",
        "location": {
            "coordinates": {"latitude": 51.047599, "longitude": 3.729944},
            "address": {"address1": "F.Rooseveltlaan 3A", "city": "Gent", "country": "BEL", "address2": None,
                        "zip": "9000", "state": None},
        },
        "timeZone": "Europe/Brussels", "chargePointCount": 2, "availableChargePointCount": 1, "visibility": "public",
        "ocpi": {"countryCode": "BE", "partyId": "BEC", "locationId": "LOC1"},
        "createdAt": "2015-06-29T20:39:09Z", "updatedAt": "2015-06-29T20:39:09Z", "openingHours": None,
        "maxKw": 10.56,  # 220 V x 16 A x 3 phases
        "operator": {"name": "BeCharged"}, "partnerExternalId": None, "partnerCustomPayload": None,
    }


def test_site_counts_no_removed_evse_and_keeps_opening_hours() -> None:
    loc = generate.locations(CPO, 1, evses=(3, 3))[0]
    loc.evses[0].status = "REMOVED"
    loc.evses[1].status = "AVAILABLE"
    loc.evses[2].status = "CHARGING"
    loc.publish = False
    loc.name = None
    loc.opening_times = model.Hours(twentyfourseven=False, regular_hours=[model.RegularHours(1, "08:00", "20:00")])
    s = mapping.site(loc, extras=mapping.Extras(partner_external_id="ext-1", partner_custom_payload={"a": [1]}))
    assert (s.charge_point_count, s.available_charge_point_count, s.visibility) == (2, 1, "private")
    assert s.name == f"{loc.address}, {loc.city}"
    assert as_json(s.opening_hours) == {"twentyfourseven": False,
                                        "regularHours": [{"weekday": 1, "periodBegin": "08:00", "periodEnd": "20:00"}]}
    assert (s.partner_external_id, s.partner_custom_payload) == ("ext-1", {"a": [1]})


def test_charge_point_from_an_ocpi_evse() -> None:
    loc = example("location_example.json", ocpi_wire.Location, ocpi_mapping.location_to_canonical)
    cp = mapping.charge_point(loc, loc.evses[1])
    assert (cp.id, cp.site_id, cp.evse_id, cp.name) == ("BEBEC-3257", "BEBEC-LOC1", "BE*BEC*E041503002", "2")
    assert (cp.state, cp.ocpi_status, cp.type, cp.max_kw, cp.ocpp) == ("busy-reserved", "RESERVED", "ac", 10.56, None)
    assert as_json(cp.connectors) == [{"identifier": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                                       "powerType": "AC_3_PHASE", "maxKw": 10.56, "tariffIds": ["BEBEC-12"]}]
    assert cp.location == mapping.site(loc).location


def test_charge_point_of_a_charger_of_the_central_system() -> None:
    loc = generate.locations(CPO, 1)[0]  # location 0 is a DC site: 150 kW per connector
    evse = loc.evses[0]
    evse.status = "CHARGING"
    evse.coordinates = model.GeoPoint(D("52.1"), D("5.1"))
    online = mapping.ChargerInfo(identity="CP-001", connector_id=1, connected=True, last_connected_at=T0)
    cp = mapping.charge_point(loc, evse, online)
    assert (cp.state, cp.type, cp.max_kw) == ("busy-charging", "dc", 150.0)
    assert cp.location.coordinates == wire.Coordinates(latitude=52.1, longitude=5.1)
    assert as_json(cp.ocpp) == {"identity": "CP-001", "connectorId": 1, "connected": True, "lastConnectedAt": "2026-03-01T10:00:00Z"}
    offline = mapping.ChargerInfo(identity="CP-001", connector_id=1, connected=False)
    assert mapping.charge_point(loc, evse, offline).state == "disconnected"


def test_connector_power_without_max_electric_power() -> None:
    c = generate.connector("1", False, T0, None)
    assert mapping.connector_max_kw(msgspec.structs.replace(c, max_electric_power=None)) == 230 * 32 * 3 / 1000
    assert mapping.connector_max_kw(msgspec.structs.replace(c, max_electric_power=None, power_type="AC_1_PHASE")) == 7.36
    assert mapping.evse_max_kw(model.Evse(uid="E", status="AVAILABLE", connectors=[], last_updated=T0)) is None


@given(st.sampled_from(get_args(model.EvseStatus)), st.sampled_from([None, True, False]))
def test_every_evse_status_maps_to_a_monta_state(status: str, connected: bool | None) -> None:
    state = mapping.charge_point_state(status, connected)
    assert state in get_args(wire.ChargePointState)
    assert connected is not False or state == "disconnected"


# --- charges, CDRs, tariffs, tokens --------------------------------------------------------------


def test_charge_from_the_ocpi_finished_session_example() -> None:
    s = example("session_example_2_short_finished.json", ocpi_wire.Session, ocpi_mapping.session_to_canonical)
    c = mapping.charge(s)
    assert (c.id, c.charge_point_id, c.site_id, c.state) == ("BEBEC-101", "BEBEC-3256", "BEBEC-LOC1", "completed")
    assert (c.consumed_kwh, c.cost, c.cost_excl_vat) == (41.12, mapping.money(D("9.35"), "EUR"), mapping.money(D("8.50"), "EUR"))
    assert as_json(c.charge_auth) == {"type": "rfid", "id": "123abc"}
    assert as_json(c.ocpi) == {"countryCode": "BE", "partyId": "BEC", "sessionId": "101"}
    assert c.stopped_at == datetime(2015, 6, 29, 23, 50, 16, tzinfo=timezone.utc)


def test_charge_states() -> None:
    assert {st_: mapping.charge(session(st_)).state for st_ in get_args(model.SessionStatus)} == {
        "ACTIVE": "charging", "PENDING": "starting", "RESERVATION": "starting", "COMPLETED": "completed", "INVALID": "failed",
    }
    assert mapping.charge(session("ACTIVE", end_date_time=T0)).state == "stopped"
    c = mapping.charge(session(total_cost=model.Price(D("3.50"))))
    assert (c.cost, c.cost_excl_vat) == (mapping.money(D("3.50"), "EUR"),) * 2  # no VAT figure: excl. is the cost
    assert (mapping.charge(session()).cost, mapping.charge(session()).created_at) == (None, T0)


def test_cdr_from_the_ocpi_example() -> None:
    c = example("cdr_example.json", ocpi_wire.Cdr, ocpi_mapping.cdr_to_canonical)
    r = mapping.cdr(c)
    assert (r.id, r.charge_id, r.charge_point_id, r.site_id) == ("BEBEC-12345", None, "BEBEC-3256", "BEBEC-LOC1")
    assert (r.total_cost.amount, r.total_cost_excl_vat.amount, r.total_time, r.consumed_kwh) == (440, 400, 1.973, 15.342)
    assert r.charge_auth == wire.ChargeAuth(type="rfid", id="012345678")
    assert mapping.cdr(msgspec.structs.replace(c, session_id="S9")).charge_id == "BEBEC-S9"


def test_tariff_keeps_the_exact_price_beside_the_minor_units() -> None:
    t = generate.tariffs(CPO)[0]
    t.elements.append(model.TariffElement([model.PriceComponent("ENERGY", D("0.2534"), 1000)],
                                          model.TariffRestrictions(max_kwh=D("20.5"), day_of_week=["MONDAY"])))
    t.min_price = model.Price(D("1.00"), D("1.21"))
    body = as_json(mapping.tariff(t))
    assert body["id"] == "NLGRN-AC1" and body["currency"] == {"identifier": "EUR", "decimals": 2}
    assert body["elements"][0]["priceComponents"] == [{"type": "ENERGY", "price": {"amount": 35, "currency": body["currency"]},
                                                      "priceDecimal": "0.35", "stepSize": 1, "vat": 21.0}]
    assert body["elements"][1]["restrictions"]["minDuration"] == 7200
    last = body["elements"][2]
    assert (last["priceComponents"][0]["price"]["amount"], last["priceComponents"][0]["priceDecimal"]) == (25, "0.2534")
    assert (last["restrictions"]["maxKwh"], last["restrictions"]["dayOfWeek"]) == (20.5, ["MONDAY"])
    assert (body["minPrice"]["amount"], body["maxPrice"]) == (100, None)


def test_tariff_from_the_ocpi_examples() -> None:
    t = example("tariff_6_025kwh_start_max_price.json", ocpi_wire.Tariff, ocpi_mapping.tariff_to_canonical)
    r = mapping.tariff(t)
    assert r.max_price is not None and r.max_price.amount == int(t.max_price.excl_vat * 100)  # type: ignore[union-attr]


def test_charge_auth_tokens() -> None:
    app = example("token_example_1_app_user.json", ocpi_wire.Token, ocpi_mapping.token_to_canonical)
    r = mapping.charge_auth_token(app)
    assert (r.id, r.identifier, r.type, r.name, r.valid, r.blocked) == (
        "DETNM-APP_USER-bdf21bce-fc97-11e8-8eb2-f2801f1b9fd1", app.uid, "app", "TheNewMotion", True, False)
    assert r.ocpi.type == "APP_USER" and r.language == app.language
    rfid = generate.token(EMSP, 3)
    rfid.valid = False
    r = mapping.charge_auth_token(rfid)
    assert (r.type, r.blocked, r.visual_number, r.whitelist) == ("rfid", True, "EMS-000003", "ALLOWED")
    assert ids.parse_token(r.id) == (EMSP, "RFID", rfid.uid)


def test_a_token_id_tells_the_type_so_an_rfid_and_an_app_token_may_share_a_uid() -> None:
    assert ids.token(EMSP, "RFID", "ab-12") != ids.token(EMSP, "APP_USER", "ab-12")
    assert ids.parse_token(ids.token(EMSP, "AD_HOC_USER", "ab-12")) == (EMSP, "AD_HOC_USER", "ab-12")
    for text in ("DEEMS-ab-12", "DEEMS-RFID", "DEEMS-RFID-", "DEEMS-rfid2-x", "garbage"):
        assert ids.parse_token(text) is None, text
    assert ids.parse_token("DEEMS-rfid-04A1") == (EMSP, "RFID", "04A1")  # ids are case-insensitive, as OCPI ids are


# --- pages and errors ----------------------------------------------------------------------------


def test_page_body_wraps_pre_encoded_items() -> None:
    items = [msgspec.json.encode(mapping.site(loc)) for loc in generate.locations(CPO, 3)]
    body = msgspec.json.decode(wire.page_body(items, wire.PageMeta.of(page=0, per_page=3, item_count=3, total=7)))
    assert [s["id"] for s in body["data"]] == ["NLGRN-LOC000000", "NLGRN-LOC000001", "NLGRN-LOC000002"]
    assert body["meta"] == {"currentPage": 0, "perPage": 3, "itemCount": 3, "totalPageCount": 3, "totalItemCount": 7}
    assert msgspec.json.decode(wire.page_body([], wire.CursorMeta())) == {"data": [], "meta": {"after": None, "hasMore": False}}


def test_errors_carry_a_stable_code() -> None:
    assert as_json(wire.error("RESOURCE_NOT_FOUND", "no such site")) == {
        "status": 404, "message": "no such site", "errorCode": "RESOURCE_NOT_FOUND", "readableMessage": None, "context": None}
    assert {wire.ERROR_CODES[c] for c in ("INVALID_ACCESS_TOKEN", "RATE_LIMITED", "IDEMPOTENCY_KEY_REUSED")} == {401, 429, 422}
    with pytest.raises(KeyError):
        wire.error("TEAPOT", "no")


def test_wire_types_are_keyword_only_and_camel_case() -> None:
    types = [t for t in vars(wire).values() if isinstance(t, type) and issubclass(t, wire.Wire) and t is not wire.Wire]
    assert len(types) > 20 and all(t.__match_args__ == () for t in types)  # kw_only is not inherited in msgspec
    assert all("_" not in name for t in types for name in t.__struct_encode_fields__)


# --- every mapped object survives JSON -----------------------------------------------------------

TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc))
IDS = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=20)
MAYBE = st.none() | st.text(max_size=10)
AMOUNTS = st.decimals(min_value=0, max_value=10**6, places=4)
PRICES = st.builds(model.Price, AMOUNTS, st.none() | AMOUNTS)
POINTS = st.builds(model.GeoPoint, st.decimals(-90, 90, places=6), st.decimals(-180, 180, places=6))
CURRENCY = st.sampled_from(["EUR", "JPY", "KWD", "SEK"])
CONNECTORS = st.builds(
    model.Connector, id=IDS, standard=st.sampled_from(get_args(model.ConnectorStandard)),
    format=st.sampled_from(get_args(model.ConnectorFormat)), power_type=st.sampled_from(get_args(model.PowerType)),
    max_voltage=st.integers(0, 1000), max_amperage=st.integers(0, 500), last_updated=TIMES,
    max_electric_power=st.none() | st.integers(0, 400_000), tariff_ids=st.lists(IDS, max_size=2),
)
EVSES = st.builds(
    model.Evse, uid=IDS, status=st.sampled_from(get_args(model.EvseStatus)), connectors=st.lists(CONNECTORS, max_size=3),
    last_updated=TIMES, evse_id=MAYBE, coordinates=st.none() | POINTS, physical_reference=MAYBE,
)
LOCATIONS = st.builds(
    model.Location, country_code=st.just("NL"), party_id=st.just("GRN"), id=IDS, publish=st.booleans(),
    address=st.text(max_size=20), city=st.text(max_size=10), country=st.just("NLD"), coordinates=POINTS,
    time_zone=st.just("Europe/Amsterdam"), last_updated=TIMES, name=MAYBE, postal_code=MAYBE, state=MAYBE,
    evses=st.lists(EVSES, max_size=3), operator=st.none() | st.builds(model.BusinessDetails, st.text(max_size=10)),
    opening_times=st.none() | st.builds(model.Hours, st.booleans(), st.lists(
        st.builds(model.RegularHours, st.integers(1, 7), st.just("08:00"), st.just("18:00")), max_size=2)),
)
CDR_TOKENS = st.builds(model.CdrToken, st.just("DE"), st.just("EMS"), IDS, st.sampled_from(get_args(model.TokenType)), IDS)
SESSIONS = st.builds(
    model.Session, country_code=st.just("NL"), party_id=st.just("GRN"), id=IDS, start_date_time=TIMES,
    kwh=AMOUNTS, cdr_token=CDR_TOKENS, auth_method=st.just("COMMAND"), location_id=IDS, evse_uid=IDS,
    connector_id=IDS, currency=CURRENCY, status=st.sampled_from(get_args(model.SessionStatus)), last_updated=TIMES,
    end_date_time=st.none() | TIMES, total_cost=st.none() | PRICES,
)
CDR_LOCATIONS = st.builds(
    model.CdrLocation, id=IDS, address=st.text(max_size=10), city=st.text(max_size=10), country=st.just("NLD"),
    coordinates=POINTS, evse_uid=IDS, evse_id=IDS, connector_id=IDS, connector_standard=st.just("IEC_62196_T2"),
    connector_format=st.just("SOCKET"), connector_power_type=st.just("AC_3_PHASE"),
)
CDRS = st.builds(
    model.Cdr, country_code=st.just("NL"), party_id=st.just("GRN"), id=IDS, start_date_time=TIMES, end_date_time=TIMES,
    cdr_token=CDR_TOKENS, auth_method=st.just("WHITELIST"), cdr_location=CDR_LOCATIONS, currency=CURRENCY,
    charging_periods=st.just([]), total_cost=PRICES, total_energy=AMOUNTS, total_time=AMOUNTS, last_updated=TIMES,
    session_id=st.none() | IDS,
)
RESTRICTIONS = st.builds(
    model.TariffRestrictions, min_kwh=st.none() | AMOUNTS, max_power=st.none() | AMOUNTS,
    min_duration=st.none() | st.integers(0, 10**6), day_of_week=st.lists(st.sampled_from(get_args(model.DayOfWeek)), max_size=3),
)
TARIFFS = st.builds(
    model.Tariff, country_code=st.just("NL"), party_id=st.just("GRN"), id=IDS, currency=CURRENCY, last_updated=TIMES,
    elements=st.lists(st.builds(model.TariffElement, st.lists(st.builds(
        model.PriceComponent, st.sampled_from(get_args(model.TariffDimensionType)), AMOUNTS, st.integers(0, 3600),
        st.none() | st.decimals(0, 30, places=1)), min_size=1, max_size=3), st.none() | RESTRICTIONS), max_size=3),
    type=st.none() | st.sampled_from(get_args(model.TariffType)), min_price=st.none() | PRICES, max_price=st.none() | PRICES,
)
TOKENS = st.builds(
    model.Token, country_code=st.just("DE"), party_id=st.just("EMS"), uid=IDS, type=st.sampled_from(get_args(model.TokenType)),
    contract_id=IDS, issuer=st.text(max_size=10), valid=st.booleans(), whitelist=st.sampled_from(get_args(model.WhitelistType)),
    last_updated=TIMES, visual_number=MAYBE,
)
CHARGERS = st.none() | st.builds(mapping.ChargerInfo, identity=IDS, connector_id=st.integers(0, 10), connected=st.booleans(),
                                 last_connected_at=st.none() | TIMES)
EXTRAS = st.none() | st.builds(mapping.Extras, created_at=st.none() | TIMES, partner_external_id=MAYBE,
                               partner_custom_payload=st.none() | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def survives_json(obj: wire.Wire) -> None:
    assert msgspec.json.decode(msgspec.json.encode(obj), type=type(obj)) == obj


@settings(max_examples=50)
@given(LOCATIONS, CHARGERS, EXTRAS)
def test_sites_and_charge_points_survive_json(loc: model.Location, charger: mapping.ChargerInfo | None,
                                              extras: mapping.Extras | None) -> None:
    survives_json(mapping.site(loc, extras=extras))
    for evse in loc.evses:
        survives_json(mapping.charge_point(loc, evse, charger, extras=extras))


@settings(max_examples=50)
@given(SESSIONS, CDRS, TARIFFS, TOKENS, EXTRAS)
def test_charges_cdrs_tariffs_and_tokens_survive_json(s: model.Session, c: model.Cdr, t: model.Tariff,
                                                     token: model.Token, extras: mapping.Extras | None) -> None:
    survives_json(mapping.charge(s, extras=extras))
    survives_json(mapping.cdr(c, extras=extras))
    survives_json(mapping.tariff(t, extras=extras))
    survives_json(mapping.charge_auth_token(token, extras=extras))
