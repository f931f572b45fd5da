"""A card holder signs in in a real browser: phone, texted code (read from the sandbox SMS
table, as a developer would), the home page (我的卡), and logout."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS
from tests.conftest import run_blocking
from tests.factories import read_sandbox_code
from tongka.config import Settings
from tongka.db import Database

pytestmark = pytest.mark.browser

PHONE = "13812345678"


def _texted_code(settings: Settings) -> str:
    async def read() -> str:
        database = Database.from_settings(settings)
        try:
            return await read_sandbox_code(database, PHONE)
        finally:
            await database.dispose()

    return run_blocking(read())  # Playwright's sync API keeps an event loop running


def test_a_card_holder_signs_in_with_a_texted_code(
    live_server: str, live_settings: Settings, chromium_path: Path
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        try:
            page.goto(f"{live_server}/console/login")
            page.get_by_role("link", name="持卡人？用手机验证码登录").click()
            page.get_by_label("手机号").fill(PHONE)
            page.get_by_role("button", name="获取验证码").click()
            expect(page.get_by_role("status")).to_contain_text("138****5678")
            page.get_by_label("验证码").fill(_texted_code(live_settings))
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_role("heading", name="我的卡", exact=True)).to_be_visible()
            expect(page.locator("main")).to_contain_text("手机号已验证")
            expect(page.locator("main")).to_contain_text("你还没有卡。")
            page.get_by_role("button", name="退出登录").click()
            expect(page.get_by_role("heading", name="持卡人登录")).to_be_visible()
        finally:
            browser.close()
