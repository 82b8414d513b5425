"""HTTP plumbing of the partner REST API: its error body, bare responses, body decoding, and the answers to
paths and methods no route has.

Every error is `{status, message, errorCode, readableMessage, context}` (wire.Error) with a stable code;
domain errors of the core map onto those codes here, in one place.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from hub.services import errors
from hub.services.consumers import Refused
from protocols.partner import wire

log = logging.getLogger(__name__)

API = "/api/v1"
# the API's versions, oldest first; a request names one with the `Hub-Version` header (none: the stable one, the
# newest) and every answer says which one it is
VERSIONS = ("2026-12-01",)
STABLE = VERSIONS[-1]
PREFIXES = (f"{API}/", "/oauth/")  # paths whose unmatched answers are this protocol's, not OCPI's

# codes for what the HTTP layer itself refuses (not in wire.ERROR_CODES: no endpoint raises them)
EDGE_CODES = {408: "REQUEST_TIMEOUT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}

_encoder = msgspec.json.Encoder()


class ApiError(Exception):
    """An answer in the error format: `code` one of wire.ERROR_CODES (or EDGE_CODES with `status`)."""

    def __init__(self, code: str, message: str, *, context: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                 readable: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.context, self.readable = code, message, context, readable
        self.status = status or wire.ERROR_CODES[code]
        self.headers = headers or {}

    def body(self) -> bytes:
        return _encoder.encode(wire.Error(status=self.status, message=self.message, error_code=self.code,
                                          readable_message=self.readable, context=self.context))


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


# --- request bodies ----------------------------------------------------------------------------------

_AT = re.compile(r"`\$\.?([^`]*)`")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def field_of(message: str) -> str | None:
    """The field a msgspec validation message names (`$.a.b` or a missing required field), as `a.b`."""
    at = _AT.search(message)
    path = at.group(1) if at else ""
    missing = _MISSING.search(message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path or None


def decode(raw: bytes, type_: Any) -> Any:
    """A JSON body as `type_`; 400 VALIDATION_ERROR naming the field otherwise."""
    if not raw:
        raise ApiError("VALIDATION_ERROR", "a JSON body is required")
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as exc:
        field = field_of(str(exc))
        raise ApiError("VALIDATION_ERROR", str(exc), context={"field": field} if field else None) from None
    except (msgspec.DecodeError, RecursionError) as exc:
        message = "JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ApiError("VALIDATION_ERROR", f"malformed JSON: {message}", readable="The request body is not valid JSON.") from None


async def body(request: Request, type_: Any) -> Any:
    return decode(await request.body(), type_)


def version(request: Request) -> str:
    """The version a request asks for (Hub-Version), or the stable one; 400 for one this hub does not have."""
    asked = request.headers.get("hub-version")
    if asked is None or asked.strip() == "":
        return STABLE
    if asked.strip() not in VERSIONS:
        raise ApiError("VALIDATION_ERROR", f"Hub-Version {asked[:40]!r} is not a version of this API (known: {', '.join(VERSIONS)})",
                       context={"field": "Hub-Version"}, headers={"hub-version": STABLE})
    return asked.strip()


def query(request: Request, type_: type) -> Any:
    """The query string as `type_` (the last of a repeated parameter counts; unknown ones are ignored)."""
    try:
        return msgspec.convert(dict(request.query_params.items()), type_, strict=False)
    except msgspec.ValidationError as exc:
        field = field_of(str(exc))
        raise ApiError("VALIDATION_ERROR", str(exc), context={"field": field} if field else None) from None


# --- errors ----------------------------------------------------------------------------------------


def as_api_error(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, Refused):
        return ApiError("INVALID_ACCESS_TOKEN", exc.message)
    if isinstance(exc, errors.Invalid):
        return ApiError("VALIDATION_ERROR", exc.message, context={"field": exc.path} if exc.path else None)
    if isinstance(exc, errors.NotFound):
        return ApiError("RESOURCE_NOT_FOUND", exc.message)
    if isinstance(exc, (errors.NotOwner, errors.NotPermitted)):
        return ApiError("ACCESS_FORBIDDEN", exc.message)
    if isinstance(exc, errors.HubError):
        return ApiError("CONFLICT", exc.message)
    if isinstance(exc, HTTPException):
        return _http(exc)
    log.exception("partner API request failed", exc_info=exc)
    return ApiError("INTERNAL_ERROR", "internal error")


def _http(exc: HTTPException) -> ApiError:
    code = {400: "VALIDATION_ERROR", 401: "INVALID_ACCESS_TOKEN", 403: "ACCESS_FORBIDDEN", 404: "RESOURCE_NOT_FOUND",
            405: "METHOD_NOT_ALLOWED", 429: "RATE_LIMITED"}.get(exc.status_code) or EDGE_CODES.get(exc.status_code)
    if code is None:
        return ApiError("INTERNAL_ERROR", "internal error") if exc.status_code >= 500 else \
            ApiError("VALIDATION_ERROR", str(exc.detail), status=exc.status_code)
    return ApiError(code, str(exc.detail), status=exc.status_code, headers=dict(exc.headers or {}))


def error_reply(request: Request, exc: Exception) -> Response:
    """The error answer, with the quota headers of the request when it got that far."""
    err = as_api_error(exc)
    headers = {**getattr(request.state, "partner_headers", {}), **err.headers}
    return Response(content=err.body(), status_code=err.status, media_type="application/json", headers=headers)


def unmatched(request: Request, exc: HTTPException) -> Response:
    """A path under /api/v1 (or /oauth) that no route matches, or a method its route lacks."""
    err = _http(exc)
    if exc.status_code == 404:
        err = ApiError("RESOURCE_NOT_FOUND", f"no such resource: {request.url.path[:200]}")
    elif exc.status_code == 405:
        err = ApiError("METHOD_NOT_ALLOWED", f"{request.method} is not allowed here", headers=err.headers)
    return Response(content=err.body(), status_code=err.status, media_type="application/json", headers=err.headers)
