"""Card products: validation, the regulation caps, BIN ranges, review."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.cards_support import (
    MERCHANT,
    OTHER_MERCHANT,
    active_product,
    count,
    event_types,
    issue,
    spec,
)
from tongka.cards import service
from tongka.cards.errors import (
    BinRangeConflict,
    CardProductNotFound,
    IllegalProductTransition,
    InvalidCardProduct,
    ProductNotActive,
    RegulationViolation,
)
from tongka.cards.models import CardProduct
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.identity.principal import SYSTEM


async def test_a_product_is_a_draft_until_the_platform_approves_it(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await service.create_product(
            session, MERCHANT, spec(), actor="user:a", now=clock.now()
        )
        with pytest.raises(ProductNotActive):
            await issue(session, product.id, clock.now())
        await service.submit_product(
            session, product.id, merchant_id=MERCHANT, actor="user:a", now=clock.now()
        )
        approved = await service.review_product(
            session, product.id, is_approved=True, note="ok", principal=SYSTEM, now=clock.now()
        )
    assert approved.status == "active"
    assert approved.reviewed_by == "system"
    assert await event_types(database, product.id) == [
        "card_product.created",
        "card_product.submitted",
        "card_product.approved",
    ]


async def test_a_rejected_product_can_be_resubmitted_but_not_approved_twice(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await service.create_product(
            session, MERCHANT, spec(), actor="user:a", now=clock.now()
        )
        with pytest.raises(IllegalProductTransition):
            await service.review_product(
                session, product.id, is_approved=True, note=None, principal=SYSTEM, now=clock.now()
            )
        await service.submit_product(
            session, product.id, merchant_id=MERCHANT, actor="a", now=clock.now()
        )
        rejected = await service.review_product(
            session, product.id, is_approved=False, note="BIN", principal=SYSTEM, now=clock.now()
        )
        assert rejected.status == "rejected"
        resubmitted = await service.submit_product(
            session, product.id, merchant_id=MERCHANT, actor="a", now=clock.now()
        )
        assert resubmitted.status == "pending_review"


@pytest.mark.parametrize(
    ("overrides", "article"),
    [
        ({"is_named": False, "max_balance": 100_001}, "第二十一条"),
        ({"is_named": True, "max_balance": 500_001, "validity_months": None}, "第二十一条"),
        ({"is_named": False, "validity_months": 35}, "第二十二条"),
        ({"is_named": True, "validity_months": 12}, "第二十二条"),
    ],
    ids=["anonymous over 1000", "named over 5000", "anonymous under 3 years", "named expires"],
)
async def test_the_regulation_refuses_a_product_citing_the_rule(
    database: Database, clock: FixedClock, overrides: dict[str, object], article: str
) -> None:
    with pytest.raises(RegulationViolation, match=article):
        async with database.transaction() as session:
            await service.create_product(
                session, MERCHANT, spec(**overrides), actor="a", now=clock.now()
            )
    assert await count(database, CardProduct) == 0


@pytest.mark.parametrize(
    ("overrides", "limit"),
    [
        (
            {"is_named": False, "max_balance": 100_000, "validity_months": 36},
            "anonymous at the cap",
        ),
        ({"is_named": False, "max_balance": 50_000, "validity_months": None}, "no expiry"),
        ({"is_named": True, "max_balance": 500_000, "validity_months": None}, "named at the cap"),
    ],
)
async def test_products_within_the_rules_are_accepted(
    database: Database, clock: FixedClock, overrides: dict[str, object], limit: str
) -> None:
    async with database.transaction() as session:
        product = await service.create_product(
            session, MERCHANT, spec(**overrides, face_values=[10_000]), actor="a", now=clock.now()
        )
    assert product.status == "draft", limit


async def test_the_platform_can_relax_the_rules(database: Database, clock: FixedClock) -> None:
    async with database.transaction() as session:
        rules = await service.get_regulation(session, clock.now())
        await service.set_regulation(
            session,
            replace(rules, anonymous_max_balance=200_000),
            actor="user:ops",
            now=clock.now(),
        )
        product = await service.create_product(
            session, MERCHANT, spec(max_balance=200_000), actor="a", now=clock.now()
        )
    assert product.max_balance == 200_000


@pytest.mark.parametrize(
    ("first", "second"),
    [("628801", "628801"), ("628801", "62880112"), ("62880112", "628801")],
    ids=["same", "longer inside shorter", "shorter containing longer"],
)
async def test_overlapping_bin_ranges_are_refused(
    database: Database, clock: FixedClock, first: str, second: str
) -> None:
    async with database.transaction() as session:
        await service.create_product(
            session, MERCHANT, spec(bin_prefix=first), actor="a", now=clock.now()
        )
    with pytest.raises(BinRangeConflict, match=first):
        async with database.transaction() as session:
            await service.create_product(
                session, OTHER_MERCHANT, spec(bin_prefix=second), actor="b", now=clock.now()
            )
    assert await count(database, CardProduct) == 1


async def test_neighbouring_bins_are_fine(database: Database, clock: FixedClock) -> None:
    async with database.transaction() as session:
        await service.create_product(
            session, MERCHANT, spec(bin_prefix="62880112"), actor="a", now=clock.now()
        )
        await service.create_product(
            session, MERCHANT, spec(bin_prefix="62880113"), actor="a", now=clock.now()
        )
    assert await count(database, CardProduct) == 2


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"bin_prefix": "12345"}, "bin_prefix"),
        ({"number_length": 20}, "number_length"),
        ({"face_values": None}, "face_values"),
        ({"face_values": [100_001]}, "face_values"),
        ({"face_values": None, "face_value_min": 500, "face_value_max": 100}, "face_value_min"),
        ({"acceptance": service.Acceptance.STORES}, "accepted_store_ids"),
        ({"breakage_policy": service.BreakagePolicy.EXCHANGE}, "exchange_grace_days"),
    ],
)
async def test_malformed_products_are_refused_naming_the_field(
    database: Database, clock: FixedClock, overrides: dict[str, object], param: str
) -> None:
    with pytest.raises(InvalidCardProduct) as refused:
        async with database.transaction() as session:
            await service.create_product(
                session, MERCHANT, spec(**overrides), actor="a", now=clock.now()
            )
    assert refused.value.param == param
    assert await count(database, CardProduct) == 0


async def test_another_merchants_product_is_not_found(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        with pytest.raises(CardProductNotFound):
            await service.get_product(session, product.id, merchant_id=OTHER_MERCHANT)
        with pytest.raises(CardProductNotFound):
            await service.submit_product(
                session, product.id, merchant_id=OTHER_MERCHANT, actor="b", now=clock.now()
            )
