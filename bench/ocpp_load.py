"""OCPP load on `hub serve` with persistence on, beside the bare `ocpp` library: throughput, latency, memory.

    .venv/bin/python -m bench.ocpp_load [--per-location 1,25,50] [--chargers 1000] [--seconds 20] [--versions 1.6,2.0.1]
                                        [--backends sqlite,postgresql] [--idle 10000] [--loadgen-procs 1]
    .venv/bin/python -m bench.ocpp_load --seconds 10 --idle 4000      # quicker (about half an hour)

The hub runs as `hub serve` in its own process on a new database of each backend (a temporary SQLite file;
a PostgreSQL database created for the run, see bench/hubproc.database). The chargers are grouped
--per-location to a Location (one Location with that many chargers' EVSEs, so each status change happens at a
site of that size); each value gets a database of its own. The load generator runs in other processes: raw
websockets clients with pre-built frames, so it stays cheap. Each simulated charger boots, then repeats a
cycle of 20 messages and waits for every answer: Authorize, StartTransaction (2.0.1: TransactionEvent
Started), a StatusNotification, 12 MeterValues (Updated), StopTransaction (Ended, which prices the CDR), a
StatusNotification and 3 Heartbeats. 16 of the 20 write to the store (each status change is a Location
write; each meter reading updates the transaction). Three measurements per backend, version and site size:

1. saturation: every charger sends as fast as it is answered -> msg/s;
2. fixed rate: 1,000 msg/s spread over the chargers -> p50/p99 latency;
3. idle connections: --idle chargers connected and booted -> RSS per connection, from the growth over the
   second half (so --idle should be at least twice --chargers).

Right after the hub, the same load measures the bare `ocpp` library (bench/bare_csms.py: its ChargePoint,
minimal answers, no persistence, jsonschema validation), so each ratio compares two runs a minute apart. The
tables also give the CPU time the server used per message in the saturated run (the hub's own processes, not
PostgreSQL's) and the load generator's share of a core: on a small machine both compete for the same cores.
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

from bench import bare_csms, hubproc
from fixtures import generate
from hub import model
from hub.model import PartyId

CPO = PartyId("NL", "BEN")
def token_uid(n: int) -> str:
    """Each charger's driver has a token of their own (one token charging at two chargers is ConcurrentTx)."""
    return f"BENCHTOKEN{n:05d}"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- set-up ----------------------------------------------------------------------------------------------


async def _prepare(url: str, count: int, tokens: int, per_location: int) -> None:
    """Locations of `per_location` chargers each, every charger's EVSE in place (as commissioned), chargers (no
    password: the handshake is not what is measured) and whitelisted tokens."""
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
        sites = [range(first, min(count, first + per_location)) for first in range(0, count, per_location)]
        for start in range(0, len(sites), max(1, 500 // per_location)):
            batch = sites[start:start + max(1, 500 // per_location)]
            await asyncio.gather(*(core.objects.put_location(None, _site(rng, start + i, chargers)) for i, chargers in enumerate(batch)))
        template = msgspec.json.encode(ConnectorTemplate(tariff_ids=["AC1"])).decode()

        def op(tx) -> None:  # noqa: ANN001
            now = int(time.time() * 1e6)
            tx.execute(store.C.insert(), [{"identity": f"B{n}", "country_code": CPO.country_code, "party_id": CPO.party_id,
                                           "location_id": f"LOC{site:06d}", "connector": template, "created_us": now}
                                          for site, chargers in enumerate(sites) for n in chargers])

        await core.db.write(op)
    finally:
        await hub.stop()


def _site(rng: random.Random, site: int, chargers: range) -> model.Location:
    """A Location with one EVSE per charger, as the hub names them (`<identity>-1`, AC, tariff AC1)."""
    loc = generate.location(rng, CPO, site, evses=(0, 0), tariff_ids=None)
    evses = [model.Evse(uid=f"B{n}-1", evse_id=f"{CPO.country_code}*{CPO.party_id}*EB{n}*1", status="AVAILABLE",
                        connectors=[generate.connector("1", False, loc.last_updated, "AC1")], last_updated=loc.last_updated,
                        capabilities=["REMOTE_START_STOP_CAPABLE", "RFID_READER"]) for n in chargers]
    return msgspec.structs.replace(loc, evses=evses)


def _tree(pid: int) -> list[int]:
    """A process and its descendants (granian serves the app from a worker process)."""
    return [pid, *(p for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split() for p in _tree(int(child)))]


def _rss_mb(pid: int) -> float:
    return sum(int(line.split()[1]) / 1024 for p in _tree(pid) for line in Path(f"/proc/{p}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))


def _cpu_s(pid: int) -> float:
    """CPU seconds used so far by a process and its descendants, all threads."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(sum(map(int, Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[11:13])) / ticks for p in _tree(pid))


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
            step = "heartbeat"  # its start was refused: nothing to meter
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
        steps = charger.cycle()
        i = random.randrange(len(steps))  # chargers are not in step with each other
        if steps.index("start") < i <= steps.index("stop"):
            # it joins mid-session: its transaction is open already, so the measured mix is the cycle's
            _, frame = charger.message("start")
            await ws.send(frame)
            if not charger.answered("start", await ws.recv()):
                result["errors"] += 1
                result["samples"].add(charger.last_error)
        await asyncio.sleep(max(0.0, start_at - time.time()) + random.uniform(0, interval or 0.01))
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


def _loadgen(first: int, count: int, version: str, port: int, start_at: float, stop_at: float, rate: float, queue: multiprocessing.Queue) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = {"lat": [], "errors": 0, "connected": 0, "samples": set()}
    interval = count / rate if rate else 0.0

    async def main() -> None:
        outcomes = await asyncio.gather(*(_drive(n, version, port, stop_at, interval, result, start_at) for n in range(first, first + count)),
                                        return_exceptions=True)
        result["dropped"] = [repr(e) for e in outcomes if isinstance(e, BaseException)]  # a charger that failed stops; the rest go on

    asyncio.run(main())
    queue.put(result)


def _run_load(version: str, port: int, server: int, chargers: int, seconds: float, rate: float, procs: int = 1) -> dict:
    """The load on the server at `port` (process `server`), measured from `start_at` (once every charger has
    had time to connect and boot) to `stop_at`: latencies, and the CPU the server and the load generator used."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    per = chargers // procs
    start_at = time.time() + 3.0 + per / 2000
    stop_at = start_at + seconds
    workers = [multiprocessing.Process(target=_loadgen, args=(i * per, per, version, port, start_at, stop_at, rate / procs if rate else 0, queue))
               for i in range(procs)]
    for w in workers:
        w.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu = [_cpu_s(server), *(_cpu_s(w.pid) for w in workers)]
    time.sleep(max(0.0, stop_at - time.time()))
    cpu = [after - before for before, after in zip(cpu, [_cpu_s(server), *(_cpu_s(w.pid) for w in workers)])]
    results = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    lat = sorted(x for r in results for x in r["lat"])
    n = len(lat)
    return {"msgs": n, "rate": n / seconds, "p50": lat[n // 2] * 1000 if n else 0, "p99": lat[int(n * 0.99)] * 1000 if n else 0,
            "cpu_us": cpu[0] * 1e6 / max(n, 1), "loadgen_cpu": sum(cpu[1:]) / seconds * 100,
            "errors": sum(r["errors"] for r in results), "connected": sum(r["connected"] for r in results),
            "samples": set().union(*(r["samples"] for r in results)), "dropped": [d for r in results for d in r["dropped"]]}


async def _hold(version: str, port: int, chargers: range, ready: multiprocessing.Event, done: multiprocessing.Event) -> None:
    from websockets.asyncio.client import connect

    sockets = []
    for start in range(chargers.start, chargers.stop, 200):
        async def one(n: int) -> None:
            charger = Charger(n, version)
            ws = await connect(f"ws://127.0.0.1:{port}/ocpp/{charger.identity}", subprotocols=[f"ocpp{version}"], open_timeout=120,  # type: ignore[list-item]
                               ping_interval=None, compression=None, max_queue=4)
            await ws.send(charger.boot()[1])
            await ws.recv()
            sockets.append(ws)

        await asyncio.gather(*(one(n) for n in range(start, min(chargers.stop, start + 200))))
    ready.set()
    while not done.is_set():
        await asyncio.sleep(0.2)
    for ws in sockets:
        await ws.close()


def _holder(version: str, port: int, chargers: range, ready: multiprocessing.Event, done: multiprocessing.Event) -> None:
    _raise_file_limit()
    asyncio.run(_hold(version, port, chargers, ready, done))


def _raise_file_limit() -> None:
    """Thousands of sockets: as many descriptors as the hard limit allows (the hub inherits it)."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def measure(pid: int, port: int, version: str, args: argparse.Namespace) -> dict:
    """Saturated, paced and idle runs of one OCPP version against the central system in process `pid`."""
    saturated = _run_load(version, port, pid, args.chargers, args.seconds, 0, args.loadgen_procs)
    time.sleep(3)  # let the server finish what the saturated run left queued
    paced = _run_load(version, port, pid, args.chargers, args.seconds, 1000, args.loadgen_procs)
    return {"saturated": saturated, "paced": paced, "kb": _kb_per_idle(pid, port, version, args.idle) if args.idle else 0.0}


def _kb_per_idle(pid: int, port: int, version: str, idle: int) -> float:
    """RSS per booted idle connection: the growth over the second half of `idle` connections, as the first half
    takes up what the load runs freed (the allocator keeps it), which would otherwise hide in the baseline."""
    done = multiprocessing.Event()
    holders, rss = [], []
    for chargers in (range(idle // 2), range(idle // 2, idle)):
        ready = multiprocessing.Event()
        holders.append(multiprocessing.Process(target=_holder, args=(version, port, chargers, ready, done)))
        holders[-1].start()
        ready.wait(600)
        time.sleep(2)
        rss.append(_rss_mb(pid))
    done.set()
    for holder in holders:
        holder.join()
    return (rss[1] - rss[0]) * 1024 / (idle - idle // 2)


def measure_hub(backend: str, version: str, per_location: int, args: argparse.Namespace) -> dict:
    with hubproc.database(backend) as url:
        asyncio.run(_prepare(url, max(args.chargers, args.idle), args.chargers, per_location))
        http_port, ocpp_port = hubproc.free_port(), hubproc.free_port()
        hub = hubproc.serve(url, http_port, HUB_OCPP_PORT=str(ocpp_port))
        try:
            return measure(hub.pid, ocpp_port, version, args)
        finally:
            hub.terminate()
            hub.wait(20)


def measure_bare(version: str, args: argparse.Namespace) -> dict:
    port = hubproc.free_port()
    bare = bare_csms.spawn(port, version)
    try:
        return measure(bare.pid, port, version, args)
    finally:
        bare.terminate()
        bare.wait(20)


def _report(backend: str, version: str, rows: list[tuple[int, dict, dict]], args: argparse.Namespace) -> None:
    print(f"\nOCPP {version}, hub on {backend} vs the bare ocpp library: {args.chargers} chargers, {args.seconds:g} s per run, "
          f"{args.idle} idle chargers (CPU: the server's per message and the load generator's, in the saturated runs)")
    print(f"{'per':>4} |{'saturated msg/s: hub':>21}{'bare':>7}{'ratio':>7} |{'at 1,000 msg/s: hub p50':>24}{'p99':>7}{'msg/s':>7}"
          f"{'bare p50':>9}{'p99':>7}{'msg/s':>7} |{'KB/idle: hub':>13}{'bare':>6} |{'CallErrors: hub':>16}{'bare':>6} |"
          f"{'CPU us/msg: hub':>16}{'bare':>6}{'loadgen %: hub':>15}{'bare':>6}")
    for per, hub, bare in rows:
        hs, hp, bs, bp = hub["saturated"], hub["paced"], bare["saturated"], bare["paced"]
        print(f"{per:>4} |{hs['rate']:>21.0f}{bs['rate']:>7.0f}{hs['rate'] / max(bs['rate'], 1):>7.2f} |{hp['p50']:>24.1f}{hp['p99']:>7.1f}"
              f"{hp['rate']:>7.0f}{bp['p50']:>9.1f}{bp['p99']:>7.1f}{bp['rate']:>7.0f} |{hub['kb']:>13.1f}{bare['kb']:>6.1f} |"
              f"{hs['errors'] + hp['errors']:>16}{bs['errors'] + bp['errors']:>6} |"
              f"{hs['cpu_us']:>16.0f}{bs['cpu_us']:>6.0f}{hs['loadgen_cpu']:>15.0f}{bs['loadgen_cpu']:>6.0f}")
    for per, hub, bare in rows:
        for name, run in (("hub", hub), ("bare", bare)):
            for kind in ("saturated", "paced"):
                if run[kind]["connected"] < args.chargers or run[kind]["dropped"]:
                    print(f"  {per} per location, {name} {kind}: {run[kind]['connected']} of {args.chargers} chargers connected, "
                          f"{len(run[kind]['dropped'])} failed, e.g. {run[kind]['dropped'][:1]}")
            for sample in sorted(run["saturated"]["samples"] | run["paced"]["samples"])[:5]:
                print(f"  {per} per location, {name}: CallError seen: {sample}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-location", default="1,25,50", help="chargers per Location, one run each")
    p.add_argument("--chargers", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--versions", default="1.6,2.0.1")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--idle", type=int, default=10_000, help="connections for the memory measurement (0: skip)")
    p.add_argument("--loadgen-procs", type=int, default=1)
    args = p.parse_args()
    _raise_file_limit()
    for backend in args.backends.split(","):
        for version in args.versions.split(","):
            rows = [(per, measure_hub(backend, version, per, args), measure_bare(version, args))
                    for per in map(int, args.per_location.split(","))]
            _report(backend, version, rows, args)


if __name__ == "__main__":
    main()
