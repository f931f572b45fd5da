"""A card holder buys a card and tops it up in a real browser at phone width, paying at the
sandbox gateway (served for real next to the app, which it notifies over HTTP): sign in
with a texted code, 购卡, the payment page's QR code opens the payer page, confirm, the page
sees the payment by itself, the card is active with its value, the receipt checks out;
then 充值 from the list of my cards the same way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.conftest import (
    CHROMIUM_ARGS,
    _free_port,
    _served,
    _settings,
    screenshot_on_failure,
)
from tests.cards_support import MERCHANT, active_product, grant_quota
from tests.conftest import run_blocking
from tests.factories import read_sandbox_code
from tongka.config import Settings
from tongka.db import Database
from tongka.identity import service as identity
from tongka.payments.sandbox.app import create_gateway

pytestmark = pytest.mark.browser

PHONE = "13812345670"
PHONE_WIDTH = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Shop:
    url: str
    settings: Settings


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    """The app and the sandbox gateway, each on its own port, each knowing the other's."""
    app_port, gateway_port = _free_port(), _free_port()
    settings = _settings(tmp_path).model_copy(
        update={
            "sandbox_gateway_url": f"http://127.0.0.1:{gateway_port}",
            "payments_notify_base_url": f"http://127.0.0.1:{app_port}",
        }
    )
    run_blocking(_seed(settings))
    gateway = create_gateway(settings)
    with _served(settings, app=gateway, port=gateway_port), _served(settings, port=app_port) as url:
        yield Shop(url, settings)


async def _seed(settings: Settings) -> None:
    """A merchant selling an anonymous card (¥100 / ¥500, up to ¥1,000) and a holder."""
    now = datetime.now(UTC)
    database = Database.from_settings(settings)
    try:
        async with database.transaction() as session:
            await grant_quota(session, now, 10**10, MERCHANT)
            await active_product(session, now, name="示范电子卡")
            await identity.create_consumer(session, phone=PHONE, actor="t", now=now)
    finally:
        await database.dispose()


def _texted_code(settings: Settings) -> str:
    async def read() -> str:
        database = Database.from_settings(settings)
        try:
            return await read_sandbox_code(database, PHONE)
        finally:
            await database.dispose()

    return run_blocking(read())


def _sign_in(page: Page, shop: Shop) -> None:
    page.goto(f"{shop.url}/console/consumer/login")
    page.get_by_label("手机号").fill(PHONE)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("status")).to_contain_text("138****5670")
    page.get_by_label("验证码").fill(_texted_code(shop.settings))
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的卡", exact=True)).to_be_visible()


def _pay_at_the_gateway(page: Page) -> None:
    """Tap the QR code (the payer page opens), confirm there, and come back."""
    expect(page.locator("[data-pay-qr] svg")).to_be_visible()
    expect(page.locator("#order-status")).to_contain_text("待支付")
    with page.expect_popup() as opened:
        page.locator("[data-pay-link]").click()
    payer = opened.value
    payer.get_by_role("button", name="确认支付").click()
    expect(payer.locator("body")).to_contain_text("支付成功")
    payer.close()
    # the payment page asks again every few seconds and sees the notification's effect
    expect(page.locator("#order-status")).to_have_attribute(
        "data-order-status", "fulfilled", timeout=20_000
    )
    expect(page.locator("[data-pay-qr]")).to_have_count(0)  # paid: no code to scan


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH["width"], f"{page.url} is {width}px wide"


def test_a_holder_buys_a_card_then_tops_it_up_paying_at_the_sandbox(
    shop: Shop, chromium_path: Path, tmp_path: Path
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN", viewport=PHONE_WIDTH)
        with screenshot_on_failure(page, tmp_path / "consumer-orders.png"):
            _sign_in(page, shop)
            page.locator("nav").get_by_role("link", name="购卡", exact=True).click()
            expect(page.get_by_role("heading", name="购卡")).to_be_visible()
            _fits(page)
            page.get_by_label("面额").select_option(label="¥100.00")
            page.get_by_label("支付方式").select_option("wechat")
            page.get_by_role("button", name="购买并支付").click()
            expect(page.locator("[data-figure=amount]")).to_have_text("¥100.00")
            _fits(page)
            _pay_at_the_gateway(page)

            receipt = page.locator("[data-receipt-link]").get_attribute("href")
            assert receipt is not None
            page.locator("[data-card-link]").click()
            expect(page.locator("[data-figure=balance]")).to_have_text("¥100.00")
            expect(page.locator(".wallet-card .badge")).to_have_text("正常")

            page.goto(f"{shop.url}{receipt}")
            expect(page.get_by_role("status")).to_have_text("已验证")
            code = receipt.rsplit("/", 1)[-1]
            page.goto(f"{shop.url}/console/receipts")
            page.get_by_label("验证码").fill(code)
            page.locator("main form button[type=submit]").click()
            expect(page).to_have_url(re.compile(re.escape(receipt) + "$"))
            expect(page.get_by_role("status")).to_have_text("已验证")

            page.goto(f"{shop.url}/console/me")  # 充值 from the list of my cards
            page.locator("[data-top-up-link]").click()
            page.get_by_label("金额").fill("50")
            page.get_by_label("支付方式").select_option("alipay")
            page.get_by_role("button", name="充值并支付").click()
            expect(page.locator("[data-figure=amount]")).to_have_text("¥50.00")
            _pay_at_the_gateway(page)
            page.locator("[data-card-link]").click()
            expect(page.locator("[data-figure=balance]")).to_have_text("¥150.00")
        browser.close()
