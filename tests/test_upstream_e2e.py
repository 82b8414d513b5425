"""The hub as a platform behind an upstream OCPI hub, end to end over real HTTP: Gireve's IOP in pre-production and
Emobi (stand-ins that enforce their rules: fixtures/upstream_hub.py), two of the hub's operators and its eMSP as
tenants of one connection, a real OCPP charger. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import asyncio

import msgspec
import pytest
import sqlalchemy as sa

from connectors import bilateral, upstream
from fixtures.ocpi211_party import Ocpi211Party
from fixtures.ocpi_party import free_port
from fixtures.upstream_hub import UpstreamHub
from hub import model
from hub.model import PartyId
from hub.services import errors
from hub.store import schema
from hub.store.chargers import ConnectorTemplate
from protocols.ocpp.simulator import connect_charger
from tests.conftest import Served, hub_settings
from tests.test_ocpi_e2e import env, eventually
from tests.test_ocpp_e2e import PASSWORD, _location, _tariff

GRN, VLT, EMS = PartyId("NL", "GRN"), PartyId("DE", "VLT"), PartyId("NL", "EMS")
EMX = "FR/EMX"  # an eMSP behind the upstream hub
WHEN = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _site(owner: PartyId, lid: str, evse_id: str | None = None, named: bool = True) -> model.Location:
    evse = model.Evse(uid=f"{lid}-1", status="AVAILABLE", evse_id=evse_id or f"{owner.country_code}*{owner.party_id}*E{lid}1",
                      capabilities=["RFID_READER", "REMOTE_START_STOP_CAPABLE"], last_updated=WHEN,
                      connectors=[model.Connector(id="1", standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE",
                                                  max_voltage=230, max_amperage=16, tariff_ids=["AC1"], last_updated=WHEN)])
    names = dict(operator=model.BusinessDetails(name=f"{owner} operator"), owner=model.BusinessDetails(name=f"{owner} owner")) if named else {}
    return model.Location(country_code=owner.country_code, party_id=owner.party_id, id=lid, publish=True, address="Street 1",
                          city="Town", country="NLD", coordinates=model.GeoPoint(Decimal("52.100000"), Decimal("5.100000")),
                          time_zone="Europe/Amsterdam", last_updated=WHEN, evses=[evse], **names)


def _token(uid: str = "04A1B2C3") -> dict[str, Any]:
    return {"country_code": "FR", "party_id": "EMX", "uid": uid, "type": "RFID", "contract_id": f"FR-EMX-C{uid}",
            "issuer": "EMX", "valid": True, "whitelist": "ALLOWED", "last_updated": "2026-03-01T08:00:00Z"}


class Upstream:
    def __init__(self, served: Served, hub: UpstreamHub) -> None:
        self.served, self.up = served, hub
        self.ocpi = served.hub.ocpi
        self.ocpp_url = f"ws://127.0.0.1:{served.hub.ocpp.port}/ocpp"

    async def register(self) -> Any:
        return await upstream.register(self.ocpi, f"{self.up.url}/versions", self.up.invite_hub(), self.up.profile)

    def pushed(self, module: str) -> list[Any]:
        return [p for p in self.up.pushes if p.path.startswith(module) or module in p.path]


@pytest.fixture
async def gireve(database_url: str) -> Any:
    async with Served(hub_settings(database_url, free_port(), ocpp_port=0, session_update_interval=0.0, ocpp_ping_interval=0.0,
                                   ocpp_call_timeout=5.0)) as served:
        core = served.hub.core
        for party, role, name in ((GRN, "CPO", "GreenCharge"), (VLT, "CPO", "Voltaro"), (EMS, "EMSP", "EMS Mobility")):
            await core.parties.ensure_local(party, role, name)
        await core.objects.put_tariff(None, _tariff())
        await core.objects.put_location(None, msgspec.structs.replace(_location(), operator=model.BusinessDetails("GreenCharge"),
                                                                      owner=model.BusinessDetails("GreenCharge")))
        await core.objects.put_location(None, _site(VLT, "VLT1"))
        iop = UpstreamHub.gireve(pre_production=True)
        iop.operators = {"NL/GRN": "CPO", "DE/VLT": "CPO", "NL/EMS": "EMSP"}
        iop.behind = {EMX: "EMSP", "FR/CPX": "CPO"}
        await iop.start()
        yield Upstream(served, iop)
        await iop.aclose()


async def test_the_hub_registers_with_gireve_and_pushes_two_tenants_locations_through_one_connection(gireve: Upstream) -> None:
    platform = await gireve.register()
    assert (platform.row.profile, platform.row.tenants) == ("gireve", frozenset({GRN, VLT, EMS}))
    assert platform.roles == ((PartyId("FR", "107"), "HUB"),)
    assert {(r.country_code, r.party_id, r.role) for r in gireve.up.presented_roles} == {("NL", "GRN", "CPO"), ("DE", "VLT", "CPO"), ("NL", "EMS", "EMSP")}
    await eventually(lambda: "NL/GRN/LOC1" in gireve.up.objects["locations"] and "DE/VLT/VLT1" in gireve.up.objects["locations"])
    for push in gireve.up.pushes:  # each from its tenant, to the IOP party
        owner = push.path.split("/")[:2]
        assert [push.headers["ocpi-from-country-code"], push.headers["ocpi-from-party-id"]] == owner
        assert (push.headers["ocpi-to-country-code"], push.headers["ocpi-to-party-id"]) == ("FR", "107")
    assert not gireve.up.errors
    listed = {p["platform"]: p for p in bilateral.parties(gireve.ocpi)}[platform.id]
    assert (listed["profile"], listed["version"], listed["tenants"]) == ("gireve", "2.2.1", ["DE/VLT", "NL/EMS", "NL/GRN"])


async def test_a_location_gireve_would_refuse_is_not_sent_and_says_why(gireve: Upstream) -> None:
    platform = await gireve.register()
    core = gireve.served.hub.core
    await core.objects.put_location(None, _site(VLT, "VLT2", named=False))
    await core.objects.put_location(None, _site(VLT, "VLT3", evse_id="FR*XYZ*E1"))
    await eventually(lambda: "DE/VLT/VLT1" in gireve.up.objects["locations"])

    async def refused() -> list[str]:
        O = schema.outbox
        rows = await core.db.read(lambda conn: conn.execute(
            sa.select(O.c.last_error).where(O.c.destination == platform.id, O.c.status == "parked")).scalars().all())
        return list(rows)

    for _ in range(100):
        reasons = await refused()
        if len(reasons) == 2:
            break
        await asyncio.sleep(0.05)
    assert any("operator.name is required" in r and "VLT2" in r for r in reasons), reasons
    assert any("not an eMI3 id under the operator's DE*VLT*E" in r and "VLT3" in r for r in reasons), reasons
    assert "DE/VLT/VLT2" not in gireve.up.objects["locations"] and not gireve.up.errors


async def test_gireve_routes_a_start_session_to_the_tenants_charger_and_gets_the_session_and_cdr_with_its_reference(gireve: Upstream) -> None:
    await gireve.register()
    core = gireve.served.hub.core
    await core.charging.add("CP1", GRN, "LOC1", PASSWORD, ConnectorTemplate(tariff_ids=["AC1"]))
    cp, _, _ = await connect_charger(gireve.ocpp_url, "CP1", "1.6", PASSWORD)
    await cp.boot()
    await cp.status(1, "Available")
    # an eMSP behind IOP pushes its token, then starts a session at the tenant's charger
    r = await gireve.up.send("PUT", "tokens", "RECEIVER", "FR/EMX/04A1B2C3", _token(), frm=EMX, to="NL/GRN", params={"type": "RFID"})
    assert env(r)["status_code"] == 1000, r.text
    r = await gireve.up.start_session(EMX, "NL/GRN", "LOC1", "CP1-1", _token(), authorization_reference="IOP-AUTH-0001")
    assert env(r)["status_code"] == 1000 and env(r)["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: cp.remote_requests)
    assert cp.remote_requests[0][0] == "RemoteStartTransaction"
    await eventually(lambda: gireve.up.received["commandresults"])
    await eventually(lambda: any(k.startswith("NL/GRN/") for k in gireve.up.objects["sessions"]))
    key = next(k for k in gireve.up.objects["sessions"] if k.startswith("NL/GRN/"))
    session = msgspec.json.decode(gireve.up.objects["sessions"][key])
    assert session["authorization_reference"] == "IOP-AUTH-0001" and session["cdr_token"]["party_id"] == "EMX"
    r = await gireve.up.stop_session(EMX, "NL/GRN", session["id"])
    assert env(r)["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: gireve.up.objects["cdrs"], timeout=15)
    cdr = msgspec.json.decode(next(iter(gireve.up.objects["cdrs"].values())))
    assert cdr["authorization_reference"] == "IOP-AUTH-0001" and cdr["session_id"] == session["id"]
    sent = [p for p in gireve.up.pushes if p.path.startswith(("NL/GRN/", "cdrs")) and p.headers.get("ocpi-from-party-id") == "GRN"]
    assert sent and all(p.headers["ocpi-to-party-id"] == "107" for p in sent)
    assert not gireve.up.errors


async def test_locations_from_behind_gireve_are_their_operators_and_reach_the_hubs_emsps(gireve: Upstream, make_party: Any) -> None:
    await gireve.register()
    emsp = await make_party("BE", "EMP", "EMSP")
    invite = await bilateral.invite(gireve.ocpi, PartyId("BE", "EMP"), "EMSP")
    await emsp.register(invite["versions_url"], invite["token"])
    cpx = msgspec.json.decode(msgspec.json.encode(msgspec.to_builtins(_site(PartyId("FR", "CPX"), "CPX1"))))
    cpx = {**cpx, "country": "FRA", "time_zone": "Europe/Paris", "coordinates": {"latitude": "48.856600", "longitude": "2.352200"}}
    r = await gireve.up.send("PUT", "locations", "RECEIVER", "FR/CPX/CPX1", cpx, frm="FR/CPX", to="NL/GRN")
    assert r.status_code == 201 and env(r)["status_code"] == 1000, r.text
    assert gireve.served.hub.core.directory.platform_of(PartyId("FR", "CPX")).row.profile == "gireve"
    await eventually(lambda: "FR/CPX/CPX1" in emsp.objects["locations"])  # owned by FR/CPX, like any CPO's
    assert "FR/CPX/CPX1" not in gireve.up.objects["locations"]  # never sent back where it came from
    # what Gireve does not have is not asked of it: a reservation at that Location is not supported
    reserve = {"response_url": f"{emsp.url}/2.2.1/commands/RESERVE_NOW/1", "token": {**_token(), "country_code": "BE", "party_id": "EMP"},
               "expiry_date": "2026-03-01T12:00:00Z", "reservation_id": "1", "location_id": "CPX1"}
    r = await emsp.send("POST", "commands", "RECEIVER", "RESERVE_NOW", msgspec.json.encode(reserve))
    assert env(r)["data"]["result"] == "NOT_SUPPORTED", r.text
    assert not gireve.up.received["commands"] and not gireve.up.errors


async def test_gireve_asks_about_a_tenants_token_and_gets_an_authorization_reference(gireve: Upstream) -> None:
    await gireve.register()
    core = gireve.served.hub.core
    token = model.Token(country_code="NL", party_id="EMS", uid="0AB1C2D3", type="RFID", contract_id="NL-EMS-C0001-X", issuer="EMS",
                        valid=True, whitelist="ALLOWED", last_updated=WHEN)
    await core.objects.put_token(None, token)
    info = await gireve.up.authorize("FR/CPX", "NL/EMS", "0AB1C2D3", "CPXLOC1")
    assert info is not None and info["allowed"] == "ALLOWED" and info["authorization_reference"]
    await eventually(lambda: "NL/EMS/0AB1C2D3" in gireve.up.objects["tokens"])  # the tenant eMSP's token, pushed too
    assert not gireve.up.errors


async def test_status_changes_while_gireve_is_down_reach_it_in_order_when_it_is_back(gireve: Upstream) -> None:
    await gireve.register()
    core = gireve.served.hub.core
    await eventually(lambda: "DE/VLT/VLT1" in gireve.up.objects["locations"] and "NL/GRN/LOC1" in gireve.up.objects["locations"])
    gireve.up.online = False
    statuses = ["CHARGING", "AVAILABLE", "OUTOFORDER", "AVAILABLE", "CHARGING"]
    for n, status in enumerate(statuses):
        when = datetime(2026, 3, 2, 10, n, tzinfo=timezone.utc)
        await core.objects.patch_location(None, VLT, "VLT1", {"status": status, "last_updated": when}, "VLT1-1")
    await asyncio.sleep(1.0)
    before = len(gireve.up.pushes)
    gireve.up.online = True
    await eventually(lambda: len([p for p in gireve.up.pushes[before:] if p.path == "DE/VLT/VLT1/VLT1-1"]) == len(statuses), timeout=30)
    got = [p.body["status"] for p in gireve.up.pushes[before:] if p.path == "DE/VLT/VLT1/VLT1-1"]
    assert got == statuses  # FIFO: every change, in the order made
    assert not gireve.up.errors


async def test_credentials_are_rotated_the_gireve_way(gireve: Upstream) -> None:
    platform = await gireve.register()
    old = gireve.up.my_token
    rotated = await upstream.rotate(gireve.ocpi, platform, gireve.up.invite_hub())
    assert rotated.id == platform.id and gireve.up.my_token != old and gireve.up.hub_token
    assert not [r for r in gireve.up.received["credentials"] if r.method == "PUT"]  # never a PUT
    assert [r.method for r in gireve.up.received["credentials"]][-2:] == ["DELETE", "POST"]
    assert rotated.row.tenants == frozenset({GRN, VLT, EMS}) and rotated.row.status == "CONNECTED"
    await gireve.served.hub.core.objects.put_location(None, _site(VLT, "VLT9"))
    await eventually(lambda: "DE/VLT/VLT9" in gireve.up.objects["locations"])  # with the new token
    assert not gireve.up.errors


async def test_emobi_follows_the_hub_rules_with_its_own_party(database_url: str) -> None:
    async with Served(hub_settings(database_url, free_port())) as served:
        core = served.hub.core
        await core.parties.ensure_local(VLT, "CPO", "Voltaro")
        await core.objects.put_tariff(None, msgspec.structs.replace(_tariff(), country_code="DE", party_id="VLT"))
        await core.objects.put_location(None, _site(VLT, "VLT1", named=False))  # Emobi has no Gireve data rules
        emobi = UpstreamHub.emobi()
        emobi.behind = {"US/EMX": "EMSP"}
        await emobi.start()
        try:
            platform = await upstream.register(served.hub.ocpi, f"{emobi.url}/versions", emobi.invite_hub(), "emobi", [VLT])
            assert platform.roles == ((PartyId("US", "EMB"), "HUB"),) and platform.row.tenants == frozenset({VLT})
            await eventually(lambda: "DE/VLT/VLT1" in emobi.objects["locations"])
            push = next(p for p in emobi.pushes if p.path == "DE/VLT/VLT1")
            assert (push.headers["ocpi-from-party-id"], push.headers["ocpi-to-party-id"]) == ("VLT", "EMB")
            # a Session for a token of an eMSP behind Emobi goes to that eMSP (hub rules), through Emobi
            r = await emobi.send("PUT", "tokens", "RECEIVER", "US/EMX/TOK1", {**_token("TOK1"), "country_code": "US"},
                                 frm="US/EMX", to="DE/VLT", params={"type": "RFID"})
            assert env(r)["status_code"] == 1000, r.text
            session = model.Session(country_code="DE", party_id="VLT", id="S1", start_date_time=WHEN, kwh=0,
                                    cdr_token=model.CdrToken("US", "EMX", "TOK1", "RFID", "FR-EMX-CTOK1"), auth_method="AUTH_REQUEST",
                                    location_id="VLT1", evse_uid="VLT1-1", connector_id="1", currency="EUR", status="ACTIVE", last_updated=WHEN)
            await core.objects.put_session(None, session)
            await eventually(lambda: "DE/VLT/S1" in emobi.objects["sessions"])
            push = next(p for p in emobi.pushes if p.path == "DE/VLT/S1")
            assert (push.headers["ocpi-from-party-id"], push.headers["ocpi-to-country-code"], push.headers["ocpi-to-party-id"]) == ("VLT", "US", "EMX")
            assert not emobi.errors
        finally:
            await emobi.aclose()


async def test_gireve_in_2_1_1_takes_one_connection_per_cpo_operator(gireve: Upstream) -> None:
    """IOP in 2.1.1 (played by a scripted 2.1.1 eMSP, party FR/107): the hub registers as one operator per connection."""
    hub = gireve.served.hub
    iop = Ocpi211Party("FR", "107", "EMSP", name="Gireve IOP")
    await iop.start()
    try:
        with pytest.raises(errors.Invalid, match="one CPO operator per connection"):
            await upstream.register(hub.ocpi, f"{iop.url}/versions", iop.invite_hub(), "gireve", None, ocpi211=hub.ocpi211)
        platform = await upstream.register(hub.ocpi, f"{iop.url}/versions", iop.invite_hub(), "gireve", [GRN], ocpi211=hub.ocpi211)
        assert (platform.row.protocol, platform.row.tenants) == ("ocpi211", frozenset({GRN}))
        assert platform.roles == ((PartyId("FR", "107"), "EMSP"),)
        assert (iop.hub_credentials.country_code, iop.hub_credentials.party_id) == ("NL", "GRN")  # the operator registers
        await eventually(lambda: "NL/GRN/LOC1" in iop.objects["locations"])
        assert not any(k.startswith("DE/VLT") for k in iop.objects["locations"])  # not this connection's operator
        # the charger of the operator, started by IOP with its authorization_id, which comes back in the Session
        await hub.core.charging.add("CP1", GRN, "LOC1", PASSWORD, ConnectorTemplate(tariff_ids=["AC1"]))
        cp, _, _ = await connect_charger(gireve.ocpp_url, "CP1", "1.6", PASSWORD)
        await cp.boot()
        await cp.status(1, "Available")
        token = {"uid": "0AB1C2D3", "type": "RFID", "auth_id": "FR-EMX-C0001-X", "issuer": "FR*EMX", "valid": True,
                 "whitelist": "ALLOWED", "last_updated": "2026-03-01T08:00:00Z"}
        start = {"response_url": iop.response_url("s1"), "token": token, "location_id": "LOC1", "evse_uid": "CP1-1",
                 "authorization_id": "IOP-211-AUTH"}
        r = await iop.send("POST", "commands", "START_SESSION", msgspec.json.encode(start))
        assert env(r)["status_code"] == 1000 and env(r)["data"]["result"] == "ACCEPTED", r.text
        await eventually(lambda: iop.received["commandresults"])
        await eventually(lambda: iop.objects["sessions"])
        session = msgspec.json.decode(next(iter(iop.objects["sessions"].values())))
        assert session["authorization_id"] == "IOP-211-AUTH" and session["auth_id"] == "FR-EMX-C0001-X"
        assert not iop.errors
    finally:
        await iop.aclose()


async def test_a_pull_from_gireve_uses_its_page_size_and_takes_the_operators_behind_it(gireve: Upstream) -> None:
    platform = await gireve.register()
    for n in range(25):  # more than a pre-production page (20): IOP refuses a larger limit
        loc = msgspec.to_builtins(_site(PartyId("FR", "CPX"), f"CPX{n:02d}"))
        gireve.up.own("locations", f"FR/CPX/CPX{n:02d}", msgspec.json.encode({**loc, "country": "FRA", "time_zone": "Europe/Paris",
                                                                              "coordinates": {"latitude": "48.856600", "longitude": "2.352200"}}))
    pulled = await upstream.pull(gireve.ocpi, platform)
    assert pulled["location"] == 25 and not gireve.up.errors  # IOP refused any page above 20 (errors would say so)
    pulls = gireve.up.received["sender/locations"]
    assert len(pulls) == 2 and all(p.headers["ocpi-from-party-id"] == "EMS" and p.headers["ocpi-to-party-id"] == "107" for p in pulls)
    assert await gireve.served.hub.core.objects.location(PartyId("FR", "CPX"), "CPX24") is not None  # owned by FR/CPX
