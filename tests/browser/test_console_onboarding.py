"""The console end to end in a real browser: a merchant registers, a platform admin
approves it, the merchant logs in, opens a store and creates an API key, and the key then
works against the API."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS
from tests.factories import TEST_PASSWORD, valid_credit_code
from tongka.config import Settings
from tongka.db import Database
from tongka.identity import service as identity

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "ops-admin@tongka.example"
MERCHANT_EMAIL = "owner@teahouse.example"
LEGAL_NAME = "上海浏览器测试茶馆有限公司"


def _seed_platform_admin(settings: Settings) -> None:
    async def seed() -> None:
        database = Database.from_settings(settings)
        try:
            async with database.transaction() as session:
                await identity.create_user(
                    session,
                    email=ADMIN_EMAIL,
                    display_name="平台管理员",
                    role="admin",
                    password=TEST_PASSWORD,
                    actor="test",
                    now=identity_now(),
                )
        finally:
            await database.dispose()

    asyncio.run(seed())


def identity_now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()


def test_onboarding_in_the_browser(
    live_server: str, live_settings: Settings, chromium_path: Path, tmp_path: Path
) -> None:
    _seed_platform_admin(live_settings)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        try:
            # a merchant applies
            page.goto(f"{live_server}/console/register")
            page.get_by_label("企业名称").fill(LEGAL_NAME)
            page.get_by_label("统一社会信用代码").fill(valid_credit_code())
            page.get_by_label("联系人").fill("赵老板")
            page.get_by_label("联系电话").fill("13912345678")
            page.get_by_label("联系邮箱").fill("contact@teahouse.example")
            page.get_by_label("管理员登录邮箱").fill(MERCHANT_EMAIL)
            page.get_by_label("管理员密码（至少 10 位）").fill(TEST_PASSWORD)
            page.get_by_role("button", name="提交申请").click()
            expect(page.get_by_role("status")).to_contain_text("申请已提交")

            # the platform admin approves it from the review queue
            _log_in(page, live_server, ADMIN_EMAIL)
            expect(page.locator('[data-figure="merchants_pending"]')).to_have_text("1")
            page.get_by_role("link", name="待审核商户").click()
            expect(page.get_by_role("heading", name="入驻审核")).to_be_visible()
            row = page.locator("tr", has_text=LEGAL_NAME)
            if os.environ.get("TONGKA_SCREENSHOTS"):
                page.screenshot(path=str(Path(os.environ["TONGKA_SCREENSHOTS"]) / "review.png"))
            row.get_by_role("button", name="通过").click()
            expect(page.get_by_text("没有待审核的商户。")).to_be_visible()
            _log_out(page)

            # the merchant logs in, opens a store and creates an API key
            _log_in(page, live_server, MERCHANT_EMAIL)
            expect(page.get_by_role("heading", name="首页", exact=True)).to_be_visible()
            page.get_by_role("link", name="门店").click()
            expect(page.get_by_role("heading", name="门店", exact=True)).to_be_visible()
            page.get_by_label("名称", exact=True).fill("外滩旗舰店")
            page.get_by_label("地址", exact=True).fill("上海市黄浦区中山东一路18号")
            page.get_by_label("城市", exact=True).fill("上海")
            page.get_by_role("button", name="新建门店").click()
            expect(page.locator("table")).to_contain_text("外滩旗舰店")
            page.get_by_role("link", name="API 密钥").click()
            expect(page.get_by_role("heading", name="API 密钥", exact=True)).to_be_visible()
            page.get_by_label("名称", exact=True).fill("POS 对接")
            page.get_by_role("button", name="创建密钥").click()
            secret = page.locator("#new-api-key").inner_text().strip()
            if os.environ.get("TONGKA_SCREENSHOTS"):
                page.screenshot(path=str(Path(os.environ["TONGKA_SCREENSHOTS"]) / "keys.png"))
        finally:
            if os.environ.get("TONGKA_SCREENSHOTS"):
                page.screenshot(path=str(Path(os.environ["TONGKA_SCREENSHOTS"]) / "last.png"))
            browser.close()

    # the key works against the API and sees exactly the merchant's store
    response = httpx.get(f"{live_server}/v1/stores", headers={"Authorization": f"Bearer {secret}"})
    assert secret.startswith("tk_live_")
    assert response.status_code == 200
    assert [store["name"] for store in response.json()["data"]] == ["外滩旗舰店"]
