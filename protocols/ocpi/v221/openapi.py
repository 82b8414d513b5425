"""The OCPI 2.2.1 operations in the OpenAPI document, described from the wire types.

The handlers read raw bytes and decode them with the wire Structs, so that every error carries an OCPI status
code; litestar therefore sees neither their request bodies nor their query parameters, and gives every
response its own error body. `describe` adds to the document litestar generates what it cannot see: each
operation's request body (the wire Structs' JSON schemas, from msgspec), its query parameters, the OCPI ids in
its path, and the OCPI envelope of its responses (with the type of `data` where a success carries some).
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from hub import model
from protocols.ocpi.v221 import wire
from protocols.ocpi.v221.api import VERSION

Count = Annotated[int, Meta(ge=0)]
Query = tuple[tuple[str, Any, bool], ...]  # (name, type, required)


class Op(msgspec.Struct, frozen=True):
    """What litestar cannot see of one operation: its body (a wire type, or a list of them: any one), the `data`
    of its successful answers, its query parameters, and whether it creates (201) as well as replaces (200)."""

    body: Any = None
    body_required: bool = True
    data: Any = None
    query: Query = ()
    creates: bool = False


def _page(date_from_required: bool = False) -> Query:
    return (("date_from", wire.DateTime, date_from_required), ("date_to", wire.DateTime, False),
            ("offset", Count, False), ("limit", Count, False))


TOKEN_TYPE: Query = (("type", model.TokenType, False),)
RESPONSE_URL = ("response_url", wire.URL, True)
COMMANDS = [wire.StartSession, wire.StopSession, wire.ReserveNow, wire.CancelReservation, wire.UnlockConnector]
PROFILE_RESULTS = [wire.ActiveChargingProfileResult, wire.ChargingProfileResult, wire.ClearProfileResult]

S = f"/ocpi/{VERSION}/sender"
R = f"/ocpi/{VERSION}/receiver"
LOC = f"{R}/locations/{{country_code}}/{{party_id}}/{{location_id}}"
TARIFF = f"{R}/tariffs/{{country_code}}/{{party_id}}/{{tariff_id}}"
TOKEN = f"{R}/tokens/{{country_code}}/{{party_id}}/{{token_uid}}"
SESSION = f"{R}/sessions/{{country_code}}/{{party_id}}/{{session_id}}"
PROFILES = f"{R}/chargingprofiles/{{session_id}}"

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/ocpi/versions"): Op(data=list[wire.Version]),
    ("GET", f"/ocpi/{VERSION}"): Op(data=wire.VersionDetails),
    ("GET", f"/ocpi/{VERSION}/credentials"): Op(data=wire.Credentials),
    ("POST", f"/ocpi/{VERSION}/credentials"): Op(wire.Credentials, data=wire.Credentials),
    ("PUT", f"/ocpi/{VERSION}/credentials"): Op(wire.Credentials, data=wire.Credentials),
    ("DELETE", f"/ocpi/{VERSION}/credentials"): Op(),
    ("GET", f"/ocpi/{VERSION}/hubclientinfo"): Op(data=list[wire.ClientInfo], query=_page()),
    # the hub's Sender interfaces
    ("GET", f"{S}/locations"): Op(data=list[wire.Location], query=_page()),
    ("GET", f"{S}/locations/{{location_id}}"): Op(data=wire.Location),
    ("GET", f"{S}/locations/{{location_id}}/{{evse_uid}}"): Op(data=wire.Evse),
    ("GET", f"{S}/locations/{{location_id}}/{{evse_uid}}/{{connector_id}}"): Op(data=wire.Connector),
    ("GET", f"{S}/tariffs"): Op(data=list[wire.Tariff], query=_page()),
    ("GET", f"{S}/tokens"): Op(data=list[wire.Token], query=_page()),
    ("POST", f"{S}/tokens/{{token_uid}}/authorize"): Op(
        wire.LocationReferences, body_required=False, data=wire.AuthorizationInfo, query=TOKEN_TYPE),
    ("GET", f"{S}/sessions"): Op(data=list[wire.Session], query=_page(date_from_required=True)),
    ("PUT", f"{S}/sessions/{{session_id}}/charging_preferences"): Op(
        wire.ChargingPreferences, data=wire.ChargingPreferencesResponseType),
    ("GET", f"{S}/cdrs"): Op(data=list[wire.Cdr], query=_page()),
    ("POST", f"{S}/commands/{{command}}/{{command_id}}"): Op(wire.CommandResult),
    ("POST", f"{S}/chargingprofiles/results/{{command_id}}"): Op(PROFILE_RESULTS),
    ("PUT", f"{S}/chargingprofiles/{{session_id}}"): Op(wire.ActiveChargingProfile),
    # the hub's Receiver interfaces
    ("GET", LOC): Op(data=wire.Location),
    ("GET", f"{LOC}/{{evse_uid}}"): Op(data=wire.Evse),
    ("GET", f"{LOC}/{{evse_uid}}/{{connector_id}}"): Op(data=wire.Connector),
    ("PUT", LOC): Op(wire.Location, creates=True),
    ("PUT", f"{LOC}/{{evse_uid}}"): Op(wire.Evse, creates=True),
    ("PUT", f"{LOC}/{{evse_uid}}/{{connector_id}}"): Op(wire.Connector, creates=True),
    ("PATCH", LOC): Op(wire.LocationPatch),
    ("PATCH", f"{LOC}/{{evse_uid}}"): Op(wire.EvsePatch),
    ("PATCH", f"{LOC}/{{evse_uid}}/{{connector_id}}"): Op(wire.ConnectorPatch),
    ("GET", TARIFF): Op(data=wire.Tariff),
    ("PUT", TARIFF): Op(wire.Tariff, creates=True),
    ("DELETE", TARIFF): Op(),
    ("GET", TOKEN): Op(data=wire.Token, query=TOKEN_TYPE),
    ("PUT", TOKEN): Op(wire.Token, query=TOKEN_TYPE, creates=True),
    ("PATCH", TOKEN): Op(wire.TokenPatch, query=TOKEN_TYPE),
    ("GET", SESSION): Op(data=wire.Session),
    ("PUT", SESSION): Op(wire.Session, creates=True),
    ("PATCH", SESSION): Op(wire.SessionPatch),
    ("POST", f"{R}/cdrs"): Op(wire.Cdr),
    ("GET", f"{R}/cdrs/{{country_code}}/{{party_id}}/{{cdr_id}}"): Op(data=wire.Cdr),
    ("POST", f"{R}/commands/{{command}}"): Op(COMMANDS, data=wire.CommandResponse),
    ("GET", PROFILES): Op(data=wire.ChargingProfileResponse, query=(("duration", Count, True), RESPONSE_URL)),
    ("PUT", PROFILES): Op(wire.SetChargingProfile, data=wire.ChargingProfileResponse),
    ("DELETE", PROFILES): Op(data=wire.ChargingProfileResponse, query=(RESPONSE_URL,)),
}

# the OCPI ids a path may carry; any other path parameter is a CiString(36) id
PATH_PARAMETERS: dict[str, Any] = {
    "country_code": Annotated[str, Meta(pattern=r"^[A-Za-z]{2}$")],
    "party_id": Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{3}$")],
    "command": model.CommandType,
    "cdr_id": wire.CiString39,
}

REF = "#/components/schemas/OCPI.{name}"


def _schemas() -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    """Every type the operations name -> its JSON schema (refs into the components), and the components."""
    types: list[Any] = [wire.DateTime, wire.CiString36, *PATH_PARAMETERS.values()]
    for op in OPERATIONS.values():
        types += [*(op.body if isinstance(op.body, list) else [op.body]), op.data, *(t for _, t, _ in op.query)]
    types = list(dict.fromkeys(t for t in types if t is not None))
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    return dict(zip(types, schemas)), {f"OCPI.{name}": schema for name, schema in components.items()}


SCHEMAS, COMPONENTS = _schemas()


def _envelope(data: Any = None) -> dict[str, Any]:
    """The OCPI response envelope; `data` of the given type, or anything (errors may carry debugging data)."""
    properties: dict[str, Any] = {
        "status_code": {"type": "integer"}, "status_message": {"type": "string"}, "timestamp": SCHEMAS[wire.DateTime],
    }
    if data is not None:
        properties["data"] = SCHEMAS[data]
    return {"type": "object", "properties": properties, "required": ["status_code", "timestamp"]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _json(_envelope(), (
    "an OCPI error: HTTP 200 with an OCPI 2xxx or 4xxx status when the request reached the OCPI layer; otherwise "
    "400 (malformed JSON), 401 (missing or unknown token), 404 (no such object or path), 405, 408 (body too slow), "
    "413 (body too large)"
))


def _operation(operation: dict[str, Any], op: Op) -> None:
    parameters = operation.get("parameters", [])
    for parameter in parameters:
        if parameter["in"] == "path":
            parameter["schema"] = {**SCHEMAS[PATH_PARAMETERS.get(parameter["name"], wire.CiString36)], "minLength": 1}
    parameters += [{"name": name, "in": "query", "required": required, "schema": SCHEMAS[type_]} for name, type_, required in op.query]
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        bodies = [SCHEMAS[t] for t in op.body] if isinstance(op.body, list) else [SCHEMAS[op.body]]
        schema = bodies[0] if len(bodies) == 1 else {"anyOf": bodies}
        operation["requestBody"] = {"required": op.body_required, "content": {"application/json": {"schema": schema}}}
    success = _json(_envelope(op.data), "the OCPI envelope; an error in it when the OCPI status is not 1xxx")
    codes = ["200", "201"] if op.creates else [next((c for c in operation["responses"] if c.startswith("2")), "200")]
    operation["responses"] = {**{code: success for code in codes}, "default": ERROR}


def describe(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of litestar's document with the OCPI operations described; every OCPI operation must be in
    OPERATIONS (a KeyError names one that is not)."""
    document = copy.deepcopy(document)
    document.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    for path, item in document["paths"].items():
        if not path.startswith("/ocpi/"):
            continue
        for method, operation in item.items():
            if method in ("get", "put", "post", "patch", "delete"):
                _operation(operation, OPERATIONS[(method.upper(), path)])
    return document

