"""The worker's cover check: a shortfall is announced once per business day per currency
(a ``reserve.shortfall`` event) and shown in the surplus gauge; a covered reserve is quiet."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.events.models import Event
from tongka.ledger import AccountCode, TransferRequest, post_transfers
from tongka.metrics import RESERVE_SURPLUS
from tongka.payments.accounts import system_account
from tongka.payments.cover_watch import check_cover
from tongka.payments.reserve import Direction, transfer_reserve
from tongka.redemption.fees import merchant_payable_account


async def _alerts(database: Database) -> list[dict[str, object]]:
    async with database.transaction() as session:
        rows = (await session.scalars(select(Event).where(Event.type == "reserve.shortfall"))).all()
    return [dict(row.data or {}, object_id=row.object_id) for row in rows]


async def test_a_shortfall_is_announced_once_a_day_until_the_platform_makes_it_good(
    database: Database, clock: FixedClock, settings: Settings
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        reserve = await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
        expense = await system_account(session, AccountCode.CHANNEL_FEE_EXPENSE, "CNY", now=now)
        owed = await merchant_payable_account(session, "mch_test", "CNY", now=now)
        await post_transfers(
            session,
            [
                TransferRequest("load", reserve, owed, 10_000, "CNY", "test_load"),
                TransferRequest("stmt-fee", expense, reserve, 60, "CNY", "channel_fee"),
            ],
            now=now,
        )
    assert await check_cover(database, clock, settings) == 1
    assert await check_cover(database, clock, settings) == 1  # the same day: no new alert
    assert RESERVE_SURPLUS.labels("CNY")._value.get() == -60
    [alert] = await _alerts(database)
    assert alert["shortfall"] == "0.60"
    assert alert["object_id"] == "CNY:2026-01-01"
    clock.current = now + timedelta(days=1)
    assert await check_cover(database, clock, settings) == 1
    assert len(await _alerts(database)) == 2  # a new business day, still short
    async with database.transaction() as session:
        await transfer_reserve(
            session,
            transfer_id="cover-fees",
            amount_minor=60,
            currency="CNY",
            memo="",
            actor="test",
            now=clock.now(),
            direction=Direction.TO_RESERVE,
        )
    clock.current = now + timedelta(days=2)
    assert await check_cover(database, clock, settings) == 0
    assert len(await _alerts(database)) == 2
    assert RESERVE_SURPLUS.labels("CNY")._value.get() == 0
