"""Forms in a real browser: a refused registration comes back with what was typed (not the
password) and the error at its field; a platform admin rejects an application through the
confirmation with a reason; the message shows once; reloading an action's address lands
on a page, never on JSON."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS
from tests.browser.test_console_onboarding import ADMIN_EMAIL, _log_in, _seed_platform_admin
from tests.factories import TEST_PASSWORD, make_merchant_with_key
from tongka.config import Settings
from tongka.db import Database

pytestmark = pytest.mark.browser

LEGAL_NAME = "测试商户有限公司"  # make_merchant_with_key's default


def _seed_pending_merchant(settings: Settings) -> str:
    async def seed() -> str:
        database = Database.from_settings(settings)
        try:
            return (await make_merchant_with_key(database, active=False)).merchant_id
        finally:
            await database.dispose()

    return asyncio.run(seed())


def test_forms_redirect_keep_what_was_typed_and_confirm_destructive_actions(
    live_server: str, live_settings: Settings, chromium_path: Path
) -> None:
    _seed_platform_admin(live_settings)
    merchant_id = _seed_pending_merchant(live_settings)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        try:
            # a refused application keeps what was typed, never the password
            page.goto(f"{live_server}/console/register")
            page.get_by_label("企业名称").fill("上海表单测试有限公司")
            page.get_by_label("统一社会信用代码").fill("123")
            page.get_by_label("联系人").fill("钱老板")
            page.get_by_label("联系电话").fill("13912345678")
            page.get_by_label("联系邮箱").fill("contact@forms.example")
            page.get_by_label("管理员登录邮箱").fill("owner@forms.example")
            page.get_by_label("管理员密码（至少 10 位）").fill(TEST_PASSWORD)
            page.get_by_role("button", name="提交申请").click()
            expect(page.locator(".field-error")).to_have_count(1)
            expect(page.locator("label.invalid input")).to_have_attribute("name", "credit_code")
            expect(page.get_by_label("企业名称")).to_have_value("上海表单测试有限公司")
            expect(page.get_by_label("管理员密码（至少 10 位）")).to_have_value("")

            # the platform admin rejects the pending application, with a reason
            _log_in(page, live_server, ADMIN_EMAIL)
            expect(page.get_by_role("heading", name="首页")).to_be_visible()  # the role's home
            page.get_by_role("link", name="入驻审核").first.click()
            row = page.locator("tr", has_text=LEGAL_NAME)
            row.locator("summary", has_text="驳回").click()
            row.get_by_label("驳回原因（商户可见）").fill("营业执照照片不清晰")
            row.get_by_role("button", name="确认：驳回").click()
            expect(page.get_by_role("status")).to_contain_text("入网申请已驳回")
            expect(page.get_by_text("没有待审核的商户。")).to_be_visible()
            page.reload()
            expect(page.locator("[data-flash]")).to_have_count(0)  # once, then gone

            # reloading an action's address lands on the object's page
            page.goto(f"{live_server}/console/merchants/{merchant_id}/approve")
            expect(page.get_by_role("heading", name=LEGAL_NAME)).to_be_visible()
            expect(page.get_by_text("营业执照照片不清晰")).to_be_visible()
            expect(page.locator("[data-merchant-actions]")).to_have_count(0)  # rejected
        finally:
            browser.close()
