"""Operators' chargers on the hub, end to end: real `ocpp` library charge points over real WebSockets
(OCPP 1.6 and 2.0.1), the hub's OCPP server, and an OCPI eMSP party on real HTTP. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import websockets
from websockets.asyncio.client import connect

from connectors import bilateral
from fixtures.ocpi_party import OcpiParty, free_port
from hub import model
from hub.model import PartyId
from hub.store import documents as docs
from hub.store.chargers import ConnectorTemplate
from protocols.ocpp.simulator import connect_charger
from tests import ocpi_data as d
from tests.conftest import BACKENDS, Served, hub_settings
from tests.test_ocpi_bad_input import snapshot
from tests.test_ocpi_e2e import eventually

CPO = PartyId("NL", "GRN")
PASSWORD = "s3cret-charger-password"
UID = "04A1B2C3"


def _location() -> model.Location:
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    return model.Location(country_code="NL", party_id="GRN", id="LOC1", publish=True, address="Stationsplein 1", city="Utrecht",
                          country="NLD", coordinates=model.GeoPoint(Decimal("52.089444"), Decimal("5.110278")),
                          time_zone="Europe/Amsterdam", last_updated=now)


def _tariff() -> model.Tariff:
    return model.Tariff(country_code="NL", party_id="GRN", id="AC1", currency="EUR", last_updated=datetime(2026, 3, 1, tzinfo=timezone.utc),
                        elements=[model.TariffElement(price_components=[model.PriceComponent("ENERGY", Decimal("0.30"), 1, Decimal("21"))])])


class Site:
    def __init__(self, served: Served, emsp: OcpiParty, other: OcpiParty) -> None:
        self.served, self.emsp, self.other = served, emsp, other
        self.hub = served.hub
        self.ocpp_url = f"ws://127.0.0.1:{served.hub.ocpp.port}/ocpp"

    async def charger(self, identity: str, version: str) -> Any:
        await self.hub.core.charging.add(identity, CPO, "LOC1", PASSWORD, ConnectorTemplate(tariff_ids=["AC1"]))
        cp, ws, _ = await connect_charger(self.ocpp_url, identity, version, PASSWORD)
        await cp.boot()
        return cp


async def _site(served: Served, make_party: Any) -> Site:
    core = served.hub.core
    await core.parties.ensure_local(CPO, "CPO", "GreenCharge")
    await core.objects.put_tariff(None, _tariff())
    await core.objects.put_location(None, _location())
    parties = []
    for cc, pid in (("NL", "EMS"), ("FR", "OTH")):
        party = await make_party(cc, pid, "EMSP")
        invite = await bilateral.invite(served.hub.ocpi, PartyId(cc, pid), "EMSP")
        await party.register(invite["versions_url"], invite["token"])
        parties.append(party)
    emsp = parties[0]
    r = await emsp.send("PUT", "tokens", "RECEIVER", f"NL/EMS/{UID}", msgspec.json.encode(d.token(uid=UID)), to="NL/HUB")
    assert r.status_code == 201
    emsp.own("tokens", f"NL/EMS/{UID}", msgspec.json.encode(d.token(uid=UID)))  # it answers real-time authorization for it
    return Site(served, emsp, parties[1])


@pytest.fixture
async def site(database_url: str, make_party: Any) -> Any:
    settings = hub_settings(database_url, free_port(), ocpp_port=0, session_update_interval=0.0, ocpp_offline_grace=0.5,
                            ocpp_call_timeout=5.0, ocpp_ping_interval=0.0)
    async with Served(settings) as served:
        yield await _site(served, make_party)


VERSIONS = ["1.6", "2.0.1"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_boot_and_status_reach_the_emsp(site: Site, version: str) -> None:
    cp = await site.charger("CP1", version)
    await eventually(lambda: any(x.path.startswith("NL/GRN/LOC1/CP1-") for x in site.emsp.received["locations"]))
    await cp.status(1, "Charging" if version == "1.6" else "Occupied")
    await eventually(lambda: any(x.method == "PATCH" and x.body.get("status") == "CHARGING" for x in site.emsp.received["locations"]))
    r = await site.emsp.send("GET", "locations", "SENDER", "LOC1/CP1-1")
    assert r.json()["data"]["status"] == "CHARGING" and r.json()["data"]["evse_id"] == "NL*GRN*ECP1*1"
    charger = await site.hub.core.charging.get("CP1")
    assert charger is not None
    listed = {c.identity: c for c in await site.hub.core.charging.listing()}
    assert listed["CP1"].instance is not None and listed["CP1"].protocol == f"ocpp{version}"
    assert listed["CP1"].boot["vendor"] == "EVHub"


@pytest.mark.parametrize("version", VERSIONS)
async def test_authorize_asks_the_emsp_in_real_time(site: Site, version: str) -> None:
    cp = await site.charger("CP1", version)
    if version == "1.6":
        from ocpp.v16 import call

        ok = await cp.call(call.Authorize(id_tag=UID))
        bad = await cp.call(call.Authorize(id_tag="DEADBEEF"))
        assert ok.id_tag_info["status"] == "Accepted" and bad.id_tag_info["status"] == "Invalid"
    else:
        from ocpp.v201 import call

        ok = await cp.call(call.Authorize(id_token={"id_token": UID, "type": "ISO14443"}))
        bad = await cp.call(call.Authorize(id_token={"id_token": "DEADBEEF", "type": "ISO14443"}))
        assert ok.id_token_info["status"] == "Accepted" and bad.id_token_info["status"] == "Unknown"
    assert any(x.path == f"{UID}/authorize" for x in site.emsp.received["tokens"])
    site.emsp.authorize_allowed = "BLOCKED"
    assert (await site.hub.core.charging.authorize("CP1", UID)).allowed == "BLOCKED"


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_session_becomes_session_updates_and_one_priced_cdr_at_the_token_owner_only(site: Site, version: str) -> None:
    cp = await site.charger("CP1", version)
    start_wh = cp.meter_wh
    outcome = await cp.session(1, UID, seconds=0.6, meter_interval=0.2, power_w=36_000_000)  # 2 kWh per 0.2 s
    assert outcome["authorized"]
    energy_kwh = Decimal(cp.meter_wh - start_wh) / 1000
    await eventually(lambda: site.emsp.objects["cdrs"])
    assert not site.emsp.errors
    sessions = site.emsp.received["sessions"]
    assert sessions[0].method == "PUT" and sessions[0].body["status"] == "ACTIVE" and sessions[0].body["auth_method"] == "AUTH_REQUEST"
    assert any(s.method == "PATCH" and s.body.get("kwh", 0) > 0 for s in sessions)
    final = next(s for s in sessions if s.body.get("status") == "COMPLETED")
    assert Decimal(str(final.body["kwh"])) == energy_kwh
    (cdr,) = [msgspec.json.decode(c) for c in site.emsp.objects["cdrs"].values()]
    assert Decimal(str(cdr["total_energy"])) == energy_kwh
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == (energy_kwh * Decimal("0.30")).quantize(Decimal("0.0001"))
    assert Decimal(str(cdr["total_cost"]["incl_vat"])) == (energy_kwh * Decimal("0.30") * Decimal("1.21")).quantize(Decimal("0.0001"))
    assert cdr["cdr_token"]["uid"] == UID and cdr["cdr_location"]["evse_uid"] == "CP1-1" and cdr["tariffs"][0]["id"] == "AC1"
    assert cdr["session_id"] == final.body["id"]
    await asyncio.sleep(0.3)
    assert not site.other.received["sessions"] and not site.other.received["cdrs"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_start_session_command_starts_the_charger_and_the_result_reaches_the_emsp(site: Site, version: str) -> None:
    cp = await site.charger("CP1", version)
    body = {"response_url": f"{site.emsp.url}/2.2.1/commands/START_SESSION/7", "token": d.token(uid=UID), "location_id": "LOC1",
            "evse_uid": "CP1-1"}
    r = await site.emsp.send("POST", "commands", "RECEIVER", "START_SESSION", msgspec.json.encode(body), to="NL/GRN")
    assert r.json()["status_code"] == 1000 and r.json()["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: site.emsp.received["commands"])
    result = site.emsp.received["commands"][-1]
    assert result.path == "START_SESSION/7" and result.body == {"result": "ACCEPTED"}
    assert result.headers["ocpi-from-party-id"] == "GRN" and result.headers["ocpi-to-party-id"] == "EMS"
    assert cp.remote_requests[0][0] in ("RemoteStartTransaction", "RequestStartTransaction")
    await eventually(lambda: site.emsp.received["sessions"])
    started = site.emsp.received["sessions"][0].body
    assert started["auth_method"] == "COMMAND" and started["status"] == "ACTIVE"
    # and STOP_SESSION stops it
    body = {"response_url": f"{site.emsp.url}/2.2.1/commands/STOP_SESSION/8", "session_id": started["id"]}
    r = await site.emsp.send("POST", "commands", "RECEIVER", "STOP_SESSION", msgspec.json.encode(body), to="NL/GRN")
    assert r.json()["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: any(x.path == "STOP_SESSION/8" for x in site.emsp.received["commands"]))
    await eventually(lambda: site.emsp.objects["cdrs"])


@pytest.mark.parametrize("version", VERSIONS)
async def test_unlock_and_charging_profile_reach_the_charger(site: Site, version: str) -> None:
    cp = await site.charger("CP1", version)
    body = {"response_url": f"{site.emsp.url}/2.2.1/commands/UNLOCK_CONNECTOR/9", "location_id": "LOC1", "evse_uid": "CP1-1", "connector_id": "1"}
    r = await site.emsp.send("POST", "commands", "RECEIVER", "UNLOCK_CONNECTOR", msgspec.json.encode(body), to="NL/GRN")
    assert r.json()["data"]["result"] == "ACCEPTED"
    await eventually(lambda: any(x.path == "UNLOCK_CONNECTOR/9" and x.body["result"] == "ACCEPTED" for x in site.emsp.received["commands"]))
    assert ("UnlockConnector" in [a for a, _ in cp.remote_requests])
    # a charging profile on a running session
    session_task = asyncio.get_running_loop().create_task(cp.session(1, UID, seconds=3, meter_interval=0.5))
    await eventually(lambda: site.emsp.received["sessions"])
    session_id = site.emsp.received["sessions"][0].body["id"]
    profile = {"response_url": f"{site.emsp.url}/2.2.1/chargingprofiles/result/1",
               "charging_profile": {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 16.0}]}}
    r = await site.emsp.send("PUT", "chargingprofiles", "RECEIVER", session_id, msgspec.json.encode(profile))
    assert r.json()["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: site.emsp.received["chargingprofiles"])
    assert site.emsp.received["chargingprofiles"][-1].body == {"result": "ACCEPTED"}
    assert "SetChargingProfile" in [a for a, _ in cp.remote_requests]
    # the active profile (GetCompositeSchedule), then clearing it (ClearChargingProfile)
    asked = {"duration": "900", "response_url": f"{site.emsp.url}/2.2.1/chargingprofiles/result/2"}
    r = await site.emsp.send("GET", "chargingprofiles", "RECEIVER", session_id, params=asked)
    assert r.json()["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: len(site.emsp.received["chargingprofiles"]) >= 2)
    active = site.emsp.received["chargingprofiles"][-1].body
    assert active["result"] == "ACCEPTED" and active["profile"]["charging_profile"]["charging_profile_period"] == [{"start_period": 0, "limit": 16.0}]
    cleared = {"response_url": f"{site.emsp.url}/2.2.1/chargingprofiles/result/3"}
    r = await site.emsp.send("DELETE", "chargingprofiles", "RECEIVER", session_id, params=cleared)
    assert r.json()["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: len(site.emsp.received["chargingprofiles"]) >= 3)
    assert site.emsp.received["chargingprofiles"][-1].body == {"result": "ACCEPTED"}
    assert {"GetCompositeSchedule", "ClearChargingProfile"} <= {a for a, _ in cp.remote_requests}
    await session_task


@pytest.mark.parametrize("version", VERSIONS)
async def test_reservation_is_made_and_cancelled_on_the_charger(site: Site, version: str) -> None:
    cp = await site.charger("CP1", version)
    expiry = (datetime.now(timezone.utc) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"response_url": f"{site.emsp.url}/2.2.1/commands/RESERVE_NOW/11", "token": d.token(uid=UID), "expiry_date": expiry,
            "reservation_id": "RES1", "location_id": "LOC1", "evse_uid": "CP1-1"}
    r = await site.emsp.send("POST", "commands", "RECEIVER", "RESERVE_NOW", msgspec.json.encode(body), to="NL/GRN")
    assert r.json()["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: any(x.path == "RESERVE_NOW/11" for x in site.emsp.received["commands"]))
    assert site.emsp.received["commands"][-1].body == {"result": "ACCEPTED"}
    (reserved,) = [args for action, args in cp.remote_requests if action == "ReserveNow"]
    body = {"response_url": f"{site.emsp.url}/2.2.1/commands/CANCEL_RESERVATION/12", "reservation_id": "RES1"}
    r = await site.emsp.send("POST", "commands", "RECEIVER", "CANCEL_RESERVATION", msgspec.json.encode(body), to="NL/GRN")
    assert r.json()["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: any(x.path == "CANCEL_RESERVATION/12" for x in site.emsp.received["commands"]))
    assert site.emsp.received["commands"][-1].body == {"result": "ACCEPTED"}
    (cancelled,) = [args for action, args in cp.remote_requests if action == "CancelReservation"]
    assert cancelled["reservation_id"] == reserved.get("reservation_id", reserved.get("id"))  # the hub's OCPP number for RES1
    body = {"response_url": f"{site.emsp.url}/2.2.1/commands/CANCEL_RESERVATION/13", "reservation_id": "NO-SUCH"}
    r = await site.emsp.send("POST", "commands", "RECEIVER", "CANCEL_RESERVATION", msgspec.json.encode(body), to="NL/GRN")
    assert r.json()["data"]["result"] == "REJECTED", r.text


async def test_an_unreachable_emsp_falls_back_on_the_token_whitelist(site: Site) -> None:
    """Real-time authorization that cannot reach the eMSP: an ALLOWED token is accepted as whitelisted, a NEVER one refused."""
    from ocpp.v16 import call

    cp = await site.charger("CP1", "1.6")
    never = d.token(uid="0BADC0DE", whitelist="NEVER")
    r = await site.emsp.send("PUT", "tokens", "RECEIVER", "NL/EMS/0BADC0DE", msgspec.json.encode(never), to="NL/HUB")
    assert r.status_code == 201
    await site.emsp.stop()
    assert (await cp.call(call.Authorize(id_tag=UID))).id_tag_info["status"] == "Accepted"
    assert (await cp.call(call.Authorize(id_tag="0BADC0DE"))).id_tag_info["status"] == "Invalid"


async def test_unknown_charger_and_wrong_password_are_refused(site: Site) -> None:
    await site.hub.core.charging.add("CP9", CPO, "LOC1", PASSWORD)
    with pytest.raises(websockets.InvalidStatus) as unknown:
        await connect_charger(site.ocpp_url, "NOPE", "1.6", PASSWORD)
    assert unknown.value.response.status_code == 404
    with pytest.raises(websockets.InvalidStatus) as wrong:
        await connect_charger(site.ocpp_url, "CP9", "1.6", "guess")
    assert wrong.value.response.status_code == 401
    with pytest.raises(websockets.InvalidStatus):
        await connect_charger(site.ocpp_url, "CP9", "1.6", None)
    with pytest.raises(websockets.InvalidHandshake):  # no OCPP subprotocol
        auth = {"Authorization": "Basic " + base64.b64encode(f"CP9:{PASSWORD}".encode()).decode()}
        async with connect(f"{site.ocpp_url}/CP9", additional_headers=auth) as ws:
            await ws.recv()


async def _raw(site: Site, identity: str, version: str) -> Any:
    auth = {"Authorization": "Basic " + base64.b64encode(f"{identity}:{PASSWORD}".encode()).decode()}
    return await connect(f"{site.ocpp_url}/{identity}", subprotocols=[f"ocpp{version}"], additional_headers=auth)  # type: ignore[list-item]


async def _ask(ws: Any, frame: str) -> list:
    await ws.send(frame)
    return msgspec.json.decode(await asyncio.wait_for(ws.recv(), 5))


@pytest.mark.parametrize("version", VERSIONS)
async def test_malformed_and_out_of_order_messages_get_call_errors_and_change_nothing(site: Site, version: str) -> None:
    await site.hub.core.charging.add("RAW1", CPO, "LOC1", PASSWORD)
    ws = await _raw(site, "RAW1", version)
    before = await snapshot(site.served)
    fmt = "FormationViolation" if version == "1.6" else "FormatViolation"
    status = ('{"connectorId": 1, "errorCode": "NoError", "status": "Available"}' if version == "1.6"
              else '{"timestamp": "2026-03-01T10:00:00Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}')
    boot = ('{"chargePointVendor": "X", "chargePointModel": "Y"}' if version == "1.6"
            else '{"chargingStation": {"model": "Y", "vendorName": "X"}, "reason": "PowerUp"}')
    # before any BootNotification
    assert (await _ask(ws, f'[2, "a1", "StatusNotification", {status}]'))[:3] == [4, "a1", "SecurityError"]
    assert (await _ask(ws, "this is not json"))[:3] == [4, "-1", "ProtocolError" if version == "1.6" else "RpcFrameworkError"]
    wrong_type = '{"chargePointVendor": 7, "chargePointModel": "Y"}' if version == "1.6" else '{"chargingStation": {"model": 7, "vendorName": "X"}, "reason": "PowerUp"}'
    assert (await _ask(ws, f'[2, "a2", "BootNotification", {wrong_type}]'))[:3] == [4, "a2", "TypeConstraintViolation"]
    assert (await _ask(ws, '[2, "a2b", "BootNotification", {}]'))[:3] == [4, "a2b", "ProtocolError"]
    assert (await _ask(ws, '[2, "a3", "NoSuchAction", {}]'))[:3] == [4, "a3", "NotImplemented"]
    assert (await _ask(ws, '[9, "a4", "Heartbeat", {}]'))[:2] == [4, "a4"]
    await ws.close()
    assert await snapshot(site.served) == before  # none of that touched the store
    ws = await _raw(site, "RAW1", version)
    assert (await _ask(ws, f'[2, "b1", "BootNotification", {boot}]'))[:2] == [3, "b1"]
    bad_status = status.replace('"Available"', '"Sleeping"')
    assert (await _ask(ws, f'[2, "b2", "StatusNotification", {bad_status}]'))[:3] == [4, "b2", fmt]
    if version == "1.6":
        missing = '[2, "b3", "StartTransaction", {"connectorId": 1, "idTag": "X", "timestamp": "2026-03-01T10:00:00Z"}]'
        unknown_tx = '[2, "b4", "StopTransaction", {"meterStop": 10, "timestamp": "2026-03-01T10:00:00Z", "transactionId": 424242}]'
        extra = '[2, "b5", "Heartbeat", {"surprise": 1}]'
    else:
        missing = '[2, "b3", "TransactionEvent", {"eventType": "Started", "timestamp": "2026-03-01T10:00:00Z", "seqNo": 0}]'
        unknown_tx = ('[2, "b4", "TransactionEvent", {"eventType": "Ended", "timestamp": "2026-03-01T10:00:00Z", "triggerReason": "StopAuthorized",'
                      ' "seqNo": 3, "transactionInfo": {"transactionId": "nope"}}]')
        extra = '[2, "b5", "Heartbeat", {"surprise": 1}]'
    assert (await _ask(ws, missing))[:3] == [4, "b3", "ProtocolError"]
    assert (await _ask(ws, unknown_tx))[:3] == [4, "b4", "PropertyConstraintViolation"]
    assert (await _ask(ws, extra))[:3] == [4, "b5", fmt]
    await ws.close()
    boot_only = await snapshot(site.served)
    assert {k: v for k, v in boot_only.items() if k != "chargers"} == {k: v for k, v in before.items() if k != "chargers"}


async def test_offline_transaction_replayed_with_old_timestamps_and_a_meter_reset(site: Site) -> None:
    """A 1.6 charger that was offline sends its transaction late; the register was reset meanwhile; the
    stop carries no usable reading (a reboot): the Session and CDR still come out right."""
    from ocpp.v16 import call

    cp = await site.charger("CP1", "1.6")
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    started = await cp.call(call.StartTransaction(connector_id=1, id_tag=UID, meter_start=5000, timestamp=iso(t0)))
    tid = started.transaction_id
    for minutes, wh in ((30, 9000), (60, 13000), (90, 2000), (120, 6000)):  # 8 kWh, then a reset to 0 (+2 kWh), then +4 kWh
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tid, meter_value=[{
            "timestamp": iso(t0 + timedelta(minutes=minutes)), "sampled_value": [{"value": str(wh), "unit": "Wh"}]}]))
    await cp.call(call.StopTransaction(meter_stop=6000, timestamp=iso(t0 + timedelta(minutes=150)), transaction_id=tid, reason="Reboot"))
    await eventually(lambda: site.emsp.objects["cdrs"])
    (cdr,) = [msgspec.json.decode(c) for c in site.emsp.objects["cdrs"].values()]
    assert Decimal(str(cdr["total_energy"])) == Decimal("14")
    assert cdr["start_date_time"] == iso(t0) and cdr["end_date_time"] == iso(t0 + timedelta(minutes=150))
    assert Decimal(str(cdr["total_time"])) == Decimal("2.5")
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal("4.2")


async def test_evses_become_unknown_after_the_charger_is_gone(site: Site) -> None:
    cp = await site.charger("CP1", "1.6")
    await eventually(lambda: site.emsp.received["locations"])
    await cp._connection.close()
    await eventually(lambda: any(x.method == "PATCH" and x.body.get("status") == "UNKNOWN" for x in site.emsp.received["locations"]), 5)
    loc = await site.hub.core.objects.get(None, docs.LOCATION, ("NL", "GRN", "LOC1"))
    assert {e.status for e in loc.evses} == {"UNKNOWN"}


@pytest.mark.parametrize("database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True)
async def test_a_command_reaches_a_charger_held_by_another_hub_process(database_url: str, make_party: Any) -> None:
    """Two hubs on one PostgreSQL database: the eMSP talks to the first, the charger is connected to the
    second; the command travels between them by LISTEN/NOTIFY."""
    settings = dict(ocpp_port=0, session_update_interval=0.0, ocpp_call_timeout=5.0, ocpp_ping_interval=0.0)
    async with Served(hub_settings(database_url, free_port(), **settings)) as first, \
            Served(hub_settings(database_url, free_port(), **settings)) as second:
        site = await _site(first, make_party)
        await second.hub.core.directory.refresh()
        await site.hub.core.charging.add("CPX", CPO, "LOC1", PASSWORD)
        cp, _, _ = await connect_charger(f"ws://127.0.0.1:{second.hub.ocpp.port}/ocpp", "CPX", "1.6", PASSWORD)
        await cp.boot()
        assert "CPX" in second.hub.ocpp.stations and "CPX" not in first.hub.ocpp.stations
        body = {"response_url": f"{site.emsp.url}/2.2.1/commands/UNLOCK_CONNECTOR/5", "location_id": "LOC1", "evse_uid": "CPX-1",
                "connector_id": "1"}
        r = await site.emsp.send("POST", "commands", "RECEIVER", "UNLOCK_CONNECTOR", msgspec.json.encode(body), to="NL/GRN")
        assert r.json()["data"]["result"] == "ACCEPTED", r.text
        await eventually(lambda: any(x.path == "UNLOCK_CONNECTOR/5" for x in site.emsp.received["commands"]))
        assert site.emsp.received["commands"][-1].body == {"result": "ACCEPTED"}
        assert ("UnlockConnector", {"connector_id": 1}) in cp.remote_requests
