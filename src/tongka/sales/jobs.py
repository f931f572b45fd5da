"""Worker jobs of the orders (``tongka.worker.JOBS``).

``sales.expire_orders``: an order still unpaid at its ``expires_at`` is expired — after its
channel is asked once more (``close_payment`` polls before it closes): a payment that
succeeded but never notified is found then, and the order is fulfilled instead. Each order
is handled in its own transaction, without locking it first (the notification path locks
the payment, then the order; taking them the other way round could deadlock): the status
change is one conditional statement, so two workers, or a late notification, cannot both
win. A channel that cannot be reached leaves the order for the next run.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database
from tongka.payments.channel import ChannelError
from tongka.sales.fulfilment import register_order_listener
from tongka.sales.models import Order
from tongka.sales.order_states import UNPAID, OrderStatus
from tongka.sales.orders import cancel_order, get_order

log = structlog.get_logger(__name__)

BATCH = 50
ACTOR = "job:sales.expire_orders"


async def due_order_ids(session: AsyncSession, now: datetime, limit: int = BATCH) -> list[str]:
    rows = await session.scalars(
        select(Order.id)
        .where(Order.status.in_([s.value for s in UNPAID]), Order.expires_at <= now)
        .order_by(Order.expires_at)
        .limit(limit)
    )
    return list(rows.all())


async def expire_order(
    session: AsyncSession, order_id: str, *, now: datetime, settings: Settings
) -> str:
    """Expire one due order (see the module); answers its status afterwards."""
    order = await get_order(session, order_id)
    if order.status not in UNPAID:
        return order.status
    done = await cancel_order(
        session,
        order,
        actor=ACTOR,
        reason="unpaid when it expired",
        now=now,
        settings=settings,
        target=OrderStatus.EXPIRED,
    )
    return done.status


async def expire_orders(database: Database, clock: Clock, settings: Settings) -> int:
    register_order_listener(settings)
    now = clock.now()

    async def due(session: AsyncSession) -> list[str]:
        return await due_order_ids(session, now)

    handled = 0
    for order_id in await database.run(due):

        async def expire(session: AsyncSession, order_id: str = order_id) -> str:
            return await expire_order(session, order_id, now=now, settings=settings)

        try:
            status = await database.run(expire)
        except ChannelError as error:
            log.warning("sales.expire_poll_failed", order_id=order_id, error=str(error))
            continue
        log.info("sales.order_expiry", order_id=order_id, status=status)
        handled += 1
    return handled
