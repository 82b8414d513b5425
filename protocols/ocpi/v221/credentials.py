"""The credentials handshake, both ways.

Receiving (a party registers with the hub): it POSTs its credentials with token A; inside that request the
hub calls the party's versions and details with the party's token B, stores its endpoints, issues token C
and answers with it. A PUT does the same for a registered party (a new C; the previous one stays valid
for a short overlap, since the spec does not say when the new one takes effect: ocpi#568).

Sending (the hub registers with a peer that gave it token A): versions and details with A, token B
activated before the POST (the peer calls back with it), token C kept from the answer.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec

from hub.model import PartyId
from hub.services import errors
from hub.services.directory import Platform
from hub.services.parties import new_token
from hub.store.documents import now_us
from protocols.ocpi.v221 import wire
from protocols.ocpi.peer import registration_target, usable_endpoints
from protocols.ocpi.v221.client import PROTOCOL, VERSION, capabilities

if TYPE_CHECKING:
    from protocols.ocpi.v221.api import Ocpi

log = logging.getLogger(__name__)

ROTATION_OVERLAP_US = 3_600_000_000  # the previous token stays valid for an hour after a PUT


def hub_roles(ocpi: Ocpi) -> list[wire.CredentialsRole]:
    """A hub reports only itself, with role HUB (the parties behind it are in HubClientInfo)."""
    party = ocpi.hub_party
    return [
        wire.CredentialsRole(
            role="HUB", party_id=party.party_id, country_code=party.country_code,
            business_details=wire.BusinessDetails(name=ocpi.core.settings.hub_name),
        )
    ]


def own_credentials(ocpi: Ocpi, token: str) -> wire.Credentials:
    """GET credentials: the token the caller uses towards the hub, the hub's versions URL and roles."""
    return wire.Credentials(token=token, url=ocpi.versions_url, roles=hub_roles(ocpi))


def _roles(theirs: wire.Credentials) -> list[tuple[PartyId, str, str, str | None]]:
    out = []
    for r in theirs.roles:
        details = msgspec.json.encode(r.business_details).decode() if r.business_details else None
        name = r.business_details.name if r.business_details else f"{r.country_code}{r.party_id}"
        out.append((PartyId.of(r.country_code, r.party_id), r.role, name, details))
    return out


async def accept(ocpi: Ocpi, platform: Platform, theirs: wire.Credentials, *, update: bool) -> wire.Credentials:
    registered = platform.row.token_in_kind != "A"
    if update and not registered:
        raise errors.NotRegistered("PUT credentials before registration: POST first")
    if not update and registered:
        raise errors.AlreadyRegistered("already registered: use PUT to update, DELETE to unregister")
    roles = _roles(theirs)
    ocpi.core.parties.check_claims(platform, [(p, r) for p, r, _, _ in roles])  # before the hub calls anything of theirs
    codec, endpoints = await _discover(ocpi, theirs.url, theirs.token)
    receives, serves = capabilities(endpoints)
    token_c = new_token()
    values: dict[str, object] = dict(
        protocol=PROTOCOL, version=VERSION, versions_url=theirs.url, endpoints=msgspec.json.encode(endpoints).decode(),
        receives=receives, serves=serves, token_out=theirs.token, header_codec=codec, token_in=token_c, token_in_kind="C",
    )
    if update:  # keep the token being replaced usable for a while
        values.update(token_in_prev_hash=platform.row.token_in_hash, token_in_prev_until_us=now_us() + ROTATION_OVERLAP_US)
    await ocpi.core.parties.registered(platform.id, roles=roles, **values)
    log.info("platform %s registered (%s) from %s", platform.id, ", ".join(f"{p} {r}" for p, r, _, _ in roles), theirs.url)
    return wire.Credentials(token=token_c, url=ocpi.versions_url, roles=hub_roles(ocpi))


async def _discovered(ocpi: Ocpi, versions_url: str, token: str) -> tuple[str, list[wire.Endpoint]]:
    codec, _, endpoints = await ocpi.client.discover(versions_url, token)
    return codec, endpoints


async def _discover(ocpi: Ocpi, versions_url: str, token: str) -> tuple[str, list[wire.Endpoint]]:
    return await usable_endpoints(ocpi.core.outbound, _discovered(ocpi, versions_url, token), versions_url)


async def register_with(
    ocpi: Ocpi, versions_url: str, token_a: str, name: str | None = None, claims: list[tuple[PartyId, str]] | None = None,
    presented: list[wire.CredentialsRole] | None = None, into: int | None = None, **values: object,
) -> Platform:
    """The hub as the Sender of the handshake toward a peer that gave it token A. `claims`: the parties and
    roles the operator expects it to hold (default: what it declares now, fixed from then on). `presented`: the
    roles the hub declares (default: itself as HUB); `into`: a platform registering again (see Parties.outgoing);
    `values`: more to store with the platform (an upstream hub's profile and tenants)."""
    client = ocpi.client
    codec, endpoints, credentials_url = await registration_target(ocpi.core.outbound, _discovered(ocpi, versions_url, token_a), versions_url)
    platform_id, token_b = await ocpi.core.parties.outgoing(name or versions_url, versions_url, token_a, claims, into=into)
    body = wire.encode(wire.Credentials(token=token_b, url=ocpi.versions_url, roles=presented or hub_roles(ocpi)))
    try:
        response = await client.call("POST", credentials_url, token_a, codec, body=body)
        theirs = client.data(response, wire.Credentials, f"POST {credentials_url}")
    except Exception:
        if into is None:
            await ocpi.core.parties.forget(platform_id)
        raise
    receives, serves = capabilities(endpoints)
    try:
        await ocpi.core.outbound.verify(theirs.url)
        await ocpi.core.parties.registered(
            platform_id, roles=_roles(theirs), protocol=PROTOCOL, version=VERSION, versions_url=theirs.url,
            endpoints=msgspec.json.encode(endpoints).decode(), receives=receives, serves=serves,
            token_out=theirs.token, header_codec=codec, **values,
        )
    except Exception:
        if into is None:
            await ocpi.core.parties.forget(platform_id)
        raise
    platform = ocpi.core.directory.platform(platform_id)
    assert platform is not None
    return platform
