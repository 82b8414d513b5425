"""The core, assembled: store, directory, services and the outbox dispatcher of one process.

Protocol modules plug in from outside (the app does it): a renderer for the primary wire format and one
outbox sender per protocol. The core itself imports no protocol.
"""

from __future__ import annotations

import logging

from hub.services.charging import Charging
from hub.services.commands import Commands
from hub.services.directory import Directory
from hub.services.dispatch import Dispatcher, Sender
from hub.services.objects import Objects, Renderer
from hub.services.parties import Parties
from hub.settings import Settings
from hub.store.db import Database

log = logging.getLogger(__name__)


class Core:
    def __init__(self, settings: Settings, render: Renderer) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.directory = Directory(self.db, settings.hub_party, settings.roaming_policy)
        self.objects = Objects(self.db, self.directory, render, settings.page_cache_mb * 1024 * 1024)
        self.parties = Parties(self.db, self.directory)
        self.commands = Commands(self.db, self.directory, self.objects)
        self.charging = Charging(self.db, self.directory, self.objects, self.parties, self.commands, settings)
        self.senders: dict[str, Sender] = {}
        self.dispatcher = Dispatcher(self.db, self.directory, self.parties, self.senders, settings)

    async def start(self, dispatch: bool = True) -> None:
        await self.db.start()
        await self.directory.refresh()
        await self.parties.ensure_local(self.settings.hub_party, "HUB", self.settings.hub_name)
        if dispatch:
            await self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        await self.db.close()
