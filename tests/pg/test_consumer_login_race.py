"""Concurrent code requests for one phone on PostgreSQL: the send limit holds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import TEST_KEYS
from tongka.db import Database
from tongka.errors import RateLimited
from tongka.identity import consumer_login
from tongka.identity.models import ConsumerLoginCode
from tongka.identity.sms import SandboxSmsSender

pytestmark = pytest.mark.pg
NOW = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
PHONE = "13812345678"


async def _request(database: Database, at: datetime) -> bool:
    try:
        async with database.transaction() as session:
            await consumer_login.request_login_code(
                session, TEST_KEYS, PHONE, now=at, sender=SandboxSmsSender()
            )
    except RateLimited:
        return False
    return True


async def test_concurrent_requests_send_one_code_per_interval(pg_database: Database) -> None:
    assert await _request(pg_database, NOW)
    later = NOW + timedelta(minutes=2)
    outcomes = await asyncio.gather(*(_request(pg_database, later) for _ in range(8)))
    assert sorted(outcomes) == [False] * 7 + [True]
    async with pg_database.transaction() as session:
        statuses = (
            await session.execute(
                select(ConsumerLoginCode.status, func.count()).group_by(ConsumerLoginCode.status)
            )
        ).all()
    assert dict(statuses) == {"pending": 1, "superseded": 1}
