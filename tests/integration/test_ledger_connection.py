"""The ledger on a Core connection (``Database.connection_transaction``), the hot paths'
lighter unit of work, on both databases: what is particular to it (accounts it opened and
rolled back, retries, planner settings). The outcomes of its postings are tested for every
unit kind in ``test_ledger_units.py``."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from tests.ledger_support import (
    balance_of,
    card_and_merchants,
    merchant_spec,
    transfer,
)
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.db.driver import DriverNeedsPostgreSQL
from tongka.ledger import open_account, post_batch, post_transfers
from tongka.ledger.errors import AccountNotFound

pytestmark = pytest.mark.usefixtures("books_balance")


async def _open_pay_and_roll_back(database: Database, clock: FixedClock) -> None:
    async with database.connection_transaction() as connection:
        await open_account(connection, merchant_spec("gone"), now=clock.now())
        await post_transfers(connection, [transfer("p", "card-1", "gone", 5)], now=clock.now())
        raise RuntimeError("roll back")


async def test_an_account_opened_in_a_rolled_back_connection_transaction_is_forgotten(
    database: Database, clock: FixedClock
) -> None:
    # given an account opened and used in a transaction that then rolls back
    await card_and_merchants(database, now=clock.now())
    with pytest.raises(RuntimeError):
        await _open_pay_and_roll_back(database, clock)
    # when a later transaction on a pooled connection posts to it
    async with database.connection_transaction() as connection:
        with pytest.raises(AccountNotFound):
            await post_transfers(connection, [transfer("q", "card-1", "gone", 5)], now=clock.now())
    # then
    assert (await balance_of(database, "card-1")).available == 1_000


async def test_run_connection_repeats_work_after_a_retryable_failure(
    sqlite_database: Database,
) -> None:
    # given work that fails once the way a locked SQLite database does
    attempts: list[int] = []

    async def work(connection: object) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("BEGIN", {}, Exception("database is locked"))
        return "done"

    # when / then
    assert await sqlite_database.run_connection(work) == "done"
    assert len(attempts) == 2


@pytest.mark.parametrize("amount", [300, 5_000], ids=["written", "all-refused"])
async def test_a_batch_gives_back_the_callers_planner_settings(
    pg_database: Database, clock: FixedClock, amount: int
) -> None:
    # given a caller that turned merge joins off in its transaction
    await card_and_merchants(pg_database, now=clock.now())
    async with pg_database.connection_transaction() as connection:
        await connection.exec_driver_sql("SET LOCAL enable_mergejoin = off")
        # when a batch runs in the same transaction
        [result] = await post_batch(
            connection, [transfer("pay-1", "card-1", "m", amount)], now=clock.now()
        )
        settings = await connection.exec_driver_sql(
            "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')"
        )
        # then the batch's own settings are gone and the caller's are back
        assert tuple(settings.one()) == ("on", "off")
    assert result.ok is (amount == 300)


async def test_a_driver_unit_of_work_needs_postgresql(sqlite_database: Database) -> None:
    with pytest.raises(DriverNeedsPostgreSQL, match="connection_transaction"):
        async with sqlite_database.driver_transaction():
            pass
