"""Every call the hub makes goes through one guarded client (hub/outbound.py): a peer cannot make the hub read
internal services, call itself, follow redirects or swallow huge answers, and a slow peer only uses up its
own budget. Real OCPI parties and small hostile HTTP servers on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from connectors import bilateral
from fixtures.ocpi_party import OcpiParty, free_port
from hub import model
from hub.model import PartyId
from hub.outbound import Busy, Forbidden, Policy, public_address
from protocols.ocpi import transport as t
from protocols.ocpi.v221 import mapping as m
from protocols.ocpi.v221 import wire
from tests import ocpi_data as d
from tests.conftest import Served, hub_settings
from tests.test_identity import settled
from tests.test_ocpi_e2e import env


class Spy:
    """A plain HTTP server that counts what reaches it and answers with `answer` (raw bytes)."""

    def __init__(self, answer: bytes = b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecret") -> None:
        self.answer = answer
        self.hits = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Spy:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.hits += 1
            try:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(self.answer)
                await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


@pytest.fixture
async def strict(database_url: str) -> AsyncIterator[Served]:
    """A hub as it runs in production: peers on private addresses are refused."""
    async with Served(hub_settings(database_url, free_port(), ocpi_allow_private=False)) as served:
        yield served


async def _invite(served: Served, party: OcpiParty) -> dict[str, str]:
    return await bilateral.invite(served.hub.ocpi, PartyId.of(party.country_code, party.party_id), party.role)


async def _register_refused(served: Served, party: OcpiParty) -> str:
    invite = await _invite(served, party)
    before = await settled(served)
    with pytest.raises(RuntimeError, match="registration refused: 3001") as refused:
        await party.register(invite["versions_url"], invite["token"])
    assert await settled(served) == before
    return str(refused.value)


# --- server-side request forgery ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.5", "169.254.169.254", "100.64.0.1",
                                     "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "224.0.0.1"])
def test_non_public_addresses_are_refused_unless_allowed(address: str) -> None:
    strict = Policy(False, ["http://hub.example:8000"], [8000])
    with pytest.raises(Forbidden):
        strict.check_address(address, 443)
    Policy(True, [], []).check_address(address, 443)
    assert not public_address(ipaddress.ip_address(address))


def test_public_addresses_pass_and_the_hub_is_never_a_destination() -> None:
    policy = Policy(True, ["https://hub.example.com/"], [8000, 9000])
    policy.check_address("93.184.216.34", 443)
    for url in ("https://hub.example.com/ocpi/versions", "https://HUB.example.com:443/x", "ftp://peer.example/x", "http:///x"):
        with pytest.raises(Forbidden):
            policy.check_url(url)
    for address in ("127.0.0.1", "127.0.0.2", "::1", "0.0.0.0"):
        with pytest.raises(Forbidden, match="itself"):
            policy.check_address(address, 8000)


async def test_registration_from_a_private_address_is_refused_without_a_call(strict: Served, make_party: Any) -> None:
    party = await make_party("NL", "EMS", "EMSP")
    message = await _register_refused(strict, party)
    assert "not a public address" in message
    assert not any(party.received.values())  # the hub never called it (versions are not recorded: no call at all)


async def test_a_peer_pointing_the_hub_at_an_internal_service_reads_nothing(strict: Served, make_party: Any) -> None:
    async with Spy() as internal:
        party = await make_party("NL", "EMS", "EMSP")
        party.versions_url_override = f"{internal.url}/"  # "my versions are at http://127.0.0.1:<couchdb>/"
        invite = await _invite(strict, party)
        headers = {"Authorization": t.authorization(invite["token"])}
        r = await party.http.post(f"{strict.url}/ocpi/2.2.1/credentials", content=msgspec.json.encode(party.credentials()), headers=headers)
        assert env(r)["status_code"] == t.UNABLE_TO_USE_CLIENT_API and "secret" not in r.text
        assert internal.hits == 0


async def test_port_scans_through_the_handshake_learn_nothing(served: Served, make_party: Any) -> None:
    """With private addresses allowed (a closed network), a closed port and a silent one answer alike."""
    async with Spy(answer=b"") as silent:
        answers = []
        for url in (f"http://127.0.0.1:{free_port()}/versions", f"{silent.url}/versions"):
            party = await make_party("NL", "EMS", "EMSP")
            party.versions_url_override = url
            invite = await _invite(served, party)
            r = await party.http.post(f"{served.url}/ocpi/2.2.1/credentials", content=msgspec.json.encode(party.credentials()),
                                      headers={"Authorization": t.authorization(invite["token"])})
            answers.append(env(r)["status_message"].replace(url, "<url>"))
        assert answers[0] == answers[1] and "the request failed" in answers[0]


@pytest.mark.parametrize("trick", ["versions", "endpoint", "alias"])
async def test_a_peer_cannot_make_the_hub_call_itself(served: Served, make_party: Any, trick: str) -> None:
    party = await make_party("NL", "EMS", "EMSP")
    own = f"{served.url}/ocpi/versions"
    if trick == "versions":
        party.versions_url_override = own
    elif trick == "endpoint":
        party.endpoint_override["locations"] = f"{served.url}/ocpi/2.2.1/receiver/locations"
    else:  # the same listener under another name
        party.endpoint_override["locations"] = f"http://localhost:{served.settings.port}/ocpi/2.2.1/receiver/locations"
    invite = await _invite(served, party)
    r = await party.http.post(f"{served.url}/ocpi/2.2.1/credentials", content=msgspec.json.encode(party.credentials()),
                              headers={"Authorization": t.authorization(invite["token"])})
    assert env(r)["status_code"] == t.UNABLE_TO_USE_CLIENT_API, r.text
    assert ("the hub's own URL" if trick != "alias" else "the hub cannot call itself") in env(r)["status_message"], r.text
    assert served.hub.core.directory.platform_of(PartyId("NL", "EMS")).row.status == "PLANNED"  # type: ignore[union-attr]


async def _cpo_with_sender(served: Served, make_party: Any, locations_url: str) -> tuple[OcpiParty, OcpiParty]:
    cpo, emsp = await make_party("DE", "CPO", "CPO"), await make_party("NL", "EMS", "EMSP")
    cpo.endpoint_override["locations"] = locations_url
    for party in (cpo, emsp):
        invite = await _invite(served, party)
        await party.register(invite["versions_url"], invite["token"])
    return cpo, emsp


async def test_redirects_are_not_followed(served: Served, make_party: Any) -> None:
    async with Spy() as internal, Spy(answer=f"HTTP/1.1 302 Found\r\nlocation: {internal.url}/\r\ncontent-length: 0\r\n\r\n".encode()) as hop:
        _, emsp = await _cpo_with_sender(served, make_party, f"{hop.url}/locations")
        r = await emsp.send("GET", "locations", "SENDER", "LOC1", to="DE/CPO")
        assert r.status_code == 200 and env(r)["status_code"] == t.HUB_ERROR and "redirect" in env(r)["status_message"]
        assert "location" not in r.headers and hop.hits == 1 and internal.hits == 0


async def test_answers_larger_than_the_cap_are_not_read(database_url: str, make_party: Any) -> None:
    body = b"[" + b"0," * 600_000 + b"0]"
    huge = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n" + body  # no length: read until the cap
    settings = hub_settings(database_url, free_port(), outbound_max_response_bytes=256 * 1024)
    async with Served(settings) as served, Spy(answer=huge) as peer:
        _, emsp = await _cpo_with_sender(served, make_party, f"{peer.url}/locations")
        r = await emsp.send("GET", "locations", "SENDER", "LOC1", to="DE/CPO")
        assert env(r)["status_code"] == t.HUB_ERROR and "more than the hub reads" in env(r)["status_message"]
        assert served.hub.core.directory.platform_of(PartyId("DE", "CPO")).connected  # type: ignore[union-attr]


# --- budgets: a slow peer uses up its own lane, nobody else's ----------------------------------------------------------


def _token(emsp: PartyId, n: int) -> model.Token:
    return m.token_to_canonical(wire.decode(msgspec.json.encode(d.token(emsp.country_code, emsp.party_id, f"AA{n:06d}")), wire.Token))


@pytest.fixture
async def lanes(database_url: str, make_party: Any) -> AsyncIterator[tuple[Served, OcpiParty, OcpiParty]]:
    settings = hub_settings(database_url, free_port(), outbound_concurrency=4, outbound_queue=8, realtime_auth_timeout=2.5)
    async with Served(settings) as served:
        slow, healthy = await make_party("NL", "SLO", "EMSP"), await make_party("NL", "OKE", "EMSP")
        for party in (slow, healthy):
            invite = await _invite(served, party)
            await party.register(invite["versions_url"], invite["token"])
            for n in range(300):
                party.own("tokens", f"{party.party}/AA{n:06d}", msgspec.json.encode(d.token(party.country_code, party.party_id, f"AA{n:06d}")))
        yield served, slow, healthy


async def test_a_slow_emsp_uses_up_only_its_own_budget(lanes: Any) -> None:
    served, slow, healthy = lanes
    ocpi, where = served.hub.ocpi, model.LocationReferences(location_id="LOC1")
    slow.delay = 1.5
    flood = [asyncio.ensure_future(ocpi.realtime_authorize(_token(PartyId("NL", "SLO"), n), where)) for n in range(200)]
    await asyncio.sleep(0.2)
    started = time.monotonic()
    answer = await ocpi.realtime_authorize(_token(PartyId("NL", "OKE"), 1), where)
    healthy_seconds = time.monotonic() - started
    outcomes = await asyncio.gather(*flood, return_exceptions=True)
    busy = sum(isinstance(o, Busy) for o in outcomes)
    answered = sum(isinstance(o, model.AuthorizationInfo) for o in outcomes)
    assert answer.allowed == "ALLOWED" and healthy_seconds < 0.5, healthy_seconds
    assert busy >= 200 - 12 and answered <= 12  # 4 in flight + 8 waiting; the rest refused at once, not queued
    assert len(slow.received["tokens"]) <= 12
    # afterwards the lane is whole again: the next question is asked and answered
    slow.delay = 0.0
    lane = served.hub.core.outbound.lanes[("http", "127.0.0.1", slow.port)]
    assert lane.waiting == 0 and not lane.slots.locked()
    assert (await ocpi.realtime_authorize(_token(PartyId("NL", "SLO"), 250), where)).allowed == "ALLOWED"
    for party in ("NL/SLO", "NL/OKE"):
        assert served.hub.core.directory.platform_of(PartyId.parse(party)).connected  # type: ignore[union-attr]


async def test_identical_questions_in_flight_are_asked_once(lanes: Any) -> None:
    served, slow, _ = lanes
    slow.delay = 0.3
    token, where = _token(PartyId("NL", "SLO"), 7), model.LocationReferences(location_id="LOC1")
    answers = await asyncio.gather(*(served.hub.ocpi.realtime_authorize(token, where) for _ in range(50)))
    assert {a.allowed for a in answers} == {"ALLOWED"}
    assert len(slow.received["tokens"]) == 1


async def test_a_slow_receiver_answers_4002_and_stays_connected(lanes: Any) -> None:
    served, slow, healthy = lanes
    slow.delay = 4.0  # beyond the forward timeout (3 s in the tests)
    r = await healthy.send("POST", "tokens", "SENDER", "AA000001/authorize", to="NL/SLO", params={"type": "RFID"})
    assert env(r)["status_code"] == t.TIMEOUT_ON_FORWARDED_REQUEST
    await asyncio.sleep(0.2)
    assert served.hub.core.directory.platform_of(PartyId("NL", "SLO")).connected  # type: ignore[union-attr]


# --- the client itself ------------------------------------------------------------------------------------------------


class KeepAlive:
    """An HTTP/1.1 server that keeps connections open, counts them, and can drop the idle ones."""

    def __init__(self) -> None:
        self.connections, self.requests, self.writers = 0, 0, []
        self.port = free_port()

    async def __aenter__(self) -> KeepAlive:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self.writers.append(writer)
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next((int(line[15:]) for line in head.split(b"\r\n") if line[:15].lower() == b"content-length:"), 0)
                    await reader.readexactly(length)
                    self.requests += 1
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            except (ConnectionError, asyncio.IncompleteReadError):
                pass

        self.server = await asyncio.start_server(handle, "127.0.0.1", self.port)
        return self

    def drop_idle(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers = []

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


async def test_connections_are_kept_alive_and_a_stale_one_is_replaced() -> None:
    from hub.outbound import Outbound

    client = Outbound(Policy(True, [], []), max_response_bytes=1024, concurrency=4)
    async with KeepAlive() as server:
        for n in range(50):
            assert (await client.request("PUT", f"http://127.0.0.1:{server.port}/x/{n}", content=b"{}")).content == b"ok"
        assert (server.connections, server.requests) == (1, 50)
        server.drop_idle()  # the server closed it while it was idle
        await asyncio.sleep(0.05)
        assert (await client.request("POST", f"http://127.0.0.1:{server.port}/y", content=b"{}")).status_code == 200
        assert server.connections == 2
    await client.aclose()
