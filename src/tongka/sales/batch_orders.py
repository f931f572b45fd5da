"""Enterprise batch orders (单位批量购卡): paid, then issued, then activated.

The order's batch is created with the order and held (``fulfilment.BATCH_HELD_UNTIL``); the
payment releases it to the existing issue job (``cards.issue_batches``). Once the batch is
issued, ``activate_paid_batches`` (a worker job) activates every card in one ledger
transaction from the channel receivable the payment debited (``cards.funding.fund_batch``)
and moves the order ``paid → fulfilled``; activation follows payment, with no separate
finance step. Each order in its own transaction, locked: two workers activate it once.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.funding import fund_batch
from tongka.cards.issuing import BatchStatus
from tongka.cards.models import CardBatch
from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database
from tongka.payments.accounts import channel_receivable_account
from tongka.sales.models import Order
from tongka.sales.order_states import OrderKind, OrderStatus, move, reload

log = structlog.get_logger(__name__)

BATCH = 20
ACTOR = "job:sales.activate_paid_batches"


async def issued_batch_order_ids(session: AsyncSession, limit: int = BATCH) -> list[str]:
    """Paid batch orders whose batch is issued and not yet activated."""
    rows = await session.scalars(
        select(Order.id)
        .join(CardBatch, CardBatch.id == Order.batch_id)
        .where(
            Order.kind == OrderKind.BATCH.value,
            Order.status == OrderStatus.PAID.value,
            CardBatch.status == BatchStatus.COMPLETED.value,
            CardBatch.funded_at.is_(None),
        )
        .order_by(Order.paid_at)
        .limit(limit)
    )
    return list(rows.all())


async def activate_batch_order(
    session: AsyncSession, order_id: str, *, now: datetime, settings: Settings
) -> bool:
    """Activate the paid order's issued batch; False when someone else did (or it is not
    ready)."""
    order = await reload(session, order_id, lock=True)
    if order is None or order.status != OrderStatus.PAID or order.batch_id is None:
        return False
    assert order.channel is not None
    debit = await channel_receivable_account(
        session, order.channel, order.currency, now=now, merchant_id=order.merchant_id
    )
    await fund_batch(
        session,
        order.batch_id,
        transfer_reference=order.id,
        amount=order.amount_minor,
        actor=ACTOR,
        now=now,
        timezone=settings.timezone,
        debit_account_id=debit,
    )
    return await move(
        session,
        order,
        [OrderStatus.PAID],
        OrderStatus.FULFILLED,
        event="fulfilled",
        actor=ACTOR,
        now=now,
        fulfilled_at=now,
    )


async def activate_paid_batches(database: Database, clock: Clock, settings: Settings) -> int:
    now = clock.now()
    activated = 0
    for order_id in await database.run(issued_batch_order_ids):

        async def activate(session: AsyncSession, order_id: str = order_id) -> bool:
            return await activate_batch_order(session, order_id, now=now, settings=settings)

        if await database.run(activate):
            activated += 1
            log.info("sales.batch_order_activated", order_id=order_id)
    return activated
