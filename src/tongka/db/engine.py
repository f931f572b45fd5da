"""Engines for SQLite (embedded default) and PostgreSQL, transactions, and retries.

Why the SQLite set-up: SQLite allows one writer at a time. With WAL and ``BEGIN IMMEDIATE``
a writer takes the lock at the start of its transaction instead of failing at its first
write, so two writers queue (busy timeout) rather than deadlock.

Why the retry wrapper: on PostgreSQL (and distributed engines) a transaction may be aborted
with a serialization failure (40001) or deadlock (40P01), and a connection may be lost
(PostgreSQL restarted, the network cut). ``run*`` re-runs the whole unit of work where that
is safe (see ``Database.run``); what it cannot retry reaches the caller as one of two
domain errors (``tongka.db.errors``): ``OutcomeUnknown`` or ``RetryLater``.

Three kinds of unit of work, from the most general to the cheapest: an ORM session
(``transaction`` / ``run``), a Core connection (``connection_transaction`` /
``run_connection``) and, on PostgreSQL only, an asyncpg connection for the hottest paths
(``driver_transaction`` / ``run_driver``; see ``tongka.db.driver``).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import structlog
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tongka.config import Settings
from tongka.db.driver import DriverConnection, DriverPool, driver_transaction
from tongka.db.errors import OutcomeUnknown, RetryLater, connection_lost

T = TypeVar("T")
U = TypeVar("U", AsyncSession, AsyncConnection, DriverConnection)
log = structlog.get_logger(__name__)

RETRYABLE_SQLSTATES = {"40001", "40P01"}
MAX_ATTEMPTS = 8


def is_retryable_error(exc: BaseException) -> bool:
    """True for serialization failures, deadlocks and SQLite's 'database is locked'."""
    if isinstance(exc, asyncpg.PostgresError):  # raised as is on a driver connection
        return exc.sqlstate in RETRYABLE_SQLSTATES
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if sqlstate is None and orig is not None:
            # asyncpg errors wrapped by SQLAlchemy's adapter keep the original as __cause__
            sqlstate = getattr(getattr(orig, "__cause__", None), "sqlstate", None)
        if sqlstate in RETRYABLE_SQLSTATES:
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc):
            return True
    return False


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


DEFAULT_POOL_SIZE = 20
SQLITE_FILE_MODE = 0o600


def _private_sqlite_file(path: Path) -> None:
    """Create the database file owner-only (0600), like ``secret.key`` and ``demo.json``.

    The file holds the books, hashed secrets and encrypted card numbers: nobody else on the
    machine should read it. SQLite gives its ``-wal`` and ``-shm`` files the database file's
    mode, so creating the file first with 0600 covers them; files left by an older version
    with wider modes are tightened.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, SQLITE_FILE_MODE)
    os.close(descriptor)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(SQLITE_FILE_MODE)


def create_engine_for(
    url: str, *, pool_size: int = DEFAULT_POOL_SIZE, echo: bool = False
) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            _private_sqlite_file(Path(path))
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={
            "server_settings": {
                "timezone": "UTC",
                # a forgotten transaction must not hold locks or block block-sealing forever
                "idle_in_transaction_session_timeout": "60000",
            }
        },
    )


class Database:
    """An engine plus a session factory; the one place transactions are opened."""

    def __init__(self, engine: AsyncEngine, *, driver_pool_size: int | None = None) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._driver_pool_size = driver_pool_size
        self._driver_pool: DriverPool | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Database:
        return cls(create_engine_for(settings.resolved_database_url, **kwargs))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back on any exception.

        A lost connection leaves the block as ``OutcomeUnknown`` (``during_commit`` says
        whether it may have committed), whatever library noticed it first.
        """
        return _reporting_lost_connections(self._session_transaction())

    @asynccontextmanager
    async def _session_transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session, session.begin():
            yield session

    def connection_transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """Like ``transaction`` but on a Core connection, without an ORM session.

        For hot paths that only run SQL (the ledger's postings): a session's bookkeeping
        costs more client CPU per transaction than the posting itself.
        """
        return _reporting_lost_connections(self._connection_transaction())

    @asynccontextmanager
    async def _connection_transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as connection, connection.begin():
            yield connection

    async def run(
        self,
        work: Callable[[AsyncSession], Awaitable[T]],
        *,
        attempts: int = MAX_ATTEMPTS,
        idempotent: bool = False,
    ) -> T:
        """Run ``work`` in a transaction, re-running it whole where that is safe.

        Re-run (up to ``attempts`` times in all, with a short random back-off):

        * on a serialization failure (40001), a deadlock (40P01) or SQLite's "database is
          locked": the database rolled the transaction back, nothing of it happened;
        * on a connection lost before ``COMMIT`` was sent (during ``work`` or while
          connecting): a transaction whose connection is gone can only roll back;
        * on a connection lost *during* ``COMMIT`` only if ``idempotent``: the first run may
          have committed, so a re-run is safe only when ``work``'s own ids make a second run
          answer like the first (ledger postings: a replayed transfer id returns the
          original and changes nothing). Otherwise ``OutcomeUnknown`` is raised at once.

        ``work`` must be safe to repeat in the first two cases (it may run several times,
        and must not act outside the transaction). When the attempts run out it raises
        ``RetryLater`` (races) or ``OutcomeUnknown`` (connection); either way the caller may
        retry later with the same ids.
        """
        return await _retrying(self.transaction, work, attempts, idempotent)

    async def run_connection(
        self,
        work: Callable[[AsyncConnection], Awaitable[T]],
        *,
        attempts: int = MAX_ATTEMPTS,
        idempotent: bool = False,
    ) -> T:
        """``run`` on a Core connection (see ``connection_transaction``)."""
        return await _retrying(self.connection_transaction, work, attempts, idempotent)

    def driver_transaction(self) -> AbstractAsyncContextManager[DriverConnection]:
        """Like ``connection_transaction`` but on asyncpg itself (PostgreSQL only).

        For the hottest paths, whose SQL is hand-written (``tongka.db.statements``): the
        ledger's postings take it. Its connections are kept in a pool of their own, as
        large as the engine's pool unless ``driver_pool_size`` said otherwise. Raises
        ``DriverNeedsPostgreSQL`` on another database.
        """
        if self._driver_pool is None:
            engine_pool_size = getattr(self.engine.pool, "size", lambda: DEFAULT_POOL_SIZE)()
            size = self._driver_pool_size or engine_pool_size
            self._driver_pool = DriverPool(self.engine, size)
        return _reporting_lost_connections(driver_transaction(self._driver_pool))

    async def run_driver(
        self,
        work: Callable[[DriverConnection], Awaitable[T]],
        *,
        attempts: int = MAX_ATTEMPTS,
        idempotent: bool = False,
    ) -> T:
        """``run`` on a driver connection (see ``driver_transaction``)."""
        return await _retrying(self.driver_transaction, work, attempts, idempotent)

    async def dispose(self) -> None:
        if self._driver_pool is not None:
            await self._driver_pool.dispose()
            self._driver_pool = None
        await self.engine.dispose()


@asynccontextmanager
async def _reporting_lost_connections(
    unit_of_work: AbstractAsyncContextManager[U],
) -> AsyncIterator[U]:
    """``unit_of_work``, with a lost connection (whichever library, asyncpg, SQLAlchemy or
    the socket layer, reported it) raised as ``OutcomeUnknown``: ``during_commit`` if the
    block had finished, so the loss hit the commit."""
    committing = False
    try:
        async with unit_of_work as unit:
            yield unit
            committing = True
    except OutcomeUnknown:
        raise
    except Exception as error:
        if not connection_lost(error):
            raise
        raise OutcomeUnknown(during_commit=committing) from error


async def _retrying(
    open_unit: Callable[[], AbstractAsyncContextManager[U]],
    work: Callable[[U], Awaitable[T]],
    attempts: int,
    idempotent: bool,
) -> T:
    """Run ``work`` in a fresh unit of work, again where that is safe (see ``Database.run``)."""
    for attempt in range(1, attempts + 1):
        try:
            async with open_unit() as unit:
                return await work(unit)
        except OutcomeUnknown as error:
            if error.during_commit and not idempotent:
                raise
            if attempt == attempts:
                raise
            reason = "connection_lost"
        except (DBAPIError, asyncpg.PostgresError) as error:
            if not is_retryable_error(error):
                raise
            if attempt == attempts:
                raise RetryLater(
                    f"the transaction lost a race with concurrent ones {attempts} times: "
                    "nothing was committed; retry later"
                ) from error
            reason = type(getattr(error, "orig", error)).__name__
        log.info("db.retry", attempt=attempt, reason=reason)
        await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
    raise AssertionError("unreachable")
