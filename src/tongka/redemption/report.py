"""The redemption report (核销报表): what was redeemed per business day, store and terminal.

A business day is a date in the platform's zone (``Settings.timezone``), the same days the
limits count by. The rows are the redemptions that took value — ``approved`` and
``captured`` (an uncaptured or voided hold and a reversed purchase took nothing); their
refunds are shown beside them, and the fee is the platform's fee net of what refunds gave
back. Declines are counted apart (how often a till was told no).

The report reads only the few columns it sums, streamed, and folds them here by the day of
each instant (``clock.business_date``): exact for every zone on both backends, without
per-dialect date arithmetic. The range is capped (``MAX_DAYS``) so a report stays small.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import business_date, ensure_utc
from tongka.errors import InvalidRequest
from tongka.redemption.models import Redemption

MAX_DAYS = 93  # a quarter
TOOK_VALUE = ("approved", "captured")


@dataclass(frozen=True)
class ReportQuery:
    """Whose redemptions (``merchant_id`` None: every merchant, for the platform), where
    (``store_id`` None: every store) and which business days (both inclusive)."""

    merchant_id: str | None
    store_id: str | None
    first_date: date
    last_date: date
    timezone: str


@dataclass
class ReportRow:
    business_date: date
    store_id: str | None
    terminal_id: str | None
    currency: str
    count: int = 0
    amount: int = 0
    refunded: int = 0
    fee: int = 0
    declined: int = 0

    @property
    def net(self) -> int:
        return self.amount - self.refunded


@dataclass
class Report:
    query: ReportQuery
    rows: list[ReportRow] = field(default_factory=list)

    def totals(self) -> list[ReportRow]:
        """One total per currency (dated the range's first day, no store or terminal)."""
        by_currency: dict[str, ReportRow] = {}
        for row in self.rows:
            total = by_currency.setdefault(
                row.currency, ReportRow(self.query.first_date, None, None, row.currency)
            )
            total.count += row.count
            total.amount += row.amount
            total.refunded += row.refunded
            total.fee += row.fee
            total.declined += row.declined
        return [by_currency[currency] for currency in sorted(by_currency)]

    def days(self) -> list[date]:
        first, last = self.query.first_date, self.query.last_date
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def amount_by_day(self, currency: str) -> list[int]:
        """Net amount (taken less refunded) of each day of the range, in ``currency``."""
        sums: dict[date, int] = defaultdict(int)
        for row in self.rows:
            if row.currency == currency:
                sums[row.business_date] += row.net
        return [sums[day] for day in self.days()]


def checked_range(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The range asked for, defaulting to the last 7 days up to ``today``; refused when
    backwards or longer than ``MAX_DAYS``."""
    last = last or today
    first = first or last - timedelta(days=6)
    if first > last:
        raise InvalidRequest(
            "The first day comes after the last.",
            code="invalid_date_range",
            param="from",
            details={"first_date": first, "last_date": last},
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidRequest(
            f"A report covers at most {MAX_DAYS} days.",
            code="date_range_too_long",
            param="from",
            details={"days": MAX_DAYS},
        )
    return first, last


def _instant(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(), tzinfo=ZoneInfo(timezone))


async def redemption_report(session: AsyncSession, query: ReportQuery) -> Report:
    """The report's rows, sorted by day, store and terminal."""
    statement = select(
        Redemption.created_at,
        Redemption.store_id,
        Redemption.terminal_id,
        Redemption.currency,
        Redemption.status,
        Redemption.amount,
        Redemption.refunded,
        Redemption.fee,
        Redemption.refunded_fee,
    ).where(
        Redemption.kind.in_(("redemption", "authorization")),
        Redemption.status.in_((*TOOK_VALUE, "declined")),
        Redemption.created_at >= _instant(query.first_date, query.timezone),
        Redemption.created_at < _instant(query.last_date + timedelta(days=1), query.timezone),
    )
    if query.merchant_id is not None:
        statement = statement.where(Redemption.merchant_id == query.merchant_id)
    if query.store_id is not None:
        statement = statement.where(Redemption.store_id == query.store_id)
    grouped: dict[tuple[date, str, str, str], ReportRow] = {}
    result = await session.stream(statement.execution_options(yield_per=1000))
    async for row in result:
        add(grouped, Sums(*row), query.timezone)
    return Report(query, [grouped[key] for key in sorted(grouped)])


@dataclass(frozen=True)
class Sums:
    """One redemption's columns the report reads."""

    created_at: datetime
    store_id: str | None
    terminal_id: str | None
    currency: str
    status: str
    amount: int
    refunded: int
    fee: int
    refunded_fee: int


def add(grouped: dict[tuple[date, str, str, str], ReportRow], one: Sums, timezone: str) -> None:
    """Count ``one`` into its (business day, store, terminal, currency) row."""
    day = business_date(ensure_utc(one.created_at), timezone)
    key = (day, one.store_id or "", one.terminal_id or "", one.currency)
    row = grouped.get(key)
    if row is None:
        row = grouped[key] = ReportRow(day, one.store_id, one.terminal_id, one.currency)
    if one.status == "declined":
        row.declined += 1
        return
    row.count += 1
    row.amount += one.amount
    row.refunded += one.refunded
    row.fee += one.fee - one.refunded_fee
