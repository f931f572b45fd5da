"""Racing redemptions on one card on PostgreSQL: exactly what the card holds is taken,
duplicates of one key take value once, a reversal racing its original undoes it once;
``ledger verify`` after each. Bounded by a number of operations and a time cap."""

from __future__ import annotations

import asyncio

import pytest

from tests.cards_support import assert_ledger_verifies, balance_of
from tests.redemption_support import Till, make_till, redeem, request
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.redemption import aftercare

pytestmark = pytest.mark.pg

TIME_CAP_SECONDS = 120  # fails only on a hang
UNITS = 20
ATTEMPTS = 40


async def _redeem(database: Database, clock: FixedClock, till: Till, key: str) -> str:
    async def work(session):  # type: ignore[no-untyped-def]
        purchase = await redeem(session, request(till, 100, key), clock.now())
        return purchase.decline_code or purchase.status

    return await database.run(work)


async def test_one_card_many_tills_exactly_its_balance(
    pg_database: Database, clock: FixedClock
) -> None:
    async with pg_database.transaction() as session:
        till = await make_till(session, clock.now(), amount=UNITS * 100)
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(_redeem(pg_database, clock, till, f"r{i}") for i in range(ATTEMPTS))),
        TIME_CAP_SECONDS,
    )
    assert outcomes.count("approved") == UNITS
    assert outcomes.count("insufficient_funds") == ATTEMPTS - UNITS
    assert (await balance_of(pg_database, till.card_id)).total == 0
    await assert_ledger_verifies(pg_database, clock.now())


async def test_duplicates_and_a_racing_reversal_act_once(
    pg_database: Database, clock: FixedClock
) -> None:
    async with pg_database.transaction() as session:
        till = await make_till(session, clock.now(), amount=5_000)

    async def reverse() -> str:
        async def work(session):  # type: ignore[no-untyped-def]
            done = await aftercare.reverse(
                session, till.merchant_id, "k", actor="t", now=clock.now()
            )
            return done.outcome

        return await pg_database.run(work)

    for round_ in range(5):
        key = f"k{round_}"
        till_key = key

        async def rev(key: str = till_key) -> str:
            async def work(session):  # type: ignore[no-untyped-def]
                done = await aftercare.reverse(
                    session, till.merchant_id, key, actor="t", now=clock.now()
                )
                return done.outcome

            return await pg_database.run(work)

        await asyncio.wait_for(
            asyncio.gather(
                *(_redeem(pg_database, clock, till, key) for _ in range(4)), rev(), rev()
            ),
            TIME_CAP_SECONDS,
        )
        assert (await balance_of(pg_database, till.card_id)).total == 5_000
    assert await reverse() == "before_original"
    await assert_ledger_verifies(pg_database, clock.now())
