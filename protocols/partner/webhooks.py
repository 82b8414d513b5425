"""Webhooks over the partner API: the endpoints a credential manages, its delivery log, and the outbox sender that
delivers their events (hub/services/webhooks.py decides who hears of what; protocols/partner/hooks.py renders and
signs).

Delivery: a 2xx within `webhook_timeout` (15 s) is success. Anything else is retried on `webhook_retry_schedule`
(Standard Webhooks': 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h after the attempt before, +-20% jitter),
or after the receiver's `Retry-After`; after the last the delivery has failed (replayable). 410 Gone disables the
endpoint at once; one that fails without a success for `webhook_disable_after` (5 days) is disabled too. Redirects
are not followed (a failure). The receiver's URL is checked when it is set (no link-local or metadata address
ever; loopback and private networks only with HUB_WEBHOOK_ALLOW_PRIVATE) and again at every connection.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Annotated, Literal

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from msgspec import Meta

from hub.core import Core
from hub.edge import Reply
from hub.outbound import Busy, OutboundError
from hub.services.consumers import Consumer
from hub.services.directory import Platform
from hub.services.dispatch import Delivery
from hub.store.outbox import Event
from hub.store.webhooks import DeliveryRow, EndpointRow
from protocols.partner import hooks, wire
from protocols.partner.api import Partner
from protocols.partner.idempotency import once
from protocols.partner.transport import API, ApiError, body, encode, query

UNSET = msgspec.UNSET
ENDPOINTS, DELIVERIES = "webhook-endpoints", "webhook-deliveries"
Format = Literal["standard", "monta"]
DeliveryStatus = Literal["pending", "succeeded", "failed", "skipped"]
# the outbox's statuses as the log shows them
STATUS = {"pending": "pending", "inflight": "pending", "done": "succeeded", "parked": "failed", "skipped": "skipped"}
OUTBOX_STATUS = {"pending": ["pending", "inflight"], "succeeded": ["done"], "failed": ["parked"], "skipped": ["skipped"]}


# --- wire types ------------------------------------------------------------------------------------------

Url = Annotated[str, Meta(min_length=1, max_length=2000)]
EventType = Annotated[str, Meta(min_length=1, max_length=60)]
EventTypes = Annotated[list[EventType], Meta(min_length=1, max_length=50)]
Description = Annotated[str, Meta(max_length=255)]


class EndpointCreate(wire.Wire, kw_only=True):
    url: Url
    event_types: EventTypes  # dotted types, or ["*"]: every type the credential may read
    description: Description | None = None
    format: Format = "standard"


class EndpointPatch(wire.Wire, kw_only=True):
    url: Url | msgspec.UnsetType = UNSET
    event_types: EventTypes | msgspec.UnsetType = UNSET
    description: Description | msgspec.UnsetType = UNSET
    format: Format | msgspec.UnsetType = UNSET
    enabled: bool | msgspec.UnsetType = UNSET


class Endpoint(wire.Wire, kw_only=True):
    id: int
    url: str
    event_types: list[str]
    description: str | None
    format: Format
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    secret: str | None = None  # only when it is made (create, rotate-secret): shown once


class FailedAttempt(wire.Wire, kw_only=True):
    at: datetime
    error: str


class WebhookDelivery(wire.Wire, kw_only=True):
    id: int
    endpoint_id: int
    event_id: str  # webhook-id
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None  # while pending
    failed_attempts: list[FailedAttempt]


class DeliveryQuery(wire.Paging, kw_only=True):
    endpoint_id: Annotated[int, Meta(ge=0, le=10**18 - 1)] | None = None  # as `_id` bounds one in a path: the store's ids are 64-bit
    status: DeliveryStatus | None = None


EndpointList = wire._list_of(Endpoint)
DeliveryList = wire._list_of(WebhookDelivery)


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, tz=timezone.utc)


def _endpoint(row: EndpointRow, secret: str | None = None) -> Endpoint:
    reason = row.disabled_reason
    if row.status == "OFFLINE":
        reason = "failing without a success for too long: enable it again when it works"
    return Endpoint(id=row.id, url=row.url, event_types=list(row.event_types), description=row.description, format=row.format,  # type: ignore[arg-type]
                    enabled=row.status == "CONNECTED", disabled_reason=None if row.status == "CONNECTED" else reason,
                    created_at=_at(row.created_us), updated_at=_at(row.updated_us), secret=secret)


def _delivery(row: DeliveryRow, failed: list[tuple[int, str]]) -> WebhookDelivery:
    occ = hooks.occurrence(row.payload)
    status = STATUS[row.status]
    return WebhookDelivery(id=row.seq, endpoint_id=row.endpoint_id, event_id=occ.id, event_type=occ.type, status=status,  # type: ignore[arg-type]
                           attempts=row.attempts, last_error=row.last_error, created_at=_at(row.created_us),
                           next_attempt_at=_at(row.next_attempt_us) if status == "pending" else None,
                           failed_attempts=[FailedAttempt(at=_at(at), error=detail) for at, detail in failed])


def _id(text: str, noun: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ApiError("RESOURCE_NOT_FOUND", f"no {noun} {text[:40]}")
    return int(text)


async def _new_delivery(request: Request, partner: Partner, consumer: Consumer, make: Callable[[], Awaitable[DeliveryRow]]) -> Reply:
    """A POST that queues a delivery (a test event, a replay): 201 with it, once per Idempotency-Key."""

    async def run() -> Reply:
        return partner.ok(request, encode(_delivery(await make(), [])), 201)

    return await once(request, partner, consumer, run)


# --- endpoints -------------------------------------------------------------------------------------------


async def _create(request: Request, partner: Partner, consumer: Consumer) -> Reply:
    data = await body(request, EndpointCreate)
    row, secret = await partner.core.webhooks.create(consumer, data.url, data.event_types, data.format, data.description)
    return partner.ok(request, encode(_endpoint(row, secret)), 201)


@post(f"{API}/{ENDPOINTS}", status_code=201, summary="Subscribe a URL to webhook events (the answer holds its secret, once)")
async def create_endpoint(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
    partner.need(consumer, ENDPOINTS, "write")
    return await once(request, partner, consumer, lambda: _create(request, partner, consumer))


@get(f"{API}/{ENDPOINTS}", summary="The credential's webhook endpoints")
async def list_endpoints(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
    partner.need(consumer, ENDPOINTS, "read")
    q = query(request, wire.Paging)
    rows = await partner.core.webhooks.listing(consumer)
    data = [_endpoint(r) for r in rows[q.page * q.per_page:(q.page + 1) * q.per_page]]
    return partner.ok(request, encode(EndpointList(data=data, meta=wire.PageMeta.of(q.page, q.per_page, len(data), len(rows)))))


@get(f"{API}/{ENDPOINTS}/{{id:str}}", summary="One webhook endpoint of the credential")
async def get_endpoint(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, ENDPOINTS, "read")
    return partner.ok(request, encode(_endpoint(await partner.core.webhooks.get(consumer, _id(id, "webhook endpoint")))))


@patch(f"{API}/{ENDPOINTS}/{{id:str}}", summary="Change a webhook endpoint: URL, event types, format, enabled")
async def patch_endpoint(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, ENDPOINTS, "write")
    eid = _id(id, "webhook endpoint")
    data = await body(request, EndpointPatch)
    given = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}
    row = await partner.core.webhooks.update(consumer, eid, url=given.get("url"), event_types=given.get("event_types"),
                                             format_=given.get("format"), description=given.get("description"), enabled=given.get("enabled"))
    return partner.ok(request, encode(_endpoint(row)))


@delete(f"{API}/{ENDPOINTS}/{{id:str}}", status_code=200, summary="Delete a webhook endpoint and its delivery log")
async def delete_endpoint(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, ENDPOINTS, "delete")
    await partner.core.webhooks.delete(consumer, _id(id, "webhook endpoint"))
    return partner.no_content(request)


@post(f"{API}/{ENDPOINTS}/{{id:str}}/test", status_code=201, summary="Send a webhook.test event to the endpoint")
async def test_endpoint(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, ENDPOINTS, "write")
    eid = _id(id, "webhook endpoint")
    return await _new_delivery(request, partner, consumer, lambda: partner.core.webhooks.test(consumer, eid))


@post(f"{API}/{ENDPOINTS}/{{id:str}}/rotate-secret", status_code=200,
      summary="A new secret (shown once); the previous one still signs beside it for 24 h")
async def rotate_secret(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, ENDPOINTS, "write")
    eid = _id(id, "webhook endpoint")

    async def run() -> Reply:
        row, secret = await partner.core.webhooks.rotate(consumer, eid)
        return partner.ok(request, encode(_endpoint(row, secret)))

    return await once(request, partner, consumer, run)


# --- the delivery log ------------------------------------------------------------------------------------


@get(f"{API}/{DELIVERIES}", summary="The deliveries of the credential's webhook endpoints, newest first")
async def list_deliveries(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
    partner.need(consumer, DELIVERIES, "read")
    q = query(request, DeliveryQuery)
    statuses = OUTBOX_STATUS[q.status] if q.status else None
    rows, total, failed = await partner.core.webhooks.deliveries(consumer, q.endpoint_id, statuses, q.page * q.per_page, q.per_page)
    data = [_delivery(r, failed.get(r.seq, [])) for r in rows]
    return partner.ok(request, encode(DeliveryList(data=data, meta=wire.PageMeta.of(q.page, q.per_page, len(data), total))))


@get(f"{API}/{DELIVERIES}/{{id:str}}", summary="One delivery, with its failed attempts")
async def get_delivery(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, DELIVERIES, "read")
    rows, _, failed = await partner.core.webhooks.deliveries(consumer, None, None, 0, 1, _id(id, "webhook delivery"))
    if not rows:
        raise ApiError("RESOURCE_NOT_FOUND", f"no webhook delivery {id[:40]}")
    return partner.ok(request, encode(_delivery(rows[0], failed.get(rows[0].seq, []))))


@post(f"{API}/{DELIVERIES}/{{id:str}}/replay", status_code=201,
      summary="Send a delivery's event again (the same webhook-id), as a new delivery")
async def replay_delivery(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, DELIVERIES, "write")
    seq = _id(id, "webhook delivery")
    return await _new_delivery(request, partner, consumer, lambda: partner.core.webhooks.replay(consumer, seq))


HANDLERS = [create_endpoint, list_endpoints, get_endpoint, patch_endpoint, delete_endpoint, test_endpoint, rotate_secret,
            list_deliveries, get_delivery, replay_delivery]


# --- the sender ------------------------------------------------------------------------------------------


class WebhookSender:
    """Delivers the outbox events of webhook endpoints (the dispatcher's Sender for protocol `webhook`)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.schedule = core.settings.webhook_retries
        self.offline_after = core.settings.webhook_disable_after  # then the endpoint is disabled (OFFLINE)
        self.bodies = hooks.Bodies()

    async def deliver(self, platform: Platform, event: Event) -> Delivery:
        hook = self.core.directory.hook(platform.id)
        if hook is None:  # made a moment ago in another process: this one has not heard of it yet
            await self.core.directory.refresh()
            hook = self.core.directory.hook(platform.id)
            if hook is None:
                return Delivery("retry", "the endpoint is not known to this process yet", retry_in=1.0)
        payload, headers = hooks.signed(hooks.occurrence(event.payload), hook.format, hook.secrets, time.time(), self.bodies)
        try:
            response = await self.core.webhook_outbound.request("POST", hook.url, headers=headers, content=payload)
        except Busy:
            return Delivery("busy")
        except OutboundError as exc:
            return self._retry(event, f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return Delivery("ok")
        if status == 410:
            await self.core.webhooks.disable(platform.id, "the endpoint answered 410 Gone")
            return Delivery("refused", "HTTP 410 Gone: the endpoint is disabled")
        return self._retry(event, f"HTTP {status}", _retry_after(response.headers.get("retry-after")))

    def _retry(self, event: Event, detail: str, retry_after: float | None = None) -> Delivery:
        done = event.attempts + 1  # this one included
        if done > len(self.schedule):
            return Delivery("refused", f"failed after {done} attempts; the last: {detail}")
        delay = retry_after if retry_after is not None else self.schedule[done - 1] * random.uniform(0.8, 1.2)
        return Delivery("retry", detail, retry_in=delay)

    async def alive(self, platform: Platform) -> bool:
        return False  # a disabled endpoint comes back when its owner enables it


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (an HTTP date is not worth parsing here: the schedule applies), at most a day."""
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), 86_400.0)


def install(core: Core) -> WebhookSender:
    sender = WebhookSender(core)
    core.senders["webhook"] = sender
    return sender
