"""Business days of mainland China: weekends off, holidays off, make-up working days on.

Settlement cycles (T+1, T+3, T+7) count business days, not calendar days: a T+1 batch of
the Friday before the Spring Festival is paid after the festival. The calendar is data:
the seeded years (``holidays.py``) overlaid by the platform's edits in
``settlement_calendar_days`` (a row there wins), read once per unit of work into an
immutable ``BusinessCalendar`` whose arithmetic is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.errors import InvalidRequest
from tongka.settlement.holidays import seeded_days
from tongka.settlement.models import CalendarDay

SATURDAY = 5
MAX_STEP = 3660  # no run of days off is longer than this: a guard against a broken table


@dataclass(frozen=True)
class BusinessCalendar:
    """``special``: the days that differ from the weekday rule (``True`` = a working day)."""

    special: Mapping[date, bool] = field(default_factory=lambda: MappingProxyType({}))

    def is_business_day(self, day: date) -> bool:
        if day in self.special:
            return self.special[day]
        return day.weekday() < SATURDAY

    def add_business_days(self, day: date, count: int) -> date:
        """The ``count``-th business day after ``day`` (before it, for a negative count).

        ``count == 0`` is ``day`` itself when it is a business day, else the next one
        (T+0 of a Sunday is paid on Monday).
        """
        if count == 0:
            return self.next_business_day(day, include=True)
        step = 1 if count > 0 else -1
        remaining, current, guard = abs(count), day, 0
        while remaining:
            current += timedelta(days=step)
            guard += 1
            if guard > MAX_STEP * abs(count):
                raise ValueError("the calendar has no business day in ten years")
            if self.is_business_day(current):
                remaining -= 1
        return current

    def next_business_day(self, day: date, *, include: bool = False) -> date:
        current = day if include else day + timedelta(days=1)
        for _ in range(MAX_STEP):
            if self.is_business_day(current):
                return current
            current += timedelta(days=1)
        raise ValueError("the calendar has no business day in ten years")

    def previous_business_day(self, day: date) -> date:
        return self.add_business_days(day, -1)

    def business_days_between(self, first: date, last: date) -> int:
        """Business days in ``(first, last]``: how many steps ``add_business_days`` took."""
        days = (last - first).days
        return sum(self.is_business_day(first + timedelta(days=n)) for n in range(1, days + 1))


def seeded_calendar() -> BusinessCalendar:
    special = {day: is_on for day, (is_on, _) in seeded_days().items()}
    return BusinessCalendar(MappingProxyType(special))


async def load_calendar(session: AsyncSession) -> BusinessCalendar:
    """The seeded days overlaid by the platform's edits."""
    special = {day: is_on for day, (is_on, _) in seeded_days().items()}
    rows = (await session.scalars(select(CalendarDay))).all()
    for row in rows:
        special[row.day] = row.is_business_day
        if row.is_business_day == (row.day.weekday() < SATURDAY):
            del special[row.day]  # an edit back to the weekday rule
    return BusinessCalendar(MappingProxyType(special))


async def set_day(
    session: AsyncSession,
    day: date,
    *,
    is_business_day: bool,
    name: str,
    actor: str,
    now: datetime,
) -> CalendarDay:
    """Mark ``day`` a working day or a day off (a holiday, or a make-up working day on a
    weekend); replaces an earlier edit of the same day."""
    name = name.strip()
    if not name or len(name) > 60:
        raise InvalidRequest(
            "Name the day (1 to 60 characters), e.g. 春节 or 国庆节调休上班.",
            code="invalid_calendar_day",
            param="name",
        )
    row = await session.get(CalendarDay, day)
    if row is None:
        row = CalendarDay(day=day)
        session.add(row)
    row.is_business_day, row.name = is_business_day, name
    row.updated_by, row.updated_at = actor, now
    await session.flush()
    return row


def special_days_of(calendar: BusinessCalendar, year: int) -> list[tuple[date, bool]]:
    return sorted((d, on) for d, on in calendar.special.items() if d.year == year)
