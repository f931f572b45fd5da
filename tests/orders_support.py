# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Helpers for the orders' tests: a selling merchant with an active product and quota, a
holder, orders created through the service and paid through the in-process sandbox.

    from tests.orders_support import shop, paid_channels, payment_settings  # noqa: F401
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from tests.cards_support import (
    MERCHANT,
    active_product,
    ensure_consumer,
    ensure_merchant,
    grant_quota,
)
from tests.paycore_support import paid_channels, payment_settings, real_now  # noqa: F401
from tests.payments_support import PaymentSandbox, sandbox_settings  # noqa: F401
from tongka.cards.models import Card
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.models import KycLevel
from tongka.payments import purposes
from tongka.payments.channel import ChannelName, PaymentMethod
from tongka.payments.service import accept_notification
from tongka.sales import fulfilment
from tongka.sales.models import Order
from tongka.sales.order_states import OrderKind
from tongka.sales.orders import CreatedOrder, OrderRequest, create_order
from tongka.sales.purchase_rules import BuyerKind

HOLDER = "con_buyer"


@dataclass(frozen=True)
class Shop:
    product_id: str  # anonymous, face values ¥100 / ¥500, max balance ¥1,000
    merchant_id: str = MERCHANT
    holder_id: str = HOLDER


async def open_shop(database: Database, settings: Settings) -> Shop:
    """The selling merchant (quota granted), a verified holder and an active product; the
    order listener registered with ``settings``."""
    now = real_now()
    async with database.transaction() as session:
        await ensure_merchant(session, MERCHANT, now)
        await grant_quota(session, now, 10**10)
        await ensure_consumer(session, HOLDER, now, KycLevel.ID_CARD)
        product = await active_product(session, now)
    fulfilment.register_order_listener(settings, replace=True)
    return Shop(product.id)


@pytest.fixture
async def shop(database: Database, payment_settings: Settings) -> AsyncIterator[Shop]:
    yield await open_shop(database, payment_settings)
    purposes.unregister_listener(fulfilment.PURPOSE_KIND)


def request(**overrides: Any) -> OrderRequest:
    """A holder buying a ¥100 card of the shop's product through WeChat Native."""
    values: dict[str, Any] = {
        "kind": OrderKind.PURCHASE,
        "method": PaymentMethod.NATIVE_QR,
        "channel": "wechat",
        "actor": f"consumer:{HOLDER}",
        "buyer_key": f"consumer:{HOLDER}",
        "holder_id": HOLDER,
        "face_value_minor": 10_000,
        "buyer_kind": BuyerKind.PERSON,
    }
    values.update(overrides)
    return OrderRequest(**values)


async def order_of(
    database: Database, settings: Settings, shop: Shop, **overrides: Any
) -> CreatedOrder:
    overrides.setdefault("product_id", shop.product_id)
    async with database.transaction() as session:
        return await create_order(session, request(**overrides), now=real_now(), settings=settings)


async def deliver_all(database: Database, settings: Settings, sandbox: PaymentSandbox) -> None:
    """Deliver every notification the gateway sent (to its inbox) to our service."""
    assert sandbox.inbox is not None
    messages, sandbox.inbox.received = list(sandbox.inbox.received), []
    for path, headers, body in messages:
        channel = ChannelName(path.rstrip("/").split("/")[-2])
        async with database.transaction() as session:
            await accept_notification(
                session, channel, headers, body, now=real_now(), settings=settings
            )


async def pay(
    database: Database,
    settings: Settings,
    sandbox: PaymentSandbox,
    created: CreatedOrder,
    **options: Any,
) -> None:
    """The payer confirms at the sandbox; its notifications reach the service."""
    await sandbox.pay(created.payment.payment.channel, created.payment.payment.id, **options)
    await deliver_all(database, settings, sandbox)


async def load_order(database: Database, order_id: str) -> Order:
    async with database.transaction() as session:
        order = await session.scalar(select(Order).where(Order.id == order_id))
        assert order is not None
        session.expunge(order)
        return order


async def load_card(database: Database, card_id: str) -> Card:
    async with database.transaction() as session:
        card = await session.get(Card, card_id)
        assert card is not None
        session.expunge(card)
        return card
