"""OCPI 2.1.1 end to end over real HTTP: a 2.1.1 CPO registers with the hub in 2.1.1 and roams with a 2.2.1 eMSP
through it (Locations, tokens, real-time authorization, START/STOP_SESSION, Sessions, CDRs). The 2.1.1 party decodes
everything the hub sends it with the strict 2.1.1 types; the 2.2.1 one with the 2.2.1 types. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from connectors import bilateral
from fixtures.ocpi211_party import Ocpi211Party
from fixtures.ocpi_party import OcpiParty
from hub.model import PartyId
from tests import ocpi_data as d
from tests.test_ocpi_e2e import env, eventually

WHEN = "2026-03-01T10:00:00Z"


def connector(tariff: str = "T1") -> dict[str, Any]:
    return {"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "voltage": 230,
            "amperage": 16, "tariff_id": tariff, "last_updated": WHEN}


def evse(uid: str, status: str = "AVAILABLE") -> dict[str, Any]:
    return {"uid": uid, "evse_id": f"DE*CPO*E{uid}", "status": status, "capabilities": ["REMOTE_START_STOP_CAPABLE"],
            "connectors": [connector()], "last_updated": WHEN}


def location(lid: str = "LOC1", evses: int = 2) -> dict[str, Any]:
    """A 2.1.1 Location as a CPO sends it: no owner fields, `type`, no time_zone (optional in 2.1.1)."""
    return {"id": lid, "type": "ON_STREET", "name": f"Site {lid}", "address": "Hauptstrasse 1", "city": "Berlin",
            "postal_code": "10115", "country": "DEU", "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
            "evses": [evse(f"{lid}-{i + 1}") for i in range(evses)], "operator": {"name": "CPO GmbH"}, "last_updated": WHEN}


def tariff() -> dict[str, Any]:
    return {"id": "T1", "currency": "EUR", "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}]}],
            "last_updated": "2026-03-01T09:00:00Z"}


def session(status: str = "ACTIVE", kwh: float = 0.0, when: str = "2026-03-01T11:00:00Z") -> dict[str, Any]:
    return {"id": "S1", "start_datetime": "2026-03-01T11:00:00Z", "kwh": kwh, "auth_id": "NL-EMS-C00000001-X",
            "auth_method": "AUTH_REQUEST", "location": location(evses=1), "currency": "EUR", "status": status, "last_updated": when}


def cdr() -> dict[str, Any]:
    return {"id": "CDR1", "start_date_time": "2026-03-01T11:00:00Z", "stop_date_time": "2026-03-01T12:00:00Z",
            "auth_id": "NL-EMS-C00000001-X", "auth_method": "AUTH_REQUEST", "location": location(evses=1), "currency": "EUR",
            "charging_periods": [{"start_date_time": "2026-03-01T11:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 10.5}]}],
            "total_cost": 3.68, "total_energy": 10.5, "total_time": 1.0, "last_updated": "2026-03-01T12:00:05Z"}


class Pair:
    def __init__(self, served: Any, cpo: Ocpi211Party, emsp: OcpiParty) -> None:
        self.served, self.cpo, self.emsp = served, cpo, emsp


async def _join_211(served: Any, party: Ocpi211Party) -> None:
    invite = await bilateral.invite(served.hub.ocpi, PartyId.of(party.country_code, party.party_id), party.role)
    await party.register(invite["versions_url"], invite["token"])


@pytest.fixture
async def pair(served: Any, make_party: Any) -> Any:
    cpo = Ocpi211Party("DE", "CPO", "CPO")
    await cpo.start()
    emsp = await make_party("NL", "EMS", "EMSP")
    invite = await bilateral.invite(served.hub.ocpi, PartyId("NL", "EMS"), "EMSP")
    await emsp.register(invite["versions_url"], invite["token"])
    await _join_211(served, cpo)
    yield Pair(served, cpo, emsp)
    await cpo.aclose()


def _no_routing_headers(party: Ocpi211Party) -> None:
    for records in party.received.values():
        for r in records:
            assert not any(k.startswith("ocpi-") for k in r.headers), r.headers


async def test_the_versions_endpoint_offers_both_and_a_211_party_is_served_in_211(pair: Pair) -> None:
    hub = pair.served.hub
    r = await pair.cpo.http.get(f"{pair.served.url}/ocpi/versions", headers=pair.cpo.headers())
    assert [v["version"] for v in env(r)["data"]] == ["2.2.1", "2.1.1"]
    platform = hub.core.directory.platform_of(PartyId("DE", "CPO"))
    assert platform is not None and (platform.row.protocol, platform.row.version, platform.row.status) == ("ocpi211", "2.1.1", "CONNECTED")
    assert platform.roles == ((PartyId("DE", "CPO"), "CPO"),)
    assert platform.row.header_codec == "raw" and platform.row.receives == {"token"}
    assert platform.row.serves == {"location", "tariff", "session", "cdr"}
    # its version details are the hub's eMSP interface, one URL per module, no roles
    assert pair.cpo.hub_endpoints["locations"].endswith("/ocpi/2.1.1/emsp/locations")
    assert "commands" not in pair.cpo.hub_endpoints
    # the 2.2.1 endpoints are not its own: it is served in 2.1.1 for everything
    r = await pair.cpo.http.get(f"{pair.served.url}/ocpi/2.2.1/sender/tokens", headers=pair.cpo.headers())
    assert r.status_code == 400 and env(r)["status_code"] == 2000
    # and a 2.2.1 party cannot use the 2.1.1 eMSP interface
    r = await pair.emsp.http.get(f"{pair.served.url}/ocpi/2.1.1/emsp/tokens", headers=pair.emsp.headers())
    assert r.status_code == 400


async def test_a_211_cpos_locations_reach_a_221_emsp_and_its_tokens_reach_the_cpo(pair: Pair) -> None:
    cpo, emsp = pair.cpo, pair.emsp
    r = await cpo.send("PUT", "tariffs", "DE/CPO/T1", msgspec.json.encode(tariff()))
    assert r.status_code == 201 and env(r)["status_code"] == 1000, r.text
    r = await cpo.send("PUT", "locations", "DE/CPO/LOC1", msgspec.json.encode(location()))
    assert r.status_code == 201 and env(r)["status_code"] == 1000, r.text
    # a 2.1.1 PATCH without last_updated
    r = await cpo.send("PATCH", "locations", "DE/CPO/LOC1/LOC1-1", msgspec.json.encode({"status": "CHARGING"}))
    assert env(r)["status_code"] == 1000, r.text

    await eventually(lambda: "DE/CPO/LOC1" in emsp.objects["locations"] and "DE/CPO/T1" in emsp.objects["tariffs"])
    pushed = msgspec.json.decode(emsp.objects["locations"]["DE/CPO/LOC1"])
    assert (pushed["country_code"], pushed["party_id"], pushed["time_zone"], pushed["parking_type"]) == ("DE", "CPO", "Europe/Berlin", "ON_STREET")
    assert pushed["evses"][0]["connectors"][0]["max_voltage"] == 230 and pushed["evses"][0]["connectors"][0]["tariff_ids"] == ["T1"]
    await eventually(lambda: emsp.evse_status.get("DE/CPO/LOC1/LOC1-1") == "CHARGING")
    assert not emsp.errors

    # the eMSP's token goes to the 2.1.1 CPO in 2.1.1 (auth_id, no routing headers)
    r = await emsp.send("PUT", "tokens", "RECEIVER", "NL/EMS/04A1B2C3", msgspec.json.encode(d.token()), to="NL/HUB")
    assert r.status_code == 201, r.text
    await eventually(lambda: "NL/EMS/04A1B2C3" in cpo.objects["tokens"])
    token = msgspec.json.decode(cpo.objects["tokens"]["NL/EMS/04A1B2C3"])
    assert token["auth_id"] == "NL-EMS-C00000001-X" and "country_code" not in token and "contract_id" not in token
    r = await emsp.send("PATCH", "tokens", "RECEIVER", "NL/EMS/04A1B2C3", msgspec.json.encode({"valid": False, "last_updated": "2026-03-02T08:00:00Z"}),
                        to="NL/HUB", params={"type": "RFID"})
    assert env(r)["status_code"] == 1000, r.text
    await eventually(lambda: any(x.method == "PATCH" for x in cpo.received["tokens"]))
    patch = next(x for x in cpo.received["tokens"] if x.method == "PATCH")
    assert patch.body == {"valid": False, "last_updated": "2026-03-02T08:00:00Z"}
    assert not cpo.errors
    _no_routing_headers(cpo)

    # the CPO pulls the tokens it may see, in 2.1.1
    r = await cpo.send("GET", "tokens")
    assert [t["uid"] for t in env(r)["data"]] == ["04A1B2C3"] and env(r)["data"][0]["auth_id"] == "NL-EMS-C00000001-X"
    # its own Location back from the hub, in 2.1.1
    r = await cpo.send("GET", "locations", "DE/CPO/LOC1/LOC1-1")
    assert env(r)["data"]["status"] == "CHARGING" and env(r)["data"]["connectors"][0]["voltage"] == 230


async def test_a_211_cpo_asks_a_221_emsp_about_a_token_in_real_time(pair: Pair) -> None:
    cpo, emsp = pair.cpo, pair.emsp
    await cpo.send("PUT", "locations", "DE/CPO/LOC1", msgspec.json.encode(location()))
    emsp.own("tokens", "NL/EMS/04A1B2C3", d.token(whitelist="NEVER"))
    await emsp.send("PUT", "tokens", "RECEIVER", "NL/EMS/04A1B2C3", msgspec.json.encode(d.token(whitelist="NEVER")), to="NL/HUB")
    r = await cpo.send("POST", "tokens", "04A1B2C3/authorize", msgspec.json.encode({"location_id": "LOC1", "evse_uids": ["LOC1-1"]}))
    assert env(r)["status_code"] == 1000, r.text
    assert env(r)["data"]["allowed"] == "ALLOWED"
    asked = emsp.received["tokens"][-1]
    assert asked.method == "POST" and asked.path == "04A1B2C3/authorize" and asked.body["location_id"] == "LOC1"
    emsp.authorize_allowed = "BLOCKED"
    pair.served.hub.ocpi.authorizations = type(pair.served.hub.ocpi.authorizations)()  # no answer reused
    r = await cpo.send("POST", "tokens", "04A1B2C3/authorize", msgspec.json.encode({"location_id": "LOC1", "evse_uids": ["LOC1-2"]}))
    assert env(r)["data"]["allowed"] == "BLOCKED"
    r = await cpo.send("POST", "tokens", "UNKNOWN1/authorize")
    assert r.status_code == 404 and env(r)["status_code"] == 2004


async def test_start_and_stop_session_from_a_221_emsp_reach_a_211_cpo_and_sessions_and_cdrs_come_back(pair: Pair) -> None:
    cpo, emsp = pair.cpo, pair.emsp
    await cpo.send("PUT", "locations", "DE/CPO/LOC1", msgspec.json.encode(location()))
    await emsp.send("PUT", "tokens", "RECEIVER", "NL/EMS/04A1B2C3", msgspec.json.encode(d.token()), to="NL/HUB")

    start = {"response_url": f"{emsp.url}/2.2.1/commands/START_SESSION/1", "token": d.token(), "location_id": "LOC1", "evse_uid": "LOC1-1"}
    r = await emsp.send("POST", "commands", "RECEIVER", "START_SESSION", msgspec.json.encode(start))
    assert env(r)["status_code"] == 1000 and env(r)["data"]["result"] == "ACCEPTED", r.text
    sent = cpo.received["commands"][-1]
    assert sent.path == "START_SESSION" and sent.body["token"]["auth_id"] == "NL-EMS-C00000001-X"
    assert sent.body["response_url"].startswith(f"{pair.served.url}/ocpi/2.1.1/emsp/commands/")
    # the CPO's result (a 2.1.1 CommandResponse) reaches the eMSP as a 2.2.1 CommandResult
    await eventually(lambda: any(x.method == "POST" and x.path == "START_SESSION/1" for x in emsp.received["commands"]))
    result = next(x for x in emsp.received["commands"] if x.path == "START_SESSION/1")
    assert result.body == {"result": "ACCEPTED"}

    # the Session: the CPO names the token by auth_id; the eMSP gets the token it knows as cdr_token
    r = await cpo.send("PUT", "sessions", "DE/CPO/S1", msgspec.json.encode(session()))
    assert r.status_code == 201, r.text
    await eventually(lambda: "DE/CPO/S1" in emsp.objects["sessions"])
    s = msgspec.json.decode(emsp.objects["sessions"]["DE/CPO/S1"])
    assert s["cdr_token"] == d.cdr_token() and (s["location_id"], s["evse_uid"], s["connector_id"]) == ("LOC1", "LOC1-1", "1")
    assert s["start_date_time"] == "2026-03-01T11:00:00Z"
    r = await cpo.send("PATCH", "sessions", "DE/CPO/S1", msgspec.json.encode({"kwh": 5.5}))
    assert env(r)["status_code"] == 1000, r.text
    await eventually(lambda: any(x.method == "PATCH" and x.body.get("kwh") == 5.5 for x in emsp.received["sessions"]))

    stop = {"response_url": f"{emsp.url}/2.2.1/commands/STOP_SESSION/2", "session_id": "S1"}
    r = await emsp.send("POST", "commands", "RECEIVER", "STOP_SESSION", msgspec.json.encode(stop))
    assert env(r)["data"]["result"] == "ACCEPTED", r.text
    assert cpo.received["commands"][-1].path == "STOP_SESSION" and cpo.received["commands"][-1].body["session_id"] == "S1"
    await eventually(lambda: any(x.path == "STOP_SESSION/2" for x in emsp.received["commands"]))

    r = await cpo.send("POST", "cdrs", body=msgspec.json.encode(cdr()))
    assert r.status_code == 201 and r.headers["location"].endswith("/ocpi/2.1.1/emsp/cdrs/DE/CPO/CDR1"), r.text
    await eventually(lambda: "DE/CPO/CDR1" in emsp.objects["cdrs"])
    c = msgspec.json.decode(emsp.objects["cdrs"]["DE/CPO/CDR1"])
    assert c["cdr_token"] == d.cdr_token() and c["total_cost"]["excl_vat"] == 3.68 and c["end_date_time"] == "2026-03-01T12:00:00Z"
    assert c["cdr_location"]["evse_uid"] == "LOC1-1" and c["cdr_location"]["connector_standard"] == "IEC_62196_T2"
    r = await cpo.http.get(r.headers["location"], headers=cpo.headers())
    assert env(r)["data"]["auth_id"] == "NL-EMS-C00000001-X"
    assert not emsp.errors and not cpo.errors
    _no_routing_headers(cpo)


async def test_a_command_the_211_cpo_cannot_take_is_not_supported_and_it_cannot_answer_for_another(pair: Pair) -> None:
    cpo, emsp = pair.cpo, pair.emsp
    await cpo.send("PUT", "locations", "DE/CPO/LOC1", msgspec.json.encode(location()))
    cancel = {"response_url": f"{emsp.url}/2.2.1/commands/CANCEL_RESERVATION/3", "reservation_id": "R1"}
    r = await emsp.send("POST", "commands", "RECEIVER", "CANCEL_RESERVATION", msgspec.json.encode(cancel), to="DE/CPO")
    assert env(r)["data"]["result"] == "NOT_SUPPORTED", r.text
    assert not cpo.received["commands"]
    r = await cpo.http.post(f"{pair.served.url}/ocpi/2.1.1/emsp/commands/0123abcd", content=b'{"result":"ACCEPTED"}', headers=cpo.headers())
    assert r.status_code == 404


@pytest.mark.parametrize("codec", ["raw", "base64"])
async def test_a_211_party_is_accepted_with_a_raw_or_a_base64_token(served: Any, codec: str) -> None:
    cpo = Ocpi211Party("DE", "CPX", "CPO", codec=codec)
    await cpo.start()
    try:
        await _join_211(served, cpo)
        r = await cpo.send("PUT", "locations", "DE/CPX/LOC9", msgspec.json.encode(location("LOC9")))
        assert r.status_code == 201 and env(r)["status_code"] == 1000, r.text
        assert cpo.received["versions"] and all(x.headers["authorization"].startswith("Token ") for x in cpo.received["versions"])
    finally:
        await cpo.aclose()


async def test_a_211_party_pushes_only_what_it_owns(pair: Pair) -> None:
    r = await pair.cpo.send("PUT", "locations", "NL/EMS/LOC1", msgspec.json.encode(location()))
    assert r.status_code == 404 and env(r)["status_code"] == 2001
    r = await pair.cpo.send("PUT", "locations", "DE/CPO/LOC2", msgspec.json.encode(location("LOC1")))
    assert env(r)["status_code"] == 2001  # the id in the URL differs from the body
    r = await pair.cpo.send("PUT", "locations", "DE/CPO/LOC1", b'{"id": "LOC1"}')
    assert env(r)["status_code"] == 2001
    assert await pair.served.hub.core.objects.location(PartyId("DE", "CPO"), "LOC1") is None


# --- the reverse: a 2.2.1 CPO and a 2.1.1 eMSP ------------------------------------------------------------------


@pytest.fixture
async def reverse(served: Any, make_party: Any) -> Any:
    cpo = await make_party("DE", "CPO", "CPO")
    invite = await bilateral.invite(served.hub.ocpi, PartyId("DE", "CPO"), "CPO")
    await cpo.register(invite["versions_url"], invite["token"])
    emsp = Ocpi211Party("NL", "EMS", "EMSP")
    await emsp.start()
    await _join_211(served, emsp)
    yield Pair(served, cpo, emsp)  # type: ignore[arg-type]
    await emsp.aclose()


def token_211() -> dict[str, Any]:
    return {"uid": "04A1B2C3", "type": "RFID", "auth_id": "NL-EMS-C00000001-X", "issuer": "EMS Mobility", "valid": True,
            "whitelist": "NEVER", "last_updated": "2026-03-01T08:00:00Z"}


async def test_a_221_cpos_locations_sessions_and_cdrs_reach_a_211_emsp_in_211(reverse: Pair) -> None:
    cpo, emsp = reverse.cpo, reverse.emsp  # type: ignore[assignment]
    platform = reverse.served.hub.core.directory.platform_of(PartyId("NL", "EMS"))
    assert platform.roles == ((PartyId("NL", "EMS"), "EMSP"),) and platform.row.receives == {"location", "tariff", "session", "cdr"}
    assert emsp.hub_endpoints["commands"].endswith("/ocpi/2.1.1/cpo/commands")

    await cpo.send("PUT", "tariffs", "RECEIVER", "DE/CPO/T1", msgspec.json.encode(d.tariff()), to="NL/HUB")
    r = await cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/LOC1", msgspec.json.encode(d.location()), to="NL/HUB")
    assert r.status_code == 201, r.text
    await eventually(lambda: "DE/CPO/LOC1" in emsp.objects["locations"] and "DE/CPO/T1" in emsp.objects["tariffs"])
    loc = msgspec.json.decode(emsp.objects["locations"]["DE/CPO/LOC1"])
    assert "country_code" not in loc and loc["type"] == "UNKNOWN" and loc["evses"][0]["connectors"][0]["tariff_id"] == "T1"
    r = await cpo.send("PATCH", "locations", "RECEIVER", "DE/CPO/LOC1/LOC1-1",
                       msgspec.json.encode({"status": "CHARGING", "last_updated": "2026-03-01T11:30:00Z"}), to="NL/HUB")
    await eventually(lambda: any(x.method == "PATCH" for x in emsp.received["locations"]))
    patch = next(x for x in emsp.received["locations"] if x.method == "PATCH")
    assert patch.path == "DE/CPO/LOC1/LOC1-1" and patch.body == {"status": "CHARGING", "last_updated": "2026-03-01T11:30:00Z"}

    # GET All and GET by id on the hub's CPO interface, in 2.1.1
    r = await emsp.send("GET", "locations")
    assert [x["id"] for x in env(r)["data"]] == ["LOC1"] and r.headers["x-total-count"] == "1"
    r = await emsp.send("GET", "locations", "LOC1/LOC1-1")
    assert env(r)["data"]["status"] == "CHARGING"
    r = await emsp.send("GET", "tariffs")
    assert env(r)["data"][0]["id"] == "T1" and "country_code" not in env(r)["data"][0]

    # the eMSP's token reaches the 2.2.1 CPO in 2.2.1; the CPO asks about it in real time
    r = await emsp.send("PUT", "tokens", "NL/EMS/04A1B2C3", msgspec.json.encode(token_211()))
    assert r.status_code == 201, r.text
    emsp.own("tokens", "NL/EMS/04A1B2C3", token_211())
    await eventually(lambda: any(k.endswith("04A1B2C3") for k in cpo.objects["tokens"]))
    pushed = msgspec.json.decode(next(v for k, v in cpo.objects["tokens"].items() if k.endswith("04A1B2C3")))
    assert (pushed["country_code"], pushed["party_id"], pushed["contract_id"]) == ("NL", "EMS", "NL-EMS-C00000001-X")
    r = await cpo.send("POST", "tokens", "SENDER", "04A1B2C3/authorize", msgspec.json.encode({"location_id": "LOC1"}), params={"type": "RFID"})
    assert env(r)["status_code"] == 1000 and env(r)["data"]["allowed"] == "ALLOWED", r.text
    asked = emsp.received["tokens"][-1]
    assert asked.method == "POST" and asked.path == "04A1B2C3/authorize"

    # a Session addressed to the eMSP: stored and delivered in 2.1.1, the token named by auth_id, the Location embedded
    r = await cpo.send("PUT", "sessions", "RECEIVER", "DE/CPO/S1", msgspec.json.encode(d.session()), to="NL/EMS")
    assert env(r)["status_code"] == 1000, r.text
    await eventually(lambda: "DE/CPO/S1" in emsp.objects["sessions"])
    s = msgspec.json.decode(emsp.objects["sessions"]["DE/CPO/S1"])
    assert s["auth_id"] == "NL-EMS-C00000001-X" and s["location"]["id"] == "LOC1"
    assert [e["uid"] for e in s["location"]["evses"]] == ["LOC1-1"]
    r = await cpo.send("POST", "cdrs", "RECEIVER", body=msgspec.json.encode(d.cdr()))
    assert r.status_code == 201, r.text
    await eventually(lambda: "CDR1" in emsp.objects["cdrs"])
    c = msgspec.json.decode(emsp.objects["cdrs"]["CDR1"])
    assert c["auth_id"] == "NL-EMS-C00000001-X" and c["total_cost"] == 3.68 and c["stop_date_time"] == "2026-03-01T12:00:00Z"
    assert not emsp.errors and not cpo.errors
    _no_routing_headers(emsp)


async def test_start_session_from_a_211_emsp_reaches_a_221_cpo_and_its_result_comes_back_in_211(reverse: Pair) -> None:
    cpo, emsp = reverse.cpo, reverse.emsp  # type: ignore[assignment]
    await cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/LOC1", msgspec.json.encode(d.location()), to="NL/HUB")
    start = {"response_url": emsp.response_url("start-1"), "token": token_211(), "location_id": "LOC1", "evse_uid": "LOC1-1"}
    r = await emsp.send("POST", "commands", "START_SESSION", msgspec.json.encode(start))
    assert env(r)["status_code"] == 1000 and env(r)["data"] == {"result": "ACCEPTED"}, r.text
    sent = cpo.received["commands"][-1]
    assert sent.path == "START_SESSION" and sent.body["token"]["contract_id"] == "NL-EMS-C00000001-X"
    assert sent.body["response_url"].startswith(f"{reverse.served.url}/ocpi/2.2.1/sender/commands/START_SESSION/")
    assert sent.headers["ocpi-from-party-id"] == "EMS" and sent.headers["ocpi-to-party-id"] == "CPO"
    await eventually(lambda: emsp.received["commandresults"])
    assert emsp.received["commandresults"][0].path == "start-1" and emsp.received["commandresults"][0].body == {"result": "ACCEPTED"}
    # a command at a Location nobody has
    r = await emsp.send("POST", "commands", "START_SESSION", msgspec.json.encode({**start, "location_id": "NOPE"}))
    assert env(r)["status_code"] == 2003 and env(r)["data"]["result"] == "REJECTED"
    # a Session nobody has
    r = await emsp.send("POST", "commands", "STOP_SESSION", msgspec.json.encode({"response_url": start["response_url"], "session_id": "NOPE"}))
    assert env(r)["status_code"] == 1000 and env(r)["data"] == {"result": "UNKNOWN_SESSION"}
    assert not emsp.errors and not cpo.errors


async def test_the_hub_registers_with_a_211_peer_in_211_when_it_offers_no_221(served: Any) -> None:
    cpo = Ocpi211Party("DE", "CPR", "CPO")
    await cpo.start()
    try:
        token_a = cpo.invite_hub()
        platform = await bilateral.register(served.hub.ocpi, f"{cpo.url}/versions", token_a, ocpi211=served.hub.ocpi211)
        assert (platform.row.protocol, platform.row.version, platform.roles) == ("ocpi211", "2.1.1", ((PartyId("DE", "CPR"), "CPO"),))
        assert cpo.hub_token and cpo.hub_endpoints["locations"].endswith("/ocpi/2.1.1/emsp/locations")  # read with token B
        r = await cpo.send("PUT", "locations", "DE/CPR/LOC1", msgspec.json.encode(location()))
        assert r.status_code == 201 and env(r)["status_code"] == 1000, r.text
        listed = {p["platform"]: p for p in bilateral.parties(served.hub.ocpi)}
        assert (listed[platform.id]["version"], listed[platform.id]["protocol"]) == ("2.1.1", "ocpi211")
    finally:
        await cpo.aclose()
