"""``fund_card``: finance activates one issued card paid by transfer — the exact face value
from the reserve bank, once; every refusal leaves the card, the ledger and the events as
they were. And a product's rejection needs a note."""

from __future__ import annotations

import pytest

from tests.cards_support import (
    MERCHANT,
    active_product,
    assert_ledger_verifies,
    balance_of,
    ensure_merchant,
    event_types,
    grant_quota,
    issue,
    spec,
)
from tongka.cards import service
from tongka.cards.errors import FundingAmountMismatch, IllegalCardTransition, InvalidCardProduct
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.errors import DomainError, InvalidRequest
from tongka.identity.principal import SYSTEM


async def _issued_card(database: Database, clock: FixedClock) -> str:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        await grant_quota(session, clock.now(), 10**9)
        return (await issue(session, product.id, clock.now(), face_value=10_000)).card.id


async def _fund(database: Database, clock: FixedClock, card_id: str, **overrides: object) -> None:
    arguments: dict[str, object] = {"transfer_reference": "BANK-1", "amount": 10_000}
    arguments.update(overrides)
    async with database.transaction() as session:
        await service.fund_card(
            session,
            card_id,
            actor="user:finance",
            now=clock.now(),
            **arguments,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"amount": 9_999}, FundingAmountMismatch),
        ({"amount": 10_001}, FundingAmountMismatch),
        ({"transfer_reference": "  "}, InvalidRequest),
    ],
    ids=["less than the face value", "more than the face value", "no reference"],
)
async def test_a_wrong_payment_changes_nothing(
    database: Database, clock: FixedClock, overrides: dict[str, object], error: type[DomainError]
) -> None:
    card_id = await _issued_card(database, clock)
    before = await event_types(database, card_id)
    with pytest.raises(error):
        await _fund(database, clock, card_id, **overrides)
    async with database.transaction() as session:
        assert (await service.get_card(session, card_id)).status == "issued"
    assert await event_types(database, card_id) == before


async def test_a_paid_card_is_activated_with_its_face_value_once(
    database: Database, clock: FixedClock
) -> None:
    card_id = await _issued_card(database, clock)
    await _fund(database, clock, card_id, transfer_reference="BANK-2026-0001")
    balance = await balance_of(database, card_id)
    assert (balance.paid, balance.bonus) == (10_000, 0)
    assert (await event_types(database, card_id))[-1] == "card.activated"
    with pytest.raises(IllegalCardTransition):
        await _fund(database, clock, card_id)
    assert (await balance_of(database, card_id)).total == 10_000
    await assert_ledger_verifies(database, clock.now())


async def test_a_rejection_needs_a_note(database: Database, clock: FixedClock) -> None:
    async with database.transaction() as session:
        await ensure_merchant(session, MERCHANT, clock.now())
        draft = await service.create_product(
            session, MERCHANT, spec(name="待审卡"), actor="user:t", now=clock.now()
        )
        await service.submit_product(
            session, draft.id, merchant_id=MERCHANT, actor="t", now=clock.now()
        )
    for note in (None, "  "):
        with pytest.raises(InvalidCardProduct):
            async with database.transaction() as session:
                await service.review_product(
                    session,
                    draft.id,
                    is_approved=False,
                    note=note,
                    principal=SYSTEM,
                    now=clock.now(),
                )
    async with database.transaction() as session:
        assert (await service.get_product(session, draft.id)).status == "pending_review"
