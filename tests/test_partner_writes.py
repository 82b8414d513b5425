"""The partner REST API's writes of sites and charge points over real HTTP against a served hub, on SQLite and
PostgreSQL: what a hosted CPO creates, changes and deletes reaches a registered OCPI eMSP (a scripted party) as
Location and EVSE pushes; who may write what; validation that stores nothing; Idempotency-Key replays; the
party's own external id and payload."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from connectors import bilateral
from fixtures.ocpi_party import OcpiParty
from hub.model import PartyId
from tests.conftest import Served
from tests.test_ocpi_e2e import eventually
from tests.test_partner_auth import _bearer, _error, _tokens

GRN, OTH = PartyId("NL", "GRN"), PartyId("NL", "OTH")  # CPOs the hub hosts
SITE = {"name": "Stationsplein", "address": {"address1": "Stationsplein 1", "city": "Amsterdam", "zip": "1012AB", "country": "NLD"},
        "coordinates": {"latitude": 52.378901, "longitude": 4.900123}, "timeZone": "Europe/Amsterdam", "visibility": "public"}
CONNECTOR = {"standard": "IEC_62196_T2", "format": "SOCKET", "powerType": "AC_3_PHASE", "maxKw": 22}



@pytest.fixture
async def parties(served: Served) -> None:
    for party in (GRN, OTH):
        await served.hub.core.parties.ensure_local(party, "CPO", str(party))


@pytest.fixture
async def emsp(served: Served, make_party: Any, parties: None) -> OcpiParty:
    party = await make_party("DE", "EMS", "EMSP")
    invite = await bilateral.invite(served.hub.ocpi, PartyId("DE", "EMS"), "EMSP")
    await party.register(invite["versions_url"], invite["token"])
    return party


class Api:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http, self.headers = http, _bearer(token)

    async def call(self, method: str, path: str, json: Any = None, key: str | None = None, **params: Any) -> httpx.Response:
        headers = {**self.headers, **({"Idempotency-Key": key} if key else {})}
        return await self.http.request(method, f"/api/v1/{path}", json=json, params=params or None, headers=headers)

    async def ok(self, method: str, path: str, json: Any = None, status: int = 200, **kw: Any) -> Any:
        r = await self.call(method, path, json, **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None


async def _api(served: Served, http: httpx.AsyncClient, party: PartyId | None, scopes: str = "all:delete") -> Api:
    client_id, secret = await served.hub.core.consumers.create(party, scopes, admin=party is None)
    return Api(http, (await _tokens(http, client_id, secret))["accessToken"])


async def _site_count(api: Api) -> int:
    return (await api.ok("GET", "sites"))["meta"]["totalItemCount"]


# --- the way to eMSPs --------------------------------------------------------------------------------------------


async def test_a_site_and_charge_point_written_over_rest_reach_an_emsp_over_ocpi(served: Served, http: httpx.AsyncClient, emsp: OcpiParty) -> None:
    api = await _api(served, http, GRN)
    site = await api.ok("POST", "sites", {**SITE, "ocpiId": "AMS1", "partnerExternalId": "ext-1"}, 201)
    assert site["id"] == "NLGRN-AMS1" and site["name"] == "Stationsplein" and site["chargePointCount"] == 0
    assert site["location"]["coordinates"] == {"latitude": 52.378901, "longitude": 4.900123}
    assert site["location"]["address"]["zip"] == "1012AB" and site["timeZone"] == "Europe/Amsterdam"
    assert site["partnerExternalId"] == "ext-1" and site["visibility"] == "public"
    assert await api.ok("GET", "sites/NLGRN-AMS1") == site
    await eventually(lambda: "NL/GRN/AMS1" in emsp.objects["locations"])
    put = next(x for x in emsp.received["locations"] if x.method == "PUT")
    assert put.path == "NL/GRN/AMS1" and put.body["name"] == "Stationsplein" and put.body["coordinates"]["latitude"] == "52.378901"

    point = await api.ok("POST", "charge-points", {"siteId": site["id"], "evseId": "NL*GRN*E1", "name": "A1", "ocpiId": "AMS1-1",
                                                   "connectors": [CONNECTOR]}, 201)
    assert point["id"] == "NLGRN-AMS1-1" and point["siteId"] == "NLGRN-AMS1" and point["state"] == "available"
    assert point["connectors"][0]["maxKw"] == 22.0 and point["name"] == "A1" and point["evseId"] == "NL*GRN*E1"
    assert await api.ok("GET", "charge-points/NLGRN-AMS1-1") == point
    await eventually(lambda: emsp.evse_status.get("NL/GRN/AMS1/AMS1-1") == "AVAILABLE")
    evse_put = next(x for x in emsp.received["locations"] if x.path == "NL/GRN/AMS1/AMS1-1")
    assert evse_put.method == "PUT" and evse_put.body["evse_id"] == "NL*GRN*E1"

    # a manual state, then a site change, then the charge point's removal: each as its own push
    passive = await api.ok("PATCH", "charge-points/NLGRN-AMS1-1", {"state": "maintenance"})
    assert passive["state"] == "passive" and passive["ocpiStatus"] == "INOPERATIVE"
    await eventually(lambda: emsp.evse_status.get("NL/GRN/AMS1/AMS1-1") == "INOPERATIVE")
    patched = await api.ok("PATCH", "sites/NLGRN-AMS1", {"name": "Centraal", "openingHours": {"twentyfourseven": True}})
    assert patched["name"] == "Centraal" and patched["openingHours"]["twentyfourseven"] is True
    assert patched["location"]["address"]["city"] == "Amsterdam"  # untouched
    assert patched["updatedAt"] > site["updatedAt"]

    def site_patch() -> Any:
        return next((x for x in emsp.received["locations"] if x.method == "PATCH" and x.path == "NL/GRN/AMS1"), None)

    body = (await eventually(site_patch)).body
    assert body["name"] == "Centraal" and body["opening_times"] == {"twentyfourseven": True} and body["last_updated"]
    await api.ok("DELETE", "charge-points/NLGRN-AMS1-1", status=204)
    await eventually(lambda: emsp.evse_status.get("NL/GRN/AMS1/AMS1-1") == "REMOVED")
    removal = [x for x in emsp.received["locations"] if x.path == "NL/GRN/AMS1/AMS1-1"][-1]
    assert removal.method == "PATCH" and removal.body["status"] == "REMOVED"
    _error(await api.call("GET", "charge-points/NLGRN-AMS1-1"), 404, "RESOURCE_NOT_FOUND")
    assert not emsp.errors


async def test_deleting_a_site_removes_its_evses_the_ocpi_way(served: Served, http: httpx.AsyncClient, emsp: OcpiParty) -> None:
    api = await _api(served, http, GRN)
    await api.ok("POST", "sites", {**SITE, "ocpiId": "DEL"}, 201)
    _error(await api.call("DELETE", "sites/NLGRN-DEL"), 409, "CONFLICT")  # nothing to remove: it cannot expire
    for n in (1, 2):
        await api.ok("POST", "charge-points", {"siteId": "NLGRN-DEL", "ocpiId": f"DEL-{n}", "connectors": [CONNECTOR]}, 201)
    await api.ok("DELETE", "sites/NLGRN-DEL", status=204)
    for n in (1, 2):
        await eventually(lambda n=n: emsp.evse_status.get(f"NL/GRN/DEL/DEL-{n}") == "REMOVED")
    _error(await api.call("GET", "sites/NLGRN-DEL"), 404, "RESOURCE_NOT_FOUND")
    _error(await api.call("PATCH", "sites/NLGRN-DEL", {"name": "x"}), 404, "RESOURCE_NOT_FOUND")
    assert await _site_count(api) == 0 and not emsp.errors


# --- who may write -------------------------------------------------------------------------------------------------


async def test_who_may_write(served: Served, http: httpx.AsyncClient, make_party: Any, parties: None) -> None:
    cpo = await make_party("DE", "CPO", "CPO")  # its Locations come from its own OCPI platform
    invite = await bilateral.invite(served.hub.ocpi, PartyId("DE", "CPO"), "CPO")
    await cpo.register(invite["versions_url"], invite["token"])
    roaming = await _api(served, http, PartyId("DE", "CPO"))
    body = _error(await roaming.call("POST", "sites", SITE), 403, "ACCESS_FORBIDDEN")
    assert "OCPI platform" in body["message"]

    grn, oth, admin = [await _api(served, http, p) for p in (GRN, OTH, None)]
    await grn.ok("POST", "sites", {**SITE, "ocpiId": "MINE"}, 201)
    await grn.ok("POST", "charge-points", {"siteId": "NLGRN-MINE", "ocpiId": "MINE-1", "connectors": [CONNECTOR]}, 201)
    # another party's objects are not found, whatever the method
    _error(await oth.call("PATCH", "sites/NLGRN-MINE", {"name": "x"}), 404, "RESOURCE_NOT_FOUND")
    _error(await oth.call("DELETE", "sites/NLGRN-MINE"), 404, "RESOURCE_NOT_FOUND")
    _error(await oth.call("PATCH", "charge-points/NLGRN-MINE-1", {"name": "x"}), 404, "RESOURCE_NOT_FOUND")
    _error(await oth.call("DELETE", "charge-points/NLGRN-MINE-1"), 404, "RESOURCE_NOT_FOUND")
    body = _error(await oth.call("POST", "charge-points", {"siteId": "NLGRN-MINE", "connectors": [CONNECTOR]}), 404, "RESOURCE_NOT_FOUND")
    assert body["context"] == {"field": "siteId"}
    # a missing scope
    reader = await _api(served, http, GRN, "all:read")
    _error(await reader.call("POST", "sites", SITE), 403, "ACCESS_FORBIDDEN")
    writer = await _api(served, http, GRN, "sites:write,charge-points:write")
    _error(await writer.call("DELETE", "charge-points/NLGRN-MINE-1"), 403, "ACCESS_FORBIDDEN")
    assert (await writer.ok("PATCH", "sites/NLGRN-MINE", {"name": "Renamed"}))["name"] == "Renamed"
    # an admin names the hosted CPO it writes for
    assert _error(await admin.call("POST", "sites", SITE), 400, "VALIDATION_ERROR")["context"] == {"field": "party"}
    _error(await admin.call("POST", "sites", {**SITE, "party": "DE/CPO"}), 403, "ACCESS_FORBIDDEN")
    _error(await admin.call("POST", "sites", {**SITE, "party": "NL/HUB"}), 403, "ACCESS_FORBIDDEN")  # not a CPO
    made = await admin.ok("POST", "sites", {**SITE, "party": "NL/OTH"}, 201)
    assert made["id"].startswith("NLOTH-") and made["ocpi"]["partyId"] == "OTH"
    assert (await admin.ok("PATCH", "sites/NLGRN-MINE", {"visibility": "private"}))["visibility"] == "private"
    assert (await grn.ok("GET", "sites/NLGRN-MINE"))["visibility"] == "private"  # the owner sees its private site
    _error(await grn.call("POST", "sites", {**SITE, "ocpiId": "MINE"}), 409, "CONFLICT")
    _error(await grn.call("POST", "charge-points", {"siteId": "NLGRN-MINE", "ocpiId": "MINE-1", "connectors": [CONNECTOR]}), 409, "CONFLICT")


# --- validation ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"coordinates": {"latitude": 91, "longitude": 4.9}}, "coordinates.latitude"),
    ({"coordinates": {"latitude": "52.1", "longitude": 4.9}}, "coordinates.latitude"),
    ({"name": "x" * 256}, "name"),
    ({"name": None}, "name"),
    ({"address": {"address1": "a", "city": "c" * 46, "country": "NLD"}}, "address.city"),
    ({"address": {"address1": "a", "city": "c", "country": "NL"}}, "address.country"),
    ({"timeZone": "Mars/Olympus"}, "timeZone"),
    ({"visibility": "secret"}, "visibility"),
    ({"ocpiId": "a/b"}, "ocpiId"),
    ({"partnerCustomPayload": {"x": "y" * 20_000}}, "partnerCustomPayload"),
])
async def test_a_bad_site_is_refused_naming_the_field_and_nothing_is_stored(
    served: Served, http: httpx.AsyncClient, parties: None, change: dict, field: str,
) -> None:
    api = await _api(served, http, GRN)
    body = _error(await api.call("POST", "sites", {**SITE, **change}, key="k1"), 400, "VALIDATION_ERROR")
    assert body["context"] == {"field": field}, body
    assert await _site_count(api) == 0
    assert await served.hub.core.db.read(lambda conn: conn.exec_driver_sql("SELECT count(*) FROM partner_extras").scalar()) == 0
    await api.ok("POST", "sites", SITE, 201, key="k1")  # a failed request kept nothing under its key


async def test_a_bad_charge_point_is_refused(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    api = await _api(served, http, GRN)
    await api.ok("POST", "sites", {**SITE, "ocpiId": "S"}, 201)
    for point, field in (({"connectors": []}, "connectors"), ({}, "connectors"),
                         ({"connectors": [{**CONNECTOR, "maxKw": None}]}, "connectors[0].maxKw"),
                         ({"connectors": [{**CONNECTOR, "standard": "PLUG"}]}, "connectors[0].standard"),
                         ({"connectors": [CONNECTOR], "name": "x" * 17}, "name"),
                         ({"connectors": [{**CONNECTOR, "tariffIds": ["NLOTH-T1"]}]}, "connectors[0].tariffIds[0]"),
                         ({"connectors": [CONNECTOR], "state": "busy-charging"}, "state")):
        body = _error(await api.call("POST", "charge-points", {"siteId": "NLGRN-S", **point}), 400, "VALIDATION_ERROR")
        assert body["context"] == {"field": field}, body
    assert (await api.ok("GET", "sites/NLGRN-S"))["chargePointCount"] == 0
    made = await api.ok("POST", "charge-points", {"siteId": "NLGRN-S", "connectors": [
        {**CONNECTOR, "maxKw": None, "voltage": 400, "amperage": 32, "powerType": "DC", "tariffIds": ["NLGRN-T1"]}]}, 201)
    assert made["connectors"][0]["maxKw"] == 12.8 and made["connectors"][0]["tariffIds"] == ["NLGRN-T1"] and made["type"] == "dc"
    connectors = [CONNECTOR, {**CONNECTOR, "standard": "CHADEMO", "format": "CABLE", "powerType": "DC", "maxKw": 50}]
    changed = await api.ok("PATCH", f"charge-points/{made['id']}", {"connectors": connectors, "name": "B2"})
    assert [c["standard"] for c in changed["connectors"]] == ["IEC_62196_T2", "CHADEMO"] and changed["name"] == "B2"
    _error(await api.call("PATCH", f"charge-points/{made['id']}", {"connectors": []}), 400, "VALIDATION_ERROR")


# --- Idempotency-Key -----------------------------------------------------------------------------------------------------


async def test_idempotency_key_replays_the_first_answer_and_refuses_another_request(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    api = await _api(served, http, GRN)
    first = await api.call("POST", "sites", SITE, key="create-1")
    assert first.status_code == 201, first.text
    again = await api.call("POST", "sites", SITE, key="create-1")
    assert (again.status_code, again.content) == (201, first.content) and again.headers["idempotent-replayed"] == "true"
    assert await _site_count(api) == 1
    _error(await api.call("POST", "sites", {**SITE, "name": "Other"}, key="create-1"), 422, "IDEMPOTENCY_KEY_REUSED")
    await api.ok("POST", "sites", SITE, 201, key="create-2")  # a new key: a new site
    assert await _site_count(api) == 2
    # keys are per credential: another credential of the same party runs its own request
    other = await _api(served, http, GRN)
    await other.ok("POST", "sites", SITE, 201, key="create-1")
    assert await _site_count(api) == 3
    _error(await api.call("POST", "sites", SITE, key="k" * 256), 400, "VALIDATION_ERROR")


async def test_concurrent_requests_with_one_key_create_once(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    api = await _api(served, http, GRN)
    answers = await asyncio.gather(*(api.call("POST", "sites", SITE, key="race") for _ in range(6)))
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1, statuses
    assert len({r.content for r in answers if r.status_code == 201}) == 1  # replays of the one answer
    assert await _site_count(api) == 1


# --- the party's own fields -------------------------------------------------------------------------------------------


async def test_partner_external_id_and_payload_round_trip_and_filter(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    api = await _api(served, http, GRN)
    payload = {"crm": {"id": 7, "tags": ["a", "b"]}}
    a = await api.ok("POST", "sites", {**SITE, "ocpiId": "A", "partnerExternalId": "crm-a", "partnerCustomPayload": payload}, 201)
    await api.ok("POST", "sites", {**SITE, "ocpiId": "B"}, 201)
    assert a["partnerCustomPayload"] == payload and a["createdAt"] == a["updatedAt"]
    found = await api.ok("GET", "sites", partnerExternalId="crm-a")
    assert [s["id"] for s in found["data"]] == ["NLGRN-A"] and found["meta"]["totalItemCount"] == 1
    changed = await api.ok("PATCH", "sites/NLGRN-A", {"partnerExternalId": "crm-a2", "partnerCustomPayload": None})
    assert changed["partnerExternalId"] == "crm-a2" and changed["partnerCustomPayload"] is None
    assert changed["createdAt"] == a["createdAt"] and changed["updatedAt"] == a["updatedAt"]  # the site itself did not change
    assert (await api.ok("GET", "sites", partnerExternalId="crm-a"))["data"] == []
    point = await api.ok("POST", "charge-points", {"siteId": "NLGRN-B", "connectors": [CONNECTOR], "partnerExternalId": "cp-9"}, 201)
    listed = await api.ok("GET", "charge-points", partnerExternalId="cp-9")
    assert [p["id"] for p in listed["data"]] == [point["id"]] and listed["data"][0]["partnerExternalId"] == "cp-9"
    # each party keeps its own: an admin sees the site without GRN's fields
    admin = await _api(served, http, None)
    seen = await admin.ok("GET", "sites/NLGRN-A")
    assert seen["partnerExternalId"] is None and seen["partnerCustomPayload"] is None
    assert (await admin.ok("GET", "sites", partnerExternalId="crm-a2"))["data"] == []
