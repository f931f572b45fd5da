"""Account jobs end to end in a real browser, in Chinese: a rejected applicant logs in,
reads why, corrects and resubmits its application; a merchant admin resets a cashier's
password (confirmed with a reason), and the cashier replaces the temporary one at login."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS
from tests.factories import TEST_KEYS, TEST_PASSWORD, registration
from tongka.config import Settings
from tongka.db import Database
from tongka.identity import service as identity

pytestmark = pytest.mark.browser

NEW_PASSWORD = "my own new passphrase"


def _seed(settings: Settings) -> tuple[str, str, str]:
    """(rejected applicant's email, an active merchant admin's email, its cashier's email)."""

    async def seed() -> tuple[str, str, str]:
        now = datetime.now(UTC)
        database = Database.from_settings(settings)
        rejected, active = (
            registration("上海被驳回茶馆有限公司"),
            registration("上海正常茶馆有限公司"),
        )
        try:
            async with database.transaction() as session:
                merchant, _ = await identity.register_merchant(
                    session, TEST_KEYS, rejected, now=now
                )
                await identity.review_merchant(
                    session, merchant.id, "reject", actor="test", now=now, reason="联系电话无法接通"
                )
                shop, _ = await identity.register_merchant(session, TEST_KEYS, active, now=now)
                await identity.review_merchant(session, shop.id, "approve", actor="test", now=now)
                cashier = await identity.create_user(
                    session,
                    email="cashier@teahouse.example",
                    display_name="小王",
                    role="cashier",
                    password=TEST_PASSWORD,
                    actor="test",
                    now=now,
                    merchant_id=shop.id,
                )
        finally:
            await database.dispose()
        return rejected.admin_email, active.admin_email, cashier.email

    return asyncio.run(seed())


def _log_in(page: Page, base_url: str, email: str, password: str = TEST_PASSWORD) -> None:
    page.goto(f"{base_url}/console/login")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def _shot(page: Page, name: str) -> None:
    if os.environ.get("TONGKA_SCREENSHOTS"):
        page.screenshot(path=str(Path(os.environ["TONGKA_SCREENSHOTS"]) / name))


def test_account_jobs_in_the_browser(
    live_server: str, live_settings: Settings, chromium_path: Path
) -> None:
    applicant, admin, cashier = _seed(live_settings)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        try:
            # the rejected applicant reads why, corrects its phone and sends it again
            _log_in(page, live_server, applicant)
            expect(page.get_by_role("alert")).to_contain_text("联系电话无法接通")
            _shot(page, "application.png")
            page.get_by_label("联系电话").fill("13911112222")
            page.get_by_role("button", name="重新提交申请").click()
            expect(page.get_by_role("status").first).to_contain_text("重新提交审核")
            page.get_by_role("button", name="完成，离开此页").click()

            # a merchant admin resets the cashier's password, confirming with a reason
            _log_in(page, live_server, admin)
            page.get_by_role("link", name="用户").click()
            page.get_by_role("link", name="小王").click()
            page.get_by_text("重置密码").first.click()
            page.get_by_label("原因（随重置操作记录）").fill("忘记密码")
            page.get_by_role("button", name="确认重置密码").click()
            temporary = page.locator("[data-temporary-password]").inner_text().strip()
            _shot(page, "reset.png")
            assert len(temporary) == identity.TEMPORARY_PASSWORD_LENGTH
            page.get_by_role("button", name="退出登录").click()

            # the cashier logs in with it and must choose a new password first
            _log_in(page, live_server, cashier, temporary)
            expect(page.get_by_role("heading", name="设置新密码")).to_be_visible()
            page.get_by_label("临时密码").fill(temporary)
            page.get_by_label("新密码（至少 10 位）").fill(NEW_PASSWORD)
            page.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_role("button", name="退出登录")).to_be_visible()
            expect(page.locator("header")).to_contain_text("小王")
        finally:
            _shot(page, "last.png")
            browser.close()
