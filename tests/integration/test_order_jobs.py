# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""The orders' worker jobs: unpaid orders expire, after their channel is polled (a payment
that never notified is found and fulfils its order); an enterprise batch order is issued
once paid and activated from the channel receivable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.cards_support import balance_of
from tests.orders_support import (  # noqa: F401 - fixtures
    Shop,
    deliver_all,
    load_order,
    order_of,
    paid_channels,
    pay,
    payment_settings,
    real_now,
    sandbox_settings,
    shop,
)
from tests.payments_support import PaymentSandbox
from tongka.cards.jobs import issue_batches
from tongka.cards.models import Card, CardBatch, CardProduct
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.payments.models import Payment
from tongka.sales.batch_orders import activate_paid_batches
from tongka.sales.jobs import expire_orders
from tongka.sales.order_states import OrderKind, OrderStatus
from tongka.sales.orders import CreatedOrder, cancel_order, get_order, order_history
from tongka.sales.purchase_rules import BuyerKind


async def test_expiry_polls_first_and_finds_a_silent_payment(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    # given an order paid without a notification, and one never paid
    silent = await order_of(database, payment_settings, shop)
    unpaid = await order_of(database, payment_settings, shop)
    await paid_channels.pay("wechat", silent.payment.payment.id, faults=["silent"])
    later = FixedClock(real_now() + timedelta(minutes=16))
    # nothing is due before the expiry
    assert await expire_orders(database, FixedClock(real_now()), payment_settings) == 0
    # when the job runs after it
    assert await expire_orders(database, later, payment_settings) == 2
    # then the silent payment fulfilled its order, the other expired and its payment closed
    found = await load_order(database, silent.order.id)
    assert found.status == OrderStatus.FULFILLED
    assert found.card_id is not None
    assert (await balance_of(database, found.card_id)).paid == 10_000
    expired = await load_order(database, unpaid.order.id)
    assert expired.status == OrderStatus.EXPIRED
    async with database.transaction() as session:
        payment = await session.get(Payment, expired.payment_id)
        history = [row.event_type for row in await order_history(session, expired.id)]
    assert payment is not None
    assert payment.status == "closed"
    assert history[-1] == "order.expired"
    # a second run has nothing left to do
    assert await expire_orders(database, later, payment_settings) == 0


async def batch_order(
    database: Database, settings: Settings, shop: Shop, *, card_count: int = 3
) -> CreatedOrder:
    return await order_of(
        database,
        settings,
        shop,
        kind=OrderKind.BATCH,
        card_count=card_count,
        method="bank_transfer",
        channel="bank_transfer",
        buyer_kind=BuyerKind.UNIT,
        buyer_key="unit:acme",
        buyer_name="上海某某科技有限公司",
        holder_id=None,
        export_password="correct horse battery staple",
        merchant_id=shop.merchant_id,
    )


async def issued_count(database: Database, product_id: str) -> int:
    async with database.transaction() as session:
        product = await session.get(CardProduct, product_id, populate_existing=True)
        assert product is not None
        return product.issued_count


@pytest.mark.parametrize("ending", ["cancelled", "expired"])
async def test_an_unpaid_batch_order_takes_its_held_batch_with_it(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    shop: Shop,
    ending: str,
) -> None:
    # given a held batch order of 3 cards: its numbers reserved
    before = await issued_count(database, shop.product_id)
    created = await batch_order(database, payment_settings, shop)
    assert await issued_count(database, shop.product_id) == before + 3
    # when it is cancelled, or expires unpaid
    if ending == "cancelled":
        async with database.transaction() as session:
            order = await get_order(session, created.order.id)
            await cancel_order(
                session,
                order,
                actor="user:manager",
                reason="changed our mind",
                now=real_now(),
                settings=payment_settings,
            )
    else:
        later = FixedClock(real_now() + timedelta(minutes=16))
        assert await expire_orders(database, later, payment_settings) == 1
    # then the batch is cancelled, never issued, and its numbers are free again
    assert (await load_order(database, created.order.id)).status == ending
    clock = FixedClock(real_now())
    await issue_batches(database, clock, payment_settings)
    async with database.transaction() as session:
        batch = await session.get(CardBatch, created.order.batch_id)
        cards = (await session.scalars(select(Card).where(Card.batch_id == batch.id))).all()
    assert batch is not None
    assert (batch.status, batch.issued_count, list(cards)) == ("cancelled", 0, [])
    assert await issued_count(database, shop.product_id) == before
    # and a new batch takes the very sequences the cancelled one had reserved
    again = await batch_order(database, payment_settings, shop)
    async with database.transaction() as session:
        new_batch = await session.get(CardBatch, again.order.batch_id)
    assert new_batch is not None
    assert new_batch.first_sequence == batch.first_sequence


async def test_an_enterprise_batch_is_issued_and_activated_once_paid(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    created = await batch_order(database, payment_settings, shop)
    clock = FixedClock(real_now())
    batch_id = created.order.batch_id
    # held while unpaid: the issue job skips it
    await issue_batches(database, clock, payment_settings)
    async with database.transaction() as session:
        batch = await session.get(CardBatch, batch_id)
        assert batch is not None
        assert batch.issued_count == 0
    await pay(database, payment_settings, paid_channels, created)
    assert (await load_order(database, created.order.id)).status == OrderStatus.PAID
    await issue_batches(database, clock, payment_settings)
    assert await activate_paid_batches(database, clock, payment_settings) == 1
    order = await load_order(database, created.order.id)
    assert order.status == OrderStatus.FULFILLED
    assert order.receipt_id is not None
    async with database.transaction() as session:
        cards = (await session.scalars(select(Card).where(Card.batch_id == batch_id))).all()
    assert [card.status for card in cards] == ["active"] * 3
    assert {(await balance_of(database, card.id)).paid for card in cards} == {10_000}
    assert await activate_paid_batches(database, clock, payment_settings) == 0
