"""A full PullEvseData from Hubject (500,000 EVSE records by default) into the hub, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.oicp_fullload [--records 500000] [--operators 10] [--backends sqlite,postgresql]
        [--seconds 20] [--connections 16] [--own-locations N] [--page-cache-mb 64] [--no-load] [--profile]

1. The Hubject stand-in (fixtures/hubject.py) runs in a process of its own (spawned once per run, so its records
   are generated once and its memory is not the hub's), serving `--records` generated EVSE records of `--operators`
   ISO operators (DE*A01, DE*A02, ...) as pages of 2,000 to PullEvseData. Its answers are not validated
   (check_answers off: that would be the stand-in's time, not the hub's).
2. Decode-only, once: every page fetched from the stand-in over HTTP with the OICP client, and only the time
   msgspec takes to decode each page's bytes into wire.EvseDataPage summed (one page at a time, none kept).
3. Per backend, in a process of its own (so that its peak RSS is its own): a new migrated database, the hub
   (`Hub(...).start(serve=False)`: no outbox dispatcher, nobody needs pushes), an eMSP platform holding NL/EMS,
   Hubject configured to the stand-in with NL-EMS as provider, then `pull_evse_data(NL/EMS, full=True)` timed.
   Prints wall time, records/s, Locations and EVSEs stored, the peak RSS (ru_maxrss) before and after the pull,
   and the ratio pull / decode-only (target: within 5x) and peak RSS (target: < 500 MB); also how late the event
   loop ran a 10 ms timer meanwhile (p99 and max: the stall a serving hub's other work would see).
4. Per backend, GET /ocpi/2.2.1/sender/locations?limit=100 at random offsets for `--seconds` with `--connections`
   keep-alive connections (bench/ocpi_locations.py's load, `hub serve` in its own process, page cache of
   `--page-cache-mb`, 64 MB as the default setting: at 500,000 records most pages no longer fit in it): over
   the pulled Hubject Locations, then over a second database filled with as many of the hub's own generated
   Locations (fixtures/generate.py, `--own-locations` to take fewer; the Hubject load then pages over as many
   of its Locations). Prints req/s, p50/p99, errors and the bytes of one page. `--no-load` skips this step.

`--profile`: the pull runs under cProfile (its wall time is then inflated) and its top entries are printed.
PostgreSQL: a database created for the run on HUB_BENCH_PG_URL (see bench/hubproc.database).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import base64
import multiprocessing
import resource
import time
from typing import Any

RSS_TARGET_MB = 500
RATIO_TARGET = 5.0
EMSP_PARTY = ("NL", "EMS")
PROVIDER_ID = "NL-EMS"
PAGE_SIZE = 2000


def _rss_kb() -> int:
    """Peak resident set size of this process so far (KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _operator_ids(count: int) -> list[str]:
    return [f"DE*A{n:02d}" for n in range(1, count + 1)]  # ISO OperatorIDs: [A-Z]{2}\*[A-Z0-9]{3}


# --- 1. the stand-in, in its own process ------------------------------------------------------------------------------


def _standin_process(records: int, operators: int, port: int, report: Any, stop: Any) -> None:
    asyncio.run(_standin(records, operators, port, report, stop))


async def _standin(records: int, operators: int, port: int, report: Any, stop: Any) -> None:
    from fixtures import hubject as hbs

    t0 = time.perf_counter()
    data: list[dict[str, Any]] = []
    ids = _operator_ids(operators)
    for n, operator_id in enumerate(ids):
        count = records // operators + (1 if n < records % operators else 0)
        data += hbs.evse_records(operator_id, count)
    generated = time.perf_counter() - t0
    standin = hbs.HubjectStandIn(port)
    standin.evse_data = data
    standin.check_answers = False  # validating 2,000-record answers would be the stand-in's time, not the hub's
    async with standin:
        report.put({"url": standin.url, "generated_s": generated, "records": len(data), "rss_kb": _rss_kb()})
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        report.put({"violations": standin.violations[:5], "rss_kb": _rss_kb()})


# --- 2. decode-only ---------------------------------------------------------------------------------------------------


async def _decode_only(base_url: str) -> dict[str, Any]:
    from hub.outbound import Outbound, Policy
    from protocols.oicp.v23 import wire
    from protocols.oicp.v23.client import OicpClient

    outbound = Outbound(Policy(True, [], []), max_response_bytes=64 * 1024 * 1024, timeout=60.0)
    client = OicpClient(outbound, base_url, 60.0)
    decoder = wire.decoder(wire.EvseDataPage)
    request = wire.PullEvseData(provider_id=PROVIDER_ID, geo_coordinates_response_format="DecimalDegree")
    fetch = decode = 0.0
    page = records = size = 0
    try:
        while True:
            t0 = time.perf_counter()
            body = await client.pull_evse_data_raw(PROVIDER_ID, request, page, PAGE_SIZE)
            t1 = time.perf_counter()
            content = decoder.decode(body)
            t2 = time.perf_counter()
            fetch, decode = fetch + t1 - t0, decode + t2 - t1
            records, size = records + len(content.content), size + len(body)
            last = content.last is not False or not content.content
            del body, content
            if last:
                break
            page += 1
    finally:
        await outbound.aclose()
    return {"pages": page + 1, "records": records, "bytes": size, "fetch_s": fetch, "decode_s": decode}


# --- 3. the pull, in its own process ----------------------------------------------------------------------------------


def _pull_process(url: str, standin_url: str, profile: bool, report: Any) -> None:
    report.put(asyncio.run(_pull(url, standin_url, profile)))


async def _pull(url: str, standin_url: str, profile: bool) -> dict[str, Any]:
    import sqlalchemy as sa

    from bench import hubproc, ocpi_locations
    from hub.app import Hub
    from hub.model import PartyId
    from hub.settings import Settings
    from hub.store import platforms as store
    from hub.store import schema

    hub = Hub(Settings(database_url=url, secret_key=hubproc.SECRET_KEY, ocpi_allow_private=True, log_level="WARNING"))
    await hub.start(serve=False)  # no dispatcher: no eMSP here needs pushes
    gc.freeze()  # as `hub serve` does after start-up (hub/app.py)
    try:
        emsp = PartyId(*EMSP_PARTY)

        def op(tx) -> None:  # noqa: ANN001
            pid = store.create_platform(tx, name="bench eMSP", token_in=ocpi_locations.TOKEN, token_kind="C", status="CONNECTED")
            store.set_parties(tx, pid, [(emsp, "EMSP", "bench", None)])

        await hub.core.db.write(op)
        await hub.core.directory.refresh()
        await hub.hubject.hubject.configure(standin_url)
        await hub.hubject.hubject.add_provider(emsp, PROVIDER_ID)
        rss_before = _rss_kb()
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        lags: list[float] = []
        watch = asyncio.get_running_loop().create_task(_watch_loop(lags))
        t0 = time.perf_counter()
        try:
            taken = await hub.hubject.emp.pull_evse_data(emsp, full=True)
        finally:
            wall = time.perf_counter() - t0
            watch.cancel()
        rss_after = _rss_kb()
        stats = ""
        if profiler is not None:
            import io
            import pstats

            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
            stats = out.getvalue()

        def count(conn: sa.Connection) -> tuple[int, int]:
            locations = conn.execute(sa.select(sa.func.count()).select_from(schema.locations)).scalar_one()
            evses = conn.execute(sa.select(sa.func.count()).select_from(schema.evses)).scalar_one()
            return locations, evses

        locations, evses = await hub.core.db.read(count)
        sync = hub.hubject.status()["syncs"][0]
    finally:
        await hub.stop()
    lags.sort()
    return {"wall_s": wall, "taken": taken, "stall_max_ms": lags[-1] * 1000 if lags else 0.0,
            "stall_p99_ms": lags[int(len(lags) * 0.99)] * 1000 if lags else 0.0, "locations": locations, "evses": evses, "rss_before_kb": rss_before,
            "rss_after_kb": rss_after, "sync": sync, "profile": stats}


async def _watch_loop(lags: list[float], tick: float = 0.01) -> None:
    """How late the event loop wakes a 10 ms sleeper: what a serving hub's other work (OCPP, OCPI) waits while
    a page is mapped and written (both run on the loop)."""
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(tick)
        lags.append(max(0.0, time.perf_counter() - t0 - tick))


# --- 4. OCPI GET-all ----------------------------------------------------------------------------------------------


def _ocpi_load(ctx: Any, url: str, count: int, args: argparse.Namespace) -> dict[str, Any]:
    """bench/ocpi_locations.py's load (limit=100, random offsets over the first `count` Locations) on `hub serve`."""
    import httpx

    from bench import hubproc, ocpi_locations

    port = hubproc.free_port()
    # HUB_HUBJECT_PULL_INTERVAL=0: the serving hub must not start its own pull from the stand-in meanwhile
    proc = hubproc.serve(url, port, HUB_PAGE_CACHE_MB=str(args.page_cache_mb), HUB_HUBJECT_PULL_INTERVAL="0")
    try:
        headers = {"Authorization": "Token " + base64.b64encode(ocpi_locations.TOKEN.encode()).decode()}
        page = httpx.get(f"http://127.0.0.1:{port}/ocpi/2.2.1/sender/locations?offset=0&limit=100", headers=headers, timeout=60)
        queue = ctx.Queue()
        loader = ctx.Process(target=ocpi_locations._load, args=(port, 100, count, args.connections, args.seconds, queue))
        loader.start()
        result = _result(loader, queue)
        loader.join()
    finally:
        proc.terminate()
        proc.wait(10)
    if page.status_code != 200:
        result["errors"] += 1  # (the first page, fetched for its size)
    return result | {"page_bytes": len(page.content)}


def _fill_own(url: str, count: int) -> float:
    from bench import ocpi_locations

    t0 = time.perf_counter()
    asyncio.run(ocpi_locations._fill(url, count))
    return time.perf_counter() - t0


def _result(proc: Any, queue: Any) -> Any:
    """What a child process reports, or RuntimeError when it dies before it does."""
    import queue as queues

    while True:
        try:
            return queue.get(timeout=5)
        except queues.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{proc.name} exited ({proc.exitcode}) without a result") from None


# --- the run --------------------------------------------------------------------------------------------------------


def main() -> None:
    from bench import hubproc

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=500_000)
    p.add_argument("--operators", type=int, default=10)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--own-locations", type=int, default=0, help="the hub's own Locations to compare with (default: as many as pulled)")
    p.add_argument("--page-cache-mb", type=int, default=64, help="HUB_PAGE_CACHE_MB of `hub serve` for the load (half for Locations)")
    p.add_argument("--no-load", action="store_true", help="skip the OCPI GET-all comparison")
    p.add_argument("--profile", action="store_true", help="run the pull under cProfile and print its top entries")
    args = p.parse_args()
    if not 1 <= args.operators <= 99 or args.records < args.operators:
        p.error("--operators: 1 to 99 (DE*A01 ... DE*A99), and no more than --records")
    ctx = multiprocessing.get_context("spawn")

    report, stop = ctx.Queue(), ctx.Event()
    standin = ctx.Process(target=_standin_process, args=(args.records, args.operators, hubproc.free_port(), report, stop))
    standin.start()
    rows: list[tuple[str, dict[str, Any]]] = []
    loads: list[tuple[str, str, int, dict[str, Any]]] = []
    fills: dict[str, float] = {}
    try:
        ready = _result(standin, report)
        print(f"stand-in: {ready['records']} EVSE records of {args.operators} operators generated in "
              f"{ready['generated_s']:.1f} s (once for the run), stand-in RSS {ready['rss_kb'] / 1024:.0f} MB", flush=True)
        decoded = asyncio.run(_decode_only(ready["url"]))
        print(f"decode-only: {decoded['pages']} pages, {decoded['records']} records, {decoded['bytes'] / 1e6:.0f} MB: "
              f"decode {decoded['decode_s']:.2f} s, fetch (stand-in + HTTP) {decoded['fetch_s']:.2f} s", flush=True)
        for backend in args.backends.split(","):
            with hubproc.database(backend) as url:
                out = ctx.Queue()
                puller = ctx.Process(target=_pull_process, args=(url, ready["url"], args.profile, out))
                puller.start()
                pulled = _result(puller, out)
                puller.join()
                rows.append((backend, pulled))
                print(f"{backend}: pulled {pulled['taken']} records in {pulled['wall_s']:.1f} s", flush=True)
                if pulled["profile"]:
                    print(pulled["profile"], flush=True)
                if args.no_load:
                    continue
                count = min(args.own_locations or pulled["locations"], pulled["locations"])
                loads.append((backend, "Hubject", count, _ocpi_load(ctx, url, count, args)))
            if args.no_load:
                continue
            with hubproc.database(backend) as url:
                fills[backend] = _fill_own(url, count)
                print(f"{backend}: {count} own Locations generated in {fills[backend]:.1f} s", flush=True)
                loads.append((backend, "own", count, _ocpi_load(ctx, url, count, args)))
    finally:
        stop.set()
        try:
            done = report.get(timeout=30)
        except Exception:  # noqa: BLE001 (the stand-in did not start, or died)
            done = {}
        standin.join(30)
        if standin.is_alive():
            standin.kill()

    print(f"\nPullEvseData full, {args.records} records of {args.operators} operators, pages of {PAGE_SIZE}; the hub "
          "started without its dispatcher (serve=False: no eMSP here needs pushes)")
    print(f"decode-only (msgspec -> wire.EvseDataPage, page by page): {decoded['decode_s']:.2f} s "
          f"({decoded['records'] / decoded['decode_s']:.0f} records/s); fetching the pages took {decoded['fetch_s']:.2f} s")
    print(f"{'backend':<11}{'wall s':>8}{'records/s':>11}{'taken':>9}{'Locations':>11}{'EVSEs':>9}"
          f"{'RSS before MB':>15}{'peak RSS MB':>13}{'pull/decode':>13}{'loop stall ms p99/max':>23}")
    for backend, r in rows:
        ratio = r["wall_s"] / decoded["decode_s"]
        print(f"{backend:<11}{r['wall_s']:>8.1f}{r['taken'] / r['wall_s']:>11.0f}{r['taken']:>9}{r['locations']:>11}"
              f"{r['evses']:>9}{r['rss_before_kb'] / 1024:>15.0f}{r['rss_after_kb'] / 1024:>13.0f}{ratio:>12.1f}x"
              f"{r['stall_p99_ms']:>15.0f} / {r['stall_max_ms']:.0f}")
        sync = r["sync"]
        if not sync["ok"] or sync["detail"]:
            print(f"  sync recorded: ok={sync['ok']} count={sync['count']} {sync['detail']}")
    print(f"targets: pull within {RATIO_TARGET:g}x decode-only, peak RSS < {RSS_TARGET_MB} MB"
          + ("   (--profile: wall times include cProfile's overhead)" if args.profile else ""))
    if done.get("violations"):
        print(f"the stand-in saw violations: {done['violations']}")
    if loads:
        print(f"\nGET /ocpi/2.2.1/sender/locations?limit=100 at random offsets, {args.connections} keep-alive connections, "
              f"{args.seconds:g} s, `hub serve` with HUB_PAGE_CACHE_MB={args.page_cache_mb} (half of it for Locations)")
        for backend, seconds in fills.items():
            print(f"{backend}: the hub's own Locations (fixtures/generate.py) were generated and stored in {seconds:.1f} s")
        if args.own_locations and any(c < r["locations"] for (_, r), (_, _, c, _) in zip(rows, loads, strict=False)):
            print("(--own-locations below the pulled count: the Hubject load pages over its first N Locations only)")
        print(f"{'backend':<11}{'Locations':<10}{'count':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}"
              f"{'errors':>8}{'page bytes':>12}")
        for backend, kind, count, r in loads:
            print(f"{backend:<11}{kind:<10}{count:>8}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                  f"{r['requests']:>10}{r['errors']:>8}{r['page_bytes']:>12}")


if __name__ == "__main__":
    main()
