"""OCPP behaviours beyond the happy path, end to end (real charge points over WebSockets, the scripted eMSP over
OCPI): eMAID tokens, ConcurrentTx, NotAtThisLocation / NotAtThisTime, TransactionEvent seqNo gaps across a
restart, and signed meter values in the CDR. On SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from fixtures.ocpi_party import OcpiParty, free_port
from hub import model
from hub.store import chargers as charger_store
from hub.store import documents as docs
from protocols.ocpi.v221 import wire
from tests.conftest import Served, hub_settings
from tests.test_ocpi_e2e import eventually
from tests.test_ocpp_e2e import CPO, PASSWORD, UID, Site, _ask, _raw, _site, site  # noqa: F401 (the fixture)

CONTRACT = "NL-EMS-C00000001-X"  # the contract id of UID's token (tests/ocpi_data.token)
VERSIONS = ["1.6", "2.0.1"]
OCMF_BEGIN = ('OCMF|{"FV":"1.0","GI":"ABL SBC-301","GS":"808829900001","GV":"1.4p3","PG":"T12345","MV":"Phoenix Contact",'
              '"IS":true,"IT":"ISO14443","ID":"04A1B2C3","RD":[{"TM":"2026-03-01T10:00:00,000+0000 S","TX":"B","RV":1.000,'
              '"RI":"1-b:1.8.0","RU":"kWh","ST":"G"}]}|{"SA":"ECDSA-secp256r1-SHA256","SD":"3045022100B1"}')
OCMF_END = OCMF_BEGIN.replace('"TX":"B","RV":1.000', '"TX":"E","RV":3.500').replace("10:00:00", "11:00:00")
PUBLIC_KEY = "3059301306072A8648CE3D020106082A8648CE3D030107034200044D7B"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _asked(site: Site) -> list[Any]:
    return [x for x in site.emsp.received["tokens"] if x.path == f"{UID}/authorize"]


# --- eMAID --------------------------------------------------------------------------------------------------


async def test_an_emaid_is_found_by_the_contract_id_of_its_token(site: Site) -> None:
    cp = await site.charger("CP1", "2.0.1")
    ok = await cp.call(call201.Authorize(id_token={"id_token": CONTRACT.lower(), "type": "eMAID"}))
    assert ok.id_token_info["status"] == "Accepted" and _asked(site)  # the eMSP was asked about the token it issued
    by_uid = await cp.call(call201.Authorize(id_token={"id_token": UID, "type": "eMAID"}))  # a uid is no contract id
    assert by_uid.id_token_info["status"] == "Unknown"
    outcome = await cp.session(1, CONTRACT, seconds=0.2, meter_interval=0.1, token_type="eMAID")
    assert outcome["authorized"] and outcome["started"].id_token_info["status"] == "Accepted"
    await eventually(lambda: site.emsp.objects["cdrs"])
    (cdr,) = [msgspec.json.decode(c) for c in site.emsp.objects["cdrs"].values()]
    assert cdr["cdr_token"]["uid"] == UID and cdr["cdr_token"]["contract_id"] == CONTRACT


# --- ConcurrentTx -----------------------------------------------------------------------------------------------


async def _start(cp: Any, version: str, evse: int, authorize: bool = False) -> tuple[str, Any]:
    """Start a transaction with UID on an EVSE (after an Authorize or not): the status the charger got, and the
    transaction's id."""
    if version == "1.6":
        if authorize:
            await cp.call(call16.Authorize(id_tag=UID))
        started = await cp.call(call16.StartTransaction(connector_id=evse, id_tag=UID, meter_start=1000, timestamp=_now()))
        return started.id_tag_info["status"], started.transaction_id
    if authorize:
        await cp.call(call201.Authorize(id_token={"id_token": UID, "type": "ISO14443"}))
    tid = f"{cp.id}-{evse}"
    started = await cp.event("Started", "Authorized", tid, evse, {"id_token": UID, "type": "ISO14443"}, cp._meter("Transaction.Begin", 0))
    return started.id_token_info["status"], tid


async def _authorize(cp: Any, version: str) -> str:
    if version == "1.6":
        return (await cp.call(call16.Authorize(id_tag=UID))).id_tag_info["status"]
    return (await cp.call(call201.Authorize(id_token={"id_token": UID, "type": "ISO14443"}))).id_token_info["status"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_token_in_an_active_transaction_elsewhere_is_concurrent_tx(site: Site, version: str) -> None:
    one, two = await site.charger("CP1", version), await site.charger("CP2", version)
    status, tid = await _start(one, version, 1, authorize=True)
    assert status == "Accepted"
    assert (await _start(two, version, 1))[0] == "ConcurrentTx"  # another charger, without an Authorize first
    assert await _authorize(two, version) == "ConcurrentTx"
    assert (await _start(one, version, 2))[0] == "ConcurrentTx"  # another EVSE of the same charger
    assert await _authorize(one, version) == "Accepted"  # at the charger it charges at (to stop, say)
    invalid = lambda: [s for s in site.emsp.received["sessions"] if s.method == "PUT" and s.body["status"] == "INVALID"]  # noqa: E731
    assert len(await eventually(lambda: len(invalid()) == 2 and invalid())) == 2  # the refused starts are no sessions of the token
    if version == "1.6":
        await one.call(call16.StopTransaction(meter_stop=2000, timestamp=_now(), transaction_id=tid))
    else:
        await one.event("Ended", "StopAuthorized", tid, 1, None, one._meter("Transaction.End", 0), stopped_reason="Local")
    assert await _authorize(two, version) == "Accepted"


# --- NotAtThisLocation / NotAtThisTime ---------------------------------------------------------------------------


def _allow_only(emsp: OcpiParty, location_id: str, evse_uids: list[str]) -> None:
    """The scripted eMSP answers real-time authorization with the places it allows the token at."""
    answer_others = emsp._tokens

    async def tokens(request: Any, rest: list[str], raw: bytes) -> Any:
        if request.method == "POST" and rest[-1:] == ["authorize"]:
            token = wire.decode(emsp.objects["tokens"][f"NL/EMS/{UID}"], wire.Token)
            where = wire.LocationReferences(location_id=location_id, evse_uids=evse_uids)
            return emsp._reply(wire.AuthorizationInfo(allowed="ALLOWED", token=token, location=where, authorization_reference="R1"))
        return await answer_others(request, rest, raw)

    emsp._tokens = tokens  # type: ignore[method-assign]


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_token_the_emsp_allows_at_other_evses_only_is_not_at_this_location(site: Site, version: str) -> None:
    refused = "Invalid" if version == "1.6" else "NotAtThisLocation"  # 1.6 has no such status
    one, two = await site.charger("CP1", version), await site.charger("CP2", version)
    _allow_only(site.emsp, "LOC1", ["CP1-2"])
    assert await _authorize(two, version) == refused  # none of its EVSEs
    assert await _authorize(one, version) == "Accepted"  # CP1-2 is one of CP1's
    assert (await _start(one, version, 1))[0] == refused  # ... but not CP1-1
    assert (await _start(one, version, 2, authorize=True))[0] == "Accepted"
    _allow_only(site.emsp, "LOC9", [])
    assert await _authorize(two, version) == refused  # another location altogether


async def _opening(site: Site, hours: model.Hours, charging_when_closed: bool | None) -> None:
    now = datetime.now(timezone.utc)
    location = await site.hub.core.objects.get(None, docs.LOCATION, ("NL", "GRN", "LOC1"))
    changed = msgspec.structs.replace(location, opening_times=hours, charging_when_closed=charging_when_closed, last_updated=now)
    await site.hub.core.objects.put_location(None, changed)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_location_closed_now_without_charging_when_closed_is_not_at_this_time(site: Site, version: str) -> None:
    refused = "Invalid" if version == "1.6" else "NotAtThisTime"  # 1.6 has no such status
    cp = await site.charger("CP1", version)
    now = datetime.now(timezone.utc)
    tomorrow = (now.astimezone(ZoneInfo("Europe/Amsterdam")) + timedelta(days=1)).isoweekday()
    tomorrow_only = model.Hours(twentyfourseven=False, regular_hours=[model.RegularHours(tomorrow, "00:00", "23:59")])
    await _opening(site, tomorrow_only, charging_when_closed=False)
    assert await _authorize(cp, version) == refused
    assert (await _start(cp, version, 1))[0] == refused
    await _opening(site, tomorrow_only, charging_when_closed=None)  # OCPI's default: charging when closed is allowed
    assert await _authorize(cp, version) == "Accepted"
    closing = model.Hours(twentyfourseven=True, exceptional_closings=[model.ExceptionalPeriod(now - timedelta(hours=1), now + timedelta(hours=1))])
    await _opening(site, closing, charging_when_closed=False)
    assert await _authorize(cp, version) == refused


# --- seqNo gaps ---------------------------------------------------------------------------------------------------


def _event(n: int, event: str, seq_no: int, extra: str = "") -> str:
    return (f'[2, "e{n}", "TransactionEvent", {{"eventType": "{event}", "timestamp": "{_now()}", "triggerReason": "MeterValuePeriodic",'
            f' "seqNo": {seq_no}, "transactionInfo": {{"transactionId": "TX-1"}}{extra}}}]')


class Recorded(logging.Handler):
    """The records of one logger (caplog's handler sits on the root logger, which each app start reconfigures)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def charging_log() -> Any:
    logger, recorded = logging.getLogger("hub.services.charging"), Recorded()
    logger.addHandler(recorded)
    yield recorded
    logger.removeHandler(recorded)


async def test_transaction_event_seq_no_gaps_are_logged_and_survive_a_restart(database_url: str, make_party: Any, charging_log: Recorded) -> None:
    settings = hub_settings(database_url, free_port(), ocpp_port=0, session_update_interval=0.0, ocpp_ping_interval=0.0)
    gaps = lambda: [m for m in charging_log.messages if "TransactionEvent(s) missing" in m]  # noqa: E731
    async with Served(settings) as served:
        site = await _site(served, make_party)
        await site.hub.core.charging.add("CP1", CPO, "LOC1", PASSWORD)
        ws = await _raw(site, "CP1", "2.0.1")
        assert (await _ask(ws, '[2, "b", "BootNotification", {"chargingStation": {"model": "Y", "vendorName": "X"}, "reason": "PowerUp"}]'))[0] == 3
        started = await _ask(ws, _event(0, "Started", 0, f', "evse": {{"id": 1, "connectorId": 1}}, "idToken": {{"idToken": "{UID}", "type": "ISO14443"}}'))
        assert started[2] == {"idTokenInfo": {"status": "Accepted"}}
        for n, seq_no in ((1, 1), (2, 3)):
            assert (await _ask(ws, _event(n, "Updated", seq_no)))[0] == 3
        assert gaps() == ["transaction TX-1 of CP1: 1 TransactionEvent(s) missing (seqNo 2 to 2)"]
        assert (await _ask(ws, _event(3, "Updated", 2)))[0] == 3  # late, not lost
        assert (await _ask(ws, _event(4, "Updated", 5)))[0] == 3  # a second gap in the interval: summarised
        assert len(gaps()) == 1
        await ws.close()
    async with Served(settings) as again:  # a new process on the same database
        ws = await _raw(Site(again, site.emsp, site.other), "CP1", "2.0.1")
        assert (await _ask(ws, _event(5, "Updated", 8)))[0] == 3
        assert gaps()[1:] == ["transaction TX-1 of CP1: 2 TransactionEvent(s) missing (seqNo 6 to 7)"]
        row = await again.hub.core.db.read(lambda conn: charger_store.find_transaction(conn, "CP1", "TX-1"))
        state = msgspec.json.decode(row.state)
        assert state["seq_no"] == 8 and state["seq_missing"] == [4, 6, 7]
        await ws.close()


# --- signed meter values --------------------------------------------------------------------------------------------


def _signed_values(site: Site) -> dict[str, Any]:
    (cdr,) = [msgspec.json.decode(c) for c in site.emsp.objects["cdrs"].values()]
    return cdr["signed_data"]


async def test_signed_meter_values_of_a_16_transaction_reach_the_emsp_in_the_cdr(site: Site) -> None:
    cp = await site.charger("CP1", "1.6")
    started = await cp.call(call16.StartTransaction(connector_id=1, id_tag=UID, meter_start=1000, timestamp=_now()))
    tid = started.transaction_id
    sample = lambda value, context, fmt="Raw": {"value": value, "context": context, "format": fmt, "unit": "Wh"}  # noqa: E731
    await cp.call(call16.MeterValues(connector_id=1, transaction_id=tid, meter_value=[
        {"timestamp": _now(), "sampled_value": [sample("1000", "Transaction.Begin"), sample(OCMF_BEGIN, "Transaction.Begin", "SignedData")]}]))
    for n in range(3):  # intermediate signed readings, one of them too long to carry
        signed = OCMF_BEGIN.replace('"TX":"B"', '"TX":"T"') if n != 1 else "X" * 6000
        await cp.call(call16.MeterValues(connector_id=1, transaction_id=tid, meter_value=[
            {"timestamp": _now(), "sampled_value": [sample(str(1500 + n), "Sample.Periodic"), sample(signed, "Sample.Periodic", "SignedData")]}]))
    await cp.call(call16.StopTransaction(meter_stop=3500, timestamp=_now(), transaction_id=tid, transaction_data=[
        {"timestamp": _now(), "sampled_value": [sample("3500", "Transaction.End"), sample(OCMF_END, "Transaction.End", "SignedData")]}]))
    await eventually(lambda: site.emsp.objects["cdrs"])
    assert not site.emsp.errors
    signed = _signed_values(site)
    assert signed["encoding_method"] == "OCMF"
    assert [(v["nature"], v["signed_data"]) for v in signed["signed_values"]] == [("Start", OCMF_BEGIN), ("End", OCMF_END)]
    assert signed["signed_values"][0]["plain_data"] == OCMF_BEGIN.split("|")[1]


async def test_signed_meter_values_of_a_201_transaction_reach_the_emsp_in_the_cdr(site: Site) -> None:
    cp = await site.charger("CP1", "2.0.1")
    token = {"id_token": UID, "type": "ISO14443"}

    def meter(wh: int, context: str, signed: str) -> list[dict[str, Any]]:
        return [{"timestamp": _now(), "sampled_value": [{
            "value": wh, "context": context, "measurand": "Energy.Active.Import.Register", "unit_of_measure": {"unit": "Wh"},
            "signed_meter_value": {"signed_meter_data": signed, "signing_method": "ECDSA-secp256r1-SHA256",
                                   "encoding_method": "OCMF", "public_key": PUBLIC_KEY}}]}]

    started = await cp.event("Started", "Authorized", "TX-S", 1, token, meter(1000, "Transaction.Begin", OCMF_BEGIN))
    assert started.id_token_info["status"] == "Accepted"
    await cp.event("Updated", "MeterValuePeriodic", "TX-S", 1, None, meter(2000, "Sample.Periodic", OCMF_BEGIN.replace('"TX":"B"', '"TX":"T"')))
    await cp.event("Ended", "StopAuthorized", "TX-S", 1, None, meter(3500, "Transaction.End", OCMF_END), stopped_reason="Local")
    await eventually(lambda: site.emsp.objects["cdrs"])
    assert not site.emsp.errors
    signed = _signed_values(site)
    assert signed["encoding_method"] == "OCMF" and signed["public_key"] == PUBLIC_KEY
    assert [(v["nature"], v["signed_data"]) for v in signed["signed_values"]] == [("Start", OCMF_BEGIN), ("End", OCMF_END)]
