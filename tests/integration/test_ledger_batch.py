"""``post_batch``: independent outcomes in one database transaction."""

from __future__ import annotations

import pytest

from tests.ledger_support import (
    balance_of,
    card_spec,
    fund,
    merchant_spec,
    open_accounts,
    transfer,
    transfer_count,
)
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import post_batch, post_transfers

pytestmark = pytest.mark.usefixtures("books_balance")


async def test_each_transfer_of_a_batch_succeeds_or_fails_on_its_own(
    database: Database, clock: FixedClock
) -> None:
    await open_accounts(
        database,
        card_spec("card-1"),
        card_spec("card-2"),
        merchant_spec("m"),
        merchant_spec("hot-m", hot=True),
        merchant_spec("usd-m", currency="USD"),
        now=clock.now(),
    )
    await fund(database, "card-1", 1_000, now=clock.now())
    await fund(database, "card-2", 100, now=clock.now())
    async with database.transaction() as session:
        await post_transfers(session, [transfer("earlier", "card-2", "m", 10)], now=clock.now())

    async with database.transaction() as session:
        results = await post_batch(
            session,
            [
                transfer("a", "card-1", "m", 600),
                transfer("b", "card-1", "hot-m", 500),  # only 400 left after "a"
                transfer("c", "card-1", "hot-m", 400),
                transfer("d", "card-2", "nowhere", 5),
                transfer("e", "card-2", "usd-m", 5),
                transfer("f", "card-2", "m", 0),
                transfer("earlier", "card-2", "m", 10),  # replay
                transfer("earlier", "card-2", "m", 11),  # reused id, other content
                transfer("a", "card-1", "m", 600),  # repeated within the batch
                transfer("g", "card-2", "hot-m", 90),
            ],
            now=clock.now(),
        )

    codes = [result.error.code if result.error else "ok" for result in results]  # type: ignore[attr-defined]
    assert codes == [
        "ok",
        "insufficient_funds",
        "ok",
        "account_not_found",
        "currency_mismatch",
        "invalid_amount",
        "ok",
        "idempotency_conflict",
        "ok",
        "ok",
    ]
    assert results[8].transfer == results[0].transfer
    assert results[6].transfer is not None
    assert results[6].transfer.transfer_id == "earlier"
    assert (await balance_of(database, "card-1")).available == 0
    assert (await balance_of(database, "card-2")).available == 0
    assert (await balance_of(database, "hot-m")).credits_posted == 490
    assert (await balance_of(database, "m")).credits_posted == 610
    assert await transfer_count(database) == 3 + 3  # a, c and g are new


async def test_an_empty_batch_and_an_all_failing_batch_write_nothing(
    database: Database, clock: FixedClock
) -> None:
    await open_accounts(database, card_spec("card-1"), merchant_spec("m"), now=clock.now())
    async with database.transaction() as session:
        assert await post_batch(session, [], now=clock.now()) == []
        results = await post_batch(
            session,
            [transfer("a", "card-1", "m", 1), transfer("b", "card-1", "m", 2)],
            now=clock.now(),
        )
    assert [result.ok for result in results] == [False, False]
    assert await transfer_count(database) == 0
