"""The OCPI 2.1.1 surface of the hub: authentication, the caller's role, rendering and the shared request flows.

A 2.1.1 connection is one party in one role, without routing headers: every request is that party's. Toward a
2.1.1 CPO the hub is an eMSP (its eMSP interface, under /ocpi/2.1.1/emsp); toward a 2.1.1 eMSP it is a CPO (under
/ocpi/2.1.1/cpo). What a 2.1.1 party pushes is stored in the canonical model like any push, so 2.2.1 parties get
it rendered in 2.2.1; what it reads or receives is rendered in 2.1.1 from the canonical objects.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from hub import model
from hub.core import Core
from hub.edge import Reply
from hub.model import PartyId
from hub.outbound import Coalescer, OutboundError
from hub.services import errors
from hub.services.catalog import Form
from hub.services.charging import own_answer
from hub.services.directory import Platform
from hub.store import documents as docs
from protocols.ocpi import transport as t
from protocols.ocpi import upstream
from protocols.ocpi.peer import PeerError, join
from protocols.ocpi.transport import OcpiError
from protocols.ocpi.v211 import mapping as m
from protocols.ocpi.v211 import wire
from protocols.ocpi.v211.client import PROTOCOL, VERSION, Client, endpoint, role_of

ROLE_PREFIX = {"CPO": "emsp", "EMSP": "cpo"}  # a party's role -> the hub's interface it talks to


class Ctx(msgspec.Struct):
    """One authenticated request."""

    platform: Platform
    token: str
    party: PartyId | None  # the connection's party (on functional modules)


def role(platform: Platform) -> str | None:
    """The one role of a 2.1.1 connection: from its registration, else its claims, else (the hub registering with
    it) the endpoints it listed."""
    held = {r for _, r in platform.roles} or {r for _, r in platform.row.claims or ()}
    held &= {"CPO", "EMSP"}
    if len(held) == 1:
        return next(iter(held))
    listed = endpoints(platform)
    return role_of(listed, set()) if listed else None


def endpoints(platform: Platform) -> list[wire.Endpoint]:
    return wire.decode(platform.row.endpoints, list[wire.Endpoint]) if platform.row.endpoints else []


def _location(loc: model.Location) -> bytes | None:
    """None when 2.1.1 can name none of its plugs (see the mapping)."""
    w = m.location_from_canonical(loc)
    return None if not w.evses and loc.evses else wire.encode(w)


def _tariff(tariff: model.Tariff) -> bytes | None:
    try:
        return wire.encode(m.tariff_from_canonical(tariff))
    except m.Unmappable:
        return None


class Ocpi211:
    """Everything the OCPI 2.1.1 endpoints need."""

    def __init__(self, core: Core, client: Client) -> None:
        self.core = core
        self.client = client
        self.hub_party = core.settings.hub_party
        self.versions_url = f"{core.settings.base_url}/ocpi/versions"
        self.base = f"{core.settings.base_url}/ocpi/{VERSION}"
        self.page_limit = core.settings.page_limit
        self.authorizations = Coalescer()
        self.forms = {"location": Form(PROTOCOL, _location), "tariff": Form(PROTOCOL, _tariff)}  # catalogued kinds in 2.1.1
        self.rules: dict[str, upstream.HubRules] = {}  # profile -> an upstream hub's rules (the app shares 2.2.1's)

    # --- request pipeline ----------------------------------------------------------------------

    async def enter(self, request: Request, *, allow_a: bool = False, functional: bool = True, as_role: str | None = None) -> Ctx:
        """`as_role`: the role a functional module is for (the hub's eMSP interface is for CPOs)."""
        platform, token = await t.authenticate(self.core, request.headers.get("authorization"), allow_a)
        party = None
        if functional:
            if platform.row.protocol != PROTOCOL:
                raise OcpiError(400, t.CLIENT_ERROR, f"registered in OCPI {platform.row.version or '2.2.1'}: use its endpoints")
            if as_role is not None and role(platform) != as_role:
                raise OcpiError(403, t.CLIENT_ERROR, f"this interface is for a {as_role} (see the version details)")
            party = next(iter(platform.parties))
        ctx = request.state.ocpi_ctx = Ctx(platform, token, party)
        return ctx

    @staticmethod
    def ok(request: Request, data: bytes | None = None, status: int = 200, **headers: str) -> Reply:
        out = {k: v for k, v in (("X-Request-ID", request.headers.get("x-request-id", "")[:64]),) if v}
        return Reply(t.envelope(data), status, {**out, **headers})

    @staticmethod
    async def body(request: Request, type_: Any) -> Any:
        raw = await request.body()
        if not raw:
            raise OcpiError(200, t.INVALID_PARAMETERS, "a JSON body is required")
        return wire.decode(raw, type_)

    url_party = staticmethod(t.url_party)
    same = staticmethod(t.same)

    async def behind(self, platform: Platform, party: PartyId, role: str) -> Platform:
        """An upstream hub's connection pushes for the parties behind it (a 2.1.1 URL names them): taken as its own."""
        if platform.row.tenants is None or (party, role) in platform.roles:
            return platform
        await self.core.parties.take(platform.id, [(party, role, str(party))])
        return self.core.directory.platform(platform.id) or platform

    # --- rendering ------------------------------------------------------------------------------

    async def render(self, kind: str, obj: Any) -> bytes | None:
        """The 2.1.1 JSON of a canonical object; None when 2.1.1 cannot carry it (a Location none of whose plugs
        2.1.1 can name, a tariff only of what 2.1.1 cannot say). Sessions and CDRs embed their Location."""
        if kind in self.forms:
            return self.forms[kind].render(obj)
        try:
            if kind == "evse":
                w = m.evse_from_canonical(obj)
            elif kind == "connector":
                w = m.connector_from_canonical(obj)
            elif kind == "token":
                w = m.token_from_canonical(obj)
            elif kind == "session":
                w = m.session_from_canonical(obj, await self._location(obj.owner_party, obj.location_id))
            else:
                w = m.cdr_from_canonical(obj, await self.core.objects.location(obj.owner_party, obj.cdr_location.id))
        except m.Unmappable:
            return None
        return None if w is None else wire.encode(w)

    async def _location(self, owner: PartyId, location_id: str) -> model.Location:
        found = await self.core.objects.location(owner, location_id)
        if found is None:  # a Session at a Location the hub does not hold: its id alone
            raise m.Unmappable(f"unknown Location {location_id}")
        return found

    async def list(self, request: Request, ctx: Ctx, kind: docs.Kind) -> Reply:
        """GET All of what the caller may see, rendered in 2.1.1 (what 2.1.1 cannot carry is left out)."""
        q = request.query_params
        limit = min(t.parse_int(q.get("limit"), "limit", self.page_limit), self.page_limit)
        window = docs.Window(
            offset=t.parse_int(q.get("offset"), "offset", 0), limit=limit,
            date_from=t.parse_datetime(q.get("date_from"), "date_from"), date_to=t.parse_datetime(q.get("date_to"), "date_to"),
        )
        form = self.forms.get(kind.name)
        if form is not None:  # from the catalog's own cache of 2.1.1 renderings
            rendered, total = await self.core.objects.page(ctx.platform, kind, window, form=form)
            count = min(limit, max(0, total - window.offset))
        else:
            objs, total = await self.core.objects.page_objects(ctx.platform, kind, window)
            rendered = [r for obj in objs if (r := await self.render(kind.name, obj)) is not None]
            count = len(objs)
        headers = {"X-Total-Count": str(total), "X-Limit": str(self.page_limit)}
        link = t.link_next(f"{self.core.settings.base_url}{request.scope['path']}", dict(q), window.offset, limit, total, count)
        if link:
            headers["Link"] = link
        return self.ok(request, t.json_list(rendered), **headers)

    # --- tokens ---------------------------------------------------------------------------------

    async def cdr_token(self, auth_id: str) -> model.CdrToken:
        """The token a 2.1.1 Session or CDR names by its auth_id: the stored one with that contract id, else
        one made from the eMA ID (its eMSP read from the prefix)."""
        token = await self.core.objects.find_token_by_contract(auth_id)
        if token is None:
            return m.cdr_token_for(auth_id)
        return model.CdrToken(country_code=token.country_code, party_id=token.party_id, uid=token.uid, type=token.type,
                              contract_id=token.contract_id)

    async def realtime_authorize(self, token: model.Token, where: model.LocationReferences) -> model.AuthorizationInfo:
        """Ask a 2.1.1 eMSP about one of its tokens (POST tokens/{uid}/authorize on its tokens endpoint). Raises
        when it cannot be asked."""
        platform = self.core.directory.platform_of(token.owner_party)
        base = endpoint(platform, "tokens") if platform is not None else None
        if platform is None or base is None or not platform.connected:
            raise PeerError(f"{token.owner_party} cannot be asked (no tokens endpoint, or not connected)")

        async def ask() -> model.AuthorizationInfo:
            try:
                response = await self.client.to_platform(
                    platform, "POST", join(base, token.uid, "authorize"), timeout=self.core.settings.realtime_auth_timeout,
                    body=wire.encode(m.location_references_from_canonical(where)),
                )
            except OutboundError as exc:
                raise PeerError(f"authorize at {token.owner_party}: {exc}") from exc
            if response.status_code == 404:
                return model.AuthorizationInfo(allowed="NOT_ALLOWED", token=token)
            return m.authorization_info_to_canonical(self.client.data(response, wire.AuthorizationInfo, "authorize"), token)

        key = (platform.id, token.uid.upper(), token.type, where.location_id.upper(), tuple(where.evse_uids))
        return await self.authorizations.run(key, ask)

    async def authorize(self, token: model.Token, where: model.LocationReferences | None) -> model.AuthorizationInfo:
        """A 2.1.1 CPO asks about a token: the hub answers for the parties it runs and asks the token's eMSP
        otherwise (in its version). An eMSP that cannot be asked: the token's whitelist rule decides."""
        if self.core.directory.platform_of(token.owner_party) is None:
            return own_answer(token, where)
        ask = self.core.charging.realtime
        try:
            if ask is None:
                raise PeerError("no real-time authorization in this hub")
            return await ask(token, where or model.LocationReferences(location_id=m.NA))
        except (PeerError, errors.HubError) as exc:
            if token.valid and token.whitelist in ("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE"):
                return model.AuthorizationInfo(allowed="ALLOWED", token=token, location=where)
            raise OcpiError(200, t.SERVER_ERROR, f"the token's eMSP cannot be asked now: {exc}") from exc
