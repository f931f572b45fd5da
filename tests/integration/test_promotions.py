"""Promotions (充值赠送) on both databases: tiers, products, the validity window, per-holder
caps, the budget (funded from the merchant, exhausted exactly, returned at the end), claims
idempotent per order, released, posted to the card's bonus part through the gate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.cards_support import (
    MERCHANT,
    active_product,
    assert_ledger_verifies,
    balance_of,
    event_types,
    funded_card,
    grant_quota,
    issue,
    reserve_account,
)
from tests.promotions_support import (
    LOAD_500,
    LOAD_1000,
    available,
    claim,
    fund_merchant,
    new_order_id,
    payable_of,
    product_and_promotion,
    promotion_now,
    promotion_spec,
)
from tongka.cards import service as cards
from tongka.cards.money_gate import CardMovement, Direction, Purpose, move_card_value
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.errors import InvalidRequest
from tongka.ledger import TransferRequest
from tongka.redemption.service import is_bonus_spent_first
from tongka.sales import promotions
from tongka.sales.promotion_errors import (
    BonusAlreadyPosted,
    BonusNotClaimed,
    InvalidPromotion,
    PromotionFundsInsufficient,
)
from tongka.sales.promotion_rules import Tier


@pytest.mark.parametrize(
    ("load", "bonus"),
    [(49_999, None), (50_000, 5_000), (99_999, 5_000), (100_000, 12_000), (300_000, 12_000)],
    ids=["under the first tier", "at it", "under the second", "at the second", "above it"],
)
async def test_a_load_earns_the_highest_tier_it_reaches(
    database: Database, clock: FixedClock, load: int, bonus: int | None
) -> None:
    product, promotion = await product_and_promotion(
        database, clock.now(), tiers=[LOAD_1000, LOAD_500], budget_minor=100_000
    )

    grant = await claim(database, product, clock.now(), load=load)

    if bonus is None:
        assert grant is None
    else:
        assert grant == promotions.BonusGrant(promotion.id, bonus, promotion.budget_account_id)
    assert (await promotion_now(database, promotion.id)).remaining_minor == 100_000 - (bonus or 0)


async def test_creating_moves_the_budget_from_the_merchant(
    database: Database, clock: FixedClock
) -> None:
    product, promotion = await product_and_promotion(database, clock.now(), funds=50_000)

    assert await available(database, payable_of()) == 30_000
    assert await available(database, promotion.budget_account_id) == 20_000
    assert promotion.status == "active"
    assert await event_types(database, promotion.id) == ["promotion.created"]
    await assert_ledger_verifies(database, clock.now())


async def test_a_budget_larger_than_the_merchants_funds_is_refused(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        await fund_merchant(session, clock.now(), 19_999)
    with pytest.raises(PromotionFundsInsufficient):
        async with database.transaction() as session:
            await promotions.create_promotion(
                session, MERCHANT, promotion_spec(clock.now()), actor="t", now=clock.now()
            )
    assert await available(database, payable_of()) == 19_999


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"tiers": []}, "tier_count"),
        ({"tiers": [Tier(50_000, 60_000)]}, "bonus_above_load"),
        ({"tiers": [Tier(50_000, 5_000), Tier(50_000, 6_000)]}, "tier_duplicate"),
        ({"tiers": [Tier(50_000, 5_000), Tier(100_000, 4_000)]}, "tier_not_rising"),
        ({"budget_minor": 4_999}, "budget_too_small"),
        ({"per_holder_count": 0}, "holder_count"),
        ({"per_holder_amount_minor": 100}, "holder_amount"),
        ({"name": " "}, "name"),
        ({"product_ids": ["cpr_nope"]}, "unknown_product"),
    ],
)
async def test_a_malformed_promotion_is_refused(
    database: Database, clock: FixedClock, overrides: dict[str, object], problem: str
) -> None:
    async with database.transaction() as session:
        await fund_merchant(session, clock.now(), 10**6)
    spec = promotion_spec(clock.now(), **overrides)
    async with database.transaction() as session:
        with pytest.raises(InvalidPromotion) as raised:
            await promotions.create_promotion(session, MERCHANT, spec, actor="t", now=clock.now())
    assert raised.value.details["problem"] == problem
    assert await available(database, payable_of()) == 10**6


async def test_the_window_and_the_products_decide(database: Database, clock: FixedClock) -> None:
    now = clock.now()
    async with database.transaction() as session:
        product = await active_product(session, now)
    other, _ = await product_and_promotion(
        database,
        now,
        product_ids=[product.id],
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=2),
    )
    inside = now + timedelta(days=1, hours=12)

    assert await claim(database, other, inside) is None  # not its product
    assert await claim(database, product, now + timedelta(hours=1)) is None  # not yet
    assert await claim(database, product, now + timedelta(days=2)) is None  # over
    grant = await claim(database, product, inside)
    assert grant is not None
    assert grant.amount_minor == 5_000


async def test_the_budget_is_spent_exactly_and_the_promotion_stops(
    database: Database, clock: FixedClock
) -> None:
    product, promotion = await product_and_promotion(database, clock.now(), budget_minor=12_000)

    grants = [await claim(database, product, clock.now()) for _ in range(3)]

    assert [g.amount_minor if g else None for g in grants] == [5_000, 5_000, None]
    found = await promotion_now(database, promotion.id)
    assert (found.status, found.remaining_minor) == ("exhausted", 2_000)


async def test_a_claim_is_idempotent_per_order(database: Database, clock: FixedClock) -> None:
    product, promotion = await product_and_promotion(database, clock.now())
    order_id = new_order_id()

    first = await claim(database, product, clock.now(), order_id=order_id)
    again = await claim(database, product, clock.now(), order_id=order_id, load=200_000)

    assert first == again
    assert (await promotion_now(database, promotion.id)).remaining_minor == 15_000


@pytest.mark.parametrize(
    ("caps", "granted"),
    [({"per_holder_count": 2}, 2), ({"per_holder_amount_minor": 12_000}, 2)],
    ids=["count", "amount"],
)
async def test_per_holder_caps(
    database: Database, clock: FixedClock, caps: dict[str, int], granted: int
) -> None:
    product, promotion = await product_and_promotion(
        database, clock.now(), budget_minor=100_000, **caps
    )

    mine = [await claim(database, product, clock.now(), holder_id="con_a") for _ in range(4)]
    other = await claim(database, product, clock.now(), holder_id="con_b")
    anonymous = await claim(database, product, clock.now(), holder_id=None)

    assert sum(1 for grant in mine if grant) == granted
    assert other is not None
    assert anonymous is None  # a capped promotion needs to know its holder
    remaining = (await promotion_now(database, promotion.id)).remaining_minor
    assert remaining == 100_000 - 5_000 * (granted + 1)


async def test_a_released_claim_goes_back_and_reopens_the_promotion(
    database: Database, clock: FixedClock
) -> None:
    product, promotion = await product_and_promotion(
        database, clock.now(), budget_minor=10_000, per_holder_count=1
    )
    order_id = new_order_id()
    await claim(database, product, clock.now(), order_id=order_id, holder_id="con_a")
    await claim(database, product, clock.now(), holder_id="con_b")
    assert (await promotion_now(database, promotion.id)).status == "exhausted"

    async with database.transaction() as session:
        released = await promotions.release_bonus(session, order_id, now=clock.now())
    async with database.transaction() as session:  # twice: nothing more happens
        await promotions.release_bonus(session, order_id, now=clock.now())

    assert released is not None
    assert released.status == "released"
    found = await promotion_now(database, promotion.id)
    assert (found.status, found.remaining_minor) == ("active", 5_000)
    assert await claim(database, product, clock.now(), holder_id="con_a") is not None
    assert await claim(database, product, clock.now(), order_id=order_id) is None  # released


async def test_ending_returns_what_is_left_and_a_later_release_too(
    database: Database, clock: FixedClock
) -> None:
    product, promotion = await product_and_promotion(database, clock.now(), funds=100_000)
    order_id = new_order_id()
    await claim(database, product, clock.now(), order_id=order_id)

    async with database.transaction() as session:
        ended = await promotions.end_promotion(
            session, promotion.id, merchant_id=MERCHANT, actor="user:test", now=clock.now()
        )
    assert (ended.status, ended.remaining_minor, ended.returned_minor) == ("ended", 0, 15_000)
    assert await available(database, payable_of()) == 95_000
    assert await available(database, promotion.budget_account_id) == 5_000  # the open claim
    assert await claim(database, product, clock.now()) is None

    async with database.transaction() as session:
        await promotions.release_bonus(session, order_id, now=clock.now())

    assert await available(database, payable_of()) == 100_000
    assert await available(database, promotion.budget_account_id) == 0
    assert (await promotion_now(database, promotion.id)).returned_minor == 20_000
    await assert_ledger_verifies(database, clock.now())


async def test_a_posted_bonus_lands_in_the_cards_bonus_part(
    database: Database, clock: FixedClock
) -> None:
    product, promotion = await product_and_promotion(database, clock.now())
    async with database.transaction() as session:
        card_id = (await funded_card(session, clock.now(), product, amount=50_000)).card.id
    order_id = new_order_id()
    await claim(database, product, clock.now(), order_id=order_id)

    async with database.transaction() as session:
        first = await promotions.post_bonus(session, order_id, card_id=card_id, now=clock.now())
    async with database.transaction() as session:
        again = await promotions.post_bonus(session, order_id, card_id=card_id, now=clock.now())

    assert first is not None
    assert again is not None
    assert first.transfer_id == again.transfer_id
    assert await balance_of(database, card_id) == cards.CardBalance(paid=50_000, bonus=5_000)
    assert await available(database, promotion.budget_account_id) == 15_000
    with pytest.raises(BonusAlreadyPosted):
        async with database.transaction() as session:
            await promotions.release_bonus(session, order_id, now=clock.now())
    async with database.transaction() as session:  # an order that claimed nothing: nothing
        assert (
            await promotions.post_bonus(session, "ord_none", card_id=card_id, now=clock.now())
        ) is None
    await assert_ledger_verifies(database, clock.now())


async def test_an_activation_carries_the_bonus_in_its_own_gate_call(
    database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    product, promotion = await product_and_promotion(database, now)
    order_id = new_order_id()
    grant = await claim(database, product, now, order_id=order_id)
    assert grant is not None
    async with database.transaction() as session:
        await grant_quota(session, now, 10**9)
        card_id = (await issue(session, product.id, now)).card.id
        funding = cards.CardFunding(
            transfer_id=f"order:{order_id}",
            debit_account_id=await reserve_account(session, now),
            amount=50_000,
            bonus=grant.amount_minor,
            bonus_account_id=grant.debit_account_id,
        )
        await cards.activate_card(session, card_id, actor="t", now=now, funding=funding)
        await promotions.mark_bonus_posted(
            session, order_id, card_id=card_id, transfer_id=f"order:{order_id}:bonus", now=now
        )

    assert await balance_of(database, card_id) == cards.CardBalance(paid=50_000, bonus=5_000)
    with pytest.raises(BonusAlreadyPosted):
        async with database.transaction() as session:
            await promotions.release_bonus(session, order_id, now=now)
    with pytest.raises(BonusNotClaimed):
        async with database.transaction() as session:
            await promotions.mark_bonus_posted(
                session, "ord_none", card_id=card_id, transfer_id="x", now=now
            )
    assert (await promotion_now(database, promotion.id)).remaining_minor == 15_000
    await assert_ledger_verifies(database, now)


async def test_the_job_ends_expired_promotions(database: Database, clock: FixedClock) -> None:
    now = clock.now()
    _, promotion = await product_and_promotion(database, now, ends_at=now + timedelta(days=1))
    clock.advance(timedelta(days=1))

    handled = await promotions.end_expired_promotions(database, clock, None)  # type: ignore[arg-type]
    again = await promotions.end_expired_promotions(database, clock, None)  # type: ignore[arg-type]

    assert (handled, again) == (1, 0)
    found = await promotion_now(database, promotion.id)
    assert (found.status, found.ended_by, found.returned_minor) == (
        "ended",
        "job:promotions",
        20_000,
    )
    assert await event_types(database, promotion.id) == ["promotion.created", "promotion.ended"]


async def test_a_released_claim_cannot_be_posted(database: Database, clock: FixedClock) -> None:
    product, _ = await product_and_promotion(database, clock.now())
    async with database.transaction() as session:
        card_id = (await funded_card(session, clock.now(), product, amount=50_000)).card.id
    order_id = new_order_id()
    await claim(database, product, clock.now(), order_id=order_id)
    async with database.transaction() as session:
        await promotions.release_bonus(session, order_id, now=clock.now())
    with pytest.raises(BonusNotClaimed):
        async with database.transaction() as session:
            await promotions.post_bonus(
                session, order_id, card_id=card_id, purpose=Purpose.ACTIVATION, now=clock.now()
            )
    assert await balance_of(database, card_id) == cards.CardBalance(paid=50_000, bonus=0)


async def test_a_product_may_spend_bonus_first(database: Database, clock: FixedClock) -> None:
    async with database.transaction() as session:
        default = await active_product(session, clock.now())
        chosen = await active_product(session, clock.now(), is_bonus_spent_first=True)

    assert (default.is_bonus_spent_first, chosen.is_bonus_spent_first) == (False, True)
    assert is_bonus_spent_first(chosen)
    assert not is_bonus_spent_first(default)


async def test_a_top_up_carries_paid_value_and_bonus_in_one_gate_call(
    database: Database, clock: FixedClock
) -> None:
    """What the orders part does at a top-up's fulfilment: one gate call, both transfers."""
    now = clock.now()
    product, promotion = await product_and_promotion(database, now)
    async with database.transaction() as session:
        card_id = (await funded_card(session, now, product, amount=10_000)).card.id
    order_id = new_order_id()
    grant = await claim(database, product, now, order_id=order_id)
    assert grant is not None
    async with database.transaction() as session:
        paid = TransferRequest(
            transfer_id=f"order:{order_id}",
            debit_account_id=await reserve_account(session, now),
            credit_account_id=card_id,
            amount=50_000,
            currency="CNY",
            code="order_top_up",
        )
        bonus = promotions.bonus_transfer(grant, order_id=order_id, card_id=card_id, currency="CNY")
        await move_card_value(
            session,
            [CardMovement(card_id, Direction.CREDIT, Purpose.TOP_UP)],
            [paid, bonus],
            now=now,
        )
        with pytest.raises(InvalidRequest):  # not the bonus's transfer
            async with session.begin_nested():
                await promotions.mark_bonus_posted(
                    session, order_id, card_id=card_id, transfer_id=paid.transfer_id, now=now
                )
        await promotions.mark_bonus_posted(
            session, order_id, card_id=card_id, transfer_id=bonus.transfer_id, now=now
        )

    assert await balance_of(database, card_id) == cards.CardBalance(paid=60_000, bonus=5_000)
    assert await available(database, promotion.budget_account_id) == 15_000
    await assert_ledger_verifies(database, now)


async def test_a_bonus_the_order_posted_itself_is_never_given_back_or_posted_twice(
    database: Database, clock: FixedClock
) -> None:
    """The orders part funds a card with ``CardFunding(transfer_id="order:<id>", bonus=…)``
    and may not mark the claim: the claim still knows its bonus is on the card."""
    now = clock.now()
    product, promotion = await product_and_promotion(database, now)
    order_id = new_order_id()
    grant = await claim(database, product, now, order_id=order_id)
    assert grant is not None
    async with database.transaction() as session:
        await grant_quota(session, now, 10**9)
        card_id = (await issue(session, product.id, now)).card.id
        funding = cards.CardFunding(
            transfer_id=f"order:{order_id}",
            debit_account_id=await reserve_account(session, now),
            amount=50_000,
            bonus=grant.amount_minor,
            bonus_account_id=grant.debit_account_id,
        )
        await cards.activate_card(session, card_id, actor="t", now=now, funding=funding)

    with pytest.raises(BonusAlreadyPosted):
        async with database.transaction() as session:
            await promotions.release_bonus(session, order_id, now=now)
    async with database.transaction() as session:
        again = await promotions.post_bonus(session, order_id, card_id=card_id, now=now)

    assert again is not None
    assert again.transfer_id == f"order:{order_id}:bonus"
    assert await balance_of(database, card_id) == cards.CardBalance(paid=50_000, bonus=5_000)
    assert (await promotion_now(database, promotion.id)).remaining_minor == 15_000
    await assert_ledger_verifies(database, now)


async def test_a_preview_shows_the_bonus_and_reserves_nothing(
    database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    product, promotion = await product_and_promotion(database, now, budget_minor=5_000)

    async def preview(load: int) -> int:
        async with database.transaction() as session:
            return await promotions.preview_bonus(
                session,
                merchant_id=MERCHANT,
                product_id=product.id,
                holder_id=None,
                load_minor=load,
                currency="CNY",
                now=now,
            )

    assert (await preview(50_000), await preview(10_000)) == (5_000, 0)
    assert (await promotion_now(database, promotion.id)).remaining_minor == 5_000
    await claim(database, product, now)
    assert await preview(50_000) == 0  # the budget is used up
