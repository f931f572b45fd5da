"""The layout part's jobs in a real browser, in Chinese, on the demo data: a merchant opens
its home page (figures and a chart), a card holder on a phone opens 我的卡 and a card's
history, and a visitor checks a balance on the public page. A failing test leaves a
screenshot in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS, LiveWorld, screenshot_on_failure
from tongka.edge.auth import SESSION_COOKIE

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _browser(playwright: object, chromium_path: Path) -> Browser:
    return playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)  # type: ignore[attr-defined]


def test_a_merchant_sees_its_figures_and_a_chart_on_its_home_page(
    live_world: LiveWorld, chromium_path: Path, tmp_path: Path
) -> None:
    admin = live_world.world.credentials["merchants"][0]["admin"]
    with sync_playwright() as playwright:
        browser = _browser(playwright, chromium_path)
        page = browser.new_page(locale="zh-CN", viewport={"width": 1366, "height": 768})
        try:
            with screenshot_on_failure(page, tmp_path / "merchant-home.png"):
                page.goto(f"{live_world.url}/console/login")
                page.get_by_label("邮箱").fill(admin["email"])
                page.get_by_label("密码").fill(admin["password"])
                page.get_by_role("button", name="登录").click()
                expect(page.get_by_role("heading", name="首页", exact=True)).to_be_visible()
                # the cards demo's three, the sales demo's e-card, the settled week's card,
                # and the holder's card returned at the till (closed: issued, not active)
                expect(page.locator('[data-figure="cards_issued"]')).to_have_text("6")
                expect(page.locator('[data-figure="cards_active"]')).to_have_text("5")
                expect(page.locator('[data-figure="outstanding"]')).to_contain_text("¥1,559.50")
                chart = page.get_by_role("img", name="近 30 天动态")
                expect(chart).to_be_visible()
                assert chart.evaluate("element => element.tagName") == "svg"
                expect(page.get_by_role("link", name="首页")).to_have_class("current")
        finally:
            browser.close()


def test_a_card_holder_on_a_phone_opens_a_card_and_its_history(
    live_world: LiveWorld, chromium_path: Path, tmp_path: Path
) -> None:
    with sync_playwright() as playwright:
        browser = _browser(playwright, chromium_path)
        context = browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True)
        token = live_world.world.caller("consumer").token
        context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": live_world.url}])
        page = context.new_page()
        try:
            with screenshot_on_failure(page, tmp_path / "holder-card.png"):
                page.goto(f"{live_world.url}/console/me")
                expect(page.get_by_role("heading", name="我的卡", exact=True)).to_be_visible()
                # the member card (the holder also holds the sales demo's e-cards)
                card = page.locator(".wallet-card").filter(has_text="¥220.00").first
                expect(card).to_contain_text("¥220.00")
                expect(card).to_contain_text("其中赠送 ¥20.00")
                card.click()
                expect(
                    page.get_by_role("heading", name="示范餐饮会员卡 Canteen member card")
                ).to_be_visible()
                expect(page.locator('[data-figure="balance"]')).to_have_text("¥220.00")
                history = page.locator("ul.history li")
                # activation (paid, bonus), and the console world's order: top-up, refund
                expect(history).to_have_count(4)
                activation = history.filter(has_text="激活充值").first
                expect(activation).to_contain_text("+¥200.00")
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
                page.get_by_role("link", name="我的卡").first.click()
                expect(page.get_by_role("heading", name="我的卡", exact=True)).to_be_visible()
        finally:
            browser.close()


def test_a_visitor_checks_a_balance_on_the_public_page(
    live_world: LiveWorld, chromium_path: Path, tmp_path: Path
) -> None:
    card = live_world.world.credentials["cards"]["62880202"]["cards"][1]  # 100 + 10 bonus
    with sync_playwright() as playwright:
        browser = _browser(playwright, chromium_path)
        page = browser.new_page(locale="zh-CN", viewport=PHONE)
        try:
            with screenshot_on_failure(page, tmp_path / "balance-check.png"):
                page.goto(f"{live_world.url}/console/login")
                page.get_by_role("link", name="免登录查询卡余额").click()
                expect(page.get_by_role("heading", name="查询卡余额")).to_be_visible()
                page.get_by_label("卡号").fill(card["number"])
                page.get_by_label("卡密码或 PIN 码").fill("000000")
                page.get_by_role("button", name="查询余额").click()
                expect(page.get_by_role("alert")).to_have_text("卡号或密码不正确。")
                expect(page.get_by_label("卡号")).to_have_value(card["number"])
                page.get_by_label("卡密码或 PIN 码").fill(card["secret"])
                page.get_by_role("button", name="查询余额").click()
                answer = page.get_by_role("status")
                expect(answer).to_contain_text("¥110.00")
                expect(answer).to_contain_text("其中赠送 ¥10.00")
                expect(answer).to_contain_text(card["number"][-4:])
                assert card["number"] not in page.url
                assert card["number"] not in page.content()
        finally:
            browser.close()
