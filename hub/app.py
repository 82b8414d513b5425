"""The application: the core plus every protocol and connector, mounted on one litestar app."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin

from connectors import bilateral, hubject, upstream
from hub import logs, model, proc
from hub.core import Core
from hub.edge import BodyDeadline
from hub.settings import Settings
from protocols.ocpi.v211 import client as v211
from protocols.ocpi.v211 import openapi as ocpi211_openapi
from protocols.ocpi.v211.api import Ocpi211
from protocols.ocpi.v211.push import Push211
from protocols.ocpi.v211.server import router as ocpi211_router
from protocols.ocpi.v221 import codec
from protocols.ocpi.v221 import commands as ocpi_commands
from protocols.ocpi.v221 import openapi as ocpi_openapi
from protocols.ocpi.v221.api import Ocpi
from protocols.ocpi.v221.client import OcpiClient
from protocols.ocpi.v221.push import OcpiPush
from protocols.ocpi.v221.server import router as ocpi_router
from protocols.ocpi.v221.server import unmatched as ocpi_unmatched
from protocols.oicp.v23.server import router as oicp_router
from protocols.oicp.v23.server import unmatched as oicp_unmatched
from protocols.ocpp.commands import ChargerCommands
from protocols.ocpp.server import OcppServer
from protocols.partner import openapi as partner_openapi
from protocols.partner import webhooks as partner_webhooks
from protocols.partner import transport as partner_transport
from protocols.partner.server import router as partner_router


class Hub:
    """Everything one process runs, built from settings (the app, the CLI and the tests use it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.core = Core(settings, rendering=codec)
        self.client = OcpiClient(settings.hub_party, self.core.outbound, timeout=settings.forward_timeout)
        self.ocpi = Ocpi(self.core, self.client)
        self.core.senders["ocpi"] = OcpiPush(self.client, settings.hub_party, self.ocpi.rules)
        self.ocpi211 = Ocpi211(self.core, v211.Client(settings.hub_party, self.core.outbound, timeout=settings.forward_timeout))
        self.ocpi.versions.append((v211.VERSION, self.ocpi211.base))
        self.ocpi211.rules = self.ocpi.rules  # an upstream hub's rules, whatever version it speaks
        push211 = Push211(self.ocpi211)
        self.core.senders[v211.PROTOCOL] = push211
        self.core.commands.remote[v211.PROTOCOL] = push211.command
        self.core.commands.remote[ocpi_commands.PROTOCOL] = lambda record, platform: ocpi_commands.remote_command(self.ocpi, record, platform)
        partner_webhooks.install(self.core)
        self.core.charging.realtime = self._realtime
        self.ocpp = OcppServer(self.core.charging, self.core.db, settings)
        ChargerCommands(self.ocpp, self.core.charging, self.core.commands).install()
        bilateral.install(self.ocpi)
        upstream.install(self.ocpi)
        self.hubject = hubject.install(self.core)
        self.serving = False

    async def _realtime(self, token: model.Token, where: model.LocationReferences) -> model.AuthorizationInfo:
        """Real-time authorization asks the token's eMSP in the OCPI version it registered in."""
        platform = self.core.directory.platform_of(token.owner_party)
        if platform is not None and platform.row.protocol == v211.PROTOCOL:
            return await self.ocpi211.realtime_authorize(token, where)
        return await self.ocpi.realtime_authorize(token, where)

    async def start(self, serve: bool = True) -> None:
        """`serve`: also the OCPP server and the outbox dispatcher (not for one-off CLI commands). The OCPP
        port is taken before any delivery starts: a process that cannot listen touches no outbox event."""
        await self.core.start()
        if serve:
            await self.ocpp.start()
            await self.core.serve()
            self.hubject.start(self.settings.hubject_pull_interval, self.settings.hubject_full_interval)
            self.serving = True

    async def stop(self) -> None:
        await self.hubject.stop()
        if self.serving:
            await self.ocpp.stop()
        await self.core.stop()


def unmatched(request: Request, exc: HTTPException) -> Response:
    """No route for the path (404) or the method (405): each protocol's own error body, chosen by path."""
    if request.url.path.startswith(partner_transport.PREFIXES):
        return partner_transport.unmatched(request, exc)
    if request.url.path.startswith("/oicp/"):
        return oicp_unmatched(request, exc)
    return ocpi_unmatched(request, exc)


class OpenApiJson(JsonRenderPlugin):
    """Serves the document (/openapi.json under the OpenAPI path) with each protocol's operations described."""

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, partner_openapi.describe(ocpi_openapi.describe(ocpi211_openapi.describe(openapi_schema))))


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> Litestar:
    proc.die_with_parent()  # under `hub serve`, this runs in its granian worker
    settings = settings or Settings.from_env()
    logs.setup(settings.log_level)
    own_process = hub is None  # `hub serve` (the tests bring hubs of their own, many to a process)
    hub = hub or Hub(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await hub.start()
        if own_process:
            # What start-up made (modules, the app, the directory) lives as long as the process: kept out of the
            # full collections, which otherwise walk all of it each time and hold the event loop ~100 ms in a big sync
            gc.freeze()
        try:
            yield
        finally:
            await hub.stop()

    @get("/health", tags=["hub"])
    async def health() -> Response:
        """Liveness and database reachability."""
        await hub.core.db.read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar())
        body = {"status": "ok", "party": str(settings.hub_party), "version": "0.1.0"}
        return Response(content=msgspec.json.encode(body), media_type="application/json")

    app = Litestar(
        route_handlers=[health, ocpi_router(hub.ocpi), ocpi211_router(hub.ocpi211), partner_router(hub.core, bilateral.Roaming(hub.ocpi)), oicp_router(hub.hubject)],
        lifespan=[lifespan],
        middleware=[logs.RequestIds, lambda app: BodyDeadline(app, settings.http_body_timeout)],
        request_max_body_size=settings.max_body_bytes,
        exception_handlers={NotFoundException: unmatched, MethodNotAllowedException: unmatched},  # no route: before any router
        openapi_config=OpenAPIConfig(
            title="EV roaming hub", version="0.1.0", path="/schema", render_plugins=[SwaggerRenderPlugin(), OpenApiJson()],
            description="OCPI 2.2.1 hub (Sender interfaces under /ocpi/2.2.1/sender, Receiver under /ocpi/2.2.1/receiver), "
                        "OCPI 2.1.1 (under /ocpi/2.1.1: /emsp for CPOs, /cpo for eMSPs) "
                        "and the partner REST API (/api/v1, tokens from /api/v1/auth/token or /oauth/token).",
        ),
        debug=False,
        logging_config=None,  # logs.setup has configured logging; litestar's default would replace it
    )
    app.state.hub = hub
    return app
