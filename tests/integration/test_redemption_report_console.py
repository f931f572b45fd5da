"""The redemption report (核销报表): sums per business day (platform zone), store and
terminal, totals, a chart, the CSV; a merchant sees its own, a store-bound user its store."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi import FastAPI

from tests.cards_support import KEYS, active_product, funded_card
from tests.factories import TEST_PASSWORD, make_merchant_with_key
from tests.integration.test_card_console import _browser
from tests.redemption_support import RATE, Till, request
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.errors import InvalidRequest
from tongka.identity import service as identity
from tongka.redemption import aftercare, report, service

PAGE = "/console/redemption_report"
LATE = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)  # 23:30 on 1 Dec in Shanghai
EARLY = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 Dec


@asynccontextmanager
async def _signed_in(app: FastAPI, email: str) -> AsyncIterator[httpx.AsyncClient]:
    client = await _browser(app, email, TEST_PASSWORD)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


async def _world(database: Database, settings: Settings) -> tuple[str, str, str, str]:
    """A merchant with two stores; redemptions on 1 and 2 Dec; its admin's and the second
    store's cashier's e-mails."""
    merchant = await make_merchant_with_key(database, with_store=True, now=LATE)
    assert merchant.store_id is not None
    async with database.transaction() as session:
        other = await identity.create_store(
            session,
            merchant_id=merchant.merchant_id,
            name="二店",
            address="上海市黄浦区南京东路9号",
            city="上海",
            actor="t",
            now=LATE,
        )
        cashier = await identity.create_user(
            session,
            email=f"report-{other.id}@example.com",
            display_name="二店收银",
            role="cashier",
            password=TEST_PASSWORD,
            actor="t",
            now=LATE,
            merchant_id=merchant.merchant_id,
            store_id=other.id,
        )
        product = await active_product(session, LATE, merchant.merchant_id)
        issued = await funded_card(session, LATE, product, amount=100_000)

        def till(store_id: str) -> Till:
            return Till(
                merchant.merchant_id,
                store_id,
                issued.card.id,
                issued.number,
                issued.secret,
                product.id,
            )

        async def redeem(store_id: str, amount: int, key: str, now: datetime) -> service.Purchase:
            return await service.redeem(
                session,
                request(till(store_id), amount, key),
                keys=KEYS,
                fee_rate=RATE,
                now=now,
                settings=settings,
            )

        first = await redeem(merchant.store_id, 10_000, "a", LATE)
        await redeem(merchant.store_id, 5_000, "b", LATE)
        await redeem(merchant.store_id, 200_000, "declined", LATE)  # insufficient funds
        await redeem(merchant.store_id, 2_000, "c", EARLY)
        await redeem(other.id, 3_000, "d", EARLY)
        await aftercare.refund(
            session, first.redemptions[0], 4_000, refund_key="r", reason=None, actor="t", now=EARLY
        )
    return merchant.merchant_id, merchant.admin_email, cashier.email, other.id


async def test_the_report_sums_per_business_day_and_store(
    app: FastAPI, database: Database, settings: Settings, clock: FixedClock
) -> None:
    _, admin_email, _, _ = await _world(database, settings)
    async with _signed_in(app, admin_email) as admin:
        page = await admin.get(f"{PAGE}?from=2026-12-01&to=2026-12-02")
        exported = await admin.get(f"{PAGE}?from=2026-12-01&to=2026-12-02&format=csv")

    assert page.status_code == 200
    assert 'data-figure="count">4<' in page.text
    # taken 200.00, refunded 40.00: net 160.00; fees 0.6% of each less the refunded part
    assert "¥160.00" in page.text
    assert "<svg" in page.text
    lines = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert exported.headers["content-disposition"].endswith('redemption_report.csv"')
    assert lines[0][:3] == ["营业日", "门店", "终端"]
    assert [(line[0], line[1], line[4], line[5], line[6], line[9]) for line in lines[1:]] == [
        ("2026-12-01", "测试门店", "2", "150.00", "40.00", "1"),
        ("2026-12-02", "测试门店", "1", "20.00", "0.00", "0"),
        ("2026-12-02", "二店", "1", "30.00", "0.00", "0"),
    ]


async def test_a_store_bound_user_sees_only_its_store(
    app: FastAPI, database: Database, settings: Settings
) -> None:
    _, _, cashier_email, _ = await _world(database, settings)
    async with _signed_in(app, cashier_email) as cashier:
        exported = await cashier.get(f"{PAGE}?from=2026-12-01&to=2026-12-02&format=csv")

    lines = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert [line[1] for line in lines[1:]] == ["二店"]


async def test_another_merchant_sees_none_of_it(
    app: FastAPI, database: Database, settings: Settings
) -> None:
    await _world(database, settings)
    stranger = await make_merchant_with_key(database, legal_name="别家商户")
    async with _signed_in(app, stranger.admin_email) as client:
        page = await client.get(f"{PAGE}?from=2026-12-01&to=2026-12-02")

    assert 'data-figure="count">0<' in page.text


def test_the_range_defaults_to_a_week_and_is_refused_backwards_or_too_long() -> None:
    today = date(2026, 12, 2)
    assert report.checked_range(None, None, today) == (date(2026, 11, 26), today)
    with pytest.raises(InvalidRequest) as backwards:
        report.checked_range(date(2026, 12, 3), today, today)
    with pytest.raises(InvalidRequest) as long:
        report.checked_range(date(2026, 1, 1), today, today)
    assert (backwards.value.code, long.value.code) == ("invalid_date_range", "date_range_too_long")


async def test_a_bad_range_is_said_in_words_and_the_default_shown(
    app: FastAPI, database: Database, settings: Settings
) -> None:
    _, admin_email, _, _ = await _world(database, settings)
    async with _signed_in(app, admin_email) as admin:
        page = await admin.get(f"{PAGE}?from=2026-01-01&to=2026-12-02")

    assert page.status_code == 200
    assert "报表最多覆盖 93 天" in page.text


@pytest.mark.parametrize("typed", ["0001-01-01", "9999-12-31", "2026-13-01", "x"])
async def test_dates_out_of_range_or_not_dates_fall_back_to_the_default(
    app: FastAPI, database: Database, settings: Settings, typed: str
) -> None:
    _, admin_email, _, _ = await _world(database, settings)
    async with _signed_in(app, admin_email) as admin:
        page = await admin.get(f"{PAGE}?from={typed}&to={typed}")

    assert page.status_code == 200
