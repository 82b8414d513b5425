"""The OCPI 2.2.1 operations in the OpenAPI document (see protocols/ocpi/openapi.py for how they are described)."""

from __future__ import annotations

from typing import Any

from hub import model
from protocols.ocpi.openapi import Count, Describer, Op, Query, page
from protocols.ocpi.v221 import wire
from protocols.ocpi.v221.api import VERSION


def _page(date_from_required: bool = False) -> Query:
    return page(wire.DateTime, date_from_required)


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

PATH_PARAMETERS: dict[str, Any] = {"command": model.CommandType, "cdr_id": wire.CiString39}

DESCRIBER = Describer(OPERATIONS, PATH_PARAMETERS, wire.DateTime, wire.CiString36, "OCPI.",
                      lambda path: path == "/ocpi/versions" or path.startswith(f"/ocpi/{VERSION}"))
describe = DESCRIBER.describe
