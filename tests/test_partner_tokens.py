"""The partner REST API's writes of charge auth tokens over real HTTP against a served hub, on SQLite and PostgreSQL:
what an eMSP the hub hosts creates, changes, blocks and deletes reaches a registered OCPI CPO (a scripted party) as
Token PUTs and PATCHes; ids that tell an RFID card from an app account with the same uid; deletion the OCPI way
(invalid) that the reads no longer show; who may write what; validation that stores nothing; Idempotency-Key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors import bilateral
from fixtures.ocpi_party import OcpiParty
from hub.model import PartyId
from tests.conftest import Served
from tests.test_ocpi_e2e import eventually
from tests.test_partner_auth import _error
from tests.test_partner_writes import Api, _api

EMP, EM2, GRN = PartyId("NL", "EMP"), PartyId("NL", "EM2"), PartyId("NL", "GRN")  # eMSPs and a CPO the hub hosts
CARD = {"type": "rfid", "identifier": "04A1B2C3", "visualNumber": "EMP-0001", "name": "EMP Mobility"}


@pytest.fixture
async def parties(served: Served) -> None:
    for party in (EMP, EM2):
        await served.hub.core.parties.ensure_local(party, "EMSP", str(party))
    await served.hub.core.parties.ensure_local(GRN, "CPO", "GreenCharge")


@pytest.fixture
async def cpo(served: Served, make_party: Any, parties: None) -> OcpiParty:
    party = await make_party("DE", "CPO", "CPO")
    invite = await bilateral.invite(served.hub.ocpi, PartyId("DE", "CPO"), "CPO")
    await party.register(invite["versions_url"], invite["token"])
    return party


async def _count(api: Api) -> int:
    return (await api.ok("GET", "charge-auth-tokens"))["meta"]["totalItemCount"]


def _pushes(cpo: OcpiParty, uid: str) -> list[Any]:
    return [x for x in cpo.received["tokens"] if x.path == f"NL/EMP/{uid}"]


# --- the way to CPOs -----------------------------------------------------------------------------------------------


async def test_a_token_written_over_rest_reaches_a_cpo_over_ocpi(served: Served, http: httpx.AsyncClient, cpo: OcpiParty) -> None:
    api = await _api(served, http, EMP)
    token = await api.ok("POST", "charge-auth-tokens", {**CARD, "partnerExternalId": "card-1", "language": "nl"}, 201)
    assert token["id"] == "NLEMP-RFID-04A1B2C3" and token["identifier"] == "04A1B2C3" and token["type"] == "rfid"
    assert (token["valid"], token["blocked"], token["whitelist"], token["contractId"]) == (True, False, "ALWAYS", "04A1B2C3")
    assert token["name"] == "EMP Mobility" and token["language"] == "nl" and token["partnerExternalId"] == "card-1"
    assert token["ocpi"] == {"countryCode": "NL", "partyId": "EMP", "uid": "04A1B2C3", "type": "RFID"}
    assert await api.ok("GET", "charge-auth-tokens/NLEMP-RFID-04A1B2C3") == token
    put = (await eventually(lambda: _pushes(cpo, "04A1B2C3")))[0]
    assert put.method == "PUT" and put.body["visual_number"] == "EMP-0001" and put.body["valid"] is True
    assert put.body["issuer"] == "EMP Mobility" and put.body["type"] == "RFID"

    changed = await api.ok("PATCH", "charge-auth-tokens/NLEMP-RFID-04A1B2C3", {"visualNumber": None, "groupId": "FAMILY", "whitelist": "ALLOWED"})
    assert (changed["visualNumber"], changed["groupId"], changed["whitelist"]) == (None, "FAMILY", "ALLOWED")
    assert changed["updatedAt"] > token["updatedAt"] and changed["createdAt"] == token["createdAt"]
    patch = (await eventually(lambda: [x for x in _pushes(cpo, "04A1B2C3") if x.method == "PATCH"]))[0]
    assert patch.body["group_id"] == "FAMILY" and patch.body["whitelist"] == "ALLOWED" and patch.body["last_updated"]

    blocked = await api.ok("POST", "charge-auth-tokens/NLEMP-RFID-04A1B2C3/block")
    assert (blocked["valid"], blocked["blocked"]) == (False, True)
    await eventually(lambda: any(x.method == "PATCH" and x.body.get("valid") is False for x in _pushes(cpo, "04A1B2C3")))
    pushed = len(_pushes(cpo, "04A1B2C3"))
    assert (await api.ok("POST", "charge-auth-tokens/NLEMP-RFID-04A1B2C3/block"))["updatedAt"] == blocked["updatedAt"]  # no change
    unblocked = await api.ok("POST", "charge-auth-tokens/NLEMP-RFID-04A1B2C3/unblock")
    assert unblocked["valid"] is True
    await eventually(lambda: [x for x in _pushes(cpo, "04A1B2C3")[pushed:] if x.body.get("valid") is True])
    assert len(_pushes(cpo, "04A1B2C3")) == pushed + 1 and not cpo.errors  # the second block pushed nothing


async def test_a_deleted_token_is_invalid_for_cpos_and_gone_from_the_api(served: Served, http: httpx.AsyncClient, cpo: OcpiParty) -> None:
    emp, grn = await _api(served, http, EMP), await _api(served, http, GRN)
    await emp.ok("POST", "charge-auth-tokens", {**CARD, "partnerExternalId": "card-1"}, 201)
    await emp.ok("POST", "charge-auth-tokens", {**CARD, "identifier": "KEEP"}, 201)
    assert await _count(emp) == 2 and await _count(grn) == 2  # a CPO reads the tokens of the eMSPs it roams with
    await emp.ok("DELETE", "charge-auth-tokens/NLEMP-RFID-04A1B2C3", status=204)
    await eventually(lambda: any(x.method == "PATCH" and x.body.get("valid") is False for x in _pushes(cpo, "04A1B2C3")))
    for api in (emp, grn):
        _error(await api.call("GET", "charge-auth-tokens/NLEMP-RFID-04A1B2C3"), 404, "RESOURCE_NOT_FOUND")
        assert [t["id"] for t in (await api.ok("GET", "charge-auth-tokens"))["data"]] == ["NLEMP-RFID-KEEP"]
    assert (await emp.ok("GET", "charge-auth-tokens", partnerExternalId="card-1"))["data"] == []
    for method, path in (("PATCH", ""), ("POST", "/block"), ("POST", "/unblock"), ("DELETE", "")):
        body = {"name": "x"} if method == "PATCH" else None
        _error(await emp.call(method, f"charge-auth-tokens/NLEMP-RFID-04A1B2C3{path}", body), 404, "RESOURCE_NOT_FOUND")
    stored = await served.hub.core.objects.find_token("04A1B2C3", "RFID")
    assert stored is not None and stored.valid is False  # OCPI has no delete: CPOs keep it, invalid

    # created again: a new token, valid and listed, without the deleted one's fields
    again = await emp.ok("POST", "charge-auth-tokens", {**CARD, "visualNumber": "EMP-0002"}, 201)
    assert again["valid"] is True and again["visualNumber"] == "EMP-0002" and again["partnerExternalId"] is None
    assert await _count(emp) == 2 and await _count(grn) == 2
    await eventually(lambda: [x for x in _pushes(cpo, "04A1B2C3") if x.method == "PUT" and x.body["visual_number"] == "EMP-0002"])
    assert not cpo.errors


async def test_an_rfid_card_and_an_app_account_may_share_a_uid(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    api = await _api(served, http, EMP)
    rfid = await api.ok("POST", "charge-auth-tokens", {**CARD, "identifier": "SAME-1"}, 201)
    app = await api.ok("POST", "charge-auth-tokens", {**CARD, "identifier": "SAME-1", "type": "app"}, 201)
    assert (rfid["id"], app["id"]) == ("NLEMP-RFID-SAME-1", "NLEMP-APP_USER-SAME-1") and app["ocpi"]["type"] == "APP_USER"
    await api.ok("POST", f"charge-auth-tokens/{app['id']}/block")
    assert (await api.ok("GET", f"charge-auth-tokens/{rfid['id']}"))["valid"] is True  # only the app account is blocked
    await api.ok("DELETE", f"charge-auth-tokens/{rfid['id']}", status=204)
    assert [t["id"] for t in (await api.ok("GET", "charge-auth-tokens"))["data"]] == [app["id"]]
    _error(await api.call("GET", "charge-auth-tokens/NLEMP-SAME-1"), 404, "RESOURCE_NOT_FOUND")  # an id without its type


async def test_creating_a_token_that_exists_is_409(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    api = await _api(served, http, EMP)
    await api.ok("POST", "charge-auth-tokens", CARD, 201)
    body = _error(await api.call("POST", "charge-auth-tokens", {**CARD, "name": "Other"}), 409, "CONFLICT")
    assert body["context"] == {"field": "identifier"}
    assert (await api.ok("GET", "charge-auth-tokens/NLEMP-RFID-04A1B2C3"))["name"] == "EMP Mobility"
    _error(await api.call("POST", "charge-auth-tokens", {**CARD, "identifier": "04a1b2c3"}), 409, "CONFLICT")  # uids ignore case


# --- who may write -------------------------------------------------------------------------------------------------


async def test_who_may_write_tokens(served: Served, http: httpx.AsyncClient, make_party: Any, parties: None) -> None:
    roaming_emsp = await make_party("DE", "EMS", "EMSP")  # its tokens come from its own OCPI platform
    invite = await bilateral.invite(served.hub.ocpi, PartyId("DE", "EMS"), "EMSP")
    await roaming_emsp.register(invite["versions_url"], invite["token"])
    roaming = await _api(served, http, PartyId("DE", "EMS"))
    assert "OCPI platform" in _error(await roaming.call("POST", "charge-auth-tokens", CARD), 403, "ACCESS_FORBIDDEN")["message"]
    grn = await _api(served, http, GRN)
    assert "not an eMSP" in _error(await grn.call("POST", "charge-auth-tokens", CARD), 403, "ACCESS_FORBIDDEN")["message"]

    emp, em2, admin = [await _api(served, http, p) for p in (EMP, EM2, None)]
    await emp.ok("POST", "charge-auth-tokens", CARD, 201)
    mine = "charge-auth-tokens/NLEMP-RFID-04A1B2C3"
    for method, path, body in (("PATCH", mine, {"name": "x"}), ("POST", f"{mine}/block", None), ("POST", f"{mine}/unblock", None),
                               ("DELETE", mine, None), ("GET", mine, None)):
        _error(await em2.call(method, path, body), 404, "RESOURCE_NOT_FOUND")  # another eMSP's token is not found
    _error(await grn.call("POST", f"{mine}/block"), 403, "ACCESS_FORBIDDEN")  # a CPO reads tokens, and writes none
    # an admin names the hosted eMSP it writes for
    assert _error(await admin.call("POST", "charge-auth-tokens", CARD), 400, "VALIDATION_ERROR")["context"] == {"field": "party"}
    _error(await admin.call("POST", "charge-auth-tokens", {**CARD, "party": "NL/GRN"}), 403, "ACCESS_FORBIDDEN")
    made = await admin.ok("POST", "charge-auth-tokens", {**CARD, "party": "NL/EM2"}, 201)
    assert made["id"] == "NLEM2-RFID-04A1B2C3" and made["name"] == "EMP Mobility"
    assert (await admin.ok("POST", f"{mine}/block"))["blocked"] is True
    assert (await emp.ok("GET", mine))["blocked"] is True
    # scopes: write does not include delete
    reader = await _api(served, http, EMP, "all:read")
    _error(await reader.call("POST", "charge-auth-tokens", {**CARD, "identifier": "X1"}), 403, "ACCESS_FORBIDDEN")
    _error(await reader.call("POST", f"{mine}/unblock"), 403, "ACCESS_FORBIDDEN")
    writer = await _api(served, http, EMP, "charge-auth-tokens:write")
    _error(await writer.call("DELETE", mine), 403, "ACCESS_FORBIDDEN")
    assert (await writer.ok("POST", f"{mine}/unblock"))["valid"] is True


# --- validation and Idempotency-Key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"type": "card"}, "type"),
    ({"type": None}, "type"),
    ({"identifier": "a/b"}, "identifier"),
    ({"identifier": "x" * 37}, "identifier"),
    ({"identifier": None}, "identifier"),
    ({"language": "eng"}, "language"),
    ({"whitelist": "SOMETIMES"}, "whitelist"),
    ({"visualNumber": "v" * 65}, "visualNumber"),
    ({"party": "NL-EMP"}, "party"),
    ({"partnerCustomPayload": {"x": "y" * 20_000}}, "partnerCustomPayload"),
])
async def test_a_bad_token_is_refused_naming_the_field_and_nothing_is_stored(
    served: Served, http: httpx.AsyncClient, parties: None, change: dict, field: str,
) -> None:
    api = await _api(served, http, EMP)
    body = _error(await api.call("POST", "charge-auth-tokens", {**CARD, **change}, key="k1"), 400, "VALIDATION_ERROR")
    assert body["context"] == {"field": field}, body
    assert await _count(api) == 0
    assert await served.hub.core.db.read(lambda conn: conn.exec_driver_sql("SELECT count(*) FROM partner_extras").scalar()) == 0
    await api.ok("POST", "charge-auth-tokens", CARD, 201, key="k1")  # a failed request kept nothing under its key


async def test_a_bad_token_patch_is_refused(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    api = await _api(served, http, EMP)
    made = await api.ok("POST", "charge-auth-tokens", CARD, 201)
    for patch, field in (({"name": None}, "name"), ({"whitelist": None}, "whitelist"), ({"groupId": "g" * 37}, "groupId"),
                         ({"language": "NL"}, "language")):
        assert _error(await api.call("PATCH", f"charge-auth-tokens/{made['id']}", patch), 400, "VALIDATION_ERROR")["context"] == {"field": field}
    for raw in (b"[]", b"{", b"null"):
        r = await api.http.patch(f"/api/v1/charge-auth-tokens/{made['id']}", content=raw, headers=api.headers)
        _error(r, 400, "VALIDATION_ERROR")
    assert await api.ok("GET", f"charge-auth-tokens/{made['id']}") == made


async def test_idempotency_key_replays_a_token_create(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    api = await _api(served, http, EMP)
    first = await api.call("POST", "charge-auth-tokens", CARD, key="card-1")
    assert first.status_code == 201, first.text
    again = await api.call("POST", "charge-auth-tokens", CARD, key="card-1")
    assert (again.status_code, again.content, again.headers["idempotent-replayed"]) == (201, first.content, "true")
    _error(await api.call("POST", "charge-auth-tokens", {**CARD, "identifier": "OTHER"}, key="card-1"), 422, "IDEMPOTENCY_KEY_REUSED")
    assert await _count(api) == 1


async def test_the_openapi_document_has_the_token_writes_and_the_commands(served: Served, http: httpx.AsyncClient) -> None:
    paths = (await http.get("/schema/openapi.json")).json()["paths"]
    posts = ["/api/v1/charge-auth-tokens", "/api/v1/charge-auth-tokens/{id}/block", "/api/v1/charge-auth-tokens/{id}/unblock",
             "/api/v1/charges", "/api/v1/charges/{id}/stop", "/api/v1/charge-points/{id}/unlock", "/api/v1/charge-points/{id}/reboot",
             "/api/v1/charge-points/{id}/set-charging-profile"]
    for path in posts:
        operation = paths[path]["post"]
        assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}, path
        assert operation["security"] == [{"bearerAuth": []}]
    assert set(paths["/api/v1/charge-auth-tokens"]["post"]["responses"]) == {"201", "default"}
    assert set(paths["/api/v1/charge-auth-tokens/{id}"]) >= {"get", "patch", "delete"}
    assert paths["/api/v1/charge-points/{id}/reboot"]["post"]["requestBody"]["required"] is False
    assert paths["/api/v1/charges"]["post"]["requestBody"]["required"] is True
    assert "partnerExternalId" in {p["name"] for p in paths["/api/v1/charge-auth-tokens"]["get"]["parameters"]}
