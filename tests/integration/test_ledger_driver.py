"""The driver unit of work (``Database.driver_transaction``: asyncpg itself, the hottest
paths' unit of work): a pool that never hands out a connection in doubt, retries, and a
bound on waiting. The outcomes of its postings are tested for every unit kind in
``test_ledger_units.py``."""

from __future__ import annotations

import asyncpg
import pytest

from tests.ledger_support import (
    balance_of,
    card_and_merchants,
    transfer,
    transfer_count,
)
from tongka.clock import FixedClock
from tongka.db import Database, DriverConnection
from tongka.db import driver as driver_module
from tongka.db.driver import DriverPoolExhausted
from tongka.db.engine import create_engine_for
from tongka.ledger import post_transfers

pytestmark = pytest.mark.pg


def _database_with_one_driver_connection(url: str) -> Database:
    return Database(create_engine_for(url), driver_pool_size=1)


async def _pay_and_change_my_mind(database: Database, clock: FixedClock) -> None:
    async with database.driver_transaction() as unit:
        await post_transfers(unit, [transfer("p", "card-1", "m", 5)], now=clock.now())
        raise RuntimeError("changed my mind")


async def test_a_block_that_raises_rolls_back_and_the_connection_is_reused_clean(
    pg_url: str, clock: FixedClock
) -> None:
    database = _database_with_one_driver_connection(pg_url)
    try:
        await card_and_merchants(database, now=clock.now())
        with pytest.raises(RuntimeError, match="changed my mind"):
            await _pay_and_change_my_mind(database, clock)
        # the one connection of the pool is handed out again, outside any transaction
        async with database.driver_transaction() as unit:
            assert await unit.connection.fetchval("SELECT count(*) FROM ledger_transfers") == 1
        assert (await balance_of(database, "card-1")).available == 1_000
    finally:
        await database.dispose()


async def test_a_connection_left_in_a_transaction_is_never_handed_out_again(
    pg_database: Database,
) -> None:
    pool = driver_module.DriverPool(pg_database.engine, 1)
    # given a connection given back while still in a transaction (its state in doubt)
    doubtful = await pool.acquire()
    await doubtful.execute("BEGIN")
    pool.release(doubtful)
    # then it is closed, and the next unit of work gets a fresh one
    assert doubtful.is_closed()
    fresh = await pool.acquire()
    assert fresh is not doubtful
    assert not fresh.is_in_transaction()
    pool.release(fresh)
    await pool.dispose()
    assert fresh.is_closed()


async def test_run_driver_repeats_work_after_a_serialization_failure(
    pg_database: Database, clock: FixedClock
) -> None:
    await card_and_merchants(pg_database, now=clock.now())
    attempts: list[int] = []

    async def work(unit: DriverConnection) -> int:
        attempts.append(1)
        await post_transfers(unit, [transfer("p", "card-1", "m", 5)], now=clock.now())
        if len(attempts) == 1:
            raise asyncpg.exceptions.SerializationError("could not serialize access")
        return len(attempts)

    assert await pg_database.run_driver(work) == 2
    assert await transfer_count(pg_database) == 2  # the funding and one payment
    assert (await balance_of(pg_database, "card-1")).available == 995


async def test_more_concurrent_work_than_connections_waits_then_says_so(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_module, "ACQUIRE_TIMEOUT_SECONDS", 0.2)
    database = _database_with_one_driver_connection(pg_url)
    try:
        async with database.driver_transaction():
            with pytest.raises(DriverPoolExhausted, match="1 in use"):
                async with database.driver_transaction():
                    pass
        async with database.driver_transaction() as unit:  # free again
            assert await unit.connection.fetchval("SELECT 1") == 1
    finally:
        await database.dispose()
