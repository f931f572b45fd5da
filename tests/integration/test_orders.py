# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Orders end to end against the sandbox gateway: buy → notify → the card is active with the
right balance and a receipt; duplicates take effect once; top-ups; the product's checks
before any payment; a credit card and a late payment are refunded automatically."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.cards_support import (
    OPERATOR,
    active_product,
    balance_of,
    ensure_consumer,
    event_types,
    funded_card,
    issue,
)
from tests.orders_support import (  # noqa: F401 - fixtures
    HOLDER,
    Shop,
    deliver_all,
    load_card,
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
from tongka.cards import service as cards
from tongka.cards.errors import InvalidFaceValue, MaxBalanceExceeded
from tongka.cards.products import get_product
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.models import KycLevel
from tongka.ledger.models import LedgerTransfer
from tongka.payments.models import Payment, PaymentRefund
from tongka.sales.models import Order, OrderHistory
from tongka.sales.order_errors import InvalidOrder
from tongka.sales.order_states import OrderKind, OrderStatus, move
from tongka.sales.orders import get_order, order_history
from tongka.sales.purchase_rules import PurchaseRefused
from tongka.sales.receipt_models import Receipt


async def _history(database: Database, order_id: str) -> list[str]:
    async with database.transaction() as session:
        return [row.event_type for row in await order_history(session, order_id)]


async def test_buy_pay_notify_activates_the_card(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    # given an order for a ¥100 card, awaiting its WeChat payment
    created = await order_of(database, payment_settings, shop)
    assert created.order.status == OrderStatus.AWAITING_PAYMENT
    assert created.payment.instructions.code_url
    # when the payer pays and WeChat notifies twice
    await pay(database, payment_settings, paid_channels, created, faults=["duplicate"])
    # then the order is fulfilled, its card active with ¥100, one receipt
    order = await load_order(database, created.order.id)
    assert order.status == OrderStatus.FULFILLED
    assert order.card_id is not None
    assert order.receipt_id is not None
    card = await load_card(database, order.card_id)
    assert (card.status, card.holder_id) == ("active", HOLDER)
    assert (await balance_of(database, card.id)).paid == 10_000
    assert await _history(database, order.id) == [
        "order.created",
        "order.awaiting_payment",
        "order.paid",
        "order.fulfilled",
    ]
    async with database.transaction() as session:
        receipts = (await session.scalars(select(Receipt))).all()
        transfers = await session.scalar(select(func.count()).select_from(LedgerTransfer))
    assert [(r.order_id, r.amount_minor, r.kind) for r in receipts] == [
        (order.id, 10_000, "purchase")
    ]
    assert transfers == 1
    assert "order.fulfilled" in await event_types(database, order.id)


async def test_a_duplicate_delivered_later_changes_nothing(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    created = await order_of(database, payment_settings, shop)
    await paid_channels.pay("wechat", created.payment.payment.id)
    assert paid_channels.inbox is not None
    kept = list(paid_channels.inbox.received)
    await deliver_all(database, payment_settings, paid_channels)
    # when the same notification arrives again
    paid_channels.inbox.received = kept
    await deliver_all(database, payment_settings, paid_channels)
    # then one card, one transfer, one fulfilment
    order = await load_order(database, created.order.id)
    assert order.card_id is not None
    assert (await balance_of(database, order.card_id)).paid == 10_000
    assert (await _history(database, order.id)).count("order.fulfilled") == 1


async def test_top_up_credits_the_card(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    now = real_now()
    async with database.transaction() as session:
        product = await get_product(session, shop.product_id)
        card_id = (
            await funded_card(session, now, product, amount=10_000, holder_id=HOLDER)
        ).card.id
    created = await order_of(
        database,
        payment_settings,
        shop,
        kind=OrderKind.TOP_UP,
        card_id=card_id,
        amount_minor=30_000,
        face_value_minor=None,
        product_id=None,
        channel="alipay",
    )
    await pay(database, payment_settings, paid_channels, created, funding_type="debit_card")
    order = await load_order(database, created.order.id)
    assert order.status == OrderStatus.FULFILLED
    assert (await balance_of(database, card_id)).paid == 40_000
    assert "card.topped_up" in await event_types(database, card_id)


async def test_top_up_over_the_maximum_is_refused_before_payment(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    now = real_now()
    async with database.transaction() as session:
        product = await get_product(session, shop.product_id)
        card_id = (
            await funded_card(session, now, product, amount=10_000, holder_id=HOLDER)
        ).card.id
    with pytest.raises(MaxBalanceExceeded):
        await order_of(
            database,
            payment_settings,
            shop,
            kind=OrderKind.TOP_UP,
            card_id=card_id,
            amount_minor=999_000,
            face_value_minor=None,
            product_id=None,
        )
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"face_value_minor": 12_345}, InvalidFaceValue),
        ({"currency": "USD"}, InvalidOrder),
    ],
    ids=["face_value", "currency"],
)
async def test_product_checks_come_before_any_payment(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    shop: Shop,
    overrides: dict[str, object],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await order_of(database, payment_settings, shop, **overrides)
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0
        assert await session.scalar(select(func.count()).select_from(OrderHistory)) == 0


async def test_credit_card_payment_is_refunded_and_the_order_cancelled(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    created = await order_of(database, payment_settings, shop)
    await pay(database, payment_settings, paid_channels, created, funding_type="credit_card")
    order = await load_order(database, created.order.id)
    assert (order.status, order.card_id) == (OrderStatus.CANCELLED, None)
    async with database.transaction() as session:
        refunds = (await session.scalars(select(PaymentRefund))).all()
        history = await order_history(session, order.id)
        transfers = await session.scalar(select(func.count()).select_from(LedgerTransfer))
    assert [(r.amount_minor, r.is_automatic) for r in refunds] == [(10_000, True)]
    assert history[-1].data["rule"] == "purchase_credit_card_forbidden"
    assert transfers == 0


async def test_late_payment_on_a_cancelled_order_is_refunded(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    created = await order_of(database, payment_settings, shop)
    await paid_channels.pay("wechat", created.payment.payment.id)
    # the cancel won the race against the payment (the channel said "unpaid" just before)
    async with database.transaction() as session:
        order = await get_order(session, created.order.id)
        await move(
            session,
            order,
            [OrderStatus.AWAITING_PAYMENT],
            OrderStatus.CANCELLED,
            event="cancelled",
            actor="test",
            now=real_now(),
        )
    await deliver_all(database, payment_settings, paid_channels)
    order = await load_order(database, created.order.id)
    assert order.status == OrderStatus.CANCELLED
    assert (await _history(database, order.id))[-1] == "order.late_payment_refunded"
    gateway = paid_channels.gateway.state.get("wechat", created.payment.payment.id)
    assert gateway is not None
    assert gateway.refunded_minor == 10_000


async def test_till_sale_in_cash_is_fulfilled_at_once(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    async with database.transaction() as session:
        card_id = (await issue(session, shop.product_id, real_now())).card.id
    created = await order_of(
        database,
        payment_settings,
        shop,
        kind=OrderKind.TILL_SALE,
        card_id=card_id,
        method="cash",
        channel="cash",
        product_id=None,
        face_value_minor=None,
        merchant_id=shop.merchant_id,
        holder_id=None,
        buyer_key="till:test",
    )
    assert created.order.status == OrderStatus.FULFILLED
    card = await load_card(database, card_id)
    assert card.status == "active"
    assert (await balance_of(database, card_id)).paid == 10_000


@pytest.mark.parametrize(
    ("code", "status", "card_status"),
    [
        ("134567890123456789", OrderStatus.FULFILLED, "active"),
        ("134567890123459999", OrderStatus.CANCELLED, "issued"),  # a credit card behind it
    ],
    ids=["debit", "credit_card"],
)
async def test_till_sale_by_a_scanned_payment_code(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    shop: Shop,
    code: str,
    status: OrderStatus,
    card_status: str,
) -> None:
    async with database.transaction() as session:
        card_id = (await issue(session, shop.product_id, real_now())).card.id
    created = await order_of(
        database,
        payment_settings,
        shop,
        kind=OrderKind.TILL_SALE,
        card_id=card_id,
        method="payment_code",
        channel=None,
        payer_code=code,
        product_id=None,
        face_value_minor=None,
        merchant_id=shop.merchant_id,
        holder_id=None,
        buyer_key="till:test",
    )
    assert created.order.status == status
    assert created.order.channel == "wechat"  # routed by the code's prefix
    assert (await load_card(database, card_id)).status == card_status
    async with database.transaction() as session:
        payment = await session.get(Payment, created.order.payment_id)
    assert payment is not None
    assert payment.refunded_minor == (10_000 if status is OrderStatus.CANCELLED else 0)


async def test_a_card_frozen_before_the_payment_refunds_the_order(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    now = real_now()
    async with database.transaction() as session:
        product = await get_product(session, shop.product_id)
        card_id = (
            await funded_card(session, now, product, amount=10_000, holder_id=HOLDER)
        ).card.id
    created = await order_of(
        database,
        payment_settings,
        shop,
        kind=OrderKind.TOP_UP,
        card_id=card_id,
        amount_minor=20_000,
        face_value_minor=None,
        product_id=None,
    )
    async with database.transaction() as session:
        await cards.freeze_card(session, card_id, principal=OPERATOR, now=real_now())
    await pay(database, payment_settings, paid_channels, created)
    order = await load_order(database, created.order.id)
    assert (order.status, order.refunded_minor) == (OrderStatus.REFUNDED, 20_000)
    assert (await balance_of(database, card_id)).paid == 10_000
    async with database.transaction() as session:
        payment = await session.get(Payment, order.payment_id)
        history = await order_history(session, order.id)
    assert payment is not None
    assert (payment.status, payment.refunded_minor) == ("refunded", 20_000)
    assert history[-1].data["code"] == "card_frozen"


async def test_a_named_card_needs_a_verified_holder_and_a_refusal_leaves_no_trace(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    now = real_now()
    async with database.transaction() as session:
        named = await active_product(
            session, now, is_named=True, max_balance=500_000, validity_months=None
        )
        await ensure_consumer(session, "con_phone_only", now, KycLevel.PHONE)
    before = await event_types(database)
    with pytest.raises(PurchaseRefused) as refused:
        await order_of(
            database, payment_settings, shop, product_id=named.id, holder_id="con_phone_only"
        )
    assert refused.value.code == "purchase_named_unverified"
    assert await event_types(database) == before
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0
    # the verified holder buys it, and holds it
    created = await order_of(database, payment_settings, shop, product_id=named.id)
    await pay(database, payment_settings, paid_channels, created)
    order = await load_order(database, created.order.id)
    assert order.status == OrderStatus.FULFILLED
    assert order.card_id is not None
    card = await load_card(database, order.card_id)
    assert (card.holder_id, card.status) == (HOLDER, "active")
