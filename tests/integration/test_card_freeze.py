"""Freeze sides: a freeze records who set it; only that side or the platform lifts it."""

from __future__ import annotations

import pytest

from tests.cards_support import (
    ISSUER,
    OPERATOR,
    active_product,
    ensure_consumer,
    event_types,
    funded_card,
    holder_principal,
)
from tongka.cards import service
from tongka.cards.errors import FreezeHeldByOtherSide
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.identity.principal import Principal


async def _frozen_by(
    database: Database, clock: FixedClock, side: Principal, holder_id: str = "con_holder"
) -> str:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        await ensure_consumer(session, holder_id, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=1_000, holder_id=holder_id)
        await service.freeze_card(
            session, issued.card.id, principal=side, now=clock.now(), reason="fraud check"
        )
    return issued.card.id


HOLDER = holder_principal("con_holder")


async def test_a_holder_cannot_lift_the_issuers_freeze(
    database: Database, clock: FixedClock
) -> None:
    card_id = await _frozen_by(database, clock, ISSUER)
    events_before = await event_types(database, card_id)
    for action in (service.unfreeze_card, service.report_lost, service.close_card):
        with pytest.raises(FreezeHeldByOtherSide, match="frozen by the issuer") as refused:
            async with database.transaction() as session:
                await action(
                    session, card_id, principal=HOLDER, holder_id="con_holder", now=clock.now()
                )
        assert refused.value.code == "card_freeze_held_by_other_side"
        assert refused.value.details["reason"] == "fraud check"
    async with database.transaction() as session:
        card = await service.get_card(session, card_id)
    assert (card.status, card.frozen_by_side, card.frozen_by_actor) == (
        "frozen",
        "issuer",
        ISSUER.actor,
    )
    assert await event_types(database, card_id) == events_before


@pytest.mark.parametrize(
    ("frozen_by", "lifted_by"),
    [
        pytest.param(ISSUER, ISSUER, id="issuer lifts its own"),
        pytest.param(ISSUER, OPERATOR, id="platform lifts the issuer's"),
        pytest.param(HOLDER, HOLDER, id="holder lifts their own"),
        pytest.param(HOLDER, OPERATOR, id="platform lifts the holder's"),
    ],
)
async def test_the_freezes_side_or_the_platform_lifts_it(
    database: Database, clock: FixedClock, frozen_by: Principal, lifted_by: Principal
) -> None:
    card_id = await _frozen_by(database, clock, frozen_by)
    async with database.transaction() as session:
        card = await service.unfreeze_card(session, card_id, principal=lifted_by, now=clock.now())
    assert (card.status, card.frozen_by_side, card.frozen_reason) == ("active", None, None)


async def test_an_issuer_cannot_lift_the_holders_freeze(
    database: Database, clock: FixedClock
) -> None:
    card_id = await _frozen_by(database, clock, HOLDER)
    with pytest.raises(FreezeHeldByOtherSide, match="frozen by the holder"):
        async with database.transaction() as session:
            await service.unfreeze_card(session, card_id, principal=ISSUER, now=clock.now())
