"""Expiry: the daily job, breakage through the ledger, reminders, exchange within grace."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.cards_support import (
    KEYS,
    active_product,
    assert_ledger_verifies,
    balance_of,
    event_types,
    funded_card,
)
from tongka.cards import service
from tongka.cards.errors import ExchangeNotAllowed, IllegalCardTransition
from tongka.cards.models import Card
from tongka.cards.validity import add_months, expiry_moment
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import AccountCode, get_balance
from tongka.ledger.system_accounts import system_account

ACTOR = "user:test"
TIMEZONE = "Asia/Shanghai"


async def _breakage_income(database: Database, clock: FixedClock) -> int:
    async with database.transaction() as session:
        account = await system_account(session, AccountCode.BREAKAGE_INCOME, "CNY", now=clock.now())
        return (await get_balance(session, account)).posted


async def _expire(database: Database, when: object) -> int:
    async with database.transaction() as session:
        return await service.expire_due_cards(session, now=when)  # type: ignore[arg-type]


async def test_an_expired_cards_balance_goes_to_breakage_income(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=2_000, bonus=300)
    expiry = expiry_moment(clock.now(), 36, TIMEZONE)
    # found a second before expiry: only the nearest (7-day) reminder goes out
    assert await _expire(database, expiry - timedelta(seconds=1)) == 1
    assert await _expire(database, expiry) == 1
    async with database.transaction() as session:
        card = await service.get_card(session, issued.card.id)
    assert (card.status, card.expired_at) == ("expired", expiry)
    assert await balance_of(database, card.id) == service.CardBalance(0, 0)
    assert await _breakage_income(database, clock) == 2_300
    assert await _expire(database, expiry + timedelta(days=1)) == 0  # nothing twice
    assert await event_types(database, card.id) == [
        "card.issued",
        "card.activated",
        "card.expiry_reminder",
        "card.expired",
    ]
    await assert_ledger_verifies(database, expiry)


async def test_reminders_go_out_30_and_7_days_before_once_each(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=100)
    expiry = expiry_moment(clock.now(), 36, TIMEZONE)
    assert await _expire(database, expiry - timedelta(days=31)) == 0
    assert await _expire(database, expiry - timedelta(days=30)) == 1
    assert await _expire(database, expiry - timedelta(days=29)) == 0
    assert await _expire(database, expiry - timedelta(days=7)) == 1
    assert await _expire(database, expiry - timedelta(days=6)) == 0
    assert (await event_types(database, issued.card.id)).count("card.expiry_reminder") == 2


async def test_cards_without_validity_never_expire(database: Database, clock: FixedClock) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), validity_months=None)
        issued = await funded_card(session, clock.now(), product, amount=100)
    assert await _expire(database, add_months(clock.now(), 600)) == 0
    assert await balance_of(database, issued.card.id) == service.CardBalance(100, 0)


EXCHANGE = {
    "breakage_policy": service.BreakagePolicy.EXCHANGE,
    "exchange_grace_days": 90,
    "exchange_ratio": Decimal("0.9"),
}


async def test_an_expired_card_is_exchanged_at_the_ratio_within_grace(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), **EXCHANGE)
        issued = await funded_card(session, clock.now(), product, amount=1_005, bonus=10)
    expiry = expiry_moment(clock.now(), 36, TIMEZONE)
    await _expire(database, expiry)
    assert await balance_of(database, issued.card.id) == service.CardBalance(1_005, 10)
    async with database.transaction() as session:
        new = await service.exchange_expired_card(
            session, issued.card.id, keys=KEYS, actor=ACTOR, now=expiry + timedelta(days=10)
        )
    # 90% rounded down: 904.5 -> 904, 9 -> 9; the rest is breakage
    assert await balance_of(database, new.card.id) == service.CardBalance(904, 9)
    assert await _breakage_income(database, clock) == 102
    assert await balance_of(database, issued.card.id) == service.CardBalance(0, 0)
    await assert_ledger_verifies(database, expiry + timedelta(days=10))


async def test_after_the_grace_period_the_balance_is_forfeited(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), **EXCHANGE)
        issued = await funded_card(session, clock.now(), product, amount=1_000)
    expiry = expiry_moment(clock.now(), 36, TIMEZONE)
    await _expire(database, expiry)
    await _expire(database, expiry + timedelta(days=90))
    async with database.transaction() as session:
        card = await service.get_card(session, issued.card.id)
    assert card.status == "closed"
    assert await _breakage_income(database, clock) == 1_000
    with pytest.raises(IllegalCardTransition):
        async with database.transaction() as session:
            await service.exchange_expired_card(
                session, issued.card.id, keys=KEYS, actor=ACTOR, now=expiry + timedelta(days=91)
            )


async def test_a_forfeit_product_allows_no_exchange(database: Database, clock: FixedClock) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=1_000)
    expiry = expiry_moment(clock.now(), 36, TIMEZONE)
    await _expire(database, expiry)
    with pytest.raises(ExchangeNotAllowed):
        async with database.transaction() as session:
            await service.exchange_expired_card(
                session, issued.card.id, keys=KEYS, actor=ACTOR, now=expiry
            )


@pytest.mark.parametrize(
    ("activated_at", "last_valid_day"),
    [
        # 17:00 UTC on Jan 31 is already Feb 1 in Shanghai: valid through Feb 1, 2029
        pytest.param(datetime(2026, 1, 31, 17, tzinfo=UTC), date(2029, 2, 1), id="after"),
        # 15:00 UTC on Jan 31 is 23:00 that day in Shanghai: valid through Jan 31, 2029
        pytest.param(
            datetime(2026, 1, 31, 15, tzinfo=UTC), date(2029, 1, 31), id="before midnight"
        ),
    ],
)
async def test_a_card_expires_at_the_end_of_its_business_date_in_shanghai(
    database: Database, activated_at: datetime, last_valid_day: date
) -> None:
    clock = FixedClock(activated_at)
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=100)
        card = await service.get_card(session, issued.card.id)
    shanghai = ZoneInfo(TIMEZONE)
    end_of_day = datetime.combine(last_valid_day + timedelta(days=1), time(), tzinfo=shanghai)
    assert card.expires_at == end_of_day - timedelta(microseconds=1)
    # the job's last run on the last valid business date leaves it; the first after, expires
    await _expire(database, end_of_day - timedelta(seconds=1))
    assert (await _card(database, card.id)).status == "active"
    await _expire(database, end_of_day)
    assert (await _card(database, card.id)).status == "expired"


async def test_reminders_count_business_dates(database: Database) -> None:
    clock = FixedClock(datetime(2026, 1, 31, 17, tzinfo=UTC))  # Feb 1 in Shanghai
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=100)
    # valid through Feb 1, 2029: the 7-day reminder goes out on Jan 25 (Shanghai), at any hour
    jan_25_early = datetime(2029, 1, 24, 16, 30, tzinfo=UTC)  # 00:30 on Jan 25 in Shanghai
    await _expire(database, jan_25_early - timedelta(hours=1))  # 23:30 on Jan 24: 30-day one
    reminders = [e for e in await event_types(database, issued.card.id) if "reminder" in e]
    assert len(reminders) == 1
    await _expire(database, jan_25_early)
    reminders = [e for e in await event_types(database, issued.card.id) if "reminder" in e]
    assert len(reminders) == 2


async def _card(database: Database, card_id: str) -> Card:
    async with database.transaction() as session:
        return await service.get_card(session, card_id)
