"""The money gate: which statuses may be debited or credited per purpose, and that no
transfer reaches a card account the gate did not lock for that direction."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.cards_support import (
    ISSUER,
    STATUSES,
    active_product,
    balance_of,
    card_in_status,
    count,
    funded_card,
    reserve_account,
)
from tongka.cards import accounts, service
from tongka.cards.errors import CardFrozen, CardMovementRefused, CardNotFound
from tongka.cards.money_gate import ALLOWED, UngatedCardTransfer
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import TransferRequest
from tongka.ledger.errors import InsufficientFunds
from tongka.ledger.models import LedgerTransfer

Direction, Purpose, CardMovement = service.Direction, service.Purpose, service.CardMovement


class _RolledBack(Exception):
    """Raised to leave a transaction without committing what it did."""


def _one_fen(card_id: str, direction: service.Direction, reserve: str) -> list[TransferRequest]:
    if direction is Direction.READ:
        return []
    card_account = accounts.main_account_id(card_id)
    debit, credit = (
        (card_account, reserve) if direction is Direction.DEBIT else (reserve, card_account)
    )
    return [
        TransferRequest(
            transfer_id=f"probe:{card_id}:{direction}",
            debit_account_id=debit,
            credit_account_id=credit,
            amount=1,
            currency="CNY",
            code="probe",
        )
    ]


async def _attempt(
    database: Database,
    clock: FixedClock,
    card_id: str,
    purpose: service.Purpose,
    direction: service.Direction,
) -> str:
    """``passed`` (posted, or refused by the ledger itself: an expired card's balance is
    already forfeited) or the gate's refusal code; rolled back either way."""
    try:
        async with database.transaction() as session:
            reserve = await reserve_account(session, clock.now())
            await service.move_card_value(
                session,
                [CardMovement(card_id, direction, purpose)],
                _one_fen(card_id, direction, reserve),
                now=clock.now(),
            )
            raise _RolledBack
    except CardMovementRefused as refused:
        return refused.code
    except (_RolledBack, InsufficientFunds):
        return "passed"


@pytest.mark.parametrize("status", STATUSES)
async def test_each_purpose_moves_value_only_from_the_statuses_it_allows(
    sqlite_database: Database, clock: FixedClock, status: str
) -> None:
    card_id = await card_in_status(sqlite_database, clock, status)
    transfers_before = await count(sqlite_database, LedgerTransfer)
    for purpose in Purpose:
        for direction in Direction:
            outcome = await _attempt(sqlite_database, clock, card_id, purpose, direction)
            allowed = status in ALLOWED[purpose].get(direction, frozenset())
            refusal = "card_frozen" if status == "frozen" else "card_movement_refused"
            assert outcome == ("passed" if allowed else refusal), (purpose, direction)
    assert await count(sqlite_database, LedgerTransfer) == transfers_before


def test_no_purpose_debits_a_frozen_card() -> None:
    assert all(
        service.CardStatus.FROZEN not in statuses.get(Direction.DEBIT, frozenset())
        for statuses in ALLOWED.values()
    )


async def test_a_frozen_cards_refusal_names_the_side_and_reason(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=500)
        await service.freeze_card(
            session, issued.card.id, principal=ISSUER, now=clock.now(), reason="fraud check"
        )
    with pytest.raises(CardFrozen, match="by the issuer: fraud check") as refused:
        await _attempt_raising(database, clock, issued.card.id)
    assert refused.value.details["frozen_by"] == "issuer"
    assert await balance_of(database, issued.card.id) == service.CardBalance(500, 0)


async def _attempt_raising(database: Database, clock: FixedClock, card_id: str) -> None:
    async with database.transaction() as session:
        reserve = await reserve_account(session, clock.now())
        await service.move_card_value(
            session,
            [CardMovement(card_id, Direction.DEBIT, Purpose.REDEMPTION)],
            _one_fen(card_id, Direction.DEBIT, reserve),
            now=clock.now(),
        )


async def _two_cards(session: AsyncSession, clock: FixedClock) -> tuple[str, str]:
    product = await active_product(session, clock.now())
    one = await funded_card(session, clock.now(), product, amount=1_000)
    two = await funded_card(session, clock.now(), product, amount=1_000)
    return one.card.id, two.card.id


@pytest.mark.parametrize(
    "declared",
    [
        pytest.param([], id="card not named"),
        pytest.param([("source", Direction.CREDIT, Purpose.MERGE)], id="the other direction"),
        pytest.param([("source", Direction.READ, Purpose.CLOSE)], id="named for reading only"),
        pytest.param([("source", Direction.DEBIT, Purpose.MERGE)], id="target not named"),
    ],
)
async def test_a_transfer_the_movements_do_not_cover_is_refused_and_writes_nothing(
    database: Database,
    clock: FixedClock,
    declared: list[tuple[str, service.Direction, service.Purpose]],
) -> None:
    async with database.transaction() as session:
        source, target = await _two_cards(session, clock)
    transfers_before = await count(database, LedgerTransfer)
    names = {"source": source}
    with pytest.raises(UngatedCardTransfer):
        async with database.transaction() as session:
            await service.move_card_value(
                session,
                [CardMovement(names[n], d, p) for n, d, p in declared],
                [
                    TransferRequest(
                        transfer_id="sneak",
                        debit_account_id=accounts.main_account_id(source),
                        credit_account_id=accounts.bonus_account_id(target),
                        amount=100,
                        currency="CNY",
                        code="sneak",
                    )
                ],
                now=clock.now(),
            )
    assert await count(database, LedgerTransfer) == transfers_before
    assert await balance_of(database, source) == service.CardBalance(1_000, 0)


async def test_an_unknown_card_is_not_found(database: Database, clock: FixedClock) -> None:
    with pytest.raises(CardNotFound):
        async with database.transaction() as session:
            await service.move_card_value(
                session,
                [CardMovement("card_nope", Direction.DEBIT, Purpose.REDEMPTION)],
                [],
                now=clock.now(),
            )


async def test_a_builder_sees_the_balance_read_under_the_lock(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        source, target = await _two_cards(session, clock)
    async with database.transaction() as session:
        card = await service.get_card(session, source)  # loaded before the gate
        await service.move_card_value(
            session,
            [
                CardMovement(source, Direction.DEBIT, Purpose.MERGE),
                CardMovement(target, Direction.CREDIT, Purpose.MERGE),
            ],
            lambda locked: accounts.moves_of_balance(
                card, target, locked.balances[source], transfer_prefix="t", code="t"
            ),
            now=clock.now(),
        )
    assert await balance_of(database, source) == service.CardBalance(0, 0)
    assert await balance_of(database, target) == service.CardBalance(2_000, 0)
