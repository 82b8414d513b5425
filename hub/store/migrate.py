"""Schema migrations (Alembic), callable from the CLI, the app and the tests."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from hub.store.db import ensure_parent_dir, sqlite_path

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", async_url(database_url))
    return cfg


def async_url(database_url: str) -> str:
    """Migrations run on the async drivers: aiosqlite for SQLite, asyncpg for PostgreSQL."""
    url = make_url(database_url)
    driver = "sqlite+aiosqlite" if url.get_backend_name() == "sqlite" else "postgresql+asyncpg"
    return url.set(drivername=driver).render_as_string(hide_password=False).replace("%", "%%")


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate; callable with or without a running event loop (Alembic's env.py runs its own). Processes that
    migrate one database at once take turns (PostgreSQL: an advisory lock in env.py; SQLite: a lock file)."""
    ensure_parent_dir(database_url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _in_turn(database_url, lambda: command.upgrade(alembic_config(database_url), revision))
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_in_turn, database_url, lambda: command.upgrade(alembic_config(database_url), revision)).result()


def _in_turn(database_url: str, migrate: Callable[[], None]) -> None:
    path = sqlite_path(database_url)
    if not path or path == ":memory:":
        migrate()
        return
    with open(f"{path}.migrating", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        migrate()
