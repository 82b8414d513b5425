"""How an OICP exchange with Hubject ends for the outbox: delivered, to be tried again, or refused (parked)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hub.outbound import Busy, OutboundError
from hub.services.dispatch import Delivery
from protocols.oicp.v23 import mapping, wire
from protocols.oicp.v23.client import OicpCallError, RateLimited


def acknowledged(ack: wire.Acknowledgement, what: str) -> Delivery:
    """Result false is Hubject refusing the content: parked with its StatusCode, not tried again."""
    if ack.result:
        return Delivery("ok", what)
    code = ack.status_code
    return Delivery("refused", f"{what}: StatusCode {code.code} {code.description or ''} {code.additional_info or ''}".strip())


async def attempt(call: Callable[[], Awaitable[Delivery]]) -> Delivery:
    """An exchange, its failures as the outbox takes them: transport trouble, 5xx and 429 (after its Retry-After) are
    tried again; a 4xx, a broken answer and what OICP cannot say are refused; the hub's own budget in use is busy."""
    try:
        return await call()
    except Busy as exc:
        return Delivery("busy", str(exc))
    except RateLimited as exc:
        return Delivery("retry", exc.detail, retry_in=exc.retry_after)
    except OicpCallError as exc:
        return Delivery("retry" if exc.retryable else "refused", exc.detail)
    except OutboundError as exc:
        return Delivery("retry", f"{type(exc).__name__}: {exc}")
    except mapping.Unmappable as exc:
        return Delivery("refused", f"cannot be said in OICP: {exc}")
