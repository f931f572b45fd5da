"""Many concurrent claims on one promotion on PostgreSQL: the bonuses granted never add up to
more than the budget, and to all of it while demand lasts; a per-holder cap holds; one order
claims once however many times it races itself; releases racing claims lose nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.cards_support import assert_ledger_verifies
from tests.promotions_support import available, new_order_id, product_and_promotion, promotion_now
from tongka.cards.models import CardProduct
from tongka.db import Database
from tongka.sales import promotions
from tongka.sales.promotion_models import PromotionClaim

pytestmark = pytest.mark.pg
NOW = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
CLAIMS = 40


async def _claim(
    database: Database, product: CardProduct, order_id: str, holder_id: str | None = None
) -> int:
    async def work(session):  # type: ignore[no-untyped-def]
        grant = await promotions.claim_bonus(
            session,
            merchant_id=product.merchant_id,
            product_id=product.id,
            holder_id=holder_id or f"con_{order_id}",
            load_minor=50_000,
            currency="CNY",
            order_id=order_id,
            now=NOW,
        )
        return grant.amount_minor if grant else 0

    return await database.run(work)


async def _race(*claims: object) -> list[int]:
    return await asyncio.wait_for(asyncio.gather(*claims), timeout=120)  # type: ignore[arg-type]


@pytest.mark.parametrize("budget", [50_000, 52_000, 400_000], ids=["even", "uneven", "ample"])
async def test_the_budget_is_never_overspent(pg_database: Database, budget: int) -> None:
    product, promotion = await product_and_promotion(pg_database, NOW, budget_minor=budget)

    granted = await _race(*(_claim(pg_database, product, new_order_id()) for _ in range(CLAIMS)))

    demand = CLAIMS * 5_000
    assert sum(granted) == min(demand, budget - budget % 5_000)
    assert set(granted) <= {0, 5_000}
    found = await promotion_now(pg_database, promotion.id)
    assert found.remaining_minor == budget - sum(granted)
    assert found.status == ("exhausted" if demand >= budget else "active")
    assert await available(pg_database, promotion.budget_account_id) == budget
    await assert_ledger_verifies(pg_database, NOW)


async def test_a_per_holder_cap_holds_under_concurrency(pg_database: Database) -> None:
    product, promotion = await product_and_promotion(
        pg_database, NOW, budget_minor=400_000, per_holder_count=3
    )

    granted = await _race(
        *(_claim(pg_database, product, new_order_id(), "con_same") for _ in range(20))
    )

    assert sum(1 for amount in granted if amount) == 3
    assert (await promotion_now(pg_database, promotion.id)).remaining_minor == 385_000


async def test_one_order_racing_itself_claims_once(pg_database: Database) -> None:
    product, promotion = await product_and_promotion(pg_database, NOW, budget_minor=400_000)
    order_id = new_order_id()

    granted = await _race(*(_claim(pg_database, product, order_id) for _ in range(15)))

    assert granted == [5_000] * 15  # every caller hears the one claim
    assert (await promotion_now(pg_database, promotion.id)).remaining_minor == 395_000
    async with pg_database.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(PromotionClaim))
    assert count == 1


async def test_releases_racing_claims_keep_the_budget_exact(pg_database: Database) -> None:
    product, promotion = await product_and_promotion(pg_database, NOW, budget_minor=50_000)
    first = [new_order_id() for _ in range(10)]
    await _race(*(_claim(pg_database, product, order_id) for order_id in first))

    async def release(order_id: str) -> int:
        async def work(session):  # type: ignore[no-untyped-def]
            await promotions.release_bonus(session, order_id, now=NOW)
            return 0

        return await pg_database.run(work)

    await _race(
        *(release(order_id) for order_id in first),
        *(_claim(pg_database, product, new_order_id()) for _ in range(CLAIMS)),
    )

    async with pg_database.transaction() as session:
        held = await session.scalar(
            select(func.coalesce(func.sum(PromotionClaim.amount_minor), 0)).where(
                PromotionClaim.status == "claimed"
            )
        )
    found = await promotion_now(pg_database, promotion.id)
    assert found.remaining_minor + held == 50_000  # whichever way the race fell
    assert await available(pg_database, promotion.budget_account_id) == 50_000


async def test_ending_while_orders_claim_splits_the_budget_exactly(pg_database: Database) -> None:
    product, promotion = await product_and_promotion(pg_database, NOW, budget_minor=100_000)

    async def end() -> int:
        async def work(session):  # type: ignore[no-untyped-def]
            await promotions.end_promotion(
                session, promotion.id, merchant_id=None, actor="t", now=NOW
            )
            return 0

        return await pg_database.run(work)

    claims = [_claim(pg_database, product, new_order_id()) for _ in range(CLAIMS)]
    granted = await _race(*claims[: CLAIMS // 2], end(), *claims[CLAIMS // 2 :])

    found = await promotion_now(pg_database, promotion.id)
    assert found.status == "ended"
    assert sum(granted) + found.returned_minor == 100_000
    assert await available(pg_database, promotion.budget_account_id) == sum(granted)
    await assert_ledger_verifies(pg_database, NOW)
