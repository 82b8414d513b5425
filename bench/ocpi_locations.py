"""GET All Locations under load, on SQLite and PostgreSQL, in OCPI 2.2.1 and 2.1.1.

    .venv/bin/python -m bench.ocpi_locations [--seconds 20] [--connections 16] [--locations 10000] [--backends sqlite,postgresql]
                                             [--versions 2.2.1,2.1.1]

For each backend: a temporary database holding N generated locations (2-4 EVSEs with 1-2 connectors each),
the hub started with `hub serve` in its own process, then 16 keep-alive connections in another process
paging through the list with random offsets (limit=10, then limit=100) as an eMSP would: a 2.2.1 eMSP on
/ocpi/2.2.1/sender/locations, a 2.1.1 one on /ocpi/2.1.1/cpo/locations. Prints req/s, p50 and p99 latency, and
the errors (any answer that is not HTTP 200 + OCPI 1000 counts).
PostgreSQL: a database created for the run on HUB_BENCH_PG_URL (see bench/hubproc.database).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import random


from bench import hubproc, httpload
from fixtures import generate
from hub.model import PartyId
from hub.settings import Settings

TOKEN = "bench-emsp-token"  # noqa: S105
TOKEN_211 = "bench-emsp-211-token"  # noqa: S105
PATH = {"2.2.1": "/ocpi/2.2.1/sender/locations", "2.1.1": "/ocpi/2.1.1/cpo/locations"}


async def _fill(url: str, count: int) -> None:
    from hub.app import Hub
    from hub.store import platforms as store

    hub = Hub(Settings(database_url=url, log_level="WARNING", secret_key=hubproc.SECRET_KEY))
    await hub.start(serve=False)
    try:
        cpos = [PartyId("NL", "GRN"), PartyId("DE", "VLT"), PartyId("FR", "ION"), PartyId("BE", "ELC")]
        for cpo in cpos:
            await hub.core.parties.ensure_local(cpo, "CPO", str(cpo))
            for tariff in generate.tariffs(cpo):
                await hub.core.objects.put_tariff(None, tariff)
        rng = random.Random(42)
        pending = []
        for n in range(count):
            loc = generate.location(rng, cpos[n % len(cpos)], n)
            pending.append(hub.core.objects.put_location(None, loc))
            if len(pending) == 500:  # written in batches by the group-committing writer
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)

        def op(tx) -> None:  # noqa: ANN001
            pid = store.create_platform(tx, name="bench eMSP", token_in=TOKEN, token_kind="C", status="CONNECTED")
            store.set_parties(tx, pid, [(PartyId("NL", "BEN"), "EMSP", "bench", None)])
            pid = store.create_platform(tx, name="bench eMSP 2.1.1", token_in=TOKEN_211, token_kind="C", status="CONNECTED",
                                        protocol="ocpi211")
            store.set_parties(tx, pid, [(PartyId("NL", "BEO"), "EMSP", "bench 2.1.1", None)])

        await hub.core.db.write(op)
    finally:
        await hub.stop()


def _load(port: int, version: str, limit: int, count: int, connections: int, seconds: float, queue: multiprocessing.Queue) -> None:
    offsets = range(0, max(1, count - limit), max(1, limit // 2))
    paths = [f"{PATH[version]}?offset={o}&limit={limit}" for o in offsets]
    headers = {"Authorization": "Token " + (base64.b64encode(TOKEN.encode()).decode() if version == "2.2.1" else TOKEN_211)}
    make = httpload.get_requests("127.0.0.1", port, paths, headers)
    queue.put(httpload.run("127.0.0.1", port, make, connections, seconds))


def measure(url: str, args: argparse.Namespace) -> list[tuple[str, int, dict]]:
    """Both ways of serving a page: from the hub's page cache (the default), and from the database
    (HUB_PAGE_CACHE_MB=0: every page's documents read by primary key)."""
    asyncio.run(_fill(url, args.locations))
    out = []
    for mode, cache_mb in (("cache", 64), ("database", 0)):
        port = hubproc.free_port()
        proc = hubproc.serve(url, port, HUB_PAGE_CACHE_MB=str(cache_mb))
        try:
            for version in args.versions.split(","):
                for limit in (10, 100):
                    queue: multiprocessing.Queue = multiprocessing.Queue()
                    loader = multiprocessing.Process(target=_load, args=(port, version, limit, args.locations, args.connections, args.seconds, queue))
                    loader.start()
                    out.append((version, mode, limit, queue.get()))
                    loader.join()
        finally:
            proc.terminate()
            proc.wait(10)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--locations", type=int, default=10_000)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--versions", default="2.2.1,2.1.1")
    args = p.parse_args()
    rows = []
    for backend in args.backends.split(","):
        with hubproc.database(backend) as url:
            rows += [(backend, *r) for r in measure(url, args)]
    print(f"\nGET All Locations, {args.locations} locations, {args.connections} keep-alive connections, {args.seconds:g} s")
    print(f"{'backend':<11}{'OCPI':<7}{'pages from':<10}{'limit':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'errors':>8}")
    for backend, version, mode, limit, r in rows:
        print(f"{backend:<11}{version:<7}{mode:<10}{limit:>6}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['requests']:>10}{r['errors']:>8}")


if __name__ == "__main__":
    main()
