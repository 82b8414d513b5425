"""Generated requests (schemathesis, from the OpenAPI document the hub serves) against every operation of a
running `hub serve --demo`, as the demo eMSP: bodies and query parameters that fit the documented schemas and
ones that do not. Whatever comes, the answer is the protocol's own, as documented, never a server error."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.test_cli import HUB, environment, running
from tests.test_cli import run as run_cli

AUTH = {"Authorization": "Token " + base64.b64encode(b"demo-emsp-token").decode()}
# the partner API's token endpoints: generated credentials are refused (401), as documented
PUBLIC = {"POST /api/v1/auth/token", "POST /api/v1/auth/refresh", "POST /oauth/token"}
# Left out: they would end the demo eMSP's registration (every later request a 401) or make the hub call the
# URLs generated for them. tests/test_ocpi_bad_input.py covers them.
NOT_FUZZED = {"PUT /ocpi/2.2.1/credentials", "DELETE /ocpi/2.2.1/credentials", "PUT /ocpi/2.1.1/credentials",
              "DELETE /ocpi/2.1.1/credentials"}
# OCPI 2.1.1: the hub's eMSP interface is for 2.1.1 CPOs, its CPO interface for 2.1.1 eMSPs (platforms made for the test)
AUTH_211 = {"/ocpi/2.1.1/emsp": {"Authorization": "Token fuzz-211-cpo-token"}, "/ocpi/2.1.1": {"Authorization": "Token fuzz-211-emsp-token"}}


async def _add_211_parties(database_url: str) -> None:
    """A 2.1.1 CPO and a 2.1.1 eMSP, registered (as a handshake would leave them), in the served hub's database."""
    from hub.app import Hub
    from hub.model import PartyId
    from hub.settings import Settings
    from hub.store import platforms as store

    hub = Hub(Settings(database_url=database_url, log_level="WARNING"))
    await hub.start(serve=False)
    try:
        def op(tx) -> None:  # noqa: ANN001
            for token, party, role in (("fuzz-211-cpo-token", PartyId("DE", "FZC"), "CPO"), ("fuzz-211-emsp-token", PartyId("NL", "FZE"), "EMSP")):
                pid = store.create_platform(tx, name=f"fuzz 2.1.1 {role}", token_in=token, token_kind="C", protocol="ocpi211", status="CONNECTED")
                store.update_platform(tx, pid, version="2.1.1", header_codec="raw")
                store.set_parties(tx, pid, [(party, role, f"fuzz {role}", None)])

        await hub.core.db.write(op)
    finally:
        await hub.stop()


@pytest.fixture(scope="module")
def served_document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    directory = tmp_path_factory.mktemp("fuzz")
    env = environment(directory)
    with running(HUB + ["serve", "--demo"], env, directory / "hub.log"):
        base = env["HUB_PUBLIC_URL"]
        # the partner API as an admin credential with every scope and room in its quota
        asyncio.run(_add_211_parties(env["HUB_DATABASE_URL"]))
        created = run_cli(["credentials", "create", "--admin", "--scopes", "all:delete", "--rate-limit", "1000000"], env)
        assert created.returncode == 0, created.stderr
        credential = json.loads(created.stdout)
        tokens = httpx.post(f"{base}/api/v1/auth/token", json=credential).json()
        BEARER["Authorization"] = f"Bearer {tokens['accessToken']}"
        url = f"{base}/schema/openapi.json"
        yield url, httpx.get(url).json()


def test_the_document_describes_ocpi_bodies_query_parameters_and_envelopes(served_document: tuple[str, dict]) -> None:
    _, document = served_document
    operations = [(path, method, op) for path, item in document["paths"].items() if path.startswith("/ocpi/")
                  for method, op in item.items()]
    assert len(operations) > 40
    for path, method, op in operations:
        label = f"{method.upper()} {path}"
        if method in ("put", "patch", "post"):
            assert op["requestBody"]["content"]["application/json"]["schema"], label
        for status, response in op["responses"].items():
            schema = response["content"]["application/json"]["schema"]
            assert schema["required"] == ["status_code", "timestamp"], f"{label} {status}: not the OCPI envelope"
    query = {(path, p["name"]) for path, _, op in operations for p in op.get("parameters", []) if p["in"] == "query"}
    for module in ("locations", "tariffs", "tokens", "sessions", "cdrs"):
        assert {(f"/ocpi/2.2.1/sender/{module}", name) for name in ("date_from", "date_to", "offset", "limit")} <= query
    assert ("/ocpi/2.2.1/receiver/chargingprofiles/{session_id}", "response_url") in query
    location = document["paths"]["/ocpi/2.2.1/receiver/locations/{country_code}/{party_id}/{location_id}"]["put"]
    assert location["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OCPI.Location"}
    assert document["components"]["schemas"]["OCPI.Location"]["properties"]["evses"]


BEARER: dict[str, str] = {}  # the partner API's access token, once the hub serves


def authenticated(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """The demo eMSP's token (the partner API's access token) opened the door: answers that are all 401 would
    test nothing."""
    if case.operation.label in PUBLIC:
        return
    if case.operation.path.startswith("/api/") and response.request.headers.get("Authorization") != BEARER["Authorization"]:
        return  # a negative case without the documented security: 401 is the documented answer
    assert response.status_code != 401, "the token was refused"


def headers_for(label: str) -> dict[str, str]:
    path = label.split(" ", 1)[1]
    if label in PUBLIC:
        return {}
    if path.startswith("/ocpi/2.1.1"):
        return next(auth for prefix, auth in AUTH_211.items() if path.startswith(prefix))
    return BEARER if path.startswith("/api/") else AUTH


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_never_get_a_server_error(served_document: tuple[str, dict], mode: GenerationMode) -> None:
    api = schemathesis.openapi.from_url(served_document[0])
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 30
    failures = []
    for operation in operations:
        if operation.label in NOT_FUZZED:
            continue
        if mode is GenerationMode.NEGATIVE and not (operation.body or any(operation.iter_parameters())):
            continue  # nothing of it can be made invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers_for(operation.label), checks=[not_a_server_error, response_schema_conformance, authenticated])

        try:
            run()
        except (Exception, FailureGroup) as exc:  # noqa: BLE001 (collected: one report for every operation)
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
