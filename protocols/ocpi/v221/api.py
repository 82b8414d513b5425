"""The OCPI 2.2.1 hub surface: authentication, routing decisions, forwarding and the shared request flows.

The endpoints in `server.py` are thin; the flows live here so that each rule is written once:
- every request is authenticated by its token (Base64 or raw); token A only on versions and credentials;
- OCPI-from must be a party of the calling platform; OCPI-to picks the scenario: the hub itself (store
  and broadcast, or GET All from the store), another party (addressed: forwarded and its answer relayed),
  or none (open routing: the hub picks the receiver);
- domain errors become the spec's status codes.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request

from hub import model
from hub.core import Core
from hub.model import PartyId
from hub.outbound import Coalescer, Forbidden, OutboundError, Timeout, TooLarge
from hub.services import errors
from hub.services.directory import Platform
from hub.store import documents as docs
from protocols.ocpi import transport as t
from hub.edge import Reply
from protocols.ocpi.transport import OcpiError
from protocols.ocpi.v221 import mapping as m
from protocols.ocpi import upstream
from protocols.ocpi.v221 import rules, wire

from protocols.ocpi.v221.client import PROTOCOL, OcpiClient, PeerError, endpoint, join

log = logging.getLogger(__name__)

VERSION = "2.2.1"


class Ctx(msgspec.Struct):
    """One authenticated request."""

    platform: Platform
    routing: t.Routing
    token: str
    party: PartyId | None  # the requesting party (OCPI-from), on functional modules


def echo_headers(request: Request, party: PartyId | None, responder: PartyId | None) -> dict[str, str]:
    """X-Request-ID and X-Correlation-ID, and the routing headers once the requester is known: `party`, or the
    one Ocpi.enter authenticated (errors are answered far from the handler)."""
    if party is None and (ctx := request.state.get("ocpi_ctx")) is not None:
        party = ctx.party
    headers = {
        "X-Request-ID": request.headers.get("x-request-id", "")[:64],
        "X-Correlation-ID": (request.headers.get("x-correlation-id") or request.headers.get("x-request-id", ""))[:64],
    }
    if party is not None:
        headers.update(t.party_headers(responder, party))
    return {k: v for k, v in headers.items() if v}


class Ocpi:
    """Everything the OCPI 2.2.1 endpoints need."""

    def __init__(self, core: Core, client: OcpiClient) -> None:
        self.core = core
        self.client = client
        self.hub_party = core.settings.hub_party
        self.versions_url = f"{core.settings.base_url}/ocpi/versions"
        self.base = f"{core.settings.base_url}/ocpi/{VERSION}"
        self.page_limit = core.settings.page_limit
        self.authorizations = Coalescer()  # chargers asking about one token at one place share one question
        self.versions: list[tuple[str, str]] = [(VERSION, self.base)]  # what /ocpi/versions offers (the app adds the others)
        self.rules: dict[str, upstream.HubRules] = {}  # profile -> the rules of an upstream hub (the connectors add them)

    def rules_of(self, platform: Platform | None) -> upstream.HubRules | None:
        return self.rules.get(platform.row.profile or "") if platform is not None else None

    # --- request pipeline ----------------------------------------------------------------------

    async def enter(self, request: Request, *, allow_a: bool = False, functional: bool = True) -> Ctx:
        platform, token = await t.authenticate(self.core, request.headers.get("authorization"), allow_a)
        routing = t.routing(request.headers, functional)
        party = None
        if functional:
            if platform.row.protocol != PROTOCOL:  # registered in another version: served in it for everything
                raise OcpiError(400, t.CLIENT_ERROR, f"registered in OCPI {platform.row.version}: use its endpoints")
            party = routing.from_party
            if party is None:
                if len(platform.parties) != 1:
                    raise OcpiError(200, t.INVALID_PARAMETERS, "OCPI-from-country-code/party-id required: the platform has several parties")
                party = next(iter(platform.parties))
            elif platform.row.tenants is not None:  # a party behind an upstream hub, in the role this interface implies
                role = upstream.role_for(request.url.path, request.method)
                if (party, role) not in platform.roles:
                    await self.core.parties.take(platform.id, [(party, role, str(party))])
                    platform = self.core.directory.platform(platform.id) or platform
            if party not in platform.parties:
                raise OcpiError(200, t.INVALID_PARAMETERS, f"OCPI-from {party} is not a party of this platform")
        ctx = request.state.ocpi_ctx = Ctx(platform, routing, token, party)  # for echo_headers on errors
        return ctx

    def respond(
        self, request: Request, ctx: Ctx | None, body: bytes, status: int = 200, headers: dict[str, str] | None = None,
        responder: PartyId | None = None,
    ) -> Reply:
        out = echo_headers(request, ctx.party if ctx else None, responder or self.hub_party)
        if headers:
            out.update(headers)
        return Reply(body, status, out)

    def ok(self, request: Request, ctx: Ctx, data: bytes | None = None, status: int = 200, **headers: str) -> Reply:
        return self.respond(request, ctx, t.envelope(data), status, headers or None)

    def target(self, ctx: Ctx) -> PartyId | None:
        """The addressed receiver, or None when the hub answers itself (OCPI-to is the hub, a party the hub
        runs, a party of a platform in another version or protocol, which the hub serves from its store and
        delivers to in its own terms, or absent)."""
        to = ctx.routing.to_party
        if to is None or to == self.hub_party or self.core.directory.is_local(to):
            return None
        platform = self.core.directory.platform_of(to)
        if platform is not None and platform.row.protocol != PROTOCOL:
            return None
        return to

    @staticmethod
    async def body(request: Request, type_: Any) -> Any:
        raw = await request.body()
        if not raw:
            raise OcpiError(200, t.INVALID_PARAMETERS, "a JSON body is required")
        obj = wire.decode(raw, type_)
        Ocpi.check(rules.check_dates(obj))
        return obj

    @staticmethod
    def check(problems: list[rules.Problem]) -> None:
        if problems:
            raise OcpiError(200, t.INVALID_PARAMETERS, "; ".join(f"{p.path}: {p.message}" for p in problems))

    url_party = staticmethod(t.url_party)
    same = staticmethod(t.same)

    # --- lists ---------------------------------------------------------------------------------

    async def list(self, request: Request, kind: docs.Kind, *, date_from_required: bool = False) -> Reply:
        ctx = await self.enter(request)
        q = request.query_params
        limit = min(t.parse_int(q.get("limit"), "limit", self.page_limit), self.page_limit)
        window = docs.Window(
            offset=t.parse_int(q.get("offset"), "offset", 0),
            limit=limit,
            date_from=t.parse_datetime(q.get("date_from"), "date_from"),
            date_to=t.parse_datetime(q.get("date_to"), "date_to"),
        )
        if date_from_required and window.date_from is None:
            raise OcpiError(200, t.INVALID_PARAMETERS, "date_from is required")
        rows, total = await self.core.objects.page(ctx.platform, kind, window, owner=self.target(ctx))
        headers = {"X-Total-Count": str(total), "X-Limit": str(self.page_limit)}
        link = t.link_next(f"{self.core.settings.base_url}{request.scope['path']}", dict(q), window.offset, limit, total, len(rows))
        if link:
            headers["Link"] = link
        return self.ok(request, ctx, t.json_list(rows), **headers)

    # --- real-time authorization for the hub's own chargers -------------------------------------

    async def realtime_authorize(self, token: model.Token, where: model.LocationReferences) -> model.AuthorizationInfo:
        """Ask the token's eMSP (POST tokens/{uid}/authorize on its Sender interface). A token of a party the
        hub runs itself is answered from the store. Raises when the eMSP cannot be asked."""
        platform = self.core.directory.platform_of(token.owner_party)
        if platform is None:
            return model.AuthorizationInfo(allowed="ALLOWED" if token.valid else "BLOCKED", token=token)
        base = endpoint(platform, "tokens", "SENDER")
        if base is None or not platform.connected:
            raise PeerError(f"{token.owner_party} cannot be asked (no tokens Sender endpoint, or not connected)")

        async def ask() -> model.AuthorizationInfo:
            response = await self.client.to_platform(
                platform, "POST", join(base, token.uid, "authorize"), params={"type": token.type},
                body=wire.encode(m.location_references_from_canonical(where)), from_party=self.hub_party,
                to_party=token.owner_party, timeout=self.core.settings.realtime_auth_timeout,
            )
            if response.status_code == 404:
                return model.AuthorizationInfo(allowed="NOT_ALLOWED", token=token)
            return m.authorization_info_to_canonical(self.client.data(response, wire.AuthorizationInfo, "authorize"))

        key = (platform.id, token.uid.upper(), token.type, where.location_id.upper(), tuple(where.evse_uids))
        return await self.authorizations.run(key, ask)

    # --- forwarding ----------------------------------------------------------------------------

    def receiver_platform(self, to: PartyId) -> Platform:
        platform = self.core.directory.platform_of(to)
        if platform is None:
            raise errors.UnknownReceiver(f"unknown receiver {to}")
        if not platform.connected:
            raise errors.ReceiverOffline(f"{to} is {platform.row.status}")
        return platform

    async def forward_or_owe(
        self, request: Request, ctx: Ctx, to: PartyId, kind: docs.Kind, obj: Any, module: str, subpath: str = "", **kwargs: Any
    ) -> Reply:
        """Forward a change of an object the hub stores (a Session, a CDR); a receiver that cannot be reached now
        gets the object when it takes pushes again (the sender hears 4003/4002 all the same)."""
        try:
            return await self.forward(request, ctx, to, module, "RECEIVER", subpath, **kwargs)
        except (errors.ReceiverOffline, errors.ReceiverTimeout):
            if (platform := self.core.directory.platform_of(to)) is not None:
                await self.core.objects.owe(platform, kind, obj)
            raise

    async def forward(
        self, request: Request, ctx: Ctx, to: PartyId, module: str, role: str, subpath: str = "", *,
        method: str | None = None, body: bytes | None = None, params: dict[str, str] | None = None,
        url: str | None = None, from_party: PartyId | None = None,
    ) -> Reply:
        """Send the request on to `to` and relay its answer unchanged (4001/4002/4003 on trouble).

        A new X-Request-ID for the next hop, the same X-Correlation-ID on every hop."""
        platform = self.receiver_platform(to)
        if url is None:
            base = endpoint(platform, module, role)
            if base is None:
                raise errors.UnknownReceiver(f"{to} has no {module} {role} endpoint")
            url = join(base, subpath)
        if body is None and method is None:
            body = await request.body() or None
        try:
            response = await self.client.to_platform(
                platform, method or request.method, url, body=body, from_party=from_party or ctx.party, to_party=to,
                correlation_id=ctx.routing.correlation_id or None, params=params if params is not None else dict(request.query_params),
                timeout=self.core.settings.forward_timeout,
            )
        except Timeout as exc:  # slow, or too many calls to it in flight (Busy): not offline
            raise errors.ReceiverTimeout(f"{to} did not answer within {self.core.settings.forward_timeout:g} s") from exc
        except TooLarge as exc:
            raise errors.HubError(f"{to} answered with more than the hub reads") from exc
        except Forbidden as exc:  # its endpoint points where the hub may not call: not a sign of life or death
            raise errors.ReceiverOffline(f"{to} cannot be reached") from exc
        except (OutboundError, PeerError) as exc:  # one failure: its health decides whether it is OFFLINE
            await self.core.dispatcher.health.failed(platform.id, f"{type(exc).__name__}: {exc}")
            raise errors.ReceiverOffline(f"{to} cannot be reached") from exc
        await self.core.dispatcher.health.ok(platform.id)
        if 300 <= response.status_code < 400:  # never followed, and not relayed: the caller must not be sent elsewhere either
            raise errors.HubError(f"{to} answered with a redirect (HTTP {response.status_code}), which the hub does not follow")
        relay = {k: response.headers[k] for k in ("link", "x-total-count", "x-limit", "location") if k in response.headers}
        return self.respond(request, ctx, response.content, response.status_code, relay, responder=to)
