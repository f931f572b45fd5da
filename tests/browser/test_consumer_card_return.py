"""A card holder returns a named card (退卡) in a real browser at phone width: sign in with a
texted code, open the card, 退卡, a name that is not theirs is refused at its field in
Chinese, their own name goes through, and the return's page shows the payout under way;
the card is closed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS, _served, _settings, screenshot_on_failure
from tests.cards_support import NAMED, active_product, funded_card
from tests.conftest import run_blocking
from tests.factories import read_sandbox_code
from tongka.config import Settings
from tongka.db import Database
from tongka.identity import service as identity
from tongka.identity.models import KycLevel

pytestmark = pytest.mark.browser

PHONE = "13812345671"
NAME = "王小明"
PHONE_WIDTH = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Shop:
    url: str
    settings: Settings
    card_id: str


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    settings = _settings(tmp_path)
    card_id = run_blocking(_seed(settings))
    with _served(settings) as url:
        yield Shop(url, settings, card_id)


async def _seed(settings: Settings) -> str:
    """A verified holder with a named card: ¥320 paid, ¥30 bonus."""
    now = datetime.now(UTC)
    database = Database.from_settings(settings)
    try:
        async with database.transaction() as session:
            consumer = await identity.create_consumer(
                session, phone=PHONE, actor="t", now=now, kyc_level=KycLevel.ID_CARD
            )
            await identity.set_kyc_level(
                session, consumer.id, KycLevel.ID_CARD, actor="t", now=now, verified_name=NAME
            )
            product = await active_product(
                session,
                now,
                **{k: getattr(NAMED, k) for k in ("name", "is_named", "max_balance")},
                validity_months=None,
            )
            issued = await funded_card(
                session, now, product, amount=32_000, bonus=3_000, holder_id=consumer.id
            )
            return issued.card.id
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
    # the code is read once the page says it was sent (not before the server has sent it)
    expect(page.get_by_role("status")).to_contain_text("138****5671")
    page.get_by_label("验证码").fill(_texted_code(shop.settings))
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的卡", exact=True)).to_be_visible()


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH["width"], f"{page.url} is {width}px wide"


def test_a_holder_returns_a_card_to_their_own_account_at_phone_width(
    shop: Shop, chromium_path: Path, tmp_path: Path
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN", viewport=PHONE_WIDTH)
        with screenshot_on_failure(page, tmp_path / "card-return.png"):
            _sign_in(page, shop)
            page.goto(f"{shop.url}/console/me/cards/{shop.card_id}")
            page.locator("[data-return-link]").click()
            expect(page.get_by_role("heading", name="退卡")).to_be_visible()
            expect(page.locator("[data-return-amount]")).to_contain_text("¥320.00")
            _fits(page)
            page.get_by_label("开户银行").fill("中国工商银行上海分行")
            page.get_by_label("账户名").fill("李四")
            page.get_by_label("账号").fill("6222021001234567")
            page.get_by_role("button", name="确认退卡").click()
            expect(page.locator("#account_name-error")).to_contain_text("本人名下")
            _fits(page)

            page.get_by_label("账户名").fill(NAME)
            page.get_by_label("账号").fill("6222021001234567")
            page.get_by_role("button", name="确认退卡").click()
            expect(page.locator("[data-return-status]")).to_have_attribute(
                "data-return-status", "paying"
            )
            expect(page.locator("[data-account]")).to_contain_text("4567")
            _fits(page)
            page.goto(f"{shop.url}/console/me/cards/{shop.card_id}")
            expect(page.locator(".wallet-card .badge")).to_have_text("已注销")
        browser.close()
