# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""The merchant's 订单 pages on the demo data: the list, an order's history, refunds and
receipts, and the refund form (managers only; a double submit refunds once)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from tests.console_world import ConsoleWorld, build_world
from tests.integration.test_console import csrf_of
from tests.paycore_support import paid_channels, payment_settings  # noqa: F401 - fixtures
from tests.payments_support import (  # noqa: F401 - fixtures
    PaymentSandbox,
    open_payment_sandbox,
    sandbox_settings,
)
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import SESSION_COOKIE
from tongka.payments import registry
from tongka.payments.adapters.cash import Cash
from tongka.payments.channel import ChannelName, PaymentMethod
from tongka.sales.models import Order, OrderRefund
from tongka.sales.order_states import OrderKind
from tongka.sales.orders import OrderRequest, create_order


@pytest.fixture
async def world(settings: Settings, sqlite_database: Database, clock: FixedClock) -> ConsoleWorld:
    return await build_world(sqlite_database, settings, clock.now())


@pytest.fixture
async def client(
    settings: Settings, sqlite_database: Database, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=sqlite_database, clock=clock)
    transport = httpx.ASGITransport(app=app)
    with registry.override_channels({ChannelName.CASH: Cash()}):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
            yield browser


def _as(client: httpx.AsyncClient, world: ConsoleWorld, name: str) -> httpx.AsyncClient:
    client.cookies = httpx.Cookies({SESSION_COOKIE: world.caller(name).token})
    return client


async def test_the_list_and_an_orders_history(
    client: httpx.AsyncClient, world: ConsoleWorld
) -> None:
    order_id = world.ids["order_id"]
    listing = await _as(client, world, "merchant admin").get("/console/orders")
    assert listing.status_code == 200
    assert f'data-order-id="{order_id}"' in listing.text
    assert "已退款" in listing.text
    page = await client.get(f"/console/orders/{order_id}")
    assert page.status_code == 200
    events = re.findall(r'data-event="([^"]+)"', page.text)
    assert events == [
        "order.created",
        "order.awaiting_payment",
        "order.paid",
        "order.fulfilled",
        "order.refunded",
    ]
    assert "演示退款" in page.text
    assert "退款回单" in page.text
    assert 'action="/console/orders/' not in page.text  # refunded: no form
    csv = await client.get("/console/orders", params={"format": "csv"})
    assert order_id in csv.text


async def test_a_manager_refunds_part_once_and_a_till_cannot(
    client: httpx.AsyncClient,
    world: ConsoleWorld,
    sqlite_database: Database,
    settings: Settings,
    clock: FixedClock,
) -> None:
    with registry.override_channels({ChannelName.CASH: Cash()}):
        async with sqlite_database.transaction() as session:
            created = await create_order(
                session,
                OrderRequest(
                    kind=OrderKind.TOP_UP,
                    method=PaymentMethod.CASH,
                    channel="cash",
                    actor="test",
                    buyer_key="till:test",
                    merchant_id=world.ids["merchant_id"],
                    store_id=world.ids["store_id"],
                    card_id=world.ids["card_id"],
                    amount_minor=20_000,
                ),
                now=clock.now(),
                settings=settings,
            )
    url = f"/console/orders/{created.order.id}"
    till = await _as(client, world, "cashier").get(url)
    assert till.status_code == 200
    assert f'action="{url}/refunds"' not in till.text
    page = await _as(client, world, "merchant admin").get(url)
    assert f'action="{url}/refunds"' in page.text
    token = await csrf_of(client, url)
    refund_id = re.search(r'name="refund_id" value="([^"]+)"', page.text)
    assert refund_id is not None
    form = {
        "csrf_token": token,
        "refund_id": refund_id.group(1),
        "amount": "50.00",
        "reason": "顾客退部分",
    }
    for _ in range(2):  # a double submit
        done = await client.post(f"{url}/refunds", data=form)
        assert done.status_code == 303, done.text
    # a refund without a reason is refused at its field
    refused = await client.post(
        f"{url}/refunds", data={**form, "refund_id": "web-other", "reason": ""}
    )
    assert refused.status_code == 303  # back to the page, with the error at the field
    async with sqlite_database.transaction() as session:
        order = await session.get(Order, created.order.id)
        refunds = (
            await session.scalars(
                select(OrderRefund).where(OrderRefund.order_id == created.order.id)
            )
        ).all()
    assert order is not None
    assert (order.status, order.refunded_minor) == ("partly_refunded", 5_000)
    assert [r.amount_minor for r in refunds] == [5_000]


async def test_a_till_cancels_an_unpaid_order(
    world: ConsoleWorld,
    sqlite_database: Database,
    settings: Settings,
    clock: FixedClock,
    paid_channels: PaymentSandbox,
) -> None:
    app = create_app(settings, database=sqlite_database, clock=clock)
    async with sqlite_database.transaction() as session:
        created = await create_order(
            session,
            OrderRequest(
                kind=OrderKind.TOP_UP,
                method=PaymentMethod.NATIVE_QR,
                channel="alipay",
                actor="test",
                buyer_key="till:test",
                merchant_id=world.ids["merchant_id"],
                store_id=world.ids["store_id"],
                card_id=world.ids["card_id"],
                amount_minor=20_000,
            ),
            now=clock.now(),
            settings=settings,
        )
    url = f"/console/orders/{created.order.id}"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        page = await _as(client, world, "cashier").get(url)
        assert f'action="{url}/cancel"' in page.text
        token = await csrf_of(client, url)
        done = await client.post(
            f"{url}/cancel", data={"csrf_token": token, "reason": "顾客改主意"}
        )
        assert done.status_code == 303, done.text
        after = await client.get(url)
    assert 'data-status="cancelled"' in after.text
    assert f'action="{url}/cancel"' not in after.text
    gateway = paid_channels.gateway.state.get("alipay", created.order.payment_id or "")
    assert gateway is not None
    assert gateway.status == "CLOSED"


async def test_a_till_sees_only_its_own_stores_orders(
    client: httpx.AsyncClient,
    world: ConsoleWorld,
    sqlite_database: Database,
    settings: Settings,
    clock: FixedClock,
) -> None:
    with registry.override_channels({ChannelName.CASH: Cash()}):
        async with sqlite_database.transaction() as session:
            online = await create_order(  # no store: an order placed online
                session,
                OrderRequest(
                    kind=OrderKind.TOP_UP,
                    method=PaymentMethod.CASH,
                    channel="cash",
                    actor="test",
                    buyer_key="till:test",
                    merchant_id=world.ids["merchant_id"],
                    card_id=world.ids["card_id"],
                    amount_minor=1_000,
                ),
                now=clock.now(),
                settings=settings,
            )
    till = _as(client, world, "cashier")
    listing = await till.get("/console/orders")
    assert f'data-order-id="{world.ids["order_id"]}"' in listing.text
    assert online.order.id not in listing.text
    assert (await till.get(f"/console/orders/{online.order.id}")).status_code == 404
    manager = _as(client, world, "merchant admin")
    assert (await manager.get(f"/console/orders/{online.order.id}")).status_code == 200


async def test_the_holder_reaches_the_buy_and_top_up_pages_from_home_and_the_card(
    world: ConsoleWorld, sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    """The flows themselves (order, QR, payment, receipt) are the 购卡/充值 pages' tests
    (``test_consumer_orders_console.py``); here: the home page and the card lead there."""
    app = create_app(settings, database=sqlite_database, clock=clock)
    product_id = world.ids["product_id"]
    card_id = world.consumer_card_id
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        holder = _as(client, world, "consumer")
        home = await holder.get("/console/me")
        card_page = await holder.get(f"/console/me/cards/{card_id}")
        buy = await holder.get(f"/console/me/buy?product_id={product_id}")
    assert f'data-product-id="{product_id}"' in home.text
    assert f'href="/console/me/buy?product_id={product_id}"' in home.text
    assert f'href="/console/me/top_up?card_id={card_id}"' in card_page.text
    assert buy.status_code == 200


async def test_the_batch_order_form_is_a_managers_and_refuses_a_bad_count(
    client: httpx.AsyncClient, world: ConsoleWorld, sqlite_database: Database
) -> None:
    till = await _as(client, world, "cashier").get("/console/orders/batch")
    assert till.status_code == 403
    listing = await _as(client, world, "merchant admin").get("/console/orders")
    assert "单位批量购卡" in listing.text
    page = await client.get("/console/orders/batch")
    assert page.status_code == 200
    product = re.search(r'<option value="(cpr_[^"]+)"', page.text)
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert product is not None
    assert token is not None
    form = {
        "csrf_token": await csrf_of(client, "/console/orders/batch"),
        "form_token": token.group(1),
        "product_id": product.group(1),
        "face_value": "100",
        "count": "0",
        "buyer_name": "上海某某科技有限公司",
        "export_password": "correct horse battery staple",
    }
    refused = await client.post("/console/orders/batch", data=form)
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/console/orders/batch")
    shown = await client.get(refused.headers["location"])
    assert "请填写卡数：1 至 100,000 的整数。" in shown.text
    async with sqlite_database.transaction() as session:
        batches = (
            await session.scalars(select(Order).where(Order.kind == OrderKind.BATCH.value))
        ).all()
    assert batches == []
