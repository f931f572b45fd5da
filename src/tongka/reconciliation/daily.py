"""A day's reconciliation as the CLI and the worker run it: per channel, its statement
(a file given, or downloaded from the channel) streamed into a run; then the reserve's
balance if the bank statement of the day is in.

Each channel's run is its own transaction (``Database.run``: a run answers the existing
one when repeated, so a retry after a lost connection is safe).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import Clock, business_date
from tongka.config import Settings
from tongka.db import Database
from tongka.payments import registry
from tongka.payments.channel import ChannelError, StatementLine
from tongka.payments.errors import UnknownChannel
from tongka.reconciliation.bank import parse_bank_statement
from tongka.reconciliation.errors import DayNotOver, StatementUnavailable
from tongka.reconciliation.imports import Progress
from tongka.reconciliation.kinds import CHANNELS, RESERVE
from tongka.reconciliation.models import BankStatement, ReconciliationRun
from tongka.reconciliation.service import (
    find_run,
    import_bank_statement,
    reconcile_channel,
    reconcile_reserve,
)

log = structlog.get_logger(__name__)
JOB_ACTOR = "job:reconciliation.daily"


async def statement_lines(
    settings: Settings,
    channel: str,
    day: date,
    content: bytes | Iterable[bytes] | None,
    *,
    now: datetime,
) -> Iterable[StatementLine]:
    """The statement's lines, parsed by the channel's own parser as they are read; without
    ``content`` it is downloaded from the channel (a day that has ended only)."""
    adapter = registry.channel(settings, channel)
    if content is None:
        refuse_open_day(day, settings, now=now)
        try:
            content = await adapter.download_statement(day)
        except ChannelError as failed:
            raise StatementUnavailable(
                f"The channel's statement of {day} cannot be had now ({failed.message}); "
                "try again later.",
                details={"channel": channel, "statement_date": day.isoformat()},
            ) from failed
    return adapter.parse_statement(content)


async def reconcile_day(
    session: AsyncSession,
    settings: Settings,
    channel: str,
    day: date,
    *,
    actor: str,
    now: datetime,
) -> ReconciliationRun:
    """A day of ``channel`` in the caller's transaction (the API and the console): its
    statement downloaded unless the day ran already; ``reserve``: its bank statement."""
    if channel == RESERVE:
        return await reconcile_reserve(
            session, day, actor=actor, now=now, timezone=settings.timezone
        )
    existing = await find_run(session, channel, day)
    content = b"" if existing is not None else None  # nothing to download: it answers itself
    lines = await statement_lines(settings, channel, day, content, now=now)
    return await reconcile_channel(
        session, channel, day, lines, actor=actor, now=now, timezone=settings.timezone
    )


def refuse_open_day(day: date, settings: Settings, *, now: datetime) -> None:
    if day >= business_date(now, settings.timezone):
        raise DayNotOver(
            "A day's statement exists once the day has ended.",
            param="statement_date",
            details={"statement_date": day.isoformat()},
        )


async def reconcile_upload(
    session: AsyncSession,
    settings: Settings,
    channel: str,
    day: date,
    content: Iterable[bytes],
    *,
    actor: str,
    now: datetime,
) -> tuple[ReconciliationRun, bool]:
    """An uploaded statement of ``day`` (the API and the console), in the caller's
    transaction: a channel's statement, matched; or (``reserve``) the reserve account's
    bank statement, imported (every channel run it settles is checked) and its closing
    balance reconciled. The run, and whether this upload made it: a day that ran answers
    its run and its file is not read (uploading the same file twice changes nothing). A
    file that cannot be read raises ``StatementInvalid`` and leaves nothing behind."""
    refuse_open_day(day, settings, now=now)
    if await find_run(session, channel, day) is not None:
        if channel == RESERVE:
            run = await reconcile_reserve(
                session, day, actor=actor, now=now, timezone=settings.timezone
            )
        else:
            run = await reconcile_channel(
                session, channel, day, (), actor=actor, now=now, timezone=settings.timezone
            )
        return run, False
    if channel == RESERVE:
        await import_bank_statement(
            session, day, parse_bank_statement(content), actor=actor, now=now
        )
        run = await reconcile_reserve(
            session, day, actor=actor, now=now, timezone=settings.timezone
        )
    else:
        lines = await statement_lines(settings, channel, day, content, now=now)
        run = await reconcile_channel(
            session, channel, day, lines, actor=actor, now=now, timezone=settings.timezone
        )
    return run, True


async def run_channel(
    database: Database,
    settings: Settings,
    channel: str,
    day: date,
    *,
    actor: str,
    now: datetime,
    content: bytes | Iterable[bytes] | None = None,
    on_chunk: Progress | None = None,
) -> str:
    """The channel's run of ``day`` (the existing one if it ran); its id."""
    async with database.transaction() as session:
        existing = await find_run(session, channel, day)
    if existing is not None and content is None:
        content = b""  # nothing to download: the run answers itself
    lines = await statement_lines(settings, channel, day, content, now=now)

    async def work(session: AsyncSession) -> str:
        run = await reconcile_channel(
            session,
            channel,
            day,
            lines,
            actor=actor,
            now=now,
            timezone=settings.timezone,
            on_chunk=on_chunk,
        )
        return run.id

    return await database.run(work, attempts=1)


async def import_bank_file(
    database: Database, day: date, content: bytes | Iterable[bytes], *, actor: str, now: datetime
) -> str:
    async with database.transaction() as session:
        statement = await import_bank_statement(
            session, day, parse_bank_statement(content), actor=actor, now=now
        )
        return statement.id


async def run_reserve(
    database: Database, settings: Settings, day: date, *, actor: str, now: datetime
) -> str | None:
    """The reserve's run of ``day`` if its bank statement (with balances) is in."""
    async with database.transaction() as session:
        statement = await session.scalar(
            select(BankStatement).where(BankStatement.statement_date == day)
        )
        if statement is None or statement.closing_minor is None:
            return None
        run = await reconcile_reserve(
            session, day, actor=actor, now=now, timezone=settings.timezone
        )
        return run.id


async def reconcile_daily(database: Database, clock: Clock, settings: Settings) -> int:
    """The worker job: yesterday's (platform time) run of every channel that has none yet,
    downloaded from the channel; a channel that does not answer is tried on the next
    round. Then the reserve's run if its bank statement is in. Returns the runs made."""
    now = clock.now()
    day = business_date(now, settings.timezone) - timedelta(days=1)
    made = 0
    for channel in (*CHANNELS, RESERVE):
        async with database.transaction() as session:
            if await find_run(session, channel, day) is not None:
                continue
        try:
            if channel == RESERVE:
                made += (
                    await run_reserve(database, settings, day, actor=JOB_ACTOR, now=now) is not None
                )
            else:
                await run_channel(database, settings, channel, day, actor=JOB_ACTOR, now=now)
                made += 1
        except (StatementUnavailable, UnknownChannel) as failed:
            log.warning("reconciliation.download_failed", channel=channel, error=str(failed))
    return made
