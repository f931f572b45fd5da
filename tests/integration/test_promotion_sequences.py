"""Random sequences of claims, releases, posts and an end on one promotion (a seeded,
bounded walk on both databases): after every step the promotion's books agree with the
ledger — the budget account holds what is unclaimed plus what is claimed and not yet on a
card, and the budget is exactly unclaimed + open + posted + returned."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from tests.cards_support import assert_ledger_verifies, funded_card
from tests.promotions_support import (
    LOAD_500,
    LOAD_1000,
    available,
    claim,
    new_order_id,
    payable_of,
    product_and_promotion,
    promotion_now,
)
from tongka.cards.errors import MaxBalanceExceeded
from tongka.cards.models import CardProduct
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.sales import promotions
from tongka.sales.promotion_models import Promotion, PromotionClaim

STEPS = 60
FUNDS = 10**6


@dataclass
class Walk:
    database: Database
    clock: FixedClock
    product: CardProduct
    promotion: Promotion
    card_ids: list[str]
    open_orders: list[str] = field(default_factory=list)

    async def step(self, rng: random.Random) -> None:
        action = rng.choice(["claim", "claim", "claim", "release", "post"])
        now = self.clock.now()
        if action == "claim":
            order_id = new_order_id()
            holder = rng.choice(["con_a", "con_b", "con_c", "con_d", "con_e", None])
            load = rng.choice([40_000, 50_000, 100_000])
            if await claim(
                self.database, self.product, now, load=load, holder_id=holder, order_id=order_id
            ):
                self.open_orders.append(order_id)
            return
        if not self.open_orders:
            return
        order_id = self.open_orders.pop(rng.randrange(len(self.open_orders)))
        async with self.database.transaction() as session:
            if action == "release":
                await promotions.release_bonus(session, order_id, now=now)
                return
            try:
                async with session.begin_nested():
                    await promotions.post_bonus(
                        session, order_id, card_id=rng.choice(self.card_ids), now=now
                    )
            except MaxBalanceExceeded:
                self.open_orders.append(order_id)  # the card is full: still claimed

    async def check(self) -> None:
        found = await promotion_now(self.database, self.promotion.id)
        async with self.database.transaction() as session:
            rows = await session.execute(
                select(
                    PromotionClaim.status, func.coalesce(func.sum(PromotionClaim.amount_minor), 0)
                )
                .where(PromotionClaim.promotion_id == self.promotion.id)
                .group_by(PromotionClaim.status)
            )
            by_status = {status: int(amount) for status, amount in rows}
        held, posted = by_status.get("claimed", 0), by_status.get("posted", 0)
        assert found.remaining_minor >= 0
        assert await available(self.database, found.budget_account_id) == (
            found.remaining_minor + held
        )
        assert found.budget_minor == found.remaining_minor + held + posted + found.returned_minor
        assert await available(self.database, payable_of()) == (
            FUNDS - found.budget_minor + found.returned_minor
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_any_sequence_keeps_the_books(
    database: Database, clock: FixedClock, seed: int
) -> None:
    rng = random.Random(seed)
    product, promotion = await product_and_promotion(
        database,
        clock.now(),
        funds=FUNDS,
        tiers=[LOAD_500, LOAD_1000],
        budget_minor=60_000,
        per_holder_count=6,
    )
    async with database.transaction() as session:
        card_ids = [
            (await funded_card(session, clock.now(), product, amount=10_000)).card.id
            for _ in range(3)
        ]
    walk = Walk(database, clock, product, promotion, card_ids)

    for index in range(STEPS):
        if index == STEPS * 3 // 4:  # the merchant ends it; open claims still post or return
            async with database.transaction() as session:
                await promotions.end_promotion(
                    session, promotion.id, merchant_id=None, actor="t", now=clock.now()
                )
        await walk.step(rng)
        await walk.check()

    await assert_ledger_verifies(database, clock.now())
