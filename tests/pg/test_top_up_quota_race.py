# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""On PostgreSQL: the notifications of 12 top-ups of one issuer's cards arrive at once, and
its quota has room for 5 of them. The quota is checked as each top-up's last step
(``cards.quota.check_quota_after``): exactly 5 are credited, 7 refunded, the issuer's cards
hold no more than the quota, and the ledger verifies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.cards_support import funded_card
from tests.orders_support import HOLDER, open_shop, order_of
from tests.paycore_support import paid_channels, payment_settings, real_now  # noqa: F401
from tests.payments_support import PaymentSandbox, sandbox_settings  # noqa: F401
from tongka.cards import service as cards
from tongka.cards.products import get_product
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger.verify import verify_ledger
from tongka.payments import purposes
from tongka.payments.channel import ChannelName
from tongka.payments.service import accept_notification
from tongka.sales import fulfilment
from tongka.sales.models import Order
from tongka.sales.order_states import OrderKind

pytestmark = pytest.mark.pg

TOP_UPS = 12
ROOM_FOR = 5
AMOUNT = 1_000


async def test_concurrent_top_ups_never_exceed_the_quota(
    pg_database: Database, payment_settings: Settings, paid_channels: PaymentSandbox
) -> None:
    database = pg_database
    shop = await open_shop(database, payment_settings)
    try:
        # given 12 active cards of the issuer and room in its quota for 5 top-ups of ¥10
        async with database.transaction() as session:
            product = await get_product(session, shop.product_id)
            card_ids = [
                (
                    await funded_card(session, real_now(), product, amount=10_000, holder_id=HOLDER)
                ).card.id
                for _ in range(TOP_UPS)
            ]
            held = await cards.outstanding_balance(session, shop.merchant_id, "CNY")
            quota = held + ROOM_FOR * AMOUNT
            await cards.set_quota(
                session, shop.merchant_id, "CNY", quota, actor="ops", now=real_now()
            )
        for card_id in card_ids:
            created = await order_of(
                database,
                payment_settings,
                shop,
                kind=OrderKind.TOP_UP,
                card_id=card_id,
                amount_minor=AMOUNT,
                face_value_minor=None,
                product_id=None,
            )
            await paid_channels.pay(ChannelName.WECHAT, created.payment.payment.id)
        assert paid_channels.inbox is not None
        messages = list(paid_channels.inbox.received)
        assert len(messages) == TOP_UPS

        # when their notifications arrive at once
        async def deliver(headers: dict[str, str], body: bytes) -> Any:
            async def work(session: Any) -> int:
                ack = await accept_notification(
                    session, "wechat", headers, body, now=real_now(), settings=payment_settings
                )
                return ack.status_code

            return await database.run(work)

        codes = await asyncio.wait_for(
            asyncio.gather(*(deliver(headers, body) for _, headers, body in messages)),
            timeout=300,
        )
        # then every one is acknowledged, 5 credited, 7 refunded, the quota kept
        assert all(code < 300 for code in codes)
        async with database.transaction() as session:
            statuses = dict(
                (await session.execute(select(Order.status, func.count()).group_by(Order.status)))
                .tuples()
                .all()
            )
            outstanding = await cards.outstanding_balance(session, shop.merchant_id, "CNY")
            report = await verify_ledger(session, real_now())
        assert statuses == {"fulfilled": ROOM_FOR, "refunded": TOP_UPS - ROOM_FOR}
        assert outstanding == quota
        assert report.ok, [check.details for check in report.failures]
    finally:
        purposes.unregister_listener(fulfilment.PURPOSE_KIND)
