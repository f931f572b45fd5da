# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""A paid top-up checks the issuer's quota as its last step (``cards.quota.check_quota_after``):
one that fits is credited; one that would take the issuer's cards over the quota is rolled
back alone — nothing on the card, the order refunded, the payment given back."""

from __future__ import annotations

from sqlalchemy import select

from tests.cards_support import balance_of, funded_card
from tests.orders_support import (  # noqa: F401 - fixtures
    HOLDER,
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
from tongka.cards import service as cards
from tongka.cards.products import get_product
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger.models import LedgerTransfer
from tongka.ledger.verify import verify_ledger
from tongka.payments.models import Payment, PaymentStatus
from tongka.sales.order_states import OrderKind, OrderStatus


async def _card_with_quota_room(database: Database, shop: Shop, room: int) -> str:
    """An active card holding ¥100; the issuer's quota set to what its cards hold + ``room``."""
    async with database.transaction() as session:
        product = await get_product(session, shop.product_id)
        card_id = (
            await funded_card(session, real_now(), product, amount=10_000, holder_id=HOLDER)
        ).card.id
        held = await cards.outstanding_balance(session, shop.merchant_id, "CNY")
        await cards.set_quota(
            session, shop.merchant_id, "CNY", held + room, actor="ops", now=real_now()
        )
    return card_id


async def _top_up(
    database: Database, settings: Settings, sandbox: PaymentSandbox, shop: Shop, card_id: str
) -> str:
    created = await order_of(
        database,
        settings,
        shop,
        kind=OrderKind.TOP_UP,
        card_id=card_id,
        amount_minor=1_000,
        face_value_minor=None,
        product_id=None,
    )
    await pay(database, settings, sandbox, created)
    return created.order.id


async def test_a_top_up_within_the_quota_is_credited_and_one_beyond_it_refunded(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    # given room for one ¥10 top-up and a half
    card_id = await _card_with_quota_room(database, shop, 1_500)
    # when the card is topped up by ¥10 twice
    first = await _top_up(database, payment_settings, paid_channels, shop, card_id)
    second = await _top_up(database, payment_settings, paid_channels, shop, card_id)
    # then the first is on the card, the second left no trace there
    assert (await load_order(database, first)).status == OrderStatus.FULFILLED
    refused = await load_order(database, second)
    assert refused.status == OrderStatus.REFUNDED
    assert refused.receipt_id is None  # the receipt rolled back with the credit
    assert (await balance_of(database, card_id)).paid == 11_000
    async with database.transaction() as session:
        credited = list(
            await session.scalars(
                select(LedgerTransfer.id).where(
                    LedgerTransfer.id.in_([f"order:{first}", f"order:{second}"])
                )
            )
        )
        payment = await session.scalar(select(Payment).where(Payment.purpose_id == second))
        report = await verify_ledger(session, real_now())
    assert credited == [f"order:{first}"]
    assert payment is not None
    assert payment.status == PaymentStatus.REFUNDED
    assert report.ok, [check.details for check in report.failures]
