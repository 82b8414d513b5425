"""End to end over real HTTP on loopback: a CPO platform and two eMSP platforms register with the hub
through the credentials handshake and roam through it. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest

from connectors import bilateral
from fixtures.ocpi_party import OcpiParty
from hub.model import PartyId
from hub.store import documents as docs
from tests import ocpi_data as d


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def env(response: httpx.Response) -> dict[str, Any]:
    return msgspec.json.decode(response.content)


class Roaming:
    def __init__(self, served: Any, cpo: OcpiParty, emsp: OcpiParty, other: OcpiParty) -> None:
        self.served, self.cpo, self.emsp, self.other = served, cpo, emsp, other
        self.ocpi = served.hub.ocpi


async def _join(served: Any, party: OcpiParty) -> None:
    invite = await bilateral.invite(served.hub.ocpi, PartyId.of(party.country_code, party.party_id), party.role)
    assert invite["versions_url"] == f"{served.url}/ocpi/versions"
    await party.register(invite["versions_url"], invite["token"])


@pytest.fixture
async def roaming(served: Any, make_party: Any) -> Roaming:
    cpo = await make_party("DE", "CPO", "CPO")
    emsp = await make_party("NL", "EMS", "EMSP")
    other = await make_party("FR", "OTH", "EMSP")
    for party in (cpo, emsp, other):
        await _join(served, party)
    return Roaming(served, cpo, emsp, other)


async def test_registration_stores_endpoints_and_issues_token_c(roaming: Roaming) -> None:
    directory = roaming.ocpi.core.directory
    platform = directory.platform_of(PartyId("DE", "CPO"))
    assert platform is not None and platform.row.status == "CONNECTED" and platform.row.token_in_kind == "C"
    assert {"location", "tariff", "session", "cdr"} <= platform.row.serves
    assert {"token", "command", "clientinfo"} <= platform.row.receives
    # token A is dead; token C works
    assert roaming.cpo.hub_token
    r = await roaming.cpo.http.get(roaming.cpo.hub_url("credentials", "SENDER"), headers=roaming.cpo.auth())
    assert env(r)["status_code"] == 1000 and env(r)["data"]["roles"][0]["role"] == "HUB"
    assert env(r)["data"]["token"] == roaming.cpo.hub_token
    # the parties heard about each other through HubClientInfo
    await eventually(lambda: "DE/CPO" in roaming.emsp.objects["hubclientinfo"])


async def test_location_tariff_and_status_reach_emsps_by_push_and_get_all(roaming: Roaming) -> None:
    cpo, emsp = roaming.cpo, roaming.emsp
    r = await cpo.send("PUT", "tariffs", "RECEIVER", "DE/CPO/T1", msgspec.json.encode(d.tariff()), to="NL/HUB")
    assert r.status_code == 201 and env(r)["status_code"] == 1000
    for n in range(1, 13):
        r = await cpo.send("PUT", "locations", "RECEIVER", f"DE/CPO/LOC{n}", msgspec.json.encode(
            d.location(lid=f"LOC{n}", when=f"2026-03-01T10:{n:02d}:00Z")), to="NL/HUB")
        assert r.status_code == 201, r.text
    r = await cpo.send("PATCH", "locations", "RECEIVER", "DE/CPO/LOC1/LOC1-1",
                       msgspec.json.encode({"status": "CHARGING", "last_updated": "2026-03-01T11:30:00Z"}), to="NL/HUB")
    assert env(r)["status_code"] == 1000
    assert r.headers["x-request-id"] and r.headers["ocpi-to-party-id"] == "CPO"

    # pushed to both eMSPs (broadcast), PATCH included, in order
    for party in (emsp, roaming.other):
        await eventually(lambda p=party: len(p.objects["locations"]) == 12 and "DE/CPO/T1" in p.objects["tariffs"])
        await eventually(lambda p=party: any(x.method == "PATCH" for x in p.received["locations"]))
    patch = next(x for x in emsp.received["locations"] if x.method == "PATCH")
    assert patch.path == "DE/CPO/LOC1/LOC1-1" and patch.body == {"status": "CHARGING", "last_updated": "2026-03-01T11:30:00Z"}
    assert patch.headers["ocpi-from-party-id"] == "HUB" and patch.headers["ocpi-to-party-id"] == "EMS"
    assert not emsp.errors and not roaming.other.errors

    # GET All from the hub's store, paginated
    r = await emsp.send("GET", "locations", "SENDER", params={"limit": "5"}, to="NL/HUB")
    assert r.status_code == 200 and env(r)["status_code"] == 1000
    assert r.headers["x-total-count"] == "12" and r.headers["x-limit"] == "100"
    assert 'rel="next"' in r.headers["link"] and "offset=5" in r.headers["link"] and "limit=5" in r.headers["link"]
    page1 = env(r)["data"]
    assert [loc["id"] for loc in page1] == ["LOC2", "LOC3", "LOC4", "LOC5", "LOC6"]  # oldest first: LOC1 moved
    next_url = r.headers["link"].split(";")[0].strip("<>")
    r2 = await emsp.http.get(next_url, headers=emsp.headers())
    r3 = await emsp.http.get(r2.headers["link"].split(";")[0].strip("<>"), headers=emsp.headers())
    assert "link" not in r3.headers
    ids = [x["id"] for x in page1 + env(r2)["data"] + env(r3)["data"]]
    assert sorted(ids) == sorted(f"LOC{n}" for n in range(1, 13)) and len(set(ids)) == 12
    loc1 = env(r3)["data"][-1]
    assert loc1["id"] == "LOC1" and loc1["last_updated"] == "2026-03-01T11:30:00Z"
    assert loc1["evses"][0]["status"] == "CHARGING"

    # date filters: from inclusive, to exclusive
    r = await emsp.send("GET", "locations", "SENDER", params={"date_from": "2026-03-01T10:03:00Z", "date_to": "2026-03-01T10:06:00Z"})
    assert [x["id"] for x in env(r)["data"]] == ["LOC3", "LOC4", "LOC5"]
    # single objects
    r = await emsp.send("GET", "locations", "SENDER", "LOC1/LOC1-1")
    assert env(r)["data"]["uid"] == "LOC1-1" and env(r)["data"]["status"] == "CHARGING"
    r = await emsp.send("GET", "locations", "SENDER", "NOPE")
    assert r.status_code == 404


async def test_token_reaches_cpos_and_real_time_authorization_is_routed(roaming: Roaming) -> None:
    cpo, emsp = roaming.cpo, roaming.emsp
    r = await emsp.send("PUT", "tokens", "RECEIVER", "NL/EMS/04A1B2C3", msgspec.json.encode(d.token()), to="NL/HUB")
    assert r.status_code == 201 and env(r)["status_code"] == 1000
    await eventually(lambda: "NL/EMS/04A1B2C3" in cpo.objects["tokens"])
    assert cpo.received["tokens"][0].headers["ocpi-to-party-id"] == "CPO"
    assert not roaming.other.received["tokens"]  # eMSPs don't get each other's tokens
    # the eMSP serves its own token for real-time authorization
    emsp.own("tokens", "NL/EMS/04A1B2C3", msgspec.json.encode(d.token()))
    r = await cpo.send("POST", "tokens", "SENDER", "04A1B2C3/authorize", msgspec.json.encode({"location_id": "LOC1"}),
                       params={"type": "RFID"})  # open routing: the hub finds the issuer
    assert env(r)["status_code"] == 1000 and env(r)["data"]["allowed"] == "ALLOWED", r.text
    assert r.headers["ocpi-from-party-id"] == "EMS"
    r = await cpo.send("POST", "tokens", "SENDER", "UNKNOWN1/authorize", params={"type": "RFID"})
    assert r.status_code == 404 and env(r)["status_code"] == 2004


async def test_session_and_cdr_reach_only_the_token_owner(roaming: Roaming) -> None:
    cpo, emsp, other = roaming.cpo, roaming.emsp, roaming.other
    await cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/LOC1", msgspec.json.encode(d.location()), to="NL/HUB")
    r = await cpo.send("PUT", "sessions", "RECEIVER", "DE/CPO/S1", msgspec.json.encode(d.session()), to="NL/HUB")
    assert r.status_code == 201 and env(r)["status_code"] == 1000
    r = await cpo.send("PATCH", "sessions", "RECEIVER", "DE/CPO/S1", msgspec.json.encode({
        "kwh": 5.5, "charging_periods": [{"start_date_time": "2026-03-01T11:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 5.5}]}],
        "last_updated": "2026-03-01T11:30:00Z"}), to="NL/HUB")
    assert env(r)["status_code"] == 1000
    r = await cpo.send("POST", "cdrs", "RECEIVER", body=msgspec.json.encode(d.cdr()), to="NL/HUB")
    assert r.status_code == 201 and env(r)["status_code"] == 1000
    assert r.headers["location"].endswith("/ocpi/2.2.1/receiver/cdrs/DE/CPO/CDR1")

    await eventually(lambda: "DE/CPO/CDR1" in emsp.objects["cdrs"])
    assert "DE/CPO/S1" in emsp.objects["sessions"]
    assert [x.method for x in emsp.received["sessions"]] == ["PUT", "PATCH"]
    assert emsp.received["sessions"][1].body["charging_periods"][0]["dimensions"][0]["volume"] == 5.5
    assert emsp.received["cdrs"][0].headers["ocpi-from-party-id"] == "CPO"
    await asyncio.sleep(0.3)
    assert not other.received["sessions"] and not other.received["cdrs"]
    # and through the hub's Sender interfaces: only the owner sees them
    r = await emsp.send("GET", "sessions", "SENDER", params={"date_from": "2026-01-01T00:00:00Z"})
    assert [s["id"] for s in env(r)["data"]] == ["S1"] and env(r)["data"][0]["kwh"] == 5.5
    r = await other.send("GET", "sessions", "SENDER", params={"date_from": "2026-01-01T00:00:00Z"})
    assert env(r)["data"] == [] and r.headers["x-total-count"] == "0"
    r = await other.http.get(cpo.hub_url("cdrs", "RECEIVER") + "/DE/CPO/CDR1", headers=other.headers())
    assert r.status_code == 404  # by-id reads are checked too
    r = await emsp.http.get(cpo.hub_url("cdrs", "RECEIVER") + "/DE/CPO/CDR1", headers=emsp.headers())
    assert env(r)["data"]["id"] == "CDR1"
    # Sessions Sender GET requires date_from
    r = await emsp.send("GET", "sessions", "SENDER")
    assert env(r)["status_code"] == 2001
    # a Session addressed to another eMSP than the token's is refused
    r = await cpo.send("PUT", "sessions", "RECEIVER", "DE/CPO/S2", msgspec.json.encode(d.session("S2")), to="FR/OTH")
    assert env(r)["status_code"] == 2001


async def test_addressed_session_is_forwarded_and_the_answer_relayed(roaming: Roaming) -> None:
    cpo, emsp = roaming.cpo, roaming.emsp
    r = await cpo.send("PUT", "sessions", "RECEIVER", "DE/CPO/S9", msgspec.json.encode(d.session("S9")), to="NL/EMS",
                       **{"X-Correlation-ID": "corr-123"})
    assert r.status_code == 201 and env(r)["status_code"] == 1000  # the eMSP's own answer
    assert r.headers["ocpi-from-party-id"] == "EMS" and r.headers["x-correlation-id"] == "corr-123"
    received = emsp.received["sessions"][-1]
    assert received.headers["x-correlation-id"] == "corr-123" and received.headers["x-request-id"] != r.headers["x-request-id"]
    assert received.headers["ocpi-from-party-id"] == "CPO" and received.headers["ocpi-to-party-id"] == "EMS"


async def test_start_session_and_its_async_result_are_relayed(roaming: Roaming) -> None:
    cpo, emsp = roaming.cpo, roaming.emsp
    await cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/LOC1", msgspec.json.encode(d.location()), to="NL/HUB")
    await emsp.send("PUT", "tokens", "RECEIVER", "NL/EMS/04A1B2C3", msgspec.json.encode(d.token()), to="NL/HUB")
    body = {"response_url": f"{emsp.url}/2.2.1/commands/START_SESSION/42", "token": d.token(), "location_id": "LOC1",
            "evse_uid": "LOC1-1"}
    r = await emsp.send("POST", "commands", "RECEIVER", "START_SESSION", msgspec.json.encode(body), to="DE/CPO")
    assert env(r)["status_code"] == 1000 and env(r)["data"]["result"] == "ACCEPTED", r.text
    request = cpo.received["commands"][-1]
    assert request.body["response_url"].startswith(f"{roaming.served.url}/ocpi/2.2.1/sender/commands/START_SESSION/")
    await eventually(lambda: emsp.received["commands"])
    result = emsp.received["commands"][-1]
    assert result.path == "START_SESSION/42" and result.body == {"result": "ACCEPTED"}
    assert result.headers["ocpi-from-party-id"] == "CPO" and result.headers["ocpi-to-party-id"] == "EMS"
    await eventually(lambda: cpo.received["async_result_replies"])
    assert cpo.received["async_result_replies"][0].body["status_code"] == 1000
    # open routing finds the CPO from the location; an unknown location is 2003 + REJECTED
    r = await emsp.send("POST", "commands", "RECEIVER", "START_SESSION", msgspec.json.encode(body))
    assert env(r)["data"]["result"] == "ACCEPTED"
    r = await emsp.send("POST", "commands", "RECEIVER", "START_SESSION", msgspec.json.encode({**body, "location_id": "NOPE"}))
    assert env(r)["status_code"] == 2003 and env(r)["data"]["result"] == "REJECTED"
    # another eMSP's token may not be used
    r = await roaming.other.send("POST", "commands", "RECEIVER", "START_SESSION", msgspec.json.encode(body), to="DE/CPO")
    assert env(r)["status_code"] == 2001


async def test_charging_profile_request_and_result_are_relayed(roaming: Roaming) -> None:
    cpo, emsp = roaming.cpo, roaming.emsp
    await cpo.send("PUT", "sessions", "RECEIVER", "DE/CPO/S1", msgspec.json.encode(d.session()), to="NL/HUB")
    body = {"response_url": f"{emsp.url}/2.2.1/chargingprofiles/result/7",
            "charging_profile": {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 16.0}]}}
    r = await emsp.send("PUT", "chargingprofiles", "RECEIVER", "S1", msgspec.json.encode(body))
    assert env(r)["status_code"] == 1000 and env(r)["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: emsp.received["chargingprofiles"])
    assert emsp.received["chargingprofiles"][-1].body == {"result": "ACCEPTED"}


async def test_offline_party_gets_4003_and_is_resynced_when_it_returns(roaming: Roaming) -> None:
    cpo, emsp = roaming.cpo, roaming.emsp
    await emsp.stop()
    r = await cpo.send("PUT", "sessions", "RECEIVER", "DE/CPO/S5", msgspec.json.encode(d.session("S5")), to="NL/EMS")
    assert r.status_code == 200 and env(r)["status_code"] == 4003
    r = await cpo.send("PUT", "sessions", "RECEIVER", "DE/CPO/S6", msgspec.json.encode(d.session("S6")), to="NL/EMS")
    assert env(r)["status_code"] == 4003
    # pushes keep failing: after failing for offline_after (1 s here) without a success, it is OFFLINE
    await cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/LOC7", msgspec.json.encode(d.location(lid="LOC7")), to="NL/HUB")
    await eventually(lambda: roaming.ocpi.core.directory.platform_of(PartyId("NL", "EMS")).row.status == "OFFLINE")
    # the others hear that it is offline
    await eventually(lambda: any(x.body and x.body.get("status") == "OFFLINE" for x in roaming.other.received["hubclientinfo"]))
    # what changes meanwhile is not queued for it...
    await cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/LOC7", msgspec.json.encode(d.location(lid="LOC7", when="2026-03-02T10:00:00Z")), to="NL/HUB")
    # ...but sent when it is back (still-alive check: GET versions)
    await emsp.start()
    await eventually(lambda: roaming.ocpi.core.directory.platform_of(PartyId("NL", "EMS")).row.status == "CONNECTED")
    await eventually(lambda: {"DE/CPO/S5", "DE/CPO/S6"} <= set(emsp.objects["sessions"]) and "DE/CPO/LOC7" in emsp.objects["locations"])
    # it ends holding LOC7 as it is now (an older version may arrive first: OCPI lets versions be skipped, not reordered)
    await eventually(lambda: msgspec.json.decode(emsp.objects["locations"]["DE/CPO/LOC7"])["last_updated"] == "2026-03-02T10:00:00Z")
    assert not emsp.errors


async def test_unknown_receiver_is_4001(roaming: Roaming) -> None:
    r = await roaming.cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/LOC1", msgspec.json.encode(d.location()), to="XX/NOP")
    assert r.status_code == 200 and env(r)["status_code"] == 4001


async def test_hub_registers_with_a_peer_that_gave_it_token_a(served: Any, make_party: Any) -> None:
    peer = await make_party("BE", "CPB", "CPO")
    token_a = peer.invite_hub()
    platform = await bilateral.register(served.hub.ocpi, f"{peer.url}/versions", token_a)
    assert platform.row.status == "CONNECTED" and peer.hub_token  # the peer called back with token B
    assert [str(p) for p, _ in platform.roles] == ["BE/CPB"]
    # the hub can re-sync the peer by paginated GET
    for n in range(1, 4):
        peer.own("locations", f"BE/CPB/L{n}", msgspec.json.encode(d.location("BE", "CPB", f"L{n}")))
    counts = await bilateral.pull(served.hub.ocpi, platform)
    assert counts["location"] == 3
    stored = await served.hub.core.objects.get(None, docs.LOCATION, ("BE", "CPB", "L2"))
    assert stored.id == "L2"
