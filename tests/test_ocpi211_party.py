"""The scripted OCPI 2.1.1 party (fixtures/ocpi211_party.py) against itself, over real HTTP: no hub involved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from fixtures.ocpi211_party import Ocpi211Party
from fixtures.ocpi_party import b64
from protocols.ocpi.v211 import wire

WHEN = "2026-03-01T10:00:00Z"


def location(lid: str) -> wire.Location:
    connector = wire.Connector(id="1", standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE", voltage=230,
                               amperage=16, last_updated=WHEN)
    evse = wire.Evse(uid=f"{lid}-1", status="AVAILABLE", connectors=[connector], last_updated=WHEN)
    return wire.Location(id=lid, type="ON_STREET", address="Hauptstrasse 1", city="Berlin", postal_code="10115",
                         country="DEU", coordinates=wire.GeoLocation(latitude="52.520008", longitude="13.404954"),
                         evses=[evse], last_updated=WHEN)


def token(uid: str) -> wire.Token:
    return wire.Token(uid=uid, type="RFID", auth_id=f"DE-EMS-{uid}", issuer="eMSP", valid=True, whitelist="ALLOWED",
                      last_updated=WHEN)


async def eventually(check: Callable[[], Any], timeout: float = 3.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return value


@pytest.fixture
async def parties() -> AsyncIterator[tuple[Ocpi211Party, Ocpi211Party]]:
    cpo, emsp = Ocpi211Party("DE", "CPO", "CPO"), Ocpi211Party("NL", "EMS", "EMSP", codec="base64")
    await cpo.start()
    await emsp.start()
    yield cpo, emsp
    await cpo.aclose()
    await emsp.aclose()


async def test_versions_and_details_with_a_raw_or_a_base64_token(parties: tuple[Ocpi211Party, Ocpi211Party]) -> None:
    cpo, emsp = parties
    async with httpx.AsyncClient() as http:
        for auth in (f"Token {cpo.my_token}", f"Token {b64(cpo.my_token)}"):
            versions = (await http.get(f"{cpo.url}/versions", headers={"Authorization": auth})).json()
            assert versions["status_code"] == 1000
            assert versions["data"] == [{"version": "2.1.1", "url": f"{cpo.url}/2.1.1"}]
            details = wire.decode((await http.get(f"{cpo.url}/2.1.1", headers={"Authorization": auth})).content,
                                  wire.Response[wire.VersionDetails]).data
            assert details.version == "2.1.1"
            assert {e.identifier: e.url for e in details.endpoints} == {
                m: f"{cpo.url}/2.1.1/{m}" for m in ("credentials", "locations", "tariffs", "sessions", "cdrs", "tokens", "commands")}
        raw = (await http.get(f"{emsp.url}/2.1.1", headers={"Authorization": f"Token {emsp.my_token}"})).json()
        assert {e["identifier"] for e in raw["data"]["endpoints"]} == {"credentials", "locations", "tariffs", "sessions", "cdrs", "tokens"}
        assert all(set(e) == {"identifier", "url"} for e in raw["data"]["endpoints"])  # no role in 2.1.1

        for headers in ({"Authorization": "Token nope"}, {"Authorization": f"Token {b64('nope')}"}, {}):
            answer = await http.get(f"{cpo.url}/versions", headers=headers)
            assert answer.status_code == 401 and answer.json()["status_code"] == 2000
        invited = cpo.invite_hub()  # token A opens versions and credentials only
        assert (await http.get(f"{cpo.url}/versions", headers={"Authorization": f"Token {invited}"})).status_code == 200
        assert (await http.get(f"{cpo.url}/2.1.1/locations", headers={"Authorization": f"Token {invited}"})).status_code == 401


async def test_the_cpo_lists_its_locations_page_by_page(parties: tuple[Ocpi211Party, Ocpi211Party]) -> None:
    cpo, _ = parties
    for lid in ("LOC1", "LOC2", "LOC3"):
        cpo.own("locations", lid, location(lid))
    headers = {"Authorization": f"Token {cpo.my_token}"}
    async with httpx.AsyncClient() as http:
        first = await http.get(f"{cpo.url}/2.1.1/locations", params={"limit": "2"}, headers=headers)
        assert first.headers["X-Total-Count"] == "3" and first.headers["X-Limit"] == "50"
        assert [loc.id for loc in wire.decode(first.content, wire.Response[list[wire.Location]]).data] == ["LOC1", "LOC2"]
        assert first.links["next"]["url"] == f"{cpo.url}/2.1.1/locations?offset=2&limit=2"
        second = await http.get(first.links["next"]["url"], headers=headers)
        assert [loc.id for loc in wire.decode(second.content, wire.Response[list[wire.Location]]).data] == ["LOC3"]
        assert "Link" not in second.headers
        evse = await http.get(f"{cpo.url}/2.1.1/locations/LOC2/LOC2-1", headers=headers)
        assert wire.decode(evse.content, wire.Response[wire.Evse]).data.uid == "LOC2-1"
    assert cpo.errors == []


async def test_a_malformed_token_pushed_to_the_cpo_is_an_error(parties: tuple[Ocpi211Party, Ocpi211Party]) -> None:
    cpo, _ = parties
    headers = {"Authorization": f"Token {cpo.my_token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient() as http:
        good = await http.put(f"{cpo.url}/2.1.1/tokens/NL/EMS/T1", content=wire.encode(token("T1")), headers=headers)
        assert good.status_code == 201 and good.json()["status_code"] == 1000
        assert cpo.errors == [] and "NL/EMS/T1" in cpo.objects["tokens"]
        bad = await http.put(f"{cpo.url}/2.1.1/tokens/NL/EMS/T2", content=b'{"uid": "T2", "type": "APP_USER"}', headers=headers)
        assert bad.json()["status_code"] == 2001
    assert len(cpo.errors) == 1 and "tokens/NL/EMS/T2" in cpo.errors[0]
    assert "NL/EMS/T2" not in cpo.objects["tokens"]


async def test_one_party_registers_with_the_other_then_commands_and_authorizes(parties: tuple[Ocpi211Party, Ocpi211Party]) -> None:
    cpo, emsp = parties  # the CPO plays the hub's part of the handshake
    cpo.own("locations", "LOC1", location("LOC1"))
    theirs = await emsp.register(f"{cpo.url}/versions", cpo.invite_hub())
    assert theirs.token == cpo.my_token == emsp.hub_token and cpo.hub_token == emsp.my_token and cpo.token_a is None
    assert emsp.hub_endpoints["commands"] == f"{cpo.url}/2.1.1/commands"
    assert cpo.hub_endpoints["tokens"] == f"{emsp.url}/2.1.1/tokens"
    post = cpo.received["credentials"][0]
    assert post.method == "POST" and post.body["party_id"] == "EMS"
    assert post.headers["authorization"].startswith("Token ") and not any(h.startswith("ocpi-") for h in post.headers)

    listed = wire.decode((await emsp.send("GET", "locations")).content, wire.Response[list[wire.Location]])
    assert [loc.id for loc in listed.data] == ["LOC1"]

    start = wire.StartSession(response_url=emsp.response_url("s1"), token=token("T1"), location_id="LOC1")
    sync = wire.decode((await emsp.send("POST", "commands", "START_SESSION", start)).content, wire.Response[wire.CommandResponse])
    assert sync.data.result == "ACCEPTED"
    result = (await eventually(lambda: emsp.received["commandresults"]))[0]
    assert result.path == "s1" and result.body == {"result": "ACCEPTED"}
    assert not any(h.startswith("ocpi-") for h in result.headers)
    await eventually(lambda: cpo.received["async_result_replies"])

    refs = wire.LocationReferences(location_id="LOC1")
    unknown = await cpo.send("POST", "tokens", "T1/authorize", refs)
    assert unknown.status_code == 404 and unknown.json()["status_code"] == 2004
    emsp.own("tokens", "T1", token("T1"))
    info = wire.decode((await cpo.send("POST", "tokens", "T1/authorize", refs)).content, wire.Response[wire.AuthorizationInfo]).data
    assert info.allowed == "ALLOWED" and info.location == refs
    assert cpo.errors == [] and emsp.errors == []


async def test_the_emsp_keeps_pushed_objects_and_names_the_hubs_mistakes(parties: tuple[Ocpi211Party, Ocpi211Party]) -> None:
    _, emsp = parties
    headers = {"Authorization": f"Token {emsp.my_token}", "Content-Type": "application/json"}
    base = f"{emsp.url}/2.1.1"
    async with httpx.AsyncClient() as http:
        put = await http.put(f"{base}/locations/DE/CPO/LOC1", content=wire.encode(location("LOC1")), headers=headers)
        assert put.status_code == 201 and emsp.evse_status == {"DE/CPO/LOC1/LOC1-1": "AVAILABLE"}
        patch = await http.patch(f"{base}/locations/DE/CPO/LOC1/LOC1-1", content=b'{"status": "CHARGING"}', headers=headers)
        assert patch.json()["status_code"] == 1000 and emsp.evse_status["DE/CPO/LOC1/LOC1-1"] == "CHARGING"
        cdr = wire.Cdr(id="CDR1", start_date_time=WHEN, stop_date_time=WHEN, auth_id="A1", auth_method="WHITELIST",
                       location=location("LOC1"), currency="EUR", total_cost=1.0, total_energy=2.0, total_time=0.5,
                       last_updated=WHEN, charging_periods=[wire.ChargingPeriod(
                           start_date_time=WHEN, dimensions=[wire.CdrDimension(type="ENERGY", volume=2.0)])])
        posted = await http.post(f"{base}/cdrs", content=wire.encode(cdr), headers=headers)
        assert posted.headers["Location"] == f"{base}/cdrs/CDR1"
        assert wire.decode((await http.get(posted.headers["Location"], headers=headers)).content, wire.Response[wire.Cdr]).data == cdr
        assert emsp.errors == []
        assert (await http.put(f"{base}/locations/DE/CPO/LOC9", content=wire.encode(location("LOC1")), headers=headers)).json()["status_code"] == 2001
        assert (await http.delete(f"{base}/locations/DE/CPO/LOC1", headers=headers)).status_code == 405
        assert (await http.post(f"{base}/commands/START_SESSION", content=b"{}", headers=headers)).status_code == 404
    assert len(emsp.errors) == 3
