"""The database: one writer per process with group commit, cheap reads, and change notifications.

Store operations are plain synchronous functions of a `Tx` (writes) or a `sa.Connection` (reads), written
once in SQLAlchemy Core and run on either backend:

- SQLite (the embedded default): the stdlib driver under SQLAlchemy, run inline on the event loop: a
  batch of queued write operations per transaction (one commit for many writes), reads on their own WAL
  connection. Statements are short and indexed, and the work is CPU in Python either way, so a thread
  would add hops and lock contention, not parallelism (what aiosqlite would cost per statement). The one
  slow thing, the WAL checkpoint with its fsync, runs on a thread of its own.
- PostgreSQL (asyncpg): the same operations through `AsyncConnection.run_sync`, batched the same way on
  one held connection; reads on a set of held connections (a pool checkout cost what a read does). In
  both, SELECTs go straight through asyncpg (`pgreads`), the other statements through SQLAlchemy.
  Notifications also travel between processes with LISTEN/NOTIFY, so several `hub serve` processes
  sharing one database hear each other's changes.

A batch that fails is retried operation by operation, so one bad operation fails alone.
Every committed `Tx.notify(topic, payload)` reaches the subscribers of this process (and, on PostgreSQL,
of every other process) after the commit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from hub.store import pgreads, schema

log = logging.getLogger(__name__)

T = TypeVar("T")
Listener = Callable[[str, str], None]

CHANNEL = "hub_events"
MAX_BATCH = 256
FOLLOW_INTERVAL = 0.2  # seconds between looks at the changes other SQLite processes made
CHANGES_KEPT_US = 60_000_000  # how long those stay in the changes table


POOL_SIZE = 16  # PostgreSQL connections per process (reads, the writer, LISTEN is its own)
PG_READERS = 12  # of those, held open for reads (and one for the writer): a pool checkout and return cost as
# much as a read itself


class Tx:
    """The handle a write operation gets: execute statements, and announce what changed.

    The operations of a batch share one Tx. A write that returns nothing can be deferred: deferred writes of one
    statement, from every operation of the batch, go to the database as one executemany (one round trip on
    PostgreSQL, where a statement at a time costs a round trip each) just before the next statement that reads,
    or at commit, so every read still sees every write before it. Only writes that may be reordered with the
    other deferred statements are deferred (they touch rows no other deferred statement touches)."""

    __slots__ = ("conn", "notes", "pending")

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.notes: list[tuple[str, str]] = []
        self.pending: dict[Any, list[Any]] = {}

    def execute(self, statement: Any, params: Any = None) -> sa.CursorResult:
        if self.pending:
            self.flush()
        return self.conn.execute(statement, params)

    def defer(self, statement: Any, params: dict[str, Any] | list[dict[str, Any]]) -> None:
        rows = self.pending.setdefault(statement, [])
        if isinstance(params, list):
            rows.extend(params)
        else:
            rows.append(params)

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        for statement, rows in pending.items():
            self.conn.execute(statement, rows)

    def notify(self, topic: str, payload: str = "") -> None:
        self.notes.append((topic, payload))

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name


class Database:
    def __init__(self, url: str, durable: bool = False) -> None:
        self.url = make_url(url)
        self.durable = durable  # commits wait for the disk (else a crash of the machine may lose the last moments)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite+aiosqlite:// or postgresql+asyncpg://")
        self.instance = uuid.uuid4().hex[:12]
        self._listeners: list[Listener] = []
        self._queue: list[tuple[Callable[[Tx], Any], asyncio.Future]] = []
        self._kick = asyncio.Event()
        self._writer_task: asyncio.Task | None = None
        self._pg_listener: Any = None
        self._foreign: list[Listener] = []
        self._closing = False
        self.share = False  # SQLite: write this process's notes to the changes table for a serving process to follow

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.dialect == "sqlite":
            sync_url = self.url.set(drivername="sqlite")
            self._write_engine = sa.create_engine(sync_url, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})
            # Reads run on the loop thread one at a time: one connection in autocommit mode (no open read
            # transaction, so every read sees the latest commit) serves them all.
            self._read_engine = sa.create_engine(
                sync_url, poolclass=sa.pool.StaticPool, isolation_level="AUTOCOMMIT", connect_args={"check_same_thread": False}
            )
            for engine in (self._write_engine, self._read_engine):
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            if self.durable:
                sa.event.listen(self._write_engine, "connect", lambda dbapi_conn, _: dbapi_conn.execute("PRAGMA synchronous=FULL"))
            # A write transaction takes the database's write lock when it begins: a read-modify-write of another
            # process (the CLI beside `hub serve`) can then never slip in between (and a deferred transaction
            # that reads first could not take the lock later anyway: SQLITE_BUSY_SNAPSHOT)
            sa.event.listen(self._write_engine, "connect", _manual_transactions)
            sa.event.listen(self._write_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
            self._writer_conn = self._write_engine.connect()
            self._writer_conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")  # checkpoints: see _checkpoints
            self._writer_conn.commit()
            self._reader = self._read_engine.connect()
            self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-checkpoint")
            self._checkpoint_task = asyncio.get_running_loop().create_task(self._checkpoints())
            self._follow_task: asyncio.Task | None = None
        else:
            # A fixed pool: beyond it requests wait for a connection. Overflow connections were opened and closed
            # for single reads under load (a TCP and TLS handshake each: a third of the process's time)
            self._engine = create_async_engine(self.url.set(drivername="postgresql+asyncpg"), pool_size=POOL_SIZE, max_overflow=0,
                                               connect_args={"server_settings": {"synchronous_commit": "on" if self.durable else "off"}})
            # Reads outside a transaction: one round trip each, not three (BEGIN, the query, ROLLBACK); under READ
            # COMMITTED a transaction gave a read nothing more (each statement sees the latest commits anyway)
            self._pg_reads = self._engine.execution_options(isolation_level="AUTOCOMMIT")
            self._readers: asyncio.Queue[AsyncConnection | None] = asyncio.Queue()
            for _ in range(PG_READERS):
                self._readers.put_nowait(None)  # connected at first use
            self._pg_writer: AsyncConnection | None = None
            self._forms: dict[Any, Any] = {}  # pgreads' compiled statements
            await self._listen_pg()
        self._writer_task = asyncio.get_running_loop().create_task(self._writer(), name="hub-db-writer")

    async def close(self) -> None:
        self._closing = True
        if self._writer_task:
            self._kick.set()
            await self._writer_task
        if self.dialect == "sqlite":
            self._checkpoint_task.cancel()
            if self._follow_task is not None:
                self._follow_task.cancel()
            self._checkpointer.shutdown(wait=True)
            self._writer_conn.close()
            self._reader.close()
            self._write_engine.dispose()
            self._read_engine.dispose()
        else:
            if self._pg_listener is not None:
                await self._pg_listener.close()
            readers = [await self._readers.get() for _ in range(PG_READERS)]  # the reads under way end first
            for conn in [self._pg_writer, *readers]:
                if conn is not None:
                    await conn.close()
            await self._engine.dispose()

    # --- writes ------------------------------------------------------------------------------

    async def write(self, op: Callable[[Tx], T]) -> T:
        """Run `op` in a transaction (shared with other queued operations) and return its result."""
        if self._writer_task is None or self._closing:
            raise RuntimeError("database is not running")
        future = asyncio.get_running_loop().create_future()
        self._queue.append((op, future))
        self._kick.set()
        return await future

    async def _writer(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    outcomes, notes = await self._run(batch)
                except BaseException as exc:  # the database itself failed: fail the whole batch
                    log.exception("write batch failed")
                    outcomes, notes = [(False, exc)] * len(batch), []
                for (_, future), (ok, value) in zip(batch, outcomes):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
                self._deliver(notes)
            if self._closing and not self._queue:
                return

    async def _run(self, batch: list) -> tuple[list[tuple[bool, Any]], list[tuple[str, str]]]:
        if self.dialect == "sqlite":
            return self._run_sync_sqlite(batch)
        self._pg_writer = self._pg_writer or await self._engine.connect()
        return await self._pg_writer.run_sync(self._run_batch, batch)

    def _run_sync_sqlite(self, batch: list) -> tuple[list[tuple[bool, Any]], list[tuple[str, str]]]:
        with self._write_engine.connect() as conn:
            return self._run_batch(conn, batch)

    def _reading(self, conn: sa.Connection) -> Any:
        """The connection operations get: on PostgreSQL, one whose SELECTs go straight through asyncpg."""
        return pgreads.Reader(conn, self._forms) if self.dialect == "postgresql" else conn

    def _run_batch(self, conn: sa.Connection, batch: list) -> tuple[list[tuple[bool, Any]], list[tuple[str, str]]]:
        tx = Tx(self._reading(conn))
        try:
            with conn.begin():
                outcomes = [(True, op(tx)) for op, _ in batch]
                tx.flush()
                self._publish(tx)
            return outcomes, tx.notes
        except Exception as exc:
            if len(batch) == 1:  # the operation's own failure (a domain error, a constraint): the caller's to report
                return [(False, exc)], []
        # One operation spoiled the batch: run each alone so that only the bad one fails.
        outcomes, notes = [], []
        for op, _ in batch:
            tx = Tx(self._reading(conn))
            try:
                with conn.begin():
                    value = op(tx)
                    tx.flush()
                    self._publish(tx)
                outcomes.append((True, value))
                notes.extend(tx.notes)
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes, notes

    def _publish(self, tx: Tx) -> None:
        """Notifications go out with the commit to the other processes: on PostgreSQL by NOTIFY; on SQLite, from
        a process that shares them (the CLI), as rows of the changes table that the serving process follows."""
        if not tx.notes:
            return
        if self.dialect == "postgresql":
            tx.conn.execute(
                sa.text("SELECT pg_notify(:channel, :payload)"),
                [{"channel": CHANNEL, "payload": f"{self.instance}|{t}|{p}"} for t, p in tx.notes],
            )
        elif self.share:
            now = time.time_ns() // 1000
            tx.conn.execute(sa.insert(schema.changes), [
                {"instance": self.instance, "topic": t, "payload": p, "at_us": now} for t, p in tx.notes
            ])

    async def _checkpoints(self) -> None:
        """Fold the WAL into the database file every second, off the event loop (PASSIVE: never waits)."""
        path = sqlite_path(self.url.render_as_string(hide_password=False))

        def checkpoint() -> None:
            conn = sqlite3.connect(path, timeout=10)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()

        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            try:
                await loop.run_in_executor(self._checkpointer, checkpoint)
            except sqlite3.Error as exc:
                log.warning("WAL checkpoint failed: %s", exc)

    # --- reads -------------------------------------------------------------------------------

    async def read(self, op: Callable[[sa.Connection], T]) -> T:
        if self.dialect == "sqlite":
            return op(self._reader)
        if self._closing:  # the held connections are being closed: a read of the last moments gets one of its own
            async with self._pg_reads.connect() as own:
                return await own.run_sync(lambda sync: op(self._reading(sync)))
        conn = await self._readers.get()
        try:
            conn = conn or await self._pg_reads.connect()
            return await conn.run_sync(lambda sync: op(self._reading(sync)))
        finally:  # held, also after a lost connection: SQLAlchemy connects it again at its next use
            self._readers.put_nowait(conn)

    # --- notifications -----------------------------------------------------------------------

    async def publish(self, topic: str, payload: str = "") -> None:
        """A notification outside any write, for the other processes (PostgreSQL); SQLite has no others."""
        if self.dialect == "postgresql":
            async with self._engine.connect() as conn:
                await conn.execute(sa.text("SELECT pg_notify(:channel, :payload)"),
                                   {"channel": CHANNEL, "payload": f"{self.instance}|{topic}|{payload}"})
                await conn.commit()

    def subscribe(self, listener: Listener, foreign_only: bool = False) -> None:
        """`listener(topic, payload)` after each commit; `foreign_only`: only for what other processes changed."""
        (self._foreign if foreign_only else self._listeners).append(listener)

    def _deliver(self, notes: list[tuple[str, str]], foreign: bool = False) -> None:
        listeners = self._listeners + self._foreign if foreign else self._listeners
        for topic, payload in notes:
            for listener in listeners:
                try:
                    listener(topic, payload)
                except Exception:
                    log.exception("listener failed on %s", topic)

    def follow(self) -> None:
        """SQLite: hear what other processes (the CLI) change while this one serves."""
        if self.dialect == "sqlite" and self._follow_task is None:
            self._follow_task = asyncio.get_running_loop().create_task(self._follow(), name="hub-db-follow")

    async def _follow(self) -> None:
        c = schema.changes
        last = self._reader.execute(sa.select(sa.func.max(c.c.seq))).scalar() or 0
        pruned = 0.0
        while True:
            await asyncio.sleep(FOLLOW_INTERVAL)
            try:
                rows = self._reader.execute(sa.select(c.c.seq, c.c.instance, c.c.topic, c.c.payload).where(c.c.seq > last).order_by(c.c.seq)).all()
                if rows:
                    last = rows[-1].seq
                    self._deliver([(r.topic, r.payload) for r in rows if r.instance != self.instance], foreign=True)
                if time.monotonic() - pruned > 60:
                    pruned = time.monotonic()
                    cutoff = time.time_ns() // 1000 - CHANGES_KEPT_US
                    await self.write(lambda tx: tx.execute(sa.delete(c).where(c.c.at_us < cutoff)))
            except (sqlite3.Error, sa.exc.SQLAlchemyError) as exc:
                log.warning("following other processes' changes failed: %s", exc)
    async def _listen_pg(self) -> None:
        import asyncpg

        dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pg_listener = await asyncpg.connect(dsn)

        def on_note(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            instance, topic, body = payload.split("|", 2)
            if instance != self.instance:  # our own were delivered at commit
                self._deliver([(topic, body)], foreign=True)

        await self._pg_listener.add_listener(CHANNEL, on_note)


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable across crashes of the process; WAL keeps it consistent (FULL: durable_commits)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _manual_transactions(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # the driver begins nothing itself: the "begin" listener does


def sqlite_path(url: str) -> str | None:
    u = make_url(url)
    return u.database if u.get_backend_name() == "sqlite" else None


def ensure_parent_dir(url: str) -> None:
    path = sqlite_path(url)
    if path and path != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
