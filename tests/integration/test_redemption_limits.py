"""Limits at the decision point: exact at and over each boundary, on both backends and
every kind of unit of work; declines reserve nothing and are recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.controls_support import breaches, context, product_with_limits, usage
from tests.ledger_support import unit_of_work
from tongka.config import Settings
from tongka.db import Database
from tongka.errors import InvalidRequest
from tongka.redemption.decision import Outcome, decide, release
from tongka.redemption.limit_settings import LimitValues, set_product_limits

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai


async def _decide(database: Database, ctx, settings: Settings, kind: str = "session", now=NOW):  # type: ignore[no-untyped-def]
    async with unit_of_work(database, kind) as unit:
        return await decide(unit, ctx, now=now, settings=settings)


async def test_per_transaction_limit_at_and_over(database: Database, settings: Settings) -> None:
    product_id, _ = await product_with_limits(database, NOW, per_transaction_max_minor=10_000)

    at = await _decide(database, context(product_id, 10_000), settings)
    over = await _decide(database, context(product_id, 10_001), settings)

    assert at.outcome is Outcome.ALLOW
    assert over.outcome is Outcome.DECLINE
    assert over.decline_code == "limit_exceeded"
    assert over.reasons[-1].details["limit"] == "per_transaction_max_minor"
    assert await breaches(database) == ["per_transaction_max_minor"]


async def test_card_daily_count_and_amount_exact(
    database_and_unit_kind: tuple[Database, str], settings: Settings
) -> None:
    database, kind = database_and_unit_kind
    product_id, _ = await product_with_limits(
        database, NOW, card_daily_count=3, card_daily_amount_minor=25_000
    )
    outcomes = [
        (await _decide(database, context(product_id, amount), settings, kind)).decline_code
        for amount in (10_000, 10_000, 5_001, 5_000, 1, 1)
    ]
    # 10k + 10k = 20k; 5,001 would be 25,001 > 25k; 5,000 makes 25k and the 3rd use;
    # then even 1 fen breaks both the count (3) and the amount: the amount is named
    assert outcomes == [None, None, "limit_exceeded", None, "limit_exceeded", "limit_exceeded"]
    assert await usage(database, "card", "crd_test_1") == (3, 25_000)
    assert await breaches(database) == [
        "card_daily_amount_minor",
        "card_daily_amount_minor",
        "card_daily_amount_minor",
    ]


async def test_card_daily_count_alone(database: Database, settings: Settings) -> None:
    product_id, _ = await product_with_limits(database, NOW, card_daily_count=2)
    codes = [
        (await _decide(database, context(product_id, 100), settings)).decline_code for _ in range(3)
    ]
    assert codes == [None, None, "limit_exceeded"]
    assert await breaches(database) == ["card_daily_count"]
    assert await usage(database, "card", "crd_test_1") == (2, 200)


async def test_card_terminal_count_and_terminal_limits(
    database: Database, settings: Settings
) -> None:
    product_id, _ = await product_with_limits(
        database, NOW, card_terminal_daily_count=1, terminal_daily_amount_minor=1_000
    )
    first = await _decide(database, context(product_id, 400), settings)
    same_terminal = await _decide(database, context(product_id, 400), settings)
    other_terminal = await _decide(
        database, context(product_id, 400, terminal_id="trm_2"), settings
    )
    other_card = await _decide(database, context(product_id, 600, card_id="crd_other"), settings)
    over_terminal = await _decide(database, context(product_id, 1, card_id="crd_third"), settings)

    assert [d.decline_code for d in (first, same_terminal, other_terminal, other_card)] == [
        None,
        "limit_exceeded",
        None,
        None,
    ]
    assert over_terminal.decline_code == "limit_exceeded"
    assert await breaches(database) == ["card_terminal_daily_count", "terminal_daily_amount_minor"]
    # the declined uses reserved nothing: the card+terminal counter was undone too
    assert await usage(database, "terminal", "trm_1") == (2, 1_000)
    assert await usage(database, "card_terminal", "crd_third:trm_1") == (0, 0)


async def test_business_date_in_platform_zone(database: Database, settings: Settings) -> None:
    product_id, _ = await product_with_limits(database, NOW, card_daily_count=1)
    late = datetime(2026, 12, 2, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai, 2 Dec
    next_day = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 00:00 on 3 Dec in Shanghai

    assert (await _decide(database, context(product_id, 1), settings, now=late)).is_allowed
    assert not (await _decide(database, context(product_id, 1), settings, now=late)).is_allowed
    assert (await _decide(database, context(product_id, 1), settings, now=next_day)).is_allowed


async def test_release_gives_the_use_back(database: Database, settings: Settings) -> None:
    product_id, _ = await product_with_limits(database, NOW, card_daily_count=1)
    ctx = context(product_id, 700)
    async with database.transaction() as session:
        assert (await decide(session, ctx, now=NOW, settings=settings)).is_allowed
        # the core then declines (say, insufficient funds) in the same transaction
        await release(session, ctx, now=NOW, settings=settings)

    assert await usage(database, "card", "crd_test_1") == (0, 0)
    assert (await _decide(database, ctx, settings)).is_allowed


async def test_rollback_undoes_the_reservation(database: Database, settings: Settings) -> None:
    product_id, _ = await product_with_limits(database, NOW, card_daily_count=1)
    ctx = context(product_id, 700)

    async def failing_redemption() -> None:
        async with database.transaction() as session:
            assert (await decide(session, ctx, now=NOW, settings=settings)).is_allowed
            raise RuntimeError("the posting failed")

    with pytest.raises(RuntimeError):
        await failing_redemption()
    assert (await _decide(database, ctx, settings)).is_allowed


async def test_product_limits_capped_by_and_refused_above_bounds(
    database: Database, settings: Settings
) -> None:
    product_id, _ = await product_with_limits(
        database, NOW, bounds=LimitValues(card_daily_count=5, per_transaction_max_minor=50_000)
    )
    # no product value: the bound applies
    codes = [
        (await _decide(database, context(product_id, 100), settings)).decline_code for _ in range(6)
    ]
    assert codes == [None] * 5 + ["limit_exceeded"]

    async with database.transaction() as session:
        with pytest.raises(InvalidRequest) as refused:
            await set_product_limits(
                session,
                product_id,
                LimitValues(per_transaction_max_minor=50_001),
                challenge_threshold_minor=None,
                merchant_id="mch_alpha",
                actor="user:issuer",
                now=NOW + timedelta(minutes=1),
            )
    assert refused.value.code == "redemption_limit_out_of_bounds"
    assert refused.value.details["bound"] == {"amount": 50_000, "currency": "CNY"}
