"""The ledger's postings and reads on every kind of unit of work (an ORM session, a Core
connection, and on PostgreSQL a driver connection): the same outcomes on each."""

from __future__ import annotations

import pytest

from tests.conftest import assert_books_balance
from tests.ledger_support import (
    balance_of,
    card_and_merchants,
    card_spec,
    open_accounts,
    transfer,
    transfer_count,
    unit_of_work,
)
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import get_balance, get_transfer, post_batch, post_transfers
from tongka.ledger.errors import (
    AccountNotFound,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
)


async def test_postings_and_reads_have_the_same_outcomes_on_every_unit_kind(
    database_and_unit_kind: tuple[Database, str], clock: FixedClock
) -> None:
    database, kind = database_and_unit_kind
    await card_and_merchants(database, now=clock.now())
    # when: a single transfer, its replay, a group and a batch, each in a transaction
    async with unit_of_work(database, kind) as unit:
        [posted] = await post_transfers(
            unit, [transfer("pay-1", "card-1", "hot", 300)], now=clock.now()
        )
    async with unit_of_work(database, kind) as unit:
        [replayed] = await post_transfers(
            unit, [transfer("pay-1", "card-1", "hot", 300)], now=clock.now()
        )
    async with unit_of_work(database, kind) as unit:
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
async def test_a_refusal_writes_nothing_even_if_the_caller_commits(
    database_and_unit_kind: tuple[Database, str],
    clock: FixedClock,
    requests: list,
    error: type[Exception],
) -> None:
    database, kind = database_and_unit_kind
    await card_and_merchants(database, now=clock.now())
    await open_accounts(database, card_spec("usd-card", currency="USD"), now=clock.now())
    # when the caller catches the refusal and commits its transaction anyway
    async with unit_of_work(database, kind) as unit:
        with pytest.raises(error):
            await post_transfers(unit, requests, now=clock.now())
    # then
    assert (await balance_of(database, "card-1")).available == 1_000
    assert await transfer_count(database) == 1
    await assert_books_balance(database)
