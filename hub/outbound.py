"""Every call the hub makes to others goes through here: one guarded HTTP/1.1 client.

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
  port) is a lane with its own keep-alive connections, at most `outbound_concurrency` requests in flight and
  `outbound_queue` waiting; beyond that a call fails at once with `Busy`, and a slow lane never takes
  anything from another.
Identical questions asked while one is in flight share its answer (`Coalescer`).

The client is small on purpose: requests are written as bytes and answers parsed by httptools (the C parser
uvicorn uses) on plain asyncio connections, which moves about 80 times more requests per second than httpx
on this kind of machine, and the outbox pushes thousands per second.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TypeVar
from urllib.parse import quote, urlencode, urlsplit

import httptools

log = logging.getLogger(__name__)

T = TypeVar("T")
Origin = tuple[str, str, int]

LANE_IDLE_SECONDS = 300.0  # a destination unused this long gives its connections back
CONNECTION_IDLE_SECONDS = 30.0  # a kept-alive connection unused this long is closed (servers close theirs too)
CONNECT_TIMEOUT = 5.0
METADATA = frozenset({"169.254.169.254", "fd00:ec2::254", "100.100.100.200"})  # cloud instance metadata services


class OutboundError(Exception):
    """A call could not be made or answered."""


class Unreachable(OutboundError):
    """No connection, or it broke before the answer was complete."""


class Forbidden(Unreachable):
    """The destination is not one the hub may call (private address, the hub itself, not HTTP)."""


class Timeout(OutboundError):
    """No complete answer in time."""


class Busy(Timeout):
    """The destination already has as many calls in flight and waiting as it is allowed."""


class TooLarge(OutboundError):
    """The response is larger than the hub reads."""


class BadResponse(OutboundError):
    """The answer is not HTTP."""


class Headers(dict[str, str]):
    """Response headers by lower-case name (repeated ones joined with ', ')."""


class Response:
    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: Headers, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


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

    def __init__(self, allow_private: bool, own_urls: Iterable[str], own_ports: Iterable[int], link_local: bool = True) -> None:
        """`link_local`: may `allow_private` reach link-local addresses too (cloud metadata services live there)."""
        self.allow_private = allow_private
        self.link_local = link_local
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
        mapped = getattr(ip, "ipv4_mapped", None) or ip
        if not self.link_local and (mapped.is_link_local or ip_text in METADATA):
            raise Forbidden(f"{ip_text} is a link-local or metadata address")
        if not self.allow_private and not public_address(ip):
            raise Forbidden(f"{ip_text} is not a public address (the hub's *_ALLOW_PRIVATE setting allows it)")

    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address of `host`, all checked: a name with one forbidden answer is refused."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise Unreachable(f"cannot resolve {host}: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            self.check_address(address, port)
        return addresses


def _local_addresses() -> set[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return set()
    return {str(info[4][0]) for info in infos}


# --- one connection ------------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection: one request at a time, the answer parsed as it arrives."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.headers = Headers()
        self.chunks: list[bytes] = []
        self.size = 0
        self.headers_done = False
        self.keep_alive = False
        self.open = True
        self.idle_since = time.monotonic()

    # protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        delimited = "content-length" in self.headers or "chunked" in self.headers.get("transfer-encoding", "")
        if self.headers_done and not delimited:  # an answer that ends when the connection does
            self.on_message_complete()
        self._fail(Unreachable("the connection closed before the answer was complete"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(BadResponse("the answer asks for a protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(BadResponse(f"not an HTTP answer: {exc}"))

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        self.headers_done = True
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            self._fail(TooLarge(f"response of {declared} bytes (the hub reads at most {self.max_bytes})"))

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_bytes:
            self._fail(TooLarge(f"response larger than {self.max_bytes} bytes"))
        else:
            self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # (only known here: the parser resets after the message)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
            self.close()

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()

    # use
    async def exchange(self, raw: bytes, deadline: float) -> Response:
        """Send `raw` and read the answer, by `deadline` (loop time) or Timeout (one timer, no task)."""
        self.headers, self.chunks, self.size, self.headers_done = Headers(), [], 0, False
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        timer = loop.call_at(deadline, self._fail, Timeout("no complete answer in time"))
        assert self.transport is not None
        self.transport.write(raw)
        try:
            status = await self.waiter
        finally:
            timer.cancel()
            self.waiter = None
        if not self.keep_alive:
            self.close()
        self.idle_since = time.monotonic()
        return Response(status, self.headers, _decoded(self.headers, b"".join(self.chunks), self.max_bytes))


def _decoded(headers: Headers, body: bytes, max_bytes: int) -> bytes:
    """The hub asks for no compression; a server that compresses all the same is read within the same cap."""
    encoding = headers.pop("content-encoding", "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding not in ("gzip", "deflate"):
        raise BadResponse(f"unsupported content-encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise BadResponse(f"bad {encoding} body: {exc}") from None
    if len(out) > max_bytes:
        raise TooLarge(f"response larger than {max_bytes} bytes once decompressed")
    return out


# --- one destination ----------------------------------------------------------------------------------


class Lane:
    """One destination: its own connections, its own budget."""

    def __init__(self, origin_: Origin, policy: Policy, concurrency: int, queue: int, max_bytes: int,
                 tls: ssl.SSLContext | None) -> None:
        self.scheme, self.host, self.port = origin_
        self.policy = policy
        self.max_bytes = max_bytes
        self.tls = tls if self.scheme == "https" else None
        self.slots = asyncio.Semaphore(concurrency)
        self.queue = queue
        self.waiting = 0
        self.idle: list[_Connection] = []
        self.last_used = time.monotonic()
        host_header = self.host if ":" not in self.host else f"[{self.host}]"
        default = 443 if self.scheme == "https" else 80
        self.host_header = (host_header if self.port == default else f"{host_header}:{self.port}").encode("idna")

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

    async def _connect(self, timeout: float) -> _Connection:
        addresses = await self.policy.resolve(self.host, self.port)
        loop = asyncio.get_running_loop()
        last: Exception | None = None
        for address in addresses:
            try:
                _, conn = await asyncio.wait_for(loop.create_connection(
                    lambda: _Connection(self.max_bytes), address, self.port, ssl=self.tls,
                    server_hostname=self.host if self.tls else None), min(timeout, CONNECT_TIMEOUT))
                return conn
            except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
                last = exc
        raise Unreachable(f"cannot connect to {self.host}:{self.port}: {type(last).__name__}: {last}")

    async def send(self, raw: bytes, timeout: float) -> Response:
        """One request on a kept-alive connection (a stale one, closed by the server while idle, is replaced
        once: nothing of the request can have been read then) or a new one."""
        deadline = time.monotonic() + timeout
        while self.idle:
            conn = self.idle.pop()
            if not conn.open or time.monotonic() - conn.idle_since > CONNECTION_IDLE_SECONDS:
                conn.close()
                continue
            try:
                return await self._exchange(conn, raw, deadline)
            except Unreachable:
                if conn.size or conn.headers:
                    raise  # it had begun to answer: not stale
        return await self._exchange(await self._connect(max(0.05, deadline - time.monotonic())), raw, deadline)

    async def _exchange(self, conn: _Connection, raw: bytes, deadline: float) -> Response:
        loop = asyncio.get_running_loop()
        try:
            response = await conn.exchange(raw, loop.time() + max(0.05, deadline - time.monotonic()))
        except Timeout:
            raise Timeout(f"{self.host}:{self.port} did not answer in time") from None
        except BaseException:
            conn.close()
            raise
        if conn.open:
            self.idle.append(conn)
        return response

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle = []


# --- the client ----------------------------------------------------------------------------------------


class Outbound:
    def __init__(self, policy: Policy, *, max_response_bytes: int, concurrency: int = 16, queue: int = 64,
                 timeout: float = 10.0, tls: ssl.SSLContext | None = None) -> None:
        self.policy = policy
        self.max_response_bytes = max_response_bytes
        self.concurrency = concurrency
        self.queue = queue
        self.timeout = timeout
        self.tls = tls or ssl.create_default_context()
        self.lanes: dict[Origin, Lane] = {}

    async def verify(self, url: str) -> None:
        """Raises Forbidden unless the hub may call this URL: its origin, and every address its host has now."""
        _, host, port = self.policy.check_url(url)
        try:
            await self.policy.resolve(host, port)
        except Unreachable as exc:
            if isinstance(exc, Forbidden):
                raise
            raise Forbidden(str(exc)) from None

    def lane(self, url: str) -> Lane:
        key = self.policy.check_url(url)
        lane = self.lanes.get(key)
        if lane is None:
            self._sweep()
            lane = self.lanes[key] = Lane(key, self.policy, self.concurrency, self.queue, self.max_response_bytes, self.tls)
        return lane

    async def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, content: bytes | None = None,
                      params: dict[str, str] | None = None, timeout: float | None = None) -> Response:
        """The response with its body read (at most max_response_bytes). Raises an OutboundError."""
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        lane = self.lane(url)
        raw = _request_bytes(method, url, lane.host_header, headers, content, params)
        await lane.acquire(timeout)
        try:
            return await lane.send(raw, max(0.05, deadline - time.monotonic()))
        finally:
            lane.slots.release()
            lane.last_used = time.monotonic()

    def _sweep(self) -> None:
        cutoff = time.monotonic() - LANE_IDLE_SECONDS
        for key, lane in list(self.lanes.items()):
            if lane.last_used < cutoff and not lane.slots.locked() and lane.waiting == 0:
                del self.lanes[key]
                lane.close()

    async def aclose(self) -> None:
        lanes, self.lanes = list(self.lanes.values()), {}
        for lane in lanes:
            lane.close()


def _request_bytes(method: str, url: str, host: bytes, headers: dict[str, str] | None, content: bytes | None,
                   params: dict[str, str] | None) -> bytes:
    parts = urlsplit(url)
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~-._")
    query = "&".join(q for q in (quote(parts.query, safe="/%:@!$&'()*+,;=~-._?"), urlencode(params) if params else "") if q)
    if query:
        target = f"{target}?{query}"
    if any(c in target for c in "\r\n "):
        raise Forbidden("a URL with spaces or line breaks")
    lines = [f"{method} {target} HTTP/1.1".encode("latin-1"), b"Host: " + host]
    for name, value in (headers or {}).items():
        if "\r" in value or "\n" in value:
            raise Forbidden(f"header {name} with a line break")
        lines.append(f"{name}: {value}".encode("latin-1"))
    body = content or b""
    if content is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Accept-Encoding: identity")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


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
