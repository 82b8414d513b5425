"""The canonical model -> partner REST wire types. Pure: no I/O.

Decisions a consumer can see:
- ids are `{CC}{PID}-{ocpi id}` (protocols/partner/ids.py), a token's `{CC}{PID}-{TYPE}-{uid}`; connectors'
  tariffIds are REST tariff ids too;
- money is in ISO 4217 minor units, rounded half-even; `cost`/`totalCost` are incl. VAT, or excl. VAT
  when the CPO sent no VAT figure (OCPI leaves incl_vat out when VAT does not apply);
- the canonical model has no creation time: createdAt is the session start for a charge and
  last_updated otherwise, unless the store knows better (Extras);
- EVSEs with status REMOVED still map (the endpoints decide whether to list them) but a site does not
  count them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from msgspec import Struct

from hub import model
from protocols.partner import ids, wire

# ISO 4217 currencies whose minor unit is not 1/100; any other currency has 2 decimals.
CURRENCY_DECIMALS: dict[str, int] = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                     "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}

# OCPI EvseStatus -> Monta charge point state.
CHARGE_POINT_STATES: dict[str, wire.ChargePointState] = {
    "AVAILABLE": "available",
    "CHARGING": "busy-charging",
    "BLOCKED": "busy-blocked",
    "RESERVED": "busy-reserved",
    "INOPERATIVE": "passive",
    "OUTOFORDER": "error",
    "PLANNED": "passive",
    "REMOVED": "passive",
    "UNKNOWN": "disconnected",
}

# OCPI SessionStatus -> charge state. A session still ACTIVE but with an end time has stopped charging and
# awaits its CPO's COMPLETED: that one is "stopped" (see charge()).
CHARGE_STATES: dict[str, wire.ChargeState] = {
    "ACTIVE": "charging",
    "PENDING": "starting",
    "RESERVATION": "starting",
    "COMPLETED": "completed",
    "INVALID": "failed",
}

# OCPI TokenType -> chargeAuth type.
AUTH_TYPES: dict[str, wire.ChargeAuthType] = {"RFID": "rfid", "APP_USER": "app", "AD_HOC_USER": "other", "OTHER": "other"}


class ChargerInfo(Struct, kw_only=True, frozen=True):
    """What the OCPP central system knows of the charger behind an EVSE (None: not one of ours)."""

    identity: str
    connector_id: int
    connected: bool
    last_connected_at: datetime | None = None


class Extras(Struct, kw_only=True, frozen=True):
    """What the store keeps beside a canonical object: its creation time and the partner's own fields."""

    created_at: datetime | None = None
    partner_external_id: str | None = None
    partner_custom_payload: Any = None


_NO_EXTRAS = Extras()


# --- values --------------------------------------------------------------------------------------


def currency(code: str) -> wire.Currency:
    code = code.upper()
    return wire.Currency(identifier=code, decimals=CURRENCY_DECIMALS.get(code, 2))


def money(amount: Decimal, currency_code: str) -> wire.Money:
    """`amount` (major units) in integer minor units, rounded half-even."""
    cur = currency(currency_code)
    minor = amount.scaleb(cur.decimals).to_integral_value(rounding=ROUND_HALF_EVEN)
    return wire.Money(amount=int(minor), currency=cur)


def _costs(price: model.Price, currency_code: str) -> tuple[wire.Money, wire.Money]:
    """(incl. VAT, excl. VAT); incl. falls back to excl. when no VAT figure was sent."""
    excl = money(price.excl_vat, currency_code)
    return (money(price.incl_vat, currency_code) if price.incl_vat is not None else excl), excl


def _coordinates(point: model.GeoPoint) -> wire.Coordinates:
    return wire.Coordinates(latitude=float(point.latitude), longitude=float(point.longitude))


def _location(loc: model.Location, point: model.GeoPoint | None = None) -> wire.Location:
    address = wire.Address(address1=loc.address, zip=loc.postal_code, city=loc.city, country=loc.country, state=loc.state)
    return wire.Location(coordinates=_coordinates(point or loc.coordinates), address=address)


def _kw(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# --- sites and charge points ---------------------------------------------------------------------


def connector_max_kw(c: model.Connector) -> float:
    """max_electric_power when the CPO gives it, else what voltage and current allow."""
    if c.max_electric_power is not None:
        return c.max_electric_power / 1000
    phases = 3 if c.power_type == "AC_3_PHASE" else 1
    return c.max_voltage * c.max_amperage * phases / 1000


def evse_max_kw(evse: model.Evse) -> float | None:
    return max((connector_max_kw(c) for c in evse.connectors), default=None)


def charge_point_state(evse_status: str, connected: bool | None) -> wire.ChargePointState:
    """`connected` is None when no charger of the central system is behind the EVSE (a roaming EVSE)."""
    if connected is False:
        return "disconnected"  # the CPO's status is stale while its charger is offline
    return CHARGE_POINT_STATES.get(evse_status, "other")


def charge_point_query(state: wire.ChargePointState) -> tuple[frozenset[str], bool]:
    """charge_point_state inverted, for a filter: the EVSE statuses that give `state` while the charger (if one of the
    central system's) is connected, and whether an EVSE of a disconnected charger has it."""
    return frozenset(s for s, mapped in CHARGE_POINT_STATES.items() if mapped == state), state == "disconnected"


def _hours(hours: model.Hours | None) -> wire.OpeningHours | None:
    if hours is None:
        return None
    regular = [wire.RegularHours(weekday=h.weekday, period_begin=h.period_begin, period_end=h.period_end)
               for h in hours.regular_hours]
    return wire.OpeningHours(twentyfourseven=hours.twentyfourseven, regular_hours=regular)


def site(loc: model.Location, *, extras: Extras | None = None) -> wire.Site:
    extras = extras or _NO_EXTRAS
    owner = loc.owner_party
    live = [e for e in loc.evses if e.status != "REMOVED"]
    return wire.Site(
        id=ids.make(owner, loc.id),
        name=loc.name or f"{loc.address}, {loc.city}",  # OCPI name is optional; Monta's is not
        location=_location(loc),
        opening_hours=_hours(loc.opening_times),
        time_zone=loc.time_zone,
        charge_point_count=len(live),
        available_charge_point_count=sum(e.status == "AVAILABLE" for e in live),
        max_kw=max((kw for e in live if (kw := evse_max_kw(e)) is not None), default=None),
        visibility="public" if loc.publish else "private",
        ocpi=wire.SiteOcpi(country_code=owner.country_code, party_id=owner.party_id, location_id=loc.id),
        operator=wire.Operator(name=loc.operator.name) if loc.operator else None,
        created_at=extras.created_at or loc.last_updated,
        updated_at=loc.last_updated,
        partner_external_id=extras.partner_external_id,
        partner_custom_payload=extras.partner_custom_payload,
    )


def _connector(owner: model.PartyId, c: model.Connector) -> wire.Connector:
    return wire.Connector(
        identifier=c.id, standard=c.standard, format=c.format, power_type=c.power_type, max_kw=connector_max_kw(c),
        tariff_ids=[ids.make(owner, t) for t in c.tariff_ids],
    )


def charge_point(
    loc: model.Location, evse: model.Evse, charger: ChargerInfo | None = None, *, extras: Extras | None = None,
) -> wire.ChargePoint:
    extras = extras or _NO_EXTRAS
    owner = loc.owner_party
    ocpp = None
    if charger is not None:
        ocpp = wire.Ocpp(identity=charger.identity, connector_id=charger.connector_id, connected=charger.connected,
                         last_connected_at=charger.last_connected_at)
    current: wire.CurrentType | None = None
    if evse.connectors:
        current = "dc" if any(c.power_type == "DC" for c in evse.connectors) else "ac"
    return wire.ChargePoint(
        id=ids.make(owner, evse.uid),
        site_id=ids.make(owner, loc.id),
        evse_id=evse.evse_id,
        name=evse.physical_reference,  # the label printed on the EVSE, when the CPO gives one
        state=charge_point_state(evse.status, charger.connected if charger else None),
        ocpi_status=evse.status,
        type=current,
        max_kw=evse_max_kw(evse),
        connectors=[_connector(owner, c) for c in evse.connectors],
        location=_location(loc, evse.coordinates),  # an EVSE's own coordinates are the more precise
        ocpp=ocpp,
        ocpi=wire.ChargePointOcpi(country_code=owner.country_code, party_id=owner.party_id, location_id=loc.id,
                                  evse_uid=evse.uid),
        created_at=extras.created_at or evse.last_updated,
        updated_at=evse.last_updated,
        partner_external_id=extras.partner_external_id,
        partner_custom_payload=extras.partner_custom_payload,
    )


# --- charges and CDRs ----------------------------------------------------------------------------


def charge_auth(token: model.CdrToken) -> wire.ChargeAuth:
    return wire.ChargeAuth(type=AUTH_TYPES.get(token.type, "other"), id=token.uid)


def charge_state(session: model.Session) -> wire.ChargeState:
    if session.status == "ACTIVE" and session.end_date_time is not None:
        return "stopped"
    return CHARGE_STATES.get(session.status, "failed")


def charge_query(state: wire.ChargeState) -> tuple[frozenset[str], bool | None]:
    """charge_state inverted, for a filter: the Session statuses that give `state`, and whether it must have
    an end time (True), must not (False), or either (None)."""
    if state == "stopped":
        return frozenset({"ACTIVE"}), True
    statuses = frozenset(s for s, mapped in CHARGE_STATES.items() if mapped == state)
    return statuses, (False if state == "charging" else None)


def charge(session: model.Session, *, extras: Extras | None = None) -> wire.Charge:
    extras = extras or _NO_EXTRAS
    owner = session.owner_party
    cost, cost_excl = _costs(session.total_cost, session.currency) if session.total_cost else (None, None)
    return wire.Charge(
        id=ids.make(owner, session.id),
        charge_point_id=ids.make(owner, session.evse_uid),
        site_id=ids.make(owner, session.location_id),
        state=charge_state(session),
        started_at=session.start_date_time,
        stopped_at=session.end_date_time,
        consumed_kwh=float(session.kwh),
        cost=cost,
        cost_excl_vat=cost_excl,
        charge_auth=charge_auth(session.cdr_token),
        ocpi=wire.ChargeOcpi(country_code=owner.country_code, party_id=owner.party_id, session_id=session.id),
        created_at=extras.created_at or session.start_date_time,
        updated_at=session.last_updated,
        partner_external_id=extras.partner_external_id,
        partner_custom_payload=extras.partner_custom_payload,
    )


def cdr(c: model.Cdr, *, extras: Extras | None = None) -> wire.Cdr:
    extras = extras or _NO_EXTRAS
    owner = c.owner_party
    total, total_excl = _costs(c.total_cost, c.currency)
    return wire.Cdr(
        id=ids.make(owner, c.id),
        charge_id=ids.make(owner, c.session_id) if c.session_id else None,
        charge_point_id=ids.make(owner, c.cdr_location.evse_uid),
        site_id=ids.make(owner, c.cdr_location.id),
        started_at=c.start_date_time,
        stopped_at=c.end_date_time,
        consumed_kwh=float(c.total_energy),
        total_cost=total,
        total_cost_excl_vat=total_excl,
        total_time=float(c.total_time),
        charge_auth=charge_auth(c.cdr_token),
        ocpi=wire.CdrOcpi(country_code=owner.country_code, party_id=owner.party_id, cdr_id=c.id),
        created_at=extras.created_at or c.last_updated,  # CDRs are immutable: last_updated is their creation
        updated_at=c.last_updated,
    )


# --- tariffs and tokens --------------------------------------------------------------------------


def _restrictions(r: model.TariffRestrictions | None) -> wire.TariffRestrictions | None:
    if r is None:
        return None
    return wire.TariffRestrictions(
        start_time=r.start_time, end_time=r.end_time, start_date=r.start_date, end_date=r.end_date,
        min_kwh=_kw(r.min_kwh), max_kwh=_kw(r.max_kwh), min_current=_kw(r.min_current),
        max_current=_kw(r.max_current), min_power=_kw(r.min_power), max_power=_kw(r.max_power),
        min_duration=r.min_duration, max_duration=r.max_duration, day_of_week=list(r.day_of_week),
        reservation=r.reservation,
    )


def _component(p: model.PriceComponent, currency_code: str) -> wire.PriceComponent:
    return wire.PriceComponent(type=p.type, price=money(p.price, currency_code), price_decimal=str(p.price),
                               vat=_kw(p.vat), step_size=p.step_size)


def tariff(t: model.Tariff, *, extras: Extras | None = None) -> wire.Tariff:
    extras = extras or _NO_EXTRAS
    owner = t.owner_party
    elements = [
        wire.TariffElement(price_components=[_component(p, t.currency) for p in e.price_components],
                           restrictions=_restrictions(e.restrictions))
        for e in t.elements
    ]
    return wire.Tariff(
        id=ids.make(owner, t.id),
        currency=currency(t.currency),
        type=t.type,
        elements=elements,
        # excl. VAT, like the component prices (OCPI's incl_vat is optional)
        min_price=money(t.min_price.excl_vat, t.currency) if t.min_price else None,
        max_price=money(t.max_price.excl_vat, t.currency) if t.max_price else None,
        ocpi=wire.TariffOcpi(country_code=owner.country_code, party_id=owner.party_id, tariff_id=t.id),
        created_at=extras.created_at or t.last_updated,
        updated_at=t.last_updated,
    )


def charge_auth_token(token: model.Token, *, extras: Extras | None = None) -> wire.ChargeAuthToken:
    extras = extras or _NO_EXTRAS
    owner = token.owner_party
    return wire.ChargeAuthToken(
        id=ids.token(owner, token.type, token.uid),
        identifier=token.uid,
        type=AUTH_TYPES.get(token.type, "other"),
        contract_id=token.contract_id,
        visual_number=token.visual_number,
        name=token.issuer,
        group_id=token.group_id,
        language=token.language,
        valid=token.valid,
        blocked=not token.valid,
        whitelist=token.whitelist,
        ocpi=wire.TokenOcpi(country_code=owner.country_code, party_id=owner.party_id, uid=token.uid, type=token.type),
        created_at=extras.created_at or token.last_updated,
        updated_at=token.last_updated,
        partner_external_id=extras.partner_external_id,
        partner_custom_payload=extras.partner_custom_payload,
    )


# --- commands ------------------------------------------------------------------------------------

# a charger's answer (canonical CommandResult) -> the command's status; every other result is "rejected"
COMMAND_STATUS: dict[str, wire.CommandStatus] = {"ACCEPTED": "accepted", "CANCELED_RESERVATION": "accepted", "FAILED": "failed",
                                                 "TIMEOUT": "timeout"}
COMMAND_REASONS = {
    "REJECTED": "the charger rejected it", "EVSE_OCCUPIED": "the charge point is in use",
    "EVSE_INOPERATIVE": "the charge point is out of order", "NOT_SUPPORTED": "the charger does not support it",
    "FAILED": "the charger failed to do it", "TIMEOUT": "the charger did not answer in time (it may still act)",
}


def command_result(command_id: str, type_: wire.CommandType, result: model.CommandResult, charge_point_id: str,
                   charge_id: str | None = None) -> wire.CommandResult:
    said = "; ".join(m.text for m in result.message)
    reason = COMMAND_REASONS.get(result.result)
    return wire.CommandResult(
        id=command_id, type=type_, status=COMMAND_STATUS.get(result.result, "rejected"),
        message=f"{reason}: {said}" if reason and said else reason or said or None, charge_point_id=charge_point_id, charge_id=charge_id,
    )
