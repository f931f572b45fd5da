"""The ledger on a driver connection (``Database.driver_transaction``: asyncpg itself, the
hottest paths' unit of work): the same outcomes as through SQLAlchemy, and a pool that
never hands out a connection in doubt."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import assert_books_balance
from tests.ledger_support import (
    balance_of,
    card_and_merchants,
    card_spec,
    open_accounts,
    transfer,
    transfer_count,
)
from tongka.clock import FixedClock
from tongka.db import Database, DriverConnection
from tongka.db import driver as driver_module
from tongka.db.driver import DriverPoolExhausted
from tongka.db.engine import create_engine_for
from tongka.ledger import get_balance, get_transfer, post_batch, post_transfers
from tongka.ledger.errors import (
    AccountNotFound,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
)

pytestmark = pytest.mark.pg


def _database_with_one_driver_connection(url: str) -> Database:
    return Database(create_engine_for(url), driver_pool_size=1)


async def test_postings_on_a_driver_connection_match_the_session_path(
    pg_database: Database, clock: FixedClock
) -> None:
    database = pg_database
    await card_and_merchants(database, now=clock.now())
    # when: a single transfer, its replay, a group and a batch, each in a driver transaction
    async with database.driver_transaction() as unit:
        [posted] = await post_transfers(
            unit, [transfer("pay-1", "card-1", "hot", 300)], now=clock.now()
        )
    [replayed] = await database.run_driver(
        lambda unit: post_transfers(
            unit, [transfer("pay-1", "card-1", "hot", 300)], now=clock.now()
        )
    )
    async with database.driver_transaction() as unit:
        group = await post_transfers(
            unit,
            [transfer("pay-2", "card-1", "m", 100), transfer("pay-2-fee", "card-1", "hot", 1)],
            now=clock.now(),
        )
        results = await post_batch(
            unit,
            [transfer("pay-3", "card-1", "m", 500), transfer("pay-4", "card-1", "m", 500)],
            now=clock.now(),
        )
        card = await get_balance(unit, "card-1")
        read_back = await get_transfer(unit, "pay-1")
    # then
    assert replayed == posted == read_back
    assert [t.transfer_id for t in group] == ["pay-2", "pay-2-fee"]
    assert [result.ok for result in results] == [True, False]
    assert isinstance(results[1].error, InsufficientFunds)
    assert card.available == 1_000 - 300 - 101 - 500
    assert (await balance_of(database, "hot")).credits_posted == 301
    assert await transfer_count(database) == 1 + 1 + 2 + 1
    await assert_books_balance(database)


@pytest.mark.parametrize(
    ("requests", "error"),
    [
        ([transfer("x", "card-1", "m", 1_001)], InsufficientFunds),
        (
            [transfer("x", "card-1", "m", 600), transfer("y", "card-1", "hot", 600)],
            InsufficientFunds,
        ),
        ([transfer("x", "card-1", "nowhere", 5)], AccountNotFound),
        ([transfer("x", "card-1", "usd-card", 5)], CurrencyMismatch),
        ([transfer("fund-card-1-1000", "card-1", "m", 5)], IdempotencyConflict),
    ],
    ids=["over-the-limit", "group-over-the-limit", "unknown-account", "currency", "reused-id"],
)
async def test_a_refusal_on_a_driver_connection_writes_nothing_even_if_committed(
    pg_database: Database, clock: FixedClock, requests: list, error: type[Exception]
) -> None:
    database = pg_database
    await card_and_merchants(database, now=clock.now())
    await open_accounts(database, card_spec("usd-card", currency="USD"), now=clock.now())
    # when the caller catches the refusal and commits its transaction anyway
    async with database.driver_transaction() as unit:
        with pytest.raises(error):
            await post_transfers(unit, requests, now=clock.now())
    # then
    assert (await balance_of(database, "card-1")).available == 1_000
    assert await transfer_count(database) == 1
    await assert_books_balance(database)


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
