"""The OCPI 2.1.1 credentials handshake, both ways.

As in 2.2.1 (see protocols/ocpi/v221/credentials.py) but with one party per connection, no roles and the raw token
in the header. Receiving: the party POSTs its credentials with token A; in that request the hub reads its 2.1.1
versions and endpoints with its token B, issues token C and answers with it. Sending: the hub reads the peer's
endpoints with its token A, POSTs token B and keeps the peer's token C. The connection's role is the one its
claims give (else what its endpoints say), and it is then served in 2.1.1 for everything (`PROTOCOL`).
"""

from __future__ import annotations

import logging

import msgspec

from hub.model import PartyId
from hub.services import errors
from hub.services.directory import Platform
from hub.services.parties import new_token
from hub.store.documents import now_us
from protocols.ocpi.peer import registration_target, usable_endpoints
from protocols.ocpi.v211 import wire
from protocols.ocpi.v211.api import Ocpi211
from protocols.ocpi.v211.client import PROTOCOL, VERSION, capabilities, role_of

log = logging.getLogger(__name__)

ROTATION_OVERLAP_US = 3_600_000_000  # the previous token stays valid for an hour after a PUT


def own_credentials(ocpi: Ocpi211, token: str, party: PartyId | None = None) -> wire.Credentials:
    """The hub's credentials, or (a connection that is one tenant's, behind an upstream hub) that party's."""
    party = party or ocpi.hub_party
    name = next((r.name for r in ocpi.core.directory.party_rows(party) if r.platform_id is None), None) or ocpi.core.settings.hub_name
    return wire.Credentials(token=token, url=ocpi.versions_url, party_id=party.party_id, country_code=party.country_code,
                            business_details=wire.BusinessDetails(name=name[:100]))


async def accept(ocpi: Ocpi211, platform: Platform, theirs: wire.Credentials, *, update: bool) -> wire.Credentials:
    registered = platform.row.token_in_kind != "A"
    if update and not registered:
        raise errors.NotRegistered("PUT credentials before registration: POST first")
    if not update and registered:
        raise errors.AlreadyRegistered("already registered: use PUT to update, DELETE to unregister")
    party = PartyId.of(theirs.country_code, theirs.party_id)
    claimed = {r for p, r in platform.row.claims or () if p == party}
    codec, endpoints = await _discover(ocpi, theirs.url, theirs.token)
    role = role_of(endpoints, claimed)
    ocpi.core.parties.check_claims(platform, [(party, role)])
    receives, serves = capabilities(endpoints, role)
    token_c = new_token()
    values: dict[str, object] = dict(
        protocol=PROTOCOL, version=VERSION, versions_url=theirs.url, endpoints=msgspec.json.encode(endpoints).decode(),
        receives=receives, serves=serves, token_out=theirs.token, header_codec=codec, token_in=token_c, token_in_kind="C",
    )
    if update:
        values.update(token_in_prev_hash=platform.row.token_in_hash, token_in_prev_until_us=now_us() + ROTATION_OVERLAP_US)
    details = msgspec.json.encode(theirs.business_details).decode()
    await ocpi.core.parties.registered(platform.id, roles=[(party, role, theirs.business_details.name, details)], **values)
    log.info("platform %s registered in OCPI 2.1.1 (%s %s) from %s", platform.id, party, role, theirs.url)
    return own_credentials(ocpi, token_c)


async def _discover(ocpi: Ocpi211, versions_url: str, token: str) -> tuple[str, list[wire.Endpoint]]:
    return await usable_endpoints(ocpi.core.outbound, ocpi.client.discover(versions_url, token), versions_url)


async def register_with(
    ocpi: Ocpi211, versions_url: str, token_a: str, name: str | None = None, claims: list[tuple[PartyId, str]] | None = None,
    presented: PartyId | None = None, into: int | None = None, **values: object,
) -> Platform:
    """The hub as the Sender of the handshake toward a 2.1.1 peer that gave it token A. `claims`: the party and role
    the operator expects it to hold (default: what it declares now, in the role its endpoints say). `presented`: the
    party the hub registers as (default: itself); `into`: a platform registering again; `values`: more to store with
    the platform (an upstream hub's profile and tenant)."""
    codec, endpoints, credentials_url = await registration_target(
        ocpi.core.outbound, ocpi.client.discover(versions_url, token_a), versions_url)
    role = role_of(endpoints, {r for _, r in claims or ()})
    listed = msgspec.json.encode(endpoints).decode()
    platform_id, token_b = await ocpi.core.parties.outgoing(name or versions_url, versions_url, token_a, claims, into=into,
                                                            protocol=PROTOCOL, version=VERSION, endpoints=listed)
    try:
        body = wire.encode(own_credentials(ocpi, token_b, presented))
        response = await ocpi.client.call("POST", credentials_url, token_a, codec, body=body)
        theirs = ocpi.client.data(response, wire.Credentials, f"POST {credentials_url}")
        await ocpi.core.outbound.verify(theirs.url)
        party = PartyId.of(theirs.country_code, theirs.party_id)
        receives, serves = capabilities(endpoints, role)
        details = msgspec.json.encode(theirs.business_details).decode()
        await ocpi.core.parties.registered(
            platform_id, roles=[(party, role, theirs.business_details.name, details)], protocol=PROTOCOL, version=VERSION,
            versions_url=theirs.url, endpoints=listed, receives=receives, serves=serves, token_out=theirs.token, header_codec=codec,
            **values,
        )
    except Exception:
        if into is None:
            await ocpi.core.parties.forget(platform_id)
        raise
    platform = ocpi.core.directory.platform(platform_id)
    assert platform is not None
    return platform
