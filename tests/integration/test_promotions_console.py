"""营销活动 in the console: a merchant admin starts a promotion from the form (the budget
leaves its account), sees it listed in Chinese, ends it (the budget comes back); a refused
form explains itself and starts nothing; ending takes a reason."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from tests.factories import TEST_PASSWORD, make_merchant_with_key
from tests.integration import test_console
from tests.integration.test_console import csrf_of, log_in
from tests.promotions_support import available, fund_merchant, payable_of
from tongka.cards.models import CardProduct
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.sales.promotion_models import Promotion

app = test_console.app  # the same fixtures as the staff console tests
browser = test_console.browser
URL = "/console/promotions"


async def stored(database: Database) -> list[Promotion]:
    async with database.transaction() as session:
        return list(await session.scalars(select(Promotion)))


async def _merchant_signed_in(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> str:
    merchant = await make_merchant_with_key(database)
    async with database.transaction() as session:
        await fund_merchant(session, clock.now(), 100_000, merchant.merchant_id)
    await log_in(browser, merchant.admin_email, TEST_PASSWORD)
    return merchant.merchant_id


async def _start(browser: httpx.AsyncClient, **changes: str) -> httpx.Response:
    form: dict[str, Any] = {
        "csrf_token": await csrf_of(browser, URL),
        "name": "充值500送50",
        "tier1_load": "500",
        "tier1_bonus": "50",
        "tier2_load": "1000",
        "tier2_bonus": "120",
        "budget": "300",
        "ends_on": "2026-01-31",
        "per_holder_count": "2",
    }
    form.update(changes)
    return await browser.post(URL, data=form)


async def test_a_merchant_starts_and_ends_a_promotion(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    merchant_id = await _merchant_signed_in(browser, database, clock)
    page = await browser.get(URL)
    assert "营销活动" in page.text
    assert "¥1,000.00" in page.text  # what the account holds

    started = await _start(browser)

    assert (started.status_code, started.headers["location"]) == (303, URL)
    [promotion] = await stored(database)
    assert promotion.budget_minor == 30_000
    assert promotion.tiers == [
        {"min_load_minor": 50_000, "bonus_minor": 5_000},
        {"min_load_minor": 100_000, "bonus_minor": 12_000},
    ]
    assert promotion.ends_at.isoformat().startswith("2026-01-31T16:00")  # Feb 1, Shanghai
    assert await available(database, payable_of(merchant_id)) == 70_000
    listing = await browser.get(URL)
    assert "营销活动已开始" in listing.text
    assert "充值满 ¥500.00 送 ¥50.00" in listing.text
    assert "进行中" in listing.text

    token = await csrf_of(browser, URL)
    ended = await browser.post(
        f"{URL}/{promotion.id}/end", data={"csrf_token": token, "reason": "活动提前结束"}
    )

    assert ended.status_code == 303
    assert "已结束" in (await browser.get(URL)).text
    detail = await browser.get(f"{URL}/{promotion.id}")
    assert detail.status_code == 200
    assert "赠送记录" in detail.text
    assert await available(database, payable_of(merchant_id)) == 100_000


async def test_a_refused_form_explains_and_starts_nothing(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    merchant_id = await _merchant_signed_in(browser, database, clock)

    too_big = await _start(browser, budget="5000")
    shown = await browser.get(URL)

    assert too_big.status_code == 303
    assert "您的账户余额为 ¥1,000.00，不足以支付 ¥5,000.00 的活动预算。" in shown.text
    assert 'value="充值500送50"' in shown.text  # what was typed is kept
    rising = await _start(browser, tier2_bonus="40")
    assert rising.status_code == 303
    assert "充值越多，赠送不能越少" in (await browser.get(URL)).text
    assert await stored(database) == []
    assert await available(database, payable_of(merchant_id)) == 100_000


async def test_ending_needs_a_reason(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    await _merchant_signed_in(browser, database, clock)
    await _start(browser)
    [promotion] = await stored(database)

    token = await csrf_of(browser, URL)
    refused = await browser.post(f"{URL}/{promotion.id}/end", data={"csrf_token": token})

    assert refused.status_code == 303
    assert [p.status for p in await stored(database)] == ["active"]


async def test_a_product_form_chooses_bonus_first(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    await _merchant_signed_in(browser, database, clock)
    form = {
        "csrf_token": await csrf_of(browser, "/console/card_products"),
        "name": "先用赠送卡",
        "bin_prefix": "62770099",
        "number_length": "16",
        "max_balance": "1000",
        "face_values": "100,500",
        "validity_months": "36",
        "is_bonus_spent_first": "on",
    }

    created = await browser.post("/console/card_products", data=form)

    assert created.status_code == 303
    async with database.transaction() as session:
        [product] = list(await session.scalars(select(CardProduct)))
    assert product.is_bonus_spent_first is True
    page = await browser.get(f"/console/card_products/{product.id}")
    assert "先于实付金额使用" in page.text
