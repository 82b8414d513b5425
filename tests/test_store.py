"""The database under the store: on PostgreSQL, SELECTs straight through asyncpg (hub/store/pgreads.py) give what
SQLAlchemy gives, inside the writer's transaction when in a write, and the held connections survive a lost
connection; on both backends, commits wait for the disk only when asked (durable_commits)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from hub.store import schema
from hub.store.db import Database
from tests.conftest import PG_URL, _pg_admin_dsn

T = schema.parties

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"] if PG_URL else [], indirect=True)


async def _db(url: str, durable: bool = False) -> Database:
    db = Database(url, durable=durable)
    await db.start()
    return db


@pytest.mark.parametrize("durable", [False, True])
async def test_commits_wait_for_the_disk_when_asked(database_url: str, durable: bool) -> None:
    db = await _db(database_url, durable)
    try:
        if db.dialect == "sqlite":  # the writer's connection: FULL (2) syncs at every commit, NORMAL (1) at checkpoints
            setting = await db.write(lambda tx: tx.execute(sa.text("PRAGMA synchronous")).scalar())
            assert setting == (2 if durable else 1)
        else:
            written = await db.write(lambda tx: tx.execute(sa.text("SHOW synchronous_commit")).scalar())
            read = await db.read(lambda conn: conn.execute(sa.text("SHOW synchronous_commit")).scalar())
            assert written == read == ("on" if durable else "off")
    finally:
        await db.close()


def _party(n: int) -> dict[str, Any]:
    return {"country_code": "NL", "party_id": f"P{n:02d}", "role": "CPO", "name": f"party {n}", "updated_us": n}


@postgresql_only
async def test_selects_give_what_sqlalchemy_gives(database_url: str) -> None:
    db = await _db(database_url)
    try:
        await db.write(lambda tx: tx.execute(sa.insert(T), [_party(n) for n in range(5)]))
        statements = [
            sa.select(T).order_by(T.c.party_id),  # every column, NULLs among them
            sa.select(sa.true(), sa.literal_column("'x'::bytea")),  # a Boolean, bytes
            sa.select(T.c.party_id, T.c.name).where(T.c.party_id == sa.bindparam("pid")),
            sa.select(T.c.name).where(T.c.party_id == "P03"),  # a value in the statement, not a parameter
            sa.select(T.c.party_id).where(T.c.party_id.in_(["P01", "P02"])).order_by(T.c.party_id),  # expanding: SQLAlchemy's
            sa.select(sa.func.count()).select_from(T),
            sa.text("SELECT party_id FROM parties ORDER BY party_id DESC"),
        ]
        for statement in statements:
            fast = await db.read(lambda conn: [tuple(r) for r in conn.execute(statement, {"pid": "P04"})])
            plain = await db.read(lambda conn: [tuple(r) for r in conn.conn.execute(statement, {"pid": "P04"})])
            assert fast == plain and fast, statement
        row = await db.read(lambda conn: conn.execute(sa.select(T.c.name, T.c.updated_us).where(T.c.party_id == "P02")).one())
        assert (row.name, row.updated_us) == ("party 2", 2)
        assert await db.read(lambda conn: conn.execute(sa.select(T.c.name).where(T.c.party_id == "NONE")).first()) is None
        assert await db.read(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(T)).scalar_one()) == 5
        assert db._forms, "the SELECTs went through SQLAlchemy, not asyncpg"
        missing = sa.table("no_such_table", sa.column("x"))
        with pytest.raises(sa.exc.ProgrammingError, match="does not exist"):  # the class SQLAlchemy would raise
            await db.read(lambda conn: conn.execute(sa.select(missing.c.x)).all())
    finally:
        await db.close()


@postgresql_only
async def test_a_select_in_a_write_runs_in_its_transaction(database_url: str) -> None:
    db = await _db(database_url)
    xact = sa.select(sa.func.txid_current())
    try:
        def op(tx: Any) -> tuple[int, int, int]:
            first = tx.execute(xact).scalar()  # the first statement: SQLAlchemy begins the transaction
            second = tx.execute(xact).scalar()  # asyncpg, in that transaction
            tx.execute(sa.insert(T).values(**_party(7)))
            return first, second, tx.execute(xact).scalar()

        first, second, third = await db.write(op)
        assert first == second == third
        assert any("txid_current" in str(form.sql) for form in db._forms.values() if hasattr(form, "sql"))
    finally:
        await db.close()


@postgresql_only
async def test_a_lost_connection_is_replaced(database_url: str) -> None:
    db = await _db(database_url)
    try:
        await db.write(lambda tx: tx.execute(sa.insert(T).values(**_party(1))))
        count = sa.select(sa.func.count()).select_from(T)
        assert await db.read(lambda conn: conn.execute(count).scalar()) == 1
        admin = await asyncpg.connect(_pg_admin_dsn())
        try:  # every connection of this database but the admin's own: the held readers and the writer
            name = database_url.rsplit("/", 1)[1]
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        finally:
            await admin.close()
        failures = 0
        for _ in range(2 * 12):  # each held reader fails once at most, then connects again
            try:
                assert await db.read(lambda conn: conn.execute(count).scalar()) == 1
            except sa.exc.DBAPIError:
                failures += 1
        assert await db.read(lambda conn: conn.execute(count).scalar()) == 1
        assert failures <= 12
        for _ in range(2):  # the writer too (its first batch may fail with the connection)
            try:
                await db.write(lambda tx: tx.execute(sa.insert(T).values(**_party(2))))
                break
            except sa.exc.DBAPIError:
                continue
        assert await db.read(lambda conn: conn.execute(count).scalar()) == 2
    finally:
        await db.close()
