"""The OICP 2.3 client (protocols/oicp/v23/client.py) against the Hubject stand-in over real HTTP, through the
hub's real outbound client: every operation is one Hubject's documents accept, and each kind of answer becomes
what the outbox can act on. A recording outbound stands in where the stand-in cannot script the answer (headers,
odd bodies) or where the raw request is the point."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import msgspec
import pytest

from fixtures.hubject import HubjectStandIn, evse_records
from fixtures.ocpi_party import free_port
from hub.outbound import Busy, Forbidden, Headers, Outbound, Policy, Response, Timeout, TooLarge, Unreachable
from hub.services import errors
from protocols.oicp.v23 import wire
from protocols.oicp.v23.client import (
    BadAnswer, OicpClient, RateLimited, Refused, ServerTrouble, acknowledged, retryable,
)

OPERATOR, PROVIDER = "DE*ABC", "DE-8EO"
EVSE = "DE*ABC*E000001"
EVCO = "DE-8EO-CAB12C3D4-5"
UID = "AABBCCDD"
SESSION_ID = "b2688855-7f00-0002-6d8e-48d498e2e5ab"


@pytest.fixture
async def hubject() -> AsyncIterator[HubjectStandIn]:
    async with HubjectStandIn() as standin:
        yield standin


@pytest.fixture
async def outbound() -> AsyncIterator[Outbound]:
    # as hub/core.py builds it; private addresses allowed: the stand-in is on loopback
    out = Outbound(Policy(True, [], []), max_response_bytes=8 * 1024 * 1024, timeout=10.0)
    yield out
    await out.aclose()


@pytest.fixture
def client(hubject: HubjectStandIn, outbound: Outbound) -> OicpClient:
    return OicpClient(outbound, hubject.url, timeout=10.0)


class Recording:
    """An outbound client that records the request and gives a scripted answer."""

    def __init__(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> None:
        content = body if isinstance(body, bytes) else msgspec.json.encode(
            body if body is not None else {"Result": True, "StatusCode": {"Code": "000"}})
        self.response = Response(status, Headers(headers or {}), content)
        self.calls: list[dict[str, Any]] = []

    async def request(self, method: str, url: str, **kwargs: Any) -> Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        return self.response


def scripted(status: int = 200, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[OicpClient, Recording]:
    recording = Recording(status, body, headers)
    return OicpClient(recording, "https://service-qa.hubject.com/api/oicp/"), recording  # type: ignore[arg-type]


def card(uid: str = UID) -> wire.Identification:
    return wire.Identification(rfid_mifare_family_identification=wire.RFIDMifareFamilyIdentification(uid=uid))


def contract(evco_id: str = EVCO) -> wire.Identification:
    return wire.Identification(remote_identification=wire.RemoteIdentification(evco_id=evco_id))


def push_evse_data(count: int = 3) -> wire.PushEvseData:
    records = wire.decode(msgspec.json.encode(evse_records(OPERATOR, count, pulled=False)), list[wire.EvseDataRecord])
    return wire.PushEvseData(action_type="fullLoad", operator_evse_data=wire.OperatorEvseData(
        operator_id=OPERATOR, operator_name="ABC Charging", evse_data_record=records))


def push_evse_status(status: str = "Occupied") -> wire.PushEvseStatus:
    return wire.PushEvseStatus(action_type="update", operator_evse_status=wire.OperatorEvseStatus(
        operator_id=OPERATOR, evse_status_record=[wire.EvseStatusRecord(evse_id=EVSE, evse_status=status)]))


def pull_evse_data() -> wire.PullEvseData:
    return wire.PullEvseData(provider_id=PROVIDER, geo_coordinates_response_format="DecimalDegree")


def cdr(session_id: str = SESSION_ID) -> wire.ChargeDetailRecord:
    return wire.ChargeDetailRecord(
        session_id=session_id, evse_id=EVSE, identification=card(), cpo_partner_session_id="cpo-1",
        session_start="2025-03-01T10:00:00+01:00", session_end="2025-03-01T11:00:00+01:00",
        charging_start="2025-03-01T10:01:00+01:00", charging_end="2025-03-01T10:50:00+01:00",
        consumed_energy=Decimal("18.123"), meter_value_start=Decimal("100.000"), meter_value_end=Decimal("118.123"))


def cdr_as_pulled(session_id: str) -> dict[str, Any]:
    return {"SessionID": session_id, "EvseID": EVSE, "Identification": {"RemoteIdentification": {"EvcoID": EVCO}},
            "ChargingStart": "2025-03-01T10:01:00+01:00", "ChargingEnd": "2025-03-01T10:50:00+01:00",
            "SessionStart": "2025-03-01T10:00:00+01:00", "SessionEnd": "2025-03-01T11:00:00+01:00",
            "ConsumedEnergy": 18.123}


# --- every operation --------------------------------------------------------------------------------------------------


async def test_every_cpo_operation_is_taken_by_hubject(hubject: HubjectStandIn, client: OicpClient) -> None:
    hubject.authorizations[UID] = "Authorized"
    assert (await client.push_evse_data(OPERATOR, push_evse_data())).result is True
    assert (await client.push_evse_status(OPERATOR, push_evse_status())).result is True

    started = await client.authorize_start(OPERATOR, wire.AuthorizeStart(
        operator_id=OPERATOR, evse_id=EVSE, identification=card(), cpo_partner_session_id="cpo-1"))
    assert isinstance(started, wire.AuthorizationStart)
    assert (started.authorization_status, started.provider_id, started.cpo_partner_session_id) == (
        "Authorized", PROVIDER, "cpo-1")
    session_id = started.session_id
    assert session_id in hubject.sessions

    at = {"session_id": session_id, "evse_id": EVSE, "operator_id": OPERATOR}
    for notification in (  # one endpoint, four shapes told apart by Type
            wire.ChargingNotificationStart(**at, charging_start="2025-03-01T10:01:00+01:00"),
            wire.ChargingNotificationProgress(**at, charging_start="2025-03-01T10:01:00+01:00",
                                              event_occurred="2025-03-01T10:06:00+01:00", charging_duration=300000,
                                              consumed_energy_progress=Decimal("1.5")),
            wire.ChargingNotificationEnd(**at, charging_end="2025-03-01T10:50:00+01:00",
                                         consumed_energy=Decimal("18.123")),
            wire.ChargingNotificationError(**at, error_type="ConnectorError")):
        assert (await client.charging_notification(notification)).result is True
    stopped = await client.authorize_stop(OPERATOR, wire.AuthorizeStop(
        session_id=session_id, operator_id=OPERATOR, evse_id=EVSE, identification=card()))
    assert isinstance(stopped, wire.AuthorizationStop) and stopped.authorization_status == "Authorized"
    ack = await client.charge_detail_record(OPERATOR, cdr(session_id))
    assert ack.result is True and ack.session_id == session_id

    always = [wire.ProductAvailabilityTimes(periods=[wire.Period(begin="00:00", end="23:59")], on="Everyday")]
    products = wire.PricingProductData(
        operator_id=OPERATOR, operator_name="ABC Charging", provider_id="*", pricing_default_price=Decimal("0.30"),
        pricing_default_price_currency="EUR", pricing_default_reference_unit="KILOWATT_HOUR",
        pricing_product_data_records=[wire.PricingProductDataRecord(
            product_id="AC1", reference_unit="KILOWATT_HOUR", product_price_currency="EUR",
            price_per_reference_unit=Decimal("0.35"), maximum_product_charging_power=Decimal("22"),
            is_valid24hours=True, product_availability_times=always)])
    pushed = await client.push_pricing_product_data(
        OPERATOR, wire.PushPricingProductData(action_type="fullLoad", pricing_product_data=products))
    assert pushed.result is True
    pricing = wire.PushEvsePricing(action_type="fullLoad", evse_pricing=[
        wire.EvsePricing(evse_id=EVSE, provider_id="*", evse_id_product_list=["AC1"])])
    assert (await client.push_evse_pricing(OPERATOR, pricing)).result is True

    assert [r.operation for r in hubject.received] == [
        "eRoamingPushEvseData", "eRoamingPushEvseStatus", "eRoamingAuthorizeStart",
        *["eRoamingChargingNotifications"] * 4, "eRoamingAuthorizeStop", "eRoamingChargeDetailRecord",
        "eRoamingPushPricingProductData", "eRoamingPushEVSEPricing"]
    assert [b["Type"] for b in hubject.bodies("eRoamingChargingNotifications")] == ["Start", "Progress", "End", "Error"]
    assert {r.params.get("operatorID") for r in hubject.received} == {OPERATOR, None}
    hubject.assert_clean()


async def test_every_emp_operation_is_taken_by_hubject(hubject: HubjectStandIn, client: OicpClient) -> None:
    hubject.evse_data = evse_records(OPERATOR, 4, operator_name="ABC Charging")
    hubject.evse_statuses = {EVSE: "Available", "DE*ABC*E000002": "Occupied"}
    hubject.charge_detail_records = [cdr_as_pulled(SESSION_ID)]

    page = await client.pull_evse_data(PROVIDER, pull_evse_data(), page=0, size=20)
    assert [r.evse_id for r in page.content] == [r["EvseID"] for r in hubject.evse_data]
    assert page.content[0].operator == OPERATOR

    statuses = await client.pull_evse_status(PROVIDER, wire.PullEvseStatus(provider_id=PROVIDER))
    assert {r.evse_id: r.evse_status for o in statuses.evse_statuses.operator_evse_status
            for r in o.evse_status_record} == hubject.evse_statuses
    by_id = await client.pull_evse_status_by_id(PROVIDER, wire.PullEvseStatusById(
        provider_id=PROVIDER, evse_id=[EVSE, "DE*ABC*E999999"]))
    assert [(r.evse_id, r.evse_status) for r in by_id.evse_status_records.evse_status_record] == [
        (EVSE, "Available"), ("DE*ABC*E999999", "EvseNotFound")]
    by_operator = await client.pull_evse_status_by_operator_id(PROVIDER, wire.PullEvseStatusByOperatorId(
        provider_id=PROVIDER, operator_id=[OPERATOR]))
    assert by_operator.evse_statuses.operator_evse_status[0].operator_id == OPERATOR

    upload = wire.Identification(rfid_identification=wire.RFIDIdentification(uid=UID, rfid="mifareCls", evco_id=EVCO))
    tokens = wire.PushAuthenticationData(action_type="fullLoad", provider_authentication_data=(
        wire.ProviderAuthenticationData(provider_id=PROVIDER, authentication_data_record=[
            wire.AuthenticationDataRecord(identification=upload)])))
    assert (await client.push_authentication_data(PROVIDER, tokens)).result is True

    started = await client.authorize_remote_start(PROVIDER, wire.AuthorizeRemoteStart(
        provider_id=PROVIDER, evse_id=EVSE, identification=contract(), emp_partner_session_id="emp-1"))
    assert started.result is True and started.emp_partner_session_id == "emp-1" and started.session_id
    stopped = await client.authorize_remote_stop(PROVIDER, wire.AuthorizeRemoteStop(
        session_id=started.session_id, provider_id=PROVIDER, evse_id=EVSE))
    assert stopped.result is True

    reserved = await client.authorize_remote_reservation_start(PROVIDER, wire.AuthorizeRemoteReservationStart(
        provider_id=PROVIDER, evse_id=EVSE, identification=contract(), duration=15))
    assert reserved.result is True and reserved.session_id
    released = await client.authorize_remote_reservation_stop(PROVIDER, wire.AuthorizeRemoteReservationStop(
        session_id=reserved.session_id, provider_id=PROVIDER, evse_id=EVSE))
    assert released.result is True

    cdrs = await client.get_charge_detail_records(PROVIDER, wire.GetChargeDetailRecords(
        provider_id=PROVIDER, start="2025-03-01T00:00:00Z", end="2025-03-02T00:00:00Z", operator_ids=[OPERATOR]),
        page=0, size=100)
    assert [c.session_id for c in cdrs.content] == [SESSION_ID] and cdrs.last is True
    assert isinstance(cdrs.content[0], wire.ChargeDetailRecord)

    products = await client.pull_pricing_product_data(PROVIDER, wire.PullPricingProductData(operator_ids=[OPERATOR]))
    assert products.pricing_product_data == []
    pricing = await client.pull_evse_pricing(PROVIDER, wire.PullEvsePricing(provider_id=PROVIDER,
                                                                            operator_ids=[OPERATOR]))
    assert pricing.evse_pricing == []

    # (remote stop's placeholder is called externalID: it carries the ProviderID all the same)
    assert [list(r.params.values()) for r in hubject.received] == [[PROVIDER]] * 12
    hubject.assert_clean()


async def test_a_din_operator_id_reaches_its_path(hubject: HubjectStandIn, client: OicpClient) -> None:
    status = wire.PushEvseStatus(action_type="update", operator_evse_status=wire.OperatorEvseStatus(
        operator_id="+49*536", evse_status_record=[wire.EvseStatusRecord(evse_id="+49*536*000001",
                                                                         evse_status="Available")]))
    assert (await client.push_evse_status("+49*536", status)).result is True
    assert hubject.received[0].params == {"operatorID": "+49*536"}
    hubject.assert_clean()


# --- the request itself -----------------------------------------------------------------------------------------------


async def test_a_request_is_a_json_post_with_the_id_percent_encoded() -> None:
    client, recording = scripted()
    await client.push_evse_status(OPERATOR, push_evse_status())
    await client.pull_evse_data_raw("DE-8EO", pull_evse_data(), page=3, size=500)
    push, pull = recording.calls
    assert push["method"] == "POST"
    assert push["url"] == "https://service-qa.hubject.com/api/oicp/evsepush/v21/operators/DE%2AABC/status-records"
    assert push["headers"] == {"Content-Type": "application/json", "Accept": "application/json"}
    assert msgspec.json.decode(push["content"]) == {"ActionType": "update", "OperatorEvseStatus": {
        "OperatorID": "DE*ABC", "EvseStatusRecord": [{"EvseID": EVSE, "EvseStatus": "Occupied"}]}}
    assert push["timeout"] == 20.0 and push["params"] is None
    assert pull["url"].endswith("/evsepull/v23/providers/DE-8EO/data-records") and pull["params"] == {
        "page": "3", "size": "500"}


async def test_an_id_cannot_leave_its_path_segment() -> None:
    client, recording = scripted()
    await client.push_evse_status("+49*536/../x", push_evse_status())
    assert recording.calls[0]["url"].endswith("/operators/%2B49%2A536%2F..%2Fx/status-records")
    for bad in ("", ".", ".."):
        with pytest.raises(ValueError):
            await client.push_evse_status(bad, push_evse_status())


async def test_paging_is_zero_based_with_at_least_one_record_a_page() -> None:
    client, recording = scripted()
    for page, size in ((-1, 20), (0, 0)):
        with pytest.raises(ValueError):
            await client.pull_evse_data_raw(PROVIDER, pull_evse_data(), page=page, size=size)
    assert recording.calls == []


async def test_the_client_logs_nothing_of_a_request(client: OicpClient, hubject: HubjectStandIn,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    qr = wire.Identification(qr_code_identification=wire.QRCodeIdentification(evco_id=EVCO, pin="928374"))
    answer = await client.authorize_start(OPERATOR, wire.AuthorizeStart(operator_id=OPERATOR, identification=qr))
    assert answer.authorization_status == "NotAuthorized" and answer.status_code.code == "101"
    assert "928374" not in caplog.text
    hubject.assert_clean()


# --- paging -----------------------------------------------------------------------------------------------------------


async def test_a_paged_pull_of_evse_data_ends_on_the_last_page(hubject: HubjectStandIn, client: OicpClient) -> None:
    hubject.evse_data = evse_records(OPERATOR, 45, operator_name="ABC Charging")
    pages = []
    while not pages or not pages[-1].last:
        pages.append(await client.pull_evse_data(PROVIDER, pull_evse_data(), page=len(pages), size=20))
    assert [(p.number, p.size, p.number_of_elements, p.first, p.last) for p in pages] == [
        (0, 20, 20, True, False), (1, 20, 20, False, False), (2, 20, 5, False, True)]
    assert {(p.total_elements, p.total_pages) for p in pages} == {(45, 3)}
    assert [r.evse_id for p in pages for r in p.content] == [r["EvseID"] for r in hubject.evse_data]
    assert all(p.status_code is not None and p.status_code.code == "000" for p in pages)
    hubject.assert_clean()


async def test_the_raw_pull_gives_the_page_undecoded(hubject: HubjectStandIn, client: OicpClient) -> None:
    hubject.evse_data = evse_records(OPERATOR, 30)
    raw = await client.pull_evse_data_raw(PROVIDER, pull_evse_data(), page=1, size=25)
    assert isinstance(raw, bytes)
    lean = msgspec.json.decode(raw, type=wire.Page[msgspec.Raw])  # the caller's own type, one record at a time
    assert (len(lean.content), lean.last) == (5, True)
    assert wire.decode(lean.content[0], wire.PullEvseDataRecord).evse_id == hubject.evse_data[25]["EvseID"]
    hubject.assert_clean()


# --- HTTP errors ------------------------------------------------------------------------------------------------------


async def test_429_is_rate_limited_and_retryable(hubject: HubjectStandIn, client: OicpClient) -> None:
    hubject.fail_next("eRoamingPushEvseStatus", 1, status=429)
    with pytest.raises(RateLimited) as caught:
        await client.push_evse_status(OPERATOR, push_evse_status())
    assert caught.value.retry_after is None  # the stand-in sends no Retry-After
    assert caught.value.retryable and retryable(caught.value)
    assert "PushEvseStatus: HTTP 429" in caught.value.detail
    assert (await client.push_evse_status(OPERATOR, push_evse_status())).result is True  # the next one passes
    hubject.assert_clean()


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), (" 1.5 ", 1.5), ("-3", 0.0), ("soon", None),
                                                 ("nan", None), ("1e308", 86400.0)])
async def test_429_reads_retry_after_in_seconds(header: str, seconds: float | None) -> None:
    client, _ = scripted(429, {"message": "Too Many Requests"}, {"retry-after": header})
    with pytest.raises(RateLimited) as caught:
        await client.pull_evse_status(PROVIDER, wire.PullEvseStatus(provider_id=PROVIDER))
    assert caught.value.retry_after == seconds
    assert caught.value.detail == "PullEvseStatus: HTTP 429: Too Many Requests"


async def test_429_reads_retry_after_as_an_http_date() -> None:
    later = datetime.now(timezone.utc) + timedelta(seconds=120)
    client, _ = scripted(429, b"", {"retry-after": format_datetime(later, usegmt=True)})
    with pytest.raises(RateLimited) as caught:
        await client.push_evse_status(OPERATOR, push_evse_status())
    assert caught.value.retry_after is not None and 110 < caught.value.retry_after <= 120


async def test_500_is_server_trouble_and_retryable(hubject: HubjectStandIn, client: OicpClient) -> None:
    hubject.fail_next("eRoamingChargeDetailRecord", 1, status=500)
    with pytest.raises(ServerTrouble) as caught:
        await client.charge_detail_record(OPERATOR, cdr())
    assert caught.value.status == 500 and caught.value.retryable
    assert caught.value.detail == "ChargeDetailRecord: HTTP 500: scripted HTTP 500"
    hubject.assert_clean()


async def test_a_400_fault_body_is_refused_with_hubjects_reasons(hubject: HubjectStandIn, client: OicpClient) -> None:
    bad = push_evse_status()
    bad.operator_evse_status.operator_id = "DE*AB"  # not an OperatorID: Hubject's validator answers 400
    with pytest.raises(Refused) as caught:
        await client.push_evse_status(OPERATOR, bad)
    refused = caught.value
    assert refused.status == 400 and refused.status_code is None and not refused.retryable
    assert refused.detail.startswith("PushEvseStatus: HTTP 400: Validation failed; $.OperatorEvseStatus.OperatorID: ")
    assert len(hubject.violations) == 1  # (the stand-in calls it out, as it should)


async def test_a_401_oicp_fault_is_refused_with_its_status_code() -> None:
    fault = {"StatusCode": {"Code": "017", "Description": "Unauthorized Access"},
             "message": "OperatorID does not match the certificate"}
    client, _ = scripted(401, fault)
    with pytest.raises(Refused) as caught:
        await client.push_evse_data(OPERATOR, push_evse_data(1))
    assert caught.value.status == 401 and caught.value.status_code == wire.StatusCode(
        code="017", description="Unauthorized Access")
    assert caught.value.detail == ("PushEvseData: HTTP 401: 017 Unauthorized Access; "
                                   "OperatorID does not match the certificate")


@pytest.mark.parametrize("status", [403, 404])
async def test_other_4xx_are_refused(hubject: HubjectStandIn, client: OicpClient, status: int) -> None:
    hubject.fail_next("eRoamingAuthorizeRemoteStart", 1, status=status)
    with pytest.raises(Refused) as caught:
        await client.authorize_remote_start(PROVIDER, wire.AuthorizeRemoteStart(
            provider_id=PROVIDER, evse_id=EVSE, identification=contract()))
    assert caught.value.status == status and not retryable(caught.value)
    hubject.assert_clean()


async def test_a_non_json_error_page_is_shown_in_short() -> None:
    page = b"<html>\r\n<head><title>400 The SSL certificate error</title></head>\n" + b"x" * 5000 + b"</html>"
    client, _ = scripted(400, page)
    with pytest.raises(Refused) as caught:
        await client.push_evse_status(OPERATOR, push_evse_status())
    assert caught.value.detail.startswith("PushEvseStatus: HTTP 400: <html> <head><title>400 The SSL certificate")
    assert len(caught.value.detail) <= 250


async def test_a_redirect_is_a_bad_answer() -> None:
    client, _ = scripted(302, b"", {"location": "https://elsewhere.example/"})
    with pytest.raises(BadAnswer) as caught:
        await client.push_evse_status(OPERATOR, push_evse_status())
    assert caught.value.status == 302 and not caught.value.retryable


# --- answers that are not what the operation returns ------------------------------------------------------------------


async def test_a_200_that_is_not_the_answer_type_is_a_bad_answer(hubject: HubjectStandIn,
                                                                  client: OicpClient) -> None:
    hubject.check_answers = False  # the stand-in serves a broken record on purpose
    hubject.evse_data = [{"EvseID": 42, "OperatorID": OPERATOR}]
    with pytest.raises(BadAnswer) as caught:
        await client.pull_evse_data(PROVIDER, pull_evse_data(), page=0, size=20)
    assert caught.value.status == 200 and not caught.value.retryable
    assert "PullEvseData: HTTP 200 but no Page" in caught.value.detail and "$.content[0]" in caught.value.detail
    assert await client.pull_evse_data_raw(PROVIDER, pull_evse_data(), page=0, size=20)  # the raw pull does not judge


@pytest.mark.parametrize("body", [b"", b"<html>OK</html>", b'{"Result": "yes"}', b"[]"])
async def test_a_200_without_an_acknowledgement_is_a_bad_answer(body: bytes) -> None:
    client, _ = scripted(200, body)
    with pytest.raises(BadAnswer):
        await client.push_evse_status(OPERATOR, push_evse_status())


# --- business refusals (HTTP 200) -------------------------------------------------------------------------------------


async def test_a_refusing_acknowledgement_raises_the_hub_error(hubject: HubjectStandIn, client: OicpClient) -> None:
    hubject.fail_next("eRoamingAuthorizeRemoteStart", 1, code="603")
    ack = await client.authorize_remote_start(PROVIDER, wire.AuthorizeRemoteStart(
        provider_id=PROVIDER, evse_id=EVSE, identification=contract()))
    assert ack.result is False and ack.status_code.code == "603"
    with pytest.raises(errors.UnknownLocation, match="603"):
        acknowledged(ack)
    hubject.assert_clean()


async def test_a_second_cdr_of_a_session_is_refused_as_an_unknown_session(hubject: HubjectStandIn,
                                                                          client: OicpClient) -> None:
    acknowledged(await client.charge_detail_record(OPERATOR, cdr()))
    again = await client.charge_detail_record(OPERATOR, cdr())
    with pytest.raises(errors.UnknownSession):
        acknowledged(again)
    hubject.assert_clean()


def test_an_acknowledgement_refusing_with_000_is_still_an_error() -> None:
    acknowledged(wire.Acknowledgement(result=True, status_code=wire.StatusCode(code="000")))
    with pytest.raises(errors.HubError, match="Result false"):
        acknowledged(wire.Acknowledgement(result=False, status_code=wire.StatusCode(code="000")))


# --- transport --------------------------------------------------------------------------------------------------------


async def test_hubject_down_is_unreachable(outbound: Outbound) -> None:
    client = OicpClient(outbound, f"http://127.0.0.1:{free_port()}/api/oicp")
    with pytest.raises(Unreachable) as caught:
        await client.push_evse_status(OPERATOR, push_evse_status())
    assert retryable(caught.value)


async def test_a_late_answer_is_a_timeout(hubject: HubjectStandIn, outbound: Outbound) -> None:
    hubject.fail_next("eRoamingPushEvseStatus", 1, delay=0.6)
    client = OicpClient(outbound, hubject.url, timeout=0.2)
    with pytest.raises(Timeout) as caught:
        await client.push_evse_status(OPERATOR, push_evse_status())
    assert retryable(caught.value)


@pytest.mark.parametrize(("exc", "expected"), [
    (Unreachable("x"), True), (Timeout("x"), True), (Busy("x"), True),
    (Forbidden("x"), False), (TooLarge("x"), False), (ValueError("x"), False),
])
def test_transport_failures_are_retryable_unless_the_policy_forbids(exc: Exception, expected: bool) -> None:
    assert retryable(exc) is expected
