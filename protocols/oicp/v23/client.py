"""The hub's calls to Hubject over OICP 2.3: one method per operation of the endpoint matrix (digest §1.1).

Every operation is a POST of a wire type (msgspec JSON) to `{base_url}{path}`, where base_url ends in /api/oicp. It
goes through the hub's one guarded outbound client, which also holds the mutual-TLS context Hubject requires: this
module does no TLS, no retries (the outbox lane that calls it backs off) and no logging (an AuthorizeStart may carry
a clear-text PIN).

What an answer becomes:
- HTTP 200: the operation's answer type. A business refusal is a 200 too (Result false, NotAuthorized, a StatusCode
  other than 000): the caller judges it; `acknowledged` turns a refusing Acknowledgement into the hub's error.
- 429: RateLimited (Retry-After read); 5xx: ServerTrouble. Both retryable.
- any other 4xx: Refused, with Hubject's reason from its FaultBody (400) or OicpERoamingFault (401/404, StatusCode).
- a 200 that is not the expected type, or another status: BadAnswer (a broken peer: retrying will not help).
- no answer at all: hub.outbound's OutboundError (Unreachable, Timeout, ...) as it is raised.
`retryable(exc)` tells the outbox which of all these may succeed later. It does not say that a repeat is safe:
AuthorizeStart and RemoteStart create a session per call, and Hubject takes one CDR per session (digest §5.5).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import msgspec

from hub.outbound import Forbidden, Outbound, Response, Timeout, Unreachable
from hub.services import errors as hub_errors
from protocols.oicp.v23 import errors, wire

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
DETAIL_CHARS = 500  # an exception's detail ends up in logs and the outbox's last error: short
MAX_RETRY_AFTER = 86400.0  # a lane never parks for longer on one header's word

CdrPage = wire.Page[wire.ChargeDetailRecord]  # the answer to GetChargeDetailRecords


# --- errors ----------------------------------------------------------------------------------------------------------


class OicpCallError(Exception):
    """Hubject answered, but not with the operation's answer. `detail` is short and safe to log."""

    def __init__(self, detail: str) -> None:
        self.detail = detail[:DETAIL_CHARS]
        super().__init__(self.detail)

    @property
    def retryable(self) -> bool:
        return False


class RateLimited(OicpCallError):
    """HTTP 429: over the AUP's calls per minute for this operation (digest §1.2)."""

    def __init__(self, retry_after: float | None, detail: str = "HTTP 429") -> None:
        super().__init__(detail)
        self.retry_after = retry_after  # seconds, from Retry-After; None when Hubject gave none

    @property
    def retryable(self) -> bool:
        return True


class ServerTrouble(OicpCallError):
    """HTTP 5xx: Hubject (or a proxy in front of it) failed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status

    @property
    def retryable(self) -> bool:
        return True


class Refused(OicpCallError):
    """HTTP 4xx other than 429: the request itself is wrong (400 schema validation, 401/403 certificate or ID, 404).
    `status_code` is the OicpERoamingFault's StatusCode when the body has one (017: ID not the certificate's)."""

    def __init__(self, status: int, detail: str, status_code: wire.StatusCode | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.status_code = status_code


class BadAnswer(OicpCallError):
    """An answer outside the protocol: a 200 that is not the operation's answer type, or an unexpected status."""

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.status = status


def retryable(exc: BaseException) -> bool:
    """May the same call succeed later? Rate limits, server errors and transport failures may; a refusal, a broken
    answer or a destination the hub's policy forbids will not."""
    if isinstance(exc, OicpCallError):
        return exc.retryable
    if isinstance(exc, Forbidden):  # (a subclass of Unreachable) configuration, not weather
        return False
    return isinstance(exc, (Unreachable, Timeout))


def acknowledged(ack: wire.Acknowledgement) -> None:
    """Nothing when Hubject took it (Result true), else the hub's error for its StatusCode."""
    if not ack.result:
        raise errors.error_of(ack.status_code) or hub_errors.HubError(
            "Hubject answered Result false with StatusCode 000")


# --- reading answers -------------------------------------------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _text(content: bytes, limit: int = 200) -> str:
    """The start of a body that is not Hubject's JSON (an HTML error page of a proxy), on one line."""
    text = re.sub(r"\s+", " ", content[: limit * 4].decode("utf-8", "replace")).strip()
    return "".join(c for c in text if c.isprintable())[:limit]


def _fault(content: bytes) -> tuple[str, wire.StatusCode | None]:
    """Hubject's reason from an error body: FaultBody (message, validationErrors) or OicpERoamingFault
    (StatusCode, message). Each read on its own: unknown fields are ignored, so one body can feed both."""
    try:
        body = wire.decode(content, wire.FaultBody)
    except msgspec.DecodeError:
        body = None
    try:
        fault = wire.decode(content, wire.OicpFault)
    except msgspec.DecodeError:
        fault = None
    status = fault.status_code if fault else None
    parts = []
    if status is not None:
        parts.append(" ".join(t for t in (status.code, status.description, status.additional_info) if t))
    message = (body and body.message) or (fault and fault.message)
    if message:
        parts.append(message)
    if body and body.extended_info:
        parts.append(body.extended_info)
    for problem in (body and body.validation_errors) or []:
        parts.append(": ".join(t for t in (problem.field_reference, problem.error_message) if t))
    if body is None and fault is None and content:
        parts.append(_text(content))
    return "; ".join(p for p in parts if p), status


def _failure(what: str, response: Response) -> OicpCallError:
    status = response.status_code
    if status == 429:
        reason, _ = _fault(response.content)
        return RateLimited(_retry_after(response.headers.get("retry-after")),
                           f"{what}: HTTP 429" + (f": {reason}" if reason else ""))
    reason, code = _fault(response.content)
    detail = f"{what}: HTTP {status}" + (f": {reason}" if reason else "")
    if status >= 500:
        return ServerTrouble(status, detail)
    if 400 <= status < 500:
        return Refused(status, detail, code)
    return BadAnswer(detail, status)  # 1xx/3xx (redirects are never followed), a 2xx Hubject never sends


def _id(value: str) -> str:
    """An OperatorID or ProviderID as one path segment: every reserved character percent-encoded (`*` -> %2A,
    `+` of DIN IDs -> %2B), so nothing in an ID can end the segment or be read as a separator."""
    if not value or value in (".", ".."):
        raise ValueError(f"not a partner ID: {value!r}")
    return quote(value, safe="")


def _paging(page: int, size: int) -> dict[str, str]:
    # Spring's paging: page 0-based, size at least 1 (Hubject's maximum, 2000, is the caller's to respect)
    if page < 0 or size < 1:
        raise ValueError(f"page {page}, size {size}: page is 0-based and size at least 1")
    return {"page": str(page), "size": str(size)}


# --- the client ------------------------------------------------------------------------------------------------------


class OicpClient:
    """Hubject's operations, called through `outbound` (which carries the client certificate). `base_url` is
    Hubject's base up to and including /api/oicp, e.g. https://service-qa.hubject.com/api/oicp."""

    def __init__(self, outbound: Outbound, base_url: str, timeout: float = 20.0) -> None:
        self.outbound = outbound
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout  # AuthorizeStart fans out to EMPs: Hubject can take seconds (digest §5.3)

    async def post(self, what: str, path: str, body: Any, params: dict[str, str] | None = None) -> bytes:
        """POST `body` (a wire struct) to `path` under the base URL: the body of a 200 answer, else the error."""
        response = await self.outbound.request("POST", self.base_url + path, headers=JSON, content=wire.encode(body),
                                               params=params, timeout=self.timeout)
        if response.status_code != 200:
            raise _failure(what, response)
        return response.content

    async def call(self, what: str, path: str, body: Any, answer: Any, params: dict[str, str] | None = None) -> Any:
        """`post`, the answer decoded into `answer`."""
        content = await self.post(what, path, body, params)
        try:
            return wire.decode(content, answer)
        except msgspec.DecodeError as exc:  # (and ValidationError, its subclass)
            raise BadAnswer(f"{what}: HTTP 200 but no {getattr(answer, '__name__', answer)}: {exc}", 200) from None

    # --- CPO: what the hub sends for its operators ---

    async def push_evse_data(self, operator_id: str, request: wire.PushEvseData) -> wire.Acknowledgement:
        return await self.call("PushEvseData", f"/evsepush/v23/operators/{_id(operator_id)}/data-records", request,
                               wire.Acknowledgement)

    async def push_evse_status(self, operator_id: str, request: wire.PushEvseStatus) -> wire.Acknowledgement:
        return await self.call("PushEvseStatus", f"/evsepush/v21/operators/{_id(operator_id)}/status-records",
                               request, wire.Acknowledgement)

    async def authorize_start(self, operator_id: str, request: wire.AuthorizeStart) -> wire.AuthorizationStart:
        return await self.call("AuthorizeStart", f"/charging/v21/operators/{_id(operator_id)}/authorize/start",
                               request, wire.AuthorizationStart)

    async def authorize_stop(self, operator_id: str, request: wire.AuthorizeStop) -> wire.AuthorizationStop:
        return await self.call("AuthorizeStop", f"/charging/v21/operators/{_id(operator_id)}/authorize/stop",
                               request, wire.AuthorizationStop)

    async def charge_detail_record(self, operator_id: str, request: wire.ChargeDetailRecord) -> wire.Acknowledgement:
        return await self.call("ChargeDetailRecord",
                               f"/cdrmgmt/v22/operators/{_id(operator_id)}/charge-detail-record", request,
                               wire.Acknowledgement)

    async def charging_notification(self, notification: wire.ChargingNotification) -> wire.Acknowledgement:
        # no ID in the path: Hubject takes the operator from the body (and the certificate)
        return await self.call("ChargingNotification", "/notificationmgmt/v11/charging-notifications", notification,
                               wire.Acknowledgement)

    async def push_pricing_product_data(self, operator_id: str,
                                        request: wire.PushPricingProductData) -> wire.Acknowledgement:
        return await self.call("PushPricingProductData",
                               f"/dynamicpricing/v10/operators/{_id(operator_id)}/pricing-products", request,
                               wire.Acknowledgement)

    async def push_evse_pricing(self, operator_id: str, request: wire.PushEvsePricing) -> wire.Acknowledgement:
        return await self.call("PushEVSEPricing", f"/dynamicpricing/v10/operators/{_id(operator_id)}/evse-pricing",
                               request, wire.Acknowledgement)

    # --- EMP: what the hub sends for its providers ---

    async def pull_evse_data_raw(self, provider_id: str, request: wire.PullEvseData, page: int, size: int) -> bytes:
        """One page of EVSE data, undecoded: a caller walking thousands of records decodes each page with its own
        (lean) type and drops it before the next."""
        return await self.post("PullEvseData", f"/evsepull/v23/providers/{_id(provider_id)}/data-records", request,
                               _paging(page, size))

    async def pull_evse_data(self, provider_id: str, request: wire.PullEvseData, page: int,
                             size: int) -> wire.EvseDataPage:
        return await self.call("PullEvseData", f"/evsepull/v23/providers/{_id(provider_id)}/data-records", request,
                               wire.EvseDataPage, _paging(page, size))

    async def pull_evse_status(self, provider_id: str, request: wire.PullEvseStatus) -> wire.EvseStatusResponse:
        return await self.call("PullEvseStatus", f"/evsepull/v21/providers/{_id(provider_id)}/status-records",
                               request, wire.EvseStatusResponse)

    async def pull_evse_status_by_id(self, provider_id: str,
                                     request: wire.PullEvseStatusById) -> wire.EvseStatusByIdResponse:
        # the Swagger's own path (the EMP OpenAPI folds the three status pulls into /status-records)
        return await self.call("PullEvseStatusByID",
                               f"/evsepull/v21/providers/{_id(provider_id)}/status-records-by-id", request,
                               wire.EvseStatusByIdResponse)

    async def pull_evse_status_by_operator_id(self, provider_id: str,
                                              request: wire.PullEvseStatusByOperatorId) -> wire.EvseStatusResponse:
        return await self.call("PullEvseStatusByOperatorID",
                               f"/evsepull/v21/providers/{_id(provider_id)}/status-records-by-operator-id", request,
                               wire.EvseStatusResponse)

    async def push_authentication_data(self, provider_id: str,
                                       request: wire.PushAuthenticationData) -> wire.Acknowledgement:
        return await self.call("PushAuthenticationData", f"/authdata/v21/providers/{_id(provider_id)}/push-request",
                               request, wire.Acknowledgement)

    async def authorize_remote_start(self, provider_id: str,
                                     request: wire.AuthorizeRemoteStart) -> wire.Acknowledgement:
        return await self.call("AuthorizeRemoteStart",
                               f"/charging/v21/providers/{_id(provider_id)}/authorize-remote/start", request,
                               wire.Acknowledgement)

    async def authorize_remote_stop(self, provider_id: str, request: wire.AuthorizeRemoteStop) -> wire.Acknowledgement:
        # the path's placeholder is called externalId in the Swagger: it carries the ProviderID all the same
        return await self.call("AuthorizeRemoteStop",
                               f"/charging/v21/providers/{_id(provider_id)}/authorize-remote/stop", request,
                               wire.Acknowledgement)

    async def authorize_remote_reservation_start(
            self, provider_id: str, request: wire.AuthorizeRemoteReservationStart) -> wire.Acknowledgement:
        return await self.call("AuthorizeRemoteReservationStart",
                               f"/reservation/v11/providers/{_id(provider_id)}/reservation-start-request", request,
                               wire.Acknowledgement)

    async def authorize_remote_reservation_stop(
            self, provider_id: str, request: wire.AuthorizeRemoteReservationStop) -> wire.Acknowledgement:
        return await self.call("AuthorizeRemoteReservationStop",
                               f"/reservation/v11/providers/{_id(provider_id)}/reservation-stop-request", request,
                               wire.Acknowledgement)

    async def get_charge_detail_records(self, provider_id: str, request: wire.GetChargeDetailRecords, page: int,
                                        size: int) -> CdrPage:
        return await self.call("GetChargeDetailRecords",
                               f"/cdrmgmt/v22/providers/{_id(provider_id)}/get-charge-detail-records-request",
                               request, CdrPage, _paging(page, size))

    async def pull_pricing_product_data(self, provider_id: str,
                                        request: wire.PullPricingProductData) -> wire.PricingProductDataResponse:
        return await self.call("PullPricingProductData",
                               f"/dynamicpricing/v10/providers/{_id(provider_id)}/pricing-products", request,
                               wire.PricingProductDataResponse)

    async def pull_evse_pricing(self, provider_id: str, request: wire.PullEvsePricing) -> wire.EvsePricingResponse:
        return await self.call("PullEVSEPricing", f"/dynamicpricing/v10/providers/{_id(provider_id)}/evse-pricing",
                               request, wire.EvsePricingResponse)
