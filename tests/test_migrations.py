"""The Alembic migrations build exactly the tables `hub/store/schema.py` declares, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from hub.store.schema import metadata


async def test_migrations_match_the_schema(database_url: str) -> None:
    engine = create_async_engine(database_url)

    def diff(conn: sa.Connection) -> list:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
