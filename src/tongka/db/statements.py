"""Hand-written statements that run on every kind of unit of work, and the helpers that
tell units of work apart.

A unit of work is an ORM ``AsyncSession``, a Core ``AsyncConnection`` (both SQLAlchemy:
``tongka.db.UnitOfWork``) or, on PostgreSQL's hottest paths, a ``DriverConnection``
(asyncpg itself). Code that must run on all three (the ledger's postings) writes its SQL
as ``DriverStatement``s and runs them with ``fetch_all`` / ``fetch_one`` /
``execute_count`` / ``savepoint``:

* on PostgreSQL the statement is compiled once, at import, for asyncpg, and sent as it
  is: by asyncpg on a driver connection, by ``exec_driver_sql`` on a SQLAlchemy unit (no
  per-call compilation either way). Values go to the driver unprocessed, so they must be
  what asyncpg takes (aware datetimes, lists for arrays); parameters declared ``JSON`` are
  serialised here. Rows come back unprocessed too, and are read by position.
* on SQLite the statement's ``sqlite`` form (the same clause unless given) runs through
  SQLAlchemy, which compiles it for SQLite and processes typed parameters and columns.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import JSON, Executable, TextClause
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tongka.db.driver import DriverConnection

# An ORM session or a Core connection: everything SQLAlchemy (most of the code base).
UnitOfWork = AsyncSession | AsyncConnection
# ... or a driver connection: what the ledger's posting and reading functions accept.
AnyUnitOfWork = AsyncSession | AsyncConnection | DriverConnection


class DriverStatement:
    """A statement compiled once for asyncpg, with the form SQLite runs (see the module)."""

    def __init__(self, clause: TextClause, *, sqlite: Executable | None = None) -> None:
        compiled = clause.compile(dialect=asyncpg_dialect())
        self.clause = clause
        self.sqlite: Executable = sqlite if sqlite is not None else clause
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        json_names = {
            name for name, parameter in compiled.binds.items() if isinstance(parameter.type, JSON)
        }
        self._json_positions = tuple(
            position for position, name in enumerate(self.names) if name in json_names
        )
        # the hot path calls this on every posting: pick the values out at C speed
        getter = operator.itemgetter(*self.names) if self.names else (lambda _values: ())
        self._pick = getter if len(self.names) != 1 else (lambda values: (getter(values),))

    def arguments(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional arguments asyncpg takes for these named values."""
        picked: tuple[Any, ...] = self._pick(values)
        if not self._json_positions:
            return picked
        arguments = list(picked)
        for position in self._json_positions:
            value = arguments[position]
            arguments[position] = "{}" if value == {} else json.dumps(value)
        return tuple(arguments)


def engine_of(unit: AnyUnitOfWork) -> Engine:
    """The engine behind a unit of work (cheaply: the hot path asks on every posting)."""
    if isinstance(unit, DriverConnection | AsyncConnection):
        return unit.sync_engine
    bind = unit.bind
    if bind is not None:
        return bind.sync_engine
    return unit.get_bind().engine


def dialect_of(unit: AnyUnitOfWork) -> str:
    if isinstance(unit, DriverConnection):
        return unit.dialect
    return engine_of(unit).dialect.name


async def connection_of(unit: UnitOfWork) -> AsyncConnection:
    """The connection a SQLAlchemy unit of work runs on (a session's, or the connection)."""
    if isinstance(unit, AsyncConnection):
        return unit
    return await unit.connection()


async def driver_of(session: AsyncSession) -> DriverConnection:
    """The session's own connection as a ``DriverConnection``, inside the session's open
    transaction (PostgreSQL): hand-written statements then go to asyncpg straight, without
    SQLAlchemy's per-statement bridge, and still commit or roll back with the session.
    Do not use the driver after the session's transaction ends."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy begins the database's transaction with its first statement: without
        # it the driver's statements would each commit on their own
        await connection.exec_driver_sql("SELECT 1")
    return DriverConnection(driver, connection.sync_engine, session.info)


async def fetch_all(
    unit: AnyUnitOfWork, statement: DriverStatement, values: Mapping[str, Any] | None = None
) -> Sequence[Any]:
    """Every row the statement returns (rows indexable by position on every unit)."""
    values = values or {}
    if isinstance(unit, DriverConnection):
        return await unit.fetch(statement, values)
    if dialect_of(unit) == "postgresql":
        connection = await connection_of(unit)
        result = await connection.exec_driver_sql(statement.sql, statement.arguments(values))
        return result.all()
    return (await unit.execute(statement.sqlite, values)).all()


async def fetch_one(
    unit: AnyUnitOfWork, statement: DriverStatement, values: Mapping[str, Any] | None = None
) -> Any:
    """The first row the statement returns, or None."""
    rows = await fetch_all(unit, statement, values)
    return rows[0] if rows else None


async def execute_count(
    unit: AnyUnitOfWork, statement: DriverStatement, values: Mapping[str, Any] | None = None
) -> int:
    """Run a statement that returns no rows; how many rows it changed."""
    values = values or {}
    if isinstance(unit, DriverConnection):
        return await unit.execute(statement, values)
    result: Any
    if dialect_of(unit) == "postgresql":
        connection = await connection_of(unit)
        result = await connection.exec_driver_sql(statement.sql, statement.arguments(values))
    else:
        result = await unit.execute(statement.sqlite, values)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def execute_many(
    unit: AnyUnitOfWork, statement: DriverStatement, values: Sequence[Mapping[str, Any]]
) -> None:
    """Run a statement that returns no rows once per set of values, sent together (asyncpg's
    ``executemany``: one round trip's worth of messages, not one per row)."""
    if not values:
        return
    if isinstance(unit, DriverConnection):
        await unit.connection.executemany(statement.sql, [statement.arguments(v) for v in values])
    elif dialect_of(unit) == "postgresql":
        connection = await connection_of(unit)
        await connection.exec_driver_sql(statement.sql, [statement.arguments(v) for v in values])
    else:
        await unit.execute(statement.sqlite, list(values))


def savepoint(unit: AnyUnitOfWork) -> AbstractAsyncContextManager[Any]:
    """A nested transaction on any unit of work: rolled back alone if its block raises."""
    if isinstance(unit, DriverConnection):
        return unit.savepoint()
    return unit.begin_nested()
