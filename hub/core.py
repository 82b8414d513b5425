"""The core, assembled: store, directory, services and the outbox dispatcher of one process.

Protocol modules plug in from outside (the app does it): the rendering of the primary wire format and one
outbox sender per protocol. The core itself imports no protocol.
"""

from __future__ import annotations

import logging

from hub.outbound import Outbound, Policy
from hub.services.charging import Charging
from hub.services.commands import Commands
from hub.services.consumers import Consumers
from hub.services.directory import Directory
from hub.services.extras import Extras
from hub.services.idempotency import Idempotency
from hub.services.listing import Listing
from hub.services.dispatch import Dispatcher, Sender
from hub.services.objects import Objects, Renderer
from hub.services.parties import Parties
from hub.services.webhooks import Webhooks
from hub.settings import Settings
from hub.store import locations, platforms, secrets
from hub.store.db import Database, sqlite_path

log = logging.getLogger(__name__)


class Core:
    def __init__(self, settings: Settings, rendering: Renderer) -> None:
        self.settings = settings
        self.db = Database(settings.database_url, durable=settings.durable_commits)
        self.secrets = secrets.from_settings(settings.secret_key, sqlite_path(settings.database_url))
        self.directory = Directory(self.db, settings.hub_party, self.secrets, settings.roaming_policy)
        self.webhooks = Webhooks(self.db, self.directory, self.secrets)
        self.objects = Objects(self.db, self.directory, rendering, self.webhooks, settings.page_cache_mb * 1024 * 1024)
        self.parties = Parties(self.db, self.directory, self.secrets, self.webhooks)
        self.consumers = Consumers(self.db, self.directory, settings)
        self.listing = Listing(self.db, self.directory)
        self.extras = Extras(self.db)
        self.idempotency = Idempotency(self.db)
        self.commands = Commands(self.db, self.directory, self.objects)
        self.charging = Charging(self.db, self.directory, self.objects, self.parties, self.commands, settings)
        self.senders: dict[str, Sender] = {}
        self.dispatcher = Dispatcher(self.db, self.directory, self.parties, self.senders, settings)
        self.dispatcher.refresh = self.objects.refresh
        self.serving = False
        own = ([settings.base_url], [settings.port, settings.ocpp_port])
        self.outbound = Outbound(Policy(settings.ocpi_allow_private, *own), max_response_bytes=settings.outbound_max_response_bytes,
                                 concurrency=settings.outbound_concurrency, queue=settings.outbound_queue,
                                 timeout=settings.forward_timeout)
        # webhook receivers are anyone's URLs: their own policy (link-local and metadata addresses never) and timeout
        self.webhook_outbound = Outbound(Policy(settings.webhook_allow_private, *own, link_local=False), max_response_bytes=64 * 1024,
                                         concurrency=settings.outbound_concurrency, queue=settings.outbound_queue,
                                         timeout=settings.webhook_timeout)
        self.webhooks.verify = self.webhook_outbound.verify

    async def start(self) -> None:
        """The store and the directory: enough for a one-off command, whose changes a serving process hears of
        (on SQLite through the changes table) until `serve` says this process serves."""
        self.db.share = True
        await self.db.start()
        await self.db.write(lambda tx: platforms.seal_stored(tx, self.secrets))
        split = await self.db.write(lambda tx: locations.split_legacy(tx, self.objects.rendering))
        if split:
            log.info("%d Locations stored whole before their EVSEs had rows of their own: split", split)
        await self.directory.refresh()
        await self.parties.ensure_local(self.settings.hub_party, "HUB", self.settings.hub_name)

    async def serve(self) -> None:
        """This process serves: it delivers the outbox and hears what the CLI changes."""
        self.db.share = False
        self.db.follow()
        await self.dispatcher.start()
        self.serving = True

    async def stop(self) -> None:
        if self.serving:
            await self.dispatcher.stop()
        await self.outbound.aclose()
        await self.webhook_outbound.aclose()
        await self.db.close()
