"""Hypothesis strategies for canonical objects that fit what OCPI 2.2.1 can carry: strings within its
lengths, UTC datetimes with millisecond precision, money with up to 4 decimals, coordinates with 5-7."""

from __future__ import annotations

import string
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, get_args

from hypothesis import strategies as st

from hub import model as m

ASCII = string.ascii_letters + string.digits + " -_.*/:"


def ci(n: int, min_size: int = 1) -> st.SearchStrategy[str]:
    return st.text(alphabet=ASCII, min_size=min_size, max_size=n)


def code(n: int) -> st.SearchStrategy[str]:
    """country_code / party_id: the canonical model holds them upper case."""
    return st.text(alphabet=string.ascii_uppercase + string.digits, min_size=n, max_size=n)


def text(n: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=n)


def enum(literal: Any) -> st.SearchStrategy[str]:
    return st.sampled_from(get_args(literal))


def opt(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


def lists(strategy: st.SearchStrategy, min_size: int = 0, max_size: int = 2) -> st.SearchStrategy[list]:
    return st.lists(strategy, min_size=min_size, max_size=max_size)


times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(timezone.utc)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
)
money = st.decimals(min_value=Decimal("-10000"), max_value=Decimal("10000"), places=4, allow_nan=False, allow_infinity=False)
positive = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=4, allow_nan=False, allow_infinity=False)
hhmm = st.builds(lambda h, mi: f"{h:02d}:{mi:02d}", st.integers(0, 23), st.integers(0, 59))
day = st.dates().map(lambda d: d.isoformat())


def coordinate(limit: int) -> st.SearchStrategy[Decimal]:
    """5-7 decimals, within the spec's length (10 characters for a latitude, 11 for a longitude)."""
    length = 10 if limit == 90 else 11
    return st.integers(5, 7).flatmap(
        lambda places: st.decimals(min_value=-limit, max_value=limit, places=places, allow_nan=False, allow_infinity=False)
    ).filter(lambda d: len(f"{d:f}") <= length)


geo = st.builds(m.GeoPoint, latitude=coordinate(90), longitude=coordinate(180))
display_text = st.builds(m.DisplayText, language=st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=2), text=text(512))
price = st.builds(m.Price, excl_vat=money, incl_vat=opt(money))
image = st.builds(m.Image, url=ci(255), category=enum(m.ImageCategory), type=st.sampled_from(["png", "jpeg", "gif", "svg"]),
                  thumbnail=opt(ci(255)), width=opt(st.integers(0, 99999)), height=opt(st.integers(0, 99999)))
business = st.builds(m.BusinessDetails, name=text(100), website=opt(ci(255)), logo=opt(image))
period = st.builds(m.ExceptionalPeriod, period_begin=times, period_end=times)
hours = st.builds(
    m.Hours, twentyfourseven=st.booleans(),
    regular_hours=lists(st.builds(m.RegularHours, weekday=st.integers(1, 7), period_begin=hhmm, period_end=hhmm)),
    exceptional_openings=lists(period), exceptional_closings=lists(period),
)
energy_mix = st.builds(
    m.EnergyMix, is_green_energy=st.booleans(),
    energy_sources=lists(st.builds(m.EnergySource, source=enum(m.EnergySourceCategory), percentage=positive)),
    environ_impact=lists(st.builds(m.EnvironmentalImpact, category=enum(m.EnvironmentalImpactCategory), amount=positive)),
    supplier_name=opt(text(64)), energy_product_name=opt(text(64)),
)
connector = st.builds(
    m.Connector, id=ci(36), standard=enum(m.ConnectorStandard), format=enum(m.ConnectorFormat), power_type=enum(m.PowerType),
    max_voltage=st.integers(0, 1000), max_amperage=st.integers(0, 1000), last_updated=times,
    max_electric_power=opt(st.integers(0, 400_000)), tariff_ids=lists(ci(36)), terms_and_conditions=opt(ci(255)),
)
evse = st.builds(
    m.Evse, uid=ci(36), status=enum(m.EvseStatus), connectors=lists(connector, min_size=1), last_updated=times,
    evse_id=opt(ci(48)), capabilities=lists(enum(m.Capability)), floor_level=opt(text(4)), coordinates=opt(geo),
    physical_reference=opt(text(16)), directions=lists(display_text), parking_restrictions=lists(enum(m.ParkingRestriction)),
    images=lists(image),
    status_schedule=lists(st.builds(m.StatusSchedule, period_begin=times, status=enum(m.EvseStatus), period_end=opt(times))),
)
location = st.builds(
    m.Location, country_code=code(2), party_id=code(3), id=ci(36), publish=st.booleans(), address=text(255), city=text(45),
    country=st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3), coordinates=geo, time_zone=text(255),
    last_updated=times, name=opt(text(255)), postal_code=opt(text(10)), state=opt(text(45)),
    related_locations=lists(st.builds(m.AdditionalGeoPoint, latitude=coordinate(90), longitude=coordinate(180), name=opt(display_text))),
    parking_type=opt(enum(m.ParkingType)), evses=lists(evse), directions=lists(display_text), operator=opt(business),
    suboperator=opt(business), owner=opt(business), facilities=lists(enum(m.Facility)), opening_times=opt(hours),
    charging_when_closed=opt(st.booleans()), images=lists(image), energy_mix=opt(energy_mix),
    publish_allowed_to=lists(st.builds(m.PublishTokenType, uid=opt(ci(36)), type=opt(enum(m.TokenType)),
                                       visual_number=opt(text(64)), issuer=opt(text(64)), group_id=opt(ci(36)))),
)
restrictions = st.builds(
    m.TariffRestrictions, start_time=opt(hhmm), end_time=opt(hhmm), start_date=opt(day), end_date=opt(day), min_kwh=opt(positive),
    max_kwh=opt(positive), min_current=opt(positive), max_current=opt(positive), min_power=opt(positive), max_power=opt(positive),
    min_duration=opt(st.integers(0, 10**6)), max_duration=opt(st.integers(0, 10**6)), day_of_week=lists(enum(m.DayOfWeek)),
    reservation=opt(enum(m.ReservationRestrictionType)),
)
tariff = st.builds(
    m.Tariff, country_code=code(2), party_id=code(3), id=ci(36), currency=st.sampled_from(["EUR", "GBP", "CHF"]),
    elements=lists(st.builds(m.TariffElement, price_components=lists(
        st.builds(m.PriceComponent, type=enum(m.TariffDimensionType), price=money, step_size=st.integers(0, 3600), vat=opt(positive)),
        min_size=1), restrictions=opt(restrictions)), min_size=1),
    last_updated=times, type=opt(enum(m.TariffType)), tariff_alt_text=lists(display_text), tariff_alt_url=opt(ci(255)),
    min_price=opt(price), max_price=opt(price), start_date_time=opt(times), end_date_time=opt(times), energy_mix=opt(energy_mix),
)
token = st.builds(
    m.Token, country_code=code(2), party_id=code(3), uid=ci(36), type=enum(m.TokenType), contract_id=ci(36), issuer=text(64),
    valid=st.booleans(), whitelist=enum(m.WhitelistType), last_updated=times, visual_number=opt(text(64)), group_id=opt(ci(36)),
    language=opt(st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=2)), default_profile_type=opt(enum(m.ProfileType)),
    energy_contract=opt(st.builds(m.EnergyContract, supplier_name=text(64), contract_id=opt(text(64)))),
)
cdr_token = st.builds(m.CdrToken, country_code=code(2), party_id=code(3), uid=ci(36), type=enum(m.TokenType), contract_id=ci(36))
charging_period = st.builds(
    m.ChargingPeriod, start_date_time=times,
    dimensions=lists(st.builds(m.CdrDimension, type=enum(m.CdrDimensionType), volume=positive), min_size=1), tariff_id=opt(ci(36)),
)
session = st.builds(
    m.Session, country_code=code(2), party_id=code(3), id=ci(36), start_date_time=times, kwh=positive, cdr_token=cdr_token,
    auth_method=enum(m.AuthMethod), location_id=ci(36), evse_uid=ci(36), connector_id=ci(36), currency=st.just("EUR"),
    status=enum(m.SessionStatus), last_updated=times, end_date_time=opt(times), authorization_reference=opt(ci(36)),
    meter_id=opt(text(255)), charging_periods=lists(charging_period), total_cost=opt(price),
)
cdr_location = st.builds(
    m.CdrLocation, id=ci(36), address=text(45), city=text(45), country=st.just("NLD"), coordinates=geo, evse_uid=ci(36),
    evse_id=ci(48), connector_id=ci(36), connector_standard=enum(m.ConnectorStandard), connector_format=enum(m.ConnectorFormat),
    connector_power_type=enum(m.PowerType), name=opt(text(255)), postal_code=opt(text(10)), state=opt(text(20)),
)
signed_data = st.builds(
    m.SignedData, encoding_method=ci(36),
    signed_values=lists(st.builds(m.SignedValue, nature=ci(32), plain_data=text(200), signed_data=text(200)), min_size=1),
    encoding_method_version=opt(st.integers(0, 10)), public_key=opt(text(512)), url=opt(text(512)),
)
cdr = st.builds(
    m.Cdr, country_code=code(2), party_id=code(3), id=ci(36), start_date_time=times, end_date_time=times, cdr_token=cdr_token,
    auth_method=enum(m.AuthMethod), cdr_location=cdr_location, currency=st.just("EUR"),
    charging_periods=lists(charging_period, min_size=1), total_cost=price, total_energy=positive, total_time=positive,
    last_updated=times, session_id=opt(ci(36)), authorization_reference=opt(ci(36)), meter_id=opt(text(255)),
    tariffs=lists(tariff, max_size=1), signed_data=opt(signed_data), total_fixed_cost=opt(price), total_energy_cost=opt(price),
    total_time_cost=opt(price), total_parking_time=opt(positive), total_parking_cost=opt(price),
    total_reservation_cost=opt(price), remark=opt(text(255)), invoice_reference_id=opt(ci(39)), credit=opt(st.booleans()),
    credit_reference_id=opt(ci(39)), home_charging_compensation=opt(st.booleans()),
)
start_session = st.builds(m.StartSession, token=token, location_id=ci(36), evse_uid=opt(ci(36)), connector_id=opt(ci(36)),
                          authorization_reference=opt(ci(36)))
reserve_now = st.builds(m.ReserveNow, token=token, expiry_date=times, reservation_id=ci(36), location_id=ci(36),
                        evse_uid=opt(ci(36)), authorization_reference=opt(ci(36)))
charging_profile = st.builds(
    m.ChargingProfile, charging_rate_unit=enum(m.ChargingRateUnit), start_date_time=opt(times), duration=opt(st.integers(0, 86400)),
    min_charging_rate=opt(st.decimals(min_value=0, max_value=1000, places=1)),
    charging_profile_period=lists(st.builds(m.ChargingProfilePeriod, start_period=st.integers(0, 86400),
                                            limit=st.decimals(min_value=0, max_value=1000, places=1))),
)
