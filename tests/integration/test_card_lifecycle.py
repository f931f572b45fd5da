"""The card lifecycle through the ledger: activation, quota, freeze, loss and reissue,
close, merge, batch funding. Each refused operation leaves no trace."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.cards_support import (
    KEYS,
    MERCHANT,
    OPERATOR,
    OTHER_MERCHANT,
    STATUSES,
    active_product,
    assert_ledger_verifies,
    balance_of,
    card_in_status,
    count,
    event_types,
    funded_card,
    grant_quota,
    issue,
    make_holder,
    reserve_account,
)
from tongka.cards import service
from tongka.cards.errors import (
    CardNotFound,
    FundingAmountMismatch,
    IllegalCardTransition,
    InvalidMergeSources,
    IssuerQuotaExceeded,
    MaxBalanceExceeded,
    MergeNotAllowed,
)
from tongka.cards.models import Card
from tongka.cards.validity import expiry_moment
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger.models import LedgerTransfer

ACTOR = "user:test"


async def test_activation_with_money_credits_the_card_and_sets_the_expiry(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=10_000, bonus=1_000)
    async with database.transaction() as session:
        card = await service.get_card(session, issued.card.id)
    assert card.status == "active"
    assert card.expires_at == expiry_moment(clock.now(), 36, "Asia/Shanghai")
    assert await balance_of(database, card.id) == service.CardBalance(paid=10_000, bonus=1_000)
    assert await event_types(database, card.id) == ["card.issued", "card.activated"]
    await assert_ledger_verifies(database, clock.now())


async def _issued(database: Database, clock: FixedClock, **overrides: object) -> service.IssuedCard:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), **overrides)
        return await issue(session, product.id, clock.now())


async def _activate(
    database: Database, clock: FixedClock, card_id: str, amount: int
) -> service.CardBalance:
    async def activate(session: AsyncSession) -> None:
        funding = service.CardFunding(
            transfer_id=f"load:{card_id}:{amount}",
            debit_account_id=await reserve_account(session, clock.now()),
            amount=amount,
        )
        await service.activate_card(session, card_id, actor=ACTOR, now=clock.now(), funding=funding)

    await database.run(activate)
    return await balance_of(database, card_id)


async def test_funding_beyond_the_issuers_quota_is_refused_and_writes_nothing(
    database: Database, clock: FixedClock
) -> None:
    first = await _issued(database, clock)
    async with database.transaction() as session:
        await grant_quota(session, clock.now(), 15_000)
        second = await issue(session, first.card.product_id, clock.now())
    assert await _activate(database, clock, first.card.id, 10_000) == service.CardBalance(10_000, 0)
    transfers_before = await count(database, LedgerTransfer)
    with pytest.raises(IssuerQuotaExceeded, match="15000"):
        await _activate(database, clock, second.card.id, 10_000)
    assert await count(database, LedgerTransfer) == transfers_before
    async with database.transaction() as session:
        assert (await service.get_card(session, second.card.id)).status == "issued"
    assert await event_types(database, second.card.id) == ["card.issued"]


async def test_an_issuer_without_a_quota_cannot_fund_cards(
    database: Database, clock: FixedClock
) -> None:
    issued = await _issued(database, clock)
    with pytest.raises(IssuerQuotaExceeded):
        await _activate(database, clock, issued.card.id, 100)


async def test_funding_beyond_the_maximum_balance_is_refused(
    database: Database, clock: FixedClock
) -> None:
    issued = await _issued(database, clock)
    async with database.transaction() as session:
        await grant_quota(session, clock.now(), 10**9)
    with pytest.raises(MaxBalanceExceeded):
        await _activate(database, clock, issued.card.id, 100_001)


TRANSITIONS = {
    "freeze": lambda s, c, now: service.freeze_card(s, c, principal=OPERATOR, now=now),
    "unfreeze": lambda s, c, now: service.unfreeze_card(s, c, principal=OPERATOR, now=now),
    "report_lost": lambda s, c, now: service.report_lost(s, c, principal=OPERATOR, now=now),
    "reissue": lambda s, c, now: service.reissue_card(s, c, keys=KEYS, actor=ACTOR, now=now),
    "activate": lambda s, c, now: service.activate_card(s, c, actor=ACTOR, now=now),
}
ALLOWED = {
    ("freeze", "active"): "frozen",
    ("unfreeze", "frozen"): "active",
    ("report_lost", "active"): "lost",
    ("report_lost", "frozen"): "lost",
    ("reissue", "lost"): "closed",
    ("activate", "issued"): "active",
}


@pytest.mark.parametrize(
    ("action", "start"),
    [(action, start) for action in TRANSITIONS for start in STATUSES],
    ids=[f"{action} from {start}" for action in TRANSITIONS for start in STATUSES],
)
async def test_every_transition_is_allowed_or_refused(
    database: Database, clock: FixedClock, action: str, start: str
) -> None:
    card_id = await card_in_status(database, clock, start)
    events_before = await event_types(database, card_id)
    transfers_before = await count(database, LedgerTransfer)
    if (action, start) in ALLOWED:
        async with database.transaction() as session:
            await TRANSITIONS[action](session, card_id, clock.now())
        async with database.transaction() as session:
            assert (await service.get_card(session, card_id)).status == ALLOWED[(action, start)]
        assert len(await event_types(database, card_id)) == len(events_before) + 1
    else:
        with pytest.raises(IllegalCardTransition, match=start):
            async with database.transaction() as session:
                await TRANSITIONS[action](session, card_id, clock.now())
        async with database.transaction() as session:
            assert (await service.get_card(session, card_id)).status == start
        assert await event_types(database, card_id) == events_before
        assert await count(database, LedgerTransfer) == transfers_before


async def test_a_lost_card_is_reissued_with_its_balance_in_one_ledger_transaction(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        old = await funded_card(session, clock.now(), product, amount=7_000, bonus=500)
        await service.report_lost(
            session, old.card.id, principal=OPERATOR, now=clock.now(), reason="bag"
        )
        new = await service.reissue_card(
            session, old.card.id, keys=KEYS, actor=ACTOR, now=clock.now()
        )
    assert new.number != old.number
    assert new.secret != old.secret
    assert await balance_of(database, old.card.id) == service.CardBalance(0, 0)
    assert await balance_of(database, new.card.id) == service.CardBalance(7_000, 500)
    async with database.transaction() as session:
        closed = await service.get_card(session, old.card.id)
        replacement = await service.get_card(session, new.card.id)
    assert (closed.status, closed.replaced_by_card_id) == ("closed", new.card.id)
    assert (replacement.status, replacement.expires_at) == ("active", closed.expires_at)
    assert await event_types(database, old.card.id) == [
        "card.issued",
        "card.activated",
        "card.reported_lost",
        "card.reissued",
    ]
    await assert_ledger_verifies(database, clock.now())


async def test_a_card_with_money_cannot_be_closed(database: Database, clock: FixedClock) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=100)
    with pytest.raises(IllegalCardTransition, match="holds 100"):
        async with database.transaction() as session:
            await service.close_card(session, issued.card.id, principal=OPERATOR, now=clock.now())


async def test_an_empty_card_closes(database: Database, clock: FixedClock) -> None:
    issued = await _issued(database, clock)
    async with database.transaction() as session:
        await service.activate_card(session, issued.card.id, actor=ACTOR, now=clock.now())
        closed = await service.close_card(
            session, issued.card.id, principal=OPERATOR, now=clock.now()
        )
    assert closed.status == "closed"


async def test_merging_moves_paid_and_bonus_apart_and_closes_the_sources(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), max_balance=100_000)
        target = await funded_card(session, clock.now(), product, amount=1_000, bonus=100)
        first = await funded_card(session, clock.now(), product, amount=2_000, bonus=200)
        second = await funded_card(session, clock.now(), product, amount=3_000)
        await service.merge_cards(
            session, target.card.id, [first.card.id, second.card.id], actor=ACTOR, now=clock.now()
        )
    assert await balance_of(database, target.card.id) == service.CardBalance(6_000, 300)
    for source in (first, second):
        assert await balance_of(database, source.card.id) == service.CardBalance(0, 0)
        async with database.transaction() as session:
            assert (await service.get_card(session, source.card.id)).status == "closed"
    await assert_ledger_verifies(database, clock.now())


async def _merge(database: Database, clock: FixedClock, target_id: str, source_id: str) -> None:
    async with database.transaction() as session:
        await service.merge_cards(session, target_id, [source_id], actor=ACTOR, now=clock.now())


async def test_cards_of_different_products_or_holders_do_not_merge(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        one = await active_product(session, clock.now())
        other = await active_product(session, clock.now())
        target = await funded_card(session, clock.now(), one, amount=1_000)
        foreign = await funded_card(session, clock.now(), other, amount=1_000)
        holder = await make_holder(session, clock.now())
        held = await funded_card(session, clock.now(), one, amount=1_000, holder_id=holder)
    for source in (foreign, held):
        with pytest.raises(MergeNotAllowed):
            await _merge(database, clock, target.card.id, source.card.id)
    assert await balance_of(database, target.card.id) == service.CardBalance(1_000, 0)


async def test_a_merge_beyond_the_maximum_balance_is_refused(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), face_values=[60_000])
        target = await funded_card(session, clock.now(), product, amount=60_000)
        source = await funded_card(session, clock.now(), product, amount=60_000)
    with pytest.raises(MaxBalanceExceeded):
        await _merge(database, clock, target.card.id, source.card.id)
    assert await balance_of(database, source.card.id) == service.CardBalance(60_000, 0)


async def test_another_merchant_cannot_merge_or_freeze(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        target = await funded_card(session, clock.now(), product, amount=1_000)
        source = await funded_card(session, clock.now(), product, amount=1_000)
    with pytest.raises(CardNotFound):
        async with database.transaction() as session:
            await service.merge_cards(
                session,
                target.card.id,
                [source.card.id],
                merchant_id=OTHER_MERCHANT,
                actor="b",
                now=clock.now(),
            )
    with pytest.raises(CardNotFound):
        async with database.transaction() as session:
            await service.freeze_card(
                session,
                target.card.id,
                merchant_id=OTHER_MERCHANT,
                principal=OPERATOR,
                now=clock.now(),
            )


async def _completed_batch(database: Database, clock: FixedClock, total: int) -> str:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        await grant_quota(session, clock.now(), 10**9)
        batch = await service.create_batch(
            session,
            product.id,
            merchant_id=MERCHANT,
            count=total,
            face_value=50_000,
            export_password="a long export password",
            actor=ACTOR,
            now=clock.now(),
        )
    await service.run_batch(database, batch.id, keys=KEYS, now=clock.now())
    return batch.id


async def test_a_batch_paid_by_bank_transfer_is_activated_in_one_ledger_transaction(
    database: Database, clock: FixedClock
) -> None:
    batch_id = await _completed_batch(database, clock, total=4)
    async with database.transaction() as session:
        batch = await service.fund_batch(
            session,
            batch_id,
            transfer_reference="BANK-2026-001",
            amount=200_000,
            actor="user:finance",
            now=clock.now(),
        )
    assert (batch.funding_reference, batch.funded_at) == ("BANK-2026-001", clock.now())
    async with database.transaction() as session:
        cards = (await session.execute(select(Card).where(Card.batch_id == batch_id))).scalars()
        cards = list(cards)
        balances = await service.card_balances(session, cards)
    assert {card.status for card in cards} == {"active"}
    assert {balance.paid for balance in balances.values()} == {50_000}
    await assert_ledger_verifies(database, clock.now())


@pytest.mark.parametrize("amount", [199_999, 200_001])
async def test_a_batch_payment_that_does_not_match_is_refused(
    database: Database, clock: FixedClock, amount: int
) -> None:
    batch_id = await _completed_batch(database, clock, total=4)
    transfers_before = await count(database, LedgerTransfer)
    with pytest.raises(FundingAmountMismatch, match="200000"):
        async with database.transaction() as session:
            await service.fund_batch(
                session,
                batch_id,
                transfer_reference="BANK-1",
                amount=amount,
                actor="user:finance",
                now=clock.now(),
            )
    assert await count(database, LedgerTransfer) == transfers_before
    assert await count(database, Card, Card.status == "active") == 0


async def test_a_batch_is_activated_only_once(database: Database, clock: FixedClock) -> None:
    batch_id = await _completed_batch(database, clock, total=2)
    async with database.transaction() as session:
        await service.fund_batch(
            session,
            batch_id,
            transfer_reference="BANK-1",
            amount=100_000,
            actor="f",
            now=clock.now(),
        )
    with pytest.raises(IllegalCardTransition, match="already"):
        async with database.transaction() as session:
            await service.fund_batch(
                session,
                batch_id,
                transfer_reference="BANK-1",
                amount=100_000,
                actor="f",
                now=clock.now(),
            )


async def test_the_history_lists_the_cards_movements(database: Database, clock: FixedClock) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=1_000, bonus=100)
        card = await service.get_card(session, issued.card.id)
        first = await service.card_history(session, card, limit=1)
        rest = await service.card_history(
            session, card, limit=10, after_sequence=first.data[0].transfer.sequence
        )
    assert [(m.part, m.amount) for m in first.data + rest.data] == [("paid", 1_000), ("bonus", 100)]
    assert (first.has_more, rest.has_more) == (True, False)


@pytest.mark.pg
async def test_concurrent_fundings_never_exceed_the_issuers_quota(
    pg_database: Database, clock: FixedClock
) -> None:
    async with pg_database.transaction() as session:
        product = await active_product(session, clock.now())
        await grant_quota(session, clock.now(), 50_000)
        cards = [await issue(session, product.id, clock.now()) for _ in range(12)]

    async def fund(card_id: str) -> bool:
        try:
            await _activate(pg_database, clock, card_id, 10_000)
        except IssuerQuotaExceeded:
            return False
        return True

    outcomes = await asyncio.gather(*(fund(issued.card.id) for issued in cards))
    assert outcomes.count(True) == 5
    async with pg_database.transaction() as session:
        assert await service.outstanding_balance(session, MERCHANT, "CNY") == 50_000
    await assert_ledger_verifies(pg_database, clock.now())


# --- merge sources -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        pytest.param(["first", "first"], "repeated", id="a source twice"),
        pytest.param(["first", "target"], "target card", id="the target among the sources"),
        pytest.param([], "at least one", id="no source"),
    ],
)
async def test_a_merge_naming_a_card_twice_is_refused_before_anything_happens(
    database: Database, clock: FixedClock, sources: list[str], message: str
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        target = await funded_card(session, clock.now(), product, amount=1_000)
        first = await funded_card(session, clock.now(), product, amount=2_000)
    names = {"target": target.card.id, "first": first.card.id}
    transfers_before = await count(database, LedgerTransfer)
    with pytest.raises(InvalidMergeSources, match=message) as refused:
        await _merge_many(database, clock, target.card.id, [names[s] for s in sources])
    assert refused.value.param == "source_card_ids"
    assert await count(database, LedgerTransfer) == transfers_before
    assert await balance_of(database, first.card.id) == service.CardBalance(2_000, 0)
    assert await event_types(database, first.card.id) == ["card.issued", "card.activated"]


async def _merge_many(
    database: Database, clock: FixedClock, target_id: str, source_ids: list[str]
) -> None:
    async with database.transaction() as session:
        await service.merge_cards(session, target_id, source_ids, actor=ACTOR, now=clock.now())
