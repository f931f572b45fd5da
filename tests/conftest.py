"""Shared fixtures: a fresh database on SQLite and on PostgreSQL, a clock, settings.

After every test that used a database fixture and wrote ledger rows, the books are checked
(per currency debits equal credits, stored balances equal the journal, no limit crossed):
a test that leaves them broken fails at teardown. Mark a test that breaks them on purpose
``@pytest.mark.tampers_with_books``.

The PostgreSQL suite runs against ``TONGKA_TEST_DATABASE_URL`` (default: the local server).
With ``CI=true`` a missing server fails the run; otherwise the PostgreSQL tests are skipped
with one clear line saying why.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.db.engine import create_engine_for
from tongka.db.models import import_all_models

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_ADMIN_URL = os.environ.get("TONGKA_TEST_DATABASE_URL", DEFAULT_PG_URL)
T = TypeVar("T")
IS_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_SECRET_KEY = "ab" * 32

_pg_problem: str | None = None
TAMPERS_MARK = "tampers_with_books"


def _url_with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _pg_execute(url: str, statement: str) -> None:
    engine = create_engine_for(url)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is running."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def _check_pg() -> str | None:
    try:
        run_blocking(_pg_execute(PG_ADMIN_URL, "SELECT 1"))
    except Exception as exc:  # any failure to connect means "no PostgreSQL here"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def pytest_configure(config: pytest.Config) -> None:
    global _pg_problem
    config.addinivalue_line(
        "markers",
        f"{TAMPERS_MARK}: the test breaks the books on purpose (e.g. to see verify notice);"
        " the automatic books check after it is skipped",
    )
    _pg_problem = _check_pg()
    if _pg_problem and IS_CI:
        raise pytest.UsageError(
            f"CI=true requires PostgreSQL at {PG_ADMIN_URL} but it is unreachable: {_pg_problem}"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _pg_problem:
        skip = pytest.mark.skip(reason=f"PostgreSQL unavailable ({_pg_problem})")
        for item in items:
            if "pg" in item.keywords:
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _pg_problem:
        terminalreporter.write_line(
            f"PostgreSQL suite SKIPPED: no server at {PG_ADMIN_URL} ({_pg_problem}); "
            "set TONGKA_TEST_DATABASE_URL or start PostgreSQL to run it.",
            yellow=True,
        )


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session, with every table created."""
    name = f"tongka_test_{uuid.uuid4().hex[:12]}"
    run_blocking(_pg_execute(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    url = _url_with_database(PG_ADMIN_URL, name)

    async def create_tables() -> None:
        engine = create_engine_for(url)
        async with engine.begin() as connection:
            await connection.run_sync(import_all_models().create_all)
        await engine.dispose()

    run_blocking(create_tables())
    yield url
    run_blocking(_pg_execute(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _fresh_sqlite(path: Path) -> Database:
    database = Database(create_engine_for(f"sqlite+aiosqlite:///{path.as_posix()}"))
    async with database.engine.begin() as connection:
        await connection.run_sync(import_all_models().create_all)
    return database


async def _fresh_pg(url: str) -> Database:
    database = Database(create_engine_for(url, pool_size=40))
    tables = ", ".join(f'"{table.name}"' for table in import_all_models().sorted_tables)
    if tables:
        async with database.engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return database


async def _checked_and_disposed(database: Database, request: pytest.FixtureRequest) -> None:
    """Every database fixture ends here: the books are checked (STYLE habit 8) unless the
    test is marked ``tampers_with_books``, then the engine is disposed."""
    try:
        if request.node.get_closest_marker(TAMPERS_MARK) is None:
            await check_books_if_touched(database)
    finally:
        await database.dispose()


@pytest.fixture
async def sqlite_database(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    database = await _fresh_sqlite(tmp_path / "test.db")
    yield database
    await _checked_and_disposed(database, request)


@pytest.fixture
async def pg_database(pg_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    database = await _fresh_pg(pg_url)
    yield database
    await _checked_and_disposed(database, request)


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The same test on both backends."""
    if request.param == "sqlite":
        db = await _fresh_sqlite(tmp_path / "test.db")
    else:
        db = await _fresh_pg(request.getfixturevalue("pg_url"))
    yield db
    await _checked_and_disposed(db, request)


@pytest.fixture(
    params=[
        ("sqlite", "session"),
        ("sqlite", "connection"),
        pytest.param(("pg", "session"), marks=pytest.mark.pg),
        pytest.param(("pg", "connection"), marks=pytest.mark.pg),
        pytest.param(("pg", "driver"), marks=pytest.mark.pg),
    ],
    ids=lambda pair: "-".join(pair),
)
async def database_and_unit_kind(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Database, str]]:
    """Each kind of unit of work on each database that has it (the driver: PostgreSQL);
    open one with ``tests.ledger_support.unit_of_work(database, kind)``."""
    backend, kind = request.param
    if backend == "sqlite":
        db = await _fresh_sqlite(tmp_path / "test.db")
    else:
        db = await _fresh_pg(request.getfixturevalue("pg_url"))
    yield db, kind
    await _checked_and_disposed(db, request)


REDIS_TEST_URL = os.environ.get("TONGKA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis_url() -> str:
    """The Redis server for tests marked ``redis``: fails with CI=true if absent, else skips."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_TEST_URL)
    try:
        await client.ping()
    except Exception as exc:  # any failure to connect means "no Redis here"
        problem = f"Redis unavailable at {REDIS_TEST_URL} ({type(exc).__name__}: {exc})"
        if IS_CI:
            pytest.fail(f"CI=true requires Redis: {problem}")
        pytest.skip(problem)
    finally:
        await client.aclose()
    return REDIS_TEST_URL


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> None:
    """argon2id with tiny parameters: production's ~0.2 s per hash would dominate the suite."""
    from argon2 import PasswordHasher

    from tongka.identity.passwords import use_password_hasher

    use_password_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "var",
        database_url=f"sqlite+aiosqlite:///{(tmp_path / 'test.db').as_posix()}",
        secret_key=TEST_SECRET_KEY,
    )


async def assert_books_balance(database: Database) -> None:
    """STYLE habit 8: the books balance, stored balances equal the transfers, no limit crossed.

    Runs by itself after every test that used one of the database fixtures above and wrote
    ledger rows (``check_books_if_touched``); call it to check in the middle of a test.
    """
    from tongka.ledger.verify import VerifyReport, check_balances

    report = VerifyReport()
    async with database.transaction() as session:
        await check_balances(session, report)
    assert report.ok, "ledger invariants broken:\n" + "\n".join(
        f"- {check.name}: {check.details}" for check in report.failures
    )


async def check_books_if_touched(database: Database) -> bool:
    """``assert_books_balance`` if the ledger has any rows (one cheap query otherwise);
    returns whether it checked."""
    async with database.transaction() as session:
        touched = await session.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM ledger_balances)"
                " OR EXISTS (SELECT 1 FROM ledger_transfers)"
            )
        )
    if touched:
        await assert_books_balance(database)
    return bool(touched)


@pytest.fixture
def books_balance(database: Database) -> Database:
    """The ``database`` fixture (the books are checked after every test that used it)."""
    return database
