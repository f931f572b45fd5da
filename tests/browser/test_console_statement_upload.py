"""The 对账 page's statement upload in a real browser (boosted by HTMX, multipart): a bad
file comes back with the error at the file field and nothing made; the day's bill lands
on its run's page with the result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS
from tests.browser.test_console_onboarding import ADMIN_EMAIL, _log_in, _seed_platform_admin
from tests.reconciliation_support import ZONE, at, line
from tongka.config import Settings
from tongka.reconciliation.writers import wechat_bill

pytestmark = pytest.mark.browser


def test_upload_a_statement_in_the_browser(
    live_server: str, live_settings: Settings, chromium_path: Path
) -> None:
    _seed_platform_admin(live_settings)
    yesterday = datetime.now(UTC).astimezone(ZONE).date() - timedelta(days=1)
    bill = b"".join(wechat_bill([line("pay_unknown", 5_000, 30, at(yesterday))]))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        try:
            _log_in(page, live_server, ADMIN_EMAIL)
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto(f"{live_server}/console/reconciliations")
            form = page.locator("form[data-upload]")
            form.locator("input[name=statement_date]").fill(yesterday.isoformat())
            form.locator("select[name=channel]").select_option("wechat")
            upload = {"name": "bill.csv", "mimeType": "text/csv"}
            form.locator("input[name=statement]").set_input_files(
                {**upload, "buffer": bill.replace(b"50.00", b"5x.00", 1)}  # type: ignore[typeddict-item]
            )
            form.get_by_role("button", name="上传并对账").click()
            expect(page.locator("#statement-error")).to_be_visible()
            expect(page.locator("[data-run]")).to_have_count(0)

            form = page.locator("form[data-upload]")
            form.locator("input[name=statement_date]").fill(yesterday.isoformat())
            form.locator("select[name=channel]").select_option("wechat")
            form.locator("input[name=statement]").set_input_files({**upload, "buffer": bill})  # type: ignore[typeddict-item]
            form.get_by_role("button", name="上传并对账").click()
            expect(page.get_by_text("对账单已导入，当日对账完成")).to_be_visible()
            expect(page.get_by_text("渠道有、账务无（长款）").first).to_be_visible()
        finally:
            browser.close()
