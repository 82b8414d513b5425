"""Alembic environment: runs migrations on the async engine the hub uses (aiosqlite or asyncpg)."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from hub.store.schema import metadata

config = context.config


MIGRATION_LOCK = 0x6876625F6D6967  # an advisory lock id of the hub's own ("hub_mig")


def _migrate(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":  # processes starting together migrate one after the other
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        context.run_migrations()


async def _run() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url"))
    async with engine.connect() as connection:
        await connection.run_sync(_migrate)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run())
