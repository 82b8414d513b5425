"""Bad input on every OCPI endpoint gets the spec's answer and changes nothing in the store.

malformed JSON -> HTTP 400 + 2001; a missing or wrong-typed field, an over-long CiString, an unknown enum
value, an id that differs between URL and body -> HTTP 200 + 2001; another party's country/party ids ->
HTTP 404; token A on a functional module, or no/unknown token -> HTTP 401.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from connectors import bilateral
from fixtures.ocpi_party import OcpiParty
from hub.model import PartyId
from hub.store import schema
from protocols.ocpi import transport as t
from tests import ocpi_data as d


async def snapshot(served: Any) -> dict[str, list]:
    """Every row of every table the hub writes, besides connection bookkeeping (last successful exchange;
    which process holds a charger's socket, since when)."""

    def op(conn: sa.Connection) -> dict[str, list]:
        out = {}
        for table in schema.metadata.sorted_tables:
            cols = [c for c in table.columns if c.name not in ("last_ok_us", "instance", "last_seen_us", "connected_us", "protocol")]
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
    assert _status(r) == (200, t.INVALID_PARAMETERS) and "already connected" in r.text
    # a registration not listing the invited party is refused
    other = msgspec.to_builtins(cpo.credentials())
    other["roles"][0].update(country_code="BE", party_id="ZZZ", role="EMSP")
    r = await cpo.http.post(url, content=msgspec.json.encode(other), headers=a)
    assert _status(r) == (200, t.INVALID_PARAMETERS) and "BE/NEW" in r.text
    assert await snapshot(setup.served) == before


@pytest.mark.parametrize("params,module", [
    ({"offset": "-1"}, "locations"), ({"limit": "ten"}, "tariffs"), ({"date_from": "yesterday"}, "locations"),
    ({"date_to": "2026-13-45T00:00:00Z"}, "tokens"), ({}, "sessions"),
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
