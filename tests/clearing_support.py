"""The pieces of the clearing end-to-end test (``test_clearing_end_to_end.py``): two
merchants whose cards are topped up by paid orders through the sandbox channels, one of
them accepting the other's cards, and the days that follow — business dates after today's
sales, a reserve account's bank statement written from what the ledger and the channels say.

The sales are real: orders created through ``sales.orders`` and paid at the in-process
sandbox gateway, its notifications delivered to ``payments.accept_notification``. The sandbox
stamps payments with the wall clock, so the sales day is today; the redemptions, runs and
statements that follow are on the next business days, on a fixed clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tests.cards_support import active_product, ensure_consumer, funded_card, grant_quota
from tests.orders_support import HOLDER, pay, request
from tests.paycore_support import real_now
from tests.payments_support import PaymentSandbox
from tests.redemption_support import Till, make_store
from tests.settlement_support import make_contract
from tongka.cards import acceptance
from tongka.cards.acceptance import Acceptance
from tongka.clock import business_date
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.models import KycLevel
from tongka.payments import registry
from tongka.payments.channel import StatementLine
from tongka.reconciliation.bank import settlement_note
from tongka.reconciliation.service import reserve_ledger_balance
from tongka.reconciliation.writers import BankEntry, bank_statement, wechat_bill
from tongka.sales.order_states import OrderKind
from tongka.sales.orders import create_order
from tongka.settlement.calendar import BusinessCalendar, load_calendar

ISSUER, ACCEPTOR = "mch_alpha", "mch_beta"  # ISSUER's cards are accepted at ACCEPTOR too
CROSS = "cross"  # the till key of an ISSUER card at an ACCEPTOR store


async def business_days_after(database: Database, today: date, count: int) -> list[date]:
    """The ``count`` business days after today (the platform's calendar)."""
    calendar: BusinessCalendar = await database.run(load_calendar)
    found: list[date] = []
    day = today
    while len(found) < count:
        day += timedelta(days=1)
        if calendar.is_business_day(day):
            found.append(day)
    return found


async def _merchant_till(
    session: AsyncSession, merchant_id: str, now: datetime, settings: Settings, **product: object
) -> Till:
    """A store and a card of the merchant (¥100 from the reserve, held by the buyer) and its
    T+1 contract from today."""
    store_id = await make_store(session, merchant_id, now)
    prod = await active_product(session, now, merchant_id=merchant_id, **product)
    issued = await funded_card(session, now, prod, amount=10_000, holder_id=HOLDER)
    today = business_date(now, settings.timezone)
    await make_contract(session, merchant_id, today, settings=settings, now=now)
    return Till(merchant_id, store_id, issued.card.id, issued.number, issued.secret, prod.id)


async def open_merchants(database: Database, settings: Settings, now: datetime) -> dict[str, Till]:
    """ISSUER and ACCEPTOR with a card each; ACCEPTOR agreed to take ISSUER's cards, and the
    ISSUER's product names it; the ``CROSS`` till is the ISSUER card at ACCEPTOR's store."""
    async with database.transaction() as session:
        await ensure_consumer(session, HOLDER, now, KycLevel.ID_CARD)
        for merchant_id in (ISSUER, ACCEPTOR):
            await grant_quota(session, now, 10**10, merchant_id)
        agreement = await acceptance.propose_agreement(
            session, ISSUER, ACCEPTOR, note=None, actor="user:issuer", now=now
        )
        await acceptance.decide_agreement(
            session,
            agreement.id,
            is_approved=True,
            merchant_id=ACCEPTOR,
            note=None,
            actor="user:acceptor",
            now=now,
        )
        acceptor = await _merchant_till(session, ACCEPTOR, now, settings)
        issuer = await _merchant_till(
            session,
            ISSUER,
            now,
            settings,
            acceptance=Acceptance.MERCHANTS,
            accepted_merchant_ids=[ACCEPTOR],
        )
    cross = replace(issuer, merchant_id=ACCEPTOR, store_id=acceptor.store_id)
    return {ISSUER: issuer, ACCEPTOR: acceptor, CROSS: cross}


async def top_up(
    database: Database,
    settings: Settings,
    sandbox: PaymentSandbox,
    till: Till,
    amount: int,
    channel: str,
) -> str:
    """A paid top-up order of the till's card through ``channel``; the payment's id."""
    order = request(
        kind=OrderKind.TOP_UP,
        card_id=till.card_id,
        amount_minor=amount,
        face_value_minor=None,
        product_id=None,
        channel=channel,
    )
    async with database.transaction() as session:
        created = await create_order(session, order, now=real_now(), settings=settings)
    await pay(database, settings, sandbox, created)
    return created.payment.payment.id


async def channel_statement(settings: Settings, channel: str, day: date) -> list[StatementLine]:
    """The channel's own statement of ``day`` as the sandbox produces it, parsed."""
    adapter = registry.channel(settings, channel)
    content = await adapter.download_statement(day)
    return list(adapter.parse_statement(content))


def with_fee(lines: list[StatementLine], index: int, extra: int) -> list[StatementLine]:
    """The statement with the channel keeping ``extra`` more fee on one line."""
    changed = list(lines)
    changed[index] = replace(changed[index], fee_minor=changed[index].fee_minor + extra)
    return changed


def wechat_content(lines: Iterable[StatementLine]) -> bytes:
    return b"".join(wechat_bill(lines))


def channel_net(lines: Iterable[StatementLine]) -> int:
    """What a channel settles into the reserve account for its statement's lines."""
    return sum(
        line.amount_minor - line.fee_minor
        if line.kind.value == "payment"
        else -line.amount_minor - line.fee_minor
        for line in lines
    )


async def reserve_statement(
    database: Database,
    day: date,
    settlements: dict[str, int],
    *,
    start: datetime,
    settled_at: datetime,
    bank_fee: int,
    sales_day: date,
) -> bytes:
    """The reserve account's bank statement of ``day``: the channels' settlements of the
    sales day and a bank charge of ``bank_fee`` the ledger does not know (an injected
    difference); the opening balance is the ledger's at ``start``."""
    async with database.transaction() as session:
        opening = await reserve_ledger_balance(session, "CNY", start)
    entries = [
        BankEntry(settled_at, True, amount, settlement_note(channel, sales_day), f"S{n}")
        for n, (channel, amount) in enumerate(sorted(settlements.items()))
        if amount
    ]
    entries.append(BankEntry(settled_at + timedelta(hours=6), False, bank_fee, "账户管理费", "F1"))
    return b"".join(bank_statement(entries, opening_minor=opening))
