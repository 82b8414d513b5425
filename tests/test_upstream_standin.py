"""The upstream hub stand-in (fixtures/upstream_hub.py: Gireve's IOP, Emobi) against itself, over real HTTP: no hub
involved. The test plays the hub; a tiny app serves the hub's side of the handshake (versions, details) and answers
the calls the stand-in makes for the parties behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar, Request, Response, route
from litestar.params import FromPath

from fixtures.loopback import Loopback
from fixtures.ocpi_party import b64, free_port
from fixtures.upstream_hub import UpstreamHub
from protocols.ocpi import transport as t
from protocols.ocpi.v221 import wire
from tests import ocpi_data as d

TENANTS = [("DE", "CPO", "CPO"), ("NL", "EMS", "EMSP")]


class FakeHub:
    """The hub's side, as little as the stand-in needs: versions, details, and a canned answer to anything else."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/ocpi"
        self.token_b = "token-b-of-the-hub"
        self.calls: list[tuple[str, str, dict[str, str], Any]] = []

        @route("/ocpi/{path:path}", http_method=["GET", "PUT", "PATCH", "POST", "DELETE"])
        async def handle(request: Request, path: FromPath[str]) -> Response:
            raw = await request.body()
            self.calls.append((request.method, path.strip("/"), dict(request.headers), msgspec.json.decode(raw) if raw else None))
            if path.strip("/") == "versions":
                data: Any = [{"version": "2.2.1", "url": f"{self.url}/2.2.1"}]
            elif path.strip("/") == "2.2.1":
                data = {"version": "2.2.1", "endpoints": [
                    {"identifier": m, "role": r, "url": f"{self.url}/2.2.1/{m}"}
                    for m in ("credentials", "locations", "tokens", "commands") for r in ("SENDER", "RECEIVER")]}
            elif path.endswith("/authorize"):
                data = {"allowed": "ALLOWED", "token": d.token(), "authorization_reference": "AUTH1"}
            elif "/commands/" in path:
                data = {"result": "ACCEPTED", "timeout": 30}
            else:
                data = None
            return Response(content=t.envelope(msgspec.json.encode(data) if data is not None else None), media_type="application/json",
                            status_code=200)

        self.server = Loopback(Litestar([handle]), self.port, lifespan="off")

    def credentials(self, token: str | None = None) -> dict[str, Any]:
        roles = [{"role": r, "country_code": cc, "party_id": pid, "business_details": {"name": f"{cc}{pid}"}} for cc, pid, r in TENANTS]
        return {"token": token or self.token_b, "url": f"{self.url}/versions", "roles": roles}


@pytest.fixture
async def fake() -> AsyncIterator[FakeHub]:
    hub = FakeHub()
    await hub.server.start()
    yield hub
    await hub.server.stop()


@pytest.fixture
async def make_upstream() -> AsyncIterator[Callable[..., Any]]:
    started: list[UpstreamHub] = []

    async def make(preset: str, **kw: Any) -> UpstreamHub:
        up = UpstreamHub.gireve(**kw) if preset == "gireve" else UpstreamHub.emobi(**kw)
        up.operators = {"DE/CPO": "CPO", "NL/EMS": "EMSP"}
        up.behind = {"FR/EMX": "EMSP", "FR/CPX": "CPO"}
        await up.start()
        started.append(up)
        return up

    yield make
    for up in started:
        await up.aclose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def register(http: httpx.AsyncClient, up: UpstreamHub, fake: FakeHub, token_a: str | None = None) -> str:
    """The hub's registration, driven by hand: token A, our token B, its token C."""
    auth = {"Authorization": f"Token {b64(token_a or up.invite_hub())}"}
    versions = (await http.get(f"{up.url}/versions", headers=auth)).json()["data"]
    details = (await http.get(versions[0]["url"], headers=auth)).json()["data"]
    credentials_url = next(e["url"] for e in details["endpoints"] if e["identifier"] == "credentials")
    answer = await http.post(credentials_url, headers=auth, json=fake.credentials())
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["token"]


def headers(token: str, frm: str = "DE/CPO", to: str = "FR/107", **extra: str) -> dict[str, str]:
    (fcc, fpid), (tcc, tpid) = frm.split("/"), to.split("/")
    return {"Authorization": f"Token {b64(token)}", "OCPI-from-country-code": fcc, "OCPI-from-party-id": fpid,
            "OCPI-to-country-code": tcc, "OCPI-to-party-id": tpid, "X-Request-ID": "r1", "X-Correlation-ID": "c1", **extra}


def location(lid: str = "LOC1", **extra: Any) -> dict[str, Any]:
    return d.location(lid=lid, owner={"name": "Owner"}, operator={"name": "CPO Operator"}, **extra)


async def test_versions_and_details_per_preset(make_upstream: Callable[..., Any], http: httpx.AsyncClient) -> None:
    for preset in ("gireve", "emobi"):
        up = await make_upstream(preset)
        auth = {"Authorization": f"Token {b64(up.invite_hub())}"}
        versions = (await http.get(f"{up.url}/versions", headers=auth)).json()
        assert versions["data"] == [{"version": "2.2.1", "url": f"{up.url}/2.2.1"}]
        details = wire.decode((await http.get(f"{up.url}/2.2.1", headers=auth)).content, wire.Response[wire.VersionDetails]).data
        found = {(e.identifier, e.role) for e in details.endpoints}
        both = {(m, r) for m in ("locations", "tariffs", "sessions", "cdrs", "tokens", "commands") for r in ("SENDER", "RECEIVER")}
        if preset == "gireve":
            assert found == {("credentials", "SENDER")} | both
        else:
            assert found == {("credentials", "SENDER"), ("hubclientinfo", "RECEIVER"), ("chargingprofiles", "SENDER"),
                             ("chargingprofiles", "RECEIVER")} | both
        assert (await http.get(f"{up.url}/versions", headers={"Authorization": "Token bm9wZQ=="})).status_code == 401
        assert (await http.get(f"{up.url}/2.2.1/sender/locations", headers=auth)).status_code == 401  # token A: no modules


async def test_the_handshake_ends_with_a_token_c(make_upstream: Callable[..., Any], http: httpx.AsyncClient, fake: FakeHub) -> None:
    iop = await make_upstream("gireve", pre_production=False)
    token_a = iop.invite_hub()
    token_c = await register(http, iop, fake, token_a)
    assert token_c == iop.my_token and iop.hub_token == fake.token_b
    assert [(r.country_code, r.party_id, r.role) for r in iop.presented_roles] == TENANTS
    assert iop.hub_endpoints[("tokens", "SENDER")] == f"{fake.url}/2.2.1/tokens"
    assert [c[1] for c in fake.calls] == ["versions", "2.2.1"]  # it read our versions with token B
    assert all(c[2]["authorization"] == f"Token {b64(fake.token_b)}" for c in fake.calls)
    mine = (await http.get(f"{iop.url}/2.2.1/credentials", headers={"Authorization": f"Token {b64(token_c)}"})).json()["data"]
    assert mine["roles"] == [{"role": "HUB", "business_details": {"name": "Gireve IOP"}, "party_id": "007", "country_code": "FR"}]
    again = await http.post(f"{iop.url}/2.2.1/credentials", headers={"Authorization": f"Token {b64(token_a)}"}, json=fake.credentials())
    assert again.status_code == 401  # token A is dead


async def test_put_credentials_refused_by_gireve_allowed_by_emobi(make_upstream: Callable[..., Any], http: httpx.AsyncClient,
                                                                  fake: FakeHub) -> None:
    iop = await make_upstream("gireve")
    token_c = await register(http, iop, fake)
    auth = {"Authorization": f"Token {b64(token_c)}"}
    refused = await http.put(f"{iop.url}/2.2.1/credentials", headers=auth, json=fake.credentials("new-b"))
    assert refused.status_code == 405 and refused.json()["status_code"] == 2000
    assert refused.json()["status_message"] == "PUT credentials not implemented: DELETE and register again"
    assert [r.method for r in iop.received["credentials"]] == ["POST", "PUT"] and iop.errors == []
    assert iop.hub_token == fake.token_b and iop.my_token == token_c
    assert (await http.delete(f"{iop.url}/2.2.1/credentials", headers=auth)).json()["status_code"] == 1000
    assert iop.hub_token is None and (await http.get(f"{iop.url}/2.2.1/credentials", headers=auth)).status_code == 401
    assert await register(http, iop, fake) not in (token_c, None)  # a new token A, a new token C

    emobi = await make_upstream("emobi")
    token_c = await register(http, emobi, fake)
    put = await http.put(f"{emobi.url}/2.2.1/credentials", headers={"Authorization": f"Token {b64(token_c)}"},
                         json=fake.credentials("new-b"))
    assert put.status_code == 200 and put.json()["data"]["token"] not in (token_c, None)
    assert emobi.hub_token == "new-b" and emobi.my_token == put.json()["data"]["token"]
    assert (await http.get(f"{emobi.url}/2.2.1/credentials", headers={"Authorization": f"Token {b64(token_c)}"})).status_code == 401


async def test_routing_headers_are_required_and_checked(make_upstream: Callable[..., Any], http: httpx.AsyncClient,
                                                        fake: FakeHub) -> None:
    iop = await make_upstream("gireve")
    token_c = await register(http, iop, fake)
    url = f"{iop.url}/2.2.1/locations/DE/CPO/LOC1"
    bare = await http.put(url, headers={"Authorization": f"Token {b64(token_c)}"}, json=location())
    assert bare.status_code == 400 and bare.json()["status_code"] == 2001
    assert "missing routing headers" in iop.errors[-1] and iop.received["locations"][-1].method == "PUT"
    cases = [(headers(token_c, to="FR/007"), "OCPI-to must be the IOP"),
             (headers(token_c, frm="DE/XXX"), "unknown operator DE/XXX"),
             (headers(token_c, frm="NL/EMS"), "is not a CPO")]  # an eMSP pushing Locations
    for h, message in cases:
        answer = await http.put(url, headers=h, json=location())
        assert answer.json()["status_code"] == 2001 and message in answer.json()["status_message"] and message in iop.errors[-1]
    token = await http.put(f"{iop.url}/2.2.1/tokens/NL/EMS/04A1B2C3", headers=headers(token_c), json=d.token())
    assert token.json()["status_code"] == 2001 and "is not a EMSP" in iop.errors[-1]  # a CPO pushing tokens
    assert iop.pushes == [] and iop.objects["locations"] == {}

    emobi = await make_upstream("emobi")
    token_c = await register(http, emobi, fake)
    session = await http.put(f"{emobi.url}/2.2.1/sessions/DE/CPO/S1", headers=headers(token_c, to="US/EMB"), json=d.session())
    assert session.json()["status_code"] == 2001 and "not broadcast" in emobi.errors[-1]
    addressed = await http.put(f"{emobi.url}/2.2.1/sessions/DE/CPO/S1", headers=headers(token_c, to="FR/EMX"), json=d.session())
    assert addressed.status_code == 201 and addressed.headers["x-correlation-id"] == "c1"
    broadcast = await http.put(f"{emobi.url}/2.2.1/locations/DE/CPO/LOC1", headers=headers(token_c, to="US/EMB"),
                               json=d.location())  # no Gireve rules at Emobi
    assert broadcast.status_code == 201
    stranger = await http.put(f"{emobi.url}/2.2.1/locations/DE/CPO/LOC1", headers=headers(token_c, frm="DE/ABC", to="US/EMB"),
                              json=d.location())
    assert stranger.json()["status_code"] == 2001 and "unknown operator DE/ABC" in emobi.errors[-1]


async def test_gireve_location_rules_and_push_order(make_upstream: Callable[..., Any], http: httpx.AsyncClient,
                                                    fake: FakeHub) -> None:
    iop = await make_upstream("gireve")
    h = headers(await register(http, iop, fake))
    base = f"{iop.url}/2.2.1/locations/DE/CPO"
    no_operator = location()
    del no_operator["operator"]
    foreign = location()
    foreign["evses"][0]["evse_id"] = "FR*ABC*E1"
    no_capabilities = location()
    no_capabilities["evses"][1]["capabilities"] = []
    for body, rule in ((no_operator, "operator.name"), (foreign, "DE*CPO*E"), (no_capabilities, "capabilities"),
                       ({"uid": "LOC1-1"}, "invalid object")):
        answer = await http.put(f"{base}/LOC1", headers=h, json=body)
        assert answer.status_code == 200 and answer.json()["status_code"] == 2001
        assert rule in answer.json()["status_message"] and rule in iop.errors[-1]
    bare_connector = d.evse("LOC1-3")
    bare_connector["evse_id"] = "DE*CPO*ELOC1-3"
    del bare_connector["connectors"][0]["tariff_ids"]
    assert "tariff_ids" in (await http.put(f"{base}/LOC1/LOC1-3", headers=h, json=bare_connector)).json()["status_message"]
    assert iop.pushes == []

    compact = location("LOC2")
    for evse in compact["evses"]:
        evse["evse_id"] = evse["evse_id"].replace("*", "").lower()  # the separator-free form, any case
    for path, body in (("LOC1", location()), ("LOC2", compact), ("LOC1/LOC1-1", d.evse("LOC1-1"))):
        answer = await http.put(f"{base}/{path}", headers=h, json=body)
        assert answer.status_code in (200, 201) and answer.json()["status_code"] == 1000, answer.text
    patch = await http.patch(f"{base}/LOC1/LOC1-1", headers=h, json={"status": "CHARGING", "last_updated": "2026-03-01T10:05:00Z"})
    assert patch.json()["status_code"] == 1000
    assert [p.path for p in iop.pushes] == ["DE/CPO/LOC1", "DE/CPO/LOC2", "DE/CPO/LOC1/LOC1-1", "DE/CPO/LOC1/LOC1-1"]
    assert msgspec.json.decode(iop.objects["locations"]["DE/CPO/LOC1/LOC1-1"])["status"] == "CHARGING"
    cdr = await http.post(f"{iop.url}/2.2.1/cdrs", headers=h, json=d.cdr())
    assert cdr.status_code == 201 and "DE/CPO/CDR1" in iop.objects["cdrs"]
    assert (await http.get(cdr.headers["location"], headers=h)).json()["data"]["id"] == "CDR1"


async def test_pages_and_limits(make_upstream: Callable[..., Any], http: httpx.AsyncClient, fake: FakeHub) -> None:
    iop = await make_upstream("gireve")
    token_c = await register(http, iop, fake)
    h = headers(token_c, frm="NL/EMS")
    for i in range(25):
        iop.own("locations", f"FR/CPX/L{i:02}", d.location("FR", "CPX", f"L{i:02}"))
    url = f"{iop.url}/2.2.1/sender/locations"
    above = await http.get(url, headers=h, params={"limit": "50"})
    assert above.status_code == 400 and above.json()["status_code"] == 2001 and "limit above 20" in iop.errors[-1]
    first = await http.get(url, headers=h)
    assert len(first.json()["data"]) == 20 and first.headers["x-total-count"] == "25" and first.headers["x-limit"] == "20"
    rest = await http.get(first.links["next"]["url"], headers=h)
    assert [loc["id"] for loc in rest.json()["data"]] == ["L20", "L21", "L22", "L23", "L24"] and "link" not in rest.headers
    assert (await http.get(f"{url}/L03", headers=h)).json()["data"]["id"] == "L03"
    cpo_pulls = await http.get(url, headers=headers(token_c, frm="DE/CPO"))
    assert cpo_pulls.json()["status_code"] == 2001  # a CPO-only operator does not pull Locations at Gireve

    emobi = await make_upstream("emobi")
    h = headers(await register(http, emobi, fake), frm="NL/EMS", to="US/EMB")
    for i in range(120):
        emobi.own("tokens", f"FR/EMX/{i:08X}", d.token("FR", "EMX", f"{i:08X}"))
    capped = await http.get(f"{emobi.url}/2.2.1/sender/tokens", headers=h, params={"limit": "500"})
    assert len(capped.json()["data"]) == 100 and capped.headers["x-limit"] == "100" and emobi.errors == []


async def test_outages_and_scripted_failures(make_upstream: Callable[..., Any], http: httpx.AsyncClient, fake: FakeHub) -> None:
    iop = await make_upstream("gireve")
    h = headers(await register(http, iop, fake))
    url = f"{iop.url}/2.2.1/locations/DE/CPO/LOC1"
    iop.online = False
    assert (await http.put(url, headers=h, json=location())).status_code == 503
    assert (await http.get(f"{iop.url}/versions", headers=h)).status_code == 503
    iop.online = True
    iop.fail_next(2)
    assert [(await http.put(url, headers=h, json=location())).status_code for _ in range(3)] == [500, 500, 201]
    assert len(iop.pushes) == 1 and iop.errors == []


async def test_calls_to_the_hub_for_the_parties_behind(make_upstream: Callable[..., Any], http: httpx.AsyncClient,
                                                       fake: FakeHub) -> None:
    iop = await make_upstream("gireve")
    token_c = await register(http, iop, fake)
    started = await iop.start_session("FR/EMX", "DE/CPO", "LOC1", "LOC1-1", d.token("FR", "EMX"))
    assert started.json()["data"]["result"] == "ACCEPTED"
    method, path, sent, body = fake.calls[-1]
    assert (method, path) == ("POST", "2.2.1/commands/START_SESSION") and sent["authorization"] == f"Token {b64(fake.token_b)}"
    assert (sent["ocpi-from-party-id"], sent["ocpi-to-party-id"]) == ("EMX", "CPO") and sent["x-correlation-id"]
    result = await http.post(body["response_url"], headers=headers(token_c), json={"result": "ACCEPTED"})
    assert result.json()["status_code"] == 1000 and iop.received["commandresults"][-1].body == {"result": "ACCEPTED"}
    bad = await http.post(body["response_url"], headers=headers(token_c), json={"result": "MAYBE"})
    assert bad.json()["status_code"] == 2001 and "commandresults" in iop.errors[-1]
    info = await iop.authorize("FR/CPX", "NL/EMS", "04A1B2C3", "LOC9", ["LOC9-1"])
    assert info["authorization_reference"] == "AUTH1" and fake.calls[-1][3] == {"location_id": "LOC9", "evse_uids": ["LOC9-1"]}
    reserve = await http.post(f"{iop.url}/2.2.1/commands/RESERVE_NOW", headers=headers(token_c, frm="NL/EMS"), json={})
    assert reserve.json()["status_code"] == 2001 and "not implemented" in iop.errors[-1]
    for module in ("chargingprofiles/S1", "hubclientinfo/DE/CPO"):
        assert (await http.get(f"{iop.url}/2.2.1/{module}", headers=headers(token_c))).status_code == 404

    iop.own("tokens", "FR/EMX/0A0B0C0D", d.token("FR", "EMX", "0A0B0C0D"))  # the hub's CPO asks about a token behind
    command = await http.post(f"{iop.url}/2.2.1/commands/START_SESSION", headers=headers(token_c, frm="NL/EMS"),
                              json={"response_url": f"{fake.url}/2.2.1/commands/result/1", "token": d.token(), "location_id": "X1"})
    assert command.json()["data"]["result"] == "ACCEPTED"
    authorized = await http.post(f"{iop.url}/2.2.1/sender/tokens/0A0B0C0D/authorize", headers=headers(token_c),
                                 json={"location_id": "LOC1"})
    assert authorized.json()["data"]["allowed"] == "ALLOWED"
    for _ in range(50):  # the result of the command arrives at the response_url
        if any(c[1] == "2.2.1/commands/result/1" for c in fake.calls):
            break
        await asyncio.sleep(0.02)
    assert next(c[3] for c in fake.calls if c[1] == "2.2.1/commands/result/1") == {"result": "ACCEPTED"}
