"""The cashier page in a real browser, in Chinese, at phone width: a store-bound cashier
redeems a card typed in yuan, sees the answer at once, then refunds part of it after
confirming — and the card's balance follows."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS
from tests.cards_support import active_product, funded_card
from tests.factories import TEST_KEYS, TEST_PASSWORD, registration, unique_email
from tongka.cards import service
from tongka.config import Settings
from tongka.db import Database
from tongka.identity import service as identity

pytestmark = pytest.mark.browser


def _seed(settings: Settings) -> dict[str, str]:
    async def seed() -> dict[str, str]:
        now = datetime.now(UTC)
        database = Database.from_settings(settings)
        details = registration("上海浏览器收银测试有限公司")
        cashier = unique_email("till")
        try:
            async with database.transaction() as session:
                merchant, _ = await identity.register_merchant(session, TEST_KEYS, details, now=now)
                await identity.review_merchant(session, merchant.id, "approve", actor="t", now=now)
                store = await identity.create_store(
                    session,
                    merchant_id=merchant.id,
                    name="南京东路店",
                    address="上海市黄浦区南京东路1号",
                    city="上海",
                    actor="t",
                    now=now,
                )
                await identity.create_user(
                    session,
                    email=cashier,
                    display_name="收银小王",
                    role="cashier",
                    password=TEST_PASSWORD,
                    actor="t",
                    now=now,
                    merchant_id=merchant.id,
                    store_id=store.id,
                )
                product = await active_product(session, now, merchant.id)
                card = await funded_card(session, now, product, amount=20_000)
        finally:
            await database.dispose()
        return {
            "cashier": cashier,
            "card_id": card.card.id,
            "number": card.number,
            "secret": card.secret,
        }

    return asyncio.run(seed())


async def _total(settings: Settings, card_id: str) -> int:
    database = Database.from_settings(settings)
    try:
        async with database.transaction() as session:
            card = await service.get_card(session, card_id)
            return (await service.card_balance(session, card)).total
    finally:
        await database.dispose()


def _shot(page: Page, name: str) -> None:
    if os.environ.get("TONGKA_SCREENSHOTS"):
        page.screenshot(path=str(Path(os.environ["TONGKA_SCREENSHOTS"]) / name), full_page=True)


def test_a_cashier_redeems_a_card_and_refunds_it(
    live_server: str, live_settings: Settings, chromium_path: Path
) -> None:
    seeded = _seed(live_settings)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
        try:
            page.goto(f"{live_server}/console/login?next=/console/till")
            page.get_by_label("邮箱").fill(seeded["cashier"])
            page.get_by_label("密码").fill(TEST_PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("收银台")
            # redeem: the answer shows at once, with the balance left
            page.get_by_label("卡号或付款码").fill(seeded["number"])
            page.get_by_label("卡密", exact=True).fill(seeded["secret"])
            page.locator("form input[name='amount']").first.fill("88.80")
            page.get_by_role("button", name="核销", exact=True).click()
            answer = page.locator("[data-answer]")
            expect(answer).to_have_attribute("data-answer", "approved")
            expect(answer).to_contain_text("¥88.80")
            expect(answer).to_contain_text("¥111.20")
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
            _shot(page, "till-approved.png")
            # refund part of it, after confirming
            row = page.locator("tr[data-redemption]").first
            row.get_by_text("退款", exact=True).click()
            row.locator("input[name='amount']").fill("8.80")
            row.get_by_role("button", name="确认退款").click()
            expect(page.get_by_role("status").first).to_contain_text("已退回卡内")
            expect(page.locator("tr[data-redemption]").first).to_contain_text("已退 ¥8.80")
            _shot(page, "till-refunded.png")
        finally:
            _shot(page, "till-last.png")
            browser.close()
    assert asyncio.run(_total(live_settings, seeded["card_id"])) == 20_000 - 8_880 + 880
