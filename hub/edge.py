"""The HTTP edge every protocol shares: a deadline for a request's body (a defence the server itself does
not give), and bare responses.

The HTTP server (granian under `hub serve`) drops connections that are idle or slow to send their headers
(`http_header_timeout`) and caps how many it serves at once. A client that sends its headers and then
trickles the body would still hold a request open for as long as it likes; this ASGI middleware gives the
whole body `http_body_timeout` seconds and answers 408 after that.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from litestar.exceptions import HTTPException


class BodyDeadline:
    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        complete = False

        async def receive_in_time() -> Any:
            nonlocal complete
            if complete:  # after the body, receive only waits for the client to go: no deadline then
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                raise HTTPException(status_code=408, detail="the request body did not arrive in time") from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, receive_in_time, send)


class Reply:
    """A response as a bare ASGI app: the hot paths of every protocol skip the framework's response machinery."""

    __slots__ = ("status_code", "headers", "body")

    def __init__(self, body: bytes, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.body = body
        self.headers = {"content-type": "application/json", **(headers or {})}

    async def __call__(self, scope: object, receive: object, send: object) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": self.body, "more_body": False})  # type: ignore[operator]
