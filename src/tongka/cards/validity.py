"""How long a card is valid, on the platform's business dates (ARCHITECTURE rule 9).

A card with a validity of N months, activated on business date D (in the platform's time
zone, ``settings.timezone``), is valid through business date D + N months and expires at
that day's last instant, stored as ``Card.expires_at`` (UTC). So comparing ``expires_at``
with an instant compares business dates: the expiry job run on or after the end of that
day expires the card, whatever the UTC hour of the activation.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from tongka.clock import business_date
from tongka.config import Settings

DEFAULT_TIMEZONE: str = Settings.model_fields["timezone"].default

D = TypeVar("D", date, datetime)


def add_months(moment: D, months: int) -> D:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def end_of_business_date(day: date, timezone: str) -> datetime:
    """The last instant of ``day`` in the platform's time zone."""
    start_next = datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(timezone))
    return start_next - timedelta(microseconds=1)


def expiry_moment(activated_at: datetime, months: int, timezone: str) -> datetime:
    """The last instant of the business date ``months`` after the activation's."""
    return end_of_business_date(add_months(business_date(activated_at, timezone), months), timezone)


def days_ahead(now: datetime, days: int, timezone: str) -> datetime:
    """The last instant of the business date ``days`` after today's (reminders, grace)."""
    return end_of_business_date(business_date(now, timezone) + timedelta(days=days), timezone)
