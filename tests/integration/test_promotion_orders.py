# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""A promotion meets the orders part end to end: a ¥500 card bought and paid through the
sandbox gets its ¥50 bonus from the budget in the same gate call as the paid value; a ¥100
card gets none; the books verify."""

from __future__ import annotations

from tests.cards_support import MERCHANT, assert_ledger_verifies, balance_of
from tests.orders_support import (  # noqa: F401 - fixtures
    Shop,
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
from tests.promotions_support import available, fund_merchant, promotion_now, promotion_spec
from tongka.cards.accounts import CardBalance
from tongka.config import Settings
from tongka.db import Database
from tongka.sales import promotions
from tongka.sales.order_states import OrderStatus


async def test_a_paid_order_gets_its_bonus_from_the_budget(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    now = real_now()
    async with database.transaction() as session:
        await fund_merchant(session, now, 100_000, MERCHANT)
        promotion = await promotions.create_promotion(
            session, MERCHANT, promotion_spec(now), actor="test", now=now
        )
    big = await order_of(database, payment_settings, shop, face_value_minor=50_000)
    small = await order_of(database, payment_settings, shop, face_value_minor=10_000)

    await pay(database, payment_settings, paid_channels, big)
    await pay(database, payment_settings, paid_channels, small)

    big_order, small_order = (
        await load_order(database, big.order.id),
        await load_order(database, small.order.id),
    )
    assert (big_order.status, small_order.status) == (OrderStatus.FULFILLED,) * 2
    assert big_order.card_id is not None
    assert small_order.card_id is not None
    assert await balance_of(database, big_order.card_id) == CardBalance(paid=50_000, bonus=5_000)
    assert await balance_of(database, small_order.card_id) == CardBalance(paid=10_000, bonus=0)
    found = await promotion_now(database, promotion.id)
    assert found.remaining_minor == 15_000
    assert await available(database, promotion.budget_account_id) == 15_000
    async with database.transaction() as session:  # the bonus on the card reads as such
        rows = list(await session.scalars(promotions.claims_query(promotion.id)))
        assert list((await promotions.shown_statuses(session, rows)).values()) == ["posted"]
    await assert_ledger_verifies(database, now)
