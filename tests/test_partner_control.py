"""The partner REST API's commands over real HTTP against a served hub, on SQLite and PostgreSQL, with real `ocpp`
library charge points (OCPP 1.6 and 2.0.1) connected to its central system: start and stop a charge, unlock, reboot,
set a charging profile; the charger's answer (accepted, rejected, failed, timeout) in the response; chargers that are
not connected or not the hub's; who may command what; an Idempotency-Key that does not start twice."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from fixtures.ocpi_party import free_port
from hub import model
from hub.model import PartyId
from hub.store.chargers import ConnectorTemplate
from protocols.ocpp.simulator import connect_charger
from tests.conftest import Served, hub_settings
from tests.test_ocpi_e2e import eventually
from tests.test_partner_auth import _error
from tests.test_partner_writes import CONNECTOR, SITE, Api, _api

GRN, OTH, EMP = PartyId("NL", "GRN"), PartyId("NL", "OTH"), PartyId("NL", "EMP")  # two CPOs and an eMSP the hub hosts
PASSWORD = "s3cret-charger-password"
TOKEN = "NLEMP-RFID-04A1B2C3"
VERSIONS = ["1.6", "2.0.1"]
PROFILE = {"chargingRateUnit": "A", "chargingProfilePeriod": [{"startPeriod": 0, "limit": 16}, {"startPeriod": 600, "limit": 8.5}]}


@pytest.fixture
async def served(database_url: str) -> Any:
    settings = hub_settings(database_url, free_port(), ocpp_port=0, ocpp_call_timeout=1.5, ocpp_ping_interval=0.0,
                            ocpp_offline_grace=0.5, session_update_interval=0.0)
    async with Served(settings) as s:
        yield s


def _location(owner: PartyId, ident: str) -> model.Location:
    return model.Location(country_code=owner.country_code, party_id=owner.party_id, id=ident, publish=True, address="Stationsplein 1",
                          city="Utrecht", country="NLD", coordinates=model.GeoPoint(Decimal("52.089444"), Decimal("5.110278")),
                          time_zone="Europe/Amsterdam", last_updated=datetime(2026, 3, 1, tzinfo=timezone.utc))


class Site:
    def __init__(self, served: Served, grn: Api, emp: Api) -> None:
        self.served, self.grn, self.emp = served, grn, emp
        self.charging = served.hub.core.charging
        self.ocpp_url = f"ws://127.0.0.1:{served.hub.ocpp.port}/ocpp"

    async def charger(self, identity: str, version: str, owner: PartyId = GRN, location: str = "LOC1") -> Any:
        await self.charging.add(identity, owner, _location(owner, location), PASSWORD, ConnectorTemplate())
        cp, _, _ = await connect_charger(self.ocpp_url, identity, version, PASSWORD)
        await cp.boot()
        return cp


@pytest.fixture
async def site(served: Served, http: httpx.AsyncClient) -> Site:
    core = served.hub.core
    for party, role in ((GRN, "CPO"), (OTH, "CPO"), (EMP, "EMSP")):
        await core.parties.ensure_local(party, role, str(party))
    emp = await _api(served, http, EMP)
    await emp.ok("POST", "charge-auth-tokens", {"type": "rfid", "identifier": "04A1B2C3"}, 201)
    return Site(served, await _api(served, http, GRN), emp)


def _asked(cp: Any, action: str) -> list[dict[str, Any]]:
    return [args for name, args in cp.remote_requests if name == action]


# --- charges ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_cpo_starts_and_stops_a_charge_and_gets_the_chargers_answers(site: Site, version: str) -> None:
    cp = await site.charger("CP1", version)
    answer = await site.grn.ok("POST", "charges", {"chargePointId": "NLGRN-CP1-1", "chargeAuthTokenId": TOKEN})
    assert (answer["type"], answer["status"], answer["chargePointId"], answer["chargeId"]) == ("start", "accepted", "NLGRN-CP1-1", None)
    assert answer["id"] and answer["message"] is None
    (started,) = _asked(cp, "RemoteStartTransaction" if version == "1.6" else "RequestStartTransaction")
    assert (started["id_tag"] if version == "1.6" else started["id_token"]["id_token"]) == "04A1B2C3"
    # the charger starts it: a charge of the CPO, for the token's eMSP
    charge = await _charge_at(site.grn, "NLGRN-CP1-1")
    assert charge["state"] == "charging" and charge["chargeAuth"] == {"type": "rfid", "id": "04A1B2C3"}
    assert (await site.emp.ok("GET", f"charges/{charge['id']}"))["id"] == charge["id"]

    # a charging profile on a charge point with a running charge: that transaction's
    limited = await site.grn.ok("POST", "charge-points/NLGRN-CP1-1/set-charging-profile", PROFILE)
    assert (limited["type"], limited["status"]) == ("set-charging-profile", "accepted")
    (profile,) = _asked(cp, "SetChargingProfile")
    set_ = profile["profile"]
    assert set_["charging_profile_purpose"] == "TxProfile" and set_["transaction_id"]

    stopped = await site.grn.ok("POST", f"charges/{charge['id']}/stop")
    assert (stopped["type"], stopped["status"], stopped["chargeId"], stopped["chargePointId"]) == ("stop", "accepted", charge["id"], "NLGRN-CP1-1")
    assert _asked(cp, "RemoteStopTransaction" if version == "1.6" else "RequestStopTransaction")
    await eventually(lambda: not cp.transactions)


async def _charge_at(api: Api, point: str) -> dict[str, Any]:
    async def running() -> Any:
        return (await api.ok("GET", "charges", chargePointId=point, state="charging"))["data"]

    for _ in range(200):
        found = await running()
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no charge at {point}")


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_charger_that_says_no_is_a_rejected_or_failed_answer(site: Site, version: str) -> None:
    cp = await site.charger("CP1", version)
    cp.behaviour.start = "Rejected"
    answer = await site.grn.ok("POST", "charges", {"chargePointId": "NLGRN-CP1-1", "chargeAuthTokenId": TOKEN})
    assert answer["status"] == "rejected" and answer["message"] == "the charger rejected it"
    cp.behaviour.unlock = "UnlockFailed"
    assert (await site.grn.ok("POST", "charge-points/NLGRN-CP1-2/unlock"))["status"] == "failed"
    cp.behaviour.reset = "Rejected"
    assert (await site.grn.ok("POST", "charge-points/NLGRN-CP1-1/reboot"))["status"] == "rejected"
    cp.behaviour.profile = "Rejected"
    assert (await site.grn.ok("POST", "charge-points/NLGRN-CP1-1/set-charging-profile", PROFILE))["status"] == "rejected"
    # the hub knows a charge point in use without asking
    await cp.status(2, "Charging" if version == "1.6" else "Occupied")
    assert await _eventually_status(site.grn, "NLGRN-CP1-2", "busy-charging")
    answer = await site.grn.ok("POST", "charges", {"chargePointId": "NLGRN-CP1-2", "chargeAuthTokenId": TOKEN})
    assert answer["status"] == "rejected" and answer["message"] == "the charge point is in use"
    assert len(_asked(cp, "RemoteStartTransaction" if version == "1.6" else "RequestStartTransaction")) == 1


async def _eventually_status(api: Api, point: str, state: str) -> bool:
    for _ in range(200):
        if (await api.ok("GET", f"charge-points/{point}"))["state"] == state:
            return True
        await asyncio.sleep(0.05)
    return False


# --- charge points -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_unlock_reboot_and_a_default_charging_profile_reach_the_charger(site: Site, version: str) -> None:
    cp = await site.charger("CP1", version)
    unlocked = await site.grn.ok("POST", "charge-points/NLGRN-CP1-2/unlock")
    assert (unlocked["type"], unlocked["status"], unlocked["chargePointId"]) == ("unlock", "accepted", "NLGRN-CP1-2")
    assert _asked(cp, "UnlockConnector") == ([{"connector_id": 2}] if version == "1.6" else [{"evse_id": 2, "connector_id": 1}])

    assert (await site.grn.ok("POST", "charge-points/NLGRN-CP1-1/reboot"))["status"] == "accepted"
    assert (await site.grn.ok("POST", "charge-points/NLGRN-CP1-1/reboot", {"type": "hard"}))["type"] == "reboot"
    kinds = [r["type"] for r in _asked(cp, "Reset")]
    assert kinds == (["Soft", "Hard"] if version == "1.6" else ["OnIdle", "Immediate"])

    # without a running charge, the profile is the charge point's default for the charges to come
    assert (await site.grn.ok("POST", "charge-points/NLGRN-CP1-1/set-charging-profile", PROFILE))["status"] == "accepted"
    (asked,) = _asked(cp, "SetChargingProfile")
    profile = asked["profile"]
    assert profile["charging_profile_purpose"] == "TxDefaultProfile" and "transaction_id" not in profile
    schedule = profile["charging_schedule"] if version == "1.6" else profile["charging_schedule"][0]
    assert [(p["start_period"], p["limit"]) for p in schedule["charging_schedule_period"]] == [(0, 16.0), (600, 8.5)]


async def test_a_charger_that_does_not_answer_is_a_timeout(site: Site) -> None:
    await site.charging.add("MUTE", GRN, _location(GRN, "LOC1"), PASSWORD, ConnectorTemplate())
    auth = {"Authorization": "Basic " + base64.b64encode(f"MUTE:{PASSWORD}".encode()).decode()}
    async with connect(f"{site.ocpp_url}/MUTE", subprotocols=["ocpp1.6"], additional_headers=auth) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps([2, "1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]))
        await ws.recv()
        await ws.send(json.dumps([2, "2", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}]))
        await ws.recv()
        answer = await site.grn.ok("POST", "charge-points/NLGRN-MUTE-1/reboot", {"type": "hard"})
        assert answer["status"] == "timeout" and "did not answer" in answer["message"]
        assert json.loads(await ws.recv())[2] == "Reset"  # it was asked


async def test_a_charge_point_not_connected_or_not_the_hubs_is_409(site: Site) -> None:
    cp = await site.charger("CP1", "1.6")
    await cp._connection.close()
    await _eventually_offline(site.grn, "NLGRN-CP1-1")
    body = _error(await site.grn.call("POST", "charge-points/NLGRN-CP1-1/reboot"), 409, "CHARGE_POINT_OFFLINE")
    assert "not connected" in body["message"]
    _error(await site.grn.call("POST", "charges", {"chargePointId": "NLGRN-CP1-1", "chargeAuthTokenId": TOKEN}), 409, "CHARGE_POINT_OFFLINE")
    # a charge point written over the API has no charger of the hub's behind it
    await site.grn.ok("POST", "sites", {**SITE, "ocpiId": "REST"}, 201)
    await site.grn.ok("POST", "charge-points", {"siteId": "NLGRN-REST", "ocpiId": "REST-1", "connectors": [CONNECTOR]}, 201)
    for path in ("unlock", "reboot"):
        _error(await site.grn.call("POST", f"charge-points/NLGRN-REST-1/{path}"), 409, "CHARGE_POINT_NOT_CONTROLLABLE")
    _error(await site.grn.call("POST", "charges", {"chargePointId": "NLGRN-REST-1", "chargeAuthTokenId": TOKEN}), 409,
           "CHARGE_POINT_NOT_CONTROLLABLE")


async def _eventually_offline(api: Api, point: str) -> None:
    for _ in range(200):
        if (await api.ok("GET", f"charge-points/{point}"))["ocpp"]["connected"] is False:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{point} is still connected")


# --- who may command -------------------------------------------------------------------------------------------


async def test_only_the_owner_cpo_commands_its_charge_points(site: Site, http: httpx.AsyncClient) -> None:
    cp = await site.charger("CP1", "1.6")
    await site.charger("OTH1", "2.0.1", OTH, "LOC9")
    oth = await _api(site.served, http, OTH)
    start = {"chargePointId": "NLGRN-CP1-1", "chargeAuthTokenId": TOKEN}
    # another CPO does not see GRN's charge points: not found, whatever the command
    for path, body in (("charges", start), ("charge-points/NLGRN-CP1-1/unlock", None), ("charge-points/NLGRN-CP1-1/reboot", None),
                       ("charge-points/NLGRN-CP1-1/set-charging-profile", PROFILE)):
        found = _error(await oth.call("POST", path, body), 404, "RESOURCE_NOT_FOUND")
    assert found["message"].startswith("no charge point")
    assert _error(await oth.call("POST", "charges", start), 404, "RESOURCE_NOT_FOUND")["context"] == {"field": "chargePointId"}
    # an eMSP sees them (and the charges of its tokens), and may not command them
    _error(await site.emp.call("POST", "charge-points/NLGRN-CP1-1/reboot"), 403, "ACCESS_FORBIDDEN")
    _error(await site.emp.call("POST", "charges", start), 403, "ACCESS_FORBIDDEN")
    # a token the credential cannot see, and garbage ids
    body = _error(await site.grn.call("POST", "charges", {**start, "chargeAuthTokenId": "NLEMP-RFID-NOPE"}), 404, "RESOURCE_NOT_FOUND")
    assert body["context"] == {"field": "chargeAuthTokenId"}
    _error(await site.grn.call("POST", "charges/NLGRN-NOPE/stop"), 404, "RESOURCE_NOT_FOUND")
    _error(await site.grn.call("POST", "charge-points/garbage/unlock"), 404, "RESOURCE_NOT_FOUND")
    # scopes: charges:write to start and stop, charge-points:write for the rest
    reader = await _api(site.served, http, GRN, "all:read")
    _error(await reader.call("POST", "charges", start), 403, "ACCESS_FORBIDDEN")
    points = await _api(site.served, http, GRN, "charge-points:write")
    _error(await points.call("POST", "charges", start), 403, "ACCESS_FORBIDDEN")
    assert (await points.ok("POST", "charge-points/NLGRN-CP1-1/unlock"))["status"] == "accepted"
    # an admin commands any charge point of the hub's
    admin = await _api(site.served, http, None)
    assert (await admin.ok("POST", "charge-points/NLOTH-OTH1-1/reboot"))["status"] == "accepted"
    # a blocked token starts nothing
    await site.emp.ok("POST", f"charge-auth-tokens/{TOKEN}/block")
    assert _error(await site.grn.call("POST", "charges", start), 409, "CONFLICT")["context"] == {"field": "chargeAuthTokenId"}
    assert not _asked(cp, "RemoteStartTransaction")


async def test_bad_command_bodies_are_400_naming_the_field(site: Site) -> None:
    cp = await site.charger("CP1", "2.0.1")
    for body, field in (({"chargePointId": "NLGRN-CP1-1"}, "chargeAuthTokenId"), ({"chargePointId": 7, "chargeAuthTokenId": TOKEN}, "chargePointId")):
        assert _error(await site.grn.call("POST", "charges", body), 400, "VALIDATION_ERROR")["context"] == {"field": field}
    assert _error(await site.grn.call("POST", "charge-points/NLGRN-CP1-1/reboot", {"type": "warm"}), 400, "VALIDATION_ERROR")["context"] == {"field": "type"}
    for profile, field in (({**PROFILE, "chargingRateUnit": "kW"}, "chargingRateUnit"),
                           ({**PROFILE, "chargingProfilePeriod": []}, "chargingProfilePeriod"),
                           ({**PROFILE, "chargingProfilePeriod": [{"startPeriod": 60, "limit": 16}]}, "chargingProfilePeriod[0].startPeriod"),
                           ({**PROFILE, "chargingProfilePeriod": [{"startPeriod": 0, "limit": 16}, {"startPeriod": 0, "limit": 8}]},
                            "chargingProfilePeriod[1].startPeriod"),
                           ({**PROFILE, "chargingProfilePeriod": [{"startPeriod": 0, "limit": -1}]}, "chargingProfilePeriod[0].limit")):
        r = await site.grn.call("POST", "charge-points/NLGRN-CP1-1/set-charging-profile", profile)
        assert _error(r, 400, "VALIDATION_ERROR")["context"] == {"field": field}, profile
    _error(await site.grn.call("GET", "charges/NLGRN-X/stop"), 405, "METHOD_NOT_ALLOWED")  # a command is never a GET
    assert cp.remote_requests == []


async def test_idempotency_key_replays_a_start_and_starts_once(site: Site) -> None:
    cp = await site.charger("CP1", "1.6")
    start = {"chargePointId": "NLGRN-CP1-1", "chargeAuthTokenId": TOKEN}
    first = await site.grn.call("POST", "charges", start, key="start-1")
    assert first.status_code == 200 and first.json()["status"] == "accepted", first.text
    again = await site.grn.call("POST", "charges", start, key="start-1")
    assert (again.status_code, again.content, again.headers["idempotent-replayed"]) == (200, first.content, "true")
    _error(await site.grn.call("POST", "charges", {**start, "chargePointId": "NLGRN-CP1-2"}, key="start-1"), 422, "IDEMPOTENCY_KEY_REUSED")
    assert len(_asked(cp, "RemoteStartTransaction")) == 1
