"""The canonical model and OCPI 2.1.1: canonical -> 2.1.1 -> canonical keeps what 2.1.1 carries, what the hub sends
is valid 2.1.1 (it decodes with the strict wire types), and each mapping rule of protocols/ocpi/v211/mapping.py."""

from __future__ import annotations

import string
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from hub import model as m
from protocols.ocpi.v211 import mapping, wire
from tests.ocpi_v221 import strategies as s

CPO = m.PartyId("NL", "CPO")
EMSP = m.PartyId("DE", "8AC")
T0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- canonical objects within what 2.1.1 carries --------------------------------------------------

coordinate6 = {
    limit: st.integers(5, 6).flatmap(
        lambda places, limit=limit: st.decimals(min_value=-limit, max_value=limit, places=places, allow_nan=False, allow_infinity=False)
    )
    for limit in (90, 180)
}
geo = st.builds(m.GeoPoint, latitude=coordinate6[90], longitude=coordinate6[180])
connector = st.builds(
    m.Connector, id=s.ci(36), standard=s.enum(wire.ConnectorType), format=s.enum(m.ConnectorFormat),
    power_type=s.enum(wire.PowerType), max_voltage=st.integers(0, 1000), max_amperage=st.integers(0, 1000), last_updated=s.times,
    tariff_ids=s.lists(s.ci(36), max_size=1), terms_and_conditions=s.opt(s.ci(255)),
)
evse = st.builds(
    m.Evse, uid=s.ci(39), status=s.enum(m.EvseStatus), last_updated=s.times, evse_id=s.opt(s.ci(48)),
    connectors=st.lists(connector, min_size=1, max_size=3, unique_by=lambda c: c.id.upper()),
    capabilities=s.lists(s.enum(wire.Capability)), floor_level=s.opt(s.text(4)), coordinates=s.opt(geo),
    physical_reference=s.opt(s.text(16)), directions=s.lists(s.display_text), images=s.lists(s.image),
    parking_restrictions=s.lists(s.enum(m.ParkingRestriction)),
    status_schedule=s.lists(st.builds(m.StatusSchedule, period_begin=s.times, status=s.enum(m.EvseStatus), period_end=s.opt(s.times))),
)


def locations(min_evses: int = 0) -> st.SearchStrategy[m.Location]:
    return st.builds(
        m.Location, country_code=st.just(CPO.country_code), party_id=st.just(CPO.party_id), id=s.ci(39), publish=st.just(True),
        address=s.text(45), city=s.text(45), country=st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3),
        coordinates=geo, time_zone=s.text(255).filter(bool),  # "" (none) comes back as the country zone: see below
        last_updated=s.times, name=s.opt(s.text(255)),
        postal_code=s.opt(s.text(10).filter(bool)),
        related_locations=s.lists(st.builds(m.AdditionalGeoPoint, latitude=coordinate6[90], longitude=coordinate6[180],
                                            name=s.opt(s.display_text))),
        parking_type=s.opt(st.sampled_from(["ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT"])),
        evses=st.lists(evse, min_size=min_evses, max_size=3, unique_by=lambda e: e.uid.upper()),
        directions=s.lists(s.display_text), operator=s.opt(s.business), suboperator=s.opt(s.business), owner=s.opt(s.business),
        facilities=s.lists(s.enum(wire.Facility)), opening_times=s.opt(s.hours), charging_when_closed=s.opt(st.booleans()),
        images=s.lists(s.image), energy_mix=s.opt(s.energy_mix),
    )


token = st.builds(
    m.Token, country_code=st.just(EMSP.country_code), party_id=st.just(EMSP.party_id), uid=s.ci(36), type=s.enum(wire.TokenType),
    contract_id=s.ci(36), issuer=s.text(64), valid=st.booleans(), whitelist=s.enum(m.WhitelistType), last_updated=s.times,
    visual_number=s.opt(s.text(64)), language=s.opt(st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=2)),
)
restrictions = st.builds(
    m.TariffRestrictions, start_time=s.opt(s.hhmm), end_time=s.opt(s.hhmm), start_date=s.opt(s.day), end_date=s.opt(s.day),
    min_kwh=s.opt(s.positive), max_kwh=s.opt(s.positive), min_power=s.opt(s.positive), max_power=s.opt(s.positive),
    min_duration=s.opt(st.integers(0, 10**6)), max_duration=s.opt(st.integers(0, 10**6)), day_of_week=s.lists(s.enum(m.DayOfWeek)),
)
tariff = st.builds(
    m.Tariff, country_code=st.just(CPO.country_code), party_id=st.just(CPO.party_id), id=s.ci(36),
    currency=st.sampled_from(["EUR", "GBP"]), last_updated=s.times, tariff_alt_text=s.lists(s.display_text),
    tariff_alt_url=s.opt(s.ci(255)), energy_mix=s.opt(s.energy_mix),
    elements=s.lists(st.builds(m.TariffElement, restrictions=s.opt(restrictions), price_components=s.lists(
        st.builds(m.PriceComponent, type=s.enum(m.TariffDimensionType), price=s.money, step_size=st.integers(0, 3600)), min_size=1)),
        min_size=1),
)
period = st.builds(m.ChargingPeriod, start_date_time=s.times, dimensions=s.lists(
    st.builds(m.CdrDimension, type=st.sampled_from(["ENERGY", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"]),
              volume=s.positive), min_size=1))


@st.composite
def session_at_location(draw: Any) -> tuple[m.Session, m.Location]:
    location = draw(locations(min_evses=1))
    at = draw(st.sampled_from(location.evses))
    session = draw(st.builds(
        m.Session, country_code=st.just(CPO.country_code), party_id=st.just(CPO.party_id), id=s.ci(36), start_date_time=s.times,
        kwh=s.positive, cdr_token=st.builds(m.CdrToken, country_code=st.just("DE"), party_id=st.just("8AC"), uid=s.ci(36),
                                            type=s.enum(wire.TokenType), contract_id=s.ci(36)),
        auth_method=s.enum(wire.AuthMethod), location_id=st.just(location.id), evse_uid=st.just(at.uid),
        connector_id=st.sampled_from([c.id for c in at.connectors]), currency=st.just("EUR"), status=s.enum(wire.SessionStatus),
        last_updated=s.times, end_date_time=s.opt(s.times), meter_id=s.opt(s.text(255)), charging_periods=s.lists(period),
        total_cost=s.opt(st.builds(m.Price, excl_vat=s.money)),
    ))
    return session, location


def _through(obj: Any, out: Any, wire_type: Any, back: Any) -> Any:
    """Out to 2.1.1, over the wire (decoded with the strict types: what the hub sends is valid 2.1.1), and back."""
    return back(wire.decode(wire.encode(out(obj)), wire_type))


# --- properties -------------------------------------------------------------------------------------


@SETTINGS
@given(locations())
def test_a_location_2_1_1_can_carry_survives_it(location: m.Location) -> None:
    assert _through(location, mapping.location_from_canonical, wire.Location, lambda w: mapping.location_to_canonical(w, CPO)) == location


@SETTINGS
@given(s.location)
def test_any_location_goes_out_as_valid_2_1_1_and_the_loss_happens_once(location: m.Location) -> None:
    def there_and_back(x: m.Location) -> m.Location:
        return _through(x, mapping.location_from_canonical, wire.Location, lambda w: mapping.location_to_canonical(w, x.owner_party))

    once = there_and_back(location)
    assert there_and_back(once) == once
    assert (once.id, once.address, once.city, once.last_updated) == (location.id, location.address[:45], location.city, location.last_updated)


@SETTINGS
@given(token)
def test_a_token_2_1_1_can_carry_survives_it(tok: m.Token) -> None:
    assert _through(tok, mapping.token_from_canonical, wire.Token, lambda w: mapping.token_to_canonical(w, EMSP)) == tok


@SETTINGS
@given(s.token)
def test_any_token_goes_out_as_valid_2_1_1_keeping_its_identity(tok: m.Token) -> None:
    back = _through(tok, mapping.token_from_canonical, wire.Token, lambda w: mapping.token_to_canonical(w, tok.owner_party))
    assert back == replace(tok, type=tok.type if tok.type in ("RFID", "OTHER") else "OTHER", group_id=None,
                           default_profile_type=None, energy_contract=None)


@SETTINGS
@given(tariff)
def test_a_tariff_2_1_1_can_carry_survives_it(t: m.Tariff) -> None:
    assert _through(t, mapping.tariff_from_canonical, wire.Tariff, lambda w: mapping.tariff_to_canonical(w, CPO)) == t


@SETTINGS
@given(s.tariff)
def test_any_tariff_goes_out_as_valid_2_1_1_or_is_unmappable(t: m.Tariff) -> None:
    expressible = [e for e in t.elements if e.restrictions is None or (
        e.restrictions.min_current is None and e.restrictions.max_current is None and e.restrictions.reservation is None)]
    if not expressible:
        with pytest.raises(mapping.Unmappable, match="elements"):
            mapping.tariff_from_canonical(t)
        return
    back = _through(t, mapping.tariff_from_canonical, wire.Tariff, lambda w: mapping.tariff_to_canonical(w, t.owner_party))
    assert len(back.elements) == len(expressible) and back.id == t.id and back.type is None and back.max_price is None


@SETTINGS
@given(session_at_location())
def test_a_session_2_1_1_can_carry_survives_it(pair: tuple[m.Session, m.Location]) -> None:
    session, location = pair
    back = _through(session, lambda x: mapping.session_from_canonical(x, location), wire.Session,
                    lambda w: mapping.session_to_canonical(w, CPO, token=session.cdr_token))
    assert back == session


# --- locations ---------------------------------------------------------------------------------------

LOCATION = m.Location(
    country_code="NL", party_id="CPO", id="L1", publish=True, address="Main Street 1", city="Utrecht", country="NLD",
    coordinates=m.GeoPoint(Decimal("52.1"), Decimal("5.1234567")), time_zone="Europe/Amsterdam", last_updated=T0,
    evses=[m.Evse(uid="E1", status="AVAILABLE", last_updated=T0, evse_id="NL*CPO*E1", connectors=[
        m.Connector(id="1", standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE", max_voltage=230,
                    max_amperage=32, last_updated=T0, tariff_ids=["REG", "ADHOC"], max_electric_power=22000),
        m.Connector(id="2", standard="GBT_DC", format="CABLE", power_type="DC", max_voltage=750, max_amperage=250, last_updated=T0),
    ])],
)


def _out(location: m.Location) -> wire.Location:
    return wire.decode(wire.encode(mapping.location_from_canonical(location)), wire.Location)


def test_the_owner_comes_from_the_connection_and_goes_out_nowhere() -> None:
    sent = wire.encode(mapping.location_from_canonical(LOCATION))
    assert b"country_code" not in sent and b"party_id" not in sent and b"publish" not in sent
    assert mapping.location_to_canonical(wire.decode(sent, wire.Location), m.PartyId("be", "xyz")).owner_party == m.PartyId("BE", "XYZ")


@pytest.mark.parametrize("parking_type,location_type,back", [
    ("ON_STREET", "ON_STREET", "ON_STREET"), ("UNDERGROUND_GARAGE", "UNDERGROUND_GARAGE", "UNDERGROUND_GARAGE"),
    ("ALONG_MOTORWAY", "OTHER", None), ("ON_DRIVEWAY", "OTHER", None), (None, "UNKNOWN", None),
])
def test_parking_type_goes_out_as_location_type(parking_type: Any, location_type: str, back: Any) -> None:
    w = _out(replace(LOCATION, parking_type=parking_type))
    assert w.type == location_type and mapping.location_to_canonical(w, CPO).parking_type == back


def test_a_2_1_1_location_is_public_and_its_visibility_list_is_not_sent() -> None:
    hidden = replace(LOCATION, publish=False, publish_allowed_to=[m.PublishTokenType(uid="X")])
    assert mapping.location_to_canonical(_out(hidden), CPO).publish is True


def test_time_zone_postal_code_address_and_state_follow_2_1_1_cardinalities() -> None:
    w = _out(replace(LOCATION, time_zone="", postal_code=None, address="A" * 60, state="Utrecht"))
    assert (w.time_zone, w.postal_code, w.address) == (None, "", "A" * 45)
    back = mapping.location_to_canonical(w, CPO)
    assert (back.time_zone, back.postal_code, back.state) == ("Europe/Amsterdam", None, None)  # the country's zone


def test_a_missing_time_zone_is_the_countrys_where_it_has_one() -> None:
    for country, lon, zone in [("DEU", "13.4", "Europe/Berlin"), ("ESP", "-3.7", "Europe/Madrid"), ("ESP", "-15.4", "Atlantic/Canary"),
                               ("PRT", "-9.1", "Europe/Lisbon"), ("PRT", "-16.9", "Atlantic/Madeira"), ("PRT", "-25.6", "Atlantic/Azores"),
                               ("USA", "-74.0", "")]:
        assert mapping.time_zone_of(country, lon) == zone


def test_coordinates_go_out_with_six_decimals() -> None:
    assert _out(LOCATION).coordinates == wire.GeoLocation(latitude="52.100000", longitude="5.123457")


def test_twentyfourseven_absent_comes_in_false() -> None:
    w = msgspec.structs.replace(_out(LOCATION), opening_times=wire.Hours(regular_hours=[wire.RegularHours(weekday=1, period_begin="08:00", period_end="20:00")]))
    assert mapping.location_to_canonical(w, CPO).opening_times.twentyfourseven is False


def test_connector_goes_out_with_its_first_tariff_and_its_maxima_as_voltage_and_amperage() -> None:
    c = mapping.connector_from_canonical(LOCATION.evses[0].connectors[0])
    assert (c.tariff_id, c.voltage, c.amperage) == ("REG", 230, 32)
    assert mapping.connector_to_canonical(c) == replace(LOCATION.evses[0].connectors[0], tariff_ids=["REG"], max_electric_power=None)


@pytest.mark.parametrize("standard,nearest", [("CHAOJI", "CHADEMO"), ("NEMA_5_20", "DOMESTIC_B"), ("DOMESTIC_M", "DOMESTIC_D"), ("DOMESTIC_N", "DOMESTIC_J")])
def test_a_new_standard_with_2_1_1_kin_goes_out_as_its_nearest(standard: Any, nearest: str) -> None:
    assert mapping.connector_from_canonical(replace(LOCATION.evses[0].connectors[0], standard=standard)).standard == nearest


def test_a_connector_2_1_1_cannot_name_is_left_out_of_a_location_and_its_evse_with_it() -> None:
    assert [c.id for c in _out(LOCATION).evses[0].connectors] == ["1"]
    gbt_only = replace(LOCATION.evses[0], connectors=[LOCATION.evses[0].connectors[1]])
    assert mapping.connector_from_canonical(gbt_only.connectors[0]) is None and mapping.evse_from_canonical(gbt_only) is None
    assert _out(replace(LOCATION, evses=[gbt_only])).evses is None


def test_2_phase_power_types_go_out_as_1_phase_and_unknown_capabilities_and_facilities_are_left_out() -> None:
    c = replace(LOCATION.evses[0].connectors[0], power_type="AC_2_PHASE_SPLIT")
    e = replace(LOCATION.evses[0], connectors=[c], capabilities=["RESERVABLE", "PED_TERMINAL", "RFID_READER"])
    w = _out(replace(LOCATION, evses=[e], facilities=["HOTEL", "METRO_STATION"]))
    assert (w.evses[0].connectors[0].power_type, w.evses[0].capabilities, w.facilities) == ("AC_1_PHASE", ["RESERVABLE", "RFID_READER"], ["HOTEL"])


# --- unknown and 2.2.1-only values on input ---------------------------------------------------------


@pytest.mark.parametrize("body,path", [
    (b'{"status": "BROKEN"}', "$.status"),  # unknown everywhere
    (b'{"capabilities": ["PED_TERMINAL"]}', "$.capabilities[0]"),  # only 2.2.1 has it
])
def test_a_value_2_1_1_does_not_define_is_rejected_as_2_2_1_rejects_its_unknown_values(body: bytes, path: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=path.replace("$", r"\$").replace("[", r"\[")):
        wire.decode(body, wire.EvsePatch)


def test_a_token_type_only_2_2_1_has_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.type"):
        wire.decode(b'{"type": "APP_USER"}', wire.TokenPatch)


def test_a_custom_module_id_is_kept() -> None:
    details = wire.decode(b'{"version": "2.1.1", "endpoints": [{"identifier": "nltnm-tokens", "url": "https://x/t"}]}', wire.VersionDetails)
    assert details.endpoints[0].identifier == "nltnm-tokens"


def test_datetimes_are_read_leniently_and_go_out_in_z_form() -> None:
    changes = mapping.token_patch_changes(wire.decode(b'{"last_updated": "2020-01-01T02:00:00+02:00"}', wire.TokenPatch))
    assert changes["last_updated"] == datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert mapping.parse_datetime("2016-12-29T17:45:09") == datetime(2016, 12, 29, 17, 45, 9, tzinfo=timezone.utc)
    assert mapping.format_datetime(datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=timezone.utc)) == "2016-12-29T17:45:09.200Z"


# --- tokens and tariffs --------------------------------------------------------------------------------

TOKEN = m.Token(country_code="DE", party_id="8AC", uid="04AB", type="APP_USER", contract_id="DE8ACC12E46L89", issuer="X",
                valid=True, whitelist="ALLOWED", last_updated=T0, group_id="G", energy_contract=m.EnergyContract("S"))


def test_auth_id_is_the_contract_id_and_app_users_go_out_as_other() -> None:
    w = mapping.token_from_canonical(TOKEN)
    assert (w.auth_id, w.type, w.uid) == ("DE8ACC12E46L89", "OTHER", "04AB")
    assert mapping.token_patch_changes(wire.decode(b'{"auth_id": "NL-TNM-X"}', wire.TokenPatch)) == {"contract_id": "NL-TNM-X"}


def test_authorization_info_comes_in_with_the_token_asked_about() -> None:
    w = wire.AuthorizationInfo(allowed="ALLOWED", location=wire.LocationReferences(location_id="L1", evse_uids=["E1"], connector_ids=["1"]))
    info = mapping.authorization_info_to_canonical(w, TOKEN)
    assert info.token is TOKEN and info.location == m.LocationReferences("L1", ["E1"])
    assert mapping.authorization_info_from_canonical(info) == wire.AuthorizationInfo(
        allowed="ALLOWED", location=wire.LocationReferences(location_id="L1", evse_uids=["E1"]))


def _tariff(*restrictions: m.TariffRestrictions | None) -> m.Tariff:
    return m.Tariff(country_code="NL", party_id="CPO", id="T", currency="EUR", last_updated=T0, type="REGULAR",
                    max_price=m.Price(Decimal(9)), elements=[
                        m.TariffElement([m.PriceComponent("TIME", Decimal(i + 1), 60, vat=Decimal(21))], r) for i, r in enumerate(restrictions)])


def test_a_tariff_element_2_1_1_cannot_restrict_is_left_out() -> None:
    w = mapping.tariff_from_canonical(_tariff(m.TariffRestrictions(max_current=Decimal(16)), m.TariffRestrictions(reservation="RESERVATION"), None))
    assert [e.price_components[0].price for e in w.elements] == [3.0]
    assert b"vat" not in wire.encode(w) and b"max_price" not in wire.encode(w) and b"REGULAR" not in wire.encode(w)


def test_a_tariff_with_no_element_2_1_1_can_express_is_unmappable_and_left_out_of_a_cdr() -> None:
    with pytest.raises(mapping.Unmappable, match="elements"):
        mapping.tariff_from_canonical(_tariff(m.TariffRestrictions(min_current=Decimal(1))))
    assert mapping.cdr_from_canonical(replace(CDR, tariffs=[_tariff(m.TariffRestrictions(min_current=Decimal(1))), _tariff(None)])).tariffs == [
        mapping.tariff_from_canonical(_tariff(None))]


# --- sessions and CDRs --------------------------------------------------------------------------------

CDR_TOKEN = m.CdrToken(country_code="DE", party_id="8AC", uid="04AB", type="RFID", contract_id="DE8ACC12E46L89")
SESSION = m.Session(
    country_code="NL", party_id="CPO", id="S1", start_date_time=T0, kwh=Decimal("1.5"), cdr_token=CDR_TOKEN, auth_method="COMMAND",
    location_id="L1", evse_uid="E1", connector_id="2", currency="EUR", status="RESERVATION", last_updated=T0,
    authorization_reference="R", total_cost=m.Price(Decimal("2.5"), Decimal("3.0")),
    charging_periods=[m.ChargingPeriod(T0, [m.CdrDimension("STATE_OF_CHARGE", Decimal(50))]),
                      m.ChargingPeriod(T0, [m.CdrDimension("POWER", Decimal(7)), m.CdrDimension("ENERGY", Decimal(1))], tariff_id="REG")],
)
CDR = m.Cdr(
    country_code="NL", party_id="CPO", id="C1", start_date_time=T0, end_date_time=T0, cdr_token=CDR_TOKEN, auth_method="WHITELIST",
    cdr_location=m.CdrLocation(id="L1", address="Old Street 9", city="Utrecht", country="NLD", coordinates=m.GeoPoint(Decimal("52.1"), Decimal("5.123457")),
                               evse_uid="E1", evse_id="NL*CPO*E1", connector_id="1", connector_standard="IEC_62196_T2",
                               connector_format="CABLE", connector_power_type="AC_3_PHASE", postal_code="3511"),
    currency="EUR", charging_periods=[m.ChargingPeriod(T0, [m.CdrDimension("TIME", Decimal(1))])],
    total_cost=m.Price(Decimal("4.0"), Decimal("4.84")), total_energy=Decimal(10), total_time=Decimal(1), last_updated=T0,
    session_id="S1", total_energy_cost=m.Price(Decimal(3)),
)


def test_a_session_goes_out_with_its_contract_id_and_its_location_trimmed_to_its_evse_and_connector() -> None:
    w = mapping.session_from_canonical(SESSION, LOCATION)
    assert w.auth_id == "DE8ACC12E46L89" and w.location.id == "L1"
    assert [(e.uid, [c.id for c in e.connectors]) for e in w.location.evses] == [("E1", ["2"])]
    assert w.location.evses[0].connectors[0].standard == "IEC_62196_T2_COMBO"  # GBT_DC must stay here: as the DC default


def test_a_session_status_and_auth_method_2_1_1_lacks_go_out_as_their_nearest() -> None:
    w = mapping.session_from_canonical(SESSION, LOCATION)
    assert (w.status, w.auth_method) == ("PENDING", "AUTH_REQUEST")


def test_total_cost_is_the_price_excluding_vat() -> None:
    assert mapping.session_from_canonical(SESSION, LOCATION).total_cost == 2.5
    assert mapping.cdr_from_canonical(CDR, LOCATION).total_cost == 4.0


def test_dimensions_2_1_1_lacks_are_left_out_going_out_and_flat_coming_in() -> None:
    w = mapping.session_from_canonical(SESSION, LOCATION)
    assert [[d.type for d in p.dimensions] for p in w.charging_periods] == [["ENERGY"]]
    patch = wire.decode(b'{"charging_periods": [{"start_date_time": "2024-05-01T12:00:00Z", "dimensions": [{"type": "FLAT", "volume": 1}]},'
                        b'{"start_date_time": "2024-05-01T13:00:00Z", "dimensions": [{"type": "FLAT", "volume": 1}, {"type": "TIME", "volume": 1}]}]}',
                        wire.SessionPatch)
    assert mapping.session_patch_changes(patch)["charging_periods"] == [
        m.ChargingPeriod(datetime(2024, 5, 1, 13, tzinfo=timezone.utc), [m.CdrDimension("TIME", Decimal(1))])]


def test_the_token_of_a_session_is_the_one_the_caller_knows_or_read_from_the_ema_id() -> None:
    w = mapping.session_from_canonical(SESSION, LOCATION)
    assert mapping.session_to_canonical(w, CPO, token=CDR_TOKEN).cdr_token == CDR_TOKEN
    assert mapping.session_to_canonical(w, CPO).cdr_token == m.CdrToken("DE", "8AC", "DE8ACC12E46L89", "OTHER", "DE8ACC12E46L89")
    assert mapping.cdr_token_for("nl-tnm-c12345678-x").owner_party == m.PartyId("NL", "TNM")
    with pytest.raises(mapping.Unmappable, match="auth_id"):
        mapping.session_to_canonical(msgspec.structs.replace(w, auth_id="FA54320"), CPO)


def test_a_session_at_an_evse_the_location_lacks_goes_out_without_evses_and_comes_back_as_na() -> None:
    w = mapping.session_from_canonical(replace(SESSION, evse_uid=mapping.NA, connector_id=mapping.NA), LOCATION)
    assert w.location.evses is None
    back = mapping.session_to_canonical(wire.decode(wire.encode(w), wire.Session), CPO, token=CDR_TOKEN)
    assert (back.location_id, back.evse_uid, back.connector_id) == ("L1", mapping.NA, mapping.NA)


def test_a_cdr_location_snapshot_overrides_the_location_passed() -> None:
    w = mapping.cdr_from_canonical(CDR, LOCATION)
    assert (w.location.address, w.location.postal_code, w.location.time_zone) == ("Old Street 9", "3511", "Europe/Amsterdam")
    assert w.location.evses[0].connectors[0].format == "CABLE" and w.location.evses[0].connectors[0].voltage == 230
    assert w.stop_date_time == "2024-05-01T12:00:00Z" and w.auth_id == CDR_TOKEN.contract_id


def test_a_cdr_without_a_location_fills_the_gaps_and_keeps_its_cdr_location() -> None:
    w = wire.decode(wire.encode(mapping.cdr_from_canonical(CDR)), wire.Cdr)
    assert (w.location.type, w.location.evses[0].status, w.location.evses[0].connectors[0].voltage) == ("UNKNOWN", "UNKNOWN", 0)
    back = mapping.cdr_to_canonical(w, CPO, token=CDR_TOKEN)
    assert back == replace(CDR, session_id=None, total_cost=m.Price(Decimal("4.0")), total_energy_cost=None)


def test_a_cdr_whose_location_names_no_connector_is_unmappable() -> None:
    w = msgspec.structs.replace(mapping.cdr_from_canonical(CDR, LOCATION), location=_out(replace(LOCATION, evses=[])))
    with pytest.raises(mapping.Unmappable, match="location.evses"):
        mapping.cdr_to_canonical(w, CPO, token=CDR_TOKEN)


# --- commands -------------------------------------------------------------------------------------------


def test_start_session_carries_the_token_owned_by_the_sending_emsp_and_its_reference_but_no_connector() -> None:
    cmd = m.StartSession(token=replace(TOKEN, type="RFID", group_id=None, energy_contract=None), location_id="L1", evse_uid="E1",
                         connector_id="2", authorization_reference="R")
    w = wire.decode(wire.encode(mapping.command_request_from_canonical(cmd, "https://emsp/r/1")), wire.StartSession)
    assert w.response_url == "https://emsp/r/1" and w.authorization_id == "R"  # Gireve's extension
    assert mapping.start_session_to_canonical(w, EMSP) == replace(cmd, connector_id=None)


def test_the_authorization_reference_travels_as_gireves_authorization_id() -> None:
    info = m.AuthorizationInfo(allowed="ALLOWED", token=TOKEN, authorization_reference="AUTH-1")
    w = mapping.authorization_info_from_canonical(info)
    assert w.authorization_id == "AUTH-1" and mapping.authorization_info_to_canonical(w, TOKEN).authorization_reference == "AUTH-1"
    session = mapping.session_from_canonical(replace(SESSION, authorization_reference="AUTH-1"), LOCATION)
    assert session.authorization_id == "AUTH-1"
    assert mapping.session_to_canonical(session, CPO, CDR_TOKEN).authorization_reference == "AUTH-1"
    cdr = mapping.cdr_from_canonical(replace(CDR, authorization_reference="AUTH-1"), LOCATION)
    assert cdr.authorization_id == "AUTH-1" and mapping.cdr_to_canonical(cdr, CPO, CDR_TOKEN).authorization_reference == "AUTH-1"
    assert b"authorization_id" not in wire.encode(mapping.session_from_canonical(replace(SESSION, authorization_reference=None), LOCATION))


def test_reserve_now_needs_a_numeric_reservation_id() -> None:
    cmd = m.ReserveNow(token=replace(TOKEN, type="RFID", group_id=None, energy_contract=None), expiry_date=T0, reservation_id="42",
                       location_id="L1")
    w = wire.decode(wire.encode(mapping.command_request_from_canonical(cmd, "https://emsp/r/2")), wire.ReserveNow)
    assert w.reservation_id == 42 and mapping.reserve_now_to_canonical(w, EMSP) == cmd
    with pytest.raises(mapping.Unmappable, match="reservation_id"):
        mapping.command_request_from_canonical(replace(cmd, reservation_id="R-42"), "https://emsp/r/2")


def test_stop_and_unlock_survive_the_wire_and_cancel_reservation_is_unmappable() -> None:
    stop, unlock = m.StopSession(session_id="S1"), m.UnlockConnector(location_id="L1", evse_uid="E1", connector_id="1")
    assert mapping.stop_session_to_canonical(mapping.command_request_from_canonical(stop, "https://e/r")) == stop
    assert mapping.unlock_connector_to_canonical(mapping.command_request_from_canonical(unlock, "https://e/r")) == unlock
    with pytest.raises(mapping.Unmappable, match="CancelReservation"):
        mapping.command_request_from_canonical(m.CancelReservation(reservation_id="1"), "https://e/r")


@pytest.mark.parametrize("sent,response,result", [
    ("ACCEPTED", "ACCEPTED", "ACCEPTED"), ("TIMEOUT", "REJECTED", "TIMEOUT"), ("UNKNOWN_SESSION", "UNKNOWN_SESSION", "REJECTED"),
    ("NOT_SUPPORTED", "NOT_SUPPORTED", "NOT_SUPPORTED"),
])
def test_command_response_is_both_the_answer_and_the_result(sent: Any, response: str, result: str) -> None:
    w = wire.CommandResponse(result=sent)
    assert mapping.command_response_to_canonical(w) == m.CommandResponse(result=response, timeout=mapping.COMMAND_TIMEOUT)
    assert mapping.command_result_to_canonical(w) == m.CommandResult(result=result)


@pytest.mark.parametrize("result,sent", [("ACCEPTED", "ACCEPTED"), ("EVSE_OCCUPIED", "REJECTED"), ("FAILED", "REJECTED"),
                                         ("TIMEOUT", "TIMEOUT"), ("CANCELED_RESERVATION", "ACCEPTED")])
def test_a_canonical_command_result_goes_out_as_a_2_1_1_command_response(result: Any, sent: str) -> None:
    assert mapping.command_result_from_canonical(m.CommandResult(result=result)).result == sent
    assert mapping.command_response_from_canonical(m.CommandResponse(result="UNKNOWN_SESSION", timeout=5)).result == "UNKNOWN_SESSION"


def test_a_patch_sets_only_the_fields_sent_under_their_canonical_names() -> None:
    p = wire.decode(b'{"type": "OTHER", "postal_code": "", "evses": [{"uid": "E9", "status": "AVAILABLE", "last_updated": "2024-05-01T12:00:00Z",'
                    b'"connectors": [{"id": "1", "standard": "CHADEMO", "format": "CABLE", "power_type": "DC", "voltage": 500,'
                    b'"amperage": 125, "tariff_id": "T", "last_updated": "2024-05-01T12:00:00Z"}]}]}', wire.LocationPatch)
    changes = mapping.location_patch_changes(p)
    assert set(changes) == {"parking_type", "postal_code", "evses"} and changes["parking_type"] is None
    assert changes["evses"][0].connectors[0].max_voltage == 500 and changes["evses"][0].connectors[0].tariff_ids == ["T"]
