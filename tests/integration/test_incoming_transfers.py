# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""来账登记: finance records a transfer on the reserve account; it pays the order whose
reference it quotes, once. A reference that names no payment, or another amount, is
refused and changes nothing."""

from __future__ import annotations

import pytest

from tests.orders_support import (  # noqa: F401 - fixtures
    Shop,
    load_order,
    order_of,
    paid_channels,
    payment_settings,
    real_now,
    sandbox_settings,
    shop,
)
from tests.payments_support import PaymentSandbox
from tongka.config import Settings
from tongka.db import Database
from tongka.payments.adapters.bank_transfer import bank_reference
from tongka.payments.errors import NotificationMismatch
from tongka.payments.incoming import IncomingTransfer, record_incoming_transfer
from tongka.sales.order_states import OrderKind, OrderStatus
from tongka.sales.orders import order_history
from tongka.sales.purchase_rules import BuyerKind


def _transfer(reference: str, amount_minor: int = 30_000) -> IncomingTransfer:
    return IncomingTransfer(
        reference=reference,
        amount_minor=amount_minor,
        currency="CNY",
        payer_account_name="上海某某科技有限公司",
        payer_account_number="31050161393600000123",
        bank_transaction_id="ICBC-0001",
        received_at=real_now(),
    )


async def _record(database: Database, settings: Settings, transfer: IncomingTransfer) -> None:
    async with database.transaction() as session:
        await record_incoming_transfer(session, transfer, now=real_now(), settings=settings)


async def test_a_recorded_transfer_pays_its_batch_order_once(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    # given an enterprise batch of three ¥100 cards awaiting its bank transfer
    created = await order_of(
        database,
        payment_settings,
        shop,
        kind=OrderKind.BATCH,
        card_count=3,
        method="bank_transfer",
        channel="bank_transfer",
        buyer_kind=BuyerKind.UNIT,
        buyer_key="unit:acme",
        buyer_name="上海某某科技有限公司",
        holder_id=None,
        export_password="correct horse battery staple",
        merchant_id=shop.merchant_id,
    )
    payment_id = created.payment.payment.id
    reference = bank_reference(payment_id)
    # a mistyped reference, and the right one with another amount, are refused
    mistyped = reference[:-2] + ("00" if not reference.endswith("00") else "01")
    for wrong in (_transfer(mistyped), _transfer(reference, amount_minor=29_999)):
        with pytest.raises(NotificationMismatch):
            await _record(database, payment_settings, wrong)
    assert (await load_order(database, created.order.id)).status == OrderStatus.AWAITING_PAYMENT
    # when finance records the transfer, twice
    await _record(database, payment_settings, _transfer(reference))
    await _record(database, payment_settings, _transfer(reference))
    # then the order is paid once
    order = await load_order(database, created.order.id)
    assert order.status == OrderStatus.PAID
    async with database.transaction() as session:
        events = [row.event_type for row in await order_history(session, order.id)]
    assert events.count("order.paid") == 1
