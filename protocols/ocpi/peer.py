"""Calls from the hub to OCPI parties of any version: tokens, request ids, envelopes, pagination.

Each version's client adds its version negotiation and endpoint discovery, and decodes with its own wire types.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from hub.model import PartyId
from hub.outbound import Busy, Forbidden, Outbound, OutboundError, Response, Timeout
from hub.services import errors
from hub.services.directory import Platform
from hub.services.dispatch import Delivery
from protocols.ocpi import transport as t
from protocols.ocpi.transport import OcpiError

if TYPE_CHECKING:
    from hub.core import Core

log = logging.getLogger(__name__)

_RUN, _COUNT = os.urandom(6).hex(), itertools.count()


def new_request_id() -> str:
    """Unique per request, cheaply: this process's random prefix and a counter (the outbox sends thousands a second)."""
    return f"{_RUN}{next(_COUNT):010x}"


class PeerError(Exception):
    """A peer could not be used: unreachable, or it answered outside the protocol. `public` is what may be told
    to the party itself: nothing that would make the hub a probe of networks (refused, timed out, closed)."""

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


def unreachable(what: str, exc: OutboundError) -> PeerError:
    if isinstance(exc, Forbidden):
        return PeerError(f"{what}: {exc}")
    return PeerError(f"{what}: {type(exc).__name__}: {exc}", f"{what}: the request failed")


def join(base: str, *parts: str) -> str:
    """Endpoint templates are written with and without slashes: join with exactly one."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])


class PeerClient:
    """OCPI calls through the hub's one guarded outbound client (hub/outbound.py); `decode(data, type)` is the
    version's wire decoder."""

    def __init__(self, hub_party: PartyId, outbound: Outbound, decode: Callable[[Any, Any], Any], timeout: float = 10.0) -> None:
        self.hub_party = hub_party
        self.outbound = outbound
        self.decode = decode
        self.timeout = timeout

    async def call(
        self, method: str, url: str, token: str, codec: str = "base64", *, body: bytes | None = None,
        from_party: PartyId | None = None, to_party: PartyId | None = None, request_id: str | None = None,
        correlation_id: str | None = None, params: dict[str, str] | None = None, timeout: float | None = None,
    ) -> Response:
        request_id = request_id or new_request_id()
        headers = {
            "Authorization": t.authorization(token, codec),
            "X-Request-ID": request_id,
            "X-Correlation-ID": correlation_id or request_id,
            **t.party_headers(from_party, to_party),
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        return await self.outbound.request(method, url, content=body, headers=headers, params=params, timeout=timeout or self.timeout)

    async def to_platform(self, platform: Platform, method: str, url: str, **kwargs: Any) -> Response:
        if not platform.row.token_out:
            raise PeerError(f"no token for platform {platform.row.name}")
        return await self.call(method, url, platform.row.token_out, platform.row.header_codec, **kwargs)

    async def get_data(self, url: str, token: str, codec: str, type_: Any) -> Any:
        """GET an envelope and decode its data; PeerError when it cannot be used."""
        try:
            response = await self.call("GET", url, token, codec)
        except OutboundError as exc:
            raise unreachable(f"GET {url}", exc) from exc
        return self.data(response, type_, f"GET {url}")

    def data(self, response: Response, type_: Any, what: str) -> Any:
        if response.status_code >= 300:
            raise PeerError(f"{what}: HTTP {response.status_code}")
        try:
            env = t.envelope_decoder.decode(response.content)
        except msgspec.DecodeError as exc:
            raise PeerError(f"{what}: not an OCPI envelope: {exc}") from exc
        if env.status_code >= 2000 or not env.has_data:
            raise PeerError(f"{what}: OCPI {env.status_code} {env.status_message or ''}".strip())
        try:
            return self.decode(env.data, type_)
        except msgspec.ValidationError as exc:
            raise PeerError(f"{what}: {exc}") from exc

    async def detect_codec(self, url: str, token: str, first: str = "base64") -> str:
        """The token header the peer takes: `first`, else the other form (2.1.1 peers expect the raw token, 2.2.1
        ones Base64, and many of each do the other); raises PeerError if neither works."""
        for codec in (first, "raw" if first == "base64" else "base64"):
            try:
                response = await self.call("GET", url, token, codec)
            except OutboundError as exc:
                raise unreachable(f"GET {url}", exc) from exc
            if response.status_code != 401:
                return codec
        raise PeerError(f"GET {url}: the token is refused (tried Base64 and raw)")

    async def versions(self, versions_url: str, token: str, first_codec: str) -> tuple[str, dict[str, str]]:
        """(header codec, version -> details URL) of a peer's versions endpoint."""
        codec = await self.detect_codec(versions_url, token, first_codec)
        offered = await self.get_data(versions_url, token, codec, list[_Version])
        return codec, {v.version: v.url for v in offered}

    async def paginate(
        self, platform: Platform, url: str, params: dict[str, str] | None = None, page_size: int = 100,
        from_party: PartyId | None = None, to_party: PartyId | None = None,
    ) -> AsyncIterator[msgspec.Raw]:
        """Every object of a Sender list, following `Link: <...>; rel="next"` until none is left."""
        next_url: str | None = url
        query: dict[str, str] | None = {**(params or {}), "limit": str(page_size)}
        while next_url:
            response = await self.to_platform(platform, "GET", next_url, params=query, from_party=from_party, to_party=to_party)
            for item in self.data(response, list[msgspec.Raw], f"GET {next_url}"):
                yield item
            next_url, query = _next_link(response.headers.get("link")), None


def outcome(response: Response) -> Delivery:
    """How the dispatcher should treat a receiver's answer."""
    status = response.status_code
    if status >= 500 or status == 429:
        return Delivery("retry", f"HTTP {status}")
    if status >= 300:
        return Delivery("refused", f"HTTP {status}")
    try:
        env = t.envelope_decoder.decode(response.content)
    except msgspec.DecodeError:
        return Delivery("refused", f"HTTP {status}, not an OCPI envelope")
    detail = f"OCPI {env.status_code} {env.status_message or ''}".strip()
    if env.status_code < 2000:
        return Delivery("ok", detail)
    if env.status_code < 3000:
        return Delivery("refused", detail)
    return Delivery("retry", detail)  # 3xxx server trouble, 4xxx a hub further on


async def send(client: PeerClient, platform: Platform, method: str, url: str, **kwargs: Any) -> Delivery:
    """One outbox delivery: the receiver's answer as the dispatcher takes it."""
    try:
        response = await client.to_platform(platform, method, url, **kwargs)
    except Busy as exc:  # the hub's own budget for this destination is in use: not the party's failure
        return Delivery("busy", str(exc))
    except OutboundError as exc:
        return Delivery("retry", f"{type(exc).__name__}: {exc}")
    return outcome(response)


async def alive(client: PeerClient, platform: Platform) -> bool:
    """The still-alive check of an OFFLINE party: its versions endpoint answers (in any version)."""
    if not platform.row.versions_url or not platform.row.token_out:
        return False
    try:
        await client.get_data(platform.row.versions_url, platform.row.token_out, platform.row.header_codec, list[_Version])
        return True
    except Exception:
        return False


async def ask(client: PeerClient, core: Core, platform: Platform, url: str, body: bytes, type_: Any, what: str, **kwargs: Any) -> Any:
    """A POST whose answer the hub waits for (a command's synchronous answer), decoded; the hub's errors on trouble
    (the party's health hears of a failure)."""
    timeout = core.settings.forward_timeout
    try:
        response = await client.to_platform(platform, "POST", url, body=body, timeout=timeout, **kwargs)
    except Timeout as exc:
        raise errors.ReceiverTimeout(f"{what}: no answer within {timeout:g} s") from exc
    except OutboundError as exc:
        await core.dispatcher.health.failed(platform.id, f"{type(exc).__name__}: {exc}")
        raise errors.ReceiverOffline(f"{what}: cannot be reached") from exc
    try:
        return client.data(response, type_, what)
    except PeerError as exc:
        raise errors.HubError(str(exc)) from exc


async def usable_endpoints(outbound: Outbound, discover: Awaitable[tuple[str, list[Any]]], versions_url: str) -> tuple[str, list[Any]]:
    """(header codec, endpoints) of a registering peer, every one a URL the hub may call. The answer to the peer says
    what went wrong in general terms only: the handshake must not become a way to probe networks."""
    try:
        codec, endpoints = await discover
        for url in sorted({e.url for e in endpoints}):
            await outbound.verify(url)
    except Forbidden as exc:
        raise OcpiError(200, t.UNABLE_TO_USE_CLIENT_API, f"cannot use your API: {exc}") from exc
    except PeerError as exc:
        log.info("registration: cannot use %s: %s", versions_url, exc)
        code = t.UNSUPPORTED_VERSION if "no common version" in str(exc) else t.UNABLE_TO_USE_CLIENT_API
        raise OcpiError(200, code, f"cannot use your API: {exc.public}") from exc
    if not endpoints:
        raise OcpiError(200, t.NO_MATCHING_ENDPOINTS, "your version details list no endpoints")
    return codec, endpoints


async def registration_target(outbound: Outbound, discover: Awaitable[tuple[str, list[Any]]], versions_url: str) -> tuple[str, list[Any], str]:
    """(header codec, endpoints, credentials URL) of a peer the hub registers with; PeerError when it cannot."""
    try:
        codec, endpoints = await usable_endpoints(outbound, discover, versions_url)
    except OcpiError as exc:
        raise PeerError(exc.message) from exc
    credentials_url = next((e.url for e in endpoints if e.identifier == "credentials"), None)
    if credentials_url is None:
        raise PeerError("the peer lists no credentials endpoint")
    return codec, endpoints, credentials_url


class _Version(msgspec.Struct):
    """An entry of a versions list: the same in every OCPI version."""

    version: str
    url: str


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel.replace(" ", "") or "rel=next" in rel.replace(" ", ""):
            return url.strip().strip("<>")
    return None
