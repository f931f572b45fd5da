"""Card jobs end to end in a real browser, in Chinese: the issuer activates a member card
without money, merges a card into another after confirming, and platform finance records
a card's payment typed in yuan."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS
from tests.cards_support import active_product, funded_card, grant_quota, issue
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
        details = registration("上海浏览器并卡测试有限公司")
        finance = unique_email("finance")
        try:
            async with database.transaction() as session:
                merchant, _ = await identity.register_merchant(session, TEST_KEYS, details, now=now)
                await identity.review_merchant(session, merchant.id, "approve", actor="t", now=now)
                await identity.create_user(
                    session,
                    email=finance,
                    display_name="财务小李",
                    role="finance",
                    password=TEST_PASSWORD,
                    actor="t",
                    now=now,
                )
                product = await active_product(session, now, merchant.id)
                await grant_quota(session, now, 10**9, merchant.id)
                member = await issue(session, product.id, now, merchant_id=merchant.id)
                paid = await issue(session, product.id, now, merchant_id=merchant.id)
                target = await funded_card(session, now, product, amount=3_000)
                source = await funded_card(session, now, product, amount=2_500)
        finally:
            await database.dispose()
        return {
            "admin": details.admin_email,
            "finance": finance,
            "member": member.card.id,
            "paid": paid.card.id,
            "target": target.card.id,
            "source": source.card.id,
        }

    return asyncio.run(seed())


async def _status_and_total(settings: Settings, card_id: str) -> tuple[str, int]:
    database = Database.from_settings(settings)
    try:
        async with database.transaction() as session:
            card = await service.get_card(session, card_id)
            return card.status, (await service.card_balance(session, card)).total
    finally:
        await database.dispose()


def _log_in(page: Page, base_url: str, email: str, target: str) -> None:
    page.goto(f"{base_url}/console/login?next={target}")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()


def _shot(page: Page, name: str) -> None:
    if os.environ.get("TONGKA_SCREENSHOTS"):
        page.screenshot(path=str(Path(os.environ["TONGKA_SCREENSHOTS"]) / name), full_page=True)


def test_card_jobs_in_the_browser(
    live_server: str, live_settings: Settings, chromium_path: Path
) -> None:
    seeded = _seed(live_settings)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        try:
            # a member card is activated without money
            _log_in(page, live_server, seeded["admin"], f"/console/cards/{seeded['member']}")
            page.get_by_text("无资金激活", exact=True).click()
            page.get_by_label("无资金激活的原因（如会员卡）").fill("会员赠卡")
            page.get_by_role("button", name="确认无资金激活").click()
            expect(page.get_by_role("status").first).to_be_visible()
            # one card is merged into another after confirming
            page.goto(f"{live_server}/console/cards/{seeded['target']}")
            page.get_by_role("button", name="将其他卡并入本卡").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("并卡至")
            page.locator(f"input[value='{seeded['source']}']").check()
            page.get_by_text("合并所选卡片").click()
            _shot(page, "merge.png")
            page.get_by_role("button", name="确认：并卡并注销所选卡片").click()
            expect(page.get_by_role("status").first).to_contain_text("并入本卡")
            page.get_by_role("button", name="退出登录").click()
            # finance records a card's payment, typed in yuan
            _log_in(page, live_server, seeded["finance"], f"/console/cards/{seeded['paid']}")
            page.get_by_label("到账金额").fill("100.00")
            page.get_by_label("付款流水号").fill("ICBC-20261202-001")
            page.get_by_role("button", name="激活此卡").click()
            expect(page.get_by_role("status").first).to_contain_text("已登记到账")
            _shot(page, "funded.png")
        finally:
            _shot(page, "last.png")
            browser.close()
    assert asyncio.run(_status_and_total(live_settings, seeded["member"])) == ("active", 0)
    assert asyncio.run(_status_and_total(live_settings, seeded["target"])) == ("active", 5_500)
    assert asyncio.run(_status_and_total(live_settings, seeded["source"])) == ("closed", 0)
    assert asyncio.run(_status_and_total(live_settings, seeded["paid"])) == ("active", 10_000)
