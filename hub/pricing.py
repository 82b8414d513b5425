"""What a charging session costs under an OCPI tariff. Pure.

The session is given as stretches of constant conditions (`Usage`): charging or parking, with the energy
delivered. The rules (OCPI 2.2.1, Tariffs):
- for each dimension on its own, the active price component at a moment is the one in the first element
  (list order) that has a component of that dimension and whose restrictions all hold at that moment;
  when none does, the dimension is free at that moment;
- restrictions are evaluated at each moment: time of day, date and weekday in the location's time zone,
  energy and duration so far, power and current of the moment; elements that price reservations are
  not for sessions;
- FLAT is charged once, from the element active at the start; ENERGY per kWh; TIME per hour charging;
  PARKING_TIME per hour connected but not charging;
- step_size applies once per session: to the total energy (Wh blocks) with the last ENERGY component's
  step, and to the time with the last TIME/PARKING_TIME component's step (when parking is priced, only
  the parking time is rounded); the rounded-up remainder is priced like the last component;
- min_price and max_price bound the total, excluding and including VAT each on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import msgspec

from hub import model

ZERO = Decimal(0)
HOUR = Decimal(3600)
MONEY = Decimal("0.0001")
VOLUME = Decimal("0.000001")
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]


class Usage(msgspec.Struct, frozen=True):
    """One stretch of a session with constant conditions, as the hub measured it."""

    start: datetime
    end: datetime
    energy_kwh: Decimal
    charging: bool = True  # False: connected, not taking power (PARKING_TIME)
    max_power_kw: Decimal | None = None
    max_current_a: Decimal | None = None


class Costs(msgspec.Struct, frozen=True):
    total_cost: model.Price
    total_fixed_cost: model.Price | None
    total_energy_cost: model.Price | None
    total_time_cost: model.Price | None
    total_parking_cost: model.Price | None
    total_energy: Decimal  # kWh
    total_time: Decimal  # hours, the whole session
    total_parking_time: Decimal  # hours
    charging_periods: list[model.ChargingPeriod]


@dataclass(frozen=True)
class _Piece:
    """A part of a stretch in which every dimension has one active component."""

    usage: Usage
    start: datetime
    end: datetime
    energy: Decimal
    kwh_before: Decimal
    seconds_before: Decimal

    @property
    def hours(self) -> Decimal:
        return Decimal((self.end - self.start).total_seconds()) / HOUR


@dataclass
class _Sum:
    """One dimension's running total: money excluding and including VAT, and the last component used."""

    excl: Decimal = ZERO
    incl: Decimal = ZERO
    quantity: Decimal = ZERO
    last: model.PriceComponent | None = None
    used: bool = False

    def add(self, component: model.PriceComponent, quantity: Decimal) -> None:
        amount = component.price * quantity
        self.excl += amount
        self.incl += amount * _vat(component)
        self.quantity += quantity
        self.last = component
        self.used = True


def _vat(component: model.PriceComponent) -> Decimal:
    return Decimal(1) + (component.vat or ZERO) / 100


# --- restrictions --------------------------------------------------------------------------------


def _hhmm(text: str) -> time:
    hour, minute = map(int, text.split(":"))
    return time(hour % 24, minute)


def _holds(r: model.TariffRestrictions | None, at: datetime, tz: ZoneInfo, piece: _Piece) -> bool:
    if r is None:
        return True
    if r.reservation is not None:
        return False  # prices a reservation, not a session
    local = at.astimezone(tz)
    if r.start_time or r.end_time:
        begin = _hhmm(r.start_time) if r.start_time else time(0)
        end = _hhmm(r.end_time) if r.end_time else time(0)
        now = local.time()
        if end == time(0) or begin < end:  # 00:00 as an end means the end of the day
            inside = begin <= now and (end == time(0) or now < end)
        else:  # wraps past midnight
            inside = now >= begin or now < end
        if not inside:
            return False
    if r.start_date and local.date() < date.fromisoformat(r.start_date):
        return False
    if r.end_date and local.date() >= date.fromisoformat(r.end_date):
        return False
    if r.day_of_week and WEEKDAYS[local.weekday()] not in r.day_of_week:
        return False
    kwh, seconds = piece.kwh_before, piece.seconds_before
    if (r.min_kwh is not None and kwh < r.min_kwh) or (r.max_kwh is not None and kwh >= r.max_kwh):
        return False
    if (r.min_duration is not None and seconds < r.min_duration) or (r.max_duration is not None and seconds >= r.max_duration):
        return False
    power, current = piece.usage.max_power_kw, piece.usage.max_current_a  # unknown: the restriction cannot be held against it
    if power is not None and ((r.min_power is not None and power < r.min_power) or (r.max_power is not None and power >= r.max_power)):
        return False
    if current is not None and ((r.min_current is not None and current < r.min_current)
                                or (r.max_current is not None and current >= r.max_current)):
        return False
    return True


def _active(tariff: model.Tariff | None, dimension: str, piece: _Piece, tz: ZoneInfo) -> tuple[int, model.PriceComponent] | None:
    """(element index, component) of the first element pricing `dimension` whose restrictions hold."""
    for i, element in enumerate(tariff.elements if tariff else []):
        component = next((c for c in element.price_components if c.type == dimension), None)
        if component is not None and _holds(element.restrictions, piece.start, tz, piece):
            return i, component
    return None


# --- splitting the session where prices can change ------------------------------------------------


def _instants(tariff: model.Tariff | None, session_start: datetime, first: datetime, last: datetime, tz: ZoneInfo) -> list[datetime]:
    """Every moment within [first, last] at which a time-based restriction can switch."""
    out: set[datetime] = set()
    day = first.astimezone(tz).date() - timedelta(days=1)
    while day <= last.astimezone(tz).date() + timedelta(days=1):
        out.add(datetime.combine(day, time(0), tz).astimezone(timezone.utc))
        for element in tariff.elements if tariff else []:
            r = element.restrictions
            for hhmm in (r.start_time, r.end_time) if r else ():
                if hhmm:
                    out.add(datetime.combine(day, _hhmm(hhmm), tz).astimezone(timezone.utc))
        day += timedelta(days=1)
    for element in tariff.elements if tariff else []:
        r = element.restrictions
        for seconds in (r.min_duration, r.max_duration) if r else ():
            if seconds is not None:
                out.add(session_start + timedelta(seconds=seconds))
    return sorted(t for t in out if first < t < last)


def _thresholds(tariff: model.Tariff | None) -> list[Decimal]:
    values = set()
    for element in tariff.elements if tariff else []:
        r = element.restrictions
        for kwh in (r.min_kwh, r.max_kwh) if r else ():
            if kwh is not None:
                values.add(kwh)
    return sorted(values)


def _pieces(tariff: model.Tariff | None, usage: list[Usage], tz: ZoneInfo) -> list[_Piece]:
    session_start = usage[0].start
    kwh = ZERO
    out = []
    for u in usage:
        cuts = set(_instants(tariff, session_start, u.start, u.end, tz))
        span = Decimal((u.end - u.start).total_seconds())
        if u.energy_kwh > 0 and span > 0:  # energy flows evenly: where does it cross a threshold?
            for threshold in _thresholds(tariff):
                if kwh < threshold < kwh + u.energy_kwh:
                    cuts.add(u.start + timedelta(seconds=float((threshold - kwh) / u.energy_kwh * span)))
        edges = [u.start, *sorted(cuts), u.end]
        for a, b in zip(edges, edges[1:]):
            share = Decimal((b - a).total_seconds()) / span if span else Decimal(1)
            energy = u.energy_kwh * share
            out.append(_Piece(u, a, b, energy, kwh, Decimal((a - session_start).total_seconds())))
            kwh += energy
    return out


# --- the price ------------------------------------------------------------------------------------


def _round_up(quantity: Decimal, step: Decimal) -> Decimal:
    if step <= 1:
        return quantity
    blocks = (quantity / step).to_integral_value(rounding="ROUND_CEILING")
    return blocks * step


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY, rounding=ROUND_HALF_UP)


def price(tariff: model.Tariff | None, usage: list[Usage], time_zone: str = "UTC") -> Costs:
    tz = ZoneInfo(time_zone or "UTC")
    usage = sorted((u for u in usage if u.end >= u.start), key=lambda u: u.start)
    pieces = _pieces(tariff, usage, tz) if usage else []
    sums = {d: _Sum() for d in ("FLAT", "ENERGY", "TIME", "PARKING_TIME")}
    periods: list[model.ChargingPeriod] = []
    period_elements: list[int | None] = []  # the element that priced each period (periods merge while it stays)
    vat_known = any(c.vat is not None for e in (tariff.elements if tariff else []) for c in e.price_components)

    if pieces:
        flat = _active(tariff, "FLAT", pieces[0], tz)
        if flat:
            sums["FLAT"].add(flat[1], Decimal(1))
    for piece in pieces:
        time_dim = "TIME" if piece.usage.charging else "PARKING_TIME"
        energy = _active(tariff, "ENERGY", piece, tz)
        timed = _active(tariff, time_dim, piece, tz)
        if energy:
            sums["ENERGY"].add(energy[1], piece.energy)
        else:
            sums["ENERGY"].quantity += piece.energy
        if timed:
            sums[time_dim].add(timed[1], piece.hours)
        else:
            sums[time_dim].quantity += piece.hours
        element = (energy or timed or (None,))[0]
        tariff_id = tariff.id if tariff and element is not None else None
        dims = [model.CdrDimension("ENERGY", piece.energy), model.CdrDimension(time_dim, piece.hours)]
        if piece.usage.max_power_kw is not None:
            dims.append(model.CdrDimension("MAX_POWER", piece.usage.max_power_kw))
        prev = periods[-1] if periods else None
        if prev is not None and prev.dimensions[1].type == time_dim and period_elements[-1] == element:
            merged = [model.CdrDimension("ENERGY", prev.dimensions[0].volume + piece.energy),
                      model.CdrDimension(time_dim, prev.dimensions[1].volume + piece.hours), *dims[2:]]
            periods[-1] = model.ChargingPeriod(prev.start_date_time, merged, tariff_id)
        else:
            periods.append(model.ChargingPeriod(piece.start, dims, tariff_id))
            period_elements.append(element)

    _apply_steps(sums)
    excl = sum((s.excl for s in sums.values()), ZERO)
    incl = sum((s.incl for s in sums.values()), ZERO)
    if tariff is not None:
        excl, incl = _bounded(excl, incl, tariff)
    total_hours = sum((p.hours for p in pieces), ZERO)

    def part(s: _Sum) -> model.Price | None:
        return model.Price(_money(s.excl), _money(s.incl) if vat_known else None) if s.used else None

    return Costs(
        total_cost=model.Price(_money(excl), _money(incl) if vat_known else (None if tariff is None else _money(excl))),
        total_fixed_cost=part(sums["FLAT"]), total_energy_cost=part(sums["ENERGY"]), total_time_cost=part(sums["TIME"]),
        total_parking_cost=part(sums["PARKING_TIME"]),
        total_energy=sum((p.energy for p in pieces), ZERO).quantize(VOLUME),
        total_time=total_hours.quantize(VOLUME), total_parking_time=sums["PARKING_TIME"].quantity.quantize(VOLUME),
        charging_periods=[_rounded(p) for p in periods],
    )


def _rounded(period: model.ChargingPeriod) -> model.ChargingPeriod:
    return model.ChargingPeriod(period.start_date_time, [model.CdrDimension(d.type, d.volume.quantize(VOLUME)) for d in period.dimensions],
                                period.tariff_id)


def _apply_steps(sums: dict[str, _Sum]) -> None:
    """step_size once per session: energy in Wh blocks; time in seconds (only parking when it is priced)."""
    energy = sums["ENERGY"]
    if energy.last and energy.last.step_size > 1:
        wh = energy.quantity * 1000
        extra = (_round_up(wh, Decimal(energy.last.step_size)) - wh) / 1000
        energy.add(energy.last, extra)
        energy.quantity -= extra
    timed = sums["PARKING_TIME"] if sums["PARKING_TIME"].used else sums["TIME"]
    if timed.last and timed.last.step_size > 1:
        seconds = timed.quantity * HOUR
        extra = (_round_up(seconds, Decimal(timed.last.step_size)) - seconds) / HOUR
        timed.add(timed.last, extra)
        timed.quantity -= extra


def _bounded(excl: Decimal, incl: Decimal, tariff: model.Tariff) -> tuple[Decimal, Decimal]:
    if tariff.min_price is not None:
        excl = max(excl, tariff.min_price.excl_vat)
        if tariff.min_price.incl_vat is not None:
            incl = max(incl, tariff.min_price.incl_vat)
    if tariff.max_price is not None:
        excl = min(excl, tariff.max_price.excl_vat)
        if tariff.max_price.incl_vat is not None:
            incl = min(incl, tariff.max_price.incl_vat)
    return excl, incl
