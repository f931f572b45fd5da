"""``post_batch``: independent outcomes in one database transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import assert_books_balance
from tests.ledger_support import (
    UNIT_KINDS,
    balance_of,
    card_and_merchants,
    card_spec,
    fund,
    funding_spec,
    merchant_spec,
    open_accounts,
    transfer,
    transfer_count,
    unit_of_work,
)
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import BatchResult, post_batch, post_transfers
from tongka.ledger import batch as batch_module
from tongka.ledger.errors import LedgerContention

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


async def test_a_card_debited_and_credited_in_one_batch_is_decided_in_order(
    database: Database, clock: FixedClock
) -> None:
    # given a card holding 1,000
    await open_accounts(
        database, card_spec("card-1"), merchant_spec("m"), funding_spec(), now=clock.now()
    )
    await fund(database, "card-1", 1_000, now=clock.now())
    async with database.transaction() as session:
        # when a purchase of 1,200 comes before a refund of 500, then the other way round
        purchase_first = await post_batch(
            session,
            [transfer("buy-1", "card-1", "m", 1_200), transfer("refund-1", "m", "card-1", 500)],
            now=clock.now(),
        )
        refund_first = await post_batch(
            session,
            [transfer("refund-2", "m", "card-1", 500), transfer("buy-2", "card-1", "m", 1_200)],
            now=clock.now(),
        )
    # then the purchase that came first found too little, even though the batch as a
    # whole would have left the card above zero
    assert [result.ok for result in purchase_first] == [False, True]
    assert [result.ok for result in refund_first] == [True, True]
    assert (await balance_of(database, "card-1")).available == 1_000 + 500 + 500 - 1_200


async def test_a_replayed_batch_returns_the_original_transfers(
    database_and_unit_kind: tuple[Database, str], clock: FixedClock
) -> None:
    database, kind = database_and_unit_kind
    await card_and_merchants(database, now=clock.now())
    batch = [transfer("pay-1", "card-1", "m", 300), transfer("pay-2", "card-1", "hot", 200)]
    async with unit_of_work(database, kind) as unit:
        first = await post_batch(unit, batch, now=clock.now())
    async with unit_of_work(database, kind) as unit:
        again = await post_batch(unit, batch, now=clock.now() + timedelta(minutes=5))
    assert [result.transfer for result in again] == [result.transfer for result in first]
    assert all(result.ok for result in first)
    assert await transfer_count(database) == 1 + 2
    assert (await balance_of(database, "card-1")).available == 500


@pytest.mark.pg
@pytest.mark.parametrize("kind", UNIT_KINDS)
async def test_a_clean_batch_is_one_statement_and_a_refusal_falls_back_to_deciding_in_order(
    pg_database: Database, clock: FixedClock, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The optimistic path must really post clean batches: were it to fail every time, the
    results would still be right, and only the benchmark would notice."""
    database = pg_database
    await card_and_merchants(database, now=clock.now())
    decided_in_order: list[int] = []
    decide = batch_module._post_batch_once

    async def counting(*args: object) -> list[BatchResult]:
        decided_in_order.append(1)
        return await decide(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(batch_module, "_post_batch_once", counting)
    async with unit_of_work(database, kind) as unit:
        clean = await post_batch(
            unit,
            [transfer("a", "card-1", "m", 300), transfer("b", "card-1", "hot", 300)],
            now=clock.now(),
        )
    assert decided_in_order == []
    async with unit_of_work(database, kind) as unit:
        refused_in_the_middle = await post_batch(
            unit,
            [
                transfer("c", "card-1", "m", 300),
                transfer("d", "card-1", "hot", 300),  # only 100 left by then
                transfer("e", "card-1", "m", 100),
            ],
            now=clock.now(),
        )
    assert decided_in_order == [1]
    assert [result.ok for result in clean] == [True, True]
    assert [result.ok for result in refused_in_the_middle] == [True, False, True]
    assert (await balance_of(database, "card-1")).available == 0
    assert (await balance_of(database, "hot")).credits_posted == 300
    assert await transfer_count(database) == 1 + 2 + 2
    await assert_books_balance(database)


async def test_a_batch_that_keeps_racing_says_retry_not_conflict(
    database: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Kept racing concurrent postings" is a reason to retry, not a reused id."""
    await card_and_merchants(database, now=clock.now())

    async def always_raced(*_args: object) -> list[BatchResult]:
        raise batch_module.AlreadyPosted

    monkeypatch.setattr(batch_module, "_post_batch_once", always_raced)
    monkeypatch.setattr(batch_module, "post_batch_optimistically", _not_optimistic)
    with pytest.raises(LedgerContention) as raced:
        async with database.transaction() as session:
            await post_batch(session, [transfer("a", "card-1", "m", 5)], now=clock.now())
    assert raced.value.code == "ledger_contention"
    assert raced.value.kind == "unavailable"  # HTTP 503
    assert await transfer_count(database) == 1


async def _not_optimistic(*_args: object) -> None:
    return None
