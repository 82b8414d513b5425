"""The `hub` command as a user runs it: real processes, a real database, real HTTP."""

from __future__ import annotations

import base64
import json
import re
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from fixtures import demo
from fixtures.ocpi_party import OcpiParty, free_port
from tests.conftest import ROOT

HUB = [sys.executable, "-m", "hub.cli"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(HUB + args, env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120)


def environment(directory: Path) -> dict[str, str]:
    """Settings of a hub of its own: a database in `directory`, free ports."""
    port = free_port()
    return {"HUB_DATABASE_URL": f"sqlite+aiosqlite:///{directory}/hub.db", "HUB_PORT": str(port), "HUB_HOST": "127.0.0.1",
            "HUB_OCPP_PORT": str(free_port()), "HUB_LOG_LEVEL": "WARNING", "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "HUB_OCPI_ALLOW_PRIVATE": "true", "HUB_DEMO_WEBHOOK_PORT": str(free_port())}


@pytest.fixture
def hub_env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path)


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A hub process, once /health answers; its output goes to `log` (a pipe nobody reads could fill and stall it)."""
    with log.open("w") as out:
        proc = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(env["HUB_PUBLIC_URL"], proc, log)
            yield proc
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the hub exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"the hub did not become healthy: {log.read_text()}")


@pytest.fixture
def serving(hub_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with running(HUB + ["serve", "--demo", "--demo-session-seconds", "2"], hub_env, tmp_path / "hub.log"):
        yield hub_env["HUB_PUBLIC_URL"], hub_env


def test_db_upgrade_creates_the_schema(hub_env: dict[str, str]) -> None:
    result = run(["db", "upgrade"], hub_env)
    assert result.returncode == 0, result.stderr
    assert "head" in result.stdout


def test_invite_prints_token_and_versions_url(hub_env: dict[str, str]) -> None:
    run(["db", "upgrade"], hub_env)
    result = run(["ocpi", "invite", "--country-code", "NL", "--party-id", "EMS", "--role", "EMSP"], hub_env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"token", "versions_url"} and len(out["token"]) >= 32
    assert out["versions_url"] == f"{hub_env['HUB_PUBLIC_URL']}/ocpi/versions"


def test_help_lists_the_commands() -> None:
    result = subprocess.run(HUB + ["--help"], capture_output=True, text=True, cwd=ROOT)
    assert all(c in result.stdout for c in ("serve", "db", "ocpi", "chargers", "simulate", "outbox"))


def test_serve_demo_can_be_explored_with_the_demo_token(serving: tuple[str, dict[str, str]]) -> None:
    """What the README shows with curl."""
    url, _ = serving
    auth = {"Authorization": "Token " + base64.b64encode(b"demo-emsp-token").decode()}
    versions = httpx.get(f"{url}/ocpi/versions", headers=auth).json()
    assert versions["data"] == [{"version": "2.2.1", "url": f"{url}/ocpi/2.2.1"}, {"version": "2.1.1", "url": f"{url}/ocpi/2.1.1"}]
    r = httpx.get(f"{url}/ocpi/2.2.1/sender/locations", params={"limit": 2}, headers=auth)
    assert r.status_code == 200 and r.json()["status_code"] == 1000
    assert r.headers["x-total-count"] == "36" and len(r.json()["data"]) == 2 and 'rel="next"' in r.headers["link"]
    assert httpx.get(f"{url}/ocpi/2.2.1/sender/tariffs", headers=auth).json()["data"]
    assert httpx.get(f"{url}/ocpi/2.2.1/sender/locations").status_code == 401
    assert httpx.get(f"{url}/schema/openapi.json").json()["info"]["title"] == "EV roaming hub"


def test_serve_demo_runs_chargers_whose_sessions_and_cdrs_reach_the_demo_emsp(serving: tuple[str, dict[str, str]]) -> None:
    """What the README shows after `make run`: two simulated chargers (OCPP 1.6 and 2.0.1) at GreenCharge's
    demo site, their EVSEs in the Location, their Sessions and CDRs at the demo eMSP."""
    url, env = serving
    auth = {"Authorization": "Token " + base64.b64encode(b"demo-emsp-token").decode()}
    deadline = time.time() + 60
    cdrs: list = []
    while time.time() < deadline and {c["cdr_location"]["evse_uid"] for c in cdrs} != {"DEMO16-1-1", "DEMO201-1-1"}:
        time.sleep(0.5)
        cdrs = httpx.get(f"{url}/ocpi/2.2.1/sender/cdrs", headers=auth).json()["data"]
    assert {c["cdr_location"]["evse_uid"] for c in cdrs} == {"DEMO16-1-1", "DEMO201-1-1"}
    drivers = dict(zip(("DEMO16-1-1", "DEMO201-1-1"), demo.DRIVER_TOKENS))  # each charger's driver has a token of their own
    assert all(c["cdr_token"]["uid"] == drivers[c["cdr_location"]["evse_uid"]] and c["total_energy"] > 0
               and c["total_cost"]["excl_vat"] > 0 for c in cdrs)
    sessions = httpx.get(f"{url}/ocpi/2.2.1/sender/sessions", params={"date_from": "2026-01-01T00:00:00Z"}, headers=auth).json()["data"]
    assert {s["id"] for s in sessions} >= {c["session_id"] for c in cdrs}
    site = httpx.get(f"{url}/ocpi/2.2.1/sender/locations/DEMO-OCPP", headers=auth).json()["data"]
    assert {e["uid"] for e in site["evses"]} == {"DEMO16-1-1", "DEMO16-1-2", "DEMO201-1-1", "DEMO201-1-2"}  # two connectors each
    listed = {c["identity"]: c for c in json.loads(run(["chargers", "list"], env).stdout)}
    assert listed["DEMO16-1"]["protocol"] == "ocpp1.6" and listed["DEMO201-1"]["protocol"] == "ocpp2.0.1"
    assert listed["DEMO16-1"]["connected"] and listed["DEMO201-1"]["connected"]


def test_serve_demo_prints_a_partner_credential_and_its_webhook_listener_prints_signed_events(
        serving: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    """What the README shows for the partner API after `make run`: the printed credential works, and the demo's
    webhook listener prints the chargers' events, each with a good signature."""
    url, _ = serving
    log = tmp_path / "hub.log"
    deadline = time.time() + 60
    while time.time() < deadline and "webhook cdr.created" not in log.read_text():
        time.sleep(0.5)
    text = log.read_text()
    assert "webhook charge_transaction.started" in text and "webhook cdr.created" in text and "BAD SIGNATURE" not in text
    client_id, secret = re.search(r"demo credential (hub_\w+) \(secret (\S+)\)", text).groups()  # type: ignore[union-attr]
    tokens = httpx.post(f"{url}/api/v1/auth/token", json={"clientId": client_id, "clientSecret": secret}).json()
    auth = {"Authorization": f"Bearer {tokens['accessToken']}"}
    site = httpx.get(f"{url}/api/v1/sites/NLGRN-DEMO-OCPP", headers=auth).json()
    assert site["chargePointCount"] == 4
    assert httpx.get(f"{url}/api/v1/charges", headers=auth).json()["meta"]["totalItemCount"] > 0
    assert httpx.get(f"{url}/api/v1/webhook-deliveries", params={"status": "succeeded"}, headers=auth).json()["data"]


async def test_a_party_registers_with_a_running_hub_and_is_listed(serving: tuple[str, dict[str, str]]) -> None:
    url, env = serving
    invite = json.loads(run(["ocpi", "invite", "--country-code", "DE", "--party-id", "CPX", "--role", "CPO"], env).stdout)
    party = OcpiParty("DE", "CPX", "CPO")
    await party.start()
    try:
        credentials = await party.register(invite["versions_url"], invite["token"])
        assert credentials.roles[0].role == "HUB"
    finally:
        await party.aclose()
    listed = json.loads(run(["ocpi", "parties"], env).stdout)
    cpx = next(p for p in listed if "DE/CPX CPO" in p["parties"])
    assert cpx["status"] == "CONNECTED" and cpx["registered"] and "location" in cpx["serves"]


def test_chargers_add_creates_the_location_and_prints_the_ocpp_url(hub_env: dict[str, str]) -> None:
    run(["db", "upgrade"], hub_env)
    added = run(["chargers", "add", "--identity", "CP-0001", "--party", "NL/GRN", "--location-id", "LOC-UTR-1",
                 "--password", "a-secret-of-16-to-40-chars", "--address", "Stationsplein 1", "--city", "Utrecht",
                 "--country", "NLD", "--lat", "52.0894", "--lon", "5.1102"], hub_env)
    assert added.returncode == 0, added.stderr
    ocpp = f"ws://127.0.0.1:{hub_env['HUB_OCPP_PORT']}/ocpp"
    assert json.loads(added.stdout) == {"identity": "CP-0001", "ocpp_url": f"{ocpp}/CP-0001", "location_id": "LOC-UTR-1"}
    (listed,) = json.loads(run(["chargers", "list"], hub_env).stdout)
    assert (listed["identity"], listed["party"], listed["connected"]) == ("CP-0001", "NL/GRN", False)
    short = run(["chargers", "add", "--identity", "CP-0002", "--party", "NL/GRN", "--location-id", "LOC-UTR-1", "--password", "short"], hub_env)
    assert short.returncode == 1 and "16 to 40" in short.stderr and "Traceback" not in short.stderr
    unknown = run(["chargers", "add", "--identity", "CP-0003", "--party", "NL/GRN", "--location-id", "NOWHERE"], hub_env)
    assert unknown.returncode == 1 and "NOWHERE" in unknown.stderr and "Traceback" not in unknown.stderr
    assert len(json.loads(run(["chargers", "list"], hub_env).stdout)) == 1


async def test_hubject_commands_configure_add_sync_and_show_status(hub_env: dict[str, str]) -> None:
    import asyncio

    from fixtures.hubject import HubjectStandIn

    def hub(*args: str) -> subprocess.CompletedProcess:
        return run(["hubject", *args], hub_env)

    run(["db", "upgrade"], hub_env)
    run(["chargers", "add", "--identity", "CP-0001", "--party", "NL/GRN", "--location-id", "LOC-UTR-1", "--address", "Stationsplein 1",
         "--city", "Utrecht", "--country", "NLD", "--lat", "52.0894", "--lon", "5.1102"], hub_env)
    async with HubjectStandIn() as standin:
        configured = await asyncio.to_thread(hub, "configure", "--base-url", standin.url)
        assert configured.returncode == 0, configured.stderr
        assert json.loads(configured.stdout)["inbound_allow"] == ["127.0.0.0/8", "::1/128"]
        bad = await asyncio.to_thread(hub, "configure", "--base-url", "https://example.com/wrong")
        assert bad.returncode == 1 and "/api/oicp" in bad.stderr and "Traceback" not in bad.stderr
        missing = await asyncio.to_thread(hub, "configure", "--base-url", standin.url, "--cert", "/nonexistent.pem", "--key", "/nonexistent.key")
        assert missing.returncode == 1 and "cannot use the certificate files" in missing.stderr and "Traceback" not in missing.stderr
        added = await asyncio.to_thread(hub, "add-operator", "--party", "NL/GRN", "--operator-id", "NL*GRN", "--hotline", "+31301234567")
        assert json.loads(added.stdout) == {"party": "NL/GRN", "operator_id": "NL*GRN"}, added.stderr
        other = await asyncio.to_thread(hub, "add-operator", "--party", "NL/GRN", "--operator-id", "DE*XYZ", "--hotline", "+31301234567")
        assert other.returncode == 1 and "not party NL/GRN's" in other.stderr and "Traceback" not in other.stderr
        # the charger has not connected: its Location has no EVSE, and a full load of nothing is refused
        synced = await asyncio.to_thread(hub, "sync", "--full")
        assert synced.returncode == 1 and "no EVSE to load" in synced.stdout
        status = json.loads((await asyncio.to_thread(hub, "status")).stdout)
        assert status["operators"] == {"NL/GRN": "NL*GRN"} and status["syncs"][0]["ok"] is False
        assert not standin.bodies("eRoamingPushEvseData")
        standin.assert_clean()


def test_outbox_commands_answer(hub_env: dict[str, str]) -> None:
    run(["db", "upgrade"], hub_env)
    listed = run(["outbox", "list", "--status", "parked"], hub_env)
    assert listed.returncode == 0 and json.loads(listed.stdout)["events"] == []
    assert json.loads(run(["outbox", "replay"], hub_env).stdout) == {"replayed": 0}


# --- docker ------------------------------------------------------------------------------------------


def test_compose_file_runs_the_hub_on_postgresql() -> None:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    hub, db = compose["services"]["hub"], compose["services"]["db"]
    assert db["image"].startswith("postgres")
    assert hub["depends_on"]["db"]["condition"] == "service_healthy"
    assert hub["environment"]["HUB_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert (ROOT / "docker" / hub["build"]["context"] / hub["build"]["dockerfile"]).resolve() == ROOT / "docker" / "Dockerfile"
    assert {"8000:8000", "9000:9000"} <= set(hub["ports"])


def test_dockerfile_copies_what_exists_and_uses_the_entrypoint() -> None:
    lines = (ROOT / "docker" / "Dockerfile").read_text().splitlines()
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert 'ENTRYPOINT ["hub-entrypoint"]' in lines
    assert os.access(ROOT / "docker" / "entrypoint.sh", os.X_OK)


def test_entrypoint_migrates_then_serves(hub_env: dict[str, str], tmp_path: Path) -> None:
    """The image's entrypoint command, run here as the container would run it."""
    env = {**hub_env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    with running(["sh", str(ROOT / "docker" / "entrypoint.sh")], env, tmp_path / "hub.log"):
        pass
