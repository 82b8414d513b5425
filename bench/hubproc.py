"""`hub serve` in a process of its own, as the benchmarks run it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from hub.store.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-key-that-encrypts-tokens-at-rest"  # noqa: S105 (the benchmarks' own throwaway databases)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(database_url: str, port: int, **env: str) -> subprocess.Popen:
    """The hub on `database_url` (migrated already), listening on `port`, once /health answers.
    `env`: more HUB_* settings; the OCPP server takes any free port unless HUB_OCPP_PORT says otherwise."""
    env = {**os.environ, "HUB_DATABASE_URL": database_url, "HUB_PORT": str(port), "HUB_HOST": "127.0.0.1",
           "HUB_LOG_LEVEL": "WARNING", "HUB_OCPP_PORT": "0", "HUB_SECRET_KEY": SECRET_KEY, "HUB_OCPI_ALLOW_PRIVATE": "true", **env}
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--no-migrate"], env=env, cwd=ROOT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the hub did not start")


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A new, migrated database's URL: a temporary SQLite file, or a PostgreSQL database created for the run
    on HUB_BENCH_PG_URL (default postgresql+asyncpg://postgres@127.0.0.1/postgres; it must allow CREATE
    DATABASE) and dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:  # gone afterwards: a big run leaves a gigabyte
            url = f"sqlite+aiosqlite:///{directory}/bench.db"
            upgrade(url)
            yield url
        return
    admin = make_url(os.environ.get("HUB_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1/postgres"))
    name = f"hub_bench_{uuid.uuid4().hex[:8]}"

    async def admin_sql(sql: str) -> None:
        conn = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False))
        await conn.execute(sql)
        await conn.close()

    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        url = admin.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
