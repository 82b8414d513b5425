"""Credentials and tokens of the partner REST API.

- `POST /api/v1/auth/token` `{clientId, clientSecret}` and `POST /api/v1/auth/refresh` `{refreshToken}` (Monta's
  form): a token pair with ISO-8601 expiry dates; the refresh token rotates.
- `POST /oauth/token`: RFC 6749 client credentials (section 4.4), client authentication in the form body or by
  HTTP Basic (section 2.3.1), errors as section 5.2 says, so generic OAuth clients work.
- `gate`: every other /api/v1 request needs a live Bearer access token and is counted against its
  credential's quota; the `RateLimit-*` headers go on every answer it gets.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, unquote_plus

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException
from msgspec import Meta, Struct

from hub.services.consumers import Consumer, Consumers, Quota, Refused, TokenPair
from hub.edge import Reply
from protocols.partner.transport import ApiError, encode

Secret = Annotated[str, Meta(min_length=1, max_length=256)]
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}  # RFC 6749 5.1: token answers are never cached


# --- wire types --------------------------------------------------------------------------------------


class TokenRequest(Struct, rename="camel", kw_only=True):
    client_id: Secret
    client_secret: Secret


class RefreshRequest(Struct, rename="camel", kw_only=True):
    refresh_token: Secret


class Tokens(Struct, rename="camel", kw_only=True):
    access_token: str
    refresh_token: str
    access_token_expiration_date: datetime
    refresh_token_expiration_date: datetime


class Me(Struct, rename="camel", kw_only=True):
    name: str
    client_id: str
    party: str | None  # `CC/PID`; null for an admin credential, which acts for the hub operator
    admin: bool
    scopes: list[str]
    rate_limit: int
    rate_limit_interval_in_seconds: int


class OAuthTokenForm(Struct, kw_only=True):
    """The form body of `POST /oauth/token` (client_id/client_secret here or in HTTP Basic)."""

    grant_type: Literal["client_credentials"]
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None


class OAuthToken(Struct, kw_only=True):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class OAuthError(Struct, kw_only=True, omit_defaults=True):
    error: Literal["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope"]
    error_description: str | None = None


def _date(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz=timezone.utc)  # whole seconds, never later than the real expiry


def tokens_body(pair: TokenPair) -> bytes:
    return encode(Tokens(access_token=pair.access_token, refresh_token=pair.refresh_token,
                         access_token_expiration_date=_date(pair.access_expires_us),
                         refresh_token_expiration_date=_date(pair.refresh_expires_us)))


def me_body(consumer: Consumer) -> bytes:
    return encode(Me(name=consumer.name, client_id=consumer.client_id, party=consumer.party and str(consumer.party),
                     admin=consumer.admin, scopes=consumer.scopes.names(), rate_limit=consumer.rate_limit,
                     rate_limit_interval_in_seconds=consumer.rate_window))


# --- Monta-style JSON endpoints --------------------------------------------------------------------


async def issue(consumers: Consumers, request: TokenRequest) -> Reply:
    try:
        pair = await consumers.issue(request.client_id, request.client_secret)
    except Refused as exc:
        raise ApiError("CONSUMER_NOT_FOUND", exc.message, readable="The client id or secret is wrong.") from None
    return Reply(tokens_body(pair), headers=NO_STORE)


async def refresh(consumers: Consumers, request: RefreshRequest) -> Reply:
    try:
        pair = await consumers.refresh(request.refresh_token)
    except Refused as exc:
        raise ApiError("INVALID_ACCESS_TOKEN", exc.message, readable="Ask for a new token pair with the client id and secret.") from None
    return Reply(tokens_body(pair), headers=NO_STORE)


# --- RFC 6749 client credentials ---------------------------------------------------------------------


class OAuthFailure(Exception):
    def __init__(self, error: str, description: str, status: int = 400, basic: bool = False) -> None:
        super().__init__(description)
        self.error, self.description, self.status, self.basic = error, description, status, basic

    def reply(self) -> Reply:
        headers = dict(NO_STORE)
        if self.status == 401:  # RFC 6749 5.2: the scheme the client used, or may use
            headers["www-authenticate"] = 'Basic realm="hub"' if self.basic else 'Bearer realm="hub"'
        return Reply(encode(OAuthError(error=self.error, error_description=self.description)), self.status, headers)  # type: ignore[arg-type]


async def oauth_token(consumers: Consumers, request: Request) -> Reply:
    try:
        form = await _form(request)
        if "grant_type" not in form:
            raise OAuthFailure("invalid_request", "grant_type is required")
        if form["grant_type"] != "client_credentials":
            raise OAuthFailure("unsupported_grant_type", "only grant_type=client_credentials is supported")
        client_id, client_secret, basic = _client(request, form)
        try:
            pair = await consumers.issue(client_id, client_secret)
        except Refused:
            raise OAuthFailure("invalid_client", "unknown client, wrong secret, or a revoked credential", 401, basic) from None
    except OAuthFailure as failure:
        return failure.reply()
    consumer = await consumers.get(client_id)
    token = OAuthToken(access_token=pair.access_token, token_type="Bearer", scope=" ".join(consumer.scopes.names()) if consumer else "",
                       expires_in=consumers.access_ttl_us // 1_000_000)
    return Reply(encode(token), headers=NO_STORE)


async def _form(request: Request) -> dict[str, str]:
    """The parameters, each at most once (RFC 6749 3.2); a JSON object is taken too (some clients send one)."""
    try:
        raw = await request.body()
    except HTTPException as exc:  # too large, too slow
        raise OAuthFailure("invalid_request", str(exc.detail), exc.status_code) from None
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            data: Any = msgspec.json.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            raise OAuthFailure("invalid_request", "malformed JSON body") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise OAuthFailure("invalid_request", "the body must be an object of strings")
        return data
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise OAuthFailure("invalid_request", "the body must be application/x-www-form-urlencoded") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthFailure("invalid_request", f"{name} is given more than once")
        form[name] = value
    return form


def _client(request: Request, form: dict[str, str]) -> tuple[str, str, bool]:
    """(client_id, client_secret, by HTTP Basic): one way of authenticating the client, not two."""
    header = request.headers.get("authorization")
    in_body = "client_id" in form or "client_secret" in form
    if header is None:
        if not form.get("client_id") or not form.get("client_secret"):
            raise OAuthFailure("invalid_client", "client authentication is required (HTTP Basic, or client_id and client_secret)", 401)
        return form["client_id"], form["client_secret"], False
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthFailure("invalid_client", "client authentication is HTTP Basic or in the body", 401, basic=True)
    if in_body:
        raise OAuthFailure("invalid_request", "client credentials both in the Authorization header and the body")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthFailure("invalid_client", "malformed HTTP Basic credentials", 401, basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id or not secret:
        raise OAuthFailure("invalid_client", "malformed HTTP Basic credentials", 401, basic=True)
    return unquote_plus(client_id), unquote_plus(secret), True  # RFC 6749 2.3.1: form-encoded before Base64


# --- the gate of every other /api/v1 request ---------------------------------------------------------


def rate_headers(quota: Quota, window: int) -> dict[str, str]:
    return {"ratelimit-policy": "Quota", "ratelimit-quota": str(quota.limit), "ratelimit-timewindow": str(window),
            "ratelimit-remaining": str(quota.remaining), "ratelimit-resetsin": str(quota.resets_in)}


async def gate(consumers: Consumers, request: Request) -> Consumer:
    """The consumer of the request's Bearer token, counted against its quota (401 / 429 otherwise). The quota
    headers go on `request.state` for whatever answer follows."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("INVALID_ACCESS_TOKEN", "a Bearer access token is required (POST /api/v1/auth/token)",
                       headers={"www-authenticate": 'Bearer realm="hub"'})
    consumer = await consumers.authenticate(token.strip())
    if consumer is None:
        raise ApiError("INVALID_ACCESS_TOKEN", "the access token is unknown, expired or revoked",
                       headers={"www-authenticate": 'Bearer realm="hub", error="invalid_token"'})
    quota = await consumers.quota(consumer)
    request.state.partner_headers = {**getattr(request.state, "partner_headers", {}), **rate_headers(quota, consumer.rate_window)}
    if not quota.allowed:
        raise ApiError("RATE_LIMITED", f"more than {quota.limit} requests in {consumer.rate_window} s",
                       headers={"retry-after": str(quota.resets_in)}, readable=f"Try again in {quota.resets_in} s.")
    return consumer
