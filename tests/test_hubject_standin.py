"""The Hubject stand-in itself (fixtures/hubject.py), over real HTTP: it takes what Hubject's documents allow and
calls out the rest, pages EVSE data like Hubject, answers as scripted, and sends the hub only spec-valid bodies.

What it produces is checked twice: by the stand-in's own (stricter) schemas, and independently by fastjsonschema
over the untouched OpenAPI bundles."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import fastjsonschema
import httpx
import pytest

from fixtures.hubject import (
    DUPLICATE_CDR_CODE, MAX_PAGE_SIZE, HubjectStandIn, authorize_remote_start, authorize_remote_stop, authorize_start,
    authorize_stop, charge_detail_record, charging_notification, evse_records, read_body, remote, rfid, spec,
)
from fixtures.loopback import Loopback
from fixtures.ocpi_party import free_port
from tests.conftest import SPEC

OPENAPI = SPEC / "oicp-2.3" / "openapi-3.0"
PUSH_DATA = "/evsepush/v23/operators/{}/data-records"
PULL_DATA = "/evsepull/v23/providers/DE-8EO/data-records"
CDR = "/cdrmgmt/v22/operators/DE*ABC/charge-detail-record"
SESSION_ID = "b2688855-7f00-0002-6d8e-48d498e2e5ab"
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))


@cache
def raw(side: str, name: str) -> Callable[[Any], Any]:
    """A validator of the untouched bundle's schema: an opinion independent of the stand-in's."""
    bundle = json.loads((OPENAPI / f"oicp-2.3-{side}.openapi.json").read_text())
    return fastjsonschema.compile({"$ref": f"#/components/schemas/{name}", "components": bundle["components"]})


@pytest.fixture
async def hubject() -> AsyncIterator[HubjectStandIn]:
    async with HubjectStandIn() as standin:
        yield standin


@pytest.fixture
async def client(hubject: HubjectStandIn) -> AsyncIterator[httpx.AsyncClient]:
    # base URL up to /api/oicp, paths appended: as the hub is configured
    async with httpx.AsyncClient(base_url=hubject.url, timeout=10) as http:
        yield http


def push(records: list[dict[str, Any]], operator_id: str = "DE*ABC", action: str = "fullLoad") -> dict[str, Any]:
    return {"ActionType": action,
            "OperatorEvseData": {"OperatorID": operator_id, "OperatorName": "ABC Charging", "EvseDataRecord": records}}


def cdr(session_id: str = SESSION_ID) -> dict[str, Any]:
    return {"SessionID": session_id, "EvseID": "DE*ABC*E000001", "Identification": rfid("AABBCCDD"),
            "ChargingStart": "2025-03-01T10:01:00+01:00", "ChargingEnd": "2025-03-01T10:50:00+01:00",
            "SessionStart": "2025-03-01T10:00:00+01:00", "SessionEnd": "2025-03-01T11:00:00+01:00",
            "ConsumedEnergy": 18.123}


# --- the index --------------------------------------------------------------------------------------------------------


def test_every_operation_of_both_bundles_is_indexed_under_api_oicp() -> None:
    s = spec()
    for side in ("cpo", "emp"):
        paths = json.loads((OPENAPI / f"oicp-2.3-{side}.openapi.json").read_text())["paths"]
        documented = {("POST", "/api/oicp" + p) for p in paths}
        swagger_only = {("POST", f"/api/oicp/evsepull/v21/providers/{{providerID}}/status-records-by-{by}")
                        for by in ("id", "operator-id")} if side == "emp" else set()
        assert set(s.operations[side]) == documented | swagger_only
    served = {op.name: op.template for op in s.inbound}
    assert served["eRoamingPushEvseData"] == "/api/oicp/evsepush/v23/operators/{operatorID}/data-records"
    # the Swagger's own paths for the status pulls the EMP bundle folds into one
    assert served["eRoamingPullEvseStatusByID"].endswith("/status-records-by-id")
    assert served["eRoamingPullEvseStatusByOperatorID"].endswith("/status-records-by-operator-id")
    assert len(served) == 20 and s.codes["000"] == "Success." and s.codes["603"] == "Unknown EVSE ID."


# --- what the hub sends -----------------------------------------------------------------------------------------------


async def test_a_valid_push_is_clean_and_recorded(hubject: HubjectStandIn, client: httpx.AsyncClient) -> None:
    body = push(evse_records("DE*ABC", 12, pulled=False))
    body["OperatorEvseData"]["EvseDataRecord"][0]["ChargingStationID"] = "ST-1"  # the Swagger's spelling: taken too
    answer = await client.post(PUSH_DATA.format("DE*ABC"), json=body)
    assert answer.status_code == 200
    assert answer.json() == {"Result": True, "StatusCode": {"Code": "000", "Description": "Success."}}
    raw("cpo", "eRoamingAcknowledgment")(answer.json())
    assert hubject.received == [("eRoamingPushEvseData", {"operatorID": "DE*ABC"}, body)]
    hubject.assert_clean()


def _misspelled(body: dict[str, Any]) -> None:
    record = body["OperatorEvseData"]["EvseDataRecord"][3]
    record["ChargingStationNmes"] = record.pop("ChargingStationNames")


def _missing(body: dict[str, Any]) -> None:
    del body["OperatorEvseData"]["EvseDataRecord"][1]["HotlinePhoneNumber"]


def _bad_enum(body: dict[str, Any]) -> None:
    body["OperatorEvseData"]["EvseDataRecord"][2]["Plugs"] = ["Type 2 outlet"]


def _bad_length(body: dict[str, Any]) -> None:
    body["OperatorEvseData"]["EvseDataRecord"][0]["Address"]["City"] = "x" * 51  # written `maximum: 50` in the bundle


def _bad_operator(body: dict[str, Any]) -> None:
    body["OperatorEvseData"]["OperatorID"] = "DE*AB"


@pytest.mark.parametrize("spoil, expected", [
    (_misspelled, ["$.OperatorEvseData.EvseDataRecord[3]: \"ChargingStationNames\" is a required property",
                   "$.OperatorEvseData.EvseDataRecord[3]: Additional properties are not allowed "
                   "('ChargingStationNmes' was unexpected)"]),
    (_missing, ["$.OperatorEvseData.EvseDataRecord[1]: \"HotlinePhoneNumber\" is a required property"]),
    (_bad_enum, ["$.OperatorEvseData.EvseDataRecord[2].Plugs[0]: \"Type 2 outlet\" is not one of"]),
    (_bad_length, ["$.OperatorEvseData.EvseDataRecord[0].Address.City: \"xxx"]),
    (_bad_operator, ["$.OperatorEvseData.OperatorID: \"DE*AB\" does not match"]),
], ids=["misspelled field", "missing field", "wrong enum value", "string too long", "bad OperatorID"])
async def test_a_spoilt_push_is_a_violation(hubject: HubjectStandIn, client: httpx.AsyncClient,
                                            spoil: Callable[[dict[str, Any]], None], expected: list[str]) -> None:
    body = push(evse_records("DE*ABC", 5, pulled=False))
    spoil(body)
    answer = await client.post(PUSH_DATA.format("DE*ABC"), json=body)
    assert answer.status_code == 400 and answer.json()["validationErrors"]
    prefix = "eRoamingPushEvseData POST /api/oicp/evsepush/v23/operators/DE*ABC/data-records: "
    assert len(hubject.violations) == len(expected)
    for violation, start in zip(sorted(hubject.violations), sorted(expected)):
        assert violation.startswith(prefix + start), violation
    assert hubject.received == []
    with pytest.raises(AssertionError, match="ChargingStationNmes|HotlinePhoneNumber|outlet|City|DE\\*AB"):
        hubject.assert_clean()


async def test_a_bad_operator_id_in_the_path_is_a_violation(hubject: HubjectStandIn,
                                                            client: httpx.AsyncClient) -> None:
    answer = await client.post(PUSH_DATA.format("DEU*ABC"), json=push(evse_records("DE*ABC", 1, pulled=False)))
    assert answer.status_code == 400
    assert hubject.violations == ["eRoamingPushEvseData POST /api/oicp/evsepush/v23/operators/DEU*ABC/data-records: "
                                  "path parameter operatorID: \"DEU*ABC\" does not match "
                                  "\"^(([A-Za-z]{2}\\*?[A-Za-z0-9]{3})|(\\+?[0-9]{1,3}\\*[0-9]{3}))$\""]


async def test_ids_of_another_partner_are_refused_like_hubject(hubject: HubjectStandIn,
                                                               client: httpx.AsyncClient) -> None:
    foreign = await client.post(PUSH_DATA.format("DE*ABC"), json=push(evse_records("DE*XYZ", 2, pulled=False)))
    assert foreign.json()["Result"] is False and foreign.json()["StatusCode"]["Code"] == "018"
    other = await client.post(PUSH_DATA.format("DEABC"), json=push([], operator_id="DE*XYZ"))
    assert other.json()["StatusCode"]["Code"] == "017"
    assert [v.rsplit(": ", 1)[1] for v in hubject.violations] == ["018", "017"]
    hubject.sub_partners.add("DE*XYZ")  # a registered sub-operator: its EvseIDs are the hub's
    ok = await client.post(PUSH_DATA.format("DE*ABC"), json=push(evse_records("DE*XYZ", 2, pulled=False)))
    assert ok.json()["Result"] is True and len(hubject.violations) == 2


async def test_an_unknown_path_or_method_or_a_body_that_is_no_json(hubject: HubjectStandIn,
                                                                   client: httpx.AsyncClient) -> None:
    assert (await client.post("/evsepush/v22/operators/DE*ABC/data-records", json={})).status_code == 404
    assert (await client.get(PUSH_DATA.format("DE*ABC"))).status_code == 405
    assert (await client.post(CDR, content=b"{", headers={"content-type": "text/plain"})).status_code == 400
    assert hubject.violations[0] == ("POST /api/oicp/evsepush/v22/operators/DE*ABC/data-records: "
                                     "no such operation in Hubject's documents")
    assert hubject.violations[1].startswith("GET /api/oicp/evsepush/v23/")
    assert "content-type 'text/plain'" in hubject.violations[2] and "no JSON" in hubject.violations[3]
    with pytest.raises(AssertionError, match="4 thing"):
        hubject.assert_clean()


async def test_notifications_are_told_apart_by_type(hubject: HubjectStandIn, client: httpx.AsyncClient) -> None:
    start = {"Type": "Start", "SessionID": SESSION_ID, "EvseID": "DE*ABC*E000001", "OperatorID": "DE*ABC",
             "ChargingStart": "2025-03-01T10:01:00+01:00"}
    ok = await client.post("/notificationmgmt/v11/charging-notifications", json=start)
    assert ok.json()["Result"] is True and ok.json()["SessionID"] == SESSION_ID
    hubject.assert_clean()
    await client.post("/notificationmgmt/v11/charging-notifications", json=start | {"Type": "End"})
    assert any("ChargingEnd" in v for v in hubject.violations)  # an End without its ChargingEnd


async def test_the_swagger_spellings_where_the_openapi_bundle_is_wrong(hubject: HubjectStandIn,
                                                                       client: httpx.AsyncClient) -> None:
    cdrs = "/cdrmgmt/v22/providers/DE-8EO/get-charge-detail-records-request"
    window = {"ProviderID": "DE-8EO", "From": "2025-03-01T00:00:00Z", "To": "2025-03-02T00:00:00Z"}
    assert (await client.post(cdrs, json=window | {"CDRForwarded": False, "OperatorID": ["DE*ABC"]})).status_code == 200
    assert (await client.post("/evsepull/v21/providers/DE-8EO/status-records",
                              json={"ProviderID": "DE-8EO", "EvseStatus": "Available"})).status_code == 200
    # a remote start without SessionID: the EMP leaves it to Hubject
    started = await client.post("/charging/v21/providers/DE-8EO/authorize-remote/start",
                                json={"ProviderID": "DE-8EO", "EvseID": "DE*ABC*E000001",
                                      "Identification": remote("DE-8EO-CAB12C3D4-5"), "EMPPartnerSessionID": "e-1"})
    assert started.json()["Result"] is True and started.json()["EMPPartnerSessionID"] == "e-1"
    hubject.assert_clean()
    assert (await client.post(cdrs, json=window | {"CDRForwarder": False})).status_code == 400  # the EMP bundle's slip
    assert "'CDRForwarder' was unexpected" in hubject.violations[0]


# --- scripted answers -------------------------------------------------------------------------------------------------


async def test_a_rate_limit_then_success(hubject: HubjectStandIn, client: httpx.AsyncClient) -> None:
    status = {"ActionType": "update", "OperatorEvseStatus": {"OperatorID": "DE*ABC", "EvseStatusRecord": [
        {"EvseID": "DE*ABC*E000001", "EvseStatus": "Occupied"}]}}
    path = "/evsepush/v21/operators/DE*ABC/status-records"
    hubject.fail_next("eRoamingPushEvseStatus", 2, status=429)
    hubject.fail_next("eRoamingPushEvseStatus", code="009")
    answers = [await client.post(path, json=status) for _ in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 200, 200]
    assert answers[2].json()["Result"] is False and answers[2].json()["StatusCode"]["Code"] == "009"
    assert answers[3].json() == {"Result": True, "StatusCode": {"Code": "000", "Description": "Success."}}
    assert hubject.attempts["eRoamingPushEvseStatus"] == 4 and len(hubject.bodies("eRoamingPushEvseStatus")) == 2
    hubject.fail_next("eRoamingPushEvseStatus", delay=0.5)  # a late answer: the hub's client times out
    with pytest.raises(httpx.ReadTimeout):
        await client.post(path, json=status, timeout=0.1)
    hubject.assert_clean()
    with pytest.raises(ValueError, match="no operation"):
        hubject.fail_next("eRoamingPushEvseStatusX", status=500)


async def test_one_cdr_per_session(hubject: HubjectStandIn, client: httpx.AsyncClient) -> None:
    first = await client.post(CDR, json=cdr())
    assert first.json() == {"Result": True, "StatusCode": {"Code": "000", "Description": "Success."},
                            "SessionID": SESSION_ID}
    again = (await client.post(CDR, json=cdr())).json()
    assert again["Result"] is False and again["StatusCode"]["Code"] == DUPLICATE_CDR_CODE == "400"
    raw("cpo", "eRoamingAcknowledgment")(again)
    hubject.cdr_sessions.add("0d3ffa21-3a53-4c1e-9e6b-3f6b4c1d2e3f")  # one Hubject has already
    taken = (await client.post(CDR, json=cdr("0d3ffa21-3a53-4c1e-9e6b-3f6b4c1d2e3f"))).json()
    assert taken["StatusCode"]["Code"] == "400"
    hubject.assert_clean()  # a refused duplicate is Hubject's answer, not a malformed request


async def test_authorization_per_uid(hubject: HubjectStandIn, client: httpx.AsyncClient) -> None:
    hubject.authorizations |= {"AABBCCDD": "Authorized", "11223344": "NotAuthorized"}
    path = "/charging/v21/operators/DE*ABC/authorize/{}"
    ask = {"OperatorID": "DE*ABC", "EvseID": "DE*ABC*E000001", "CPOPartnerSessionID": "cpo-1"}
    yes = (await client.post(path.format("start"), json=ask | {"Identification": rfid("AABBCCDD")})).json()
    assert yes["AuthorizationStatus"] == "Authorized" and yes["ProviderID"] == "DE-8EO"
    assert yes["CPOPartnerSessionID"] == "cpo-1" and yes["SessionID"] in hubject.sessions
    for uid in ("11223344", "99999999"):
        no = (await client.post(path.format("start"), json=ask | {"Identification": rfid(uid)})).json()
        assert no["AuthorizationStatus"] == "NotAuthorized" and no["StatusCode"]["Code"] == "102"
        raw("cpo", "eRoamingAuthorizationStart")(no)
    stop = {"SessionID": yes["SessionID"], "OperatorID": "DE*ABC", "Identification": rfid("AABBCCDD")}
    stopped = (await client.post(path.format("stop"), json=stop)).json()
    assert stopped["AuthorizationStatus"] == "Authorized"
    raw("cpo", "eRoamingAuthorizationStop")(stopped)
    # an Identification carries one medium (the AsciiDoc), whatever the examples fill in
    both = rfid("AABBCCDD") | remote("DE-8EO-CAB12C3D4-5")
    await client.post(path.format("start"), json=ask | {"Identification": both})
    assert hubject.violations == [
        "eRoamingAuthorizeStart POST /api/oicp/charging/v21/operators/DE*ABC/authorize/start: $.Identification: "
        "carries 2 member(s) ['RFIDMifareFamilyIdentification', 'RemoteIdentification']: exactly one is allowed"]


async def test_a_remote_start_then_its_stop(hubject: HubjectStandIn, client: httpx.AsyncClient) -> None:
    start = {"ProviderID": "DE-8EO", "EvseID": "DE*ABC*E000001", "Identification": remote("DE-8EO-CAB12C3D4-5")}
    started = (await client.post("/charging/v21/providers/DE-8EO/authorize-remote/start", json=start)).json()
    stop = {"SessionID": started["SessionID"], "ProviderID": "DE-8EO", "EvseID": "DE*ABC*E000001"}
    stopped = (await client.post("/charging/v21/providers/DE-8EO/authorize-remote/stop", json=stop)).json()
    assert stopped == {"Result": True, "StatusCode": {"Code": "000", "Description": "Success."},
                       "SessionID": started["SessionID"]}
    hubject.fail_next("eRoamingAuthorizeRemoteStart", code="603")
    refused = (await client.post("/charging/v21/providers/DE-8EO/authorize-remote/start", json=start)).json()
    assert refused["Result"] is False and refused["StatusCode"]["Description"] == "Unknown EVSE ID."
    hubject.assert_clean()
    # an EvcoID of another provider
    await client.post("/charging/v21/providers/DE-8EO/authorize-remote/start",
                      json=start | {"Identification": remote("NL-XYZ-CAB12C3D4-5")})
    assert hubject.violations[-1].endswith("EvcoID NL-XYZ-CAB12C3D4-5 is not DE-8EO's: 019")


# --- EMP side data ----------------------------------------------------------------------------------------------------


def test_generated_records_are_spec_valid_and_varied() -> None:
    pulled = [*evse_records("DE*ABC", 300), *evse_records("NLXYZ", 40), *evse_records("+49*536", 30)]
    pushed = evse_records("DE*ABC", 300, pulled=False)
    for record in pulled:
        raw("emp", "PullEvseDataRecord")(record)
        assert spec().schema("emp", "PullEvseDataRecord").problems(record) == []
    for record in pushed:
        raw("cpo", "EvseDataRecord")(record)
        assert spec().schema("cpo", "EvseDataRecord").problems(record) == []
    assert evse_records("DE*ABC", 300) == evse_records("DE*ABC", 300)  # deterministic
    assert len({r["EvseID"] for r in pulled}) == len(pulled)
    assert len({r["ChargingPoolID"] for r in pushed}) == 50 and len({r["ChargingStationId"] for r in pushed}) == 150
    assert len({tuple(r["Plugs"]) for r in pushed}) >= 4
    assert {f["Power"] for r in pushed for f in r["ChargingFacilities"]} == {7, 11, 22, 50, 150}
    assert {r["Address"]["Country"] for r in pushed} == {"DEU", "NLD", "GBR"}
    assert {r["IsOpen24Hours"] for r in pushed} == {True, False}


async def _pull_all(client: httpx.AsyncClient, size: int, body: dict[str, Any]) -> list[dict[str, Any]]:
    pages, number = [], 0
    while True:
        page = (await client.post(PULL_DATA, params={"page": number, "size": size}, json=body)).json()
        pages.append(page)
        if page["last"]:
            return pages
        number += 1


async def test_pull_evse_data_pages(hubject: HubjectStandIn, client: httpx.AsyncClient) -> None:
    hubject.evse_data = evse_records("DE*ABC", 2600, operator_name="ABC Charging") + evse_records("NL*XYZ", 1500)
    body = {"ProviderID": "DE-8EO", "GeoCoordinatesResponseFormat": "DecimalDegree"}
    pages = await _pull_all(client, 1000, body)
    assert [p["number"] for p in pages] == [0, 1, 2, 3, 4]
    for page in pages:
        raw("emp", "eRoamingEVSEData")(page)  # every record in it, by the untouched schema
        assert spec().schema("emp", "eRoamingEVSEData").problems(page) == []
        assert (page["size"], page["totalElements"], page["totalPages"]) == (1000, 4100, 5)
        assert page["first"] == (page["number"] == 0) and page["last"] == (page["number"] == 4)
        assert page["numberOfElements"] == len(page["content"]) == (100 if page["last"] else 1000)
        assert page["StatusCode"]["Code"] == "000"
    got = [r["EvseID"] for p in pages for r in p["content"]]
    assert got == [r["EvseID"] for r in hubject.evse_data]
    # Hubject's default size is 20, its maximum 2000
    default = (await client.post(PULL_DATA, json=body)).json()
    assert default["size"] == default["numberOfElements"] == 20 and default["totalPages"] == 205
    big = (await client.post(PULL_DATA, params={"page": 1, "size": 5000}, json=body)).json()
    assert big["size"] == MAX_PAGE_SIZE and big["content"][0]["EvseID"] == "DE*ABC*E002000"
    # filters, and coordinates in the notation asked for
    xyz = await _pull_all(client, 2000, body | {"OperatorIds": ["NLXYZ"], "GeoCoordinatesResponseFormat": "Google"})
    assert xyz[0]["totalElements"] == 1500 and {r["OperatorID"] for r in xyz[0]["content"]} == {"NL*XYZ"}
    assert "Google" in xyz[0]["content"][0]["GeoCoordinates"]
    raw("emp", "eRoamingEVSEData")(xyz[0])
    dms = (await client.post(PULL_DATA, json=body | {"GeoCoordinatesResponseFormat": "DegreeMinuteSeconds"})).json()
    raw("emp", "eRoamingEVSEData")(dms)
    hubject.assert_clean()


async def test_pull_evse_data_since_last_call(hubject: HubjectStandIn, client: httpx.AsyncClient) -> None:
    hubject.evse_data = evse_records("DE*ABC", 100)  # lastUpdate 2025-01-01T00:00 + i minutes
    hubject.evse_data[5] = hubject.evse_data[5] | {"deltaType": "delete", "lastUpdate": "2025-01-02T00:00:00Z"}
    body = {"ProviderID": "DE-8EO", "GeoCoordinatesResponseFormat": "DecimalDegree",
            "LastCall": "2025-01-01T01:29:00+00:00"}
    delta = (await client.post(PULL_DATA, params={"size": 100}, json=body)).json()
    assert [r["EvseID"][-2:] for r in delta["content"]] == ["05"] + [f"{i:02d}" for i in range(90, 100)]
    assert [r["deltaType"] for r in delta["content"]] == ["delete"] + ["update"] * 10
    del body["LastCall"]
    full = (await client.post(PULL_DATA, params={"size": 100}, json=body)).json()
    assert full["totalElements"] == 99  # the deleted one is gone
    body["LastCall"] = "2025-01-01T01:29:00+00:00"
    hubject.assert_clean()
    await client.post(PULL_DATA, json=body | {"OperatorIds": ["DE*ABC"]})
    assert hubject.violations[-1].endswith("LastCall cannot be combined with SearchCenter, CountryCodes or OperatorIds "
                                           "(eRoamingPullEVSEData)")


async def test_pull_evse_status_in_each_shape(hubject: HubjectStandIn, client: httpx.AsyncClient) -> None:
    hubject.evse_data = evse_records("DE*ABC", 3, operator_name="ABC Charging")
    hubject.evse_statuses = {"DE*ABC*E000000": "Available", "DE*ABC*E000001": "Occupied", "NL*XYZ*E1": "OutOfService"}
    base = "/evsepull/v21/providers/DE-8EO/status-records"
    everything = (await client.post(base, json={"ProviderID": "DE-8EO"})).json()
    operators = {o["OperatorID"]: o for o in everything["EvseStatuses"]["OperatorEvseStatus"]}
    assert operators["DE*ABC"]["OperatorName"] == "ABC Charging" and len(operators["DE*ABC"]["EvseStatusRecord"]) == 2
    assert operators["NL*XYZ"]["EvseStatusRecord"] == [{"EvseID": "NL*XYZ*E1", "EvseStatus": "OutOfService"}]
    occupied = (await client.post(base, json={"ProviderID": "DE-8EO", "EvseStatus": "Occupied"})).json()
    assert [r["EvseID"] for o in occupied["EvseStatuses"]["OperatorEvseStatus"] for r in o["EvseStatusRecord"]] == [
        "DE*ABC*E000001"]
    ids = {"ProviderID": "DE-8EO", "EvseID": ["DE*ABC*E000001", "DE*ABC*E000099"]}
    for path in (base, base + "-by-id"):
        by_id = (await client.post(path, json=ids)).json()
        assert by_id["EVSEStatusRecords"]["EvseStatusRecord"] == [
            {"EvseID": "DE*ABC*E000001", "EvseStatus": "Occupied"},
            {"EvseID": "DE*ABC*E000099", "EvseStatus": "EvseNotFound"}]
        raw("emp", "eRoamingEVSEStatusByID")(by_id)
    by_operator = (await client.post(base + "-by-operator-id",
                                     json={"ProviderID": "DE-8EO", "OperatorID": ["NLXYZ"]})).json()
    assert [o["OperatorID"] for o in by_operator["EvseStatuses"]["OperatorEvseStatus"]] == ["NL*XYZ"]
    raw("emp", "eRoamingEVSEStatus")(by_operator)
    assert hubject.received[-1].operation == "eRoamingPullEvseStatusByOperatorID"
    hubject.assert_clean()


# --- Hubject calling the hub ------------------------------------------------------------------------------------------


class HubInbound:
    """The hub's inbound OICP side, as small as it gets: records each request, answers a spec-valid minimum."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.spoil = False  # answer something the spec does not allow

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        body = json.loads(await read_body(receive))
        self.got.append((scope["path"], body))
        status = {"Code": "000"}
        answer: dict[str, Any] = ({"AuthorizationStatus": "Authorized", "StatusCode": status, "ProviderID": "DE-8EO"}
                                  if "/authorize/" in scope["path"] else {"Result": True, "StatusCode": status})
        answer |= {"SessionID": body["SessionID"]} | ({"Result": "yes"} if self.spoil else {})
        data = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})


@contextlib.asynccontextmanager
async def served(app: HubInbound) -> AsyncIterator[HubInbound]:
    server = Loopback(app, app.port, lifespan="off")
    await server.start()
    try:
        yield app
    finally:
        await server.stop()


async def test_the_outbound_helpers_send_spec_valid_bodies() -> None:
    async with served(HubInbound()) as hub:
        await authorize_remote_start(hub.url, "DE-8EO", "DE*ABC*E000001", "DE-8EO-CAB12C3D4-5", SESSION_ID,
                                     EMPPartnerSessionID="emp-7")
        await authorize_remote_stop(hub.url, "DE-8EO", "DE*ABC*E000001", SESSION_ID)
        answer = await authorize_start(hub.url, "DE*ABC", rfid("AABBCCDD"), EvseID="DE*ABC*E000001")
        assert answer["AuthorizationStatus"] == "Authorized"
        await authorize_stop(hub.url, "DE*ABC", SESSION_ID, rfid("AABBCCDD"))
        await charge_detail_record(hub.url, "DE*ABC", SESSION_ID, "DE*ABC*E000001", rfid("AABBCCDD"), T0,
                                   T0 + timedelta(hours=1), 18.5, MeterValueStart=100.0, MeterValueEnd=118.5)
        for kind in ("Start", "Progress", "End", "Error"):
            await charging_notification(hub.url, kind, "DE*ABC", SESSION_ID, "DE*ABC*E000001",
                                        at=T0 + timedelta(minutes=30), charging_start=T0)
        received = dict(hub.got[:5]) | {f"notification {b['Type']}": b for _, b in hub.got[5:]}

    base = "/oicp/api/oicp"
    expected = {  # path -> (the receiver's bundle, schema)
        f"{base}/charging/v21/providers/DE-8EO/authorize-remote/start": ("cpo", "eRoamingAuthorizeRemoteStart"),
        f"{base}/charging/v21/providers/DE-8EO/authorize-remote/stop": ("cpo", "eRoamingAuthorizeRemoteStop"),
        f"{base}/charging/v21/operators/DE*ABC/authorize/start": ("emp", "eRoamingAuthorizeStart"),
        f"{base}/charging/v21/operators/DE*ABC/authorize/stop": ("emp", "eRoamingAuthorizeStop"),
        f"{base}/cdrmgmt/v22/operators/DE*ABC/charge-detail-record": ("emp", "eRoamingChargeDetailRecord"),
        **{f"notification {kind}": ("emp", f"eRoamingChargingNotification{kind}")
           for kind in ("Start", "Progress", "End", "Error")},
    }
    assert set(received) == set(expected)
    for key, (side, schema) in expected.items():
        raw(side, schema)(received[key])
        assert spec().schema(side, schema).problems(received[key]) == [], key
    assert received[f"{base}/charging/v21/providers/DE-8EO/authorize-remote/start"]["EMPPartnerSessionID"] == "emp-7"
    assert received["notification Progress"]["ChargingDuration"] == 30 * 60 * 1000
    sent_cdr = received[f"{base}/cdrmgmt/v22/operators/DE*ABC/charge-detail-record"]
    assert sent_cdr["SessionEnd"] == "2025-03-01T11:00:00+01:00" and sent_cdr["MeterValueEnd"] == 118.5


async def test_the_outbound_helpers_refuse_to_send_what_the_spec_forbids() -> None:
    async with served(HubInbound()) as hub:
        with pytest.raises(ValueError, match=r"invalid eRoamingAuthorizeRemoteStart: \$.EvseID"):
            await authorize_remote_start(hub.url, "DE-8EO", "not an EVSE", "DE-8EO-CAB12C3D4-5", SESSION_ID)
        with pytest.raises(ValueError, match="'EvseId' was unexpected"):
            await authorize_remote_stop(hub.url, "DE-8EO", "DE*ABC*E000001", SESSION_ID, EvseId="DE*ABC*E1")
        assert hub.got == []
        hub.spoil = True  # and a hub's answer outside the spec fails the helper
        with pytest.raises(AssertionError, match="not what the spec defines"):
            await authorize_remote_stop(hub.url, "DE-8EO", "DE*ABC*E000001", SESSION_ID)
        assert hub.got[0][1]["SessionID"] == SESSION_ID
