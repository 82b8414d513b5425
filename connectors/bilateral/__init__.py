"""Bilateral OCPI 2.2.1 peers, connected by the credentials handshake.

- `invite`: a token A and the hub's versions URL for a party that will register with the hub;
- `register`: the hub registers with a peer that gave it a token A (the hub as handshake Sender);
- `pull`: re-sync from a peer by paginated GET on its Sender interfaces (run automatically when a peer
  that was OFFLINE comes back, and on demand from the CLI).
After registration the core pushes to the peer whatever it must hear, from the outbox.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

import msgspec

from hub import model
from hub.model import PartyId
from hub.services import errors
from hub.services.directory import Platform
from hub.store.documents import from_us
from hub.store.webhooks import PROTOCOL as WEBHOOK
from protocols.ocpi.v221 import mapping as m
from protocols.ocpi.v221 import rules, wire
from protocols.ocpi.v221.api import Ocpi
from protocols.ocpi.v221.client import endpoint
from protocols.ocpi.v221.credentials import register_with
from protocols.ocpi.v211 import client as v211
from protocols.ocpi.v211.api import Ocpi211
from protocols.ocpi.v211.credentials import register_with as register_with_211
from protocols.ocpi.v221 import client as v221
from protocols.ocpi.peer import PeerError
from hub.outbound import OutboundError

log = logging.getLogger(__name__)

__all__ = ["install", "invite", "register", "pull", "parties", "Roaming"]

# what the hub pulls from a peer's Sender interfaces, in dependency order (tariffs before locations)
# (kind, module, wire type, the rules a push of it must pass too, to canonical)
PULLS: list[tuple[str, str, Any, Any, Any]] = [
    ("tariff", "tariffs", wire.Tariff, rules.check_tariff, m.tariff_to_canonical),
    ("location", "locations", wire.Location, rules.check_location, m.location_to_canonical),
    ("token", "tokens", wire.Token, lambda _: [], m.token_to_canonical),
    ("session", "sessions", wire.Session, rules.check_session, m.session_to_canonical),
    ("cdr", "cdrs", wire.Cdr, rules.check_cdr, m.cdr_to_canonical),
]


def install(ocpi: Ocpi) -> None:
    """Wire the connector into the core: a peer that comes back is re-synced from its Sender interfaces."""

    async def on_return(platform: Platform, since_us: int | None) -> None:
        if platform.row.protocol == "ocpi" and platform.row.serves:
            await pull(ocpi, platform, from_us(since_us) if since_us else None)

    ocpi.core.parties.on_return.append(on_return)


async def invite(
    ocpi: Ocpi, party: PartyId, role: str, name: str | None = None, also: list[tuple[PartyId, str]] | None = None
) -> dict[str, str]:
    """Token A for a platform that may hold `party` in `role` (and the other parties and roles in `also`), nothing else."""
    _, token = await ocpi.core.parties.invite([(party, role), *(also or [])], name)
    return {"token": token, "versions_url": ocpi.versions_url}


async def register(
    ocpi: Ocpi, versions_url: str, token_a: str, name: str | None = None, claims: list[tuple[PartyId, str]] | None = None,
    ocpi211: Ocpi211 | None = None,
) -> Platform:
    """The hub registers in the newest version both speak: 2.2.1, else 2.1.1 (when `ocpi211` is given)."""
    if ocpi211 is not None:
        try:
            _, offered = await ocpi.client.versions(versions_url, token_a, "base64")
        except OutboundError as exc:
            raise PeerError(f"GET {versions_url}: {type(exc).__name__}: {exc}") from exc
        if v221.VERSION not in offered and v211.VERSION in offered:
            return await register_with_211(ocpi211, versions_url, token_a, name, claims)
    return await register_with(ocpi, versions_url, token_a, name, claims)


class Roaming:
    """Inviting and re-syncing roaming platforms, as the partner API's `partners` resource offers them."""

    def __init__(self, ocpi: Ocpi) -> None:
        self.ocpi = ocpi

    async def invite(self, party: PartyId, role: str, name: str | None) -> tuple[int, str, str]:
        pid, token = await self.ocpi.core.parties.invite([(party, role)], name)
        return pid, token, self.ocpi.versions_url

    async def sync(self, platform: Platform) -> dict[str, int]:
        pulled = await pull(self.ocpi, platform)
        await self.ocpi.core.parties.resync(platform.id, None)
        return pulled


def parties(ocpi: Ocpi) -> list[dict[str, Any]]:
    out = []
    for p in ocpi.core.directory.platforms():
        if p.row.protocol == WEBHOOK:  # webhook endpoints are outbox destinations too, not roaming parties
            continue
        out.append({
            "platform": p.id, "name": p.row.name, "status": p.row.status, "protocol": p.row.protocol, "version": p.row.version,
            "versions_url": p.row.versions_url, "registered": p.row.token_in_kind != "A",
            "parties": [f"{party} {role}" for party, role in p.roles],
            "receives": sorted(p.row.receives), "serves": sorted(p.row.serves),
            "last_ok": from_us(p.row.last_ok_us).isoformat() if p.row.last_ok_us else None,
            "profile": p.row.profile or ("hubject" if p.row.protocol == "oicp" else "bilateral"),
            "tenants": sorted(map(str, p.row.tenants)) if p.row.tenants is not None else None,
        })
    return out


async def pull(
    ocpi: Ocpi, platform: Platform, since: datetime | None = None, page_size: Callable[[str], int] = lambda module: 100,
    routing: Callable[[str], tuple[PartyId | None, PartyId | None] | None] = lambda module: (None, None),
) -> dict[str, int]:
    """Fetch what the peer owns (changed since `since`) and take it in as if it had been pushed. From an upstream hub,
    the owners are parties behind it, taken as its own as they come. `routing`: the OCPI-from and OCPI-to of a module's
    pull (None: it is not pulled)."""
    counts: dict[str, int] = {}
    objects = ocpi.core.objects
    for kind, module, wire_type, check, to_canonical in PULLS:
        url = endpoint(platform, module, "SENDER")
        headers = routing(module)
        if kind not in platform.row.serves or url is None or headers is None:
            continue
        params = {}
        if since is not None or kind == "session":  # Sessions require date_from
            params["date_from"] = (since or datetime(1970, 1, 1, tzinfo=timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
        taken = 0
        async for raw in ocpi.client.paginate(platform, url, params, page_size(module), *headers):
            try:
                decoded = wire.decode(raw, wire_type)
                if problems := rules.check_dates(decoded) + check(decoded):
                    raise errors.Invalid("; ".join(f"{p.path}: {p.message}" for p in problems))
                obj = to_canonical(decoded)
                if platform.row.tenants is not None and obj.owner_party not in platform.parties:
                    await ocpi.core.parties.take(platform.id, [(obj.owner_party, "EMSP" if kind == "token" else "CPO", str(obj.owner_party))])
                    platform = ocpi.core.directory.platform(platform.id) or platform
                await _take(objects, platform, kind, obj)
                taken += 1
            except (msgspec.ValidationError, msgspec.DecodeError, errors.HubError) as exc:
                log.warning("skipped a %s from platform %s: %s", kind, platform.id, exc)
        counts[kind] = taken
    log.info("pulled from platform %s (%s): %s", platform.id, platform.row.name, counts)
    return counts


async def _take(objects: Any, platform: Platform, kind: str, obj: Any) -> None:
    if kind == "location":
        await objects.put_location(platform, obj)
    elif kind == "tariff":
        await objects.put_tariff(platform, obj)
    elif kind == "token":
        await objects.put_token(platform, obj)
    elif kind == "session":
        await objects.put_session(platform, obj)
    elif kind == "cdr":
        try:
            await objects.post_cdr(platform, obj)
        except errors.Invalid:
            pass  # known already: CDRs never change


def party_of(text: str) -> model.PartyId:
    return PartyId.parse(text)
