"""An enterprise batch paid by bank transfer, and a refund of a paid order, in a real
browser in Chinese, with the sandbox gateway served for real next to the app.

The batch: the merchant's admin orders it (单位批量购卡), the order's page shows the
reserve account and the reference to quote; platform finance records the transfer
(来账登记) on the 备付金 page; the worker jobs issue and activate the batch; the cards are
active with their face value and the books verify. The refund: a holder's card paid at the
sandbox is refunded from the merchant's order page; the card's balance falls to nothing,
the sandbox has the refund, the order shows 已退款."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from tests.browser.conftest import (
    CHROMIUM_ARGS,
    _free_port,
    _served,
    _settings,
    screenshot_on_failure,
)
from tests.cards_support import active_product, grant_quota
from tests.conftest import assert_books_balance, run_blocking
from tests.factories import TEST_KEYS, TEST_PASSWORD, registration, unique_email
from tongka.cards import service as cards
from tongka.cards.jobs import issue_batches
from tongka.cards.models import Card
from tongka.clock import SystemClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity import service as identity
from tongka.payments import registry
from tongka.payments.adapters import build_channels
from tongka.payments.channel import PaymentMethod
from tongka.sales.batch_orders import activate_paid_batches
from tongka.sales.models import Order
from tongka.sales.order_states import OrderKind
from tongka.sales.orders import OrderRequest, create_order

pytestmark = pytest.mark.browser

UNIT = "上海示例科技有限公司"


@dataclass(frozen=True)
class Bank:
    url: str
    gateway_url: str
    settings: Settings
    admin: str
    finance: str
    merchant_id: str
    product_id: str


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    """The app and the sandbox gateway, each knowing the other's address; a merchant with
    a product on sale, its admin, and a platform finance user."""
    from tongka.payments.sandbox.app import create_gateway

    app_port, gateway_port = _free_port(), _free_port()
    settings = _settings(tmp_path).model_copy(
        update={
            "sandbox_gateway_url": f"http://127.0.0.1:{gateway_port}",
            "payments_notify_base_url": f"http://127.0.0.1:{app_port}",
        }
    )
    seeded = run_blocking(_seed(settings))
    with (
        _served(settings, app=create_gateway(settings), port=gateway_port) as gateway_url,
        _served(settings, port=app_port) as url,
    ):
        yield Bank(url, gateway_url, settings, **seeded)


async def _seed(settings: Settings) -> dict[str, str]:
    now = datetime.now(UTC)
    details = registration("上海浏览器购卡测试有限公司")
    finance = unique_email("finance")
    database = Database.from_settings(settings)
    try:
        async with database.transaction() as session:
            merchant, _ = await identity.register_merchant(session, TEST_KEYS, details, now=now)
            await identity.review_merchant(session, merchant.id, "approve", actor="t", now=now)
            await identity.create_user(
                session,
                email=finance,
                display_name="财务小王",
                role="finance",
                password=TEST_PASSWORD,
                actor="t",
                now=now,
            )
            await grant_quota(session, now, 10**10, merchant.id)
            product = await active_product(session, now, merchant.id, name="企业福利卡")
    finally:
        await database.dispose()
    return {
        "admin": details.admin_email,
        "finance": finance,
        "merchant_id": merchant.id,
        "product_id": product.id,
    }


def _log_in(page: Page, bank: Bank, email: str, target: str) -> None:
    page.goto(f"{bank.url}/console/login?next={target}")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()


async def _run_worker_jobs(settings: Settings) -> int:
    """The worker's two steps of a paid batch: issue it, then activate it."""
    database = Database.from_settings(settings)
    try:
        await issue_batches(database, SystemClock(), settings)
        return await activate_paid_batches(database, SystemClock(), settings)
    finally:
        await database.dispose()


async def _cards_of(settings: Settings, order_id: str) -> list[tuple[str, int]]:
    database = Database.from_settings(settings)
    try:
        async with database.transaction() as session:
            order = await session.get(Order, order_id)
            assert order is not None
            found = (
                await session.scalars(select(Card).where(Card.batch_id == order.batch_id))
            ).all()
            return [(card.status, (await cards.card_balance(session, card)).paid) for card in found]
    finally:
        await database.dispose()


async def _books_verify(settings: Settings) -> None:
    database = Database.from_settings(settings)
    try:
        await assert_books_balance(database)
    finally:
        await database.dispose()


def test_an_enterprise_batch_paid_by_bank_transfer(
    bank: Bank, chromium_path: Path, tmp_path: Path
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        with screenshot_on_failure(page, tmp_path / "batch-order.png"):
            _log_in(page, bank, bank.admin, "/console/orders")
            page.get_by_role("link", name="单位批量购卡").click()
            expect(page.get_by_role("heading", name="单位批量购卡")).to_be_visible()
            page.get_by_label("卡种").select_option(bank.product_id)
            page.get_by_label("每张卡面额").fill("100")
            page.get_by_label("卡数").fill("3")
            page.get_by_label("购卡单位").fill(UNIT)
            page.get_by_label("卡密导出文件密码").fill("correct horse battery staple")
            page.get_by_role("button", name="提交订单").click()
            expect(page.locator("[data-status]").first).to_have_attribute(
                "data-status", "awaiting_payment"
            )
            reference = page.locator("[data-bank-reference]").inner_text().strip()
            order_url = page.url
            order_id = order_url.rsplit("/", 1)[-1]
            page.get_by_role("button", name="退出登录").click()

            # finance sees the transfer on the reserve account and records it
            _log_in(page, bank, bank.finance, "/console/reserve")
            form = page.locator("[data-incoming-form]")
            form.get_by_label("附言（参考号）").fill(reference)
            form.get_by_label("到账金额").fill("300.00")
            form.get_by_label("付款户名").fill(UNIT)
            form.get_by_label("付款账号").fill("31050161393600000123")
            form.get_by_label("银行流水号").fill("ICBC-20261203-0001")
            form.get_by_role("button", name="登记来账").click()
            expect(page.get_by_role("status").first).to_contain_text("来账已登记")
            assert page.url.split("?")[0] == order_url
            expect(page.locator("[data-status]").first).to_have_attribute("data-status", "paid")
            expect(page.locator("[data-bank-instructions]")).to_have_count(0)

            # the worker issues and activates the paid batch
            assert run_blocking(_run_worker_jobs(bank.settings)) == 1
            page.reload()
            expect(page.locator("[data-status]").first).to_have_attribute(
                "data-status", "fulfilled"
            )
            expect(page.locator("[data-event='order.fulfilled']")).to_have_count(1)
        browser.close()
    assert run_blocking(_cards_of(bank.settings, order_id)) == [("active", 10_000)] * 3
    run_blocking(_books_verify(bank.settings))


async def _paid_order(bank: Bank) -> tuple[str, str]:
    """A holder's ¥100 card bought through WeChat Pay and paid at the sandbox (which
    notifies the app over HTTP): (order id, card id)."""
    now = datetime.now(UTC)
    database = Database.from_settings(bank.settings)
    # adapters of this event loop (the app's, cached, belong to the server's)
    with registry.override_channels(build_channels(bank.settings)):
        async with database.transaction() as session:
            holder = await identity.create_consumer(
                session, phone="13912345678", actor="t", now=now
            )
            created = await create_order(
                session,
                OrderRequest(
                    kind=OrderKind.PURCHASE,
                    method=PaymentMethod.NATIVE_QR,
                    channel="wechat",
                    actor=f"consumer:{holder.id}",
                    buyer_key=f"consumer:{holder.id}",
                    holder_id=holder.id,
                    product_id=bank.product_id,
                    face_value_minor=10_000,
                    currency="CNY",
                ),
                now=now,
                settings=bank.settings,
            )
    try:
        async with httpx.AsyncClient(base_url=bank.gateway_url) as gateway:
            paid = await gateway.post(
                f"/sandbox/payments/wechat/{created.payment.payment.id}/pay",
                json={"action": "confirm"},
            )
            assert paid.status_code == 200, paid.text
        async with database.transaction() as session:
            order = await session.get(Order, created.order.id)
            assert order is not None
            assert order.status == "fulfilled"
            assert order.card_id is not None
            return order.id, order.card_id
    finally:
        await database.dispose()


async def _card_paid_value(settings: Settings, card_id: str) -> int:
    database = Database.from_settings(settings)
    try:
        async with database.transaction() as session:
            card = await cards.get_card(session, card_id)
            return (await cards.card_balance(session, card)).paid
    finally:
        await database.dispose()


def test_a_paid_order_refunded_from_the_merchant_console(
    bank: Bank, chromium_path: Path, tmp_path: Path
) -> None:
    order_id, card_id = run_blocking(_paid_order(bank))
    assert run_blocking(_card_paid_value(bank.settings, card_id)) == 10_000
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        with screenshot_on_failure(page, tmp_path / "refund.png"):
            _log_in(page, bank, bank.admin, f"/console/orders/{order_id}")
            expect(page.locator("[data-status]").first).to_have_attribute(
                "data-status", "fulfilled"
            )
            page.get_by_label("原因").last.fill("顾客退卡")
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="退款", exact=True).click()
            expect(page.locator("[data-status]").first).to_have_attribute("data-status", "refunded")
            expect(page.locator("[data-status]").first).to_have_text("已退款")
            expect(page.locator("[data-event='order.refunded']")).to_have_count(1)
            expect(page.get_by_text("退款回单")).to_be_visible()
        browser.close()
    assert run_blocking(_card_paid_value(bank.settings, card_id)) == 0
    at_sandbox = httpx.get(f"{bank.gateway_url}/sandbox/payments", params={"channel": "wechat"})
    [payment] = at_sandbox.json()
    assert payment["refunded"] == {"amount": 10_000, "currency": "CNY"}
    run_blocking(_books_verify(bank.settings))
