"""The hub as a platform behind another OCPI hub (Gireve's IOP, Emobi), for the parties it hosts (its tenants).

- `register`: the hub registers with the upstream hub that gave it a token A, as the tenants (their roles), with
  the upstream's rules (`profile`); everything the tenants publish is then queued for it, and its requests are
  taken in as the parties behind it (met as they come, owned by their real operators like any other party);
- `rotate`: a new token the Gireve way (no PUT credentials): DELETE the registration, register again with the
  upstream's new token A, on the same platform (what is queued for it stays queued);
- `pull`: re-sync from it in its page sizes.
Each upstream's rules are data in its own connector (connectors/gireve, connectors/emobi); the routing headers, the data
checks and the FIFO delivery are the OCPI modules', by those rules.
"""

from __future__ import annotations

import logging

from connectors import emobi, gireve
from connectors.bilateral import pull as bilateral_pull
from hub.model import PartyId
from hub.outbound import OutboundError
from hub.services import errors
from hub.services.directory import Platform
from protocols.ocpi.v211 import client as v211
from protocols.ocpi.v211.api import Ocpi211
from protocols.ocpi.v211.credentials import register_with as register_with_211
from protocols.ocpi.v221 import client as v221
from protocols.ocpi.v221 import wire
from protocols.ocpi.v221.api import Ocpi
from protocols.ocpi.v221.client import PeerError, endpoint
from protocols.ocpi.v221.credentials import register_with
from protocols.ocpi.upstream import hub_party

log = logging.getLogger(__name__)

PROFILES = {rules.name: rules for rules in (gireve.RULES, emobi.RULES)}

__all__ = ["PROFILES", "install", "register", "rotate", "pull", "tenants_of"]


def install(ocpi: Ocpi) -> None:
    ocpi.rules.update(PROFILES)


def tenants_of(ocpi: Ocpi, parties: list[PartyId] | None) -> list[tuple[PartyId, str]]:
    """(party, role) of the tenants: the given parties the hub hosts, or every party it hosts but itself."""
    hosted = [(row.party, row.role) for row in ocpi.core.directory.snap.parties
              if row.platform_id is None and row.role in ("CPO", "EMSP")]
    if not parties:
        return hosted
    unknown = set(parties) - {p for p, _ in hosted}
    if unknown:
        raise errors.Invalid(f"not a CPO or eMSP the hub hosts: {', '.join(map(str, sorted(unknown)))}")
    return [(p, r) for p, r in hosted if p in parties]


def _presented(ocpi: Ocpi, tenants: list[tuple[PartyId, str]]) -> list[wire.CredentialsRole]:
    names = {row.party: row.name for row in ocpi.core.directory.snap.parties if row.platform_id is None}
    return [wire.CredentialsRole(role=role, party_id=p.party_id, country_code=p.country_code,  # type: ignore[arg-type]
                                 business_details=wire.BusinessDetails(name=names.get(p) or str(p)))
            for p, role in tenants]


async def register(
    ocpi: Ocpi, versions_url: str, token_a: str, profile: str, parties: list[PartyId] | None = None, name: str | None = None,
    ocpi211: Ocpi211 | None = None,
) -> Platform:
    """Register with the upstream hub for `parties` (default: every CPO and eMSP the hub hosts): in 2.2.1, or, when it
    offers only 2.1.1 and its rules allow it (Gireve's variant), for one CPO operator per connection (one token each)."""
    rules = PROFILES.get(profile)
    if rules is None:
        raise errors.Invalid(f"unknown profile {profile!r} (one of {', '.join(PROFILES)})")
    tenants = tenants_of(ocpi, parties)
    if not tenants:
        raise errors.Invalid("no tenants: the hub hosts no CPO or eMSP to carry")
    if ocpi211 is not None and await _offers_only_211(ocpi, versions_url, token_a):
        if not rules.one_operator_211:
            raise PeerError(f"{rules.name} in OCPI 2.1.1 is not supported: the hub speaks to it in 2.2.1")
        if len(tenants) != 1 or tenants[0][1] != "CPO":
            raise errors.Invalid(f"{rules.name} in OCPI 2.1.1 takes one CPO operator per connection: name one with --parties, "
                                 "with the token it was given for that operator")
        platform = await register_with_211(ocpi211, versions_url, token_a, name or f"{profile} {tenants[0][0]}",
                                           presented=tenants[0][0], profile=profile, tenants=frozenset({tenants[0][0]}))
    else:
        platform = await register_with(ocpi, versions_url, token_a, name or profile, presented=_presented(ocpi, tenants),
                                       profile=profile, tenants=frozenset(p for p, _ in tenants))
    upstream = upstream_party(platform)
    if upstream is None or (rules.hub_parties and upstream not in rules.hub_parties):
        await ocpi.core.parties.forget(platform.id)
        expected = ", ".join(map(str, sorted(rules.hub_parties))) or "a HUB role"
        raise PeerError(f"the peer answered as {upstream or 'no hub'}, not as {rules.name} ({expected})")
    await ocpi.core.parties.resync(platform.id, None)  # what the tenants publish, queued for it
    log.info("registered with %s (%s) for %s", rules.name, upstream, ", ".join(str(p) for p, _ in tenants))
    return ocpi.core.directory.platform(platform.id) or platform


async def rotate(ocpi: Ocpi, platform: Platform, token_a: str, ocpi211: Ocpi211 | None = None) -> Platform:
    """New credentials with an upstream that has no PUT credentials: DELETE the registration there, then register again
    with its new token A into the same platform (its queue, parties and tenants stay)."""
    rules = ocpi.rules_of(platform)
    if rules is None or platform.row.tenants is None:
        raise errors.Invalid(f"platform {platform.id} is not an upstream hub")
    in_211 = platform.row.protocol == v211.PROTOCOL
    url = v211.endpoint(platform, "credentials") if in_211 else endpoint(platform, "credentials", "SENDER")
    if url is not None and platform.row.token_out:
        try:
            response = await ocpi.client.to_platform(platform, "DELETE", url)
            log.info("unregistered from %s: HTTP %s", rules.name, response.status_code)
        except OutboundError as exc:  # it may have forgotten us already; the new registration is what counts
            log.warning("unregistering from %s failed: %s", rules.name, exc)
    versions_url = platform.row.versions_url or ""
    if in_211:
        if ocpi211 is None:
            raise errors.Invalid("an OCPI 2.1.1 connection: the 2.1.1 module is needed")
        return await register_with_211(ocpi211, versions_url, token_a, platform.row.name, presented=next(iter(platform.row.tenants)),
                                       into=platform.id)
    tenants = tenants_of(ocpi, sorted(platform.row.tenants))
    return await register_with(ocpi, versions_url, token_a, platform.row.name, presented=_presented(ocpi, tenants), into=platform.id)


async def _offers_only_211(ocpi: Ocpi, versions_url: str, token_a: str) -> bool:
    try:
        _, offered = await ocpi.client.versions(versions_url, token_a, "base64")
    except OutboundError as exc:
        raise PeerError(f"GET {versions_url}: {type(exc).__name__}: {exc}") from exc
    return v221.VERSION not in offered and v211.VERSION in offered


def upstream_party(platform: Platform) -> PartyId | None:
    """The upstream's own party: its HUB role (2.2.1), or the one party of a 2.1.1 connection."""
    return hub_party(platform) or (next(iter(platform.parties)) if len(platform.parties) == 1 else None)


async def pull(ocpi: Ocpi, platform: Platform) -> dict[str, int]:
    """Re-sync from the upstream hub (2.2.1) in its page sizes; what it sends is taken as its parties' (see bilateral.pull)."""
    rules = ocpi.rules_of(platform)
    upstream = upstream_party(platform)
    def routing(module: str) -> tuple[PartyId, PartyId | None] | None:
        """A tenant in the role that reads the module (an eMSP reads CPO data, a CPO tokens), to the upstream."""
        role = "CPO" if module == "tokens" else "EMSP"
        reader = next((p for p, r in tenants_of(ocpi, sorted(platform.row.tenants or ())) if r == role), None)
        return None if reader is None else (reader, upstream)

    return await bilateral_pull(ocpi, platform, page_size=lambda module: rules.page_size(upstream, module) if rules else 100,
                                routing=routing)
