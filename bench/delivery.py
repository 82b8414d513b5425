"""Delivery through the outbox: deliveries per second and the latency from a CPO's push to an eMSP's receipt.

    .venv/bin/python -m bench.delivery [--receivers 1,10] [--seconds 10] [--rate 500] [--backends sqlite,postgresql]

The hub runs as `hub serve` on a new database of each backend; the eMSPs are fast loopback receivers (raw
asyncio HTTP servers answering every push with OCPI 1000) in a process of their own; a CPO pushes EVSE status
PATCHes (OCPI-to the hub, so each is broadcast to every eMSP) from another process. Each push changes an
EVSE of a different Location, so that deliveries are not ordered behind each other (one Location's changes are
delivered one at a time). Three measurements per backend and number of receivers:

1. backlog: changes queued while the hub is down, then drained -> deliveries/s;
2. live: the CPO pushes as fast as the hub answers it -> deliveries/s while pushes come in;
3. paced: the CPO pushes at --rate pushes/s -> p50/p99 from the push to the eMSP's receipt.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import time
from datetime import datetime, timezone
from decimal import Decimal

from bench import hubproc
from hub.model import PartyId

CPO = PartyId("NL", "BEN")
CPO_TOKEN = "bench-cpo-token"  # noqa: S105
EVSES = 10  # per Location
ENVELOPE = b'{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}'
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(ENVELOPE), ENVELOPE)


# --- the eMSPs: fast loopback receivers --------------------------------------------------------------------------------


def _receivers(ports: list[int], expected: int, timeout: float, ready: multiprocessing.Event, out: multiprocessing.Queue) -> None:
    """Every push answered at once, until `expected` have come (or `timeout`); puts [(EVSE path, time of receipt)]."""
    import uvloop

    seen: list[tuple[bytes, float]] = []
    finished = asyncio.Event()

    class Receiver(asyncio.Protocol):
        def __init__(self) -> None:
            self.buf = b""

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while (end := self.buf.find(b"\r\n\r\n")) >= 0:
                head = self.buf[:end]
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if len(self.buf) < end + 4 + length:
                    return
                self.buf = self.buf[end + 4 + length:]
                seen.append((head.split(b" ", 2)[1], time.time()))
                self.transport.write(ANSWER)  # type: ignore[attr-defined]
                if len(seen) >= expected:
                    finished.set()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = [await loop.create_server(Receiver, "127.0.0.1", port) for port in ports]
        ready.set()
        try:
            await asyncio.wait_for(finished.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        for server in servers:
            server.close()

    uvloop.run(main())
    out.put(seen)


# --- set-up -------------------------------------------------------------------------------------------------------


async def _prepare(url: str, locations: int, ports: list[int]) -> None:
    """A CPO the bench pushes as, its Locations, and one eMSP platform per receiver (registered already)."""
    import msgspec

    from hub import model
    from hub.app import Hub
    from hub.settings import Settings
    from hub.store import platforms as store

    hub = Hub(Settings(database_url=url, log_level="WARNING", secret_key=hubproc.SECRET_KEY))
    await hub.start(serve=False)
    try:
        core, now = hub.core, datetime(2026, 1, 1, tzinfo=timezone.utc)

        def platforms(tx) -> None:  # noqa: ANN001
            cpo = store.create_platform(tx, name="bench CPO", token_in=CPO_TOKEN, token_kind="C", status="CONNECTED", claims=[(CPO, "CPO")])
            store.set_parties(tx, cpo, [(CPO, "CPO", "bench CPO", None)])
            for n, port in enumerate(ports):
                party = PartyId("NL", f"E{n:02d}")
                base = f"http://127.0.0.1:{port}/ocpi/2.2.1"
                endpoints = [{"identifier": m, "role": "RECEIVER", "url": f"{base}/{m}"} for m in ("locations", "hubclientinfo")]
                pid = store.create_platform(tx, name=str(party), token_in=f"bench-emsp-{n}", token_kind="C", status="CONNECTED",
                                            claims=[(party, "EMSP")])
                store.update_platform(tx, pid, endpoints=msgspec.json.encode(endpoints).decode(), receives={"location", "evse", "connector"},
                                      token_out=core.secrets.seal(f"emsp-{n}"), version="2.2.1", versions_url=f"{base}/versions")
                store.set_parties(tx, pid, [(party, "EMSP", str(party), None)])

        await core.db.write(platforms)
        await core.directory.refresh()
        evse = lambda e: model.Evse(uid=f"E{e}", status="AVAILABLE", last_updated=now,  # noqa: E731
                                    connectors=[model.Connector(id="1", standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE",
                                                                max_voltage=230, max_amperage=32, last_updated=now)])
        for start in range(0, locations, 500):
            await asyncio.gather(*(core.objects.put_location(None, model.Location(
                country_code="NL", party_id="BEN", id=f"L{n:06d}", publish=True, address="Street 1", city="City", country="NLD",
                coordinates=model.GeoPoint(Decimal("52.000000"), Decimal("5.000000")), time_zone="Europe/Amsterdam", last_updated=now,
                evses=[evse(e) for e in range(EVSES)]), deliver=False) for n in range(start, min(locations, start + 500))))
    finally:
        await hub.stop()


async def _backlog(url: str, changes: int) -> None:
    """Changes stored and queued for every eMSP while no hub serves (the hub then starts with a backlog)."""
    from hub.app import Hub
    from hub.settings import Settings

    hub = Hub(Settings(database_url=url, log_level="WARNING", secret_key=hubproc.SECRET_KEY))
    await hub.start(serve=False)
    try:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        for start in range(0, changes, 500):
            await asyncio.gather(*(hub.core.objects.patch_location(None, CPO, f"L{n:06d}", {"status": "CHARGING", "last_updated": now},
                                                                    evse_uid="E0") for n in range(start, min(changes, start + 500))))
    finally:
        await hub.stop()


# --- the CPO: pushes ------------------------------------------------------------------------------------------------


def _pushes(port: int, first: int, count: int, rate: float, connections: int, out: multiprocessing.Queue) -> None:
    """`count` PATCHes of EVSEs `first`.. (each a different EVSE), at `rate` per second (0: as fast as answered);
    puts {EVSE path: time sent} and the seconds it took."""
    import uvloop

    token = base64.b64encode(CPO_TOKEN.encode()).decode()
    sent: dict[bytes, float] = {}

    async def worker(numbers: range) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()
        for i, n in enumerate(numbers):
            if rate:
                await asyncio.sleep(max(0.0, started + i * connections / rate - time.perf_counter()))
            path = f"/ocpi/2.2.1/receiver/locations/NL/BEN/L{n:06d}/E0"
            body = b'{"status":"CHARGING","last_updated":"2026-06-01T00:00:00Z"}'
            writer.write(f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Token {token}\r\nContent-Type: application/json\r\n"
                         f"OCPI-to-country-code: NL\r\nOCPI-to-party-id: HUB\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            sent[f"/ocpi/2.2.1/locations/NL/BEN/L{n:06d}/E0".encode()] = time.time()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line[15:]) for line in head.split(b"\r\n") if line[:15].lower() == b"content-length:")
            await reader.readexactly(length)
        writer.close()

    async def main() -> None:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(range(first + c, first + count, connections)) for c in range(connections)))
        out.put((sent, time.perf_counter() - t0))

    uvloop.run(main())


# --- one run -------------------------------------------------------------------------------------------------------


def _receiving(ports: list[int], expected: int, timeout: float) -> tuple[multiprocessing.Process, multiprocessing.Queue]:
    ready, out = multiprocessing.Event(), multiprocessing.Queue()
    sink = multiprocessing.Process(target=_receivers, args=(ports, expected, timeout, ready, out))
    sink.start()
    ready.wait(30)
    return sink, out


def _pushed(port: int, first: int, count: int, rate: float) -> tuple[dict[bytes, float], float]:
    out: multiprocessing.Queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_pushes, args=(port, first, count, rate, 16, out))
    proc.start()
    sent, seconds = out.get()
    proc.join()
    return sent, seconds


def _summary(seen: list[tuple[bytes, float]], expected: int, since: float | None, sent: dict[bytes, float] | None = None) -> dict:
    """Deliveries per second from `since` (default: the first receipt) to the last receipt; latencies from `sent`."""
    times = sorted(t for _, t in seen)
    since = since or (times[0] if times else 0.0)
    out = {"delivered": len(seen), "expected": expected,
           "per_s": round(len(seen) / (times[-1] - since)) if len(times) > 1 else 0}
    if sent:
        lat = sorted((t - sent[path]) * 1000 for path, t in seen if path in sent)
        out.update(p50_ms=round(lat[len(lat) // 2], 1), p99_ms=round(lat[int(len(lat) * 0.99)], 1))
    return out


def measure(backend: str, receivers: int, args: argparse.Namespace) -> dict:
    ports = [hubproc.free_port() for _ in range(receivers)]
    pushes = int(args.rate * args.seconds)
    locations = args.backlog + 2 * pushes
    results: dict = {"backend": backend, "receivers": receivers}
    with hubproc.database(backend) as url:
        asyncio.run(_prepare(url, locations, ports))
        asyncio.run(_backlog(url, args.backlog))
        # 1. the backlog, drained from the moment the hub is up
        sink, out = _receiving(ports, args.backlog * receivers, 300)
        http = hubproc.free_port()
        hub = hubproc.serve(url, http)
        try:
            results["backlog"] = _summary(out.get(), args.backlog * receivers, None)
            sink.join()
            # 2. live: the CPO pushes as fast as the hub takes them
            sink, out = _receiving(ports, pushes * receivers, 120)
            started = time.time()
            sent, seconds = _pushed(http, args.backlog, pushes, 0.0)
            results["live"] = {**_summary(out.get(), pushes * receivers, started, sent), "pushes_per_s": round(pushes / seconds)}
            sink.join()
            # 3. paced: --rate pushes per second
            sink, out = _receiving(ports, pushes * receivers, 120)
            started = time.time()
            sent, _ = _pushed(http, args.backlog + pushes, pushes, args.rate)
            results["paced"] = _summary(out.get(), pushes * receivers, started, sent)
            sink.join()
        finally:
            hub.terminate()
            hub.wait(30)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--receivers", default="1,10")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the live and paced runs")
    p.add_argument("--rate", type=float, default=500.0, help="pushes per second of the paced run")
    p.add_argument("--backlog", type=int, default=10_000, help="changes queued for every eMSP before the hub starts")
    p.add_argument("--backends", default="sqlite,postgresql")
    args = p.parse_args()
    rows = [measure(b, int(r), args) for b in args.backends.split(",") for r in args.receivers.split(",")]
    print("\n| backend | eMSPs | backlog drained: deliveries/s | live: pushes/s, deliveries/s | paced " f"{args.rate:g} pushes/s: deliveries/s, p50 / p99 ms |")
    print("|---|---|---|---|---|")
    for r in rows:
        b, live, paced = r["backlog"], r["live"], r["paced"]
        lost = [f"{k}: {v['delivered']} of {v['expected']}" for k, v in (("backlog", b), ("live", live), ("paced", paced)) if v["delivered"] < v["expected"]]
        print(f"| {r['backend']} | {r['receivers']} | {b['per_s']:,} | {live['pushes_per_s']:,}, {live['per_s']:,} | "
              f"{paced['per_s']:,}, {paced.get('p50_ms')} / {paced.get('p99_ms')} |" + (f" missing: {'; '.join(lost)}" if lost else ""))


if __name__ == "__main__":
    main()
