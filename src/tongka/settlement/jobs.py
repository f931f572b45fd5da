"""The settlement worker job (``tongka.worker.JOBS``): settle the latest business date
that has ended and pay what is due today. Safe in several workers at once (``runs.py``,
``payouts.py``); a run of a date already settled changes nothing, so it runs often."""

from __future__ import annotations

import httpx

from tongka.clock import Clock, business_date
from tongka.config import Settings
from tongka.db import Database
from tongka.settlement.payout_channel import channel_of
from tongka.settlement.service import last_closed_business_date, settle_date


async def settle_daily(database: Database, clock: Clock, settings: Settings) -> int:
    now = clock.now()
    day = await last_closed_business_date(database, now, settings.timezone)
    async with httpx.AsyncClient(timeout=10.0) as http:
        run = await settle_date(
            database,
            day,
            channel=channel_of(settings, http),
            settings=settings,
            now=now,
            pay_through=business_date(now, settings.timezone),
        )
    return len(run.built) + len(run.payouts.paid) + len(run.payouts.returned)


async def record_deposits(database: Database, clock: Clock, settings: Settings) -> int:
    """预收资金存管: each classed issuer's figures of the day (the quarter's requirement is
    taken on the first run of a quarter); later runs of the same day change nothing."""
    from tongka.settlement.deposits import record_days

    async def work(session):  # type: ignore[no-untyped-def]
        return await record_days(session, now=clock.now(), timezone=settings.timezone)

    written: int = await database.run(work)
    return written
