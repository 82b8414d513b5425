"""Several processes on one database, as a user runs them: `hub serve` and the CLI beside it. What one process
changes reaches the others within a second, on the embedded SQLite default as on PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from sqlalchemy.engine import make_url

from fixtures.ocpi_party import free_port
from hub.app import Hub
from hub.store import documents as docs
from hub.store.migrate import upgrade
from tests.conftest import ROOT, TEST_SECRET_KEY, Served, _pg_admin_dsn, hub_settings
from tests.test_cli import HUB, run, running
from tests.test_ocpp_e2e import CPO, _site

EMSP_TOKEN = "an-emsp-token-of-the-test-platform"  # noqa: S105


def process_env(database_url: str, directory: Path) -> dict[str, str]:
    port = free_port()
    return {"HUB_DATABASE_URL": database_url, "HUB_PORT": str(port), "HUB_HOST": "127.0.0.1", "HUB_OCPP_PORT": str(free_port()),
            "HUB_LOG_LEVEL": "WARNING", "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}", "HUB_OCPI_ALLOW_PRIVATE": "true",
            "HUB_SECRET_KEY": TEST_SECRET_KEY}


async def _emsp_platform(env: dict[str, str]) -> None:
    """An eMSP platform with a known token (as the demo makes one)."""
    from hub.app import Hub
    from hub.model import PartyId
    from hub.settings import Settings
    from hub.store import platforms as store

    hub = Hub(Settings.from_env(env))
    await hub.start(serve=False)
    try:
        party = PartyId("NL", "EMS")
        await hub.core.db.write(lambda tx: store.set_parties(tx, store.create_platform(
            tx, name="eMSP", token_in=EMSP_TOKEN, token_kind="C", status="CONNECTED", claims=[(party, "EMSP")]), [(party, "EMSP", "eMSP", None)]))
    finally:
        await hub.stop()


async def _within(seconds: float, check) -> float:  # noqa: ANN001
    """How long `check()` took to come true (fails after `seconds`)."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not true within {seconds} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_cli_changes_reach_a_running_hub_within_a_second(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    env = process_env(database_url, tmp_path)
    await _emsp_platform(env)
    auth = {"Authorization": "Token " + base64.b64encode(EMSP_TOKEN.encode()).decode(),
            "OCPI-from-country-code": "NL", "OCPI-from-party-id": "EMS"}
    url = env["HUB_PUBLIC_URL"]
    with running(HUB + ["serve", "--no-migrate"], env, tmp_path / "hub.log"):
        async with httpx.AsyncClient(headers=auth, timeout=5) as http:
            # a charger for a CPO party the running hub has never heard of, at a new location
            added = await asyncio.to_thread(run, ["chargers", "add", "--identity", "NEW-1", "--party", "NL/CP1", "--location-id", "L1",
                                                  "--address", "Kerkstraat 1", "--city", "Utrecht", "--country", "NLD", "--lat", "52.09",
                                                  "--lon", "5.12"], env)
            assert added.returncode == 0, added.stderr
            start = {"response_url": f"{url}/nowhere/1", "token": {"country_code": "NL", "party_id": "EMS", "uid": "AA01", "type": "RFID",
                     "contract_id": "NL-EMS-C00000001-X", "issuer": "x", "valid": True, "whitelist": "ALWAYS",
                     "last_updated": "2026-01-01T00:00:00Z"}, "location_id": "L1", "evse_uid": "NEW-1-1"}

            async def routed() -> bool:  # the receiver is known: not 4001 any more (the charger is not connected: REJECTED)
                r = await http.post(f"{url}/ocpi/2.2.1/receiver/commands/START_SESSION", content=json.dumps(start),
                                    headers={"OCPI-to-country-code": "NL", "OCPI-to-party-id": "CP1"})
                return r.json()["status_code"] == 1000 and r.json()["data"]["result"] == "REJECTED"

            async def listed() -> bool:  # and its location is in the running hub's catalog
                r = await http.get(f"{url}/ocpi/2.2.1/sender/locations")
                return any(loc["id"] == "L1" for loc in r.json()["data"])

            assert await _within(1.5, routed) <= 1.5
            assert await _within(1.0, listed) <= 1.0
            # an invitation made beside the running hub works at once
            invited = await asyncio.to_thread(run, ["ocpi", "invite", "--country-code", "BE", "--party-id", "NEW", "--role", "EMSP"], env)
            token_a = json.loads(invited.stdout)["token"]
            r = await http.get(f"{url}/ocpi/versions", headers={"Authorization": "Token " + base64.b64encode(token_a.encode()).decode()})
            assert r.json()["status_code"] == 1000


def test_the_secret_key_comes_from_the_environment_or_beside_an_embedded_database(database_url: str, tmp_path: Path) -> None:
    """SQLite: a key made once and kept beside the database, readable by its owner only. PostgreSQL (several
    processes must share one key): HUB_SECRET_KEY is required, and its absence is said plainly."""
    env = {**process_env(database_url, tmp_path), "HUB_SECRET_KEY": ""}
    upgrade(database_url)
    if database_url.startswith("postgresql"):
        result = run(["ocpi", "parties"], env)
        assert result.returncode == 1 and "HUB_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr
        return
    assert run(["ocpi", "invite", "--country-code", "NL", "--party-id", "EMS", "--role", "EMSP"], env).returncode == 0
    key = Path(f"{database_url.split('///', 1)[1]}.key")
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600" and len(key.read_text().strip()) >= 32
    before = key.read_text()
    assert run(["ocpi", "parties"], env).returncode == 0 and key.read_text() == before  # made once, then kept
    printed = run(["secret-key"], {})
    assert printed.returncode == 0 and len(printed.stdout.strip()) >= 32


async def test_a_status_changed_elsewhere_is_not_taken_for_granted(database_url: str, make_party: Any) -> None:
    """A process remembers the statuses its chargers reported, to skip writes that change nothing. When another
    process changes such an EVSE, the next report from the charger is written again."""
    settings = hub_settings(database_url, free_port(), ocpp_port=0, ocpp_ping_interval=0.0)
    async with Served(settings) as served:
        site = await _site(served, make_party)
        cp = await site.charger("CP1", "1.6")
        await cp.status(1, "Available")
        other = Hub(msgspec.structs.replace(settings, port=free_port()))  # another process: the CLI, or a second hub
        await other.start(serve=False)
        try:
            await other.core.objects.patch_location(None, CPO, "LOC1", {"status": "OUTOFORDER", "last_updated": datetime.now(timezone.utc)},
                                                    evse_uid="CP1-1")
        finally:
            await other.stop()
        await asyncio.sleep(0.6)  # the other process's change is heard (SQLite: followed within 0.2 s)
        await cp.status(1, "Available")
        loc = await served.hub.core.objects.get(None, docs.LOCATION, ("NL", "GRN", "LOC1"))
        assert loc.evse("CP1-1").status == "AVAILABLE"  # type: ignore[union-attr]


@pytest.fixture
async def empty_database(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema yet, on the backend of `database_url`."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path}/new.db"
        return
    name = f"hub_empty_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_pg_admin_dsn())
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    conn = await asyncpg.connect(_pg_admin_dsn())
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def test_processes_using_a_new_database_at_once_all_succeed(empty_database: str, tmp_path: Path) -> None:
    """Two processes migrating a new database at once, then CLI commands making its first rows at once (the hub's
    own party, hosted parties) all succeed."""
    env = process_env(empty_database, tmp_path)

    def together(*commands: list[str]) -> list[subprocess.CompletedProcess]:
        procs = [subprocess.Popen(HUB + c, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c in commands]
        return [subprocess.CompletedProcess(p.args, p.wait(120), *p.communicate()) for p in procs]

    for result in together(["db", "upgrade"], ["db", "upgrade"]):
        assert result.returncode == 0, result.stderr
    for result in together(["ocpi", "invite", "--country-code", "BE", "--party-id", "ONE", "--role", "EMSP"],
                           ["ocpi", "invite", "--country-code", "BE", "--party-id", "TWO", "--role", "EMSP"],
                           ["chargers", "add", "--identity", "C1", "--party", "NL/CPA", "--location-id", "L1", "--address", "a",
                            "--city", "c", "--country", "NLD", "--lat", "52.1", "--lon", "5.1"]):
        assert result.returncode == 0, result.stderr
    parties = json.loads(run(["ocpi", "parties"], env).stdout)
    assert {p for x in parties for p in x["parties"]} >= {"BE/ONE EMSP", "BE/TWO EMSP"}
