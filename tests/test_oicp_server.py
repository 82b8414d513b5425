"""The OICP 2.3 router (protocols/oicp/v23/server.py) over real HTTP, with a recording fake of the connector: what
reaches the implementation, in which shape the answers go back, and what is refused before it is called.

Hubject's side is played by the stand-in's module functions (fixtures/hubject.py), which check each body against
Hubject's documents before sending it and, by default, the hub's answer after; the bad cases are sent raw."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from litestar import Litestar

from fixtures import hubject
from fixtures.loopback import Loopback
from fixtures.ocpi_party import free_port
from hub.services import errors
from protocols.oicp.v23 import wire
from protocols.oicp.v23.server import PREFIX, router

SESSION_ID = "b2688855-7f00-0002-6d8e-48d498e2e5ab"
PROVIDER = "DE-DCB"
OPERATOR = "DE*ABC"
EVSE = "DE*ABC*E123456"
EVCO = "DE-DCB-CAet5e4XY-3"
UID = "1234ABCD"
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
REMOTE_START = "/charging/v21/providers/{providerID}/authorize-remote/start"
RESERVATION_START = "/reservation/v11/providers/{providerID}/reservation-start-request"
RESERVATION_STOP = "/reservation/v11/providers/{providerID}/reservation-stop-request"
OK = {"Code": "000", "Description": "Success"}


class FakeInbound:
    """Records every call; answers success, or raises `fail`; `allow` decides every client address."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, Any]] = []
        self.clients: list[str] = []
        self.allow = True
        self.fail: BaseException | None = None
        self.answer: Any = None  # instead of the usual answer

    def allowed(self, client: str) -> bool:
        self.clients.append(client)
        return self.allow

    async def _call(self, method: str, path_id: str | None, req: Any, answer: Any) -> Any:
        self.calls.append((method, path_id, req))
        if self.fail is not None:
            raise self.fail
        return self.answer if self.answer is not None else answer

    @staticmethod
    def _ack(req: Any) -> wire.Acknowledgement:
        return wire.Acknowledgement(result=True, status_code=wire.StatusCode(code="000", description="Success"),
                                    session_id=req.session_id, cpo_partner_session_id="cpo-42")

    async def remote_start(self, provider_id: str, req: wire.AuthorizeRemoteStart) -> wire.Acknowledgement:
        return await self._call("remote_start", provider_id, req, self._ack(req))

    async def remote_stop(self, provider_id: str, req: wire.AuthorizeRemoteStop) -> wire.Acknowledgement:
        return await self._call("remote_stop", provider_id, req, self._ack(req))

    async def reservation_start(self, provider_id: str, req: wire.AuthorizeRemoteReservationStart) -> wire.Acknowledgement:
        return await self._call("reservation_start", provider_id, req, self._ack(req))

    async def reservation_stop(self, provider_id: str, req: wire.AuthorizeRemoteReservationStop) -> wire.Acknowledgement:
        return await self._call("reservation_stop", provider_id, req, self._ack(req))

    async def authorize_start(self, operator_id: str, req: wire.AuthorizeStart) -> wire.AuthorizationStart:
        return await self._call("authorize_start", operator_id, req, wire.AuthorizationStart(
            authorization_status="Authorized", status_code=wire.StatusCode(code="000", description="Success"),
            session_id=req.session_id, provider_id=PROVIDER))

    async def authorize_stop(self, operator_id: str, req: wire.AuthorizeStop) -> wire.AuthorizationStop:
        return await self._call("authorize_stop", operator_id, req, wire.AuthorizationStop(
            authorization_status="Authorized", status_code=wire.StatusCode(code="000", description="Success"),
            session_id=req.session_id, provider_id=PROVIDER))

    async def charge_detail_record(self, operator_id: str, req: wire.ChargeDetailRecord) -> wire.Acknowledgement:
        return await self._call("charge_detail_record", operator_id, req, self._ack(req))

    async def charging_notification(self, req: wire.ChargingNotification) -> wire.Acknowledgement:
        return await self._call("charging_notification", None, req, self._ack(req))


@dataclass
class Hub:
    fake: FakeInbound
    url: str  # the hub's base: the stand-in adds /oicp/api/oicp/...
    http: httpx.AsyncClient

    async def post(self, path: str, body: bytes) -> httpx.Response:
        return await self.http.post(self.url + PREFIX + path, content=body, headers={"content-type": "application/json"})


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    fake = FakeInbound()
    port = free_port()
    server = Loopback(Litestar(route_handlers=[router(fake)], logging_config=None), port)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            yield Hub(fake, f"http://127.0.0.1:{port}", http)
    finally:
        await server.stop()


def remote_start_body(**fields: Any) -> dict[str, Any]:
    return {"SessionID": SESSION_ID, "ProviderID": PROVIDER, "EvseID": EVSE, "Identification": hubject.remote(EVCO)} | fields


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


# --- each operation reaches the implementation, its answer comes back in OICP's names --------------------------------


async def test_remote_start_reaches_the_implementation_and_answers_in_oicp_names(hub: Hub) -> None:
    answer = await hubject.authorize_remote_start(hub.url, PROVIDER, EVSE, EVCO, SESSION_ID,
                                                  EMPPartnerSessionID="emp-1", PartnerProductID="AC1")
    assert answer == {"Result": True, "StatusCode": OK, "SessionID": SESSION_ID, "CPOPartnerSessionID": "cpo-42"}
    [(method, provider_id, req)] = hub.fake.calls
    assert (method, provider_id) == ("remote_start", PROVIDER)
    assert isinstance(req, wire.AuthorizeRemoteStart)
    assert (req.session_id, req.provider_id, req.evse_id) == (SESSION_ID, PROVIDER, EVSE)
    assert req.identification.remote_identification.evco_id == EVCO
    assert (req.emp_partner_session_id, req.partner_product_id) == ("emp-1", "AC1")
    assert hub.fake.clients == ["127.0.0.1"]


async def test_remote_stop_reaches_the_implementation_and_answers_in_oicp_names(hub: Hub) -> None:
    answer = await hubject.authorize_remote_stop(hub.url, PROVIDER, EVSE, SESSION_ID, CPOPartnerSessionID="cpo-42")
    assert answer == {"Result": True, "StatusCode": OK, "SessionID": SESSION_ID, "CPOPartnerSessionID": "cpo-42"}
    [(method, provider_id, req)] = hub.fake.calls
    assert (method, provider_id) == ("remote_stop", PROVIDER)
    assert isinstance(req, wire.AuthorizeRemoteStop)
    assert (req.session_id, req.evse_id, req.cpo_partner_session_id) == (SESSION_ID, EVSE, "cpo-42")


async def test_reservation_start_reaches_the_implementation_and_answers_in_oicp_names(hub: Hub) -> None:
    body = {"SessionID": SESSION_ID, "ProviderID": PROVIDER, "EvseID": EVSE, "Identification": hubject.remote(EVCO),
            "Duration": 15, "EMPPartnerSessionId": "emp-7"}
    answer = await hubject.call_hub(hub.url, "cpo", RESERVATION_START, {"providerID": PROVIDER}, body)
    assert answer == {"Result": True, "StatusCode": OK, "SessionID": SESSION_ID, "CPOPartnerSessionID": "cpo-42"}
    [(method, provider_id, req)] = hub.fake.calls
    assert (method, provider_id) == ("reservation_start", PROVIDER)
    assert isinstance(req, wire.AuthorizeRemoteReservationStart)
    assert (req.duration, req.emp_partner_session) == (15, "emp-7")


async def test_reservation_stop_reaches_the_implementation_and_answers_in_oicp_names(hub: Hub) -> None:
    body = {"SessionID": SESSION_ID, "ProviderID": PROVIDER, "EvseID": EVSE}
    answer = await hubject.call_hub(hub.url, "cpo", RESERVATION_STOP, {"providerID": PROVIDER}, body)
    assert answer["Result"] is True and answer["SessionID"] == SESSION_ID
    [(method, provider_id, req)] = hub.fake.calls
    assert (method, provider_id) == ("reservation_stop", PROVIDER)
    assert isinstance(req, wire.AuthorizeRemoteReservationStop) and req.evse_id == EVSE


async def test_authorize_start_reaches_the_implementation_and_answers_in_oicp_names(hub: Hub) -> None:
    answer = await hubject.authorize_start(hub.url, OPERATOR, hubject.rfid(UID), session_id=SESSION_ID, EvseID=EVSE)
    assert answer == {"AuthorizationStatus": "Authorized", "StatusCode": OK, "SessionID": SESSION_ID,
                      "ProviderID": PROVIDER}
    [(method, operator_id, req)] = hub.fake.calls
    assert (method, operator_id) == ("authorize_start", OPERATOR)  # the path's `*` arrives as sent
    assert isinstance(req, wire.AuthorizeStart)
    assert req.identification.rfid_mifare_family_identification.uid == UID and req.evse_id == EVSE


async def test_authorize_stop_reaches_the_implementation_and_answers_in_oicp_names(hub: Hub) -> None:
    answer = await hubject.authorize_stop(hub.url, OPERATOR, SESSION_ID, hubject.rfid(UID), EvseID=EVSE)
    assert answer == {"AuthorizationStatus": "Authorized", "StatusCode": OK, "SessionID": SESSION_ID,
                      "ProviderID": PROVIDER}
    [(method, operator_id, req)] = hub.fake.calls
    assert (method, operator_id) == ("authorize_stop", OPERATOR)
    assert isinstance(req, wire.AuthorizeStop) and req.session_id == SESSION_ID


async def test_charge_detail_record_reaches_the_implementation_and_answers_in_oicp_names(hub: Hub) -> None:
    answer = await hubject.charge_detail_record(hub.url, OPERATOR, SESSION_ID, EVSE, hubject.remote(EVCO), T0,
                                                T0 + timedelta(hours=1), 12.345)
    assert answer == {"Result": True, "StatusCode": OK, "SessionID": SESSION_ID, "CPOPartnerSessionID": "cpo-42"}
    [(method, operator_id, req)] = hub.fake.calls
    assert (method, operator_id) == ("charge_detail_record", OPERATOR)
    assert isinstance(req, wire.ChargeDetailRecord)
    assert str(req.consumed_energy) == "12.345" and req.evse_id == EVSE


@pytest.mark.parametrize(("kind", "shape"), [
    ("Start", wire.ChargingNotificationStart), ("Progress", wire.ChargingNotificationProgress),
    ("End", wire.ChargingNotificationEnd), ("Error", wire.ChargingNotificationError),
])
async def test_each_charging_notification_reaches_the_implementation_as_its_shape(hub: Hub, kind: str, shape: type) -> None:
    answer = await hubject.charging_notification(hub.url, kind, OPERATOR, SESSION_ID, EVSE, at=T0 + timedelta(minutes=5),
                                                 charging_start=T0)
    assert answer == {"Result": True, "StatusCode": OK, "SessionID": SESSION_ID, "CPOPartnerSessionID": "cpo-42"}
    [(method, path_id, req)] = hub.fake.calls
    assert (method, path_id) == ("charging_notification", None)
    assert type(req) is shape and req.session_id == SESSION_ID and req.operator_id == OPERATOR


# --- 1. the client's address ---------------------------------------------------------------------------------------


async def test_a_client_address_not_allowed_gets_403_with_017_and_changes_nothing(hub: Hub) -> None:
    hub.fake.allow = False
    response = await hub.post(REMOTE_START.format(providerID=PROVIDER), _json(remote_start_body()))
    assert response.status_code == 403
    fault = response.json()
    assert fault["StatusCode"]["Code"] == "017" and fault["message"]
    assert hub.fake.clients == ["127.0.0.1"] and hub.fake.calls == []


async def test_the_client_address_is_checked_before_the_body(hub: Hub) -> None:
    hub.fake.allow = False
    response = await hub.post("/charging/v21/operators/DE*ABC/authorize/start", b"{not json")
    assert response.status_code == 403 and response.json()["StatusCode"]["Code"] == "017"
    assert hub.fake.calls == []


async def test_a_failing_address_check_refuses_the_call(hub: Hub) -> None:
    def broken(client: str) -> bool:
        raise RuntimeError("the allow-list is unreadable")

    hub.fake.allowed = broken  # type: ignore[method-assign]
    response = await hub.post(REMOTE_START.format(providerID=PROVIDER), _json(remote_start_body()))
    assert response.status_code == 403 and hub.fake.calls == []


# --- 2. the body ----------------------------------------------------------------------------------------------------

OVER_LONG = "x" * 251


@pytest.mark.parametrize(("body", "field"), [
    (b'{"SessionID": "' + SESSION_ID.encode() + b'", "ProviderID": ', "$"),  # malformed JSON
    (b"[]", "$"),  # JSON, but no object
    (_json({k: v for k, v in remote_start_body().items() if k != "EvseID"}), "$.EvseID"),  # a required field missing
    (_json(remote_start_body(Identification={"RemoteIdentification": {}})),
     "$.Identification.RemoteIdentification.EvcoID"),  # ... deeper down
    (_json(remote_start_body(EvseID=123)), "$.EvseID"),  # a wrong type
    (_json(remote_start_body(CPOPartnerSessionID=OVER_LONG)), "$.CPOPartnerSessionID"),  # an over-long string
    (_json(remote_start_body(EvseID="not-an-evse")), "$.EvseID"),  # an EvseID of no EvseID pattern
], ids=["malformed-json", "not-an-object", "missing-field", "missing-nested-field", "wrong-type", "over-long-string",
        "bad-evse-id-pattern"])
async def test_a_body_not_json_or_not_the_schema_gets_400_with_022_and_changes_nothing(
        hub: Hub, body: bytes, field: str) -> None:
    response = await hub.post(REMOTE_START.format(providerID=PROVIDER), body)
    assert response.status_code == 400
    answer = response.json()
    # an acknowledgement ...
    assert answer["Result"] is False
    assert answer["StatusCode"]["Code"] == "022" and answer["StatusCode"]["Description"] == "Data error"
    info = answer["StatusCode"]["AdditionalInfo"]
    assert info and (field == "$" or field.rsplit(".", 1)[-1] in info)
    # ... and Hubject's FaultBody
    assert answer["message"].startswith("Validation failed")
    assert answer["validationErrors"][0]["fieldReference"] == field
    assert hub.fake.calls == []
    assert wire.decode(response.content, wire.Acknowledgement).status_code.code == "022"
    assert wire.decode(response.content, wire.FaultBody).validation_errors[0].field_reference == field
    if field != "$":  # the SessionID of a body that is JSON is echoed
        assert answer["SessionID"] == SESSION_ID


async def test_a_bad_body_is_answered_as_the_operation_answers(hub: Hub) -> None:
    response = await hub.post("/charging/v21/operators/DE*ABC/authorize/start",
                              _json({"SessionID": SESSION_ID, "OperatorID": OPERATOR,
                                     "Identification": hubject.rfid("not hex")}))
    assert response.status_code == 400
    answer = response.json()
    assert answer["AuthorizationStatus"] == "NotAuthorized" and answer["StatusCode"]["Code"] == "022"
    assert answer["validationErrors"][0]["fieldReference"] == "$.Identification.RFIDMifareFamilyIdentification.UID"
    assert answer["SessionID"] == SESSION_ID and hub.fake.calls == []


async def test_an_unknown_notification_type_gets_400_with_022(hub: Hub) -> None:
    response = await hub.post("/notificationmgmt/v11/charging-notifications",
                              _json({"Type": "Paused", "SessionID": SESSION_ID, "EvseID": EVSE, "OperatorID": OPERATOR}))
    assert response.status_code == 400
    answer = response.json()
    assert answer["Result"] is False and answer["StatusCode"]["Code"] == "022"
    assert answer["validationErrors"][0]["fieldReference"] == "$.Type" and hub.fake.calls == []


async def test_an_invalid_session_id_is_not_echoed(hub: Hub) -> None:
    response = await hub.post(REMOTE_START.format(providerID=PROVIDER), _json(remote_start_body(SessionID="nope")))
    assert response.status_code == 400
    answer = response.json()
    assert answer["validationErrors"][0]["fieldReference"] == "$.SessionID" and "SessionID" not in answer


# --- 3. the partner id in the path ----------------------------------------------------------------------------------


async def test_a_provider_id_in_the_path_other_than_the_body_s_gets_017_and_changes_nothing(hub: Hub) -> None:
    answer = await hubject.call_hub(hub.url, "cpo", REMOTE_START, {"providerID": "DE-XYZ"}, remote_start_body())
    assert answer["Result"] is False and answer["StatusCode"]["Code"] == "017"
    assert answer["SessionID"] == SESSION_ID and hub.fake.calls == []


@pytest.mark.parametrize("path_id", ["DEDCB", "de-dcb", "DE*DCB"])
async def test_a_provider_id_differing_only_in_case_or_separator_is_the_same(hub: Hub, path_id: str) -> None:
    answer = await hubject.call_hub(hub.url, "cpo", REMOTE_START, {"providerID": path_id}, remote_start_body())
    assert answer["Result"] is True
    assert [(m, p) for m, p, _ in hub.fake.calls] == [("remote_start", path_id)]


async def test_an_operator_id_in_the_path_other_than_the_body_s_gets_017_not_authorized(hub: Hub) -> None:
    body = {"SessionID": SESSION_ID, "OperatorID": OPERATOR, "Identification": hubject.rfid(UID)}
    answer = await hubject.call_hub(hub.url, "emp", "/charging/v21/operators/{operatorID}/authorize/start",
                                    {"operatorID": "DE*XYZ"}, body)
    assert answer["AuthorizationStatus"] == "NotAuthorized" and answer["StatusCode"]["Code"] == "017"
    assert answer["SessionID"] == SESSION_ID and hub.fake.calls == []


async def test_a_cdr_of_an_evse_of_another_operator_than_the_path_s_gets_017(hub: Hub) -> None:
    answer = await hubject.charge_detail_record(hub.url, OPERATOR, SESSION_ID, "DE*XYZ*E1", hubject.remote(EVCO), T0,
                                                T0 + timedelta(hours=1), 1.0)
    assert answer["Result"] is False and answer["StatusCode"]["Code"] == "017" and hub.fake.calls == []


async def test_a_cdr_of_a_sub_operator_s_evse_is_taken_when_its_hub_operator_is_the_path_s(hub: Hub) -> None:
    answer = await hubject.charge_detail_record(hub.url, "DEABC", SESSION_ID, "DE*XYZ*E1", hubject.remote(EVCO), T0,
                                                T0 + timedelta(hours=1), 1.0, HubOperatorID=OPERATOR)
    assert answer["Result"] is True
    assert [(m, p) for m, p, _ in hub.fake.calls] == [("charge_detail_record", "DEABC")]


# --- 4. what the implementation raises ------------------------------------------------------------------------------


async def test_a_hub_error_is_answered_with_its_status_code_and_the_session_ids_echoed(hub: Hub) -> None:
    hub.fake.fail = errors.UnknownLocation(f"unknown EVSE {EVSE}")
    answer = await hubject.authorize_remote_start(hub.url, PROVIDER, EVSE, EVCO, SESSION_ID, EMPPartnerSessionID="emp-1")
    assert answer == {"Result": False, "SessionID": SESSION_ID, "EMPPartnerSessionID": "emp-1",
                      "StatusCode": {"Code": "603", "Description": "Unknown EVSE ID",
                                     "AdditionalInfo": f"unknown EVSE {EVSE}"}}
    assert len(hub.fake.calls) == 1


async def test_a_hub_error_of_a_reservation_echoes_either_spelling_of_the_emp_session_id(hub: Hub) -> None:
    hub.fake.fail = errors.Conflict("EVSE in use")
    body = {"SessionID": SESSION_ID, "ProviderID": PROVIDER, "EvseID": EVSE, "Identification": hubject.remote(EVCO),
            "EMPPartnerSessionId": "emp-7"}
    answer = await hubject.call_hub(hub.url, "cpo", RESERVATION_START, {"providerID": PROVIDER}, body)
    assert answer["Result"] is False and answer["StatusCode"]["Code"] == "602"
    assert answer["EMPPartnerSessionID"] == "emp-7"


@pytest.mark.parametrize(("identification", "code"), [
    (hubject.rfid(UID), "102"),  # RFID authentication failed - invalid UID
    ({"QRCodeIdentification": {"EvcoID": EVCO, "PIN": "1234"}}, "105"),  # a contract: invalid EvcoID
])
async def test_an_unknown_token_is_not_authorized_with_the_code_of_its_medium(
        hub: Hub, identification: dict[str, Any], code: str) -> None:
    hub.fake.fail = errors.UnknownToken("not one of ours")
    answer = await hubject.authorize_start(hub.url, OPERATOR, identification, session_id=SESSION_ID)
    assert answer["AuthorizationStatus"] == "NotAuthorized" and answer["StatusCode"]["Code"] == code
    assert answer["SessionID"] == SESSION_ID


async def test_an_unexpected_exception_is_answered_021_without_a_traceback_and_logged(
        hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    hub.fake.fail = RuntimeError("connection string postgres://hub:hunter2@db")
    with caplog.at_level(logging.ERROR, logger="protocols.oicp.v23.server"):
        response = await hub.post(REMOTE_START.format(providerID=PROVIDER), _json(remote_start_body()))
    assert response.status_code == 200
    answer = response.json()
    assert answer == {"Result": False, "StatusCode": {"Code": "021", "Description": "System error"},
                      "SessionID": SESSION_ID}
    for leak in ("Traceback", "RuntimeError", "hunter2", "server.py"):
        assert leak not in response.text
    [record] = [r for r in caplog.records if r.name == "protocols.oicp.v23.server"]
    assert "eRoamingAuthorizeRemoteStart" in record.getMessage() and record.exc_info is not None
    assert EVCO not in record.getMessage()  # no body in the log


async def test_an_answer_of_the_wrong_type_is_answered_021(hub: Hub) -> None:
    hub.fake.answer = {"Result": True}  # not a wire type
    answer = await hubject.authorize_stop(hub.url, OPERATOR, SESSION_ID, hubject.rfid(UID))
    assert answer["AuthorizationStatus"] == "NotAuthorized" and answer["StatusCode"]["Code"] == "021"


# --- what is not this router's --------------------------------------------------------------------------------------


async def test_an_unknown_path_is_left_to_the_app_s_404(hub: Hub) -> None:
    response = await hub.post("/charging/v21/providers/DE-DCB/authorize-remote/pause", _json(remote_start_body()))
    assert response.status_code == 404 and hub.fake.calls == [] and hub.fake.clients == []
