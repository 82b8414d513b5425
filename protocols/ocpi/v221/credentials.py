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
from protocols.ocpi import transport as t
from protocols.ocpi.transport import OcpiError
from protocols.ocpi.v221 import wire
from protocols.ocpi.v221.client import PeerError, capabilities

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


def _check_roles(ocpi: Ocpi, platform: Platform, roles: list[tuple[PartyId, str, str, str | None]]) -> None:
    """A platform may claim only parties nobody else holds, and must include the party it was invited as."""
    directory = ocpi.core.directory
    for party, role, _, _ in roles:
        for row in directory.party_rows(party):
            if row.role == role and row.platform_id != platform.id:
                raise OcpiError(200, t.INVALID_PARAMETERS, f"{party} {role} is already connected through another platform")
    invited = set(platform.roles)
    claimed = {(p, r) for p, r, _, _ in roles}
    if platform.row.token_in_kind == "A" and invited and not invited <= claimed:
        missing = ", ".join(f"{p} {r}" for p, r in invited - claimed)
        raise OcpiError(200, t.INVALID_PARAMETERS, f"token A was issued for {missing}, which the credentials do not list")


async def accept(ocpi: Ocpi, platform: Platform, theirs: wire.Credentials, *, update: bool) -> wire.Credentials:
    registered = platform.row.token_in_kind != "A"
    if update and not registered:
        raise errors.NotRegistered("PUT credentials before registration: POST first")
    if not update and registered:
        raise errors.AlreadyRegistered("already registered: use PUT to update, DELETE to unregister")
    roles = _roles(theirs)
    _check_roles(ocpi, platform, roles)
    try:
        codec, details_url, endpoints = await ocpi.client.discover(theirs.url, theirs.token)
    except PeerError as exc:
        code = t.UNSUPPORTED_VERSION if "no common version" in str(exc) else t.UNABLE_TO_USE_CLIENT_API
        raise OcpiError(200, code, f"cannot use your API: {exc}") from exc
    if not endpoints:
        raise OcpiError(200, t.NO_MATCHING_ENDPOINTS, "your version details list no endpoints")
    receives, serves = capabilities(endpoints)
    token_c = new_token()
    values: dict[str, object] = dict(
        version="2.2.1", versions_url=theirs.url, endpoints=msgspec.json.encode(endpoints).decode(),
        receives=receives, serves=serves, token_out=theirs.token, header_codec=codec, token_in=token_c, token_in_kind="C",
    )
    if update:  # keep the token being replaced usable for a while
        values.update(token_in_prev_hash=platform.row.token_in_hash, token_in_prev_until_us=now_us() + ROTATION_OVERLAP_US)
    await ocpi.core.parties.registered(platform.id, roles=roles, **values)
    log.info("platform %s registered (%s) from %s", platform.id, ", ".join(f"{p} {r}" for p, r, _, _ in roles), theirs.url)
    return wire.Credentials(token=token_c, url=ocpi.versions_url, roles=hub_roles(ocpi))


async def register_with(ocpi: Ocpi, versions_url: str, token_a: str, name: str | None = None) -> Platform:
    """The hub as the Sender of the handshake toward a peer that gave it token A."""
    client = ocpi.client
    codec, _, endpoints = await client.discover(versions_url, token_a)
    credentials_url = next((e.url for e in endpoints if e.identifier == "credentials"), None)
    if credentials_url is None:
        raise PeerError("the peer lists no credentials endpoint")
    platform_id, token_b = await ocpi.core.parties.outgoing(name or versions_url, versions_url, token_a)
    body = wire.encode(wire.Credentials(token=token_b, url=ocpi.versions_url, roles=hub_roles(ocpi)))
    try:
        response = await client.call("POST", credentials_url, token_a, codec, body=body)
        theirs = client.data(response, wire.Credentials, f"POST {credentials_url}")
    except Exception:
        await ocpi.core.parties.forget(platform_id)
        raise
    receives, serves = capabilities(endpoints)
    await ocpi.core.parties.registered(
        platform_id, roles=_roles(theirs), version="2.2.1", versions_url=theirs.url,
        endpoints=msgspec.json.encode(endpoints).decode(), receives=receives, serves=serves,
        token_out=theirs.token, header_codec=codec,
    )
    platform = ocpi.core.directory.platform(platform_id)
    assert platform is not None
    return platform
