"""Webhooks end to end, on SQLite and PostgreSQL: endpoints managed over the partner API, events from every source
(OCPP chargers, REST writes) delivered from the outbox to a real HTTP receiver on loopback, signed as Standard
Webhooks (checked with the `standardwebhooks` package from PyPI) or as Monta does; retries, failure, recovery in order,
410, the delivery log and replay, who hears what, and the SSRF rules."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import defaultdict
from typing import Any

import httpx
import msgspec
import pytest
from standardwebhooks.webhooks import Webhook

from fixtures.ocpi_party import free_port
from hub.app import Hub
from hub.settings import Settings
from fixtures.webhook_receiver import Answer, Received, WebhookReceiver
from hub.model import PartyId
from tests.conftest import Served, hub_settings
from tests.test_ocpi_e2e import eventually
from tests.test_ocpp_e2e import CPO, UID, Site, _site
from tests.test_partner_auth import _error
from tests.test_partner_writes import CONNECTOR, Api, _api

OTH = PartyId("NL", "OTH")


@pytest.fixture
async def receiver() -> Any:
    r = await WebhookReceiver().start()
    yield r
    await r.aclose()


def _settings(database_url: str, **overrides: Any) -> Any:
    values: dict[str, Any] = dict(ocpp_port=0, session_update_interval=0.0, ocpp_offline_grace=0.5, ocpp_call_timeout=5.0,
                                  ocpp_ping_interval=0.0, webhook_allow_private=True, webhook_retry_schedule="0.2,0.2,0.2,0.2,0.2,0.2",
                                  webhook_timeout=1.0)
    values.update(overrides)
    return hub_settings(database_url, free_port(), **values)


@pytest.fixture
async def site(database_url: str, make_party: Any) -> Any:
    async with Served(_settings(database_url)) as served:
        await served.hub.core.parties.ensure_local(OTH, "CPO", "Other")
        yield await _site(served, make_party)


async def _credential(site: Site, party: PartyId | None, scopes: str = "all:delete") -> Api:
    http = httpx.AsyncClient(base_url=site.served.url, timeout=20)
    site.clients.append(http)  # type: ignore[attr-defined]
    return await _api(site.served, http, party, scopes)


@pytest.fixture
async def api(site: Site) -> Any:
    site.clients = []  # type: ignore[attr-defined]
    yield await _credential(site, CPO)
    for client in site.clients:  # type: ignore[attr-defined]
        await client.aclose()


def _events(receiver: WebhookReceiver, type_: str | None = None) -> list[dict[str, Any]]:
    """Accepted events, each webhook-id once (delivery is at least once), in arrival order."""
    seen, out = set(), []
    for got in receiver.accepted:
        event = msgspec.json.decode(got.body)
        key = got.headers.get("webhook-id") or got.body
        if key in seen:
            continue
        seen.add(key)
        if type_ is None or event.get("type") == type_:
            out.append(event)
    return out


async def _subscribe(api: Api, receiver: WebhookReceiver, types: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return await api.ok("POST", "webhook-endpoints", {"url": receiver.url, "eventTypes": types or ["*"], **extra}, 201)


async def _listed(api: Api, **params: Any) -> list[dict[str, Any]]:
    r = await api.call("GET", "webhook-deliveries", **params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def _until(ask: Any, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await ask()):
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
    return value


# --- endpoints ---------------------------------------------------------------------------------------------------


async def test_an_endpoint_is_made_shown_changed_rotated_and_deleted_by_its_credential_only(site: Site, api: Api, receiver: WebhookReceiver) -> None:
    made = await _subscribe(api, receiver, ["charge_transaction.completed", "cdr.created"], description="billing")
    assert made["secret"].startswith("whsec_") and made["enabled"] and made["format"] == "standard"
    shown = await api.ok("GET", f"webhook-endpoints/{made['id']}")
    assert shown["secret"] is None and shown["eventTypes"] == ["charge_transaction.completed", "cdr.created"]
    listed = await api.ok("GET", "webhook-endpoints")
    assert [e["id"] for e in listed["data"]] == [made["id"]] and listed["meta"]["totalItemCount"] == 1
    changed = await api.ok("PATCH", f"webhook-endpoints/{made['id']}", {"eventTypes": ["*"], "enabled": False})
    assert changed["eventTypes"] == ["*"] and not changed["enabled"] and changed["disabledReason"]
    rotated = await api.ok("POST", f"webhook-endpoints/{made['id']}/rotate-secret")
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]

    other = await _credential(site, OTH)
    _error(await other.call("GET", f"webhook-endpoints/{made['id']}"), 404, "RESOURCE_NOT_FOUND")
    _error(await other.call("DELETE", f"webhook-endpoints/{made['id']}"), 404, "RESOURCE_NOT_FOUND")
    reader = await _credential(site, CPO, "webhook-endpoints:read,sites:read")
    _error(await reader.call("POST", "webhook-endpoints", {"url": receiver.url, "eventTypes": ["site.created"]}), 403, "ACCESS_FORBIDDEN")
    _error(await api.call("POST", "webhook-endpoints", {"url": receiver.url, "eventTypes": ["site.exploded"]}), 400, "VALIDATION_ERROR")
    _error(await api.call("GET", "webhook-deliveries", endpointId="697650730084046864384"), 400, "VALIDATION_ERROR")  # beyond 64 bits
    _error(await api.call("POST", "webhook-endpoints", {"url": receiver.url, "eventTypes": ["partner.status_changed"]}), 403, "ACCESS_FORBIDDEN")
    narrow = await _credential(site, CPO, "webhook-endpoints:write,sites:read")
    _error(await narrow.call("POST", "webhook-endpoints", {"url": receiver.url, "eventTypes": ["cdr.created"]}), 403, "ACCESS_FORBIDDEN")

    assert await api.ok("DELETE", f"webhook-endpoints/{made['id']}", status=204) is None
    _error(await api.call("GET", f"webhook-endpoints/{made['id']}"), 404, "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data", "http://[fe80::1]/x", "ftp://example.com/x", "http://localhost:1/x"])
async def test_a_url_to_link_local_metadata_or_not_http_is_refused(site: Site, api: Api, url: str) -> None:
    if "localhost" in url:  # loopback: allowed in this hub (HUB_WEBHOOK_ALLOW_PRIVATE); see the next test for the default
        return
    body = _error(await api.call("POST", "webhook-endpoints", {"url": url, "eventTypes": ["*"]}), 400, "VALIDATION_ERROR")
    assert body["context"] == {"field": "url"}
    assert (await api.ok("GET", "webhook-endpoints"))["meta"]["totalItemCount"] == 0


async def test_loopback_and_private_urls_are_refused_by_default(database_url: str, receiver: WebhookReceiver) -> None:
    async with Served(hub_settings(database_url, free_port(), ocpp_port=0)) as served, \
            httpx.AsyncClient(base_url=served.url, timeout=20) as http:
        await served.hub.core.parties.ensure_local(CPO, "CPO", "GreenCharge")
        api = await _api(served, http, CPO)
        for url in (receiver.url, "http://10.1.2.3/hooks", "http://192.168.0.10/hooks"):
            _error(await api.call("POST", "webhook-endpoints", {"url": url, "eventTypes": ["*"]}), 400, "VALIDATION_ERROR")


# --- events from every source, signed --------------------------------------------------------------------------------


async def test_an_ocpp_session_fires_signed_charge_events_and_a_cdr_event(site: Site, api: Api, receiver: WebhookReceiver) -> None:
    made = await _subscribe(api, receiver)
    cp = await site.charger("CP1", "1.6")
    outcome = await cp.session(1, UID, seconds=0.4, meter_interval=0.2, power_w=36_000_000)
    assert outcome["authorized"]
    await eventually(lambda: _events(receiver, "cdr.created"))
    verifier = Webhook(made["secret"])
    for got in receiver.accepted:
        assert verifier.verify(got.body, got.headers) == msgspec.json.decode(got.body)
    types = [e["type"] for e in _events(receiver)]
    assert "charge_point.created" in types and "charge_point.status_changed" in types
    charge_types = [t for t in types if t.startswith("charge_transaction.")]
    assert charge_types[0] == "charge_transaction.started" and charge_types[-1] == "charge_transaction.completed"
    started, completed = _events(receiver, "charge_transaction.started")[0], _events(receiver, "charge_transaction.completed")[0]
    charge = await api.ok("GET", f"charges/{completed['data']['id']}")
    assert completed["data"]["state"] == "completed" and completed["data"] == charge
    assert started["data"]["chargePointId"] == "NLGRN-CP1-1" and started["data"]["chargeAuth"] == {"type": "rfid", "id": UID}
    (cdr,) = _events(receiver, "cdr.created")
    assert cdr["data"] == (await api.ok("GET", "cdrs"))["data"][0]
    created = _events(receiver, "charge_point.created")[0]["data"]
    assert created["ocpp"]["identity"] == "CP1" and created["ocpp"]["connected"] is True
    await cp._connection.close()
    gone = (await eventually(lambda: _events(receiver, "charge_point.disconnected")))[0]["data"]
    assert gone["ocpp"]["connected"] is False and gone["id"].startswith("NLGRN-CP1-")
    log = await _listed(api, endpointId=made["id"], status="succeeded", perPage=100)
    assert len(log) == len(_events(receiver))


async def test_events_reach_only_credentials_that_may_see_them(site: Site, api: Api, receiver: WebhookReceiver) -> None:
    other_receiver = await WebhookReceiver().start()
    emsp_receiver = await WebhookReceiver().start()
    try:
        await _subscribe(await _credential(site, OTH), other_receiver)
        await _subscribe(await _credential(site, PartyId("NL", "EMS")), emsp_receiver, ["charge_transaction.started", "site.updated"])
        await _subscribe(api, receiver)
        cp = await site.charger("CP1", "1.6")
        await cp.session(1, UID, seconds=0.2, meter_interval=0.2)
        await api.ok("PATCH", "sites/NLGRN-LOC1", {"name": "Utrecht Centraal"})
        await eventually(lambda: _events(receiver, "cdr.created") and _events(receiver, "site.updated"))
        await eventually(lambda: _events(emsp_receiver, "site.updated") and _events(emsp_receiver, "charge_transaction.started"))
        await asyncio.sleep(0.5)
        assert not other_receiver.received  # another CPO's credential hears nothing of GreenCharge's chargers and charges
        assert {e["type"] for e in _events(emsp_receiver)} == {"charge_transaction.started", "site.updated"}
    finally:
        await other_receiver.aclose()
        await emsp_receiver.aclose()


async def test_monta_format_is_batched_and_signed_with_sha1(site: Site, api: Api, receiver: WebhookReceiver) -> None:
    made = await _subscribe(api, receiver, ["site.updated"], format="monta")
    await api.ok("PATCH", "sites/NLGRN-LOC1", {"name": "Utrecht Centraal"})
    got: Received = (await eventually(lambda: receiver.accepted))[0]
    expected = "sha1=" + hmac.new(made["secret"].encode(), got.body, hashlib.sha1).hexdigest()
    assert got.headers["x-monta-signature"] == expected and "webhook-signature" not in got.headers
    body = msgspec.json.decode(got.body)
    (entry,) = body["entries"]
    assert entry["entityType"] == "site" and entry["eventType"] == "updated" and entry["entityId"] == "NLGRN-LOC1"
    assert entry["payload"]["name"] == "Utrecht Centraal" and isinstance(body["timestamp"], int)


async def test_during_a_rotation_both_secrets_sign(site: Site, api: Api, receiver: WebhookReceiver) -> None:
    made = await _subscribe(api, receiver)
    rotated = await api.ok("POST", f"webhook-endpoints/{made['id']}/rotate-secret")
    await api.ok("POST", f"webhook-endpoints/{made['id']}/test", status=201)
    got = (await eventually(lambda: receiver.accepted))[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (made["secret"], rotated["secret"]):
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"


# --- failure and recovery ------------------------------------------------------------------------------------------


async def test_a_receiver_that_fails_for_a_while_gets_every_event_in_order_per_object(site: Site, api: Api) -> None:
    calls = {"n": 0}

    def respond(_got: Received) -> Answer:
        # The first six calls fail (500s, and answers slower than the timeout): fewer than the 7 attempts an event has,
        # so a lane that puts them all on one event still delivers it, however slow the machine.
        calls["n"] += 1
        if calls["n"] <= 6:
            return Answer(500) if calls["n"] % 3 else Answer(200, delay=2.0)
        return Answer(200)

    receiver = await WebhookReceiver(respond).start()
    try:
        await _subscribe(api, receiver, ["charge_point.created", "charge_point.updated"])
        for n in range(5):
            await api.ok("POST", "charge-points", {"siteId": "NLGRN-LOC1", "evseId": f"NL*GRN*E{n}", "ocpiId": f"P{n}",
                                                   "connectors": [CONNECTOR]}, 201)
        changes = defaultdict(list)
        for round_ in range(6):
            for n in range(5):
                name = f"P{n}-{round_}"
                await api.ok("PATCH", f"charge-points/NLGRN-P{n}", {"name": name})
                changes[f"NLGRN-P{n}"].append(name)
        await eventually(lambda: len(_events(receiver)) == 5 + 30, timeout=30)
        got = defaultdict(list)
        for event in _events(receiver):
            if event["type"] == "charge_point.updated":
                got[event["data"]["id"]].append(event["data"]["name"])
        assert got == changes  # each charge point's changes, every one, in the order they were made
        assert not await _listed(api, status="failed")
        assert any(d["failedAttempts"] for d in await _listed(api, perPage=100))
    finally:
        await receiver.aclose()


async def test_a_delivery_that_keeps_failing_is_failed_after_the_schedule_and_can_be_replayed(site: Site, api: Api) -> None:
    answer = {"status": 500}
    receiver = await WebhookReceiver(lambda _got: Answer(answer["status"])).start()
    try:
        made = await _subscribe(api, receiver, ["webhook.test"])
        await api.ok("POST", f"webhook-endpoints/{made['id']}/test", status=201)
        (delivery,) = await _until(lambda: _listed(api, status="failed"))
        assert delivery["attempts"] == 7 and len(receiver.received) == 7  # the first try and 6 retries
        assert "HTTP 500" in delivery["lastError"] and len(delivery["failedAttempts"]) == 7
        answer["status"] = 200
        replayed = await api.ok("POST", f"webhook-deliveries/{delivery['id']}/replay", status=201)
        assert replayed["eventId"] == delivery["eventId"] and replayed["id"] != delivery["id"]
        await eventually(lambda: receiver.accepted)
        assert receiver.accepted[0].headers["webhook-id"] == delivery["eventId"]
    finally:
        await receiver.aclose()


async def test_410_gone_disables_the_endpoint_until_its_owner_enables_it(site: Site, api: Api) -> None:
    answer = {"status": 410}
    receiver = await WebhookReceiver(lambda _got: Answer(answer["status"])).start()
    try:
        made = await _subscribe(api, receiver, ["site.updated"])
        await api.ok("PATCH", "sites/NLGRN-LOC1", {"name": "One"})
        await eventually(lambda: receiver.received)
        async def disabled() -> Any:
            shown = await api.ok("GET", f"webhook-endpoints/{made['id']}")
            return None if shown["enabled"] else shown

        assert "410" in (await _until(disabled))["disabledReason"]
        await api.ok("PATCH", "sites/NLGRN-LOC1", {"name": "Two"})  # while disabled: no event is kept for it
        await asyncio.sleep(0.5)
        assert len(receiver.received) == 1
        _error(await api.call("POST", f"webhook-endpoints/{made['id']}/test"), 409, "CONFLICT")
        answer["status"] = 200
        await api.ok("PATCH", f"webhook-endpoints/{made['id']}", {"enabled": True})
        await api.ok("PATCH", "sites/NLGRN-LOC1", {"name": "Three"})
        await eventually(lambda: _events(receiver, "site.updated"))
        assert [e["data"]["name"] for e in _events(receiver)] == ["Three"]
    finally:
        await receiver.aclose()


async def test_a_revoked_credential_s_endpoints_stop(site: Site, api: Api, receiver: WebhookReceiver) -> None:
    await _subscribe(api, receiver, ["site.updated"])
    (consumer,) = await site.hub.core.consumers.listing()
    await site.hub.core.consumers.revoke(consumer.client_id)
    other = await _credential(site, CPO)
    await other.ok("PATCH", "sites/NLGRN-LOC1", {"name": "Gone"})
    await asyncio.sleep(0.5)
    assert not receiver.received


# --- a crash -----------------------------------------------------------------------------------------------------------


async def test_a_hub_killed_during_delivery_delivers_every_event_after_restart(database_url: str, tmp_path: Any, make_party: Any) -> None:
    from tests.test_delivery import STATUSES, _world

    slow = {"delay": 3.0}
    receiver = await WebhookReceiver(lambda _got: Answer(200, delay=slow["delay"])).start()
    world, hub = await _world(database_url, tmp_path, make_party, locations=2, evses=5, HUB_WEBHOOK_ALLOW_PRIVATE="true",
                              HUB_WEBHOOK_TIMEOUT="5")
    try:
        core = Hub(Settings.from_env({**hub.env})).core  # the CLI's way in: a credential for the CPO
        await core.start()
        try:
            client_id, secret = await core.consumers.create(PartyId("DE", "CPO"), "all:delete")
        finally:
            await core.stop()
        async with httpx.AsyncClient(base_url=world.url, timeout=20) as http:
            from tests.test_partner_auth import _tokens

            api = Api(http, (await _tokens(http, client_id, secret))["accessToken"])
            await _subscribe(api, receiver, ["charge_point.status_changed"])
            expected = defaultdict(list)  # EVSE uid -> its statuses, in the order they were acknowledged
            for n in range(40):
                path = world.paths[n % len(world.paths)]
                status = STATUSES[(n // len(world.paths) + 1) % len(STATUSES)]
                assert await world.patch(path, status)
                expected[path.rsplit("/", 1)[1]].append(status)
            await eventually(lambda: receiver.connections)
            hub.kill()  # with deliveries in flight (each answer takes 3 s) and most still queued
            slow["delay"] = 0.0
            hub.start()

            def got() -> dict[str, list[str]]:
                out = defaultdict(list)
                for event in _events(receiver):
                    out[event["data"]["ocpi"]["evseUid"]].append(event["data"]["ocpiStatus"])
                return out

            try:
                await eventually(lambda: got() == expected, timeout=60)
            except AssertionError:
                raise AssertionError(f"expected {dict(expected)}, got {dict(got())}") from None
    finally:
        hub.stop()
        await receiver.aclose()


# --- events about what is no API object, and about tokens ---------------------------------------------------------------


async def test_a_command_s_result_reaches_the_webhooks_of_the_party_that_sent_it(site: Site, api: Api, receiver: WebhookReceiver) -> None:
    await _subscribe(api, receiver, ["command.result"])
    await site.charger("CP1", "1.6")
    answer = await api.ok("POST", "charges", {"chargePointId": "NLGRN-CP1-1", "chargeAuthTokenId": f"NLEMS-RFID-{UID}"})
    assert answer["status"] == "accepted"
    (event,) = await eventually(lambda: _events(receiver, "command.result"))
    assert event["data"]["id"] == answer["id"] and event["data"]["result"] == "ACCEPTED" and event["data"]["sender"] == "NL/GRN"


async def test_an_emsp_s_tokens_fire_created_and_deleted(site: Site, api: Api, receiver: WebhookReceiver) -> None:
    emp = PartyId("NL", "EMP")
    await site.hub.core.parties.ensure_local(emp, "EMSP", "EMP")
    tokens = await _credential(site, emp)
    await _subscribe(tokens, receiver, ["charge_auth_token.created", "charge_auth_token.updated", "charge_auth_token.deleted"])
    made = await tokens.ok("POST", "charge-auth-tokens", {"type": "rfid", "identifier": "CAFE0001"}, 201)
    await tokens.ok("POST", f"charge-auth-tokens/{made['id']}/block")
    await tokens.ok("DELETE", f"charge-auth-tokens/{made['id']}", status=204)
    events = await eventually(lambda: len(_events(receiver)) == 3 and _events(receiver))
    assert [e["type"] for e in events] == ["charge_auth_token.created", "charge_auth_token.updated", "charge_auth_token.deleted"]
    assert events[0]["data"]["id"] == made["id"] and not events[0]["data"]["blocked"] and events[2]["data"]["blocked"]


async def test_an_admin_hears_when_a_roaming_partner_goes_offline(site: Site, api: Api, receiver: WebhookReceiver) -> None:
    admin = await _credential(site, None)
    await _subscribe(admin, receiver, ["partner.status_changed"])
    await site.other.stop()  # FR/OTH refuses connections: pushes to it fail, and after offline_after it is OFFLINE
    await api.ok("PATCH", "sites/NLGRN-LOC1", {"name": "Pushed to everyone"})
    (event,) = await eventually(lambda: _events(receiver, "partner.status_changed"))
    assert event["data"]["status"] == "OFFLINE" and event["data"]["parties"] == [{"countryCode": "FR", "partyId": "OTH", "role": "EMSP"}]
    assert not _events(receiver, "site.updated")  # not subscribed
