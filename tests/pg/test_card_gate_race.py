"""Racing the money gate on PostgreSQL: a freeze against debits, a reissue against a freeze
and a merge. Afterwards: no debit after a committed freeze, the money in exactly one place,
the books balanced."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.cards_support import (
    KEYS,
    OPERATOR,
    active_product,
    assert_ledger_verifies,
    balance_of,
    ensure_consumer,
    funded_card,
    holder_principal,
    reserve_account,
)
from tongka.cards import accounts, service
from tongka.cards.errors import CardMovementRefused, FreezeHeldByOtherSide, IllegalCardTransition
from tongka.cards.money_gate import lock_cards
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.events.models import Event
from tongka.ledger import TransferRequest
from tongka.ledger.models import LedgerTransfer

pytestmark = pytest.mark.pg

ROUNDS = 25
DEBITS_PER_ROUND = 4
DEBIT = 100
TIME_CAP_SECONDS = 300  # fails only on a hang
HOLDER_ID = "con_racer"
HOLDER = holder_principal(HOLDER_ID)


def _instant() -> datetime:
    """Real time, taken once the row lock is held: the order of these instants is the order
    in which the racing transactions held the card."""
    return datetime.now(UTC)


async def _debit(database: Database, card_id: str, transfer_id: str) -> bool:
    async def work(session: AsyncSession) -> None:
        await service.get_card(session, card_id)  # a path that looked first, without a lock
        await asyncio.sleep(0)
        await lock_cards(session, [card_id])
        reserve = await reserve_account(session, _instant())
        await service.move_card_value(
            session,
            [service.CardMovement(card_id, service.Direction.DEBIT, service.Purpose.REDEMPTION)],
            [
                TransferRequest(
                    transfer_id=transfer_id,
                    debit_account_id=accounts.main_account_id(card_id),
                    credit_account_id=reserve,
                    amount=DEBIT,
                    currency="CNY",
                    code="redemption",
                )
            ],
            now=_instant(),
        )

    try:
        await database.run(work)
    except CardMovementRefused:
        return False
    return True


async def _freeze(database: Database, card_id: str, reason: str) -> None:
    async def work(session: AsyncSession) -> None:
        await service.get_card(session, card_id, lock=True)
        await service.freeze_card(
            session, card_id, principal=OPERATOR, now=_instant(), reason=reason
        )

    await database.run(work)


async def _unfreeze(database: Database, card_id: str) -> None:
    async def work(session: AsyncSession) -> None:
        await service.unfreeze_card(session, card_id, principal=OPERATOR, now=_instant())

    await database.run(work)


async def test_no_debit_passes_after_a_committed_freeze(
    pg_database: Database, clock: FixedClock
) -> None:
    async with pg_database.transaction() as session:
        product = await active_product(session, clock.now(), max_balance=100_000)
        issued = await funded_card(session, clock.now(), product, amount=100_000)
    card_id = issued.card.id

    async def rounds() -> list[list[bool]]:
        outcomes = []
        for round_number in range(ROUNDS):
            debits = [
                _debit(pg_database, card_id, f"debit:{round_number}:{n}")
                for n in range(DEBITS_PER_ROUND)
            ]
            middle = DEBITS_PER_ROUND // 2
            racers = [*debits[:middle], _freeze(pg_database, card_id, f"r{round_number}")]
            results = await asyncio.gather(*racers, *debits[middle:])
            outcomes.append([r for r in results if r is not None])
            await _unfreeze(pg_database, card_id)
        return outcomes

    outcomes = await asyncio.wait_for(rounds(), TIME_CAP_SECONDS)

    async with pg_database.transaction() as session:
        frozen_at = {
            event.data["reason"]: event.created_at
            for event in (
                await session.scalars(select(Event).where(Event.type == "card.frozen"))
            ).all()
        }
        posted = (
            await session.scalars(select(LedgerTransfer).where(LedgerTransfer.id.like("debit:%")))
        ).all()
    assert len(frozen_at) == ROUNDS
    for transfer in posted:
        round_number = transfer.id.split(":")[1]
        assert transfer.created_at < frozen_at[f"r{round_number}"], transfer.id
    passed = sum(outcome.count(True) for outcome in outcomes)
    assert passed == len(posted)
    # How the races fall depends on scheduling, so only the bound is asserted; the checks
    # above hold for every debit, whichever side won.
    assert 0 <= passed <= ROUNDS * DEBITS_PER_ROUND
    assert await balance_of(pg_database, card_id) == service.CardBalance(
        100_000 - passed * DEBIT, 0
    )
    await assert_ledger_verifies(pg_database, clock.now())


async def _holder_card(
    session: AsyncSession, clock: FixedClock, product: object, *, amount: int, bonus: int = 0
) -> service.IssuedCard:
    await ensure_consumer(session, HOLDER_ID, clock.now())
    return await funded_card(
        session,
        clock.now(),
        product,
        amount=amount,
        bonus=bonus,
        holder_id=HOLDER_ID,  # type: ignore[arg-type]
    )


async def _attempt(database: Database, work: object) -> str:
    try:
        await database.run(work)  # type: ignore[arg-type]
    except (IllegalCardTransition, CardMovementRefused, FreezeHeldByOtherSide) as refused:
        return refused.code
    return "done"


async def test_a_reissue_races_a_freeze_and_a_merge_and_the_money_stays_in_one_place(
    pg_database: Database, clock: FixedClock
) -> None:
    async with pg_database.transaction() as session:
        product = await active_product(session, clock.now(), max_balance=100_000)
        pairs = [
            (
                (await _holder_card(session, clock, product, amount=1_000, bonus=10)).card.id,
                (await _holder_card(session, clock, product, amount=2_000)).card.id,
            )
            for _ in range(ROUNDS)
        ]

    def reissue(card_id: str) -> object:
        async def work(session: AsyncSession) -> None:
            # the holder reports the loss: a platform freeze that came first stops it
            await service.report_lost(
                session, card_id, principal=HOLDER, holder_id=HOLDER_ID, now=clock.now()
            )
            await service.reissue_card(session, card_id, keys=KEYS, actor="t", now=clock.now())

        return work

    def freeze(card_id: str) -> object:
        async def work(session: AsyncSession) -> None:
            await service.freeze_card(session, card_id, principal=OPERATOR, now=clock.now())

        return work

    def merge(target_id: str, card_id: str) -> object:
        async def work(session: AsyncSession) -> None:
            await service.merge_cards(session, target_id, [card_id], actor="t", now=clock.now())

        return work

    async def race() -> list[list[str]]:
        results = []
        for card_id, target_id in pairs:
            attempts = [reissue(card_id), freeze(card_id), merge(target_id, card_id)]
            results.append(await asyncio.gather(*(_attempt(pg_database, w) for w in attempts)))
        return results

    results = await asyncio.wait_for(race(), TIME_CAP_SECONDS)

    for (card_id, target_id), (reissued, _frozen, merged) in zip(pairs, results, strict=True):
        assert "done" in (reissued, merged) or _frozen == "done"
        assert not (reissued == "done" and merged == "done")
        async with pg_database.transaction() as session:
            card = await service.get_card(session, card_id)
            replacement = card.replaced_by_card_id
        target = await balance_of(pg_database, target_id)
        if merged == "done":
            assert (card.status, replacement) == ("closed", target_id)
            assert target == service.CardBalance(3_000, 10)
        elif reissued == "done":
            assert card.status == "closed"
            assert replacement not in (None, target_id)
            new_card = await balance_of(pg_database, str(replacement))
            assert new_card == service.CardBalance(1_000, 10)
            assert target == service.CardBalance(2_000, 0)
        else:  # frozen first: neither the merge nor the holder's loss report got past it
            assert card.status == "frozen"
            assert await balance_of(pg_database, card_id) == service.CardBalance(1_000, 10)
        if card.status == "closed":
            assert await balance_of(pg_database, card_id) == service.CardBalance(0, 0)
    await assert_ledger_verifies(pg_database, clock.now())
