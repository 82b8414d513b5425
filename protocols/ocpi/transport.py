"""OCPI transport rules shared by every version: status codes and errors, tokens in headers, envelopes, routing
headers, pagination."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import msgspec
from litestar.exceptions import HTTPException

from hub.model import PartyId
from hub.services import errors

if TYPE_CHECKING:
    from hub.core import Core
    from hub.services.directory import Platform

log = logging.getLogger(__name__)

# --- status codes ------------------------------------------------------------------------------
SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
SERVER_ERROR = 3000
UNABLE_TO_USE_CLIENT_API = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003
HUB_ERROR = 4000
UNKNOWN_RECEIVER = 4001
TIMEOUT_ON_FORWARDED_REQUEST = 4002
CONNECTION_PROBLEM = 4003

PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
PARTY_CODE = {"country_code": re.compile(r"^[A-Za-z]{2}$"), "party_id": re.compile(r"^[A-Za-z0-9]{3}$")}


class OcpiError(Exception):
    """Answered as an OCPI envelope with this HTTP status and OCPI status code."""

    def __init__(self, http_status: int, status_code: int, message: str, data: bytes | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status_code = status_code
        self.message = message
        self.data = data


# --- the hub's domain errors as OCPI answers (the same in every version) ----------------------

ERROR_CODES: list[tuple[type[Exception], int, int]] = [  # (exception, HTTP status, OCPI status)
    (errors.UnknownLocation, 404, UNKNOWN_LOCATION),
    (errors.UnknownToken, 404, UNKNOWN_TOKEN),
    (errors.NotFound, 404, CLIENT_ERROR),
    (errors.NotOwner, 404, INVALID_PARAMETERS),
    (errors.Invalid, 200, INVALID_PARAMETERS),
    (errors.UnknownReceiver, 200, UNKNOWN_RECEIVER),
    (errors.ReceiverOffline, 200, CONNECTION_PROBLEM),
    (errors.ReceiverTimeout, 200, TIMEOUT_ON_FORWARDED_REQUEST),
    (errors.AlreadyRegistered, 405, CLIENT_ERROR),
    (errors.NotRegistered, 405, CLIENT_ERROR),
]


def as_ocpi_error(exc: Exception) -> OcpiError:
    if isinstance(exc, OcpiError):
        return exc
    if isinstance(exc, msgspec.ValidationError):
        return OcpiError(200, INVALID_PARAMETERS, f"invalid object: {exc}")
    if isinstance(exc, msgspec.DecodeError):
        return OcpiError(400, INVALID_PARAMETERS, f"malformed JSON: {exc}")
    for cls, http, code in ERROR_CODES:
        if isinstance(exc, cls):
            return OcpiError(http, code, str(exc))
    if isinstance(exc, errors.HubError):
        return OcpiError(200, HUB_ERROR, str(exc))
    if isinstance(exc, HTTPException):  # the framework refused the request (413: body over max_body_bytes)
        log.info("refused an OCPI request: %s %s", exc.status_code, exc.detail)
        return OcpiError(exc.status_code, CLIENT_ERROR if exc.status_code < 500 else SERVER_ERROR, exc.detail)
    log.exception("unexpected error in an OCPI request", exc_info=exc)
    return OcpiError(500, SERVER_ERROR, "internal error")


OCPI_ID = re.compile(r"[\x20-\x7e]{0,255}")
QUERY_VALUE = re.compile(r"[^\x00-\x1f\x7f]{0,255}")


def check_url_parameters(request: Any) -> None:
    """What the URL carries reaches the database (PostgreSQL refuses NUL and over-long values): ids in OCPI paths
    are CiStrings, printable ASCII (a path that cannot name an OCPI object names none, like a path no route
    matches), query values short and without control characters. At most 255 characters each."""
    for name, value in request.path_params.items():
        if not OCPI_ID.fullmatch(value):
            raise OcpiError(404, CLIENT_ERROR, f"{name}: not an OCPI id (printable ASCII, at most 255 characters)")
    for name, value in request.query_params.multi_items():
        if not QUERY_VALUE.fullmatch(value):
            raise OcpiError(200, INVALID_PARAMETERS, f"{name}: control characters or more than 255 characters")


# --- the caller and its URL ---------------------------------------------------------------------


async def authenticate(core: Core, authorization: str | None, allow_a: bool) -> tuple[Platform, str]:
    """The platform whose token the `Authorization` header carries (Base64 or raw), and that token. Token A opens only
    versions and credentials. A platform that was OFFLINE and talks to us is back."""
    platform, token = None, ""
    for token in token_candidates(authorization):
        platform = await core.directory.platform_for_token(token)
        if platform is not None:
            break
    if platform is None:
        raise OcpiError(401, CLIENT_ERROR, "missing or unknown credentials token")
    if platform.row.token_in_kind == "A" and not allow_a:
        raise OcpiError(401, CLIENT_ERROR, "token A is only valid on versions and credentials")
    if platform.row.status == "OFFLINE":
        asyncio.get_running_loop().create_task(core.parties.came_back(platform.id))
    return platform, token


def url_party(country_code: str, party_id: str) -> PartyId:
    if not PARTY_CODE["country_code"].match(country_code) or not PARTY_CODE["party_id"].match(party_id):
        raise OcpiError(200, INVALID_PARAMETERS, "malformed country_code/party_id in the URL")
    return PartyId.of(country_code, party_id)


def same(url_value: str, body_value: str, name: str) -> None:
    if url_value.upper() != body_value.upper():
        raise OcpiError(200, INVALID_PARAMETERS, f"{name} in the URL ({url_value}) differs from the body ({body_value})")


# --- tokens ------------------------------------------------------------------------------------


def token_candidates(header: str | None) -> list[str]:
    """The tokens an `Authorization: Token ...` header may carry: Base64 (2.2.1) first, then the raw value (2.1.1 habit)."""
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return []
    out = []
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
        if PRINTABLE.match(decoded):
            out.append(decoded)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    if value not in out:
        out.append(value)
    return out


def authorization(token: str, codec: str = "base64") -> str:
    if codec == "raw":
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode()).decode()


# --- envelopes ---------------------------------------------------------------------------------

_ts_cache: tuple[int, bytes] = (0, b"")


def timestamp() -> bytes:
    """The envelope timestamp (whole seconds, `Z` form), formatted once per second."""
    global _ts_cache
    now = int(time.time())
    if _ts_cache[0] != now:
        _ts_cache = (now, datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ").encode())
    return _ts_cache[1]


def now_iso() -> str:
    return timestamp().decode()


_message_encoder = msgspec.json.Encoder()


def envelope(data: bytes | None = None, status_code: int = SUCCESS, message: str | None = None) -> bytes:
    """Build the response envelope around already-encoded `data` (no decoding, no re-encoding)."""
    parts = [b"{"]
    if data is not None:
        parts += [b'"data":', data, b","]
    parts += [b'"status_code":', str(status_code).encode()]
    if message:
        parts += [b',"status_message":', _message_encoder.encode(message)]
    parts += [b',"timestamp":"', timestamp(), b'"}']
    return b"".join(parts)


def json_list(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


# --- routing headers ---------------------------------------------------------------------------


class Routing(msgspec.Struct, frozen=True):
    from_party: PartyId | None
    to_party: PartyId | None
    request_id: str
    correlation_id: str


def _party(headers: dict[str, str] | object, side: str) -> PartyId | None:
    cc = headers.get(f"ocpi-{side}-country-code")  # type: ignore[attr-defined]
    pid = headers.get(f"ocpi-{side}-party-id")  # type: ignore[attr-defined]
    if cc is None and pid is None:
        return None
    if cc is None or pid is None:
        raise OcpiError(200, INVALID_PARAMETERS, f"OCPI-{side}-country-code and OCPI-{side}-party-id travel together")
    if not PARTY_CODE["country_code"].match(cc) or not PARTY_CODE["party_id"].match(pid):
        raise OcpiError(200, INVALID_PARAMETERS, f"malformed OCPI-{side}-* routing headers")
    return PartyId.of(cc, pid)


def routing(headers: object, functional: bool = True) -> Routing:
    """Routing headers of a request. Configuration modules ignore OCPI-from/to (some peers send them anyway).
    A missing X-Correlation-ID is the request's own id (a new exchange starts here); empty when neither
    is given (the next hop then gets fresh ones)."""
    request_id = headers.get("x-request-id") or ""  # type: ignore[attr-defined]
    correlation_id = headers.get("x-correlation-id") or request_id  # type: ignore[attr-defined]
    if not functional:
        return Routing(None, None, request_id[:64], correlation_id[:64])
    return Routing(_party(headers, "from"), _party(headers, "to"), request_id[:64], correlation_id[:64])


def party_headers(from_party: PartyId | None, to_party: PartyId | None) -> dict[str, str]:
    out = {}
    if from_party is not None:
        out["OCPI-from-country-code"] = from_party.country_code
        out["OCPI-from-party-id"] = from_party.party_id
    if to_party is not None:
        out["OCPI-to-country-code"] = to_party.country_code
        out["OCPI-to-party-id"] = to_party.party_id
    return out


# --- pagination --------------------------------------------------------------------------------


def parse_datetime(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        text = value.strip().replace(" ", "+")  # a '+' left unencoded in a query string arrives as a space
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: an offset that leaves the years 1-9999
        raise OcpiError(200, INVALID_PARAMETERS, f"{name}: not an RFC 3339 date-time: {value!r}") from None


def parse_int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise OcpiError(200, INVALID_PARAMETERS, f"{name}: not an integer: {value!r}") from None
    if n < 0:
        raise OcpiError(200, INVALID_PARAMETERS, f"{name}: must not be negative")
    return n


def link_next(url: str, params: dict[str, str], offset: int, limit: int, total: int, returned: int) -> str | None:
    """`<url?...&offset=n&limit=m>; rel="next"` repeating every original filter, or None on the last page."""
    if offset + returned >= total or returned == 0:
        return None
    query = {k: v for k, v in params.items() if k not in ("offset", "limit")}
    query["offset"] = str(offset + returned)
    query["limit"] = str(limit)
    return f'<{url}?{urlencode(query)}>; rel="next"'


class Envelope(msgspec.Struct):
    """A peer's response envelope, read leniently; `data` stays raw until its type is known."""

    status_code: int
    data: msgspec.Raw = msgspec.Raw(b"null")
    status_message: str | None = None
    timestamp: str | None = None

    @property
    def has_data(self) -> bool:
        return bytes(self.data) not in (b"", b"null")


class _EnvelopeDecoder:
    """Decodes a peer's envelope. JSON nested deeper than msgspec can follow (it raises RecursionError) is
    malformed too: a DecodeError, which the callers answer."""

    _decoder = msgspec.json.Decoder(Envelope)

    def decode(self, data: bytes) -> Envelope:
        try:
            return self._decoder.decode(data)
        except RecursionError:
            raise msgspec.DecodeError("JSON nested too deeply") from None


envelope_decoder = _EnvelopeDecoder()
