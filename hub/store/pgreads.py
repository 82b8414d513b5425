"""Reads on PostgreSQL straight through asyncpg, for the statements the store writes in SQLAlchemy Core.

A read through SQLAlchemy's asyncpg dialect cost about three times what asyncpg alone does (an execution context,
parameter and result processing, Row objects: some 120 us of CPU per statement, measured on this project's
2-core machine), and the hub's chargers make several reads per transaction. Here a statement is compiled once
per SQLAlchemy cache key (so the statements built per call, with their values inlined, share one compiled form),
its parameters put in order and sent with asyncpg's own prepared-statement cache; the rows come back as named
tuples. Statements this does not cover (expanding IN lists, types with bind or result processing, anything not a
SELECT) go through SQLAlchemy as before: `Reader.execute` is a drop-in for `sa.Connection.execute`, in reads and
in the writer's transactions.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.util import await_only

_MAX_FORMS = 2048  # compiled forms kept (statements are few and fixed: this only bounds a mistake)


class _Form:
    __slots__ = ("compiled", "sql", "names", "row")

    def __init__(self, compiled: Any, sql: str, names: list[str], row: type) -> None:
        self.compiled, self.sql, self.names, self.row = compiled, sql, names, row


_UNSUITED = object()  # a statement that goes through SQLAlchemy


class Rows:
    """The part of SQLAlchemy's Result the store's reads use."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise sa.exc.NoResultFound("no row") if not self._rows else sa.exc.MultipleResultsFound("more than one row")
        return self._rows[0]

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise sa.exc.MultipleResultsFound("more than one row")
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> Rows:
        return Rows([r[0] for r in self._rows])


class Reader:
    """What a read operation gets on PostgreSQL in place of the connection: `execute` through asyncpg where it can."""

    __slots__ = ("conn", "_adapted", "_driver", "_forms")

    def __init__(self, conn: sa.Connection, forms: dict[Any, Any]) -> None:
        self.conn = conn
        self._adapted = conn.connection.dbapi_connection  # SQLAlchemy's adapter: it knows whether a transaction began
        self._driver = conn.connection.driver_connection
        self._forms = forms

    def __getattr__(self, name: str) -> Any:  # the rest of the connection, as it is
        return getattr(self.conn, name)

    def execute(self, statement: Any, params: Mapping[str, Any] | None = None) -> Any:
        # In a write, SQLAlchemy begins the transaction at its first statement: until it has, statements go through
        # it (a SELECT ... FOR UPDATE sent before would run outside the transaction and lock nothing)
        if isinstance(statement, sa.Select) and (self._adapted.autocommit or self._adapted._transaction is not None):
            cache_key = statement._generate_cache_key()
            form = self._forms.get(cache_key.key) if cache_key is not None else _UNSUITED
            if form is None:
                form = self._forms[cache_key.key] = _form(statement, cache_key, self.conn.dialect) if len(self._forms) < _MAX_FORMS else _UNSUITED
            if form is not _UNSUITED:
                values = form.compiled.construct_params(params, extracted_parameters=cache_key[1], _check=False)
                try:
                    records = await_only(self._driver.fetch(form.sql, *[values[n] for n in form.names]))
                except Exception as exc:
                    self._failed(form.sql, exc)
                    raise
                make = form.row._make
                return Rows([make(r) for r in records])
        return self.conn.execute(statement, params)

    def _failed(self, sql: str, exc: Exception) -> None:
        """Raise an asyncpg error as SQLAlchemy would (its class: ProgrammingError, OperationalError, ...), and mark
        a lost connection, which SQLAlchemy then connects again at its next use."""
        lost = self._driver.is_closed()
        try:
            self._adapted._handle_exception(exc)  # raises the error in the DBAPI's terms, as SQLAlchemy's adapter does
        except Exception as dbapi_error:
            if lost:
                self.conn.invalidate(dbapi_error)
            raise sa.exc.DBAPIError.instance(sql, None, dbapi_error, self.conn.dialect.loaded_dbapi.Error,
                                             connection_invalidated=lost) from exc


def _form(statement: sa.Select, cache_key: Any, dialect: sa.Dialect) -> Any:
    compiled = statement.compile(dialect=dialect, cache_key=cache_key)
    if compiled.post_compile_params or compiled.literal_execute_params or compiled._bind_processors:
        return _UNSUITED
    columns = compiled._result_columns
    try:
        if any(c.type._cached_result_processor(dialect, None) for c in columns):
            return _UNSUITED
    except TypeError:  # a type that needs the column's PostgreSQL type to say (numerics): SQLAlchemy's then
        return _UNSUITED
    names = [c.keyname for c in columns]
    if len(set(names)) != len(names) or not all(n.isidentifier() and not n.startswith("_") for n in names):
        return _UNSUITED
    return _Form(compiled, compiled.string, list(compiled.positiontup or []), namedtuple("Row", names))
