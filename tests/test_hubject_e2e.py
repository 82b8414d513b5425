"""Hubject end to end: the hub's operators and eMSPs roaming through the Hubject stand-in (fixtures/hubject.py), which
checks every request the hub sends against Hubject's API documents. Real OCPP chargers, a real OCPI eMSP party, the
real hub over HTTP; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from connectors import bilateral
from fixtures import hubject as hbs
from fixtures.hubject import HubjectStandIn, evse_records
from fixtures.ocpi_party import OcpiParty, free_port
from fixtures.tls import make_pki
from hub.model import PartyId
from hub.outbound import OutboundError
from hub.services import errors
from hub.store import outbox
from hub.store.chargers import ConnectorTemplate
from protocols.ocpp.simulator import connect_charger
from tests import ocpi_data as d
from tests.conftest import Served, hub_settings
from tests.test_ocpi_bad_input import snapshot
from tests.test_ocpi_e2e import eventually
from tests.test_ocpp_e2e import PASSWORD, _location, _tariff

CPO, EMSP = PartyId("NL", "GRN"), PartyId("NL", "EMS")
UID = "04A1B2C3"  # the eMSP's card
CONTRACT = "NL-EMS-C00000001-X"
STRANGER = "AABBCCDD"  # a card the hub does not know: Hubject does
HUBJECT_OPERATOR = "DE*ABC"


class World:
    def __init__(self, served: Served, standin: HubjectStandIn, emsp: OcpiParty) -> None:
        self.served, self.standin, self.emsp = served, standin, emsp
        self.hub = served.hub
        self.connector = served.hub.hubject
        self.ocpp_url = f"ws://127.0.0.1:{served.hub.ocpp.port}/ocpp"

    async def charger(self, identity: str = "CP1", version: str = "1.6") -> Any:
        await self.hub.core.charging.add(identity, CPO, "LOC1", PASSWORD, ConnectorTemplate(tariff_ids=["AC1"]))
        cp, _, _ = await connect_charger(self.ocpp_url, identity, version, PASSWORD)
        await cp.boot()
        await cp.status(1, "Available")
        await cp.status(2, "Available")
        return cp

    def bodies(self, operation: str) -> list[Any]:
        return self.standin.bodies(operation)

    async def settled(self) -> None:
        """Nothing left to deliver (so that a snapshot of the store stays still)."""
        async def idle() -> bool:
            return await self.hub.core.db.read(outbox.open_count) == 0

        for _ in range(200):
            if await idle():
                await asyncio.sleep(0.2)
                if await idle():
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("the outbox did not settle")

    async def pulled(self, count: int) -> None:
        """Hubject serves `count` EVSE records of DE*ABC; the hub pulls them for its eMSP."""
        self.standin.evse_data = evse_records(HUBJECT_OPERATOR, count)
        assert await self.connector.emp.pull_evse_data(EMSP, full=True) == count


@pytest.fixture
def policy() -> str:
    return "open"


@pytest.fixture
def pull_interval() -> float:
    return 0.0  # the tests sync when they mean to


@pytest.fixture
async def world(database_url: str, make_party: Any, policy: str, pull_interval: float) -> Any:
    settings = hub_settings(database_url, free_port(), ocpp_port=0, session_update_interval=0.0, ocpp_offline_grace=0.5,
                            ocpp_call_timeout=5.0, ocpp_ping_interval=0.0, hubject_pull_interval=pull_interval, roaming_policy=policy)
    async with HubjectStandIn() as standin, Served(settings) as served:
        core = served.hub.core
        await core.parties.ensure_local(CPO, "CPO", "GreenCharge")
        await core.objects.put_tariff(None, _tariff())
        await core.objects.put_location(None, _location())
        emsp = await make_party("NL", "EMS", "EMSP")
        invite = await bilateral.invite(served.hub.ocpi, EMSP, "EMSP")
        await emsp.register(invite["versions_url"], invite["token"])
        token = d.token(uid=UID, whitelist="ALLOWED")
        r = await emsp.send("PUT", "tokens", "RECEIVER", f"NL/EMS/{UID}", msgspec.json.encode(token), to="NL/HUB")
        assert r.status_code == 201
        emsp.own("tokens", f"NL/EMS/{UID}", msgspec.json.encode(token))
        connection = served.hub.hubject.hubject
        await connection.configure(standin.url)
        await connection.add_operator(CPO, "NL*GRN", "+31301234567", "GreenCharge")
        await connection.add_provider(EMSP, "NL-EMS")
        yield World(served, standin, emsp)
        standin.assert_clean()


# --- CPO side: the hub's operators at Hubject --------------------------------------------------------------------------


async def test_an_ocpp_chargers_evses_reach_hubject_in_a_full_load_and_status_changes_as_pushes(world: World) -> None:
    cp = await world.charger()
    assert await world.connector.cpo.full_load(CPO) == 2
    full = [b for b in world.bodies("eRoamingPushEvseData") if b["ActionType"] == "fullLoad"]
    (load,) = full
    records = load["OperatorEvseData"]["EvseDataRecord"]
    assert load["OperatorEvseData"]["OperatorID"] == "NL*GRN"
    assert sorted(r["EvseID"] for r in records) == ["NL*GRN*ECP1*1", "NL*GRN*ECP1*2"]
    statuses = [b for b in world.bodies("eRoamingPushEvseStatus") if b["ActionType"] == "fullLoad"]
    assert {r["EvseID"]: r["EvseStatus"] for r in statuses[0]["OperatorEvseStatus"]["EvseStatusRecord"]} == {
        "NL*GRN*ECP1*1": "Available", "NL*GRN*ECP1*2": "Available"}
    for status in ("Charging", "Available", "Faulted"):
        await cp.status(1, status)

    def pushed() -> list[str]:
        return [r["EvseStatus"] for b in world.bodies("eRoamingPushEvseStatus") if b["ActionType"] == "update"
                for r in b["OperatorEvseStatus"]["EvseStatusRecord"] if r["EvseID"] == "NL*GRN*ECP1*1"]

    await eventually(lambda: pushed()[-3:] == ["Occupied", "Available", "OutOfService"])  # every change, in order
    status = world.connector.status()
    assert status["last_full_load"] == {"NL/GRN": 2} and status["syncs"][0]["what"] == "evse-status full load"


async def test_the_hub_calls_hubject_with_its_client_certificate_and_trusts_only_hubjects_ca(world: World, tmp_path: Path) -> None:
    await world.charger()
    pki, stranger = make_pki(tmp_path, "hubject"), make_pki(tmp_path, "other")
    async with HubjectStandIn(tls=pki) as tls_hubject:
        connection = world.connector.hubject
        await connection.configure(tls_hubject.url, cert=pki.client_cert, key=pki.client_key, ca=pki.ca)
        assert await world.connector.cpo.full_load(CPO) == 2
        assert tls_hubject.bodies("eRoamingPushEvseData")
        for cert, key, ca in ((None, None, pki.ca),  # no client certificate: Hubject does not talk to the hub
                              (stranger.client_cert, stranger.client_key, pki.ca),  # one Hubject's CA did not sign
                              (pki.client_cert, pki.client_key, stranger.ca)):  # a server the hub's CA file does not vouch for
            await connection.configure(tls_hubject.url, cert=cert, key=key, ca=ca)
            with pytest.raises(OutboundError):
                await world.connector.cpo.full_load(CPO, force=True)
        assert len([b for b in tls_hubject.bodies("eRoamingPushEvseData") if b["ActionType"] == "fullLoad"]) == 1
        tls_hubject.assert_clean()


async def test_an_empty_or_truncated_full_load_is_refused_by_the_guard(world: World) -> None:
    with pytest.raises(errors.Conflict, match="no EVSE to load"):
        await world.connector.cpo.full_load(CPO)  # no charger yet: the Location has no EVSE
    await world.charger()
    assert await world.connector.cpo.full_load(CPO) == 2
    await world.connector.hubject.record(world.connector.hubject.sync("test", CPO, True), loaded={"NL/GRN": 10})
    with pytest.raises(errors.Conflict, match="2 EVSE records would replace the 10"):
        await world.connector.cpo.full_load(CPO)
    assert len([b for b in world.bodies("eRoamingPushEvseData") if b["ActionType"] == "fullLoad"]) == 1
    assert await world.connector.cpo.full_load(CPO, force=True) == 2
    refused = [s for s in world.connector.status()["syncs"] if not s["ok"]]
    assert len(refused) == 2 and all(s["what"] == "evse-data full load" for s in refused)


async def test_a_rate_limited_status_push_is_sent_again_after_the_backoff(world: World) -> None:
    cp = await world.charger()
    world.standin.fail_next("eRoamingPushEvseStatus", 2, status=429)
    await cp.status(1, "Charging")
    await eventually(lambda: any(r["EvseStatus"] == "Occupied" for b in world.bodies("eRoamingPushEvseStatus")
                                 for r in b["OperatorEvseStatus"]["EvseStatusRecord"]))
    assert world.standin.attempts["eRoamingPushEvseStatus"] >= 3


async def test_status_changes_while_hubject_is_down_reach_it_in_order_when_it_is_back(world: World) -> None:
    cp = await world.charger()
    await eventually(lambda: world.bodies("eRoamingPushEvseStatus"))
    await world.standin.stop()  # Hubject unreachable: connections refused
    for status in ("Charging", "Available", "Faulted", "Charging"):
        await cp.status(1, status)
    await asyncio.sleep(1.0)  # tried, failed, backing off
    await world.standin.start()

    def pushed() -> list[str]:
        return [r["EvseStatus"] for b in world.bodies("eRoamingPushEvseStatus") if b["ActionType"] == "update"
                for r in b["OperatorEvseStatus"]["EvseStatusRecord"] if r["EvseID"] == "NL*GRN*ECP1*1"]

    await eventually(lambda: pushed()[-4:] == ["Occupied", "Available", "OutOfService", "Occupied"], timeout=15)


async def test_after_a_long_outage_hubject_gets_each_location_as_it_is_now(world: World) -> None:
    cp = await world.charger()
    await eventually(lambda: world.bodies("eRoamingPushEvseStatus"))
    world.connector.cpo.offline_after = 0.3  # (600 s in production) the outage is long enough to take Hubject OFFLINE
    await world.standin.stop()
    for status in ("Charging", "Available", "Faulted"):
        await cp.status(1, status)
    await eventually(lambda: world.connector.hubject.platform.row.status == "OFFLINE")
    sent = len(world.bodies("eRoamingPushEvseStatus"))
    await world.standin.start()

    def now() -> dict[str, str]:
        return {r["EvseID"]: r["EvseStatus"] for b in world.bodies("eRoamingPushEvseStatus")[sent:]
                for r in b["OperatorEvseStatus"]["EvseStatusRecord"]}

    await eventually(lambda: now().get("NL*GRN*ECP1*1") == "OutOfService", timeout=15)  # the current state, not the history
    assert "Occupied" not in now().values()
    await eventually(lambda: world.connector.hubject.platform.row.status == "CONNECTED")  # its came-back lands just after


async def test_an_unknown_rfid_is_authorized_through_hubject_and_the_sessions_cdr_goes_there_once(world: World) -> None:
    cp = await world.charger()
    world.standin.authorizations[STRANGER] = "Authorized"
    outcome = await cp.session(1, STRANGER, seconds=0.6, meter_interval=0.2, power_w=36_000_000)
    assert outcome["authorized"]
    (asked,) = world.bodies("eRoamingAuthorizeStart")
    assert asked["OperatorID"] == "NL*GRN" and asked["Identification"] == hbs.rfid(STRANGER)
    (session_id,) = world.standin.sessions
    await eventually(lambda: world.bodies("eRoamingChargeDetailRecord"))
    await asyncio.sleep(0.5)
    (cdr,) = world.bodies("eRoamingChargeDetailRecord")
    assert cdr["SessionID"] == session_id and cdr["EvseID"] == "NL*GRN*ECP1*1" and cdr["Identification"] == hbs.rfid(STRANGER)
    assert Decimal(str(cdr["ConsumedEnergy"])) > 0
    kinds = [b["Type"] for b in world.bodies("eRoamingChargingNotifications")]
    assert kinds[0] == "Start" and "End" in kinds and all(b["SessionID"] == session_id for b in world.bodies("eRoamingChargingNotifications"))
    assert not world.emsp.received["sessions"] and not world.emsp.received["cdrs"]  # not the hub's eMSP's session
    # a card Hubject does not authorize is refused
    assert not (await cp.session(2, "DEADBEEF", seconds=0.2, meter_interval=0.1))["authorized"]


async def test_hubjects_remote_start_reaches_the_ocpp_charger_and_its_answer_goes_back(world: World) -> None:
    cp = await world.charger()
    session_id = str(uuid.uuid4())
    ack = await hbs.authorize_remote_start(world.served.url, "DE-8EO", "NL*GRN*ECP1*1", "DE-8EO-CAB123456-X", session_id)
    assert ack["Result"] is True and ack["StatusCode"]["Code"] == "000" and ack["SessionID"] == session_id
    assert cp.remote_requests[0][0] == "RemoteStartTransaction"
    await eventually(lambda: world.bodies("eRoamingChargingNotifications"))  # the session Hubject started is notified
    assert world.bodies("eRoamingChargingNotifications")[0]["SessionID"] == session_id
    ack = await hbs.authorize_remote_stop(world.served.url, "DE-8EO", "NL*GRN*ECP1*1", session_id)
    assert ack["Result"] is True, ack
    assert cp.remote_requests[-1][0] == "RemoteStopTransaction"
    await eventually(lambda: any(b["SessionID"] == session_id for b in world.bodies("eRoamingChargeDetailRecord")))
    # a charger that refuses: Hubject hears why
    cp.behaviour.start = "Rejected"
    ack = await hbs.authorize_remote_start(world.served.url, "DE-8EO", "NL*GRN*ECP1*2", "DE-8EO-CAB123456-X", str(uuid.uuid4()))
    assert ack["Result"] is False and ack["StatusCode"]["Code"] == "501"


# --- EMP side: Hubject's EVSEs for the hub's eMSPs -----------------------------------------------------------------


async def _get_all(emsp: OcpiParty) -> list[dict[str, Any]]:
    out, offset = [], 0
    while True:
        r = await emsp.send("GET", "locations", "SENDER", params={"offset": str(offset), "limit": "100"})
        page = r.json()["data"]
        out += page
        offset += len(page)
        if offset >= int(r.headers["x-total-count"]) or not page:
            return out


async def test_hubjects_evse_data_over_several_pages_reaches_an_ocpi_emsp_then_status_updates(world: World) -> None:
    await world.pulled(4500)  # three pages of 2,000
    assert len([a for a in world.standin.received if a.operation == "eRoamingPullEvseData"]) == 3
    locations = [loc for loc in await _get_all(world.emsp) if loc["party_id"] == "ABC"]
    assert sum(len(loc["evses"]) for loc in locations) == 4500
    assert all(loc["country_code"] == "DE" and loc["evses"][0]["status"] == "UNKNOWN" for loc in locations)
    evse_id = "DE*ABC*E000000"
    world.standin.evse_statuses = {evse_id: "Occupied", "DE*ABC*E000001": "Available"}
    assert await world.connector.emp.pull_evse_status(EMSP) == 2
    pool = next(loc for loc in locations if any(e["evse_id"] == evse_id for e in loc["evses"]))
    r = await world.emsp.send("GET", "locations", "SENDER", f"{pool['id']}/{evse_id}")
    assert r.json()["data"]["status"] == "CHARGING"
    await eventually(lambda: any(x.method == "PATCH" and x.body.get("status") == "CHARGING" for x in world.emsp.received["locations"]))
    assert await world.connector.emp.pull_evse_status(EMSP) == 0  # nothing changed since: nothing written
    # a delta pull asks with LastCall and takes only what changed
    world.standin.evse_data = evse_records(HUBJECT_OPERATOR, 4500)
    for record in world.standin.evse_data[:3] + world.standin.evse_data[5:6]:
        record["lastUpdate"] = datetime.now(timezone.utc).isoformat()
    world.standin.evse_data[5]["deltaType"] = "delete"
    assert await world.connector.emp.pull_evse_data(EMSP) == 4
    assert "LastCall" in world.bodies("eRoamingPullEvseData")[-1]
    locations = [loc for loc in await _get_all(world.emsp) if loc["party_id"] == "ABC"]
    assert sum(len(loc["evses"]) for loc in locations) == 4500  # the delta changed three EVSEs, and kept the rest
    pool = next(loc for loc in locations if any(e["evse_id"] == evse_id for e in loc["evses"]))
    assert next(e for e in pool["evses"] if e["evse_id"] == evse_id)["status"] == "CHARGING"  # and their statuses
    assert next(e for e in pool["evses"] if e["evse_id"] == "DE*ABC*E000005")["status"] == "REMOVED"  # a deleted record


async def test_a_full_pull_removes_what_hubject_no_longer_lists_and_writes_only_what_changed(world: World) -> None:
    await world.pulled(12)  # two pools of six EVSEs
    world.standin.evse_data = evse_records(HUBJECT_OPERATOR, 6)  # the second pool is gone from Hubject
    assert await world.connector.emp.pull_evse_data(EMSP, full=True) == 6
    locations = {loc["id"]: loc for loc in await _get_all(world.emsp) if loc["party_id"] == "ABC"}
    assert {e["status"] for e in locations["DE*ABC*P00001"]["evses"]} == {"REMOVED"}
    assert "REMOVED" not in {e["status"] for e in locations["DE*ABC*P00000"]["evses"]}
    assert "1 Locations no longer listed" in world.connector.status()["syncs"][0]["detail"]
    await world.settled()
    pushed = len(world.emsp.received["locations"])
    await world.connector.emp.pull_evse_data(EMSP, full=True)  # nothing changed: nothing written, nothing pushed
    await world.settled()
    assert "no longer listed" not in world.connector.status()["syncs"][0]["detail"]  # removed already: not again
    assert world.emsp.received["locations"][pushed:] == []


@pytest.mark.parametrize("policy", ["agreements"])
async def test_under_the_agreements_policy_hubject_locations_reach_the_providers_and_operators_evses_reach_hubject(world: World) -> None:
    cp = await world.charger()
    await cp.status(1, "Charging")
    await eventually(lambda: any(r["EvseStatus"] == "Occupied" for b in world.bodies("eRoamingPushEvseStatus")
                                 for r in b["OperatorEvseStatus"]["EvseStatusRecord"]))
    await world.pulled(12)
    assert sum(len(loc["evses"]) for loc in await _get_all(world.emsp) if loc["party_id"] == "ABC") == 12


@pytest.mark.parametrize("pull_interval", [0.3])
async def test_a_serving_hub_pulls_on_its_schedule(world: World) -> None:
    world.standin.evse_data = evse_records(HUBJECT_OPERATOR, 6)
    world.standin.evse_statuses = {"DE*ABC*E000000": "Occupied"}

    def pulls() -> list[str]:
        return [a.operation for a in world.standin.received if a.operation.startswith("eRoamingPull")]

    await eventually(lambda: pulls().count("eRoamingPullEvseStatus") >= 2, timeout=15)
    assert pulls()[0] == "eRoamingPullEvseData" and "LastCall" not in world.bodies("eRoamingPullEvseData")[0]  # a full pull first
    assert "LastCall" in world.bodies("eRoamingPullEvseData")[-1]  # then deltas
    r = await world.emsp.send("GET", "locations", "SENDER", "DE*ABC*P00000/DE*ABC*E000000")
    assert r.json()["data"]["status"] == "CHARGING"


async def test_an_ocpi_start_session_at_a_hubject_location_becomes_an_oicp_remote_start(world: World) -> None:
    await world.pulled(12)
    location = next(loc for loc in await _get_all(world.emsp) if loc["party_id"] == "ABC")
    evse = location["evses"][0]
    body = {"response_url": f"{world.emsp.url}/2.2.1/commands/START_SESSION/1", "token": d.token(uid=UID),
            "location_id": location["id"], "evse_uid": evse["uid"]}
    r = await world.emsp.send("POST", "commands", "RECEIVER", "START_SESSION", msgspec.json.encode(body), to="DE/ABC")
    assert r.json()["data"]["result"] == "ACCEPTED", r.text
    (start,) = world.bodies("eRoamingAuthorizeRemoteStart")
    assert start["ProviderID"] == "NL-EMS" and start["EvseID"] == evse["evse_id"]
    assert start["Identification"] == hbs.remote(CONTRACT)
    await eventually(lambda: world.emsp.received["commands"])
    assert world.emsp.received["commands"][-1].body == {"result": "ACCEPTED"}
    # the session Hubject made goes on as notifications, and STOP_SESSION becomes AuthorizeRemoteStop
    (session_id,) = world.standin.sessions
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ack = await hbs.charging_notification(world.served.url, "Start", HUBJECT_OPERATOR, session_id, evse["evse_id"], at=now,
                                          Identification=hbs.remote(CONTRACT))
    assert ack["Result"] is True, ack
    await eventually(lambda: world.emsp.received["sessions"])
    assert world.emsp.received["sessions"][0].body["id"] == session_id
    body = {"response_url": f"{world.emsp.url}/2.2.1/commands/STOP_SESSION/2", "session_id": session_id}
    r = await world.emsp.send("POST", "commands", "RECEIVER", "STOP_SESSION", msgspec.json.encode(body), to="DE/ABC")
    assert r.json()["data"]["result"] == "ACCEPTED", r.text
    (stop,) = world.bodies("eRoamingAuthorizeRemoteStop")
    assert stop["SessionID"] == session_id and stop["EvseID"] == evse["evse_id"]


async def test_a_hubject_cdr_for_the_emsps_token_reaches_it_as_an_ocpi_cdr_once(world: World) -> None:
    await world.pulled(6)
    session_id, end = str(uuid.uuid4()), datetime.now(timezone.utc).replace(microsecond=0)
    args = (world.served.url, HUBJECT_OPERATOR, session_id, "DE*ABC*E000001", hbs.rfid(UID), end - timedelta(hours=1), end, 12.5)
    ack = await hbs.charge_detail_record(*args)
    assert ack["Result"] is True and ack["SessionID"] == session_id
    await eventually(lambda: world.emsp.objects["cdrs"])
    (cdr,) = [msgspec.json.decode(c) for c in world.emsp.objects["cdrs"].values()]
    assert cdr["id"] == session_id and cdr["country_code"] == "DE" and cdr["party_id"] == "ABC"
    assert cdr["cdr_token"]["uid"] == UID and cdr["total_energy"] == 12.5 and cdr["cdr_location"]["evse_id"] == "DE*ABC*E000001"
    assert (await hbs.charge_detail_record(*args))["Result"] is True  # Hubject sends it again: acknowledged, not stored twice
    await asyncio.sleep(0.3)
    assert len(world.emsp.received["cdrs"]) == 1


async def test_cdrs_missed_while_the_hub_was_unreachable_are_caught_up(world: World) -> None:
    await world.pulled(6)
    end = datetime.now(timezone.utc).replace(microsecond=0)
    start = end - timedelta(hours=1)
    missed = [{"SessionID": str(uuid.uuid4()), "EvseID": f"DE*ABC*E00000{n}", "Identification": hbs.rfid(UID),
               "SessionStart": start.isoformat(), "SessionEnd": end.isoformat(), "ChargingStart": start.isoformat(),
               "ChargingEnd": end.isoformat(), "ConsumedEnergy": 3.5 + n, "HubOperatorID": HUBJECT_OPERATOR,
               "HubProviderID": "NL-EMS"} for n in range(2)]
    world.standin.charge_detail_records = missed
    assert await world.connector.emp.catch_up_cdrs(EMSP, start - timedelta(days=1)) == 2
    await eventually(lambda: len(world.emsp.objects["cdrs"]) == 2)
    assert await world.connector.emp.catch_up_cdrs(EMSP, start - timedelta(days=1)) == 2  # again: known, not stored twice
    await asyncio.sleep(0.3)
    assert len(world.emsp.received["cdrs"]) == 2


async def test_hubjects_authorize_start_for_the_emsps_card_is_answered_from_the_hubs_tokens(world: World) -> None:
    answer = await hbs.authorize_start(world.served.url, HUBJECT_OPERATOR, hbs.rfid(UID))
    assert answer["AuthorizationStatus"] == "Authorized" and answer["ProviderID"] == "NL-EMS"
    assert any(x.path == f"{UID}/authorize" for x in world.emsp.received["tokens"])  # asked in real time
    answer = await hbs.authorize_start(world.served.url, HUBJECT_OPERATOR, hbs.rfid("DEADBEEF"))
    assert answer["AuthorizationStatus"] == "NotAuthorized" and answer["StatusCode"]["Code"] == "102"
    world.emsp.authorize_allowed = "BLOCKED"
    answer = await hbs.authorize_start(world.served.url, HUBJECT_OPERATOR, hbs.rfid(UID))
    assert answer["AuthorizationStatus"] == "NotAuthorized"


async def test_the_providers_cards_are_uploaded_as_authentication_data(world: World) -> None:
    assert await world.connector.emp.push_authentication_data(EMSP) == 1
    (push,) = world.bodies("eRoamingPushAuthenticationData")
    data = push["ProviderAuthenticationData"]
    assert push["ActionType"] == "fullLoad" and data["ProviderID"] == "NL-EMS"
    assert data["AuthenticationDataRecord"][0]["Identification"]["RFIDIdentification"]["UID"] == UID


# --- the hub's OICP endpoints refuse bad requests and change nothing -----------------------------------------------


async def test_bad_requests_to_the_oicp_endpoints_get_oicp_errors_and_change_nothing(world: World) -> None:
    cp = await world.charger()
    await world.pulled(6)
    await world.settled()
    before = await snapshot(world.served)
    url, session_id = world.served.url, str(uuid.uuid4())
    # an EVSE the hub does not run
    ack = await hbs.authorize_remote_start(url, "DE-8EO", "NL*GRN*ENOPE", "DE-8EO-CAB123456-X", session_id)
    assert ack["Result"] is False and ack["StatusCode"]["Code"] == "603"
    # a session that is not running there
    ack = await hbs.authorize_remote_stop(url, "DE-8EO", "NL*GRN*ECP1*1", session_id)
    assert ack["Result"] is False and ack["StatusCode"]["Code"] == "400"
    # a CDR for a card of no eMSP of the hub, at an EVSE the hub never pulled
    end = datetime.now(timezone.utc).replace(microsecond=0)
    ack = await hbs.charge_detail_record(url, HUBJECT_OPERATOR, session_id, "DE*ABC*E000001", hbs.rfid("DEADBEEF"), end - timedelta(hours=1),
                                         end, 1.0, HubProviderID="DE-XYZ")
    assert ack["Result"] is False, ack
    ack = await hbs.charge_detail_record(url, HUBJECT_OPERATOR, session_id, "DE*ABC*E999999", hbs.rfid(UID), end - timedelta(hours=1), end, 1.0)
    assert ack["Result"] is False and ack["StatusCode"]["Code"] == "603"
    # malformed JSON and a body against the schema: HTTP 400, Result false, 022
    async with httpx.AsyncClient(timeout=10) as http:
        path = f"{url}/oicp/api/oicp/charging/v21/providers/DE-8EO/authorize-remote/start"
        for content in (b"{not json", msgspec.json.encode({"ProviderID": "DE-8EO", "EvseID": 5, "Identification": {}})):
            r = await http.post(path, content=content, headers={"content-type": "application/json"})
            assert r.status_code == 400 and r.json()["Result"] is False and r.json()["StatusCode"]["Code"] == "022"
        r = await http.post(f"{url}/oicp/api/oicp/nothing/here", content=b"{}")
        assert r.status_code == 404 and r.json()["StatusCode"]["Code"] == "022"
    assert not cp.remote_requests
    await world.settled()
    assert await snapshot(world.served) == before


async def test_calls_from_outside_the_allowed_networks_are_refused(world: World) -> None:
    await world.charger()
    await world.connector.hubject.configure(world.standin.url, inbound_allow=["10.0.0.0/8"])
    answer = await hbs.authorize_remote_start(world.served.url, "DE-8EO", "NL*GRN*ECP1*1", "DE-8EO-CAB123456-X",
                                              str(uuid.uuid4()), check=False)
    assert answer["StatusCode"]["Code"] == "017"
    await world.connector.hubject.configure(world.standin.url, inbound_allow=["127.0.0.0/8"])
    ack = await hbs.authorize_remote_start(world.served.url, "DE-8EO", "NL*GRN*ECP1*1", "DE-8EO-CAB123456-X", str(uuid.uuid4()))
    assert ack["Result"] is True
