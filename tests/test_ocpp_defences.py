"""The OCPP server's defences, through real sockets: a fair share per connection, a budget of real-time
authorizations per charger, frames that are not OCPP-J, and failed handshakes throttled. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import logging
import statistics
import time
from typing import Any

import msgspec
import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from fixtures.ocpi_party import free_port
from hub.services.charging import Budgets
from hub.store import chargers as charger_store
from tests.conftest import Served, hub_settings
from tests.test_ocpi_e2e import eventually
from tests.test_ocpp_e2e import CPO, PASSWORD, UID, Site, _ask, _raw, _site

BOOT = {"1.6": '{"chargePointVendor": "X", "chargePointModel": "Y"}',
        "2.0.1": '{"chargingStation": {"model": "Y", "vendorName": "X"}, "reason": "PowerUp"}'}
HEARTBEAT_P99 = 0.050  # seconds, for a charger beside a flooding one
RATE, BURST = 1.0, 3  # real-time authorizations per charger
FAILURE_RATE, FAILURE_BURST = 1.0, 5  # failed handshakes per source and identity
INTERVAL = 0.5  # seconds between summary log lines


@pytest.fixture
async def site(database_url: str, make_party: Any) -> Any:
    settings = hub_settings(database_url, free_port(), ocpp_port=0, session_update_interval=0.0, ocpp_call_timeout=5.0,
                            ocpp_ping_interval=0.0, ocpp_log_summary_interval=INTERVAL,
                            ocpp_realtime_auth_rate=RATE, ocpp_realtime_auth_burst=BURST,
                            ocpp_handshake_failure_rate=FAILURE_RATE, ocpp_handshake_failure_burst=FAILURE_BURST)
    async with Served(settings) as served:
        yield await _site(served, make_party)


async def _booted(site: Site, identity: str, version: str = "1.6") -> ClientConnection:
    await site.hub.core.charging.add(identity, CPO, "LOC1", PASSWORD)
    ws = await _raw(site, identity, version)
    assert (await _ask(ws, f'[2, "boot", "BootNotification", {BOOT[version]}]'))[:2] == [3, "boot"]
    return ws


async def _heartbeat_round_trips(ws: ClientConnection, count: int) -> list[float]:
    times = []
    for n in range(count):
        began = time.perf_counter()
        answer = await _ask(ws, f'[2, "hb{n}", "Heartbeat", {{}}]')
        times.append(time.perf_counter() - began)
        assert answer[:2] == [3, f"hb{n}"]
        await asyncio.sleep(0.005)
    return times


def _p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[98]


class Flood:
    """A charger keeping `window` Authorize calls with unknown idTags in flight until told to stop."""

    def __init__(self, ws: ClientConnection, window: int) -> None:
        self.ws, self.slots = ws, asyncio.Semaphore(window)
        self.sent = 0
        self.answers: dict[str, Any] = {}
        self.stopping = asyncio.Event()

    async def send(self) -> None:
        while not self.stopping.is_set():
            await self.slots.acquire()
            self.sent += 1
            await self.ws.send(f'[2, "f{self.sent}", "Authorize", {{"idTag": "NOPE{self.sent}"}}]')

    async def receive(self) -> None:
        while True:
            answer = msgspec.json.decode(await self.ws.recv())
            self.answers[answer[1]] = answer
            self.slots.release()


async def test_a_charger_flooding_authorize_only_slows_itself(site: Site) -> None:
    """Hundreds of Authorize calls in flight from one charger: another charger's Heartbeats keep their pace
    (its socket is not read beyond its share), and the flooding charger still gets every answer."""
    calm, noisy = await _booted(site, "CALM"), await _booted(site, "NOISY")
    quiet = await _heartbeat_round_trips(calm, 50)
    flood = Flood(noisy, window=500)
    sending, receiving = asyncio.create_task(flood.send()), asyncio.create_task(flood.receive())
    await eventually(lambda: len(flood.answers) >= 50)  # the flood is under way
    busy = await _heartbeat_round_trips(calm, 100)
    flood.stopping.set()
    await sending
    await eventually(lambda: len(flood.answers) == flood.sent, 60)
    receiving.cancel()
    assert flood.sent >= 500
    assert all(a == [3, a[1], {"idTagInfo": {"status": "Invalid"}}] for a in flood.answers.values())
    assert _p99(busy) < HEARTBEAT_P99, f"Heartbeat p99 {_p99(busy) * 1000:.1f} ms during the flood, {_p99(quiet) * 1000:.1f} ms before"


async def test_real_time_authorization_is_budgeted_per_charger(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """A charger repeating Authorize for a token its eMSP authorizes in real time: the eMSP is asked within the
    charger's budget only, the rest is decided by the token's whitelist rule (ALLOWED: accepted), and that is
    logged as a summary, not a line per message. Another charger has a budget of its own."""
    from ocpp.v16 import call

    asked = lambda: [x for x in site.emsp.received["tokens"] if x.path == f"{UID}/authorize"]  # noqa: E731
    cp = await site.charger("CP1", "1.6")
    began = time.monotonic()
    for _ in range(30):
        assert (await cp.call(call.Authorize(id_tag=UID))).id_tag_info["status"] == "Accepted"
    elapsed, by_cp1 = time.monotonic() - began, len(asked())
    assert BURST <= by_cp1 <= BURST + RATE * elapsed + 1
    other = await site.charger("CP2", "1.6")
    assert (await other.call(call.Authorize(id_tag=UID))).id_tag_info["status"] == "Accepted"
    assert len(asked()) == by_cp1 + 1
    summaries = lambda: [r.getMessage() for r in caplog.records if "real-time authorizations not asked" in r.getMessage()]  # noqa: E731
    unasked = lambda: sum(int(line.rsplit("'CP1': ", 1)[1]) for line in summaries())  # noqa: E731
    await eventually(lambda: unasked() == 30 - by_cp1)
    assert len(summaries()) <= elapsed / INTERVAL + 1  # a line per interval, not per message
    assert not [r for r in caplog.records if "real-time authorization of" in r.getMessage()]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_frames_that_are_not_ocpp_get_call_errors_and_the_connection_stays(
    site: Site, version: str, caplog: pytest.LogCaptureFixture
) -> None:
    ws = await _booted(site, "RAW1", version)
    framework = "ProtocolError" if version == "1.6" else "RpcFrameworkError"
    fmt = "FormationViolation" if version == "1.6" else "FormatViolation"
    answered = {
        _nested(5000): [4, "-1", framework],
        f'[2, "n1", "DataTransfer", {{"vendorId": "x", "data": {_nested(5000)}}}]': [4, "-1", framework],
        '[2, 17, "Heartbeat", {}]': [4, "-1", framework],
        f'[2, "{"x" * 5000}", "Heartbeat", {{}}]': [4, "-1", framework],
        '[2, "", "Heartbeat", {}]': [4, "-1", framework],
        '["2", "s1", "Heartbeat", {}]': [4, "s1", framework],
        '[2, "a1", 7, {}]': [4, "a1", framework],
        "[]": [4, "-1", framework],
        '[3, "nobody-asked"]': [4, "-1", framework],
        '[2, "p1", "Heartbeat", []]': [4, "p1", fmt],
        '[2, "t1", "../../v16/schemas/Authorize", {"idTag": "X"}]': [4, "t1", "NotImplemented"],
        f'[2, "t2", "{"A" * 100_000}", {{}}]': [4, "t2", "NotImplemented"],
        '[2, "c1", "StatusNotification", ' + (
            '{"connectorId": 1000000000000, "errorCode": "NoError", "status": "Available"}]' if version == "1.6"
            else '{"timestamp": "2026-03-01T10:00:00Z", "connectorStatus": "Available", "evseId": 1000000000000, "connectorId": 1}]'
        ): [4, "c1", "PropertyConstraintViolation"],
    }
    for frame, expected in answered.items():
        assert (await _ask(ws, frame))[:3] == expected, frame[:80]
    await ws.send(b"\xff\xfe not even text")
    assert msgspec.json.decode(await asyncio.wait_for(ws.recv(), 5))[:3] == [4, "-1", framework]
    ignored = ['[3, "nobody-asked", {}]', '[4, "nobody-asked", "GenericError", "x", {}]',
               f'[4, "nobody-asked", {_nested(400)}, {_nested(400)}]']
    for frame in ignored:  # answers to calls the hub never made: dropped, the next call is answered
        await ws.send(frame)
    assert (await _ask(ws, '[2, "after", "Heartbeat", {}]'))[:2] == [3, "after"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_meter_values_no_meter_can_give_are_left_out(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """Readings that parse but mean nothing (not a number, infinite, beyond any meter) do not reach the
    arithmetic: the transaction goes on, and nothing fails on the hub."""
    ws = await _booted(site, "RAW1", "1.6")
    started = await _ask(ws, '[2, "s", "StartTransaction", {"connectorId": 1, "idTag": "X", "meterStart": 1000, '
                             '"timestamp": "2026-03-01T10:00:00Z"}]')
    tid = started[2]["transactionId"]
    for n, value in enumerate(["NaN", "Infinity", "-Infinity", "sNaN", "1e999999", "12E+30", "1000"]):
        frame = (f'[2, "m{n}", "MeterValues", {{"connectorId": 1, "transactionId": {tid}, "meterValue": [{{'
                 f'"timestamp": "2026-03-01T10:0{n}:30Z", "sampledValue": [{{"value": "{value}"}}]}}]}}]')
        assert await _ask(ws, frame) == [3, f"m{n}", {}]
    stopped = await _ask(ws, f'[2, "e", "StopTransaction", {{"meterStop": 1500, "timestamp": "2026-03-01T11:00:00Z", "transactionId": {tid}}}]')
    assert stopped == [3, "e", {}]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def _basic(identity: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()}


async def _try(site: Site, identity: str, password: str, source: str) -> int:
    """One handshake from a loopback source address: 101 when it connects, else the HTTP status."""
    try:
        ws = await connect(f"{site.ocpp_url}/{identity}", subprotocols=["ocpp1.6"], additional_headers=_basic(identity, password),  # type: ignore[list-item]
                           local_addr=(source, 0), open_timeout=10)
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code != 429 or int(refused.response.headers["Retry-After"]) >= 1
        return refused.response.status_code
    await ws.close()
    return 101


async def test_failed_handshakes_are_throttled_and_summarised(
    site: Site, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password-guessing loop gets 429 after a few tries, its passwords no longer checked; sources that
    have failed cannot take over; the charger with its password still gets in from its own address; identity
    scanning is throttled too; and the log has a summary line rather than one per failure, never a password."""
    caplog.set_level(logging.INFO, logger="protocols.ocpp.server")
    await site.hub.core.charging.add("CP9", CPO, "LOC1", PASSWORD)
    checked: list[float] = []
    check = charger_store.check_password

    def counted(stored: str, password: str) -> bool:
        checked.append(time.monotonic())
        return check(stored, password)

    monkeypatch.setattr(charger_store, "check_password", counted)
    guess = "guess-0123456789abcdef"
    began, statuses = time.monotonic(), []
    while time.monotonic() - began < 2.0:  # as fast as it goes, from one address
        statuses.append(await _try(site, "CP9", guess, "127.0.0.1"))
    elapsed = time.monotonic() - began
    assert statuses[:FAILURE_BURST] == [401] * FAILURE_BURST and statuses.count(429) > len(statuses) - FAILURE_BURST - elapsed * FAILURE_RATE - 2
    assert len(statuses) > 50 and len(checked) <= FAILURE_BURST + FAILURE_RATE * elapsed + 1
    # others join the attack: each new address gets one check at most, then 429; CP9 is under attack
    helpers = [f"127.0.0.{n}" for n in range(10, 20)]
    before = len(checked)
    assert [await _try(site, "CP9", guess, h) for h in helpers] == [401] * len(helpers)
    assert {await _try(site, "CP9", guess, h) for h in helpers} == {429}
    assert len(checked) == before + len(helpers)
    assert await _try(site, "CP9", PASSWORD, "127.0.0.1") == 429  # the guessing source, even with the right password
    assert await _try(site, "CP9", PASSWORD, "127.0.0.2") == 101  # the charger, from its own address
    # identity scanning: unknown identities are failures of the source
    scans = [await _try(site, f"NOPE{n}", guess, "127.0.0.3") for n in range(FAILURE_BURST + 5)]
    assert scans == [404] * FAILURE_BURST + [429] * 5
    refusals = statuses.count(401) + statuses.count(429) + 2 * len(helpers) + 1 + len(scans)
    await asyncio.sleep(INTERVAL)  # the last interval's summary
    lasted = time.monotonic() - began
    summaries = [r for r in caplog.records if r.getMessage().startswith("refused OCPP handshakes")]
    lines = [r for r in caplog.records if r.name == "protocols.ocpp.server" and "refused" in r.getMessage()]
    # a summary per interval, and CP9's first refusal in each at INFO, for hundreds of refusals
    assert summaries and len(lines) <= 2 * (lasted / INTERVAL + 1) and refusals > 10 * len(lines)
    assert "'CP9'" in summaries[0].getMessage() and "'127.0.0.1'" in summaries[0].getMessage()
    assert not [r for r in caplog.records if guess in r.getMessage() or PASSWORD in r.getMessage()]


def test_failure_counts_stay_bounded_whoever_knocks() -> None:
    """An attacker with ever new addresses or identities makes the hub forget the oldest, never grow."""
    failures = Budgets(rate=0.1, burst=2, cap=1000)
    for n in range(50_000):
        failures[f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}"].take()
    assert len(failures) <= 1000
    recent = failures.get("10.0.195.79")  # the last one: still counted
    assert recent is not None and not recent.full
