"""Refunds (up to, never beyond, what was taken), holds (capture, void, expiry), reversals
in every order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.cards_support import KEYS, OPERATOR, balance_of
from tests.redemption_support import RATE, make_till, redeem, request
from tongka.cards import service as cards
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger import expire_pending
from tongka.redemption import aftercare, service
from tongka.redemption.control_models import RedemptionUsage
from tongka.redemption.errors import (
    AuthorizationNotOpen,
    CaptureExceedsHold,
    RefundCardUnavailable,
    RefundExceedsRedeemed,
)
from tongka.redemption.limit_settings import LimitValues, set_product_limits
from tongka.redemption.models import Redemption


async def _load(database: Database, redemption_id: str) -> Redemption:
    async with database.transaction() as session:
        record = await session.get(Redemption, redemption_id)
        assert record is not None
        return record


async def test_refunds_add_up_to_the_parts_and_never_beyond(
    database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=7_000, bonus=3_000)
        purchase = await redeem(session, request(till, 10_000, "r"), now)
    rid = purchase.redemptions[0].id
    for index, amount in enumerate([3_333, 3_333, 3_334]):
        async with database.transaction() as session:
            record = await session.get(Redemption, rid)
            assert record is not None
            await aftercare.refund(
                session, record, amount, refund_key=f"f{index}", reason=None, actor="t", now=now
            )
    record = await _load(database, rid)
    assert (record.refunded, record.refunded_paid, record.refunded_bonus) == (10_000, 7_000, 3_000)
    assert record.refunded_fee == record.fee
    assert await balance_of(database, till.card_id) == cards.CardBalance(paid=7_000, bonus=3_000)
    async with database.transaction() as session:
        record = await session.get(Redemption, rid)
        assert record is not None
        with pytest.raises(RefundExceedsRedeemed):
            await aftercare.refund(
                session, record, 1, refund_key="x", reason=None, actor="t", now=now
            )


async def test_a_refund_onto_a_closed_card_is_refused(
    database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=5_000)
        purchase = await redeem(session, request(till, 5_000, "r"), now)
        await cards.report_lost(session, till.card_id, principal=OPERATOR, now=now)
        await cards.reissue_card(
            session,
            till.card_id,
            keys=KEYS,
            actor="t",
            now=now,
        )
    async with database.transaction() as session:
        record = await session.get(Redemption, purchase.redemptions[0].id)
        assert record is not None
        with pytest.raises(RefundCardUnavailable):
            await aftercare.refund(
                session, record, 100, refund_key="c", reason=None, actor="t", now=now
            )


async def test_capture_less_than_the_hold_returns_the_rest(
    database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=5_000)
        held = await redeem(session, request(till, 4_000, "a", kind="authorization"), now)
    assert held.redemptions[0].status == "authorized"
    assert (await balance_of(database, till.card_id)).total == 1_000
    async with database.transaction() as session:
        record = await session.get(Redemption, held.redemptions[0].id)
        assert record is not None
        with pytest.raises(CaptureExceedsHold):
            await aftercare.capture(
                session, record, 4_001, fee_rate=RATE, bonus_first=False, actor="t", now=now
            )
        await aftercare.capture(
            session, record, 2_500, fee_rate=RATE, bonus_first=False, actor="t", now=now
        )
    assert (await balance_of(database, till.card_id)).total == 2_500
    record = await _load(database, held.redemptions[0].id)
    assert (record.status, record.amount, record.fee) == ("captured", 2_500, 15)


async def test_void_and_expiry_return_the_value(database: Database, clock: FixedClock) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=5_000)
        first = await redeem(session, request(till, 1_000, "v", kind="authorization"), now)
        second = await redeem(
            session, request(till, 2_000, "e", kind="authorization", hold_seconds=60), now
        )
    async with database.transaction() as session:
        record = await session.get(Redemption, first.redemptions[0].id)
        assert record is not None
        await aftercare.void(session, record, actor="t", now=now)
        with pytest.raises(AuthorizationNotOpen):
            await aftercare.void(session, record, actor="t", now=now)
    assert (await balance_of(database, till.card_id)).total == 3_000
    later = now + timedelta(seconds=61)
    async with database.transaction() as session:
        assert await expire_pending(session, now=later) == 1
        record = await session.get(Redemption, second.redemptions[0].id)
        assert record is not None
        assert aftercare.shown_status(record, later) == "expired"
        with pytest.raises(AuthorizationNotOpen):
            await aftercare.capture(
                session, record, None, fee_rate=RATE, bonus_first=False, actor="t", now=later
            )
    assert (await balance_of(database, till.card_id)).total == 5_000


@pytest.mark.parametrize("order", ["after_original", "before_original", "without_original"])
async def test_a_reversal_undoes_exactly_once_in_every_order(
    database: Database, clock: FixedClock, order: str
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=5_000)
    if order == "after_original":
        async with database.transaction() as session:
            await redeem(session, request(till, 1_500, "orig"), now)
    for _ in range(2):  # the terminal may send its reversal twice
        async with database.transaction() as session:
            await aftercare.reverse(session, till.merchant_id, "orig", actor="t", now=now)
    if order == "before_original":
        async with database.transaction() as session:
            late = await redeem(session, request(till, 1_500, "orig"), now)
        assert (late.status, late.decline_code) == ("declined", "reversed")
    assert (await balance_of(database, till.card_id)).total == 5_000


async def _card_usage(database: Database, card_id: str) -> dict[date, int]:
    async with database.transaction() as session:
        rows = await session.execute(
            select(RedemptionUsage.business_date, RedemptionUsage.used_count).where(
                RedemptionUsage.scope == "card", RedemptionUsage.subject == card_id
            )
        )
        return {row[0]: row[1] for row in rows}


@pytest.mark.parametrize("undo", ["reversal", "void"])
async def test_undoing_on_a_later_day_gives_back_the_original_days_use(
    database: Database, settings: Settings, undo: str
) -> None:
    late = datetime(2026, 12, 2, 15, 59, tzinfo=UTC)  # 23:59 on 2 Dec in Shanghai
    next_day = datetime(2026, 12, 2, 16, 1, tzinfo=UTC)  # 00:01 on 3 Dec
    async with database.transaction() as session:
        till = await make_till(session, late, amount=5_000)
        await set_product_limits(
            session,
            till.product_id,
            LimitValues(card_daily_count=1),
            challenge_threshold_minor=None,
            merchant_id=till.merchant_id,
            actor="t",
            now=late,
        )
        kind = "authorization" if undo == "void" else "redemption"
        first = await service.redeem(
            session,
            request(till, 1_000, "orig", kind=kind),
            keys=KEYS,
            fee_rate=RATE,
            now=late,
            settings=settings,
        )
    assert first.status == "approved"
    assert await _card_usage(database, till.card_id) == {date(2026, 12, 2): 1}
    # when: the undo comes after midnight
    async with database.transaction() as session:
        if undo == "void":
            record = await session.get(Redemption, first.redemptions[0].id)
            assert record is not None
            await aftercare.void(session, record, actor="t", now=next_day, settings=settings)
        else:
            await aftercare.reverse(
                session, till.merchant_id, "orig", actor="t", now=next_day, settings=settings
            )
    # then: 2 December's use is given back, and 3 December's counter is untouched
    assert await _card_usage(database, till.card_id) == {date(2026, 12, 2): 0}
    async with database.transaction() as session:
        again = await service.redeem(
            session,
            request(till, 1_000, "next"),
            keys=KEYS,
            fee_rate=RATE,
            now=next_day,
            settings=settings,
        )
        over = await service.redeem(
            session,
            request(till, 1_000, "over"),
            keys=KEYS,
            fee_rate=RATE,
            now=next_day,
            settings=settings,
        )
    assert (again.status, over.decline_code) == ("approved", "limit_exceeded")


async def test_a_hold_without_its_own_time_lasts_the_configured_default(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    now = clock.now()
    configured = settings.model_copy(update={"redemption_hold_seconds": 120})
    async with database.transaction() as session:
        till = await make_till(session, now, amount=5_000)
        held = await service.redeem(
            session,
            request(till, 1_000, "h", kind="authorization"),
            keys=KEYS,
            fee_rate=RATE,
            now=now,
            settings=configured,
        )
    record = await _load(database, held.redemptions[0].id)
    assert record.expires_at == now + timedelta(seconds=120)
    async with database.transaction() as session:
        assert await expire_pending(session, now=now + timedelta(seconds=119)) == 0
        assert await expire_pending(session, now=now + timedelta(seconds=121)) == 1
    assert (await balance_of(database, till.card_id)).total == 5_000
