"""The decision point inside redemption: ``limit_exceeded`` and ``challenge_required`` are
recorded declines, and a purchase that declines after an allow gives the use back."""

from __future__ import annotations

from tests.cards_support import MERCHANT, funded_card
from tests.controls_support import product_with_limits
from tests.redemption_support import Till, make_store, redeem, request
from tongka.cards.models import CardProduct
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.redemption import aftercare


async def _till(database: Database, clock: FixedClock, **limits: object) -> Till:
    product_id, holder_id = await product_with_limits(database, clock.now(), **limits)  # type: ignore[arg-type]
    async with database.transaction() as session:
        product = await session.get(CardProduct, product_id)
        assert product is not None
        store_id = await make_store(session, MERCHANT, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=5_000)
    return Till(MERCHANT, store_id, issued.card.id, issued.number, issued.secret, product_id)


async def test_a_limit_breach_declines_and_a_failed_purchase_keeps_no_use(
    database: Database, clock: FixedClock, settings: Settings
) -> None:
    till = await _till(database, clock, card_daily_count=1)
    now = clock.now()
    async with database.transaction() as session:
        too_much = await redeem(session, request(till, 9_000, "big"), now)
    assert too_much.decline_code == "insufficient_funds"
    async with database.transaction() as session:
        first = await redeem(session, request(till, 1_000, "one"), now)
    async with database.transaction() as session:
        second = await redeem(session, request(till, 1_000, "two"), now)
    assert first.status == "approved"
    assert (second.status, second.decline_code) == ("declined", "limit_exceeded")


async def test_above_the_threshold_the_holder_must_confirm(
    database: Database, clock: FixedClock
) -> None:
    till = await _till(database, clock, challenge_threshold_minor=500)
    async with database.transaction() as session:
        asked = await redeem(session, request(till, 1_000, "c"), clock.now())
    assert asked.status == "declined"
    assert asked.decline_code in ("challenge_required", "challenge_unavailable")


async def test_a_reversed_redemption_gives_its_use_back(
    database: Database, clock: FixedClock
) -> None:
    till = await _till(database, clock, card_daily_count=1)
    now = clock.now()
    async with database.transaction() as session:
        await redeem(session, request(till, 1_000, "first"), now)
    async with database.transaction() as session:
        await aftercare.reverse(session, MERCHANT, "first", actor="t", now=now)
    async with database.transaction() as session:
        again = await redeem(session, request(till, 1_000, "second"), now)
    assert again.status == "approved"
