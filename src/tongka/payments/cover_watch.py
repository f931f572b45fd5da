"""The daily check that customer money covers what is owed (worker job ``reserve.check_cover``).

``ledger verify`` checks the cover when someone runs it; this job checks it on its own, so a
shortfall — channel fees above the fee income, a statement import short of what the ledger
expected, a bug — is noticed the day it appears. Each short currency gets one
``reserve.shortfall`` event per business day (the outbox: the platform's alerting reads it)
and an error in the log; the ``tongka_reserve_surplus_minor`` gauge shows every currency's
surplus at each check, short or not.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import Clock, business_date
from tongka.config import Settings
from tongka.db import Database
from tongka.events import record_event
from tongka.events.models import Event
from tongka.ledger.cover import Cover, covers
from tongka.metrics import RESERVE_SURPLUS
from tongka.money import Money

log = structlog.get_logger(__name__)

EVENT_TYPE = "reserve.shortfall"


async def _alert_once(session: AsyncSession, cover: Cover, object_id: str, now: datetime) -> bool:
    seen = await session.scalar(
        select(Event.id)
        .where(Event.object_type == "reserve", Event.object_id == object_id)
        .where(Event.type == EVENT_TYPE)
        .limit(1)
    )
    if seen is not None:
        return False
    await record_event(
        session,
        type=EVENT_TYPE,
        object_type="reserve",
        object_id=object_id,
        actor="system:cover_watch",
        now=now,
        data={
            "currency": cover.currency,
            "shortfall": Money.of_minor(-cover.surplus, cover.currency).to_decimal_string(),
            "customer_money": cover.customer_money,
            "owed": cover.owed,
        },
    )
    return True


async def check_cover(database: Database, clock: Clock, settings: Settings) -> int:
    """Check every currency's cover; answers how many currencies are short."""
    now = clock.now()
    day = business_date(now, settings.timezone).isoformat()

    async def work(session: AsyncSession) -> int:
        short = 0
        for cover in await covers(session):
            RESERVE_SURPLUS.labels(cover.currency).set(cover.surplus)
            if cover.is_covered:
                continue
            short += 1
            if await _alert_once(session, cover, f"{cover.currency}:{day}", now):
                log.error(
                    "reserve.shortfall",
                    currency=cover.currency,
                    shortfall_minor=-cover.surplus,
                    business_date=day,
                )
        return short

    return await database.run(work)
