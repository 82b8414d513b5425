"""The hub as a platform behind an upstream OCPI hub (Gireve's IOP, Emobi): the rules such a hub sets, for both versions.

In 2.2.1 one connection carries several of the hub's parties (the platform's `tenants`); every request names the
tenant in OCPI-from and, as the upstream wants it, the upstream hub itself or the final party in OCPI-to. In 2.1.1
(Gireve's variant) a connection is one tenant's. The parties behind the upstream are met in its requests and taken as
the platform's. A connector (connectors/upstream) defines the rules of each upstream and installs them by name; the
platform's `profile` picks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hub import model
from hub.model import PartyId
from hub.services.directory import Platform

Check = Callable[[PartyId, model.Location | model.Evse], list[str]]  # (owner, object) -> what keeps it from going


@dataclass(frozen=True)
class HubRules:
    name: str
    to_hub: bool  # OCPI-to always names the upstream hub (Gireve), else the final party where there is one
    commands: frozenset[str] = frozenset({"START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR"})
    charging_profiles: bool = True
    page_sizes: dict[str, int] = field(default_factory=dict)  # module -> the page size to pull it with
    party_pages: dict[PartyId, dict[str, int]] = field(default_factory=dict)  # smaller pages of one of its parties (pre-production)
    check: Check | None = None  # the upstream's data rules for Locations and EVSEs pushed to it
    hub_parties: frozenset[PartyId] = frozenset()  # the parties it answers the handshake as (checked at registration)
    one_operator_211: bool = False  # it also speaks OCPI 2.1.1, one connection per CPO operator (Gireve)

    def page_size(self, hub: PartyId | None, module: str) -> int:
        return self.party_pages.get(hub, {}).get(module) or self.page_sizes.get(module, 100)  # type: ignore[arg-type]


def hub_party(platform: Platform) -> PartyId | None:
    """The upstream hub's own party (its role HUB in the credentials)."""
    return next(iter(platform.parties_with_role("HUB")), None)


def role_for(path: str, method: str) -> str:
    """(An OCPI 2.2.1 path.) The role a party behind an upstream plays in a request to this path: a CPO pushes Locations, Tariffs, Sessions and
    CDRs, asks about tokens, gives command results; an eMSP pushes tokens, sends commands, pulls CPO data."""
    parts = path.split("/")  # /ocpi/2.2.1/{sender|receiver}/{module}/...
    interface, module = (parts[3], parts[4]) if len(parts) > 4 else ("", "")
    if interface == "receiver":
        return "EMSP" if module in ("tokens", "commands", "chargingprofiles") else "CPO"
    if module in ("tokens", "commands", "chargingprofiles") and method in ("POST", "PUT"):
        return "CPO"  # authorize, command results, active profiles
    return "EMSP"


def problems(rules: HubRules | None, kind: str, owner: PartyId, obj: model.Location | model.Evse) -> list[str]:
    if rules is None or rules.check is None or kind not in ("location", "evse"):
        return []
    return rules.check(owner, obj)
