"""The holder's 购卡 / 充值 pages over HTTP, on the demo data, paid through the in-process
sandbox whose signed notifications reach the app's own notify route: the form makes one
order however often it is sent, the payment page shows the QR code and polls the status
until paid (then the card and the receipt), refusals show in Chinese at the form, and an
unpaid order is cancelled."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from tests.console_world import ConsoleWorld, build_world
from tests.integration.test_console import csrf_of
from tests.paycore_support import payment_settings  # noqa: F401 - fixture
from tests.payments_support import (  # noqa: F401 - fixture
    GATEWAY_URL,
    PaymentSandbox,
    open_payment_sandbox,
    sandbox_settings,
)
from tongka.api.app import create_app
from tongka.cards import service as cards
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import SESSION_COOKIE
from tongka.payments import keys, registry
from tongka.sales import purchase_rules
from tongka.sales.models import Order

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
REAL_NOW = datetime.now(UTC)
ORDER_PAGE = re.compile(r"^/console/me/orders/(ord_[0-9a-z_]+)$")


@dataclass
class Shop:
    client: httpx.AsyncClient
    world: ConsoleWorld
    sandbox: PaymentSandbox
    database: Database


@pytest.fixture
def shop_settings(settings: Settings, payment_settings: Settings) -> Settings:  # noqa: F811
    """The test's own data dir, with the session's sandbox keys (RSA: slow to make)."""
    for channel in keys.KEYED_CHANNELS:
        keys.channel_keys(payment_settings, channel)  # made on first use, once a session
    shutil.copytree(keys.key_dir(payment_settings), keys.key_dir(settings), dirs_exist_ok=True)
    return settings.model_copy(
        update={"sandbox_gateway_url": GATEWAY_URL, "payments_notify_base_url": "http://test"}
    )


@pytest.fixture
async def shop(
    shop_settings: Settings, sqlite_database: Database, clock: FixedClock
) -> AsyncIterator[Shop]:
    world = await build_world(sqlite_database, shop_settings, clock.now())
    app = create_app(shop_settings, database=sqlite_database, clock=clock)
    async with open_payment_sandbox(shop_settings, notify_app=app) as sandbox:
        with registry.override_channels(sandbox.channels):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                client.cookies = httpx.Cookies({SESSION_COOKIE: world.caller("consumer").token})
                yield Shop(client, world, sandbox, sqlite_database)


async def _form(client: httpx.AsyncClient, path: str) -> dict[str, str]:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    csrf, token = CSRF.search(page.text), TOKEN.search(page.text)
    assert csrf is not None
    assert token is not None
    return {"csrf_token": csrf.group(1), "form_token": token.group(1)}


async def _order_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    found = ORDER_PAGE.match(response.headers["location"])
    assert found is not None, response.headers["location"]
    return found.group(1)


async def _orders(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


async def _pay(shop: Shop, order_id: str) -> None:
    async with shop.database.transaction() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        assert order.payment_id is not None
        payment_id, channel = order.payment_id, order.channel
    assert channel is not None
    await shop.sandbox.pay(channel, payment_id)


async def test_a_holder_buys_a_card_once_pays_by_the_qr_code_and_gets_its_receipt(
    shop: Shop,
) -> None:
    client, product_id = shop.client, shop.world.ids["product_id"]
    buy_page = f"/console/me/buy?product_id={product_id}"
    assert "购卡" in (await client.get("/console/me")).text
    form = {**await _form(client, buy_page), "product_id": product_id}
    form |= {"face_value": "200.00", "channel": "wechat"}
    before = await _orders(shop.database)
    order_id = await _order_of(await client.post("/console/me/buy", data=form))
    again = await _order_of(await client.post("/console/me/buy", data=form))  # a double tap
    assert again == order_id
    assert await _orders(shop.database) == before + 1

    page = await client.get(f"/console/me/orders/{order_id}")
    assert page.status_code == 200
    assert "<svg" in page.text
    assert "¥200.00" in page.text
    link = re.search(r'href="([^"]+)"[^>]*data-pay-link', page.text)
    assert link is not None
    assert link.group(1).startswith(GATEWAY_URL)
    assert 'hx-trigger="every 3s"' in page.text
    assert "待支付" in page.text

    await _pay(shop, order_id)
    status = await client.get(f"/console/me/orders/{order_id}/status")
    assert 'data-order-status="fulfilled"' in status.text
    assert "hx-trigger" not in status.text  # settled: the polling stops
    assert '<div id="pay-qr" hx-swap-oob="true"></div>' in status.text  # the code goes
    card = re.search(r'href="/console/me/cards/([^"]+)" data-card-link', status.text)
    receipt = re.search(r'href="(/console/receipts/[^"]+)" data-receipt-link', status.text)
    assert card is not None
    assert receipt is not None
    card_page = await client.get(f"/console/me/cards/{card.group(1)}")
    assert re.search(r'data-figure="balance">¥200.00<', card_page.text)
    assert 'class="badge active">正常<' in card_page.text
    assert (await client.get(receipt.group(1))).status_code == 200


async def test_a_holder_tops_up_a_card_and_refusals_show_at_the_form(shop: Shop) -> None:
    client, card_id = shop.client, shop.world.consumer_card_id
    async with shop.database.transaction() as session:
        card = await cards.get_card(session, card_id)
        before = (await cards.card_balance(session, card)).total
    top_up = f"/console/me/top_up?card_id={card_id}"
    too_much = {**await _form(client, top_up), "card_id": card_id, "channel": "alipay"}
    refused = await client.post("/console/me/top_up", data=too_much | {"amount": "99999"})
    assert refused.status_code == 303
    assert refused.headers["location"] == top_up
    shown = await client.get(top_up)
    assert 'class="field-error"' in shown.text
    assert "余额" in shown.text
    no_channel = too_much | {"amount": "100", "channel": ""}
    await client.post("/console/me/top_up", data=no_channel)
    assert "请选择支付方式" in (await client.get(top_up)).text

    form = {**await _form(client, top_up), "card_id": card_id, "channel": "alipay"}
    order_id = await _order_of(
        await client.post("/console/me/top_up", data=form | {"amount": "50"})
    )
    await _pay(shop, order_id)
    assert (
        'data-order-status="fulfilled"' in (await client.get(f"/console/me/orders/{order_id}")).text
    )
    async with shop.database.transaction() as session:
        card = await cards.get_card(session, card_id)
        assert (await cards.card_balance(session, card)).total == before + 5_000

    listing = await client.get("/console/me/orders")
    assert f'data-order-id="{order_id}"' in listing.text


async def test_an_unpaid_order_is_cancelled_and_another_holders_is_not_found(shop: Shop) -> None:
    client, product_id = shop.client, shop.world.ids["product_id"]
    form = {**await _form(client, f"/console/me/buy?product_id={product_id}")}
    form |= {"product_id": product_id, "face_value": "100.00", "channel": "alipay"}
    order_id = await _order_of(await client.post("/console/me/buy", data=form))
    csrf = {"csrf_token": await csrf_of(client, "/console/me")}
    cancelled = await client.post(f"/console/me/orders/{order_id}/cancel", data=csrf)
    assert cancelled.status_code == 303
    page = await client.get(f"/console/me/orders/{order_id}")
    assert 'data-order-status="cancelled"' in page.text
    assert "订单已取消" in page.text
    assert "<svg" not in page.text
    client.cookies = httpx.Cookies({SESSION_COOKIE: shop.world.caller("cashier").token})
    assert (await client.get(f"/console/me/orders/{order_id}")).status_code == 403


async def test_a_purchase_rule_refuses_at_the_form_in_its_words(shop: Shop) -> None:
    """The platform asks for a bank transfer from ¥50 on: a ¥60 top-up by Alipay is refused
    next to the wallet it picked, naming the threshold, and nothing is ordered."""
    async with shop.database.transaction() as session:
        rules = await purchase_rules.get_purchase_rules(session, REAL_NOW)
        await purchase_rules.set_purchase_rules(
            session,
            replace(rules, top_up_bank_transfer_minor=5_000),
            actor="test",
            now=REAL_NOW,
        )
    client, card_id = shop.client, shop.world.consumer_card_id
    top_up = f"/console/me/top_up?card_id={card_id}"
    form = {**await _form(client, top_up), "card_id": card_id, "channel": "alipay"}
    before = await _orders(shop.database)
    refused = await client.post("/console/me/top_up", data=form | {"amount": "60"})
    assert refused.headers["location"] == top_up
    shown = await client.get(top_up)
    error = re.search(r'<span class="field-error" id="channel-error"[^>]*>([^<]+)<', shown.text)
    assert error is not None
    assert "¥50.00" in error.group(1)
    assert "银行转账" in error.group(1)
    assert await _orders(shop.database) == before
