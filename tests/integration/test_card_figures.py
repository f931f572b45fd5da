"""The home pages' figures (``tongka.cards.figures``) on the demo data, on both backends:
exact counts, sums from the ledger's balance rows, and activity by business day."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tongka.cards import figures
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.demo import load_demo_data

ZONE = "Asia/Shanghai"


async def _demo(database: Database, settings: Settings, now: datetime) -> dict[str, Any]:
    return json.loads((await load_demo_data(database, settings, now)).read_text())


def test_business_days_are_the_platform_zone_s() -> None:
    late_evening_utc = datetime(2026, 3, 31, 17, 30, tzinfo=UTC)  # 01:30 on 1 April in Shanghai
    days = figures.business_days(late_evening_utc, ZONE, days=3)
    assert [day.isoformat() for day in days] == ["2026-03-30", "2026-03-31", "2026-04-01"]
    start, end = figures.day_bounds(days[-1], ZONE)
    assert start.astimezone(UTC) == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def test_a_day_across_a_clock_change_has_its_true_length() -> None:
    start, end = figures.day_bounds(date(2026, 3, 29), "Europe/Berlin")
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


async def test_a_merchant_s_figures(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    now = clock.now()
    demo = await _demo(database, settings, now)
    canteen = demo["merchants"][0]["id"]
    async with database.transaction() as session:
        found = await figures.merchant_figures(session, canteen, now=now, timezone=ZONE)
        books = await figures.merchant_figures(
            session, demo["merchants"][1]["id"], now=now, timezone=ZONE
        )
    # the cards demo's three, the sales demo's e-card and the settled week's card
    assert (found.cards_issued, found.cards_active) == (5, 5)
    # 500 + 50 bonus, 200, 200 + 20 bonus; the sales demo's e-card: 100 + 50 + 100; the week
    # card's 1 000 less 660.50 spent in the week
    assert found.outstanding == {"CNY": 122_000 + 33_950}
    # 300, 100 + 10 bonus; e-card 100 + 300; its week card: 1 000 less 260
    assert books.outstanding == {"CNY": 81_000 + 74_000}
    assert len(found.activity) == figures.ACTIVITY_DAYS
    today = found.activity[-1]
    assert today.business_date == now.astimezone(ZoneInfo(ZONE)).date()
    # 4 cards issued and activated today; each load is one transfer per part (paid, bonus)
    assert (today.issued, today.activated, today.transactions) == (4, 4, 8)
    # before today: the week card issued and loaded the day before the week, then two
    # redemptions a business day (each one transfer to the merchant, one for its fee)
    earlier = [
        (day.issued, day.activated, day.transactions)
        for day in found.activity[:-1]
        if (day.issued, day.activated, day.transactions) != (0, 0, 0)
    ]
    assert earlier == [(1, 1, 1)] + [(0, 0, 4)] * 5


async def test_the_platform_s_figures(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    await _demo(database, settings, clock.now())
    async with database.transaction() as session:
        found = await figures.platform_figures(session)
    assert (found.merchants_pending, found.products_pending) == (0, 0)
    assert found.merchants_by_status == {"active": 2}
    assert [(row.name, row.outstanding) for row in found.liability] == [
        ("示范餐饮储值卡 Canteen gift card", 75_000),
        ("示范书店结算周卡 Bookshop week card", 74_000),
        ("示范书店购书卡 Bookshop card", 41_000),
        ("示范书店电子卡 Bookshop e-card", 40_000),  # the sales demo's orders
        ("示范餐饮结算周卡 Canteen week card", 33_950),
        ("示范餐饮电子卡 Canteen e-card", 25_000),
        ("示范餐饮会员卡 Canteen member card", 22_000),
    ]
    assert found.liability_total == {"CNY": 203_000 + 107_950}
