"""Refunds (up to, never beyond, what was taken), holds (capture, void, expiry), reversals
in every order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.cards_support import KEYS, OPERATOR, balance_of
from tests.redemption_support import RATE, make_till, redeem, request
from tongka.cards import service as cards
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import expire_pending
from tongka.redemption import aftercare
from tongka.redemption.errors import (
    AuthorizationNotOpen,
    CaptureExceedsHold,
    RefundCardUnavailable,
    RefundExceedsRedeemed,
)
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
