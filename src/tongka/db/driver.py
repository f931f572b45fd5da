"""A PostgreSQL unit of work driven through asyncpg itself, for the hottest paths.

Why: on this platform's 2-core reference machine a single-transfer transaction costs the
client ~550 µs of CPU through SQLAlchemy (pool check-out, ``BEGIN``, the statement,
``COMMIT`` and check-in, each hop through SQLAlchemy's greenlet bridge) and ~150 µs
through asyncpg alone, for the same three round trips and the same SQL. With the database
on the same cores, that difference is the difference between ~2,000 and ~3,000
transactions a second (docs/decisions/0005-driver-unit-of-work.md).

A ``DriverConnection`` is an asyncpg connection inside a transaction, taken from a
``DriverPool``: connections the engine itself opens (the same URL, arguments and codecs)
and hands over for good, kept idle between transactions. (Checking a connection out of
SQLAlchemy's pool and back in for every transaction measured ~110 µs of client CPU under
load, a third of a single transfer.) It runs only hand-written statements
(``tongka.db.statements.DriverStatement``): the code that takes it
(``tongka.ledger.post_transfers``, ``post_batch``, ``get_balances``, ``get_transfer``) is
written for it. Open one with ``Database.driver_transaction()`` or
``Database.run_driver(work)``; the caller owns the transaction as with every other unit
of work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    import asyncpg

    from tongka.db.statements import DriverStatement

# How long a driver unit of work waits for a free connection before giving up (as
# SQLAlchemy's pool does by default).
ACQUIRE_TIMEOUT_SECONDS = 30.0


class DriverNeedsPostgreSQL(RuntimeError):
    """A driver unit of work was asked of a database that is not PostgreSQL."""


class DriverConnection:
    """An asyncpg connection in a transaction (see the module docstring).

    ``sync_engine`` identifies the database for per-engine caches (the ledger's account
    metadata); ``slot`` is the server process id, fixed for the connection and different
    between all connections open at once (the ledger's preferred hot-account shard).
    """

    dialect = "postgresql"

    def __init__(
        self,
        connection: asyncpg.Connection,
        sync_engine: Engine,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.connection = connection
        self.sync_engine = sync_engine
        self.slot: int = connection.get_server_pid()
        # the ORM session whose transaction this runs in (``statements.driver_of``): what
        # the session remembers of its transaction (the ledger accounts it opened, not yet
        # committed) is the driver's too; None for a transaction of the driver's own
        self.info = info

    async def fetch(
        self, statement: DriverStatement, values: Mapping[str, Any] | None = None
    ) -> Sequence[asyncpg.Record]:
        rows: Sequence[asyncpg.Record] = await self.connection.fetch(
            statement.sql, *statement.arguments(values or {})
        )
        return rows

    async def execute(
        self, statement: DriverStatement, values: Mapping[str, Any] | None = None
    ) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        status: str = await self.connection.execute(
            statement.sql, *statement.arguments(values or {})
        )
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        """A nested transaction (``SAVEPOINT``): rolled back alone if its block raises."""
        transaction: AbstractAsyncContextManager[Any] = self.connection.transaction()
        return transaction


class DriverPoolExhausted(TimeoutError):
    """No driver connection came free in time: more concurrent work than the pool's size."""


class DriverPool:
    """Idle asyncpg connections for driver units of work, at most ``size`` in use at once.

    New connections come from the engine (``raw_connection()``, then detached from its
    pool), so they are made exactly as every other connection of the application, but are
    no longer counted in or returned to SQLAlchemy's pool. The most recently used idle
    connection is handed out first, so a quiet process keeps few warm ones.
    """

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        if engine.dialect.name != "postgresql":
            raise DriverNeedsPostgreSQL(
                "a driver unit of work needs PostgreSQL; on "
                f"{engine.dialect.name} use Database.connection_transaction()"
            )
        self.engine = engine
        self.size = size
        self._idle: list[asyncpg.Connection] = []
        self._free_slots = asyncio.Semaphore(size)

    async def acquire(self) -> asyncpg.Connection:
        try:
            if self._free_slots.locked():  # wait, but not forever (no timer when one is free)
                async with asyncio.timeout(ACQUIRE_TIMEOUT_SECONDS):
                    await self._free_slots.acquire()
            else:
                await self._free_slots.acquire()
        except TimeoutError:
            raise DriverPoolExhausted(
                f"no driver connection came free within {ACQUIRE_TIMEOUT_SECONDS:g} s "
                f"({self.size} in use)"
            ) from None
        try:
            while self._idle:
                connection = self._idle.pop()
                if not connection.is_closed():
                    return connection
            pooled = await self.engine.raw_connection()
            driver_connection: asyncpg.Connection = pooled.driver_connection
            pooled.detach()
            return driver_connection
        except BaseException:
            self._free_slots.release()
            raise

    def release(self, connection: asyncpg.Connection) -> None:
        """Keep a connection in a clean state for the next unit of work; close any other."""
        try:
            if connection.is_closed():
                return
            if connection.is_in_transaction():
                connection.terminate()  # its state is in doubt: never hand it out again
                return
            self._idle.append(connection)
        finally:
            self._free_slots.release()

    async def dispose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()


@asynccontextmanager
async def driver_transaction(pool: DriverPool) -> AsyncIterator[DriverConnection]:
    """Take a connection from ``pool``, run the block in a transaction on it (commit when
    the block ends, roll back if it raises), and give the connection back.

    A connection whose state is in doubt afterwards (the rollback failed, it is still in a
    transaction) is closed rather than returned to the pool.
    """
    connection = await pool.acquire()
    try:
        transaction = connection.transaction()
        await transaction.start()
        try:
            yield DriverConnection(connection, pool.engine.sync_engine)
        except BaseException:
            await transaction.rollback()
            raise
        await transaction.commit()
    finally:
        pool.release(connection)
