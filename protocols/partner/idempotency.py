"""`Idempotency-Key` on the partner API's POSTs (hub/services/idempotency.py keeps the answers).

`once` wraps a POST handler: without the header the handler just runs; with it, the first request runs and its
success answer (status and body) is kept for 24 h and replayed, with `Idempotent-Replayed: true`, to a retry with
the same key and the same method, path and body. The same key with another request is 422
IDEMPOTENCY_KEY_REUSED; while the first still runs, 409 CONFLICT. An error answer (a 4xx, a failure) keeps
nothing: the key is free again, and a corrected request may use it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request

from hub.services.consumers import Consumer
from hub.services.idempotency import MAX_KEY, Answer, KeyBusy, KeyReused, fingerprint
from protocols.partner.api import Partner
from hub.edge import Reply
from protocols.partner.transport import ApiError

HEADER = "idempotency-key"


def _key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
        raise ApiError("VALIDATION_ERROR", f"Idempotency-Key is 1 to {MAX_KEY} printable characters", context={"field": "Idempotency-Key"})
    return key


async def once(request: Request, partner: Partner, consumer: Consumer, run: Callable[[], Awaitable[Reply]]) -> Reply:
    key = _key(request)
    if key is None:
        return await run()
    store = partner.core.idempotency
    try:
        kept = await store.claim(consumer.client_id, key, fingerprint(request.method, request.url.path, await request.body()))
    except KeyReused as exc:
        raise ApiError("IDEMPOTENCY_KEY_REUSED", exc.message, context={"field": "Idempotency-Key"}) from None
    except KeyBusy as exc:
        raise ApiError("CONFLICT", exc.message, headers={"retry-after": "1"}) from None
    if kept is not None:
        return partner.ok(request, kept.body, kept.status, **{"idempotent-replayed": "true"})
    try:
        reply = await run()
    except BaseException:
        await store.release(consumer.client_id, key)
        raise
    if reply.status_code < 400:
        await store.keep(consumer.client_id, key, Answer(reply.status_code, reply.body))
    else:
        await store.release(consumer.client_id, key)
    return reply
