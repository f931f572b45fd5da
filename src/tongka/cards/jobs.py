"""Worker jobs (registered in ``tongka.worker.JOBS``): expiry and unfinished batches."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.expiry import expire_due_cards
from tongka.cards.issuing import BatchProgress, run_batch, unfinished_batch_ids
from tongka.cards.keys import card_keys
from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database

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

    async def pending(session: AsyncSession) -> list[str]:
        return await unfinished_batch_ids(session)

    issued = 0
    for batch_id in await database.run(pending):

        def count(progress: BatchProgress) -> None:
            nonlocal issued
            issued += progress.issued_now

        await run_batch(
            database,
            batch_id,
            keys=keys,
            now=clock.now(),
            on_progress=count,
            max_chunks=CHUNKS_PER_RUN,
        )
    return issued
