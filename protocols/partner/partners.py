"""The partner API's view of the roaming connections (admin credentials only, scope `partners`): the platforms the
hub talks to (OCPI peers and their parties, roles, version, status, last contact), invitations (what `hub ocpi
invite` makes) and a re-sync of one platform (what `hub ocpi sync` does).

The partner protocol does not know OCPI: what inviting and re-syncing mean is the connector's (connectors/bilateral),
which the app hands in as a `Roaming`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal, Protocol

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from msgspec import Meta

from hub.model import PartyId
from hub.services.consumers import Consumer
from hub.services.directory import Platform
from hub.edge import Reply
from hub.store.webhooks import PROTOCOL as WEBHOOK
from protocols.partner import wire
from protocols.partner.api import Partner
from protocols.partner.idempotency import once
from protocols.partner.transport import API, ApiError, body, encode, query

ENTITY = "partners"
Role = Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]


class Roaming(Protocol):
    """What the app's roaming connector offers this API."""

    async def invite(self, party: PartyId, role: str, name: str | None) -> tuple[int, str, str]:
        """(platform id, token A, the hub's versions URL) for a platform that will register as `party` in `role`."""
        ...

    async def sync(self, platform: Platform) -> dict[str, int]:
        """Pull what the platform owns and queue what it should hold; the objects pulled per kind."""
        ...


class PartnerParty(wire.Wire, kw_only=True):
    country_code: str
    party_id: str
    role: str


class RoamingPartner(wire.Wire, kw_only=True):
    id: int
    name: str
    protocol: str
    version: str | None
    status: str  # PLANNED (invited), CONNECTED, OFFLINE, SUSPENDED
    registered: bool
    parties: list[PartnerParty]
    receives: list[str]  # the kinds the hub pushes to it
    serves: list[str]  # the kinds the hub can pull from it
    last_contact_at: datetime | None
    offline_since: datetime | None
    profile: str | None = None  # an upstream hub the hub is behind: its rules (gireve, emobi)
    tenants: list[str] | None = None  # and the hub's parties it carries (CC/PID)


class InvitationCreate(wire.Wire, kw_only=True):
    country_code: Annotated[str, Meta(pattern="^[A-Za-z]{2}$")]
    party_id: Annotated[str, Meta(pattern="^[A-Za-z0-9]{3}$")]
    role: Role
    name: Annotated[str, Meta(min_length=1, max_length=100)] | None = None


class Invitation(wire.Wire, kw_only=True):
    partner_id: int
    token: str  # token A: the platform registers with it (the credentials handshake); shown once
    versions_url: str


class SyncResult(wire.Wire, kw_only=True):
    partner_id: int
    pulled: dict[str, int]
    pushed: str


PartnerList = wire._list_of(RoamingPartner)


def _at(us: int | None) -> datetime | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, tz=timezone.utc)


def _partner(p: Platform) -> RoamingPartner:
    r = p.row
    return RoamingPartner(id=r.id, name=r.name, protocol=r.protocol, version=r.version, status=r.status, registered=r.token_in_kind != "A",
                          parties=[PartnerParty(country_code=party.country_code, party_id=party.party_id, role=role) for party, role in p.roles],
                          receives=sorted(r.receives), serves=sorted(r.serves), last_contact_at=_at(r.last_ok_us),
                          offline_since=_at(r.offline_since_us), profile=r.profile,
                          tenants=None if r.tenants is None else sorted(map(str, r.tenants)))


def _admin(partner: Partner, consumer: Consumer, permission: str) -> None:
    partner.need(consumer, ENTITY, permission)
    if not consumer.admin:
        raise ApiError("ACCESS_FORBIDDEN", "the roaming connections are the hub operator's: an admin credential is needed")


def _platforms(partner: Partner) -> list[Platform]:
    return [p for p in partner.core.directory.platforms() if p.row.protocol != WEBHOOK]


def _one(partner: Partner, text: str) -> Platform:
    found = next((p for p in _platforms(partner) if str(p.id) == text), None)
    if found is None:
        raise ApiError("RESOURCE_NOT_FOUND", f"no roaming partner {text[:40]}")
    return found


@get(f"{API}/{ENTITY}", summary="The roaming connections: OCPI platforms, their parties, roles, status (admin)")
async def list_partners(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
    _admin(partner, consumer, "read")
    q = query(request, wire.Paging)
    platforms = _platforms(partner)
    data = [_partner(p) for p in platforms[q.page * q.per_page:(q.page + 1) * q.per_page]]
    return partner.ok(request, encode(PartnerList(data=data, meta=wire.PageMeta.of(q.page, q.per_page, len(data), len(platforms)))))


@get(f"{API}/{ENTITY}/{{id:str}}", summary="One roaming connection (admin)")
async def get_partner(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    _admin(partner, consumer, "read")
    return partner.ok(request, encode(_partner(_one(partner, id))))


@post(f"{API}/{ENTITY}/invitations", status_code=201,
      summary="Invite a platform: its token A and the hub's versions URL, for the credentials handshake (admin)")
async def invite_partner(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
    _admin(partner, consumer, "write")

    async def run() -> Reply:
        data = await body(request, InvitationCreate)
        pid, token, versions_url = await partner.roaming.invite(PartyId.of(data.country_code, data.party_id), data.role, data.name)
        return partner.ok(request, encode(Invitation(partner_id=pid, token=token, versions_url=versions_url)), 201)

    return await once(request, partner, consumer, run)


@post(f"{API}/{ENTITY}/{{id:str}}/sync", status_code=200,
      summary="Re-sync a platform: pull what it owns, queue what it should hold (admin)")
async def sync_partner(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    _admin(partner, consumer, "write")
    platform = _one(partner, id)
    if platform.row.status != "CONNECTED":
        raise ApiError("CONFLICT", f"the platform is {platform.row.status}: only a connected one can be synced")
    pulled = await partner.roaming.sync(platform)
    return partner.ok(request, encode(SyncResult(partner_id=platform.id, pulled=pulled, pushed="queued in the outbox")))


HANDLERS = [list_partners, get_partner, invite_partner, sync_partner]
