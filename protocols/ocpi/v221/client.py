"""Calls from the hub to OCPI 2.2.1 parties: registration, forwarding, pushes, paginated pulls."""

from __future__ import annotations

import logging
import itertools
import os
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import msgspec

from hub.model import PartyId
from hub.outbound import Forbidden, Outbound, OutboundError, Response
from hub.services.directory import Platform
from protocols.ocpi import transport as t
from protocols.ocpi.v221 import wire

log = logging.getLogger(__name__)

VERSION = "2.2.1"
# OCPI module identifier -> the canonical kind the hub pushes or pulls through it
MODULE_KIND = {
    "locations": "location", "tariffs": "tariff", "tokens": "token", "sessions": "session", "cdrs": "cdr",
    "hubclientinfo": "clientinfo", "commands": "command", "chargingprofiles": "chargingprofile",
}
KIND_MODULE = {v: k for k, v in MODULE_KIND.items()} | {"evse": "locations", "connector": "locations"}


_RUN, _COUNT = os.urandom(6).hex(), itertools.count()


def _request_id() -> str:
    """Unique per request, cheaply: this process's random prefix and a counter (the outbox sends thousands a second)."""
    return f"{_RUN}{next(_COUNT):010x}"


class PeerError(Exception):
    """A peer could not be used: unreachable, or it answered outside the protocol. `public` is what may be told
    to the party itself: nothing that would make the hub a probe of networks (refused, timed out, closed)."""

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


def _unreachable(what: str, exc: OutboundError) -> PeerError:
    if isinstance(exc, Forbidden):
        return PeerError(f"{what}: {exc}")
    return PeerError(f"{what}: {type(exc).__name__}: {exc}", f"{what}: the request failed")


@lru_cache(maxsize=512)
def _endpoint_map(endpoints_json: str | None) -> dict[tuple[str, str], str]:
    if not endpoints_json:
        return {}
    return {(e["identifier"], e["role"]): e["url"].rstrip("/") for e in msgspec.json.decode(endpoints_json)}


def endpoint(platform: Platform, module: str, role: str) -> str | None:
    return _endpoint_map(platform.row.endpoints).get((module, role))


def capabilities(endpoints: list[wire.Endpoint]) -> tuple[set[str], set[str]]:
    """(kinds the party receives pushes of, kinds the hub can pull from it)."""
    receives = {MODULE_KIND[e.identifier] for e in endpoints if e.role == "RECEIVER" and e.identifier in MODULE_KIND}
    serves = {MODULE_KIND[e.identifier] for e in endpoints if e.role == "SENDER" and e.identifier in MODULE_KIND}
    return receives, serves


def join(base: str, *parts: str) -> str:
    """Endpoint templates are written with and without slashes: join with exactly one."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])


class OcpiClient:
    """OCPI calls through the hub's one guarded outbound client (hub/outbound.py)."""

    def __init__(self, hub_party: PartyId, outbound: Outbound, timeout: float = 10.0) -> None:
        self.hub_party = hub_party
        self.outbound = outbound
        self.timeout = timeout

    # --- raw calls -----------------------------------------------------------------------------

    async def call(
        self, method: str, url: str, token: str, codec: str = "base64", *, body: bytes | None = None,
        from_party: PartyId | None = None, to_party: PartyId | None = None, request_id: str | None = None,
        correlation_id: str | None = None, params: dict[str, str] | None = None, timeout: float | None = None,
    ) -> Response:
        request_id = request_id or _request_id()
        headers = {
            "Authorization": t.authorization(token, codec),
            "X-Request-ID": request_id,
            "X-Correlation-ID": correlation_id or request_id,
            **t.party_headers(from_party, to_party),
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        return await self.outbound.request(method, url, content=body, headers=headers, params=params, timeout=timeout or self.timeout)

    async def to_platform(
        self, platform: Platform, method: str, url: str, **kwargs: Any
    ) -> Response:
        if not platform.row.token_out:
            raise PeerError(f"no token for platform {platform.row.name}")
        return await self.call(method, url, platform.row.token_out, platform.row.header_codec, **kwargs)

    async def get_data(self, url: str, token: str, codec: str, type_: Any) -> Any:
        """GET an envelope and decode its data; PeerError when it cannot be used."""
        try:
            response = await self.call("GET", url, token, codec)
        except OutboundError as exc:
            raise _unreachable(f"GET {url}", exc) from exc
        return self.data(response, type_, f"GET {url}")

    @staticmethod
    def data(response: Response, type_: Any, what: str) -> Any:
        if response.status_code >= 300:
            raise PeerError(f"{what}: HTTP {response.status_code}")
        try:
            env = t.envelope_decoder.decode(response.content)
        except msgspec.DecodeError as exc:
            raise PeerError(f"{what}: not an OCPI envelope: {exc}") from exc
        if env.status_code >= 2000 or not env.has_data:
            raise PeerError(f"{what}: OCPI {env.status_code} {env.status_message or ''}".strip())
        try:
            return wire.decode(env.data, type_)
        except msgspec.ValidationError as exc:
            raise PeerError(f"{what}: {exc}") from exc

    async def detect_codec(self, url: str, token: str) -> str:
        """Base64 per 2.2.1, or the raw token that many peers still expect; raises PeerError if neither works."""
        for codec in ("base64", "raw"):
            try:
                response = await self.call("GET", url, token, codec)
            except OutboundError as exc:
                raise _unreachable(f"GET {url}", exc) from exc
            if response.status_code != 401:
                return codec
        raise PeerError(f"GET {url}: the token is refused (tried Base64 and raw)")

    async def discover(self, versions_url: str, token: str) -> tuple[str, str, list[wire.Endpoint]]:
        """Version negotiation: (header codec, version details URL, endpoints) for 2.2.1."""
        codec = await self.detect_codec(versions_url, token)
        versions = await self.get_data(versions_url, token, codec, list[wire.Version])
        match = next((v for v in versions if v.version == VERSION), None)
        if match is None:
            raise PeerError(f"no common version: the peer offers {[v.version for v in versions]}, the hub speaks {VERSION}")
        details = await self.get_data(match.url, token, codec, wire.VersionDetails)
        return codec, match.url, list(details.endpoints)

    # --- pulls -------------------------------------------------------------------------------

    async def paginate(
        self, platform: Platform, url: str, params: dict[str, str] | None = None, page_size: int = 100
    ) -> AsyncIterator[msgspec.Raw]:
        """Every object of a Sender list, following `Link: <...>; rel="next"` until none is left."""
        next_url: str | None = url
        query: dict[str, str] | None = {**(params or {}), "limit": str(page_size)}
        while next_url:
            response = await self.to_platform(platform, "GET", next_url, params=query, to_party=None)
            for item in self.data(response, list[msgspec.Raw], f"GET {next_url}"):
                yield item
            next_url, query = _next_link(response.headers.get("link")), None


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel.replace(" ", "") or "rel=next" in rel.replace(" ", ""):
            return url.strip().strip("<>")
    return None
