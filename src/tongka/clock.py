"""Time as a dependency (ARCHITECTURE rule 9): services take a clock so tests can move it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK = SystemClock()  # the one place the wall clock is read (ids use it; see ids.py)


@dataclass
class FixedClock:
    """A clock tests set and advance by hand."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta


def business_date(moment: datetime, timezone: str) -> date:
    """The platform's business date of an instant (daily limits, T+1, expiry).

    ``timezone`` is the caller's ``Settings.timezone`` (an IANA name): the platform's zone is
    configuration, so no default here could be right for every deployment.
    """
    if moment.tzinfo is None:
        raise ValueError("naive datetime: Tongka only handles timezone-aware times")
    return moment.astimezone(ZoneInfo(timezone)).date()


def ensure_utc(moment: datetime) -> datetime:
    """Normalise a datetime read back from the database (SQLite drops the zone) to UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
