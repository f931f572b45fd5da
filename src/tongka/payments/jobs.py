"""Worker jobs (``tongka.worker.JOBS``): poll payments about to expire, check channels.

``poll_expiring``: a payment that never notifies is found by asking its channel before it
expires (and once more after: if still unpaid then, it is closed at the channel). A payment
is leased by bumping ``updated_at`` in one statement (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so several workers never poll the same one at once, and one is polled at most
every ``POLL_EVERY``. Each payment is polled in its own transaction: one channel's trouble
does not hold up the others.

``check_channels``: ask each network channel about a payment that does not exist; a signed
"no such payment" (a definite, non-retryable answer) is healthy, a timeout or a server error
is not. The outcome feeds the circuit breaker (``circuit.record_check``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database
from tongka.db.statements import dialect_of
from tongka.payments import circuit, registry
from tongka.payments.channel import ChannelError, ChannelName
from tongka.payments.models import Payment, PaymentStatus
from tongka.payments.service import close_payment, poll_payment

log = structlog.get_logger(__name__)

POLL_BEFORE_EXPIRY = timedelta(minutes=3)
POLL_EVERY = timedelta(seconds=30)
CLOSE_AFTER_EXPIRY = timedelta(minutes=1)
BATCH = 20
PROBE_PAYMENT_ID = "pay_healthcheck"


async def lease_expiring(session: AsyncSession, now: datetime, limit: int = BATCH) -> list[str]:
    """Ids of awaiting payments near (or past) expiry not polled lately, leased to us."""
    due = (
        select(Payment.id)
        .where(
            Payment.status == PaymentStatus.AWAITING.value,
            Payment.channel != ChannelName.CASH.value,
            Payment.expires_at <= now + POLL_BEFORE_EXPIRY,
            Payment.updated_at <= now - POLL_EVERY,
        )
        .order_by(Payment.expires_at)
        .limit(limit)
    )
    if dialect_of(session) == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list((await session.scalars(due)).all())
    if ids:
        await session.execute(
            update(Payment)
            .where(Payment.id.in_(ids))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


async def poll_expiring(database: Database, clock: Clock, settings: Settings) -> int:
    now = clock.now()

    async def lease(session: AsyncSession) -> list[str]:
        return await lease_expiring(session, now)

    handled = 0
    for payment_id in await database.run(lease):

        async def poll(session: AsyncSession, payment_id: str = payment_id) -> None:
            view = await poll_payment(session, payment_id, now=now, settings=settings)
            if (
                view.status == PaymentStatus.AWAITING
                and view.expires_at + CLOSE_AFTER_EXPIRY <= now
            ):
                await close_payment(session, payment_id, now=now, settings=settings)

        try:
            await database.run(poll)
            handled += 1
        except ChannelError as error:  # counted against the channel by poll_payment
            log.warning("payments.poll_failed", payment_id=payment_id, error=str(error))
    return handled


async def check_channels(database: Database, clock: Clock, settings: Settings) -> int:
    now = clock.now()
    checked = 0
    # the first call may generate the sandbox's keys: never on the event loop
    adapters = await asyncio.to_thread(registry.channels, settings)
    for name, adapter in adapters.items():
        if name is ChannelName.CASH:
            continue
        problem: str | None = None
        try:
            await adapter.query_payment(PROBE_PAYMENT_ID)
        except ChannelError as error:
            if error.is_retryable:
                problem = str(error)

        async def record(
            session: AsyncSession, name: ChannelName = name, problem: str | None = problem
        ) -> None:
            await circuit.record_check(session, name, error=problem, now=now, settings=settings)

        await database.run(record)
        checked += 1
    return checked
