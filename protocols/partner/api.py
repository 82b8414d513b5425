"""What every partner API handler shares: the core, the consumer's view, scope checks and success answers."""

from __future__ import annotations

from typing import Any

from litestar import Request

from hub.core import Core
from hub.services.consumers import Consumer
from hub.services.directory import Platform
from hub.edge import Reply
from protocols.partner.transport import ApiError


class Partner:
    """What the partner endpoints share: the core, and the questions every handler asks."""

    def __init__(self, core: Core, roaming: Any = None) -> None:
        self.core = core
        self.consumers = core.consumers
        self.roaming = roaming  # protocols/partner/partners.Roaming: the app's roaming connector

    def ok(self, request: Request, data: bytes, status: int = 200, **headers: str) -> Reply:
        """A success answer with the request's quota headers."""
        return Reply(data, status, {**getattr(request.state, "partner_headers", {}), **headers})

    def no_content(self, request: Request) -> Reply:
        """204: no body, so no content type."""
        reply = self.ok(request, b"", 204)
        del reply.headers["content-type"]
        return reply

    def reader(self, consumer: Consumer) -> Platform | None:
        """What the consumer may see (None: an admin, everything): the core decides."""
        return self.consumers.reader(consumer)

    @staticmethod
    def need(consumer: Consumer, entity: str, permission: str) -> None:
        if not consumer.scopes.allows(entity, permission):
            raise ApiError("ACCESS_FORBIDDEN", f"this credential lacks the scope {entity}:{permission}",
                           context={"scope": f"{entity}:{permission}"})
