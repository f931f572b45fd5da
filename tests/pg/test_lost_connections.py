"""A lost connection reaches callers as one domain error, ``OutcomeUnknown``, on every unit
kind; ``Database.run*`` re-runs what is safe to re-run (issue #9).

The connection is lost for real: the server process kills itself (``pg_terminate_backend``
of its own pid), either during the work or, from a deferred constraint trigger, while the
transaction commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text

from tests.ledger_support import balance_of, card_and_merchants, transfer, transfer_count
from tongka.clock import FixedClock
from tongka.db import AnyUnitOfWork, Database
from tongka.db.errors import OutcomeUnknown, RetryLater
from tongka.db.statements import DriverStatement, fetch_all
from tongka.ledger import post_transfers

pytestmark = pytest.mark.pg
PG_UNIT_KINDS = ["session", "connection", "driver"]
KILL_MYSELF = DriverStatement(text("SELECT pg_terminate_backend(pg_backend_pid())"))
SERIALIZATION_FAILURE = DriverStatement(
    text("DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = 'serialization_failure'; END $$")
)


def _runner(database: Database, kind: str) -> Callable[..., Awaitable[Any]]:
    return {
        "session": database.run,
        "connection": database.run_connection,
        "driver": database.run_driver,
    }[kind]


def _opener(database: Database, kind: str) -> Any:
    return {
        "session": database.transaction,
        "connection": database.connection_transaction,
        "driver": database.driver_transaction,
    }[kind]


@pytest.fixture
async def kill_at_next_commit(pg_database: Database) -> AsyncIterator[None]:
    """A deferred trigger that makes a transaction that posted a transfer lose its
    connection while committing, once ``_arm`` was called (a sequence, which no rollback
    resets, makes it happen once)."""
    statements = [
        "CREATE SEQUENCE kill_once START 2",  # disarmed
        "CREATE FUNCTION kill_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF nextval('kill_once') = 1 THEN"
        " PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER kill_at_commit AFTER INSERT ON ledger_transfers"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION kill_at_commit()",
    ]
    async with pg_database.engine.begin() as connection:
        for statement in statements:
            await connection.exec_driver_sql(statement)
    yield
    async with pg_database.engine.begin() as connection:
        await connection.exec_driver_sql("DROP TRIGGER kill_at_commit ON ledger_transfers")
        await connection.exec_driver_sql("DROP FUNCTION kill_at_commit")
        await connection.exec_driver_sql("DROP SEQUENCE kill_once")


async def _arm(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql("SELECT setval('kill_once', 1, false)")


@pytest.mark.parametrize("kind", PG_UNIT_KINDS)
async def test_a_connection_lost_during_the_work_is_outcome_unknown_not_committed(
    pg_database: Database, kind: str
) -> None:
    with pytest.raises(OutcomeUnknown) as lost:
        async with _opener(pg_database, kind)() as unit:
            await fetch_all(unit, KILL_MYSELF)
    assert lost.value.code == "outcome_unknown"
    assert lost.value.kind == "unavailable"  # HTTP 503
    assert lost.value.during_commit is False
    assert lost.value.message == "outcome unknown: retry with the same ids"
    # and the next unit of work gets a live connection
    async with _opener(pg_database, kind)() as unit:
        assert (await fetch_all(unit, DriverStatement(text("SELECT 1"))))[0][0] == 1


@pytest.mark.parametrize("kind", PG_UNIT_KINDS)
async def test_run_re_runs_work_whose_connection_was_lost_before_commit(
    pg_database: Database, clock: FixedClock, kind: str
) -> None:
    await card_and_merchants(pg_database, now=clock.now())
    runs: list[int] = []

    async def work(unit: AnyUnitOfWork) -> Any:
        runs.append(1)
        [posted] = await post_transfers(unit, [transfer("pay", "card-1", "m", 5)], now=clock.now())
        if len(runs) == 1:
            await fetch_all(unit, KILL_MYSELF)
        return posted

    posted = await _runner(pg_database, kind)(work)
    assert len(runs) == 2
    assert posted.amount == 5
    assert await transfer_count(pg_database) == 2
    assert (await balance_of(pg_database, "card-1")).available == 995


@pytest.mark.parametrize("kind", PG_UNIT_KINDS)
@pytest.mark.usefixtures("kill_at_next_commit")
async def test_a_connection_lost_while_committing_is_retried_only_for_idempotent_work(
    pg_database: Database, clock: FixedClock, kind: str
) -> None:
    await card_and_merchants(pg_database, now=clock.now())

    async def work(unit: AnyUnitOfWork) -> Any:
        return await post_transfers(unit, [transfer("pay", "card-1", "m", 5)], now=clock.now())

    await _arm(pg_database)
    # not declared idempotent: the caller is told, not guessed for
    with pytest.raises(OutcomeUnknown) as lost:
        await _runner(pg_database, kind)(work)
    assert lost.value.during_commit is True
    assert await transfer_count(pg_database) == 1  # (killed before it committed)
    # declared idempotent (its transfer id makes a re-run a replay): re-run
    await _arm(pg_database)
    [posted] = await _runner(pg_database, kind)(work, idempotent=True)
    assert posted.transfer_id == "pay"
    assert await transfer_count(pg_database) == 2
    assert (await balance_of(pg_database, "card-1")).available == 995


@pytest.mark.parametrize("kind", PG_UNIT_KINDS)
async def test_run_that_keeps_losing_races_says_retry_later(
    pg_database: Database, kind: str
) -> None:
    runs: list[int] = []

    async def work(unit: AnyUnitOfWork) -> None:
        runs.append(1)
        await fetch_all(unit, SERIALIZATION_FAILURE)

    with pytest.raises(RetryLater) as busy:
        await _runner(pg_database, kind)(work, attempts=3)
    assert len(runs) == 3
    assert busy.value.code == "retry_later"
    assert busy.value.kind == "unavailable"
