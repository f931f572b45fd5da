"""The fast path (``redemption.fast_path``) gives the ORM path's answers and ledger effects:
every scenario runs once with ``redemption_fast_path`` off and once on, each on a card of
its own, and the two observations (answers, records, the card's transfers and balance, the
merchant payable's and fee income's change) must be equal; the plain ones must really
have taken the fast path. ``ledger verify`` after each test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from tests.cards_support import (
    KEYS,
    MERCHANT,
    OPERATOR,
    active_product,
    assert_ledger_verifies,
    balance_of,
    funded_card,
)
from tests.redemption_support import RATE, Till, make_store, make_till, request
from tongka.cards import service as cards
from tongka.cards.models import CardProduct
from tongka.cards.validity import add_months
from tongka.clock import FixedClock
from tongka.config import Settings, get_settings
from tongka.db import Database
from tongka.events.models import Event
from tongka.ledger import get_balance
from tongka.ledger.errors import AccountNotFound
from tongka.ledger.models import LedgerTransfer
from tongka.redemption import aftercare, fast_path, service
from tongka.redemption.fees import fee_income_account, merchant_payable_id
from tongka.redemption.limit_settings import LimitValues, set_product_limits
from tongka.redemption.models import Redemption
from tongka.redemption.service import CardCredential, Purchase, RedeemRequest
from tongka.webhooks.models import WebhookDelivery
from tongka.webhooks.service import create_endpoint

pytestmark = pytest.mark.pg

Scenario = Callable[[Database, datetime, Settings], Awaitable[Any]]


def _k(settings: Settings, key: str) -> str:
    """The two runs share the merchant: each its own idempotency keys."""
    return f"{'fast' if settings.redemption_fast_path else 'orm'}-{key}"


def _settings(fast: bool) -> Settings:
    return get_settings().model_copy(update={"redemption_fast_path": fast})


async def _redeem(
    database: Database, req: RedeemRequest, now: datetime, settings: Settings
) -> Purchase:
    async def work(session):  # type: ignore[no-untyped-def]
        return await service.redeem(
            session, req, keys=KEYS, fee_rate=RATE, now=now, settings=settings
        )

    return await database.run(work)


def _answer(purchase: Purchase) -> tuple[Any, ...]:
    return (
        purchase.status,
        purchase.decline_code,
        purchase.amount,
        purchase.taken,
        purchase.remaining,
        purchase.is_replay,
        purchase.challenge_id is not None,
        [
            (
                r.kind,
                r.status,
                r.decline_code,
                r.requested,
                r.amount,
                r.paid,
                r.bonus,
                r.fee,
                r.balance_after,
                r.expires_at,
            )
            for r in purchase.redemptions
        ],
    )


async def _posted(session: Any, account_id: str) -> int:
    try:
        return (await get_balance(session, account_id)).posted
    except AccountNotFound:
        return 0  # not opened yet: no redemption of this merchant so far


async def _ledger_of(database: Database, till: Till) -> tuple[Any, ...]:
    """The card's balance and transfers, and the merchant's and platform's balances."""
    async with database.transaction() as session:
        rows = (
            await session.scalars(
                select(LedgerTransfer).where(LedgerTransfer.reference.like("rdm_%"))
            )
        ).all()
        payable = await _posted(session, merchant_payable_id(till.merchant_id, "CNY"))
        fee = await _posted(
            session, await fee_income_account(session, "CNY", now=datetime.now(UTC))
        )
    mine = sorted(
        (t.code, t.amount, t.transfer_metadata.get("part"), t.pending_id is not None)
        for t in rows
        if (t.transfer_metadata or {}).get("card_id") == till.card_id
    )
    async with database.transaction() as session:
        ids = select(Redemption.id).where(Redemption.card_id == till.card_id)
        events = (await session.scalars(select(Event).where(Event.object_id.in_(ids)))).all()
    announced = sorted(
        (e.type, e.object_type, e.merchant_id, e.actor, sorted(e.data.items()))
        for e in events
        if e.data.pop("purchase_id", None) and e.data.pop("card_id", None) == till.card_id
    )
    return (await balance_of(database, till.card_id), mine, announced, payable, fee)


async def _both(database: Database, clock: FixedClock, scenario: Scenario) -> int:
    """Run ``scenario`` on each path; their observations must be equal. How many requests
    the fast path answered itself."""
    taken = 0
    real = fast_path.redeem_one

    async def counting(*args: Any, **kwargs: Any) -> Purchase | None:
        nonlocal taken
        answer = await real(*args, **kwargs)
        taken += answer is not None
        return answer

    seen = []
    for fast in (False, True):
        fast_path.redeem_one = counting  # type: ignore[assignment]
        try:
            seen.append(await scenario(database, clock.now(), _settings(fast)))
        finally:
            fast_path.redeem_one = real  # type: ignore[assignment]
        if not fast:
            assert taken == 0
    assert seen[0] == seen[1]
    await assert_ledger_verifies(database, clock.now())
    return taken


async def _till(database: Database, now: datetime, **kwargs: Any) -> Till:
    async with database.transaction() as session:
        return await make_till(session, now, **kwargs)


def _single(asked: int, **till_kwargs: Any) -> Scenario:
    async def scenario(database: Database, now: datetime, settings: Settings) -> Any:
        till = await _till(database, now, **till_kwargs)
        before = await _ledger_of(database, till)
        purchase = await _redeem(database, request(till, asked, _k(settings, "k")), now, settings)
        return _answer(purchase), _delta(before, await _ledger_of(database, till))

    return scenario


def _delta(before: tuple[Any, ...], after: tuple[Any, ...]) -> tuple[Any, ...]:
    """The card's own state, and the shared accounts' change (both paths share them)."""
    return after[0], after[1], after[2], after[3] - before[3], after[4] - before[4]


@pytest.mark.parametrize(
    ("amount", "till", "fast"),
    [
        (5_500, {"amount": 5_000, "bonus": 1_000}, 1),  # approved: paid then bonus
        (5_000, {"amount": 5_000}, 1),  # to zero
        (6_000, {"amount": 5_000}, 1),  # insufficient_funds
        (1_000, {"amount": 0, "bonus": 5_000}, 1),  # bonus only
    ],
)
async def test_plain_redemptions_match(
    pg_database: Database, clock: FixedClock, amount: int, till: dict[str, Any], fast: int
) -> None:
    assert await _both(pg_database, clock, _single(amount, **till)) == fast


async def test_partial_and_bonus_first_match(pg_database: Database, clock: FixedClock) -> None:
    async def partial(database: Database, now: datetime, settings: Settings) -> Any:
        till = await _till(database, now, amount=3_000, bonus=500)
        before = await _ledger_of(database, till)
        req = request(till, 5_000, _k(settings, "p"), allow_partial=True)
        purchase = await _redeem(database, req, now, settings)
        return _answer(purchase), _delta(before, await _ledger_of(database, till))

    async def bonus_first(database: Database, now: datetime, settings: Settings) -> Any:
        till = await _till(database, now, amount=5_000, bonus=1_000)
        async with database.transaction() as session:
            product = await session.get(CardProduct, till.product_id)
            assert product is not None
            product.is_bonus_spent_first = True
        before = await _ledger_of(database, till)
        purchase = await _redeem(database, request(till, 1_500, _k(settings, "b")), now, settings)
        return _answer(purchase), _delta(before, await _ledger_of(database, till))

    assert await _both(pg_database, clock, partial) == 1
    assert await _both(pg_database, clock, bonus_first) == 1


@pytest.mark.parametrize(
    "case", ["frozen", "expired", "wrong_secret", "locked", "elsewhere", "issued", "two_cards"]
)
async def test_the_other_declines_and_shapes_fall_back_with_the_same_answers(
    pg_database: Database, clock: FixedClock, case: str
) -> None:
    async def scenario(database: Database, now: datetime, settings: Settings) -> Any:
        till = await _till(database, now, amount=5_000)
        req = request(till, 1_000, _k(settings, "d"))
        answers = []
        async with database.transaction() as session:
            if case == "frozen":
                await cards.freeze_card(session, till.card_id, principal=OPERATOR, now=now)
            elif case == "expired":
                now = add_months(now, 40)
            elif case == "elsewhere":
                other = await make_store(session, "mch_other", now)
                req = request(
                    till, 1_000, _k(settings, "x"), merchant_id="mch_other", store_id=other
                )
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
                number, secret = issued.number, issued.secret
                req = request(
                    till, 1_000, _k(settings, "i"), cards=[CardCredential(number, secret)]
                )
            elif case == "two_cards":
                product = await session.get(CardProduct, till.product_id)
                assert product is not None
                second = await funded_card(session, now, product, amount=5_000)
                both = [
                    CardCredential(till.number, till.secret, share=400),
                    CardCredential(second.number, second.secret, share=600),
                ]
                req = request(till, 1_000, _k(settings, "two"), cards=both)
        if case in ("wrong_secret", "locked"):
            bad = [CardCredential(number=till.number, secret="000000")]
            req = request(till, 1_000, _k(settings, "bad"), cards=bad)
            if case == "locked":
                for attempt in range(5):
                    wrong = request(till, 1, _k(settings, f"w{attempt}"), cards=bad)
                    answers.append(_answer(await _redeem(database, wrong, now, settings)))
                req = request(till, 1_000, _k(settings, "after-lock"))
        answers.append(_answer(await _redeem(database, req, now, settings)))
        return answers, (await _ledger_of(database, till))[:3]

    assert await _both(pg_database, clock, scenario) == 0


async def test_limits_and_the_threshold_decide_the_same(
    pg_database: Database, clock: FixedClock
) -> None:
    async def scenario(database: Database, now: datetime, settings: Settings) -> Any:
        till = await _till(database, now, amount=50_000)
        async with database.transaction() as session:
            await set_product_limits(
                session,
                till.product_id,
                LimitValues(per_transaction_max_minor=3_000, card_daily_count=2),
                challenge_threshold_minor=2_000,
                merchant_id=MERCHANT,
                actor="user:issuer",
                now=now,
            )
        answers = []
        for index, amount in enumerate([4_000, 2_500, 1_000, 1_000, 1_000]):
            req = request(till, amount, _k(settings, f"l{index}"))
            answers.append(_answer(await _redeem(database, req, now, settings)))
        return answers, (await _ledger_of(database, till))[:3]

    assert await _both(pg_database, clock, scenario) == 5


async def test_replays_and_reversals_in_every_order_match(
    pg_database: Database, clock: FixedClock
) -> None:
    async def scenario(database: Database, now: datetime, settings: Settings) -> Any:
        till = await _till(database, now, amount=5_000)
        first = await _redeem(database, request(till, 1_000, _k(settings, "o")), now, settings)
        again = await _redeem(database, request(till, 1_000, _k(settings, "o")), now, settings)
        outcomes = []
        for key in (_k(settings, "o"), _k(settings, "never-came"), _k(settings, "late")):

            async def reverse(session, key=key):  # type: ignore[no-untyped-def]
                done = await aftercare.reverse(
                    session, till.merchant_id, key, actor="t", now=now, settings=settings
                )
                return done.outcome

            outcomes.append(await database.run(reverse))
        late = await _redeem(database, request(till, 1_000, _k(settings, "late")), now, settings)
        after = await _redeem(database, request(till, 700, _k(settings, "after")), now, settings)
        answers = [_answer(p) for p in (first, again, late, after)]
        return answers, outcomes, (await _ledger_of(database, till))[:3]

    # the original, its replay (fast path: the claim answers before it) and "after"
    assert await _both(pg_database, clock, scenario) == 2


async def test_under_concurrency_limits_and_a_hot_card_are_exact_on_both_paths(
    pg_database: Database, clock: FixedClock
) -> None:
    async def scenario(database: Database, now: datetime, settings: Settings) -> Any:
        hot = await _till(database, now, amount=20 * 100)
        limited = await _till(database, now, amount=100_000)
        async with database.transaction() as session:
            await set_product_limits(
                session,
                limited.product_id,
                LimitValues(card_daily_count=5),
                challenge_threshold_minor=None,
                merchant_id=MERCHANT,
                actor="user:issuer",
                now=now,
            )
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(
                    _redeem(database, request(hot, 100, _k(settings, f"h{i}")), now, settings)
                    for i in range(40)
                ),
                *(
                    _redeem(database, request(limited, 100, _k(settings, f"m{i}")), now, settings)
                    for i in range(12)
                ),
            ),
            120,
        )
        codes = [p.decline_code or p.status for p in outcomes]
        assert codes[:40].count("approved") == 20
        assert codes[40:].count("approved") == 5
        return (
            sorted(codes[:40]),
            sorted(codes[40:]),
            (await balance_of(database, hot.card_id)).total,
            (await balance_of(database, limited.card_id)).total,
        )

    assert await _both(pg_database, clock, scenario) >= 52  # a retried request: again


async def test_webhook_deliveries_are_owed_the_same(
    pg_database: Database, clock: FixedClock
) -> None:
    async with pg_database.transaction() as session:
        await make_store(session, MERCHANT, clock.now())  # the merchant exists
        for events in (["redemption.approved", "redemption.declined"], ["card.frozen"]):
            await create_endpoint(
                session,
                merchant_id=MERCHANT,
                url="https://hooks.example.com/tongka",
                enabled_events=events,
                description="",
                actor="test",
                settings=get_settings(),
                now=clock.now(),
            )

    async def scenario(database: Database, now: datetime, settings: Settings) -> Any:
        till = await _till(database, now, amount=1_000)
        answers = [
            _answer(
                await _redeem(database, request(till, amount, _k(settings, key)), now, settings)
            )
            for amount, key in ((600, "w1"), (600, "w2"))
        ]
        async with database.transaction() as session:
            ids = select(Redemption.id).where(Redemption.card_id == till.card_id)
            events = select(Event.id).where(Event.object_id.in_(ids))
            owed = (
                await session.scalars(
                    select(WebhookDelivery.event_type).where(WebhookDelivery.event_id.in_(events))
                )
            ).all()
        assert sorted(owed) == ["redemption.approved", "redemption.declined"]
        return answers, sorted(owed)

    assert await _both(pg_database, clock, scenario) == 2
