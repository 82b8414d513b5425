"""OCPI 2.2.1 JSON bodies for the tests, as a partner would send them."""

from __future__ import annotations

from typing import Any


def connector(cid: str = "1", when: str = "2026-03-01T10:00:00Z", tariff: str | None = "T1") -> dict[str, Any]:
    c = {"id": cid, "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230,
         "max_amperage": 16, "last_updated": when}
    if tariff:
        c["tariff_ids"] = [tariff]
    return c


def evse(uid: str, status: str = "AVAILABLE", when: str = "2026-03-01T10:00:00Z") -> dict[str, Any]:
    return {"uid": uid, "evse_id": f"DE*CPO*E{uid}", "status": status, "capabilities": ["REMOTE_START_STOP_CAPABLE"],
            "connectors": [connector(when=when)], "last_updated": when}


def location(cc: str = "DE", pid: str = "CPO", lid: str = "LOC1", *, evses: int = 2, publish: bool = True,
             when: str = "2026-03-01T10:00:00Z", **extra: Any) -> dict[str, Any]:
    loc = {
        "country_code": cc, "party_id": pid, "id": lid, "publish": publish, "name": f"Site {lid}",
        "address": "Hauptstrasse 1", "city": "Berlin", "postal_code": "10115", "country": "DEU",
        "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
        "evses": [evse(f"{lid}-{i + 1}", when=when) for i in range(evses)],
        "time_zone": "Europe/Berlin", "last_updated": when,
    }
    loc.update(extra)
    return loc


def tariff(cc: str = "DE", pid: str = "CPO", tid: str = "T1", when: str = "2026-03-01T09:00:00Z") -> dict[str, Any]:
    return {
        "country_code": cc, "party_id": pid, "id": tid, "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 19.0, "step_size": 1}]}],
        "last_updated": when,
    }


def token(cc: str = "NL", pid: str = "EMS", uid: str = "04A1B2C3", *, whitelist: str = "ALLOWED",
          when: str = "2026-03-01T08:00:00Z") -> dict[str, Any]:
    return {"country_code": cc, "party_id": pid, "uid": uid, "type": "RFID", "contract_id": f"{cc}-{pid}-C00000001-X",
            "issuer": "EMS Mobility", "valid": True, "whitelist": whitelist, "last_updated": when}


def cdr_token(cc: str = "NL", pid: str = "EMS", uid: str = "04A1B2C3") -> dict[str, Any]:
    return {"country_code": cc, "party_id": pid, "uid": uid, "type": "RFID", "contract_id": f"{cc}-{pid}-C00000001-X"}


def session(sid: str = "S1", *, status: str = "ACTIVE", kwh: float = 0.0, token_party: tuple[str, str] = ("NL", "EMS"),
            when: str = "2026-03-01T11:00:00Z") -> dict[str, Any]:
    return {
        "country_code": "DE", "party_id": "CPO", "id": sid, "start_date_time": "2026-03-01T11:00:00Z", "kwh": kwh,
        "cdr_token": cdr_token(*token_party), "auth_method": "AUTH_REQUEST", "location_id": "LOC1",
        "evse_uid": "LOC1-1", "connector_id": "1", "currency": "EUR", "status": status, "last_updated": when,
    }


def cdr(cid: str = "CDR1", *, token_party: tuple[str, str] = ("NL", "EMS")) -> dict[str, Any]:
    return {
        "country_code": "DE", "party_id": "CPO", "id": cid, "start_date_time": "2026-03-01T11:00:00Z",
        "end_date_time": "2026-03-01T12:00:00Z", "session_id": "S1", "cdr_token": cdr_token(*token_party),
        "auth_method": "AUTH_REQUEST",
        "cdr_location": {
            "id": "LOC1", "address": "Hauptstrasse 1", "city": "Berlin", "country": "DEU",
            "coordinates": {"latitude": "52.520008", "longitude": "13.404954"}, "evse_uid": "LOC1-1",
            "evse_id": "DE*CPO*ELOC1-1", "connector_id": "1", "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET", "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [{"start_date_time": "2026-03-01T11:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 10.5}], "tariff_id": "T1"}],
        "total_cost": {"excl_vat": 3.68, "incl_vat": 4.38}, "total_energy": 10.5, "total_time": 1.0,
        "last_updated": "2026-03-01T12:00:05Z",
    }
