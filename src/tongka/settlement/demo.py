"""Demo data for settlement: a settled week (``tongka demo``).

Each demo merchant gets a T+1 contract, a card of its own week product (结算周卡) and a
week of redemptions at its store — the canteen's card is also spent at the bookshop, which
the bookshop agreed to accept (cross-issuer: the canteen owes the bookshop), under a split
rule (分账: the issuer 70 %, the acceptor 25 %, the platform 5 %), so the bookshop's batches
of those days show split lines and the canteen's next batches its part. Every business
day of the week is settled into batches and paid through the sandbox bank's payout desk in
process; the bookshop's first payout is rejected (户名不符) and paid with its next batch. One
WeChat Pay reconciliation run of the week's last day lists a payment we have no record of
(长款), an open exception for the 对账 page.

Dates, and why they are backdated: the week is the five business days (the platform's
calendar) before today, settled as the daily job would have: each day's run early on the
next business day (never later than now), paying what is due by then — so the last batch
may still be due. Batches group ledger movements by their business date, which comes from
the transfers' times, so the movements must carry the week's times; the cards, products,
agreement and contracts are therefore made the day before the week starts, so that no card
is spent before it was activated and no contract applies before it was written. The other
demo steps' cards are not touched (they are activated today).

Idempotent: the step stops when the canteen's week product (its fixed BIN) exists — the
week is made once, in the demo's one transaction, so a later ``tongka demo`` (another day,
another week) changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import acceptance, accounts, service
from tongka.cards.acceptance import Acceptance
from tongka.cards.keys import card_keys
from tongka.cards.models import CardProduct
from tongka.clock import business_date
from tongka.config import Settings
from tongka.db import Database
from tongka.demo import DemoContext
from tongka.identity.models import Merchant, Store
from tongka.identity.principal import SYSTEM
from tongka.ledger import AccountCode
from tongka.payments.channel import ChannelName, StatementLine, StatementLineKind
from tongka.payments.sandbox.payouts import PayoutOutcome, PayoutSimulator, Plan
from tongka.reconciliation.service import reconcile_channel
from tongka.redemption import service as redemption
from tongka.redemption.service import CardCredential, RedeemRequest
from tongka.settlement import contracts, split_rules
from tongka.settlement.calendar import BusinessCalendar, load_calendar
from tongka.settlement.contracts import BankAccount, ContractTerms
from tongka.settlement.fee_terms import FeeKind, FeeTerms
from tongka.settlement.payout_channel import PayoutAnswer, PayoutOrder, SimulatorChannel
from tongka.settlement.service import settle_date

ACTOR = "demo"
WEEK_DAYS = 5
FALLBACK_MERCHANTS = ["mch_demo_canteen", "mch_demo_books"]
BINS = ["62880301", "62880302"]  # the week's card products, one per demo merchant
NAMES = ["示范餐饮结算周卡 Canteen week card", "示范书店结算周卡 Bookshop week card"]
LOAD = 100_000
FEES = {
    FeeKind.REDEMPTION_OWN: FeeTerms(Decimal("0.006")),
    FeeKind.REDEMPTION_OTHER_ISSUER: FeeTerms(Decimal("0.01"), minimum=50),
}
ACCOUNTS = ["6222 0210 0100 8801", "6217 0012 3400 8802"]
REJECTED_REASON = "收款账户户名不符（演示）"
SPLIT_RULE = {  # the canteen's cards at the bookshop (分账)
    "shares": [
        {"party": "issuer", "percent": "0.7"},
        {"party": "acceptor", "percent": "0.25"},
        {"party": "platform", "percent": "0.05"},
    ],
    "remainder": "largest_remainder",
}


@dataclass(frozen=True)
class Spend:
    till: int  # 0: the canteen's card at the canteen, 1: the bookshop's, 2: canteen card at books
    amount: int
    hour: int


def _spends(index: int) -> list[Spend]:
    """The redemptions of the week's ``index``-th day (amounts vary by day)."""
    spends = [Spend(0, 8_800 + 700 * index, 12), Spend(1, 4_600 + 300 * index, 15)]
    if index % 2 == 0:
        spends.append(Spend(0, 2_350, 19))
    if index in (1, 3):
        spends.append(Spend(2, 3_000 + 500 * index, 17))
    return spends


@dataclass(frozen=True)
class Till:
    merchant_id: str
    store_id: str
    number: str
    secret: str


class _InSession:
    """The demo runs in one transaction: settlement's runs, which take a ``Database`` and
    commit per step in production, run their steps in the demo's session instead."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def run(self, work: Callable[[AsyncSession], Awaitable[Any]], **_: Any) -> Any:
        return await work(self.session)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        yield self.session


@dataclass
class _DemoDesk:
    """The sandbox payout desk, rejecting the first payout to one account name."""

    desk: SimulatorChannel
    reject_name: str
    has_rejected: bool = False

    async def submit(self, order: PayoutOrder) -> PayoutAnswer:
        if not self.has_rejected and order.account_name == self.reject_name:
            self.has_rejected = True
            self.desk.simulator.plan(Plan(PayoutOutcome.REJECT, reason=REJECTED_REASON))
        return await self.desk.submit(order)

    async def query(self, key: str) -> PayoutAnswer:
        return await self.desk.query(key)


def at(day: date, hour: int, timezone: str) -> datetime:
    return datetime.combine(day, time(hour), ZoneInfo(timezone))


def demo_week(calendar: BusinessCalendar, today: date) -> list[date]:
    """The ``WEEK_DAYS`` business days before ``today``, oldest first."""
    days: list[date] = []
    day = today
    while len(days) < WEEK_DAYS:
        day -= timedelta(days=1)
        if calendar.is_business_day(day):
            days.append(day)
    return sorted(days)


def next_business_day(calendar: BusinessCalendar, day: date) -> date:
    day += timedelta(days=1)
    while not calendar.is_business_day(day):
        day += timedelta(days=1)
    return day


async def _product(
    session: AsyncSession, merchant_id: str, index: int, acceptor_id: str | None, now: datetime
) -> CardProduct:
    spec = service.ProductSpec(
        name=NAMES[index],
        currency="CNY",
        bin_prefix=BINS[index],
        number_length=16,
        max_balance=LOAD,
        is_named=False,
        face_values=[LOAD],
        validity_months=36,
        acceptance=Acceptance.MERCHANTS if acceptor_id else Acceptance.ISSUER_STORES,
        accepted_merchant_ids=[acceptor_id] if acceptor_id else [],
    )
    product = await service.create_product(session, merchant_id, spec, actor=ACTOR, now=now)
    await service.submit_product(session, product.id, merchant_id=merchant_id, actor=ACTOR, now=now)
    return await service.review_product(
        session, product.id, is_approved=True, note="demo", principal=SYSTEM, now=now
    )


async def _accepted(session: AsyncSession, issuer_id: str, acceptor_id: str, now: datetime) -> None:
    """The acceptor agrees to take the issuer's cards (if no agreement is live yet)."""
    if acceptor_id in await acceptance.approved_acceptors(session, issuer_id):
        return
    agreement = await acceptance.propose_agreement(
        session, issuer_id, acceptor_id, note="演示：结算周", actor=ACTOR, now=now
    )
    await acceptance.decide_agreement(
        session,
        agreement.id,
        is_approved=True,
        merchant_id=acceptor_id,
        note=None,
        actor=ACTOR,
        now=now,
    )


async def _till(
    session: AsyncSession,
    settings: Settings,
    merchant_id: str,
    index: int,
    acceptor_id: str | None,
    now: datetime,
) -> Till:
    """The merchant's week card (loaded from the reserve) at its first store."""
    store_id = await session.scalar(
        select(Store.id).where(Store.merchant_id == merchant_id).order_by(Store.id).limit(1)
    )
    assert store_id is not None, "the identity demo gives each merchant a store"
    product = await _product(session, merchant_id, index, acceptor_id, now)
    issued = await service.issue_card(
        session,
        product.id,
        merchant_id=merchant_id,
        face_value=LOAD,
        keys=card_keys(settings),
        actor=ACTOR,
        now=now,
    )
    reserve = await accounts.system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
    funding = service.CardFunding(
        transfer_id=f"demo:settlement:load:{BINS[index]}", debit_account_id=reserve, amount=LOAD
    )
    await service.activate_card(
        session, issued.card.id, actor=ACTOR, now=now, funding=funding, reason="demo"
    )
    return Till(merchant_id, store_id, issued.number, issued.secret)


async def _contract(
    session: AsyncSession,
    settings: Settings,
    merchant_id: str,
    index: int,
    first: date,
    now: datetime,
) -> None:
    if await contracts.latest_version(session, merchant_id) is not None:
        return  # the merchant has its contract already: never a retroactive version
    merchant = await session.get(Merchant, merchant_id)
    assert merchant is not None
    terms = ContractTerms(
        merchant_id=merchant_id,
        effective_date=first,
        bank_account=BankAccount("中国工商银行上海分行", merchant.legal_name, ACCOUNTS[index]),
        fees=FEES,
        cycle_days=1,
    )
    await contracts.create_contract(session, terms, settings=settings, actor=ACTOR, now=now)


async def _redeem(
    session: AsyncSession, settings: Settings, till: Till, spend: Spend, key: str, now: datetime
) -> None:
    request = RedeemRequest(
        merchant_id=till.merchant_id,
        store_id=till.store_id,
        terminal_id=None,
        idempotency_key=key,
        amount=spend.amount,
        currency="CNY",
        cards=[CardCredential(number=till.number, secret=till.secret)],
        actor=ACTOR,
    )
    await redemption.redeem(
        session,
        request,
        keys=card_keys(settings),
        fee_rate=settings.redemption_fee_rate,
        now=now,
        settings=settings,
    )


async def _settle(
    session: AsyncSession,
    settings: Settings,
    calendar: BusinessCalendar,
    week: list[date],
    reject_name: str,
    now: datetime,
) -> None:
    """Each day's run early on the next business day (never after now)."""
    simulator = PayoutSimulator()
    desk = _DemoDesk(SimulatorChannel(simulator), reject_name)
    for day in week:
        run_at = min(at(next_business_day(calendar, day), 2, settings.timezone), now)
        simulator.now = lambda run_at=run_at: run_at  # type: ignore[misc]
        await settle_date(
            cast(Database, _InSession(session)),
            day,
            channel=desk,
            settings=settings,
            now=run_at,
            pay_through=business_date(run_at, settings.timezone),
        )


async def _reconciliation(
    session: AsyncSession, settings: Settings, day: date, now: datetime
) -> None:
    """WeChat Pay's statement of ``day`` names a payment we never recorded (长款)."""
    occurred = at(day, 16, settings.timezone)
    line = StatementLine(
        channel=ChannelName.WECHAT,
        trade_date=day,
        kind=StatementLineKind.PAYMENT,
        payment_id="pay_demo_unknown_0001",
        channel_transaction_id="4200002026000000000001",
        amount_minor=6_600,
        fee_minor=40,
        currency="CNY",
        occurred_at=occurred,
    )
    await reconcile_channel(
        session, "wechat", day, [line], actor=ACTOR, now=now, timezone=settings.timezone
    )


async def seed(session: AsyncSession, context: DemoContext, now: datetime) -> None:
    settings = context.settings
    merchant_ids = (context.objects.get("merchant_ids") or FALLBACK_MERCHANTS)[:2]
    if await session.scalar(select(CardProduct.id).where(CardProduct.bin_prefix == BINS[0])):
        return  # the week is made once (see the module)
    calendar = await load_calendar(session)
    week = demo_week(calendar, business_date(now, settings.timezone))
    setup_at = at(week[0] - timedelta(days=1), 9, settings.timezone)
    canteen, books = merchant_ids
    await _accepted(session, canteen, books, setup_at)
    tills = [
        await _till(session, settings, canteen, 0, books, setup_at),
        await _till(session, settings, books, 1, None, setup_at),
    ]
    tills.append(Till(books, tills[1].store_id, tills[0].number, tills[0].secret))
    for index, merchant_id in enumerate(merchant_ids):
        await _contract(session, settings, merchant_id, index, week[0], setup_at)
    await split_rules.set_rule(
        session,
        canteen,
        books,
        SPLIT_RULE,
        effective_date=week[0],
        today=business_date(setup_at, settings.timezone),
        actor=ACTOR,
        now=setup_at,
    )
    for index, day in enumerate(week):
        for number, spend in enumerate(_spends(index)):
            key = f"demo:settlement:{day.isoformat()}:{number}"
            till = tills[spend.till]
            await _redeem(
                session, settings, till, spend, key, at(day, spend.hour, settings.timezone)
            )
    books_name = (await session.get(Merchant, books)).legal_name  # type: ignore[union-attr]
    await _settle(session, settings, calendar, week, books_name, now)
    await _reconciliation(session, settings, week[-1], now)
