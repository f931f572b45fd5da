"""The figures the console's home pages show: a merchant's cards, value and daily activity;
the platform's reviews, merchants and liability by product.

Read-only aggregate queries, a few per page whatever the number of cards: counts with
``COUNT(*) FILTER (...)`` and balances summed over the ledger's cached balance rows
(``ledger_balances``, one row per account shard) of the card accounts (``owner_type =
'card'``), never card by card. The outstanding balance is the *posted* balance: what the
cards are owed, holds included (a hold is still owed until it is captured).

Business days are the platform's (``Settings.timezone``): each day's bounds are computed
here as instants, so the SQL stays portable (SQLite and PostgreSQL) and a day across a
daylight-saving change still has its true length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.issuing import CardStatus
from tongka.cards.models import Card, CardProduct
from tongka.cards.products import ProductStatus
from tongka.identity.models import Merchant, MerchantStatus
from tongka.ledger.models import LedgerAccount, LedgerBalance, LedgerTransfer

ACTIVITY_DAYS = 30
TOP_PRODUCTS = 12


@dataclass(frozen=True)
class DayActivity:
    business_date: date
    issued: int
    activated: int
    transactions: int


@dataclass(frozen=True)
class MerchantFigures:
    cards_issued: int
    cards_active: int
    outstanding: dict[str, int]  # currency -> minor units
    activity: list[DayActivity]


@dataclass(frozen=True)
class ProductLiability:
    product_id: str
    name: str
    merchant_name: str
    currency: str
    outstanding: int


@dataclass(frozen=True)
class PlatformFigures:
    merchants_pending: int
    products_pending: int
    merchants_by_status: dict[str, int]
    liability: list[ProductLiability]

    @property
    def liability_total(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for row in self.liability:
            totals[row.currency] = totals.get(row.currency, 0) + row.outstanding
        return totals


def business_days(now: datetime, timezone: str, days: int = ACTIVITY_DAYS) -> list[date]:
    """The last ``days`` business dates up to today's, oldest first."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return [today - timedelta(days=back) for back in range(days - 1, -1, -1)]


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The instants a business day starts and ends at (midnight to midnight, local)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone)
    return start, datetime.combine(day + timedelta(days=1), time(), zone)


def _per_day(column: Any, days: list[date], timezone: str) -> list[ColumnElement[int]]:
    counts: list[ColumnElement[int]] = []
    for day in days:
        start, end = day_bounds(day, timezone)
        counts.append(func.count().filter(and_(column >= start, column < end)))
    return counts


def _card_accounts(merchant_id: str | None) -> Any:
    """The ids of the card accounts (paid and bonus) of a merchant's cards (all: None)."""
    statement = select(LedgerAccount.id).where(LedgerAccount.owner_type == "card")
    if merchant_id is not None:
        merchant_cards = select(Card.id).where(Card.merchant_id == merchant_id)
        statement = statement.where(LedgerAccount.owner_id.in_(merchant_cards))
    return statement


POSTED = func.coalesce(func.sum(LedgerBalance.credits_posted - LedgerBalance.debits_posted), 0)


async def outstanding_by_currency(session: AsyncSession, merchant_id: str) -> dict[str, int]:
    """What the merchant's cards hold, per currency (one query over the balance rows)."""
    statement = (
        select(LedgerAccount.currency, POSTED)
        .join(LedgerAccount, LedgerAccount.id == LedgerBalance.account_id)
        .where(LedgerAccount.id.in_(_card_accounts(merchant_id)))
        .group_by(LedgerAccount.currency)
        .order_by(LedgerAccount.currency)
    )
    return {currency: int(total) for currency, total in (await session.execute(statement)).all()}


async def merchant_figures(
    session: AsyncSession, merchant_id: str, *, now: datetime, timezone: str
) -> MerchantFigures:
    days = business_days(now, timezone)
    window_start = day_bounds(days[0], timezone)[0]
    in_merchant = Card.merchant_id == merchant_id
    counts = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Card.status == CardStatus.ACTIVE.value),
                *_per_day(Card.created_at, days, timezone),
            ).where(in_merchant)
        )
    ).one()
    activated = (
        await session.execute(
            select(*_per_day(Card.activated_at, days, timezone)).where(
                in_merchant, Card.activated_at >= window_start
            )
        )
    ).one()
    accounts = _card_accounts(merchant_id)
    transactions = (
        await session.execute(
            select(*_per_day(LedgerTransfer.created_at, days, timezone)).where(
                LedgerTransfer.created_at >= window_start,
                or_(
                    LedgerTransfer.credit_account_id.in_(accounts),
                    LedgerTransfer.debit_account_id.in_(accounts),
                ),
            )
        )
    ).one()
    activity = [
        DayActivity(day, counts[2 + index], activated[index], transactions[index])
        for index, day in enumerate(days)
    ]
    return MerchantFigures(
        cards_issued=counts[0],
        cards_active=counts[1],
        outstanding=await outstanding_by_currency(session, merchant_id),
        activity=activity,
    )


async def platform_figures(session: AsyncSession) -> PlatformFigures:
    by_status = dict(
        (await session.execute(select(Merchant.status, func.count()).group_by(Merchant.status)))
        .tuples()
        .all()
    )
    products_pending = await session.scalar(
        select(func.count()).where(CardProduct.status == ProductStatus.PENDING_REVIEW.value)
    )
    liability_rows = await session.execute(
        select(
            CardProduct.id, CardProduct.name, Merchant.legal_name, LedgerAccount.currency, POSTED
        )
        .select_from(LedgerBalance)
        .join(LedgerAccount, LedgerAccount.id == LedgerBalance.account_id)
        .join(Card, Card.id == LedgerAccount.owner_id)
        .join(CardProduct, CardProduct.id == Card.product_id)
        .join(Merchant, Merchant.id == CardProduct.merchant_id)
        .where(LedgerAccount.owner_type == "card")
        .group_by(CardProduct.id, CardProduct.name, Merchant.legal_name, LedgerAccount.currency)
        .order_by(POSTED.desc(), CardProduct.id)
        .limit(TOP_PRODUCTS)
    )
    return PlatformFigures(
        merchants_pending=by_status.get(MerchantStatus.PENDING_REVIEW.value, 0),
        products_pending=products_pending or 0,
        merchants_by_status={str(status): int(count) for status, count in by_status.items()},
        liability=[
            ProductLiability(product_id, name, merchant, currency, int(total))
            for product_id, name, merchant, currency, total in liability_rows.all()
        ],
    )
