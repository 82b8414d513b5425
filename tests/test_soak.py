"""A bounded soak of `hub serve` as a real process: a thousand idle HTTP connections and a thousand idle OCPP
sockets held open, one charger flooding Authorize for tokens of an eMSP that answers in 2 s, while a healthy
charger's Heartbeat round trips and a healthy eMSP's pushes are measured. Afterwards nobody healthy is OFFLINE
and real-time authorization works again (the outbound budget of the slow eMSP is whole again)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import msgspec
from websockets.asyncio.client import connect

from connectors import bilateral
from hub import model
from hub.app import Hub
from hub.model import PartyId
from hub.settings import Settings
from hub.store import chargers as charger_store
from hub.store.migrate import upgrade
from protocols.ocpi.v221 import mapping as m
from protocols.ocpi.v221 import wire
from tests import ocpi_data as d
from tests.test_cli import HUB, running
from tests.test_processes import process_env

GRN, SLOW, HEALTHY = PartyId("NL", "GRN"), PartyId("NL", "SLO"), PartyId("NL", "OKE")
IDLE_HTTP, IDLE_OCPP, TOKENS, SECONDS = 1000, 1000, 300, 25.0


def _token(n: int) -> str:
    return f"SLOW{n:06d}"


async def _prepare(env: dict[str, str]) -> dict[str, dict[str, str]]:
    """The hosted CPO with its site and chargers, the slow eMSP's tokens (asked in real time), two invitations."""
    hub = Hub(Settings.from_env(env))
    await hub.start(serve=False)
    try:
        core = hub.core
        await core.parties.ensure_local(GRN, "CPO", "GreenCharge")
        await core.objects.put_location(None, model.Location(
            country_code="NL", party_id="GRN", id="LOC1", publish=True, address="Stationsplein 1", city="Utrecht", country="NLD",
            coordinates=model.GeoPoint(Decimal("52.089444"), Decimal("5.110278")), time_zone="Europe/Amsterdam",
            last_updated=datetime.now(timezone.utc).replace(microsecond=0)))
        template = msgspec.json.encode(charger_store.ConnectorTemplate()).decode()
        now = int(time.time() * 1e6)
        identities = ["FLOOD-1", "OK-1", *(f"IDLE-{n:04d}" for n in range(IDLE_OCPP))]
        await core.db.write(lambda tx: tx.execute(charger_store.C.insert(), [
            {"identity": i, "country_code": "NL", "party_id": "GRN", "location_id": "LOC1", "connector": template, "created_us": now}
            for i in identities]))
        invites = {str(p): await bilateral.invite(hub.ocpi, p, "EMSP") for p in (SLOW, HEALTHY)}
        for n in range(TOKENS):
            token = m.token_to_canonical(wire.decode(msgspec.json.encode(d.token("NL", "SLO", _token(n))), wire.Token))
            await core.objects.put_token(None, token)
        return invites
    finally:
        await hub.stop()


def _flood(ocpp: str, seconds: float) -> None:
    """FLOOD-1 in a process of its own: Authorize for the slow eMSP's tokens, as many in flight as the hub takes."""

    async def run() -> None:
        async with connect(f"{ocpp}/FLOOD-1", subprotocols=["ocpp1.6"], open_timeout=30, ping_interval=None) as ws:  # type: ignore[list-item]
            await ws.send('[2,"b","BootNotification",{"chargePointVendor":"x","chargePointModel":"y"}]')
            await ws.recv()
            stop = time.monotonic() + seconds

            async def read() -> None:
                async for _ in ws:
                    pass

            reader = asyncio.get_running_loop().create_task(read())
            n = 0
            while time.monotonic() < stop:
                n += 1
                await ws.send(f'[2,"f{n}","Authorize",{{"idTag":"{_token(n % TOKENS)}"}}]')  # blocks when the hub stops reading
            reader.cancel()

    asyncio.run(run())


async def _settled(requests: list) -> int:
    """How many requests arrived, once none has for a second (at most 10 s)."""
    count, quiet_since, deadline = len(requests), time.monotonic(), time.monotonic() + 10
    while time.monotonic() - quiet_since < 1.0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        if len(requests) != count:
            count, quiet_since = len(requests), time.monotonic()
    return count


async def _hold_idle_http(port: int, stop: asyncio.Event) -> None:
    """IDLE_HTTP connections that send half a request and wait; reopened as the hub drops them."""
    conns: list[asyncio.StreamWriter] = []
    while not stop.is_set():
        conns = [w for w in conns if not w.is_closing()]
        for _ in range(IDLE_HTTP - len(conns)):
            with contextlib.suppress(OSError):
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                conns.append(w)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    for w in conns:
        w.close()


async def _idle_charger(ocpp: str, identity: str, stop: asyncio.Event) -> None:
    async with connect(f"{ocpp}/{identity}", subprotocols=["ocpp1.6"], open_timeout=60, ping_interval=None) as ws:  # type: ignore[list-item]
        await ws.send('[2,"b","BootNotification",{"chargePointVendor":"x","chargePointModel":"y"}]')
        await ws.recv()
        await stop.wait()


def _p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99)] if values else float("inf")


async def test_soak(database_url: str, tmp_path: Path, make_party: Any) -> None:
    upgrade(database_url)
    env = {**process_env(database_url, tmp_path), "HUB_OCPP_PING_INTERVAL": "0", "HUB_REALTIME_AUTH_TIMEOUT": "3"}
    invites = await _prepare(env)
    url, ocpp = env["HUB_PUBLIC_URL"], f"ws://127.0.0.1:{env['HUB_OCPP_PORT']}/ocpp"
    with running(HUB + ["serve", "--no-migrate"], env, tmp_path / "hub.log"):
        slow, healthy = await make_party("NL", "SLO", "EMSP"), await make_party("NL", "OKE", "EMSP")
        for party in (slow, healthy):
            await party.register(invites[party.party]["versions_url"], invites[party.party]["token"])
        for n in range(TOKENS):
            slow.own("tokens", f"NL/SLO/{_token(n)}", msgspec.json.encode(d.token("NL", "SLO", _token(n))))
        slow.delay = 2.0

        stop = asyncio.Event()
        idle_http = asyncio.get_running_loop().create_task(_hold_idle_http(int(env["HUB_PORT"]), stop))
        idle = [asyncio.get_running_loop().create_task(_idle_charger(ocpp, f"IDLE-{n:04d}", stop)) for n in range(IDLE_OCPP)]
        flood = multiprocessing.get_context("spawn").Process(target=_flood, args=(ocpp, SECONDS))
        heartbeats, health, pushes = [], [], []
        async with connect(f"{ocpp}/OK-1", subprotocols=["ocpp1.6"], ping_interval=None) as ws:  # type: ignore[list-item]
            await ws.send('[2,"b","BootNotification",{"chargePointVendor":"x","chargePointModel":"y"}]')
            await ws.recv()
            await asyncio.sleep(3)  # the idle chargers connect, the idle HTTP connections open
            flood.start()
            await asyncio.sleep(2)
            started, n = time.monotonic(), 0
            async with httpx.AsyncClient() as http:
                while time.monotonic() - started < SECONDS - 4:
                    n += 1
                    t0 = time.perf_counter()
                    await ws.send(f'[2,"h{n}","Heartbeat",{{}}]')
                    await ws.recv()
                    heartbeats.append(time.perf_counter() - t0)
                    if n % 40 == 0:  # every 2 s: a status change that both eMSPs must hear, and the hub's health
                        status = "Charging" if n % 80 else "Available"
                        sent = time.monotonic()
                        await ws.send(f'[2,"s{n}","StatusNotification",{{"connectorId":1,"errorCode":"NoError","status":"{status}"}}]')
                        await ws.recv()
                        pushes.append((sent, "CHARGING" if status == "Charging" else "AVAILABLE"))
                        t0 = time.perf_counter()
                        assert (await http.get(f"{url}/health", timeout=5)).status_code == 200
                        health.append(time.perf_counter() - t0)
                    await asyncio.sleep(0.05)
            flood.join(30)
            stop.set()
            await asyncio.gather(idle_http, *idle, return_exceptions=True)

            # the healthy eMSP heard every status change, in time
            received = [(x.at, x.body.get("status")) for x in healthy.received["locations"] if x.path == "NL/GRN/LOC1/OK-1-1"]
            delays = [next((at - sent for at, got in received if at >= sent and got == status), float("inf")) for sent, status in pushes]
            # afterwards: nobody healthy is OFFLINE, and real-time authorization reaches the slow eMSP again
            slow.delay = 0.0
            asked = await _settled(slow.received["tokens"])  # the flood's last Authorizes in the hub's hands go first
            await ws.send(f'[2,"a","Authorize",{{"idTag":"{_token(7)}"}}]')
            answer = msgspec.json.decode(await ws.recv())
        assert answer[2]["idTagInfo"]["status"] == "Accepted" and len(slow.received["tokens"]) == asked + 1
        async with httpx.AsyncClient() as http:
            infos = (await http.get(f"{url}/ocpi/2.2.1/hubclientinfo", headers=healthy.auth())).json()["data"]
        statuses = {f"{c['country_code']}/{c['party_id']}": c["status"] for c in infos}
        assert statuses["NL/SLO"] == "CONNECTED" and statuses["NL/OKE"] == "CONNECTED", statuses
        print(f"\nsoak: {len(heartbeats)} heartbeats p50 {sorted(heartbeats)[len(heartbeats) // 2] * 1e3:.1f} ms "
              f"p99 {_p99(heartbeats) * 1e3:.1f} ms; /health max {max(health) * 1e3:.0f} ms; {len(pushes)} status changes, "
              f"at the healthy eMSP within {max(delays) * 1e3:.0f} ms")
        assert _p99(heartbeats) < 0.050 and max(health) < 1.0 and max(delays) < 2.0
