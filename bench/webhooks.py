"""Webhook delivery: signed deliveries per second, the latency from an OCPP StopTransaction to its
`charge_transaction.completed` webhook, and the REST charges list beside the OCPI sessions list.

    .venv/bin/python -m bench.webhooks [--changes 20000] [--endpoints 1,100] [--sessions 200] [--backends sqlite,postgresql]

For each backend, on a new database with the hub as `hub serve` in its own process:
1. backlog: with the hub stopped, `--changes` EVSE status changes are made (each one event per endpoint subscribed to
   charge_point.status_changed, of 1 or 100 endpoints of one CPO's credential); the hub starts and drains them to a
   loopback receiver in a process of its own (it answers 200 at once) -> signed deliveries/s;
2. latency: 20 simulated OCPP 1.6 chargers (a driver each) run `--sessions` sessions; p50/p99 from sending StopTransaction to the
   receiver holding the charge_transaction.completed event (one endpoint);
3. lists: GET /api/v1/charges?perPage=100 (the CPO's credential) and GET /ocpi/2.2.1/sender/sessions?limit=100 (the
   eMSP's OCPI platform) on those sessions, 200 requests each, one at a time -> mean and p99 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from decimal import Decimal

import httpx

from bench import hubproc
from hub.model import PartyId

CPO, EMSP = PartyId("NL", "BEN"), PartyId("NL", "EMP")
OCPI_TOKEN = "bench-emsp-token"  # noqa: S105
CHARGERS = 20  # each with a driver of its own: one token charging at two chargers at once is refused
EVSES = 50


def _receive(port: int, expected: int, timeout: float, ready: multiprocessing.Event, out: multiprocessing.Queue) -> None:
    """Answers every delivery 200 until `expected` have come; puts (count, first, last receipt time)."""
    from fixtures.webhook_receiver import WebhookReceiver

    async def run() -> None:
        receiver = await WebhookReceiver().start(port)
        ready.set()
        deadline = time.monotonic() + timeout
        while len(receiver.accepted) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        got = receiver.accepted
        out.put((len(got), got[0].at if got else 0.0, got[-1].at if got else 0.0))
        await receiver.aclose()

    asyncio.run(run())


async def _setup(url: str) -> tuple[str, str]:
    """The CPO (a Location of EVSES EVSEs, a tariff), a hosted eMSP's token, an OCPI platform for the eMSP (so
    that the OCPI sessions list can be read), and a credential for the CPO: (client id, secret)."""
    from hub import model
    from hub.app import Hub
    from hub.settings import Settings
    from hub.store import platforms as store

    hub = Hub(Settings(database_url=url, log_level="WARNING", secret_key=hubproc.SECRET_KEY))
    await hub.start(serve=False)
    try:
        core = hub.core
        await core.parties.ensure_local(CPO, "CPO", "Bench CPO")

        def op(tx) -> None:  # noqa: ANN001
            pid = store.create_platform(tx, name="bench eMSP", token_in=OCPI_TOKEN, token_kind="C", status="CONNECTED")
            store.set_parties(tx, pid, [(EMSP, "EMSP", "bench eMSP", None)])

        await core.db.write(op)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        await core.objects.put_tariff(None, model.Tariff(country_code="NL", party_id="BEN", id="AC", currency="EUR", last_updated=now, elements=[
            model.TariffElement(price_components=[model.PriceComponent("ENERGY", Decimal("0.30"), 1)])]))
        evses = [model.Evse(uid=f"E{n}", status="AVAILABLE", last_updated=now, connectors=[model.Connector(
            id="1", standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE", max_voltage=230, max_amperage=32,
            last_updated=now)]) for n in range(EVSES)]
        await core.objects.put_location(None, model.Location(
            country_code="NL", party_id="BEN", id="SITE", publish=True, address="Benchstraat 1", city="Utrecht", country="NLD",
            coordinates=model.GeoPoint(Decimal("52.09"), Decimal("5.11")), time_zone="Europe/Amsterdam", evses=evses, last_updated=now))
        from hub.store.chargers import ConnectorTemplate

        for n in range(CHARGERS):
            await core.objects.put_token(None, model.Token(country_code="NL", party_id="EMP", uid=_uid(n), type="RFID", contract_id=f"NL-EMP-C{n:08d}",
                                                           issuer="bench", valid=True, whitelist="ALWAYS", last_updated=now))
            await core.charging.add(f"CP{n}", CPO, "SITE", None, ConnectorTemplate(tariff_ids=["AC"]))
        return await core.consumers.create(CPO, "all:delete")
    finally:
        await hub.stop()


async def _changes(url: str, count: int) -> None:
    """`count` EVSE status changes, made by a one-off process as the CLI would (the webhook events with them)."""
    from hub.app import Hub
    from hub.settings import Settings

    hub = Hub(Settings(database_url=url, log_level="WARNING", secret_key=hubproc.SECRET_KEY))
    await hub.start(serve=False)
    try:
        statuses = ["CHARGING", "AVAILABLE"]
        base = datetime.now(timezone.utc)
        pending = []
        for n in range(count):
            when = datetime.fromtimestamp(base.timestamp() + n / 1000 + 1, tz=timezone.utc)
            pending.append(hub.core.objects.patch_location(None, CPO, "SITE", {"status": statuses[(n // EVSES) % 2], "last_updated": when},
                                                           evse_uid=f"E{n % EVSES}"))
            if len(pending) == EVSES:  # one change per EVSE at a time: each EVSE's changes in order
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await hub.stop()


@asynccontextmanager
async def _api(port: int, client_id: str, secret: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        r = await http.post("/api/v1/auth/token", json={"clientId": client_id, "clientSecret": secret})
        http.headers["Authorization"] = f"Bearer {r.json()['accessToken']}"
        yield http


async def _endpoints(http: httpx.AsyncClient, url: str, count: int, types: list[str]) -> list[int]:
    ids = []
    for n in range(count):
        r = await http.post("/api/v1/webhook-endpoints", json={"url": f"{url}/{n}", "eventTypes": types})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def backlog(url: str, endpoints: int, changes: int, credential: tuple[str, str]) -> float:
    """Deliveries/s draining `changes` x `endpoints` events queued while the hub was down."""
    port, sink = hubproc.free_port(), hubproc.free_port()
    proc = hubproc.serve(url, port, HUB_WEBHOOK_ALLOW_PRIVATE="true")

    async def subscribe() -> list[int]:
        async with _api(port, *credential) as http:
            return await _endpoints(http, f"http://127.0.0.1:{sink}/hooks", endpoints, ["charge_point.status_changed"])

    try:
        ids = asyncio.run(subscribe())
    finally:
        proc.terminate()
        proc.wait(30)
    asyncio.run(_changes(url, changes))
    expected = changes * endpoints
    ready, out = multiprocessing.Event(), multiprocessing.Queue()
    receiver = multiprocessing.Process(target=_receive, args=(sink, expected, 600, ready, out))
    receiver.start()
    ready.wait(30)
    proc = hubproc.serve(url, port, HUB_WEBHOOK_ALLOW_PRIVATE="true")
    try:
        got, first, last = out.get(timeout=660)
    finally:
        receiver.join(10)

        async def unsubscribe() -> None:
            async with _api(port, *credential) as http:
                for eid in ids:
                    await http.delete(f"/api/v1/webhook-endpoints/{eid}")

        asyncio.run(unsubscribe())
        proc.terminate()
        proc.wait(30)
    if got < expected:
        print(f"  only {got} of {expected} deliveries arrived")
    return got / max(last - first, 1e-9)


async def _latency(port: int, ocpp_port: int, sessions: int, credential: tuple[str, str]) -> list[float]:
    from ocpp.v16 import call

    from fixtures.webhook_receiver import WebhookReceiver
    from protocols.ocpp.simulator import connect_charger

    receiver = await WebhookReceiver().start()
    async with _api(port, *credential) as http:
        await _endpoints(http, receiver.url, 1, ["charge_transaction.completed"])
    stops: dict[str, float] = {}
    seen = 0
    latencies: list[float] = []

    async def charger(n: int, runs: int) -> None:
        cp, ws, reader = await connect_charger(f"ws://127.0.0.1:{ocpp_port}/ocpp", f"CP{n}", "1.6")
        await cp.boot()
        for _ in range(runs):
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag=_uid(n), meter_start=cp.meter_wh, timestamp=_now()))
            await asyncio.sleep(0.2)
            cp.meter_wh += 1000
            stops[f"NLBEN-CP{n}-1"] = time.monotonic()
            await cp.call(call.StopTransaction(meter_stop=cp.meter_wh, timestamp=_now(), transaction_id=started.transaction_id, id_tag=_uid(n)))
            while f"NLBEN-CP{n}-1" in stops:  # its webhook has come
                await asyncio.sleep(0.002)
        reader.cancel()
        await ws.close()

    async def watch() -> None:
        nonlocal seen
        import msgspec

        while True:
            for got in receiver.accepted[seen:]:
                event = msgspec.json.decode(got.body)
                sent = stops.pop(event["data"]["chargePointId"], None)
                if sent is not None:
                    latencies.append((got.at - sent) * 1000)
            seen = len(receiver.accepted)
            await asyncio.sleep(0.001)

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        await asyncio.gather(*(charger(n, sessions // CHARGERS) for n in range(CHARGERS)))
    finally:
        watcher.cancel()
        await receiver.aclose()
    return latencies


def _uid(n: int) -> str:
    return f"BENCH{n:03d}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


async def _lists(port: int, credential: tuple[str, str]) -> tuple[list[float], list[float], int, int]:
    async with _api(port, *credential) as http:
        return await _compare(http)


async def _compare(http: httpx.AsyncClient) -> tuple[list[float], list[float], int, int]:
    ocpi = {"Authorization": "Token " + base64.b64encode(OCPI_TOKEN.encode()).decode(), "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "HUB", "OCPI-from-country-code": "NL", "OCPI-from-party-id": "EMP"}
    rest, sessions = [], []
    rest_items = ocpi_items = 0
    for _ in range(200):
        t = time.perf_counter()
        r = await http.get("/api/v1/charges", params={"perPage": 100})
        rest.append((time.perf_counter() - t) * 1000)
        rest_items = len(r.json()["data"])
        t = time.perf_counter()
        r = await http.get("/ocpi/2.2.1/sender/sessions", params={"limit": 100, "date_from": "2020-01-01T00:00:00Z"}, headers=ocpi)
        sessions.append((time.perf_counter() - t) * 1000)
        assert r.json().get("status_code") == 1000, r.text
        ocpi_items = len(r.json()["data"])
    return rest, sessions, rest_items, ocpi_items


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--endpoints", default="1,100")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with hubproc.database(backend) as url:
            credential = asyncio.run(_setup(url))
            for endpoints in map(int, args.endpoints.split(",")):
                changes = max(args.changes // endpoints, 200)
                rate = backlog(url, endpoints, changes, credential)
                print(f"{backend}: {endpoints} endpoint(s), backlog of {changes * endpoints} events: {rate:,.0f} signed deliveries/s")
            port, ocpp_port = hubproc.free_port(), hubproc.free_port()
            proc = hubproc.serve(url, port, HUB_WEBHOOK_ALLOW_PRIVATE="true", HUB_OCPP_PORT=str(ocpp_port), HUB_SESSION_UPDATE_INTERVAL="0")
            try:
                latencies = asyncio.run(_latency(port, ocpp_port, args.sessions, credential))
                print(f"{backend}: StopTransaction -> charge_transaction.completed webhook, {len(latencies)} sessions: "
                      f"p50 {_p(latencies, 0.5):.1f} ms, p99 {_p(latencies, 0.99):.1f} ms")
                rest, ocpi, n_rest, n_ocpi = asyncio.run(_lists(port, credential))
                print(f"{backend}: GET /api/v1/charges?perPage=100 ({n_rest} items): mean {statistics.mean(rest):.1f} ms, p99 {_p(rest, 0.99):.1f} ms; "
                      f"GET /ocpi/2.2.1/sender/sessions?limit=100 ({n_ocpi} items): mean {statistics.mean(ocpi):.1f} ms, p99 {_p(ocpi, 0.99):.1f} ms "
                      f"-> ratio {statistics.mean(rest) / statistics.mean(ocpi):.2f}")
            finally:
                proc.terminate()
                proc.wait(30)


if __name__ == "__main__":
    main()
