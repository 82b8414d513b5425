"""Outbox events to OCPI 2.2.1 parties (the hub's pushes), and the still-alive check."""

from __future__ import annotations

import msgspec

from hub import model
from hub.model import PartyId
from hub.services.directory import Platform
from hub.services.dispatch import Delivery
from hub.services.visibility import READER_ROLES
from hub.store.outbox import Event
from protocols.ocpi.peer import alive, send
from protocols.ocpi import upstream
from protocols.ocpi.v221 import codec, wire
from protocols.ocpi.v221 import mapping as m
from protocols.ocpi.v221.client import KIND_MODULE, OcpiClient, endpoint, join

METHOD = {"put": "PUT", "patch": "PATCH", "delete": "DELETE", "post": "POST"}
RESULTS: dict[str, dict[str, type]] = {  # result event kind -> request kind -> wire type of the result
    "commandresult": {},
    "profileresult": {"GET_PROFILE": wire.ActiveChargingProfileResult, "SET_PROFILE": wire.ChargingProfileResult,
                      "CLEAR_PROFILE": wire.ClearProfileResult},
}
BROADCAST = {"location", "evse", "connector", "tariff", "token"}


class _Owner(msgspec.Struct):
    country_code: str
    party_id: str


class _HasToken(msgspec.Struct):
    cdr_token: _Owner


class _TokenType(msgspec.Struct):
    type: str


def _emsp(event: Event) -> tuple[str, str]:
    token = msgspec.json.decode(event.payload, type=_HasToken).cdr_token
    return token.country_code, token.party_id


class OcpiPush:
    def __init__(self, client: OcpiClient, hub_party: PartyId, rules: dict[str, upstream.HubRules] | None = None) -> None:
        self.client = client
        self.hub_party = hub_party
        self.rules = rules if rules is not None else {}

    @staticmethod
    def concurrency_for(platform: Platform | None) -> int | None:
        """An upstream hub takes each tenant's changes in the order they were made (FIFO store-and-forward): one at a time."""
        return 1 if platform is not None and platform.row.tenants is not None else None

    def _parties(self, platform: Platform, event: Event) -> tuple[PartyId | None, PartyId | None]:
        if event.kind == "clientinfo":
            return None, None  # a configuration module: no routing headers
        if platform.row.tenants is not None:  # an upstream hub: from the tenant, to the hub or the final party
            owner = PartyId.parse("/".join(event.path.split("/")[:2]))
            rules = self.rules.get(platform.row.profile or "")
            if event.kind in BROADCAST or rules is None or rules.to_hub:
                return owner, upstream.hub_party(platform)
            return owner, PartyId.of(*_emsp(event))
        if event.kind in BROADCAST:
            roles = ("CPO",) if event.kind == "token" else READER_ROLES
            to = next(iter(platform.parties_with_role(*roles)), None)
            return self.hub_party, to
        owner = PartyId.parse(event.path.rsplit("/", 1)[0])  # sessions and CDRs: from the CPO to the token's eMSP
        return owner, PartyId.of(*_emsp(event))

    async def deliver(self, platform: Platform, event: Event) -> Delivery:
        if event.kind in RESULTS:
            return await self._result(platform, event)
        module = KIND_MODULE[event.kind]
        base = endpoint(platform, module, "RECEIVER")
        if base is None:
            return Delivery("refused", f"the party has no {module} RECEIVER endpoint")
        url = base if event.kind == "cdr" else join(base, event.path)
        params = None
        if event.kind == "token":
            params = {"type": msgspec.json.decode(event.payload, type=_TokenType).type}
        if problems := self._refusals(platform, event):
            return Delivery("refused", "; ".join(problems))
        if event.op == "delete":
            body = None
        elif event.op == "patch" and event.fields is not None:
            body = codec.render_fields(event.kind, event.payload, event.fields)
        else:
            body = codec.render_doc(event.kind, event.payload)
        from_party, to_party = self._parties(platform, event)
        return await send(self.client, platform, METHOD[event.op], url, body=body, from_party=from_party, to_party=to_party,
                          correlation_id=event.correlation_id, params=params)

    def _refusals(self, platform: Platform, event: Event) -> list[str]:
        """What an upstream hub's data rules would refuse in a Location or EVSE: not sent, with the reason (the
        operator sees it among the refused deliveries)."""
        rules = self.rules.get(platform.row.profile or "")
        if rules is None or event.kind not in ("location", "evse") or event.op == "delete":
            return []
        obj = msgspec.json.decode(event.payload, type=model.Location if event.kind == "location" else model.Evse)
        found = upstream.problems(rules, event.kind, PartyId.parse("/".join(event.path.split("/")[:2])), obj)
        return [f"{rules.name}: {event.kind} {event.path}: {p}" for p in found]

    async def _result(self, platform: Platform, event: Event) -> Delivery:
        """The asynchronous result of a command the hub ran on its own chargers, POSTed (bare, not in an
        envelope) to the response_url the eMSP gave: the event's path."""
        request_kind, cpo, emsp = event.fields or ("", "", "")
        if event.kind == "commandresult":
            body = wire.encode(m.command_result_from_canonical(msgspec.json.decode(event.payload, type=model.CommandResult)))
        else:
            result = msgspec.json.decode(event.payload, type=model.ChargingProfileResult)
            body = wire.encode(m.charging_profile_result_from_canonical(result, RESULTS[event.kind][request_kind]))
        to = PartyId.parse(emsp)
        if platform.row.tenants is not None and (rules := self.rules.get(platform.row.profile or "")) is not None and rules.to_hub:
            to = upstream.hub_party(platform) or to  # an upstream hub that wants itself named
        return await send(self.client, platform, "POST", event.path, body=body, from_party=PartyId.parse(cpo), to_party=to,
                          correlation_id=event.correlation_id)

    async def alive(self, platform: Platform) -> bool:
        return await alive(self.client, platform)
