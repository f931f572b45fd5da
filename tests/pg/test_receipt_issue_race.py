"""Many first calls for one order at once (a notification and a poll racing): one receipt,
one event, and every caller gets it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from tests.receipts_support import issued
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.events.models import Event
from tongka.sales.receipts import Receipt

pytestmark = pytest.mark.pg


async def test_concurrent_first_issues_make_one_receipt(
    pg_database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipts = await asyncio.gather(
        *(issued(pg_database, settings, clock.now()) for _ in range(16))
    )
    assert len({(receipt.id, receipt.code) for receipt in receipts}) == 1
    async with pg_database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Receipt)) == 1
        assert await session.scalar(select(func.count()).select_from(Event)) == 1
