"""What the hub sends 2.1.1 parties: outbox events rendered in 2.1.1, and commands to 2.1.1 CPOs.

Pushes carry no routing headers (2.1.1 has none): the connection is the party. A change stored as a PATCH goes
as a 2.1.1 PATCH of the same fields when 2.1.1 can say them, else as a PUT of the whole object; a Session always
goes whole (2.1.1 embeds its Location, which the hub reads when it renders it).
"""

from __future__ import annotations

from typing import Any

import msgspec

from hub import model
from hub.model import PartyId
from hub.services.directory import Platform
from hub.services.dispatch import Delivery
from hub.store.outbox import Event
from protocols.ocpi import upstream
from protocols.ocpi.peer import alive, ask, join, send
from protocols.ocpi.v211 import mapping as m
from protocols.ocpi.v211 import wire
from protocols.ocpi.v211.api import Ocpi211
from protocols.ocpi.v211.client import endpoint

KIND_MODULE = {"location": "locations", "evse": "locations", "connector": "locations", "tariff": "tariffs",
               "token": "tokens", "session": "sessions", "cdr": "cdrs"}
CANONICAL = {"location": model.Location, "evse": model.Evse, "connector": model.Connector, "tariff": model.Tariff,
             "token": model.Token, "session": model.Session, "cdr": model.Cdr}
# canonical field -> its 2.1.1 name, where they differ (a PATCH of fields)
RENAMED = {"max_voltage": "voltage", "max_amperage": "amperage", "tariff_ids": "tariff_id", "parking_type": "type",
           "contract_id": "auth_id"}


def _patch_body(rendered: bytes, fields: tuple[str, ...]) -> bytes | None:
    """The 2.1.1 PATCH of these canonical fields, or None when 2.1.1 cannot say one of them (send the object)."""
    full = msgspec.json.decode(rendered)
    names = {RENAMED.get(f, f) for f in fields} | {"last_updated"}
    if not names <= full.keys():
        return None
    return wire.encode({k: full[k] for k in names})


class Push211:
    """The outbox sender of protocol `ocpi211`, and the executor of commands for 2.1.1 CPOs."""

    def __init__(self, ocpi: Ocpi211) -> None:
        self.ocpi = ocpi
        self.client = ocpi.client

    async def deliver(self, platform: Platform, event: Event) -> Delivery:
        if event.kind == "commandresult":  # to the response_url the 2.1.1 eMSP gave (the event's path)
            result = msgspec.json.decode(event.payload, type=model.CommandResult)
            return await self._send(platform, "POST", event.path, wire.encode(m.command_result_from_canonical(result)))
        module = KIND_MODULE.get(event.kind)
        base = endpoint(platform, module) if module else None
        if base is None:
            return Delivery("refused", f"OCPI 2.1.1: the party has no endpoint for {event.kind}")
        if event.op == "delete":
            return await self._send(platform, "DELETE", join(base, event.path), None)
        obj = msgspec.json.decode(event.payload, type=CANONICAL[event.kind])
        rules = self.ocpi.rules.get(platform.row.profile or "")
        if found := upstream.problems(rules, event.kind, PartyId.parse("/".join(event.path.split("/")[:2])), obj):
            return Delivery("refused", "; ".join(f"{rules.name}: {event.kind} {event.path}: {p}" for p in found))  # type: ignore[union-attr]
        rendered = await self.ocpi.render(event.kind, obj)
        if rendered is None:
            return Delivery("refused", f"OCPI 2.1.1 cannot carry this {event.kind}")
        if event.kind == "cdr":
            return await self._send(platform, "POST", base, rendered)
        if event.op == "patch" and event.fields and event.kind != "session":
            if (body := _patch_body(rendered, event.fields)) is not None:
                return await self._send(platform, "PATCH", join(base, event.path), body)
        return await self._send(platform, "PUT", join(base, event.path), rendered)

    async def _send(self, platform: Platform, method: str, url: str, body: bytes | None) -> Delivery:
        return await send(self.client, platform, method, url, body=body)

    async def alive(self, platform: Platform) -> bool:
        return await alive(self.client, platform)

    # --- commands ---------------------------------------------------------------------------------

    async def command(self, record: Any, platform: Platform) -> model.CommandResponse:
        """A command for a 2.1.1 CPO (from a party of any version): sent in 2.1.1 with the hub's response_url,
        where the CPO's result comes back (server.command_result) to be relayed to the sender."""
        request = record.decoded(model.COMMANDS[record.kind])
        base = endpoint(platform, "commands")
        try:
            if base is None:
                raise m.Unmappable("the CPO lists no commands endpoint")
            body = m.command_request_from_canonical(request, f"{self.ocpi.base}/emsp/commands/{record.id}")
        except m.Unmappable:
            return model.CommandResponse(result="NOT_SUPPORTED", timeout=0)
        answer = await ask(self.client, self.ocpi.core, platform, join(base, record.kind), wire.encode(body), wire.CommandResponse,
                           f"{record.kind} to {record.receiver}")
        return m.command_response_to_canonical(answer)

