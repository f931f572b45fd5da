# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""On PostgreSQL: one order's notification delivered 50 times at once, racing the expiry job
and a holder's cancel. The order ends in one consistent state — fulfilled once (one card
credit, one receipt) — every delivery is acknowledged, and the ledger verifies."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.orders_support import load_order, open_shop, order_of
from tests.paycore_support import paid_channels, payment_settings, real_now  # noqa: F401
from tests.payments_support import PaymentSandbox, sandbox_settings  # noqa: F401
from tongka.config import Settings
from tongka.db import Database
from tongka.errors import DomainError
from tongka.ledger.models import LedgerTransfer
from tongka.ledger.verify import verify_ledger
from tongka.payments import purposes
from tongka.payments.channel import ChannelName
from tongka.payments.service import accept_notification
from tongka.sales import fulfilment
from tongka.sales.jobs import expire_order
from tongka.sales.order_states import OrderStatus
from tongka.sales.orders import cancel_order, get_order
from tongka.sales.receipt_models import Receipt

pytestmark = pytest.mark.pg

DELIVERIES = 50


async def test_deliveries_race_the_expiry_and_a_cancel(
    pg_database: Database, payment_settings: Settings, paid_channels: PaymentSandbox
) -> None:
    database = pg_database
    shop = await open_shop(database, payment_settings)
    try:
        created = await order_of(database, payment_settings, shop)
        await paid_channels.pay(ChannelName.WECHAT, created.payment.payment.id)
        assert paid_channels.inbox is not None
        (_, headers, body) = paid_channels.inbox.received[0]
        later = real_now() + timedelta(minutes=16)

        async def deliver() -> Any:
            async def work(session: Any) -> int:
                ack = await accept_notification(
                    session, "wechat", headers, body, now=real_now(), settings=payment_settings
                )
                return ack.status_code

            return await database.run(work)

        async def expire() -> Any:
            async def work(session: Any) -> str:
                return await expire_order(
                    session, created.order.id, now=later, settings=payment_settings
                )

            return await database.run(work)

        async def cancel() -> Any:
            async def work(session: Any) -> str:
                order = await get_order(session, created.order.id)
                done = await cancel_order(
                    session,
                    order,
                    actor="holder",
                    reason=None,
                    now=real_now(),
                    settings=payment_settings,
                )
                return done.status

            try:
                return await database.run(work)
            except DomainError as refused:  # paid meanwhile: not cancellable
                return refused.code

        results = await asyncio.wait_for(
            asyncio.gather(*(deliver() for _ in range(DELIVERIES)), expire(), cancel()),
            timeout=300,
        )
        codes = set(results[:DELIVERIES])
        assert len(codes) == 1
        assert next(iter(codes)) < 300
        order = await load_order(database, created.order.id)
        async with database.transaction() as session:
            transfers = await session.scalar(select(func.count()).select_from(LedgerTransfer))
            receipts = await session.scalar(select(func.count()).select_from(Receipt))
            report = await verify_ledger(session, real_now())
        assert report.ok, [check.details for check in report.failures]
        # the channel was paid before either ran: whoever asked it found the payment
        assert order.status == OrderStatus.FULFILLED
        assert (transfers, receipts) == (1, 1)
    finally:
        purposes.unregister_listener(fulfilment.PURPOSE_KIND)
