"""Many concurrent decisions on one card and one terminal on PostgreSQL: exactly the limit
passes, whichever kind of unit of work runs them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.controls_support import breach_count, context, product_with_limits, usage
from tests.ledger_support import unit_of_work
from tongka.config import Settings
from tongka.db import Database
from tongka.redemption.decision import decide

pytestmark = pytest.mark.pg
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["session", "driver"])
async def test_card_daily_amount_exact_under_concurrency(
    pg_database: Database, settings: Settings, kind: str
) -> None:
    product_id, _ = await product_with_limits(
        pg_database, NOW, card_daily_amount_minor=10_000, terminal_daily_count=15
    )

    async def one(index: int) -> bool:
        async with unit_of_work(pg_database, kind) as unit:
            ctx = context(product_id, 1_000, terminal_id=f"trm_{index % 3}")
            return (await decide(unit, ctx, now=NOW, settings=settings)).is_allowed

    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(40))), timeout=60)

    assert sum(results) == 10
    assert await usage(pg_database, "card", "crd_test_1") == (10, 10_000)
    assert await breach_count(pg_database) == 30


async def test_terminal_daily_count_exact_under_concurrency(
    pg_database: Database, settings: Settings
) -> None:
    product_id, _ = await product_with_limits(pg_database, NOW, terminal_daily_count=7)

    async def one(index: int) -> bool:
        async with pg_database.transaction() as session:
            ctx = context(product_id, 100, card_id=f"crd_{index}")
            return (await decide(session, ctx, now=NOW, settings=settings)).is_allowed

    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(30))), timeout=60)

    assert sum(results) == 7
    assert await usage(pg_database, "terminal", "trm_1") == (7, 700)
