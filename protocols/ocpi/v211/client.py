"""Calls from the hub to OCPI 2.1.1 parties: version negotiation and the endpoints of a connection.

A 2.1.1 connection is one party in one role, and its endpoints name a module without a role: a CPO's `locations`
is its Sender interface, an eMSP's its Receiver interface. The role comes from the party's claims (fixed by the
invitation or by the operator), else from the modules it lists (only a CPO lists `commands`).
"""

from __future__ import annotations

from functools import lru_cache

import msgspec

from hub.model import PartyId
from hub.outbound import Outbound
from hub.services.directory import Platform
from protocols.ocpi.peer import PeerClient, PeerError
from protocols.ocpi.v211 import wire

VERSION = "2.1.1"
PROTOCOL = "ocpi211"  # the platforms' protocol value: their pushes, commands and real-time questions go through here
MODULE_KIND = {"locations": "location", "tariffs": "tariff", "tokens": "token", "sessions": "session", "cdrs": "cdr"}
# what a party of each role takes pushes of (the hub is the other role toward it), and serves to be pulled
RECEIVES = {"CPO": {"token"}, "EMSP": {"location", "tariff", "session", "cdr"}}
SERVES = {"CPO": {"location", "tariff", "session", "cdr"}, "EMSP": {"token"}}


@lru_cache(maxsize=512)
def _endpoint_map(endpoints_json: str | None) -> dict[str, str]:
    if not endpoints_json:
        return {}
    return {e["identifier"]: e["url"].rstrip("/") for e in msgspec.json.decode(endpoints_json)}


def endpoint(platform: Platform, module: str) -> str | None:
    return _endpoint_map(platform.row.endpoints).get(module)


def role_of(endpoints: list[wire.Endpoint], claimed: set[str]) -> str:
    """The connection's role: what its claims say, else CPO when it takes commands."""
    for role in ("CPO", "EMSP"):
        if claimed == {role}:
            return role
    return "CPO" if any(e.identifier == "commands" for e in endpoints) else "EMSP"


def capabilities(endpoints: list[wire.Endpoint], role: str) -> tuple[set[str], set[str]]:
    """(kinds the party receives pushes of, kinds the hub can pull from it): what its role implies and it lists."""
    listed = {MODULE_KIND[e.identifier] for e in endpoints if e.identifier in MODULE_KIND}
    return RECEIVES[role] & listed, SERVES[role] & listed


class Client(PeerClient):
    """OCPI 2.1.1 calls: the shared client with 2.1.1's wire types; the raw token is tried first."""

    def __init__(self, hub_party: PartyId, outbound: Outbound, timeout: float = 10.0) -> None:
        super().__init__(hub_party, outbound, wire.decode, timeout)

    async def discover(self, versions_url: str, token: str) -> tuple[str, list[wire.Endpoint]]:
        """(header codec, endpoints) of the peer's 2.1.1."""
        codec, offered = await self.versions(versions_url, token, "raw")
        if VERSION not in offered:
            raise PeerError(f"no common version: the peer offers {sorted(offered)}, this is {VERSION}")
        details = await self.get_data(offered[VERSION], token, codec, wire.VersionDetails)
        return codec, list(details.endpoints)
