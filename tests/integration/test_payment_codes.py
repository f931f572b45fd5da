"""Payment codes: one card of the holder, 60 seconds, once; refusals are coded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.cards_support import MERCHANT, active_product, ensure_merchant, funded_card, make_holder
from tongka.cards.errors import CardNotFound
from tongka.config import Settings
from tongka.db import Database
from tongka.redemption.payment_codes import (
    PaymentCodeRefused,
    is_payment_code,
    issue_payment_code,
    resolve_payment_code,
)

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


async def _holder_and_card(database: Database) -> tuple[str, str]:
    async with database.transaction() as session:
        await ensure_merchant(session, MERCHANT, NOW)
        product = await active_product(session, NOW)
        holder = await make_holder(session, NOW)
        issued = await funded_card(session, NOW, product, amount=10_000, holder_id=holder)
    return holder, issued.card.id


async def _issue(database: Database, holder: str, card: str, settings: Settings, now=NOW):  # type: ignore[no-untyped-def]
    async with database.transaction() as session:
        return await issue_payment_code(session, holder, card, now=now)


async def _resolve(database: Database, code: str, settings: Settings, now=NOW) -> str:  # type: ignore[no-untyped-def]
    async with database.transaction() as session:
        return await resolve_payment_code(session, code, now=now)


async def test_a_code_works_once(database: Database, settings: Settings) -> None:
    holder, card = await _holder_and_card(database)
    issued = await _issue(database, holder, card, settings)

    assert is_payment_code(issued.code)
    assert len(issued.code) == 18
    assert issued.expires_at == NOW + timedelta(seconds=60)
    assert await _resolve(database, issued.code, settings) == card
    with pytest.raises(PaymentCodeRefused) as again:
        await _resolve(database, issued.code, settings)
    assert again.value.code == "payment_code_used"


async def test_a_code_lasts_sixty_seconds_and_a_new_one_ends_it(
    database: Database, settings: Settings
) -> None:
    holder, card = await _holder_and_card(database)
    first = await _issue(database, holder, card, settings)
    with pytest.raises(PaymentCodeRefused) as late:
        await _resolve(database, first.code, settings, now=NOW + timedelta(seconds=60))
    second = await _issue(database, holder, card, settings, now=NOW + timedelta(seconds=30))
    third = await _issue(database, holder, card, settings, now=NOW + timedelta(seconds=59))

    assert late.value.code == "payment_code_expired"
    assert second.code != third.code
    with pytest.raises(PaymentCodeRefused) as replaced:
        await _resolve(database, second.code, settings, now=NOW + timedelta(seconds=60))
    assert replaced.value.code == "payment_code_expired"
    assert await _resolve(database, third.code, settings, now=NOW + timedelta(seconds=60)) == card


async def test_unknown_and_malformed_codes(database: Database, settings: Settings) -> None:
    with pytest.raises(PaymentCodeRefused) as unknown:
        await _resolve(database, "88" + "0" * 16, settings)
    with pytest.raises(PaymentCodeRefused) as malformed:
        await _resolve(database, "12345", settings)
    assert unknown.value.code == malformed.value.code == "payment_code_unknown"


async def test_another_holders_card_is_refused(database: Database, settings: Settings) -> None:
    _, card = await _holder_and_card(database)
    async with database.transaction() as session:
        stranger = await make_holder(session, NOW)
    with pytest.raises(CardNotFound):
        await _issue(database, stranger, card, settings)


@pytest.mark.pg
async def test_two_tills_scanning_one_code_get_the_card_once(
    pg_database: Database, settings: Settings
) -> None:
    holder, card = await _holder_and_card(pg_database)
    issued = await _issue(pg_database, holder, card, settings)

    async def scan() -> str | None:
        try:
            return await _resolve(pg_database, issued.code, settings)
        except PaymentCodeRefused:
            return None

    results = await asyncio.wait_for(asyncio.gather(*(scan() for _ in range(10))), timeout=30)
    assert results.count(card) == 1
    assert results.count(None) == 9
