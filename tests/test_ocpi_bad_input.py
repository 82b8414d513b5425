"""Bad input on every OCPI endpoint gets the spec's answer and changes nothing in the store.

malformed JSON -> HTTP 400 + 2001; a missing or wrong-typed field, an over-long CiString, an unknown enum
value, an id that differs between URL and body -> HTTP 200 + 2001; another party's country/party ids ->
HTTP 404; token A on a functional module, or no/unknown token -> HTTP 401. Input built to hurt (dates that
are not dates, one EVSE twice, JSON nested 2,000 deep, a body of megabytes, ids no object can have) gets the
same answers, never a 500 or a traceback in the log.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from connectors import bilateral
from fixtures.loopback import Loopback
from fixtures.ocpi_party import OcpiParty, free_port
from hub.model import PartyId
from hub.store import schema
from protocols.ocpi import transport as t
from protocols.ocpi.v221 import wire
from tests import ocpi_data as d


async def snapshot(served: Any) -> dict[str, list]:
    """Every row of every table the hub writes, besides connection bookkeeping (last successful exchange;
    which process holds a charger's socket, since when; the serving process's heartbeat, once a second)."""

    def op(conn: sa.Connection) -> dict[str, list]:
        out = {}
        for table in schema.metadata.sorted_tables:
            cols = [c for c in table.columns if c.name not in ("last_ok_us", "instance", "last_seen_us", "connected_us", "protocol", "heartbeat_us")]
            out[table.name] = sorted(tuple(map(repr, row)) for row in conn.execute(sa.select(*cols)))
        return out

    return await served.hub.core.db.read(op)


Mutation = Callable[[dict], dict]


def _set(path: str, value: Any) -> Mutation:
    def mutate(body: dict) -> dict:
        body = copy.deepcopy(body)
        node = body
        *parents, last = path.split(".")
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
        return body

    return mutate


_DELETE = object()

# (name, mutation of a valid body, expected HTTP status, expected OCPI status)
FIELD_MUTATIONS: dict[str, list[tuple[str, Mutation]]] = {
    "location": [
        ("missing field", _set("address", _DELETE)),
        ("wrong type", _set("publish", "yes")),
        ("over-long CiString", _set("evses.0.uid", "E" * 37)),
        ("unknown enum", _set("evses.0.status", "BROKEN")),
        ("bad coordinates", _set("coordinates.latitude", "52.5")),
    ],
    "evse": [("missing field", _set("connectors", _DELETE)), ("unknown enum", _set("status", "SLEEPING")),
             ("wrong type", _set("connectors", "none"))],
    "connector": [("unknown enum", _set("standard", "SCHUKO")), ("wrong type", _set("max_voltage", "230V"))],
    "location_patch": [("missing last_updated", _set("last_updated", _DELETE)), ("wrong type", _set("name", 7))],
    "evse_patch": [("missing last_updated", _set("last_updated", _DELETE)), ("wrong type", _set("status", 7)),
                   ("unknown enum", _set("status", "ASLEEP")), ("changing the uid", _set("uid", "OTHER"))],
    "tariff": [("missing field", _set("elements", _DELETE)), ("empty elements", _set("elements", [])),
               ("unknown enum", _set("elements.0.price_components.0.type", "KWH")), ("over-long id", _set("id", "T" * 37))],
    "token": [("missing field", _set("whitelist", _DELETE)), ("unknown enum", _set("type", "NFC")),
              ("over-long uid", _set("uid", "U" * 37)), ("wrong type", _set("valid", "true"))],
    "token_patch": [("missing last_updated", _set("last_updated", _DELETE)), ("unknown enum", _set("whitelist", "SOMETIMES"))],
    "session": [("missing field", _set("cdr_token", _DELETE)), ("unknown enum", _set("status", "RUNNING")),
                ("wrong type", _set("kwh", "5")), ("bad datetime", _set("start_date_time", "yesterday"))],
    "session_patch": [("missing last_updated", _set("last_updated", _DELETE)), ("kWh as Wh", _set("charging_periods", [
        {"start_date_time": "2026-03-01T11:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 5500}]}]))],
    "cdr": [("missing field", _set("total_cost", _DELETE)), ("unknown enum", _set("auth_method", "PIN")),
            ("session-only dimension", _set("charging_periods.0.dimensions.0.type", "POWER")),
            ("over-long id", _set("id", "C" * 40))],
    "start_session": [("missing field", _set("location_id", _DELETE)), ("connector without evse", _set("evse_uid", _DELETE)),
                      ("wrong type", _set("token", "04A1B2C3"))],
    "charging_profile": [("missing field", _set("response_url", _DELETE)), ("unknown enum", _set("charging_profile.charging_rate_unit", "kW"))],
    "credentials": [("missing field", _set("roles", _DELETE)), ("token with a space", _set("token", "a b"))],
}


class Setup:
    def __init__(self, served: Any, cpo: OcpiParty, emsp: OcpiParty, token_a: str) -> None:
        self.served, self.cpo, self.emsp, self.token_a = served, cpo, emsp, token_a


@pytest.fixture
async def setup(served: Any, make_party: Any) -> Setup:
    ocpi = served.hub.ocpi
    cpo = await make_party("DE", "CPO", "CPO")
    emsp = await make_party("NL", "EMS", "EMSP")
    for party in (cpo, emsp):
        invite = await bilateral.invite(ocpi, PartyId.of(party.country_code, party.party_id), party.role)
        await party.register(invite["versions_url"], invite["token"])
    token_a = (await bilateral.invite(ocpi, PartyId("BE", "NEW"), "EMSP"))["token"]
    await cpo.send("PUT", "tariffs", "RECEIVER", "DE/CPO/T1", msgspec.json.encode(d.tariff()))
    await cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/LOC1", msgspec.json.encode(d.location()))
    await cpo.send("PUT", "sessions", "RECEIVER", "DE/CPO/S1", msgspec.json.encode(d.session()))
    await emsp.send("PUT", "tokens", "RECEIVER", "NL/EMS/04A1B2C3", msgspec.json.encode(d.token()))
    await served.hub.core.dispatcher.drain()
    return Setup(served, cpo, emsp, token_a)


# (endpoint name, sender, method, module, role, path, valid body, mutations key, foreign path or None)
START = {"response_url": "http://127.0.0.1:1/r/1", "token": d.token(), "location_id": "LOC1", "evse_uid": "LOC1-1", "connector_id": "1"}
PROFILE = {"response_url": "http://127.0.0.1:1/r/2", "charging_profile": {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 16}]}}
ENDPOINTS = [
    ("put location", "cpo", "PUT", "locations", "RECEIVER", "DE/CPO/LOC2", d.location(lid="LOC2"), "location", "FR/OTH/LOC2"),
    ("put evse", "cpo", "PUT", "locations", "RECEIVER", "DE/CPO/LOC1/LOC1-9", d.evse("LOC1-9"), "evse", "FR/OTH/LOC1/LOC1-9"),
    ("put connector", "cpo", "PUT", "locations", "RECEIVER", "DE/CPO/LOC1/LOC1-1/2", d.connector("2"), "connector", "FR/OTH/LOC1/LOC1-1/2"),
    ("patch location", "cpo", "PATCH", "locations", "RECEIVER", "DE/CPO/LOC1", {"name": "x", "last_updated": "2026-04-01T00:00:00Z"}, "location_patch", "FR/OTH/LOC1"),
    ("patch evse", "cpo", "PATCH", "locations", "RECEIVER", "DE/CPO/LOC1/LOC1-1", {"status": "CHARGING", "last_updated": "2026-04-01T00:00:00Z"}, "evse_patch", "FR/OTH/LOC1/LOC1-1"),
    ("put tariff", "cpo", "PUT", "tariffs", "RECEIVER", "DE/CPO/T2", d.tariff(tid="T2"), "tariff", "FR/OTH/T2"),
    ("put token", "emsp", "PUT", "tokens", "RECEIVER", "NL/EMS/AA11", d.token(uid="AA11"), "token", "FR/OTH/AA11"),
    ("patch token", "emsp", "PATCH", "tokens", "RECEIVER", "NL/EMS/04A1B2C3", {"valid": False, "last_updated": "2026-04-01T00:00:00Z"}, "token_patch", "FR/OTH/04A1B2C3"),
    ("put session", "cpo", "PUT", "sessions", "RECEIVER", "DE/CPO/S2", d.session("S2"), "session", "FR/OTH/S2"),
    ("patch session", "cpo", "PATCH", "sessions", "RECEIVER", "DE/CPO/S1", {"kwh": 5.5, "last_updated": "2026-04-01T00:00:00Z"}, "session_patch", "FR/OTH/S1"),
    ("post cdr", "cpo", "POST", "cdrs", "RECEIVER", "", d.cdr("CDR9"), "cdr", None),
    ("start session", "emsp", "POST", "commands", "RECEIVER", "START_SESSION", START, "start_session", None),
    ("set charging profile", "emsp", "PUT", "chargingprofiles", "RECEIVER", "S1", PROFILE, "charging_profile", None),
]


def _foreign(body: dict, path: str) -> dict:
    """Another party's ids everywhere (URL and body agree): the caller does not own them."""
    body = copy.deepcopy(body)
    if "country_code" in body:
        body["country_code"], body["party_id"] = path.split("/")[:2]
    return body


def _status(r: Any) -> tuple[int, int | None]:
    try:
        return r.status_code, msgspec.json.decode(r.content).get("status_code")
    except msgspec.DecodeError:
        return r.status_code, None


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
async def test_bad_input_gets_the_spec_answer_and_changes_nothing(setup: Setup, endpoint: tuple) -> None:
    name, who, method, module, role, path, body, mutations, foreign = endpoint
    party = setup.cpo if who == "cpo" else setup.emsp
    before = await snapshot(setup.served)
    cases: list[tuple[str, Any, str, dict[str, str] | None, tuple[int, int | None]]] = [
        ("malformed JSON", b'{"id": "LOC', path, None, (400, t.INVALID_PARAMETERS)),
        ("not an object", b"[1, 2]", path, None, (200, t.INVALID_PARAMETERS)),
        ("empty body", b"", path, None, (200, t.INVALID_PARAMETERS)),
    ]
    for label, mutate in FIELD_MUTATIONS[mutations]:
        cases.append((label, msgspec.json.encode(mutate(body)), path, None, (200, t.INVALID_PARAMETERS)))
    if foreign:
        cases.append(("another party's ids", msgspec.json.encode(_foreign(body, foreign)), foreign, None, (404, t.INVALID_PARAMETERS)))
    if "id" in body and path.count("/") == 2:
        cases.append(("URL id differs from the body", msgspec.json.encode({**body, "id": "OTHER"}), path, None, (200, t.INVALID_PARAMETERS)))
    cases.append(("token A", msgspec.json.encode(body), path, {"Authorization": t.authorization(setup.token_a)}, (401, t.CLIENT_ERROR)))
    cases.append(("unknown token", msgspec.json.encode(body), path, {"Authorization": t.authorization("nope")}, (401, t.CLIENT_ERROR)))
    cases.append(("no token", msgspec.json.encode(body), path, {"Authorization": ""}, (401, t.CLIENT_ERROR)))
    cases.append(("foreign OCPI-from", msgspec.json.encode(body), path, {"OCPI-from-country-code": "FR", "OCPI-from-party-id": "OTH"}, (200, t.INVALID_PARAMETERS)))
    for label, raw, url_path, headers, expected in cases:
        r = await party.send(method, module, role, url_path, raw, to="NL/HUB", **(headers or {}))
        assert _status(r) == expected, f"{name} / {label}: {r.status_code} {r.text[:300]}"
    await setup.served.hub.core.dispatcher.drain()
    assert await snapshot(setup.served) == before, f"{name}: the store changed"
    # and the valid request still works afterwards
    r = await party.send(method, module, role, path, msgspec.json.encode(body), to="NL/HUB")
    assert r.status_code in (200, 201) and _status(r)[1] == t.SUCCESS, f"{name}: valid request failed: {r.text[:300]}"


async def test_credentials_misuse(setup: Setup) -> None:
    cpo = setup.cpo
    before = await snapshot(setup.served)
    url = cpo.hub_url("credentials", "SENDER")
    good = msgspec.json.encode(cpo.credentials())
    # POST when already registered -> 405
    r = await cpo.http.post(url, content=good, headers=cpo.auth())
    assert r.status_code == 405
    # PUT/DELETE with token A (not registered) -> 405
    a = {"Authorization": t.authorization(setup.token_a)}
    assert (await cpo.http.put(url, content=good, headers=a)).status_code == 405
    assert (await cpo.http.delete(url, headers=a)).status_code == 405
    # malformed credentials bodies
    for label, mutate in FIELD_MUTATIONS["credentials"]:
        r = await cpo.http.post(url, content=msgspec.json.encode(mutate(msgspec.to_builtins(cpo.credentials()))), headers=a)
        assert _status(r) == (200, t.INVALID_PARAMETERS), label
    r = await cpo.http.post(url, content=b"{not json", headers=a)
    assert r.status_code == 400
    # a registration claiming a party another platform holds is refused
    stolen = msgspec.to_builtins(cpo.credentials())
    stolen["roles"][0].update(country_code="BE", party_id="NEW", role="EMSP")
    stolen["roles"].append({"role": "CPO", "party_id": "CPO", "country_code": "DE", "business_details": {"name": "x"}})
    r = await cpo.http.post(url, content=msgspec.json.encode(stolen), headers=a)
    assert _status(r) == (200, t.INVALID_PARAMETERS) and "DE/CPO CPO not allowed" in r.text
    # a registration not listing the invited party is refused
    other = msgspec.to_builtins(cpo.credentials())
    other["roles"][0].update(country_code="BE", party_id="ZZZ", role="EMSP")
    r = await cpo.http.post(url, content=msgspec.json.encode(other), headers=a)
    assert _status(r) == (200, t.INVALID_PARAMETERS) and "BE/NEW" in r.text
    assert await snapshot(setup.served) == before


@pytest.mark.parametrize("params,module", [
    ({"offset": "-1"}, "locations"), ({"limit": "ten"}, "tariffs"), ({"date_from": "yesterday"}, "locations"),
    ({"date_to": "2026-13-45T00:00:00Z"}, "tokens"), ({}, "sessions"),
    ({"date_from": "2026-02-30T10:00:00Z"}, "cdrs"), ({"date_to": "0001-01-01T00:00:00+01:00"}, "locations"),
    ({"date_from": "9999-12-31T23:59:59-01:00"}, "sessions"), ({"date_from": "0001-01-01T00:00:00+01:00"}, "hubclientinfo"),
    ({"offset": "1\x00"}, "tariffs"),
])
async def test_bad_list_parameters_are_2001(setup: Setup, params: dict, module: str) -> None:
    r = await setup.emsp.send("GET", module, "SENDER", params=params)
    assert _status(r) == (200, t.INVALID_PARAMETERS), r.text


async def test_token_a_only_opens_versions_and_credentials(setup: Setup) -> None:
    a = {"Authorization": t.authorization(setup.token_a)}
    http = setup.cpo.http
    base = setup.served.url
    assert (await http.get(f"{base}/ocpi/versions", headers=a)).status_code == 200
    assert (await http.get(f"{base}/ocpi/2.2.1", headers=a)).status_code == 200
    assert (await http.get(f"{base}/ocpi/2.2.1/sender/locations", headers=a)).status_code == 401
    assert (await http.get(f"{base}/ocpi/2.2.1/hubclientinfo", headers=a)).status_code == 401
    # raw (non-Base64) tokens are accepted too
    raw = {"Authorization": f"Token {setup.cpo.hub_token}"}
    assert (await http.get(f"{base}/ocpi/2.2.1/sender/tariffs", headers=raw)).status_code == 200


# --- input built to hurt -----------------------------------------------------------------------------------


def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Bad input is the caller's mistake: nothing at ERROR and no traceback in the log."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def _message(r: Any) -> str:
    return msgspec.json.decode(r.content).get("status_message", "")


def _field(path: str) -> str:
    """A _set path as the answer names it: evses.0.uid -> evses[0].uid."""
    return re.sub(r"\.(\d+)", r"[\1]", path)


NOT_DATE_TIMES = ["2026-02-30T10:00:00Z", "2025-02-29T10:00:00Z", "2026-13-01T10:00:00Z", "2026-03-01T25:00:00Z",
                  "2026-03-01T10:00:60", "2026-03-01T10:00:00+24:00", "0001-01-01T00:00:00+01:00"]
NOT_DATES = ["2026-02-30", "2026-13-01", "0000-01-01"]
RESERVE = {"response_url": "http://127.0.0.1:1/r/3", "token": d.token(), "expiry_date": "2026-03-01T12:00:00Z",
           "reservation_id": "R1", "location_id": "LOC1"}
PERIOD = {"start_date_time": "2026-03-01T11:00:00Z", "dimensions": [{"type": "TIME", "volume": 0.5}]}
CLOSED = {"twentyfourseven": True, "exceptional_closings": [{"period_begin": "2026-12-25T00:00:00Z", "period_end": "2026-12-26T00:00:00Z"}]}
RESTRICTED = d.tariff(tid="T2")
RESTRICTED["elements"][0]["restrictions"] = {"start_date": "2026-01-01"}
# (sender, method, module, path, valid body, the date field, the values to put there)
DATE_FIELDS = [
    ("cpo", "PUT", "locations", "DE/CPO/LOC2", d.location(lid="LOC2"), "last_updated", NOT_DATE_TIMES),
    ("cpo", "PUT", "locations", "DE/CPO/LOC2", d.location(lid="LOC2"), "evses.1.connectors.0.last_updated", NOT_DATE_TIMES),
    ("cpo", "PUT", "locations", "DE/CPO/LOC2", d.location(lid="LOC2", opening_times=CLOSED),
     "opening_times.exceptional_closings.0.period_end", NOT_DATE_TIMES),
    ("cpo", "PUT", "locations", "DE/CPO/LOC1/LOC1-9", d.evse("LOC1-9"), "connectors.0.last_updated", NOT_DATE_TIMES),
    ("cpo", "PATCH", "locations", "DE/CPO/LOC1", {"name": "x", "last_updated": "2026-04-01T00:00:00Z"}, "last_updated", NOT_DATE_TIMES),
    ("cpo", "PATCH", "locations", "DE/CPO/LOC1", {"evses": [d.evse("LOC1-9")], "last_updated": "2026-04-01T00:00:00Z"},
     "evses.0.last_updated", NOT_DATE_TIMES),
    ("cpo", "PATCH", "locations", "DE/CPO/LOC1/LOC1-1/1", {"max_voltage": 400, "last_updated": "2026-04-01T00:00:00Z"},
     "last_updated", NOT_DATE_TIMES),
    ("cpo", "PUT", "tariffs", "DE/CPO/T2", d.tariff(tid="T2"), "last_updated", NOT_DATE_TIMES),
    ("cpo", "PUT", "tariffs", "DE/CPO/T2", RESTRICTED, "elements.0.restrictions.start_date", NOT_DATES),
    ("emsp", "PUT", "tokens", "NL/EMS/AA11", d.token(uid="AA11"), "last_updated", NOT_DATE_TIMES),
    ("emsp", "PATCH", "tokens", "NL/EMS/04A1B2C3", {"valid": False, "last_updated": "2026-04-01T00:00:00Z"}, "last_updated", NOT_DATE_TIMES),
    ("cpo", "PUT", "sessions", "DE/CPO/S2", d.session("S2"), "start_date_time", NOT_DATE_TIMES),
    ("cpo", "PATCH", "sessions", "DE/CPO/S1", {"charging_periods": [PERIOD], "last_updated": "2026-04-01T00:00:00Z"},
     "charging_periods.0.start_date_time", NOT_DATE_TIMES),
    ("cpo", "POST", "cdrs", "", d.cdr("CDR9"), "end_date_time", NOT_DATE_TIMES),
    ("cpo", "POST", "cdrs", "", d.cdr("CDR9"), "charging_periods.0.start_date_time", NOT_DATE_TIMES),
    ("emsp", "POST", "commands", "RESERVE_NOW", RESERVE, "expiry_date", NOT_DATE_TIMES),
]


async def test_dates_that_are_not_dates_are_2001_naming_the_field(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    """The DateTime pattern lets 2026-02-30, a month 13 or an hour 25 through: they are refused, not a 500."""
    before = await snapshot(setup.served)
    for who, method, module, path, body, field, values in DATE_FIELDS:
        party = setup.cpo if who == "cpo" else setup.emsp
        for value in values:
            r = await party.send(method, module, "RECEIVER", path, msgspec.json.encode(_set(field, value)(body)), to="NL/HUB")
            assert _status(r) == (200, t.INVALID_PARAMETERS), f"{method} {module} {field}={value}: {r.status_code} {r.text[:300]}"
            assert _field(field) in _message(r), r.text
    await setup.served.hub.core.dispatcher.drain()
    assert await snapshot(setup.served) == before
    assert not _errors_logged(caplog)


async def test_repeated_evse_uids_and_connector_ids_are_2001_naming_the_field(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    """Ids compare case-insensitively: one EVSE twice in a Location, or one connector twice in an EVSE, is refused."""
    twice, case_differs, connector_twice = d.location(lid="LOC2"), d.location(lid="LOC2"), d.location(lid="LOC2")
    twice["evses"][1]["uid"] = "LOC2-1"
    case_differs["evses"][1]["uid"] = "loc2-1"
    connector_twice["evses"][0]["connectors"].append(d.connector("1", tariff=None))
    evse = d.evse("LOC1-9")
    evse["connectors"] += [d.connector("a"), d.connector("A")]
    stamp = "2026-04-01T00:00:00Z"
    cases = [
        ("PUT", "DE/CPO/LOC2", twice, "evses[1].uid"),
        ("PUT", "DE/CPO/LOC2", case_differs, "evses[1].uid"),
        ("PUT", "DE/CPO/LOC2", connector_twice, "evses[0].connectors[1].id"),
        ("PATCH", "DE/CPO/LOC1", {"evses": [d.evse("LOC1-8"), d.evse("loc1-8")], "last_updated": stamp}, "evses[1].uid"),
        ("PUT", "DE/CPO/LOC1/LOC1-9", evse, "connectors[2].id"),
        ("PATCH", "DE/CPO/LOC1/LOC1-1", {"connectors": [d.connector("5"), d.connector("5")], "last_updated": stamp}, "connectors[1].id"),
    ]
    before = await snapshot(setup.served)
    for method, path, body, field in cases:
        r = await setup.cpo.send(method, "locations", "RECEIVER", path, msgspec.json.encode(body), to="NL/HUB")
        assert _status(r) == (200, t.INVALID_PARAMETERS), f"{method} {path} ({field}): {r.status_code} {r.text[:300]}"
        assert field in _message(r), r.text
    await setup.served.hub.core.dispatcher.drain()
    assert await snapshot(setup.served) == before
    assert not _errors_logged(caplog)


async def test_json_nested_2000_levels_deep_is_400(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    """msgspec gives up on it with a RecursionError (even in a field the type ignores): malformed JSON to us."""
    deep = b"[" * 2000 + b"]" * 2000
    before = await snapshot(setup.served)
    for name, who, method, module, role, path, body, *_ in ENDPOINTS:
        party = setup.cpo if who == "cpo" else setup.emsp
        raw = msgspec.json.encode(body)[:-1] + b', "extension": ' + deep + b"}"
        r = await party.send(method, module, role, path, raw, to="NL/HUB")
        assert _status(r) == (400, t.INVALID_PARAMETERS), f"{name}: {r.status_code} {r.text[:300]}"
    await setup.served.hub.core.dispatcher.drain()
    assert await snapshot(setup.served) == before
    assert not _errors_logged(caplog)


async def test_a_registering_party_whose_versions_are_nested_too_deeply_gets_3001(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    """Inside its credentials POST the hub reads the party's versions: JSON there that msgspec cannot follow
    means the hub cannot use its API (3001), not a 500."""
    deep = b'{"status_code": 1000, "timestamp": "2026-03-01T10:00:00Z", "data": ' + b"[" * 3000 + b"]" * 3000 + b"}"

    async def versions(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": deep})

    port = free_port()
    server = Loopback(versions, port, lifespan="off")
    await server.start()
    credentials = msgspec.to_builtins(setup.cpo.credentials())
    credentials["url"] = f"http://127.0.0.1:{port}/versions"
    credentials["roles"][0].update(country_code="BE", party_id="NEW", role="EMSP")
    before = await snapshot(setup.served)
    try:
        r = await setup.cpo.http.post(setup.cpo.hub_url("credentials", "SENDER"), content=msgspec.json.encode(credentials),
                                      headers={"Authorization": t.authorization(setup.token_a)})
    finally:
        await server.stop()
    assert _status(r) == (200, t.UNABLE_TO_USE_CLIENT_API), r.text
    assert await snapshot(setup.served) == before
    assert not _errors_logged(caplog)


async def test_a_body_over_max_body_bytes_is_413_unread(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    """The Location of the issue (37,000 EVSEs, megabytes) is refused before it is read or decoded, with an
    OCPI envelope, and it is no ERROR of the hub's."""
    limit = setup.served.settings.max_body_bytes
    huge = msgspec.json.encode(d.location(lid="BIG", evses=37_000))
    assert len(huge) > 9 * limit

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(limit // 65_536 + 2):
            yield b" " * 65_536

    before = await snapshot(setup.served)
    url = setup.cpo.hub_url("locations", "RECEIVER") + "/DE/CPO/BIG"
    for body in (huge, chunks()):
        r = await setup.cpo.http.put(url, content=body, headers=setup.cpo.headers("NL/HUB"))
        assert _status(r) == (413, t.CLIENT_ERROR), r.text
        assert r.headers["ocpi-to-party-id"] == "CPO" and r.headers["ocpi-from-party-id"] == "HUB"
    assert await snapshot(setup.served) == before
    assert not _errors_logged(caplog)


async def test_counts_no_real_object_reaches_are_2001_naming_the_field(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    """Bounded lists: far above any real site, within the body size, so the bound is what answers."""
    many_evses = d.location(lid="LOC2", evses=wire.MAX_EVSES + 1)
    for e in many_evses["evses"]:
        del e["capabilities"], e["evse_id"], e["connectors"][0]["tariff_ids"]
    many_connectors = d.evse("LOC1-9")
    many_connectors["connectors"] = [d.connector(str(n), tariff=None) for n in range(wire.MAX_CONNECTORS + 1)]
    many_elements = d.tariff(tid="T2")
    many_elements["elements"] *= wire.MAX_TARIFF_ELEMENTS + 1
    many_components = d.tariff(tid="T2")
    many_components["elements"][0]["price_components"] *= wire.MAX_PRICE_COMPONENTS + 1
    session, cdr = d.session("S2"), d.cdr("CDR9")
    session["charging_periods"] = cdr["charging_periods"] = [PERIOD] * (wire.MAX_CHARGING_PERIODS + 1)
    many_dimensions = d.cdr("CDR9")
    many_dimensions["charging_periods"][0]["dimensions"] *= wire.MAX_DIMENSIONS + 1
    cases = [
        ("PUT", "locations", "DE/CPO/LOC2", many_evses, "evses"),
        ("PATCH", "locations", "DE/CPO/LOC1", {"evses": many_evses["evses"], "last_updated": "2026-04-01T00:00:00Z"}, "evses"),
        ("PUT", "locations", "DE/CPO/LOC1/LOC1-9", many_connectors, "connectors"),
        ("PUT", "tariffs", "DE/CPO/T2", many_elements, "elements"),
        ("PUT", "tariffs", "DE/CPO/T2", many_components, "elements[0].price_components"),
        ("PUT", "sessions", "DE/CPO/S2", session, "charging_periods"),
        ("POST", "cdrs", "", cdr, "charging_periods"),
        ("POST", "cdrs", "", many_dimensions, "charging_periods[0].dimensions"),
    ]
    before = await snapshot(setup.served)
    for method, module, path, body, field in cases:
        raw = msgspec.json.encode(body)
        assert len(raw) < setup.served.settings.max_body_bytes, field
        r = await setup.cpo.send(method, module, "RECEIVER", path, raw, to="NL/HUB")
        assert _status(r) == (200, t.INVALID_PARAMETERS), f"{method} {module} {field}: {r.status_code} {r.text[:300]}"
        assert f"`$.{field}`" in _message(r), r.text
    await setup.served.hub.core.dispatcher.drain()
    assert await snapshot(setup.served) == before
    assert not _errors_logged(caplog)


async def test_ids_and_query_values_no_ocpi_object_can_have_are_refused(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    """A NUL, a non-ASCII character or 300 characters in an id names no object (404, like a path no route
    matches); in a query value it is 2001. Neither reaches the database (PostgreSQL refuses NUL)."""
    cpo, emsp = setup.cpo, setup.emsp
    cases = [
        (cpo, "GET", "locations", "RECEIVER", "DE/CPO/L%00C", None, None, (404, t.CLIENT_ERROR), "location_id"),
        (cpo, "PATCH", "locations", "RECEIVER", "DE/CPO/LOC1/E%00", {"last_updated": "2026-04-01T00:00:00Z"}, None, (404, t.CLIENT_ERROR), "evse_uid"),
        (emsp, "GET", "locations", "SENDER", "L\u00d6C1", None, None, (404, t.CLIENT_ERROR), "location_id"),
        (emsp, "PATCH", "tokens", "RECEIVER", "NL/EMS/" + "U" * 300, {"valid": False, "last_updated": "2026-04-01T00:00:00Z"}, None,
         (404, t.CLIENT_ERROR), "token_uid"),
        (cpo, "GET", "sessions", "RECEIVER", "DE/CPO/S%0A1", None, None, (404, t.CLIENT_ERROR), "session_id"),
        (cpo, "POST", "commands", "SENDER", "STOP_SESSION/C%00", {"result": "ACCEPTED"}, None, (404, t.CLIENT_ERROR), "command_id"),
        (emsp, "DELETE", "chargingprofiles", "RECEIVER", "S%001", None, {"response_url": "http://127.0.0.1:1/r"}, (404, t.CLIENT_ERROR), "session_id"),
        (emsp, "GET", "chargingprofiles", "RECEIVER", "S1", None, {"duration": "60", "response_url": "http://127.0.0.1:1/r\x00"},
         (200, t.INVALID_PARAMETERS), "response_url"),
        (emsp, "GET", "chargingprofiles", "RECEIVER", "S1", None, {"duration": "60", "response_url": "http://127.0.0.1:1/" + "r" * 300},
         (200, t.INVALID_PARAMETERS), "response_url"),
    ]
    before = await snapshot(setup.served)
    for party, method, module, role, path, body, params, expected, name in cases:
        r = await party.send(method, module, role, path, body, to="NL/HUB", params=params)
        assert _status(r) == expected, f"{method} {module} {path[:40]} {params}: {r.status_code} {r.text[:300]}"
        assert name in _message(r), r.text
    await setup.served.hub.core.dispatcher.drain()
    assert await snapshot(setup.served) == before
    assert not _errors_logged(caplog)


async def test_unmatched_routes_get_an_ocpi_envelope(setup: Setup) -> None:
    base, headers = setup.served.url, setup.cpo.headers()
    for method, path, status in [("GET", "/ocpi/2.2.1/nope", 404), ("GET", "/ocpi/2.2.1/receiver/locations/DE", 404),
                                 ("DELETE", "/ocpi/2.2.1/sender/locations", 405), ("POST", "/ocpi/versions", 405)]:
        r = await setup.cpo.http.request(method, base + path, headers=headers)
        assert _status(r) == (status, t.CLIENT_ERROR), f"{method} {path}: {r.status_code} {r.text[:300]}"
        assert msgspec.json.decode(r.content)["timestamp"]
        assert r.headers["x-request-id"] == headers["X-Request-ID"]
    assert "GET" in r.headers["allow"]


async def test_answers_of_functional_modules_name_the_requester_errors_included(setup: Setup) -> None:
    """OCPI-to names the requester and OCPI-from the hub on every answer once the requester is known, errors
    included; configuration modules and unauthenticated requests carry none."""
    cpo, emsp = setup.cpo, setup.emsp
    twice = d.location(lid="LOC2")
    twice["evses"][1]["uid"] = "LOC2-1"
    too_big = b" " * (setup.served.settings.max_body_bytes + 1)
    cases = [
        (cpo, "PUT", "locations", "RECEIVER", "DE/CPO/LOC2", msgspec.json.encode(twice), "NL/HUB", (200, t.INVALID_PARAMETERS)),
        (cpo, "PUT", "locations", "RECEIVER", "DE/CPO/LOC2", b'{"id": "LOC', "NL/HUB", (400, t.INVALID_PARAMETERS)),
        (cpo, "PUT", "locations", "RECEIVER", "DE/CPO/LOC2", too_big, "NL/HUB", (413, t.CLIENT_ERROR)),
        (cpo, "GET", "locations", "RECEIVER", "DE/CPO/NOPE", None, "NL/HUB", (404, t.CLIENT_ERROR)),
        (cpo, "PUT", "tariffs", "RECEIVER", "DE/CPO/T2", msgspec.json.encode(d.tariff(tid="T2")), "FR/XYZ", (200, t.UNKNOWN_RECEIVER)),
        (emsp, "POST", "tokens", "SENDER", "NOPE/authorize", None, None, (404, t.UNKNOWN_TOKEN)),
        (emsp, "PUT", "sessions", "SENDER", "NOPE/charging_preferences", b'{"profile_type": "FAST"}', None, (404, t.CLIENT_ERROR)),
        (emsp, "GET", "sessions", "SENDER", "", None, None, (200, t.INVALID_PARAMETERS)),  # date_from missing
    ]
    for party, method, module, role, path, body, to, expected in cases:
        r = await party.send(method, module, role, path, body, to=to)
        assert _status(r) == expected, f"{method} {module} {path}: {r.status_code} {r.text[:300]}"
        named = (r.headers.get("ocpi-to-country-code"), r.headers.get("ocpi-to-party-id"),
                 r.headers.get("ocpi-from-country-code"), r.headers.get("ocpi-from-party-id"))
        assert named == (party.country_code, party.party_id, "NL", "HUB"), f"{method} {module} {path}: {named}"
    r = await cpo.http.post(cpo.hub_url("credentials", "SENDER"), content=msgspec.json.encode(cpo.credentials()), headers=cpo.auth())
    assert r.status_code == 405 and not any(h.startswith("ocpi-") for h in r.headers)
    r = await cpo.send("GET", "locations", "RECEIVER", "DE/CPO/LOC1", Authorization=t.authorization("nope"))
    assert r.status_code == 401 and not any(h.startswith("ocpi-") for h in r.headers)
