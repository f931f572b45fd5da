"""Worker jobs (registered in ``tongka.worker.JOBS``): expiry and unfinished batches.

A batch whose run fails (its BIN range ran out under an old batch without a reservation,
a database error...) does not hold up the others: the failure is counted on the batch, the
next try waits with backoff (``tongka.worker.next_attempt``), and after
``tongka.worker.MAX_ATTEMPTS`` the batch is ``failed`` with its last error, listed by
``tongka jobs failed`` and re-queued by ``tongka jobs retry ID``.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.batches import batch_event, get_batch, run_batch, unfinished_batch_ids
from tongka.cards.expiry import expire_due_cards
from tongka.cards.issuing import BatchProgress, BatchStatus
from tongka.cards.keys import card_keys
from tongka.cards.models import CardBatch
from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database
from tongka.worker import DeadLetter, next_attempt

log = structlog.get_logger(__name__)

CHUNKS_PER_RUN = 4


async def expire_cards(database: Database, clock: Clock, settings: Settings) -> int:
    """Expire due cards, forfeit ended grace periods, send reminders (bounded passes)."""
    handled = 0
    now = clock.now()

    async def one_pass(session: AsyncSession) -> int:
        return await expire_due_cards(session, now=now, timezone=settings.timezone)

    while True:
        count = await database.run(one_pass)
        handled += count
        if count == 0:
            return handled


async def issue_batches(database: Database, clock: Clock, settings: Settings) -> int:
    """Advance unfinished batches (resumes a batch whose issuing was interrupted)."""
    keys = card_keys(settings)

    now = clock.now()

    async def pending(session: AsyncSession) -> list[str]:
        return await unfinished_batch_ids(session, now=now)

    issued = 0
    for batch_id in await database.run(pending):

        def count(progress: BatchProgress) -> None:
            nonlocal issued
            issued += progress.issued_now

        try:
            await run_batch(
                database,
                batch_id,
                keys=keys,
                now=now,
                on_progress=count,
                max_chunks=CHUNKS_PER_RUN,
            )
        except Exception as exc:  # recorded on the batch; the other batches go on
            error = f"{type(exc).__name__}: {exc}"
            log.warning("cards.batch_failed", batch=batch_id, error=error)

            async def failure(
                session: AsyncSession, batch_id: str = batch_id, error: str = error
            ) -> CardBatch:
                return await record_batch_failure(session, batch_id, error, now=now)

            await database.run(failure)
    return issued


async def record_batch_failure(
    session: AsyncSession, batch_id: str, error: str, *, now: datetime
) -> CardBatch:
    """Count a failed run; schedule the next with backoff, or park the batch as ``failed``."""
    batch = await get_batch(session, batch_id)
    batch.attempts += 1
    batch.last_error = error[:500]
    batch.next_attempt_at = next_attempt(batch.attempts, now)
    if batch.next_attempt_at is None:
        batch.status = BatchStatus.FAILED
        batch.failed_at = now
        await session.flush()
        await batch_event(session, batch, "card_batch.failed", "worker", now, error=error[:500])
    await session.flush()
    return batch


async def retry_batch(session: AsyncSession, batch_id: str, *, actor: str, now: datetime) -> bool:
    """Re-queue a ``failed`` batch (after the cause is fixed); False if it was not failed."""
    batch = await get_batch(session, batch_id)
    if batch.status != BatchStatus.FAILED:
        return False
    batch.status = BatchStatus.RUNNING if batch.issued_count else BatchStatus.PENDING
    batch.attempts = 0
    batch.next_attempt_at = None
    batch.failed_at = None
    await session.flush()
    await batch_event(session, batch, "card_batch.retried", actor, now)
    return True


async def failed_batches(session: AsyncSession) -> list[CardBatch]:
    statement = select(CardBatch).where(CardBatch.status == BatchStatus.FAILED.value)
    return list((await session.execute(statement.order_by(CardBatch.id))).scalars().all())


class FailedBatches:
    """The batch job's dead letters (``Job.dead_letters``)."""

    async def list_failed(self, session: AsyncSession) -> list[DeadLetter]:
        return [
            DeadLetter(
                job="cards.issue_batches",
                id=batch.id,
                attempts=batch.attempts,
                last_error=batch.last_error or "",
                failed_at=batch.failed_at or batch.created_at,
            )
            for batch in await failed_batches(session)
        ]

    async def retry(self, session: AsyncSession, item_id: str, now: datetime) -> bool:
        return await retry_batch(session, item_id, actor="operator", now=now)


failed_batches_letters = FailedBatches()
