"""The OCPI 2.1.1 operations in the OpenAPI document (see protocols/ocpi/openapi.py for how they are described)."""

from __future__ import annotations

from typing import Any

from protocols.ocpi.openapi import Describer, Op, Query, page
from protocols.ocpi.v211 import wire
from protocols.ocpi.v211.client import VERSION

B = f"/ocpi/{VERSION}"
E = f"{B}/emsp"
C = f"{B}/cpo"
OWNED = "{country_code}/{party_id}"
LOCATION = "{location_id}"
EVSE = "{location_id}/{evse_uid}"
CONNECTOR = "{location_id}/{evse_uid}/{connector_id}"
PAGE: Query = page(wire.DateTime)
COMMANDS = [wire.StartSession, wire.StopSession, wire.ReserveNow, wire.UnlockConnector]


def _receiver(base: str, whole: Any, patch: Any, delete: bool = False) -> dict[tuple[str, str], Op]:
    ops = {("GET", base): Op(data=whole), ("PUT", base): Op(whole, creates=True), ("PATCH", base): Op(patch)}
    return {**ops, ("DELETE", base): Op()} if delete else ops


OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", B): Op(data=wire.VersionDetails),
    ("GET", f"{B}/credentials"): Op(data=wire.Credentials),
    ("POST", f"{B}/credentials"): Op(wire.Credentials, data=wire.Credentials),
    ("PUT", f"{B}/credentials"): Op(wire.Credentials, data=wire.Credentials),
    ("DELETE", f"{B}/credentials"): Op(),
    # the hub as eMSP, for 2.1.1 CPOs
    **_receiver(f"{E}/locations/{OWNED}/{LOCATION}", wire.Location, wire.LocationPatch),
    **_receiver(f"{E}/locations/{OWNED}/{EVSE}", wire.Evse, wire.EvsePatch),
    **_receiver(f"{E}/locations/{OWNED}/{CONNECTOR}", wire.Connector, wire.ConnectorPatch),
    **_receiver(f"{E}/tariffs/{OWNED}/{{tariff_id}}", wire.Tariff, wire.TariffPatch, delete=True),
    **_receiver(f"{E}/sessions/{OWNED}/{{session_id}}", wire.Session, wire.SessionPatch),
    ("POST", f"{E}/cdrs"): Op(wire.Cdr),
    ("GET", f"{E}/cdrs/{OWNED}/{{cdr_id}}"): Op(data=wire.Cdr),
    ("GET", f"{E}/tokens"): Op(data=list[wire.Token], query=PAGE),
    ("POST", f"{E}/tokens/{{token_uid}}/authorize"): Op(wire.LocationReferences, body_required=False, data=wire.AuthorizationInfo),
    ("POST", f"{E}/commands/{{command_id}}"): Op(wire.CommandResponse),
    # the hub as CPO, for 2.1.1 eMSPs
    ("GET", f"{C}/locations"): Op(data=list[wire.Location], query=PAGE),
    ("GET", f"{C}/locations/{LOCATION}"): Op(data=wire.Location),
    ("GET", f"{C}/locations/{EVSE}"): Op(data=wire.Evse),
    ("GET", f"{C}/locations/{CONNECTOR}"): Op(data=wire.Connector),
    ("GET", f"{C}/tariffs"): Op(data=list[wire.Tariff], query=PAGE),
    ("GET", f"{C}/sessions"): Op(data=list[wire.Session], query=PAGE),
    ("GET", f"{C}/cdrs"): Op(data=list[wire.Cdr], query=PAGE),
    ("GET", f"{C}/tokens/{OWNED}/{{token_uid}}"): Op(data=wire.Token),
    ("PUT", f"{C}/tokens/{OWNED}/{{token_uid}}"): Op(wire.Token, creates=True),
    ("PATCH", f"{C}/tokens/{OWNED}/{{token_uid}}"): Op(wire.TokenPatch),
    ("POST", f"{C}/commands/{{command}}"): Op(COMMANDS, data=wire.CommandResponse),
}
PATH_PARAMETERS: dict[str, Any] = {
    "command": wire.CommandType,
    "location_id": wire.Id39, "evse_uid": wire.Id39,
}

DESCRIBER = Describer(OPERATIONS, PATH_PARAMETERS, wire.DateTime, wire.Id36, "OCPI211.", lambda path: path.startswith(B))
describe = DESCRIBER.describe
