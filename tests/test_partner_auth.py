"""Partner REST API credentials, tokens, quotas and error conventions, through the real app over HTTP on SQLite
and PostgreSQL, and through real `hub serve` / `hub credentials` processes."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.ocpi_party import free_port
from hub.app import Hub
from hub.model import PartyId
from hub.services import consumers as consumers_module
from hub.services.consumers import HOSTED, Refused
from hub.services.errors import Invalid
from hub.services.scopes import Scopes
from hub.store.migrate import upgrade
from tests.conftest import Served, hub_settings
from tests.test_cli import HUB, run, running
from tests.test_processes import process_env

GRN = PartyId("NL", "GRN")  # a CPO the hub hosts
ERROR_KEYS = {"status", "message", "errorCode", "readableMessage", "context"}


async def _hosted(served: Served) -> None:
    await served.hub.core.parties.ensure_local(GRN, "CPO", "GreenCharge")


async def _credential(served: Served, party: PartyId | None = GRN, scopes: str = "all:read", **kw: Any) -> tuple[str, str]:
    if party is not None and party != served.settings.hub_party:
        await _hosted(served)
    return await served.hub.core.consumers.create(party, scopes, **kw)



async def _tokens(http: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    r = await http.post("/api/v1/auth/token", json={"clientId": client_id, "clientSecret": secret})
    assert r.status_code == 200, r.text
    return r.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) <= ERROR_KEYS and {"status", "message", "errorCode"} <= set(body), body
    assert (body["status"], body["errorCode"]) == (status, code), body
    return body


# --- tokens --------------------------------------------------------------------------------------------------


async def test_token_pair_for_client_id_and_secret(served: Served, http: httpx.AsyncClient) -> None:
    client_id, secret = await _credential(served)
    tokens = await _tokens(http, client_id, secret)
    assert set(tokens) == {"accessToken", "refreshToken", "accessTokenExpirationDate", "refreshTokenExpirationDate"}
    assert tokens["accessTokenExpirationDate"].endswith("Z") and tokens["refreshTokenExpirationDate"].endswith("Z")
    from datetime import datetime

    access = datetime.fromisoformat(tokens["accessTokenExpirationDate"].replace("Z", "+00:00"))
    refresh = datetime.fromisoformat(tokens["refreshTokenExpirationDate"].replace("Z", "+00:00"))
    assert abs((refresh - access).total_seconds() - (86_400 - 3_600)) <= 1  # 1 h and 24 h from the same moment
    r = await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"]))
    assert r.status_code == 200 and r.json()["clientId"] == client_id


async def test_wrong_secret_or_unknown_client_is_401_consumer_not_found(served: Served, http: httpx.AsyncClient) -> None:
    client_id, secret = await _credential(served)
    for body in ({"clientId": client_id, "clientSecret": secret + "x"}, {"clientId": "hub_000000000000000000000000", "clientSecret": secret}):
        _error(await http.post("/api/v1/auth/token", json=body), 401, "CONSUMER_NOT_FOUND")


async def test_refresh_rotates_and_the_used_refresh_token_stops_working(served: Served, http: httpx.AsyncClient) -> None:
    tokens = await _tokens(http, *await _credential(served))
    r = await http.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["accessToken"] != tokens["accessToken"] and new["refreshToken"] != tokens["refreshToken"]
    assert (await http.get("/api/v1/consumers/me", headers=_bearer(new["accessToken"]))).status_code == 200
    _error(await http.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]}), 401, "INVALID_ACCESS_TOKEN")
    assert (await http.post("/api/v1/auth/refresh", json={"refreshToken": new["refreshToken"]})).status_code == 200
    # an access token is no refresh token, nor the other way round
    _error(await http.post("/api/v1/auth/refresh", json={"refreshToken": new["accessToken"]}), 401, "INVALID_ACCESS_TOKEN")
    _error(await http.get("/api/v1/consumers/me", headers=_bearer(new["refreshToken"])), 401, "INVALID_ACCESS_TOKEN")


async def test_two_concurrent_refreshes_with_one_token_exactly_one_succeeds(served: Served, http: httpx.AsyncClient) -> None:
    tokens = await _tokens(http, *await _credential(served))
    answers = await asyncio.gather(*(http.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]}) for _ in range(2)))
    assert sorted(r.status_code for r in answers) == [200, 401]


async def test_two_processes_racing_with_one_refresh_token_exactly_one_succeeds(served: Served, database_url: str) -> None:
    """Two hub processes (two cores, each its own database connections) on one database, many rounds."""
    client_id, secret = await _credential(served)
    other = Hub(served.settings)
    await other.start(serve=False)
    try:
        for _ in range(10):
            pair = await served.hub.core.consumers.issue(client_id, secret)
            outcomes = await asyncio.gather(served.hub.core.consumers.refresh(pair.refresh_token),
                                            other.core.consumers.refresh(pair.refresh_token), return_exceptions=True)
            assert sorted(type(o).__name__ for o in outcomes) == ["Refused", "TokenPair"], outcomes
    finally:
        await other.stop()


async def test_expired_access_and_refresh_tokens_are_401(database_url: str) -> None:
    settings = hub_settings(database_url, free_port(), api_access_ttl=0.5, api_refresh_ttl=1.0)
    async with Served(settings) as served, httpx.AsyncClient(base_url=served.url) as http:
        tokens = await _tokens(http, *await _credential(served))
        assert (await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"]))).status_code == 200
        await asyncio.sleep(0.6)
        r = _error(await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"])), 401, "INVALID_ACCESS_TOKEN")
        assert "expired" in r["message"]
        await asyncio.sleep(0.5)
        _error(await http.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]}), 401, "INVALID_ACCESS_TOKEN")


async def test_a_missing_or_unknown_bearer_token_is_401_with_www_authenticate(served: Served, http: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic Zm9vOmJhcg=="}, _bearer("not-a-token"), {"Authorization": "Bearer"}):
        r = await http.get("/api/v1/consumers/me", headers=headers)
        _error(r, 401, "INVALID_ACCESS_TOKEN")
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "ratelimit-remaining" not in r.headers  # nobody to count it against


# --- RFC 6749 client credentials -----------------------------------------------------------------------------


async def test_oauth_client_credentials_with_a_form_body_and_with_http_basic(served: Served, http: httpx.AsyncClient) -> None:
    client_id, secret = await _credential(served, scopes="sites:read,charges:write")
    by_form = await http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    by_basic = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=httpx.BasicAuth(client_id, secret))
    for r in (by_form, by_basic):
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "sites:read charges:write"
        me = await http.get("/api/v1/consumers/me", headers=_bearer(body["access_token"]))
        assert me.status_code == 200 and me.json()["clientId"] == client_id


async def test_oauth_errors_follow_rfc_6749(served: Served, http: httpx.AsyncClient) -> None:
    client_id, secret = await _credential(served)
    grant = {"grant_type": "client_credentials"}
    wrong = await http.post("/oauth/token", data=grant, auth=httpx.BasicAuth(client_id, "wrong"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert wrong.headers["www-authenticate"].startswith("Basic")
    nobody = await http.post("/oauth/token", data=grant)
    assert (nobody.status_code, nobody.json()["error"]) == (401, "invalid_client") and "www-authenticate" in nobody.headers
    other_grant = await http.post("/oauth/token", data={"grant_type": "password"}, auth=httpx.BasicAuth(client_id, secret))
    assert (other_grant.status_code, other_grant.json()["error"]) == (400, "unsupported_grant_type")
    no_grant = await http.post("/oauth/token", data={}, auth=httpx.BasicAuth(client_id, secret))
    assert (no_grant.status_code, no_grant.json()["error"]) == (400, "invalid_request")
    both = await http.post("/oauth/token", data={**grant, "client_id": client_id, "client_secret": secret}, auth=httpx.BasicAuth(client_id, secret))
    assert (both.status_code, both.json()["error"]) == (400, "invalid_request")
    twice = await http.post("/oauth/token", content=b"grant_type=client_credentials&grant_type=client_credentials",
                            headers={"content-type": "application/x-www-form-urlencoded"}, auth=httpx.BasicAuth(client_id, secret))
    assert (twice.status_code, twice.json()["error"]) == (400, "invalid_request")


# --- revocation -----------------------------------------------------------------------------------------------


async def test_a_revoked_credential_is_refused_at_once(served: Served, http: httpx.AsyncClient) -> None:
    client_id, secret = await _credential(served)
    tokens = await _tokens(http, client_id, secret)
    await served.hub.core.consumers.revoke(client_id)
    _error(await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"])), 401, "INVALID_ACCESS_TOKEN")
    _error(await http.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]}), 401, "INVALID_ACCESS_TOKEN")
    _error(await http.post("/api/v1/auth/token", json={"clientId": client_id, "clientSecret": secret}), 401, "CONSUMER_NOT_FOUND")
    (listed,) = await served.hub.core.consumers.listing()
    assert listed.revoked_us is not None


async def test_the_cli_revokes_a_credential_while_hub_serve_serves(database_url: str, tmp_path: Path) -> None:
    """`hub credentials create|list|revoke` beside a serving `hub serve` process: the revocation applies to the
    next request, and neither the secret nor a token appears in any output or log."""
    upgrade(database_url)
    env = {**process_env(database_url, tmp_path), "HUB_LOG_LEVEL": "INFO"}
    created = await asyncio.to_thread(run, ["credentials", "create", "--party", "NL/HUB", "--scopes", "all:read", "--name", "back office"], env)
    assert created.returncode == 0, created.stderr
    credential = json.loads(created.stdout)
    assert set(credential) == {"clientId", "clientSecret"} and credential["clientId"].startswith("hub_")
    url = env["HUB_PUBLIC_URL"]
    with running(HUB + ["serve", "--no-migrate"], env, tmp_path / "hub.log"):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            tokens = await _tokens(http, credential["clientId"], credential["clientSecret"])
            me = await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"]))
            assert me.status_code == 200 and me.json()["party"] == "NL/HUB" and me.json()["name"] == "back office"
            listed = await asyncio.to_thread(run, ["credentials", "list"], env)
            (row,) = json.loads(listed.stdout)
            assert row["clientId"] == credential["clientId"] and row["revokedAt"] is None and "clientSecret" not in row
            revoked = await asyncio.to_thread(run, ["credentials", "revoke", credential["clientId"]], env)
            assert revoked.returncode == 0, revoked.stderr
            _error(await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"])), 401, "INVALID_ACCESS_TOKEN")
    assert json.loads((await asyncio.to_thread(run, ["credentials", "list"], env)).stdout)[0]["revokedAt"]
    outputs = (tmp_path / "hub.log").read_text() + listed.stdout + listed.stderr + revoked.stdout + revoked.stderr + created.stderr
    for secret in (credential["clientSecret"], tokens["accessToken"], tokens["refreshToken"]):
        assert secret not in outputs


# --- quota ----------------------------------------------------------------------------------------------------


async def test_quota_counts_down_then_429_with_retry_after(served: Served, http: httpx.AsyncClient) -> None:
    tokens = await _tokens(http, *await _credential(served, rate_limit=5, rate_window=60))
    remaining = []
    for _ in range(5):
        r = await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"]))
        assert r.status_code == 200
        assert (r.headers["ratelimit-policy"], r.headers["ratelimit-quota"], r.headers["ratelimit-timewindow"]) == ("Quota", "5", "60")
        assert 0 < int(r.headers["ratelimit-resetsin"]) <= 60
        remaining.append(int(r.headers["ratelimit-remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    r = await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"]))
    _error(r, 429, "RATE_LIMITED")
    assert r.headers["ratelimit-remaining"] == "0" and 0 < int(r.headers["retry-after"]) <= 60
    # errors past the gate carry the headers too
    r = await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"]))
    assert r.status_code == 429 and r.headers["ratelimit-quota"] == "5"


async def test_quota_window_starts_again(served: Served, http: httpx.AsyncClient) -> None:
    tokens = await _tokens(http, *await _credential(served, rate_limit=2, rate_window=1))
    codes = [(await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"]))).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    await asyncio.sleep(1.05)
    r = await http.get("/api/v1/consumers/me", headers=_bearer(tokens["accessToken"]))
    assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "1"


async def test_quota_is_shared_by_processes_on_one_database(served: Served) -> None:
    """Two cores counting at once against one credential's quota: exactly the quota is allowed."""
    client_id, _ = await _credential(served, rate_limit=30, rate_window=600)
    other = Hub(served.settings)
    await other.start(serve=False)
    try:
        consumer = await served.hub.core.consumers.get(client_id)
        assert consumer is not None
        quotas = await asyncio.gather(*(hub.core.consumers.quota(consumer) for hub in [served.hub, other] * 25))
        assert sum(q.allowed for q in quotas) == 30
        assert sorted(q.remaining for q in quotas if q.allowed) == list(range(30))
    finally:
        await other.stop()


# --- the consumer, errors -----------------------------------------------------------------------------------


async def test_consumers_me_for_a_party_and_for_an_admin(served: Served, http: httpx.AsyncClient) -> None:
    party = await _tokens(http, *await _credential(served, scopes="sites:read,charges:delete", name="GreenCharge BO"))
    admin = await _tokens(http, *await _credential(served, party=None, admin=True, scopes="all:delete", rate_limit=50, rate_window=30))
    me = (await http.get("/api/v1/consumers/me", headers=_bearer(party["accessToken"]))).json()
    assert me == {"name": "GreenCharge BO", "clientId": me["clientId"], "party": "NL/GRN", "admin": False,
                  "scopes": ["sites:read", "charges:delete"], "rateLimit": 1000, "rateLimitIntervalInSeconds": 600}
    me = (await http.get("/api/v1/consumers/me", headers=_bearer(admin["accessToken"]))).json()
    assert (me["party"], me["admin"], me["scopes"], me["rateLimit"], me["rateLimitIntervalInSeconds"]) == (None, True, ["all:delete"], 50, 30)


async def test_unknown_path_wrong_method_and_bad_json_in_the_error_format(served: Served, http: httpx.AsyncClient) -> None:
    _error(await http.get("/api/v1/no-such-resource"), 404, "RESOURCE_NOT_FOUND")
    _error(await http.get("/api/v1/consumers/me/more"), 404, "RESOURCE_NOT_FOUND")
    r = _error(await http.delete("/api/v1/consumers/me"), 405, "METHOD_NOT_ALLOWED")
    _error(await http.get("/api/v1/auth/token"), 405, "METHOD_NOT_ALLOWED")
    r = _error(await http.post("/api/v1/auth/token", content=b'{"clientId": "x", '), 400, "VALIDATION_ERROR")
    assert "malformed JSON" in r["message"]
    r = _error(await http.post("/api/v1/auth/token", json={"clientId": 42, "clientSecret": "s"}), 400, "VALIDATION_ERROR")
    assert r["context"] == {"field": "clientId"}
    r = _error(await http.post("/api/v1/auth/token", json={"clientId": "x"}), 400, "VALIDATION_ERROR")
    assert r["context"] == {"field": "clientSecret"}
    _error(await http.post("/api/v1/auth/token", content=b""), 400, "VALIDATION_ERROR")
    _error(await http.post("/api/v1/auth/token", content=b"[" * 100_000), 400, "VALIDATION_ERROR")
    too_large = b'{"clientId": "' + b"x" * served.settings.max_body_bytes + b'"}'
    _error(await http.post("/api/v1/auth/token", content=too_large), 413, "PAYLOAD_TOO_LARGE")
    assert (await http.get("/ocpi/nothing")).json()["status_code"] == 2000  # OCPI paths keep OCPI's envelope


# --- scopes, parties, visibility ------------------------------------------------------------------------------


def test_scopes_ladder_and_wildcard() -> None:
    scopes = Scopes.parse("sites:delete, charges:read all:read")
    assert scopes.allows("sites", "read") and scopes.allows("sites", "write") and scopes.allows("sites", "delete")
    assert scopes.allows("charges", "read") and not scopes.allows("charges", "write")
    assert scopes.allows("tariffs", "read") and not scopes.allows("tariffs", "write")  # all:read
    assert Scopes.parse("all:write").allows("partners", "write") and not Scopes.parse("all:write").allows("cdrs", "delete")
    assert scopes.names() == ["all:read", "sites:delete", "charges:read"]
    assert Scopes.parse("Sites:Read,sites:write").names() == ["sites:write"]


@pytest.mark.parametrize("text", ["sites", "sites:admin", "vehicles:read", "", ":read", "all"])
def test_an_unknown_or_malformed_scope_is_refused(text: str) -> None:
    with pytest.raises(Invalid):
        Scopes.parse(text)


def test_the_cli_refuses_an_unknown_scope_with_a_clear_message(tmp_path: Path) -> None:
    env = process_env(f"sqlite+aiosqlite:///{tmp_path}/hub.db", tmp_path)
    result = run(["credentials", "create", "--party", "NL/HUB", "--scopes", "sites:read,vehicles:read"], env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "unknown entity 'vehicles'" in result.stderr and "charge-points" in result.stderr
    result = run(["credentials", "create", "--party", "NL/HUB", "--scopes", "sites:own"], env)
    assert result.returncode == 1 and "unknown permission 'own'" in result.stderr


async def test_a_credential_acts_for_a_party_the_hub_knows(served: Served) -> None:
    consumers = served.hub.core.consumers
    with pytest.raises(Invalid, match="not a party the hub knows"):
        await consumers.create(PartyId("DE", "XYZ"), "all:read")
    with pytest.raises(Invalid, match="admin"):
        await consumers.create(GRN, "all:read", admin=True)
    with pytest.raises(Invalid):
        await consumers.create(None, "all:read")
    assert await consumers.listing() == []


async def test_the_reader_of_a_credential_is_its_party_and_nothing_more(served: Served) -> None:
    consumers = served.hub.core.consumers
    # a party the hub hosts
    hosted = await consumers.get((await _credential(served))[0])
    view = consumers.reader(hosted)  # type: ignore[arg-type]
    assert view is not None and view.id == HOSTED and view.roles == ((GRN, "CPO"),)
    # one party of a platform that holds two: only that party's roles
    ems, oth = PartyId("DE", "EMS"), PartyId("DE", "OTH")
    platform_id, _ = await served.hub.core.parties.invite([(ems, "EMSP"), (oth, "CPO")])
    one = await consumers.get((await consumers.create(ems, "all:read"))[0])
    view = consumers.reader(one)  # type: ignore[arg-type]
    assert view is not None and view.id == platform_id and view.roles == ((ems, "EMSP"),)
    assert served.hub.core.directory.platform(platform_id).parties == {ems, oth}  # type: ignore[union-attr]
    # an admin sees everything
    admin = await consumers.get((await consumers.create(None, "all:read", admin=True))[0])
    assert consumers.reader(admin) is None  # type: ignore[arg-type]


# --- secrets ----------------------------------------------------------------------------------------------------


async def test_secrets_are_compared_in_constant_time(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    client_id, secret = await _credential(served)
    calls = []
    real = consumers_module.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(consumers_module.hmac, "compare_digest", spy)
    consumers = served.hub.core.consumers
    for cid, s in ((client_id, "wrong"), ("hub_unknown", secret)):
        with pytest.raises(Refused):
            await consumers.issue(cid, s)
    assert len(calls) == 2  # the unknown client is compared too (against a stand-in), so both cost the same
    pair = await consumers.issue(client_id, secret)
    await consumers.authenticate(pair.access_token)
    assert len(calls) == 4


async def test_no_secret_or_token_is_ever_logged(served: Served, http: httpx.AsyncClient) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root, keep = logging.getLogger(), Keep(logging.DEBUG)
    level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        client_id, secret = await _credential(served)
        tokens = await _tokens(http, client_id, secret)
        new = (await http.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})).json()
        await http.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})  # spent: refused
        await http.post("/api/v1/auth/token", json={"clientId": client_id, "clientSecret": secret + "x"})
        oauth = (await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))).json()
        await http.get("/api/v1/consumers/me", headers=_bearer(new["accessToken"]))
        await served.hub.core.consumers.revoke(client_id)
        await http.get("/api/v1/consumers/me", headers=_bearer(new["accessToken"]))
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    text = "\n".join(logging.Formatter("%(message)s %(args)s").format(r) for r in records)
    assert client_id in text  # creation and revocation are logged ...
    for value in (secret, tokens["accessToken"], tokens["refreshToken"], new["accessToken"], new["refreshToken"], oauth["access_token"]):
        assert value not in text  # ... without a secret


# --- OpenAPI ------------------------------------------------------------------------------------------------------


async def test_the_openapi_document_lists_the_operations_with_bodies_and_bearer_security(served: Served, http: httpx.AsyncClient) -> None:
    document = (await http.get("/schema/openapi.json")).json()
    paths = document["paths"]
    assert paths["/api/v1/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Partner.TokenRequest"}
    assert "application/x-www-form-urlencoded" in paths["/oauth/token"]["post"]["requestBody"]["content"]
    me = paths["/api/v1/consumers/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}] and paths["/api/v1/auth/token"]["post"]["security"] == []
    assert me["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Partner.Me"}
    assert "RateLimit-Remaining" in me["responses"]["default"]["headers"]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {**document["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    error = document["components"]["schemas"]["Partner.Error"]
    assert set(error["required"]) >= {"status", "message", "errorCode"}


async def test_hub_version_is_named_on_every_answer_and_an_unknown_one_is_refused(served: Served, http: httpx.AsyncClient) -> None:
    from protocols.partner.transport import STABLE

    client_id, secret = await served.hub.core.consumers.create(None, "all:read", admin=True)
    r = await http.post("/api/v1/auth/token", json={"clientId": client_id, "clientSecret": secret})
    assert r.headers["hub-version"] == STABLE
    token = r.json()["accessToken"]
    assert (await http.get("/api/v1/consumers/me", headers=_bearer(token))).headers["hub-version"] == STABLE
    asked = await http.get("/api/v1/consumers/me", headers={**_bearer(token), "Hub-Version": STABLE})
    assert asked.status_code == 200 and asked.headers["hub-version"] == STABLE
    body = _error(await http.get("/api/v1/consumers/me", headers={**_bearer(token), "Hub-Version": "1999-01-01"}), 400, "VALIDATION_ERROR")
    assert body["context"] == {"field": "Hub-Version"}
