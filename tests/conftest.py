"""Shared fixtures: a database per test on SQLite and (when HUB_TEST_DATABASE_URL is set) PostgreSQL, the hub
served over real HTTP on loopback, and scripted OCPI parties.

Each database starts from the Alembic migrations: they run once per backend into a template (a file for
SQLite, a template database for PostgreSQL) that every test copies, so the tests stay fast.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from fixtures.loopback import Loopback
from fixtures.ocpi_party import OcpiParty, free_port
from hub.app import Hub, create_app
from hub.settings import Settings
from hub.store.migrate import upgrade

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "data" / "spec"  # the official examples the tests read, with their provenance (SOURCE.md)


def _pg_admin_dsn() -> str:
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "hub.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> str:
    name = f"hub_template_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(_pg_admin_dsn())
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    _run_outside_loop(create)
    upgrade(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))  # type: ignore[arg-type]
    yield name

    async def drop() -> None:
        conn = await asyncpg.connect(_pg_admin_dsn())
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    _run_outside_loop(drop)


def _run_outside_loop(fn) -> None:  # noqa: ANN001
    """Session fixtures may be set up from inside the test's event loop: run the coroutine on a thread."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, fn()).result()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "hub.db"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"hub_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_pg_admin_dsn())
    await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    await conn.close()
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)  # type: ignore[arg-type]
    conn = await asyncpg.connect(_pg_admin_dsn())
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


TEST_SECRET_KEY = "a-test-key-that-encrypts-tokens-at-rest"  # noqa: S105


def hub_settings(database_url: str, port: int, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        database_url=database_url, host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}",
        country_code="NL", party_id="HUB", forward_timeout=3.0, offline_after=1.0, outbox_backoff_max=0.2,
        alive_check_interval=0.3, log_level="WARNING", ocpi_allow_private=True,
        secret_key=TEST_SECRET_KEY, ocpp_port=0,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class Served:
    """The hub app served by uvicorn on a loopback port, in this event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hub = Hub(settings)
        self.app = create_app(settings, self.hub)
        self.url = settings.base_url
        self.server = Loopback(self.app, settings.port)

    async def __aenter__(self) -> Served:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[Served]:
    async with Served(hub_settings(database_url, free_port())) as s:
        yield s


@pytest.fixture
async def http(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the served hub."""
    async with httpx.AsyncClient(base_url=served.url, timeout=20) as client:
        yield client


@pytest.fixture
async def make_party() -> AsyncIterator:
    parties: list[OcpiParty] = []

    async def make(country_code: str, party_id: str, role: str) -> OcpiParty:
        party = OcpiParty(country_code, party_id, role)
        await party.start()
        parties.append(party)
        return party

    yield make
    for p in parties:
        await p.aclose()
