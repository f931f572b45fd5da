"""Redeem: approvals with their parts and fee, every decline code, partial, several cards."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.cards_support import KEYS, OPERATOR, active_product, balance_of, funded_card
from tests.redemption_support import make_store, make_till, redeem, request
from tongka.cards import service as cards
from tongka.cards.models import CardProduct
from tongka.cards.validity import add_months
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import get_balance
from tongka.redemption.errors import AllocationInvalid
from tongka.redemption.fees import merchant_payable_id
from tongka.redemption.models import Redemption
from tongka.redemption.service import CardCredential


async def test_an_approval_takes_paid_then_bonus_and_credits_the_merchant_and_fee(
    database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=5_000, bonus=1_000)
        purchase = await redeem(session, request(till, 5_500, "k1"), now)
    assert (purchase.status, purchase.taken) == ("approved", 5_500)
    record = purchase.redemptions[0]
    assert (record.paid, record.bonus, record.fee, record.balance_after) == (5_000, 500, 33, 500)
    assert await balance_of(database, till.card_id) == cards.CardBalance(paid=0, bonus=500)
    async with database.transaction() as session:
        payable = await get_balance(session, merchant_payable_id(till.merchant_id, "CNY"))
    assert payable.posted == 5_500 - 33


async def test_a_replay_of_the_key_answers_the_first_purchase(
    database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=5_000)
        first = await redeem(session, request(till, 1_000, "same"), now)
    async with database.transaction() as session:
        again = await redeem(session, request(till, 1_000, "same"), now)
    assert again.is_replay
    assert again.id == first.id
    assert (await balance_of(database, till.card_id)).total == 4_000


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("insufficient", "insufficient_funds"),
        ("frozen", "card_frozen"),
        ("expired", "card_expired"),
        ("wrong_secret", "wrong_secret"),
        ("locked", "card_locked"),
        ("elsewhere", "not_accepted_here"),
        ("issued", "card_inactive"),
    ],
)
async def test_every_decline_is_a_recorded_answer_that_moves_nothing(
    database: Database, clock: FixedClock, case: str, code: str
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=5_000)
        req = request(till, 1_000, f"d-{case}")
        if case == "insufficient":
            req = request(till, 6_000, "d")
        elif case == "frozen":
            await cards.freeze_card(session, till.card_id, principal=OPERATOR, now=now)
        elif case == "expired":
            now = add_months(now, 40)
        elif case in ("wrong_secret", "locked"):
            bad = [CardCredential(number=till.number, secret="000000")]
            req = request(till, 1_000, "bad", cards=bad)
            if case == "locked":
                for attempt in range(5):
                    await redeem(session, request(till, 1, f"w{attempt}", cards=bad), now)
                req = request(till, 1_000, "after-lock")
        elif case == "elsewhere":
            other = await make_store(session, "mch_other", now)
            req = request(till, 1_000, "x", merchant_id="mch_other", store_id=other)
        elif case == "issued":
            product = await active_product(session, now)
            issued = await cards.issue_card(
                session,
                product.id,
                merchant_id=product.merchant_id,
                face_value=10_000,
                holder_id=None,
                keys=KEYS,
                actor="t",
                now=now,
            )
            req = request(
                till,
                1_000,
                "iss",
                cards=[CardCredential(number=issued.number, secret=issued.secret)],
            )
        purchase = await redeem(session, req, now)
    assert (purchase.status, purchase.decline_code, purchase.taken) == ("declined", code, 0)
    assert (await balance_of(database, till.card_id)).total == 5_000
    async with database.transaction() as session:
        stored = (
            await session.scalars(
                select(Redemption).where(Redemption.id == purchase.redemptions[0].id)
            )
        ).one()
    assert stored.decline_code == code


async def test_partial_takes_what_the_card_has_and_says_what_remains(
    database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=3_000)
        purchase = await redeem(session, request(till, 5_000, "p", allow_partial=True), now)
    assert (purchase.status, purchase.taken, purchase.remaining) == ("approved", 3_000, 2_000)
    assert (await balance_of(database, till.card_id)).total == 0


async def test_several_cards_never_take_more_than_their_shares(
    database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=5_000)
        product = await session.get(CardProduct, till.product_id)
        assert product is not None
        second = await funded_card(session, now, product, amount=5_000)
        both = [
            CardCredential(number=till.number, secret=till.secret, share=2_000),
            CardCredential(number=second.number, secret=second.secret, share=3_000),
        ]
        purchase = await redeem(session, request(till, 5_000, "two", cards=both), now)
        with pytest.raises(AllocationInvalid):
            await redeem(session, request(till, 6_000, "bad-shares", cards=both), now)
    assert [r.amount for r in purchase.redemptions] == [2_000, 3_000]
    assert (await balance_of(database, till.card_id)).total == 3_000
    assert (await balance_of(database, second.card.id)).total == 2_000


async def test_a_product_that_spends_bonus_first_takes_the_bonus_part_first(
    database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=5_000, bonus=1_000)
        product = await session.get(CardProduct, till.product_id)
        assert product is not None
        product.is_bonus_spent_first = True  # the product's option (CardProduct column)
        purchase = await redeem(session, request(till, 1_500, "bonus-first"), now)
    record = purchase.redemptions[0]
    assert (record.paid, record.bonus) == (500, 1_000)
    assert await balance_of(database, till.card_id) == cards.CardBalance(paid=4_500, bonus=0)
