"""Calls from the hub to OCPI 2.2.1 parties: registration, forwarding, pushes, paginated pulls."""

from __future__ import annotations

from functools import lru_cache

import msgspec

from hub.model import PartyId
from hub.outbound import Outbound
from hub.services.directory import Platform
from protocols.ocpi.peer import PeerClient, PeerError, join
from protocols.ocpi.v221 import wire

VERSION = "2.2.1"
PROTOCOL = "ocpi"  # the platforms' protocol value (a 2.1.1 connection has its own)
# OCPI module identifier -> the canonical kind the hub pushes or pulls through it
MODULE_KIND = {
    "locations": "location", "tariffs": "tariff", "tokens": "token", "sessions": "session", "cdrs": "cdr",
    "hubclientinfo": "clientinfo", "commands": "command", "chargingprofiles": "chargingprofile",
}
KIND_MODULE = {v: k for k, v in MODULE_KIND.items()} | {"evse": "locations", "connector": "locations"}


@lru_cache(maxsize=512)
def _endpoint_map(endpoints_json: str | None) -> dict[tuple[str, str], str]:
    if not endpoints_json:
        return {}
    found = msgspec.json.decode(endpoints_json)  # another protocol's platform keeps something else here: no endpoints
    return {(e["identifier"], e["role"]): e["url"].rstrip("/") for e in found if isinstance(e, dict) and "role" in e} if isinstance(found, list) else {}


def endpoint(platform: Platform, module: str, role: str) -> str | None:
    return _endpoint_map(platform.row.endpoints).get((module, role))


def capabilities(endpoints: list[wire.Endpoint]) -> tuple[set[str], set[str]]:
    """(kinds the party receives pushes of, kinds the hub can pull from it)."""
    receives = {MODULE_KIND[e.identifier] for e in endpoints if e.role == "RECEIVER" and e.identifier in MODULE_KIND}
    serves = {MODULE_KIND[e.identifier] for e in endpoints if e.role == "SENDER" and e.identifier in MODULE_KIND}
    return receives, serves


class OcpiClient(PeerClient):
    """OCPI 2.2.1 calls: the shared client with 2.2.1's wire types and version negotiation."""

    def __init__(self, hub_party: PartyId, outbound: Outbound, timeout: float = 10.0) -> None:
        super().__init__(hub_party, outbound, wire.decode, timeout)

    async def discover(self, versions_url: str, token: str) -> tuple[str, str, list[wire.Endpoint]]:
        """Version negotiation: (header codec, version details URL, endpoints) for 2.2.1."""
        codec, offered = await self.versions(versions_url, token, "base64")
        if VERSION not in offered:
            raise PeerError(f"no common version: the peer offers {sorted(offered)}, the hub speaks {VERSION}")
        details = await self.get_data(offered[VERSION], token, codec, wire.VersionDetails)
        return codec, offered[VERSION], list(details.endpoints)
