"""A promotion's budget leaves and returns through the merchant's payable, so settlement
nets it like any other movement: the day's batch lines show the funding (−) and the return
(+), and the net is what the merchant is still owed."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from tests.cards_support import MERCHANT
from tests.promotions_support import fund_merchant, promotion_spec
from tongka.db import Database
from tongka.sales import promotions
from tongka.settlement.calendar import load_calendar
from tongka.settlement.models import SettlementLine
from tongka.settlement.runs import build_batch

DAY = date(2026, 9, 28)  # a Monday
MORNING = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
EVENING = datetime(2026, 9, 28, 12, 0, tzinfo=UTC)


async def test_funding_and_return_are_settlement_lines(database: Database) -> None:
    async with database.transaction() as session:
        await fund_merchant(session, MORNING, 100_000)
        promotion = await promotions.create_promotion(
            session, MERCHANT, promotion_spec(MORNING), actor="t", now=MORNING
        )
        await promotions.end_promotion(
            session, promotion.id, merchant_id=None, actor="t", now=EVENING
        )
    async with database.transaction() as session:
        batch, built = await build_batch(
            session,
            MERCHANT,
            "CNY",
            DAY,
            calendar=await load_calendar(session),
            timezone="Asia/Shanghai",
            now=EVENING,
        )
        assert batch is not None
        lines = (
            await session.scalars(
                select(SettlementLine)
                .where(SettlementLine.batch_id == batch.id)
                .order_by(SettlementLine.occurred_at, SettlementLine.id)
            )
        ).all()

    assert built
    assert [(line.kind, line.amount) for line in lines] == [
        ("test_deposit", 100_000),
        ("promotion_funding", -20_000),
        ("promotion_return", 20_000),
    ]
    assert batch.net == 100_000
