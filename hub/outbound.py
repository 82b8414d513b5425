"""Every call the hub makes to others goes through here: one guarded HTTP client.

What a hostile or broken peer could do with the URLs it gives the hub, and what stops it:
- make the hub read or scan internal services (its versions URL, endpoints, a response_url pointing at
  loopback, a private network or a cloud metadata address): the host is resolved here, every address is
  checked, and the connection goes to the address that was checked (no second lookup to rebind). Private,
  loopback, link-local and other non-global addresses are refused unless `ocpi_allow_private` is set;
- make the hub call itself, so that one request fans out into hub-to-hub calls: the hub's own origin and
  ports are never a destination;
- answer with an endless or huge body: responses are read up to `outbound_max_response_bytes`;
- redirect the hub elsewhere: redirects are never followed;
- be slow, so that calls to it pile up and hold what everyone shares: each destination (scheme, host,
  port) is a lane with its own connections, at most `outbound_concurrency` requests in flight and
  `outbound_queue` waiting; beyond that a call fails at once with `Busy`, and a slow lane never takes
  anything from another.
Identical questions asked while one is in flight share its answer (`Coalescer`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpcore
import httpx

log = logging.getLogger(__name__)

T = TypeVar("T")
Origin = tuple[str, str, int]

LANE_IDLE_SECONDS = 300.0  # a destination unused this long gives its connections back
REFUSED = "refused by the hub's outbound policy: "  # how a refused address reads once httpx has wrapped it


class Forbidden(httpx.TransportError):
    """The destination is not one the hub may call (private address, the hub itself, not HTTP)."""


def refused(exc: BaseException) -> str | None:
    """Why the outbound policy refused a call, when that is what `exc` is."""
    if isinstance(exc, Forbidden):
        return str(exc)
    text = str(exc)
    return text.split(REFUSED, 1)[1] if REFUSED in text else None


class Busy(httpx.TimeoutException):
    """The destination already has as many calls in flight and waiting as it is allowed."""


class TooLarge(httpx.TransportError):
    """The response is larger than the hub reads."""


def origin(url: str) -> Origin:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise Forbidden(f"not an http(s) URL: {url[:100]!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Forbidden(f"bad port in {url[:100]!r}") from None
    return scheme, parts.hostname.lower().rstrip("."), port


def public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None) or ip
    return mapped.is_global and not mapped.is_multicast


class Policy:
    """Which destinations the hub may call."""

    def __init__(self, allow_private: bool, own_urls: Iterable[str], own_ports: Iterable[int]) -> None:
        self.allow_private = allow_private
        self.own_origins = {origin(u) for u in own_urls if u}
        self.own_ports = {p for p in own_ports if p}
        self.local_ips = _local_addresses()

    def check_url(self, url: str) -> Origin:
        o = origin(url)
        if o in self.own_origins:
            raise Forbidden("the hub's own URL cannot be a peer's")
        return o

    def check_address(self, ip_text: str, port: int) -> None:
        ip = ipaddress.ip_address(ip_text.split("%")[0])
        local = ip.is_loopback or ip.is_unspecified or ip_text in self.local_ips
        if local and port in self.own_ports:
            raise Forbidden("the hub cannot call itself")
        if not self.allow_private and not public_address(ip):
            raise Forbidden(f"{ip_text} is not a public address (HUB_OCPI_ALLOW_PRIVATE allows it)")


def _local_addresses() -> set[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return set()
    return {str(info[4][0]) for info in infos}


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, checks every address, and connects to one that passed."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        try:
            for address in addresses:  # all must pass: a name with one private answer is refused
                self.policy.check_address(address, port)
        except Forbidden as exc:
            raise httpcore.ConnectError(f"{REFUSED}{exc}") from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not destinations")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _Transport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: Policy, connections: int) -> None:
        super().__init__(limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections), trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=self._pool._ssl_context, max_connections=connections, max_keepalive_connections=connections,
            keepalive_expiry=60.0, network_backend=_CheckedBackend(policy),
        )


class Lane:
    """One destination: its own connections, its own budget."""

    def __init__(self, policy: Policy, concurrency: int, queue: int) -> None:
        self.client = httpx.AsyncClient(transport=_Transport(policy, concurrency), follow_redirects=False, trust_env=False)
        self.slots = asyncio.Semaphore(concurrency)
        self.queue = queue
        self.waiting = 0
        self.last_used = time.monotonic()

    async def acquire(self, timeout: float) -> None:
        self.last_used = time.monotonic()
        if self.slots.locked():
            if self.waiting >= self.queue:
                raise Busy("too many calls to this destination in flight")
            self.waiting += 1
            try:
                await asyncio.wait_for(self.slots.acquire(), timeout)
            except asyncio.TimeoutError:
                raise Busy("no free slot for this destination in time") from None
            finally:
                self.waiting -= 1
        else:
            await self.slots.acquire()


class Outbound:
    def __init__(self, policy: Policy, *, max_response_bytes: int, concurrency: int = 16, queue: int = 64,
                 timeout: float = 10.0) -> None:
        self.policy = policy
        self.max_response_bytes = max_response_bytes
        self.concurrency = concurrency
        self.queue = queue
        self.timeout = timeout
        self.lanes: dict[Origin, Lane] = {}

    def check(self, url: str) -> None:
        """Raises Forbidden for a URL the hub would refuse to call (the address is checked when connecting)."""
        self.policy.check_url(url)

    async def verify(self, url: str) -> None:
        """Raises Forbidden unless the hub may call this URL: its origin, and every address its host has now."""
        _, host, port = self.policy.check_url(url)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise Forbidden(f"{host} cannot be resolved") from exc
        for info in infos:
            self.policy.check_address(str(info[4][0]), port)

    def lane(self, url: str) -> Lane:
        key = self.policy.check_url(url)
        lane = self.lanes.get(key)
        if lane is None:
            self._sweep()
            lane = self.lanes[key] = Lane(self.policy, self.concurrency, self.queue)
        return lane

    async def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, content: bytes | None = None,
                      params: dict[str, str] | None = None, timeout: float | None = None) -> httpx.Response:
        """The response with its body read (at most max_response_bytes); httpx errors, Forbidden, Busy, TooLarge."""
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        lane = self.lane(url)
        await lane.acquire(timeout)
        try:
            left = max(0.05, deadline - time.monotonic())
            request = lane.client.build_request(method, url, headers=headers, content=content, params=params,
                                                timeout=httpx.Timeout(left, connect=min(left, 5.0)))
            response = await lane.client.send(request, stream=True)
            try:
                body = await self._read(response)
            finally:
                await response.aclose()
        finally:
            lane.slots.release()
            lane.last_used = time.monotonic()
        headers = [(k, v) for k, v in response.headers.multi_items() if k not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)  # body already decoded

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise TooLarge(f"response of {declared} bytes (the hub reads at most {self.max_response_bytes})")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise TooLarge(f"response larger than {self.max_response_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _sweep(self) -> None:
        cutoff = time.monotonic() - LANE_IDLE_SECONDS
        for key, lane in list(self.lanes.items()):
            if lane.last_used < cutoff and not lane.slots.locked() and lane.waiting == 0:
                del self.lanes[key]
                asyncio.get_running_loop().create_task(lane.client.aclose())

    async def aclose(self) -> None:
        lanes, self.lanes = list(self.lanes.values()), {}
        for lane in lanes:
            await lane.client.aclose()


class Coalescer:
    """Identical questions asked while one is in flight wait for its answer instead of asking again."""

    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Future] = {}

    async def run(self, key: Hashable, ask: Callable[[], Awaitable[T]]) -> T:
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(ask())
            self._inflight[key] = future
            future.add_done_callback(lambda f: self._done(key, f))
        # one waiter giving up (a timeout) must not cancel the question for the others
        return await asyncio.shield(future)

    def _done(self, key: Hashable, future: asyncio.Future) -> None:
        self._inflight.pop(key, None)
        if not future.cancelled():
            future.exception()  # retrieved: every waiter may have given up already
