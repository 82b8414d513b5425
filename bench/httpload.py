"""A cheap HTTP/1.1 load generator: N keep-alive connections, each sending its next request as soon as the
previous answer is in. Requests are pre-built bytes; responses are parsed only as far as Content-Length.

Run in its own process so that it does not share the hub's interpreter.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None


class Result:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.elapsed = 0.0

    def summary(self) -> dict[str, float]:
        lat = sorted(self.latencies)
        n = len(lat)
        pick = (lambda q: lat[min(n - 1, int(n * q))] * 1000) if n else (lambda q: float("nan"))
        return {"requests": n, "errors": self.errors, "rps": n / self.elapsed if self.elapsed else 0.0,
                "p50_ms": pick(0.50), "p99_ms": pick(0.99)}


async def _worker(host: str, port: int, make: Callable[[], bytes], stop: float, result: Result, ok_status: bytes) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            writer.write(make())
            head = await reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            i = lower.find(b"content-length:")
            body = await reader.readexactly(int(head[i + 15 : head.index(b"\r\n", i)]))
            result.latencies.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 " + ok_status) or b'"status_code":1000' not in body:
                result.errors += 1
    finally:
        writer.close()


async def _run(host: str, port: int, make: Callable[[], bytes], connections: int, seconds: float, warmup: float) -> Result:
    if warmup:
        await _run_for(host, port, make, connections, warmup)
    return await _run_for(host, port, make, connections, seconds)


async def _run_for(host: str, port: int, make: Callable[[], bytes], connections: int, seconds: float) -> Result:
    result = Result()
    start = time.perf_counter()
    stop = start + seconds
    await asyncio.gather(*(_worker(host, port, make, stop, result, b"200") for _ in range(connections)))
    result.elapsed = time.perf_counter() - start
    return result


def get_requests(host: str, port: int, paths: list[str], headers: dict[str, str], seed: int = 1) -> Callable[[], bytes]:
    """A request maker that picks one of the pre-built GETs at random."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    built = [f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode() for p in paths]
    rng = random.Random(seed)
    return lambda: built[rng.randrange(len(built))]


def run(host: str, port: int, make: Callable[[], bytes], connections: int = 16, seconds: float = 20.0, warmup: float = 2.0) -> dict:
    if uvloop is not None:
        uvloop.install()
    return asyncio.run(_run(host, port, make, connections, seconds, warmup)).summary()
