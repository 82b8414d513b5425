"""Structured logs (logfmt), with the X-Request-ID and X-Correlation-ID of the request in every line."""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import Any

_ids: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("request_ids", default=("-", "-"))


class _WithIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id, record.correlation_id = _ids.get()
        return True


def setup(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(isinstance(f, _WithIds) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_WithIds())
    handler.setFormatter(
        logging.Formatter(
            'ts=%(asctime)s level=%(levelname)s logger=%(name)s request_id=%(request_id)s '
            'correlation_id=%(correlation_id)s msg="%(message)s"'
        )
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "ocpp", "websockets", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class RequestIds:
    """ASGI middleware: carries the request's ids into the logs of everything it causes."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = correlation_id = "-"
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
            elif name == b"x-correlation-id":
                correlation_id = value.decode("latin-1")[:64]
        token = _ids.set((request_id, correlation_id if correlation_id != "-" else request_id))
        try:
            await self.app(scope, receive, send)
        finally:
            _ids.reset(token)
