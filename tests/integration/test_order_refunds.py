# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Refunds of orders: an unused card refunds through its channel and reverses the ledger;
a partly used card refunds at most its paid, unspent value; refunds never exceed the
order; a refund id answers its first refund; each refund has a receipt."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.cards_support import balance_of
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
from tongka.cards import accounts
from tongka.cards.accounts import CardBalance
from tongka.cards.money_gate import CardMovement, Direction, Purpose, move_card_value
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger import AccountCode, TransferRequest, get_balance
from tongka.ledger.system_accounts import system_account
from tongka.payments.accounts import channel_receivable_id
from tongka.payments.models import Payment
from tongka.sales import fulfilment
from tongka.sales.fulfilment import OrderBonus
from tongka.sales.models import Order, OrderRefund
from tongka.sales.order_errors import (
    OrderNotRefundable,
    OrderRefundExceedsUnspent,
    OrderRefundIdConflict,
)
from tongka.sales.order_refunds import refund_order
from tongka.sales.order_states import OrderStatus
from tongka.sales.receipt_models import Receipt


async def _paid_order(
    database: Database, settings: Settings, sandbox: PaymentSandbox, shop: Shop
) -> str:
    created = await order_of(database, settings, shop)
    await pay(database, settings, sandbox, created)
    return created.order.id


async def _refund(
    database: Database, settings: Settings, order_id: str, refund_id: str, amount: int | None
) -> OrderRefund:
    async with database.transaction() as session:
        return await refund_order(
            session,
            order_id,
            refund_id=refund_id,
            amount_minor=amount,
            reason="test",
            actor="user:test",
            now=real_now(),
            settings=settings,
        )


async def _spend(database: Database, card_id: str, amount: int) -> None:
    """Spend ``amount`` of the card's paid value (as a redemption would)."""
    async with database.transaction() as session:
        await move_card_value(
            session,
            [CardMovement(card_id, Direction.DEBIT, Purpose.REDEMPTION)],
            [
                TransferRequest(
                    transfer_id=f"spend:{card_id}",
                    debit_account_id=accounts.main_account_id(card_id),
                    credit_account_id=channel_receivable_id("wechat", "CNY"),
                    amount=amount,
                    currency="CNY",
                    code="test_spend",
                )
            ],
            now=real_now(),
        )


async def _receivable(database: Database) -> int:
    async with database.transaction() as session:
        return (await get_balance(session, channel_receivable_id("wechat", "CNY"))).posted


async def test_an_unused_card_refunds_in_full(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    order_id = await _paid_order(database, payment_settings, paid_channels, shop)
    assert await _receivable(database) == 10_000
    refund = await _refund(database, payment_settings, order_id, "rf-1", None)
    assert refund.amount_minor == 10_000
    order = await load_order(database, order_id)
    assert (order.status, order.refunded_minor) == (OrderStatus.REFUNDED, 10_000)
    assert order.card_id is not None
    assert (await balance_of(database, order.card_id)).paid == 0
    assert await _receivable(database) == 0
    async with database.transaction() as session:
        payment = await session.get(Payment, order.payment_id)
        receipts = (await session.scalars(select(Receipt).order_by(Receipt.issued_at))).all()
    assert payment is not None
    assert (payment.status, payment.refunded_minor) == ("refunded", 10_000)
    assert [r.kind for r in receipts] == ["purchase", "refund"]
    gateway = paid_channels.gateway.state.get("wechat", order.payment_id)
    assert gateway is not None
    assert gateway.refunded_minor == 10_000
    # a refunded order is refunded no more
    with pytest.raises(OrderNotRefundable):
        await _refund(database, payment_settings, order_id, "rf-2", 1)


async def test_partial_refunds_are_bounded_by_the_order_and_the_unspent_value(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    order_id = await _paid_order(database, payment_settings, paid_channels, shop)
    await _refund(database, payment_settings, order_id, "rf-1", 3_000)
    order = await load_order(database, order_id)
    assert (order.status, order.refunded_minor) == (OrderStatus.PARTLY_REFUNDED, 3_000)
    assert order.card_id is not None
    # the holder spends ¥50 of the ¥70 left: ¥20 may still be refunded, not more
    await _spend(database, order.card_id, 5_000)
    with pytest.raises(OrderRefundExceedsUnspent) as refused:
        await _refund(database, payment_settings, order_id, "rf-2", 2_001)
    assert refused.value.details["refundable"] == {"amount": 2_000, "currency": "CNY"}
    await _refund(database, payment_settings, order_id, "rf-3", None)
    order = await load_order(database, order_id)
    assert (order.status, order.refunded_minor) == (OrderStatus.PARTLY_REFUNDED, 5_000)
    assert (await balance_of(database, order.card_id)).paid == 0


async def test_a_refund_id_answers_its_first_refund(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    order_id = await _paid_order(database, payment_settings, paid_channels, shop)
    first = await _refund(database, payment_settings, order_id, "rf-1", 3_000)
    again = await _refund(database, payment_settings, order_id, "rf-1", 3_000)
    assert (again.id, again.amount_minor, again.created_at) == (first.id, 3_000, first.created_at)
    with pytest.raises(OrderRefundIdConflict):
        await _refund(database, payment_settings, order_id, "rf-1", 4_000)
    order = await load_order(database, order_id)
    assert order.refunded_minor == 3_000


async def test_a_bonus_goes_back_to_its_budget_in_proportion_never_as_cash(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    shop: Shop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a purchase that earned a ¥10 bonus (the promotion's budget: the reserve here)
    async def bonus(session: AsyncSession, order: Order, *, now: datetime) -> OrderBonus:
        budget = await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
        return OrderBonus("prm_test", 1_000, budget)

    monkeypatch.setattr(fulfilment, "claim_order_bonus", bonus)
    order_id = await _paid_order(database, payment_settings, paid_channels, shop)
    order = await load_order(database, order_id)
    assert (order.bonus_minor, order.promotion_id) == (1_000, "prm_test")
    assert order.card_id is not None
    assert (await balance_of(database, order.card_id)).bonus == 1_000
    # when half is refunded, half the bonus leaves the card; the payer gets only the paid ¥50
    half = await _refund(database, payment_settings, order_id, "rf-1", 5_000)
    assert (half.amount_minor, half.bonus_minor) == (5_000, 500)
    assert await balance_of(database, order.card_id) == CardBalance(paid=5_000, bonus=500)
    rest = await _refund(database, payment_settings, order_id, "rf-2", None)
    assert (rest.amount_minor, rest.bonus_minor) == (5_000, 500)
    assert await balance_of(database, order.card_id) == CardBalance(paid=0, bonus=0)
    gateway = paid_channels.gateway.state.get("wechat", order.payment_id or "")
    assert gateway is not None
    assert gateway.refunded_minor == 10_000
