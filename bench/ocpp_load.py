"""OCPP load on `hub serve` with persistence on: throughput, latency, memory per connection.

    .venv/bin/python -m bench.ocpp_load [--chargers 1000] [--seconds 20] [--versions 1.6,2.0.1] [--backends sqlite,postgresql] [--idle 10000]

The hub runs as `hub serve` in its own process on a new database of each backend (a temporary SQLite file;
a PostgreSQL database created for the run, see bench/hubproc.database). The load generator runs in other processes: raw websockets clients with pre-built frames, so
it stays cheap. Each simulated charger boots, then repeats a cycle of 20 messages and waits for every
answer: Authorize, StartTransaction (2.0.1: TransactionEvent Started), a StatusNotification, 12 MeterValues
(Updated), StopTransaction (Ended, which prices the CDR), a StatusNotification and 3 Heartbeats. 16 of the
20 write to the store (each status change is a Location write; each meter reading updates the
transaction). Three measurements per backend and version:

1. saturation: every charger sends as fast as it is answered -> msg/s;
2. fixed rate: 1,000 msg/s spread over the chargers -> p50/p99 latency;
3. idle connections: --idle chargers connected and booted -> the hub's RSS per connection.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import time
from datetime import datetime, timezone
from pathlib import Path

import msgspec

from bench import hubproc
from fixtures import generate
from hub.model import PartyId

CPO = PartyId("NL", "BEN")
def token_uid(n: int) -> str:
    """Each charger's driver has a token of their own (one token charging at two chargers is ConcurrentTx)."""
    return f"BENCHTOKEN{n:05d}"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- set-up ----------------------------------------------------------------------------------------------


async def _prepare(url: str, count: int, tokens: int) -> None:
    """Locations, chargers (no password: the handshake is not what is measured) and a whitelisted token."""
    from hub.app import Hub
    from hub.settings import Settings
    from hub.store import chargers as store
    from hub.store.chargers import ConnectorTemplate

    hub = Hub(Settings(database_url=url, log_level="WARNING", secret_key=hubproc.SECRET_KEY))
    await hub.start(serve=False)
    try:
        core = hub.core
        await core.parties.ensure_local(CPO, "CPO", "bench CPO")
        for tariff in generate.tariffs(CPO):
            await core.objects.put_tariff(None, tariff)
        emsp = PartyId("NL", "BEM")
        await core.parties.ensure_local(emsp, "EMSP", "bench eMSP")
        token = generate.token(emsp, 0, whitelist="ALWAYS")
        for n in range(tokens):
            await core.objects.put_token(None, msgspec.structs.replace(token, uid=token_uid(n)))
        rng = random.Random(5)
        template = msgspec.json.encode(ConnectorTemplate(tariff_ids=["AC1"])).decode()
        for start in range(0, count, 500):
            batch = range(start, min(count, start + 500))
            await asyncio.gather(*(core.objects.put_location(None, generate.location(rng, CPO, n, evses=(0, 0), tariff_ids=None)) for n in batch))

            def op(tx, batch=batch) -> None:  # noqa: ANN001
                now = int(time.time() * 1e6)
                tx.execute(store.C.insert(), [{"identity": f"B{n}", "country_code": CPO.country_code, "party_id": CPO.party_id,
                                               "location_id": f"LOC{n:06d}", "connector": template, "created_us": now} for n in batch])

            await core.db.write(op)
    finally:
        await hub.stop()


def _rss_mb(pid: int) -> float:
    """The RSS of a process and its children (granian serves the app from a worker process)."""
    total = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1]) / 1024
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        total += _rss_mb(int(child))
    return total


# --- the load ---------------------------------------------------------------------------------------------


class Charger:
    """One simulated charger speaking raw OCPP-J over websockets."""

    def __init__(self, n: int, version: str) -> None:
        self.identity = f"B{n}"
        self.version = version
        self.seq = 0
        self.meter = 100_000 + n
        self.tx: str | None = None
        self.status = 0
        self.run = os.urandom(3).hex()  # 2.0.1 transaction ids are the station's: unique across runs
        self.token = token_uid(n)
        self.tx_seq = 0  # 2.0.1 seqNo: numbers the events of one transaction
        self.last_error = ""

    def _frame(self, action: str, payload: str) -> tuple[str, str]:
        self.seq += 1
        uid = str(self.seq)
        return uid, f'[2,"{uid}","{action}",{payload}]'

    def boot(self) -> tuple[str, str]:
        if self.version == "1.6":
            return self._frame("BootNotification", '{"chargePointVendor":"Bench","chargePointModel":"B1"}')
        return self._frame("BootNotification", '{"chargingStation":{"model":"B1","vendorName":"Bench"},"reason":"PowerUp"}')

    def cycle(self) -> list[str]:
        """A session as a charger lives it: the driver badges, the car charges (meter values), the
        connector's status changes twice, heartbeats in between."""
        return ["auth", "start", "status", *["meter"] * 12, "stop", "status", *["heartbeat"] * 3]

    def message(self, step: str) -> tuple[str, str]:
        v16 = self.version == "1.6"
        if step in ("meter", "stop") and self.tx is None:
            step = "heartbeat"  # a charger that joined mid-cycle: nothing to meter yet
        if step == "heartbeat":
            return self._frame("Heartbeat", "{}")
        if step == "status":
            self.status += 1
            if v16:
                state = "Available" if self.status % 2 else "Unavailable"
                return self._frame("StatusNotification", f'{{"connectorId":1,"errorCode":"NoError","status":"{state}","timestamp":"{_now()}"}}')
            state = "Available" if self.status % 2 else "Unavailable"
            return self._frame("StatusNotification", f'{{"timestamp":"{_now()}","connectorStatus":"{state}","evseId":1,"connectorId":1}}')
        if step == "auth":
            if v16:
                return self._frame("Authorize", f'{{"idTag":"{self.token}"}}')
            return self._frame("Authorize", f'{{"idToken":{{"idToken":"{self.token}","type":"ISO14443"}}}}')
        if step == "start":
            if v16:
                return self._frame("StartTransaction", f'{{"connectorId":1,"idTag":"{self.token}","meterStart":{self.meter},"timestamp":"{_now()}"}}')
            self.tx = f"{self.identity}-{self.run}-{self.seq}"
            self.tx_seq = 0
            return self._frame("TransactionEvent", self._event("Started", "Authorized", id_token=True))
        if step == "meter":
            self.meter += 250
            if v16:
                return self._frame("MeterValues", f'{{"connectorId":1,"transactionId":{self.tx},"meterValue":[{{"timestamp":"{_now()}","sampledValue":'
                                                  f'[{{"value":"{self.meter}","measurand":"Energy.Active.Import.Register","unit":"Wh"}},'
                                                  f'{{"value":"11000","measurand":"Power.Active.Import","unit":"W"}}]}}]}}')
            return self._frame("TransactionEvent", self._event("Updated", "MeterValuePeriodic"))
        # stop
        self.meter += 250
        tx, self.tx = self.tx, None
        if v16:
            return self._frame("StopTransaction", f'{{"meterStop":{self.meter},"timestamp":"{_now()}","transactionId":{tx},"reason":"Local"}}')
        self.tx = tx
        frame = self._frame("TransactionEvent", self._event("Ended", "StopAuthorized", stopped=True))
        self.tx = None
        return frame

    def _event(self, kind: str, trigger: str, id_token: bool = False, stopped: bool = False) -> str:
        info = f'"transactionId":"{self.tx}"' + (',"stoppedReason":"Local"' if stopped else "")
        token = f',"idToken":{{"idToken":"{self.token}","type":"ISO14443"}}' if id_token else ""
        self.tx_seq += 1
        meter = (f',"meterValue":[{{"timestamp":"{_now()}","sampledValue":[{{"value":{self.meter},'
                 f'"measurand":"Energy.Active.Import.Register","unitOfMeasure":{{"unit":"Wh"}}}}]}}]')
        return (f'{{"eventType":"{kind}","timestamp":"{_now()}","triggerReason":"{trigger}","seqNo":{self.tx_seq - 1},'
                f'"transactionInfo":{{{info}}},"evse":{{"id":1,"connectorId":1}}{token}{meter}}}')

    def answered(self, step: str, raw: str) -> bool:
        msg = msgspec.json.decode(raw)
        if msg[0] != 3:
            self.last_error = f"{step}: {msg[2]} {msg[3]}"
            return False
        if step == "start" and self.version == "1.6":
            self.tx = str(msg[2]["transactionId"])
        return True


async def _drive(n: int, version: str, port: int, stop_at: float, interval: float, result: dict, start_at: float) -> None:
    from websockets.asyncio.client import connect

    charger = Charger(n, version)
    async with connect(f"ws://127.0.0.1:{port}/ocpp/{charger.identity}", subprotocols=[f"ocpp{version}"], open_timeout=60,  # type: ignore[list-item]
                       ping_interval=None, compression=None, max_queue=4) as ws:
        _, frame = charger.boot()
        await ws.send(frame)
        await ws.recv()
        result["connected"] += 1
        await asyncio.sleep(max(0.0, start_at - time.time()) + random.uniform(0, interval or 0.01))
        steps = charger.cycle()
        i = random.randrange(len(steps))  # chargers are not in step with each other
        next_at = time.perf_counter()
        while time.time() < stop_at:
            step = steps[i % len(steps)]
            i += 1
            _, frame = charger.message(step)
            t0 = time.perf_counter()
            await ws.send(frame)
            ok = charger.answered(step, await ws.recv())
            t1 = time.perf_counter()
            if time.time() >= start_at:
                result["lat"].append(t1 - t0)
                if not ok:
                    result["errors"] += 1
                    result["samples"].add(charger.last_error)
            if interval:
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


def _loadgen(first: int, count: int, version: str, port: int, seconds: float, rate: float, warmup: float, queue: multiprocessing.Queue) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = {"lat": [], "errors": 0, "connected": 0, "samples": set()}
    interval = count / rate if rate else 0.0

    async def main() -> None:
        start_at = time.time() + warmup + count / 2000  # time for everyone to connect and boot
        stop_at = start_at + seconds
        await asyncio.gather(*(_drive(n, version, port, stop_at, interval, result, start_at) for n in range(first, first + count)))

    asyncio.run(main())
    queue.put(result)


def _run_load(version: str, port: int, chargers: int, seconds: float, rate: float, procs: int = 1) -> dict:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    per = chargers // procs
    workers = [multiprocessing.Process(target=_loadgen, args=(i * per, per, version, port, seconds, rate / procs if rate else 0, 3.0, queue))
               for i in range(procs)]
    for w in workers:
        w.start()
    results = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    lat = sorted(x for r in results for x in r["lat"])
    n = len(lat)
    return {"msgs": n, "rate": n / seconds, "p50": lat[n // 2] * 1000 if n else 0, "p99": lat[int(n * 0.99)] * 1000 if n else 0,
            "errors": sum(r["errors"] for r in results), "connected": sum(r["connected"] for r in results),
            "samples": set().union(*(r["samples"] for r in results))}


async def _hold(version: str, port: int, count: int, ready: multiprocessing.Event, done: multiprocessing.Event) -> None:
    from websockets.asyncio.client import connect

    sockets = []
    for start in range(0, count, 200):
        async def one(n: int) -> None:
            charger = Charger(n, version)
            ws = await connect(f"ws://127.0.0.1:{port}/ocpp/{charger.identity}", subprotocols=[f"ocpp{version}"], open_timeout=120,  # type: ignore[list-item]
                               ping_interval=None, compression=None, max_queue=4)
            await ws.send(charger.boot()[1])
            await ws.recv()
            sockets.append(ws)

        await asyncio.gather(*(one(n) for n in range(start, min(count, start + 200))))
    ready.set()
    while not done.is_set():
        await asyncio.sleep(0.2)
    for ws in sockets:
        await ws.close()


def _holder(version: str, port: int, count: int, ready: multiprocessing.Event, done: multiprocessing.Event) -> None:
    _raise_file_limit()
    asyncio.run(_hold(version, port, count, ready, done))


def _raise_file_limit() -> None:
    """Thousands of sockets: as many descriptors as the hard limit allows (the hub inherits it)."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def measure(url: str, version: str, args: argparse.Namespace) -> tuple[dict, dict, dict]:
    """Saturated, paced and idle runs of one OCPP version against a hub on `url`."""
    asyncio.run(_prepare(url, max(args.chargers, args.idle), args.chargers))
    http_port, ocpp_port = hubproc.free_port(), hubproc.free_port()
    hub = hubproc.serve(url, http_port, HUB_OCPP_PORT=str(ocpp_port))
    try:
        saturated = _run_load(version, ocpp_port, args.chargers, args.seconds, 0, args.loadgen_procs)
        time.sleep(3)  # let the hub finish what the saturated run left queued
        paced = _run_load(version, ocpp_port, args.chargers, args.seconds, 1000, args.loadgen_procs)
        idle = {}
        if args.idle:
            ready, done = multiprocessing.Event(), multiprocessing.Event()
            holder = multiprocessing.Process(target=_holder, args=(version, ocpp_port, args.idle, ready, done))
            before = _rss_mb(hub.pid)
            holder.start()
            ready.wait(600)
            time.sleep(2)
            idle = {"rss": _rss_mb(hub.pid), "before": before}
            done.set()
            holder.join()
        return saturated, paced, idle
    finally:
        hub.terminate()
        hub.wait(20)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chargers", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--versions", default="1.6,2.0.1")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--idle", type=int, default=10_000, help="connections for the memory measurement (0: skip)")
    p.add_argument("--loadgen-procs", type=int, default=1)
    args = p.parse_args()
    _raise_file_limit()
    rows = []
    for backend in args.backends.split(","):
        for version in args.versions.split(","):
            with hubproc.database(backend) as url:
                rows.append((backend, version, *measure(url, version, args)))
    print(f"\nOCPP load on `hub serve` (persistence on), {args.chargers} chargers, {args.seconds:g} s per run")
    print(f"{'backend':<11}{'OCPP':<7}{'saturated msg/s':>16}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7} |{'at 1,000 msg/s: p50':>20}{'p99 ms':>8} |"
          f"{'idle conns':>11}{'hub RSS MB':>11}{'KB/conn':>8}")
    for backend, version, s, r, idle in rows:
        per = (idle["rss"] - idle["before"]) * 1024 / args.idle if idle else 0
        print(f"{backend:<11}{version:<7}{s['rate']:>16.0f}{s['p50']:>8.1f}{s['p99']:>8.1f}{s['errors'] + r['errors']:>7} |"
              f"{r['p50']:>20.1f}{r['p99']:>8.1f} |{args.idle if idle else 0:>11}{idle.get('rss', 0):>11.0f}{per:>8.1f}")
    for backend, version, s, r, _ in rows:
        for sample in sorted(s["samples"] | r["samples"])[:5]:
            print(f"  {backend} {version} CallError seen: {sample}")


if __name__ == "__main__":
    main()
