"""The list component in a real browser, in Chinese: a merchant narrows its cards with the
product picker (HTMX search), pages forward with the filter kept, sorts by a header; on a
390 px phone the table scrolls inside its box and the filter bar fits the screen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS
from tests.cards_support import active_product, issue
from tests.factories import TEST_PASSWORD, make_merchant_with_key
from tongka.config import Settings
from tongka.db import Database

pytestmark = pytest.mark.browser


def _seed(settings: Settings) -> str:
    """A merchant with 60 cards of 「茶馆储值卡」 and 5 of 「茶馆礼品卡」; its admin's email."""

    async def seed() -> str:
        database = Database.from_settings(settings)
        now = datetime.now(UTC)
        try:
            merchant = await make_merchant_with_key(database, legal_name="上海列表茶馆有限公司")
            async with database.transaction() as session:
                for name, count in (("茶馆储值卡", 60), ("茶馆礼品卡", 5)):
                    product = await active_product(
                        session, now, merchant_id=merchant.merchant_id, name=name
                    )
                    for _ in range(count):
                        await issue(session, product.id, now, merchant_id=merchant.merchant_id)
            return merchant.admin_email
        finally:
            await database.dispose()

    return asyncio.run(seed())


def _log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()


def test_a_merchant_filters_pages_and_sorts_its_cards(
    live_server: str, live_settings: Settings, chromium_path: Path
) -> None:
    email = _seed(live_settings)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN", viewport={"width": 1366, "height": 900})
        try:
            _log_in(page, live_server, email)
            page.goto(f"{live_server}/console/cards")
            expect(page.get_by_text("共 65 条")).to_be_visible()
            picker = page.locator("label.picker").filter(has_text="卡种")
            picker.get_by_role("searchbox").fill("储值")
            select = picker.locator("select")
            expect(select.locator("option", has_text="茶馆礼品卡")).to_have_count(0)
            select.select_option(label=select.locator("option", has_text="茶馆储值卡").inner_text())
            page.get_by_role("button", name="查询").click()
            expect(page.get_by_text("共 60 条")).to_be_visible()
            page.get_by_role("link", name="下一页 →").click()
            expect(page.get_by_text("第 51–60 条")).to_be_visible()
            assert "product_id=" in page.url
            assert "page=2" in page.url
            page.get_by_role("link", name="← 上一页").click()
            expect(page.get_by_text("第 1–50 条")).to_be_visible()
            page.get_by_role("link", name="状态").click()
            expect(page.get_by_role("link", name="状态 ↓")).to_be_visible()
            assert "product_id=" in page.url
            # a phone: the table scrolls in its box, the filter bar wraps within the screen
            page.set_viewport_size({"width": 390, "height": 800})
            scroller = page.locator(".table-scroll")
            box = scroller.bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= 390 + 1
            form = page.locator("form.filters")
            fits = form.evaluate("form => form.scrollWidth <= form.clientWidth + 1")
            assert fits
        finally:
            browser.close()
