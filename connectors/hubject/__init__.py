"""Hubject over OICP 2.3, for the hub's operators (CPO role, `cpo.py`) and its eMSPs (EMP role, `emp.py`), on one
connection (`connection.py`).

`install` wires it into a hub: the outbox sender of the `oicp` platform, the authorization of tokens the hub does not
know, OCPI commands at Hubject's Locations, and the inbound endpoints Hubject calls (`/oicp/api/oicp/...`).
`Schedule` runs the syncs of a serving hub: EVSE status pulls and data deltas every `hubject_pull_interval` seconds,
full loads and full pulls every `hubject_full_interval`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from connectors.hubject.connection import PROTOCOL, Config, Hubject, Operator, Sync
from connectors.hubject.cpo import Operators
from connectors.hubject.emp import Providers
from hub.core import Core
from hub.model import PartyId
from hub.services import errors

log = logging.getLogger(__name__)

CDR_CATCH_UP = timedelta(days=2)  # a full sync asks Hubject for the providers' CDRs of this long (those missed are taken)

__all__ = ["Connector", "Config", "Operator", "Sync", "install"]


class Connector:
    """Hubject as the app, the CLI and the tests use it; also the `Inbound` of protocols/oicp/v23/server.py."""

    def __init__(self, core: Core) -> None:
        self.hubject = Hubject(core)
        self.emp = Providers(self.hubject)
        self.cpo = Operators(self.hubject, self.emp)
        self._task: asyncio.Task | None = None
        # the Inbound of protocols/oicp/v23/server.py: each of Hubject's calls to the side it is for
        self.allowed = self.hubject.allowed
        self.remote_start, self.remote_stop = self.cpo.remote_start, self.cpo.remote_stop
        self.reservation_start, self.reservation_stop = self.cpo.reservation_start, self.cpo.reservation_stop
        self.authorize_start, self.authorize_stop = self.emp.authorize_start, self.emp.authorize_stop
        self.charge_detail_record, self.charging_notification = self.emp.charge_detail_record, self.emp.charging_notification

    # --- syncs ------------------------------------------------------------------------------------------------

    async def sync(self, full: bool = False, force: bool = False) -> list[dict[str, Any]]:
        """Push the operators' EVSE data (a full load with `full`, else what the outbox has not sent yet goes on its
        own) and pull Hubject's EVSE data and status for the providers, now. Each part's outcome, in order."""
        config = self.hubject.config
        if config is None:
            raise errors.Invalid("Hubject is not configured: hub hubject configure --base-url ...")
        done: list[dict[str, Any]] = []

        async def step(what: str, party: str, run: Any) -> None:
            try:
                done.append({"what": what, "party": party, "ok": True, "count": await run})
            except Exception as exc:  # one party's trouble does not stop the others'
                log.warning("Hubject %s for %s failed: %s", what, party, exc)
                done.append({"what": what, "party": party, "ok": False, "detail": f"{type(exc).__name__}: {exc}"})

        for text in config.operators:
            if full:
                await step("evse-data full load", text, self.cpo.full_load(PartyId.parse(text), force))
        for text in config.providers:
            party = PartyId.parse(text)
            await step("pull-evse-data" + (" full" if full else ""), text, self.emp.pull_evse_data(party, full))
            await step("pull-evse-status", text, self.emp.pull_evse_status(party))
            if full:
                await step("authentication-data full load", text, self.emp.push_authentication_data(party))
                since = datetime.now(timezone.utc) - CDR_CATCH_UP
                await step("get-charge-detail-records", text, self.emp.catch_up_cdrs(party, since))
        return done

    def status(self) -> dict[str, Any]:
        stored = self.hubject.stored()
        if stored is None:
            return {"configured": False}
        config = stored.config
        platform = self.hubject.platform
        return {
            "configured": True, "base_url": config.base_url, "mutual_tls": config.cert is not None,
            "inbound_allow": config.inbound_allow, "status": platform.row.status if platform else None,
            "operators": {party: op.operator_id for party, op in config.operators.items()}, "providers": config.providers,
            "last_call": stored.state.last_call, "last_full_load": stored.state.loaded,
            "syncs": [{"what": s.what, "party": s.party, "at": s.at, "ok": s.ok, "count": s.count, "detail": s.detail}
                      for s in reversed(stored.state.syncs)],
        }

    # --- a serving hub's schedule ----------------------------------------------------------------------------

    def start(self, pull_interval: float, full_interval: float) -> None:
        if pull_interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._schedule(pull_interval, full_interval), name="hubject")

    async def _schedule(self, pull_interval: float, full_interval: float) -> None:
        loop = asyncio.get_running_loop()
        next_full = loop.time()
        while True:
            if self.hubject.config is not None:
                full = loop.time() >= next_full
                try:
                    await self.sync(full=full)
                except Exception:
                    log.exception("Hubject sync failed")
                if full:
                    next_full = loop.time() + full_interval
            await asyncio.sleep(pull_interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.hubject.aclose()


def install(core: Core) -> Connector:
    connector = Connector(core)
    core.senders[PROTOCOL] = connector.cpo
    core.charging.elsewhere = connector.cpo.authorize
    core.commands.remote[PROTOCOL] = connector.emp.command
    return connector
