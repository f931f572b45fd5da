"""One settlement run of a business date: follow up open payouts, build every merchant's
batch (one transaction each, so one merchant's problem does not hold up the others), pay
what is due. Used by ``tongka settlement run --date`` and the worker job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from tongka.clock import business_date
from tongka.config import Settings
from tongka.db import Database
from tongka.settlement.calendar import load_calendar
from tongka.settlement.errors import NotABusinessDay
from tongka.settlement.payout_channel import PayoutChannel
from tongka.settlement.payouts import PayoutSummary, follow_up, pay_due
from tongka.settlement.runs import build_batch, payable_accounts


@dataclass
class SettlementRun:
    business_date: date
    built: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    payouts: PayoutSummary = field(default_factory=PayoutSummary)


async def settle_date(
    database: Database,
    day: date,
    *,
    channel: PayoutChannel,
    settings: Settings,
    now: datetime,
    pay_through: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SettlementRun:
    """Batches of ``day`` for every merchant, then payouts due by ``pay_through``
    (default: ``day``). ``progress(done, total)`` after each merchant."""

    async def calendar_and_accounts(session):  # type: ignore[no-untyped-def]
        return await load_calendar(session), await payable_accounts(session)

    calendar, accounts = await database.run(calendar_and_accounts)
    if not calendar.is_business_day(day):
        raise NotABusinessDay(
            f"{day.isoformat()} is not a business day: its movements are settled on the next.",
            param="date",
            details={"date": day},
        )
    run = SettlementRun(day)
    # first the answers to earlier payouts: a return (退票) or a late rejection found now
    # is owed again at once, so this run's batches can carry it
    await follow_up(database, channel=channel, settings=settings, now=now, summary=run.payouts)
    for done, spec in enumerate(accounts, start=1):
        assert spec.owner_id is not None
        batch, is_new = await database.run(
            lambda session, spec=spec: build_batch(  # type: ignore[misc]
                session,
                spec.owner_id,
                spec.currency,
                day,
                calendar=calendar,
                timezone=settings.timezone,
                now=now,
            )
        )
        if batch is not None:
            (run.built if is_new else run.existing).append(batch.id)
        if progress is not None:
            progress(done, len(accounts))
    await pay_due(
        database,
        channel=channel,
        settings=settings,
        now=now,
        pay_through=pay_through or day,
        summary=run.payouts,
    )
    return run


async def last_closed_business_date(database: Database, now: datetime, timezone: str) -> date:
    """The latest business date that has ended (what the daily job settles)."""
    calendar = await database.run(load_calendar)
    day = business_date(now, timezone) - timedelta(days=1)
    while not calendar.is_business_day(day):
        day -= timedelta(days=1)
    return day
