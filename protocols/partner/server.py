"""Partner REST API endpoints of the hub, under /api/v1 (and /oauth/token for generic OAuth clients).

Handlers read raw bytes and decode them with msgspec Structs, so every error is this API's own error body
(protocols/partner/transport.py); protocols/partner/openapi.py describes their bodies in the OpenAPI document.
Every /api/v1 route passes `auth.gate` (Bearer token, quota) before its handler unless it is marked public;
a handler gets the consumer as `consumer` and asks `Partner.reader` what it may see (never deciding that itself).
"""

from __future__ import annotations

from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide

from hub.core import Core
from hub.services.consumers import Consumer
from protocols.partner import auth, control, partners, resources, tokens, webhooks, writes
from protocols.partner.api import Partner
from hub.edge import Reply
from protocols.partner.transport import API, STABLE, body, error_reply, version

PUBLIC = {"public": True}  # route opt: no Bearer token, no quota (the token endpoints)


# --- tokens ------------------------------------------------------------------------------------------


@post(f"{API}/auth/token", status_code=200, opt=PUBLIC, summary="A token pair for a client id and secret")
async def auth_token(request: Request, partner: NamedDependency[Partner]) -> Reply:
    return _stamped(request, await auth.issue(partner.consumers, await body(request, auth.TokenRequest)))


@post(f"{API}/auth/refresh", status_code=200, opt=PUBLIC, summary="A new token pair for a refresh token (which stops working)")
async def auth_refresh(request: Request, partner: NamedDependency[Partner]) -> Reply:
    return _stamped(request, await auth.refresh(partner.consumers, await body(request, auth.RefreshRequest)))


@post("/oauth/token", status_code=200, opt=PUBLIC, summary="OAuth 2.0 client credentials grant (RFC 6749 4.4)")
async def oauth_token(request: Request, partner: NamedDependency[Partner]) -> Reply:
    return _stamped(request, await auth.oauth_token(partner.consumers, request))


# --- the consumer itself -------------------------------------------------------------------------------


@get(f"{API}/consumers/me", summary="The credential making the request (needs no scope)")
async def consumers_me(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
    return partner.ok(request, auth.me_body(consumer))


HANDLERS = [auth_token, auth_refresh, oauth_token, consumers_me, *resources.HANDLERS, *writes.HANDLERS, *webhooks.HANDLERS,
            *tokens.HANDLERS, *control.HANDLERS, *partners.HANDLERS]


def router(core: Core, roaming: partners.Roaming | None = None, handlers: list | None = None) -> Router:
    """`roaming`: what inviting and re-syncing a roaming platform mean (the app's connector)."""
    partner = Partner(core, roaming)

    async def gate(request: Request) -> None:
        # versions are this API's: the RFC 6749 endpoint (/oauth/token) answers as RFC 6749 says, whatever is asked
        request.state.partner_headers = {"hub-version": version(request) if request.url.path.startswith(API) else STABLE}
        if not request.route_handler.opt.get("public"):
            request.state.consumer = await auth.gate(partner.consumers, request)

    return Router(
        path="/",
        route_handlers=[*HANDLERS, *(handlers or [])],
        dependencies={"partner": Provide(lambda: partner, use_cache=True, sync_to_thread=False),
                      "consumer": Provide(_consumer, sync_to_thread=False)},
        before_request=gate,
        exception_handlers={Exception: error_reply},  # type: ignore[dict-item]
        include_in_schema=True,
        tags=["Partner API"],
    )


def _stamped(request: Request, reply: Reply) -> Reply:
    """The token endpoints answer themselves: with the request's headers (Hub-Version) too."""
    reply.headers.update(request.state.partner_headers)
    return reply


def _consumer(request: Request) -> Consumer:
    return request.state.consumer
