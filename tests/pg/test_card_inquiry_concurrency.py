"""Racing wrong secrets on one card: exactly five are evaluated, then the card is locked."""

from __future__ import annotations

import asyncio

import pytest

from tests.cards_support import KEYS, active_product, event_types, issue
from tongka.cards import service
from tongka.cards.errors import CardCredentialsInvalid, CardLocked
from tongka.clock import FixedClock
from tongka.db import Database

pytestmark = pytest.mark.pg


async def test_concurrent_wrong_secrets_lock_after_exactly_five(
    pg_database: Database, clock: FixedClock
) -> None:
    async with pg_database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await issue(session, product.id, clock.now())

    async def guess(attempt: int) -> str:
        try:
            await service.inquire_balance(
                pg_database,
                issued.number,
                f"{attempt:010d}",
                client="203.0.113.9",
                keys=KEYS,
                now=clock.now(),
            )
        except (CardCredentialsInvalid, CardLocked) as refused:
            return refused.code
        return "answered"

    outcomes = await asyncio.gather(*(guess(attempt) for attempt in range(1, 13)))
    assert sorted(outcomes) == ["card_credentials_invalid"] * 5 + ["card_locked"] * 7
    assert (await event_types(pg_database, issued.card.id)).count("card.inquiry_locked") == 1
