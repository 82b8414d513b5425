"""Gireve's IOP as the upstream hub the hub is a platform behind (`../shared/reference/oicp.md` §8): its rules.

One 2.2.1 connection for every tenant; OCPI-to always names the IOP party (FR*107 on pre-production, FR*007 in
production); no PUT credentials (rotate by DELETE and a new registration); owner and operator names, EVSE
capabilities, connector tariff_ids and an eMI3 evse_id under the operator's id required of a Location; START_SESSION
and STOP_SESSION only, no charging profiles; its page sizes (Locations by 20 on pre-production). It also speaks 2.1.1,
one connection per CPO operator. The registering, rotating and pulling are connectors/upstream's.
"""

from __future__ import annotations

from hub import model
from hub.model import PartyId
from protocols.ocpi.upstream import HubRules

PRE_PRODUCTION = PartyId("FR", "107")
PRODUCTION = PartyId("FR", "007")


def _emi3(text: str) -> str:
    return text.replace("*", "").replace("-", "").upper()


def check(owner: PartyId, obj: model.Location | model.Evse) -> list[str]:
    """What IOP refuses of a Location (or an EVSE of one), in its own words."""
    out = []
    if isinstance(obj, model.Location):
        if obj.owner is None or not obj.owner.name:
            out.append("owner.name is required")
        if obj.operator is None or not obj.operator.name:
            out.append("operator.name is required")
        evses = obj.evses
    else:
        evses = [obj]
    prefix = f"{owner.country_code}*{owner.party_id}*E"
    for evse in evses:
        if evse.status == "REMOVED":
            continue
        if not evse.capabilities:
            out.append(f"EVSE {evse.uid}: capabilities are required")
        if not evse.evse_id or not _emi3(evse.evse_id).startswith(_emi3(prefix)):
            out.append(f"EVSE {evse.uid}: evse_id {evse.evse_id or '(none)'} is not an eMI3 id under the operator's {prefix}")
        for connector in evse.connectors:
            if not connector.tariff_ids:
                out.append(f"EVSE {evse.uid} connector {connector.id}: tariff_ids are required")
    return out


RULES = HubRules(
    name="gireve", to_hub=True, commands=frozenset({"START_SESSION", "STOP_SESSION"}), charging_profiles=False,
    page_sizes={"locations": 100, "tokens": 1000, "cdrs": 20, "tariffs": 100, "sessions": 20},
    party_pages={PRE_PRODUCTION: {"locations": 20}}, check=check, hub_parties=frozenset({PRE_PRODUCTION, PRODUCTION}),
    one_operator_211=True,
)
