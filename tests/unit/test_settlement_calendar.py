"""Business-day arithmetic across the Spring Festival and National Day, make-up days included."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongka.settlement.calendar import BusinessCalendar, seeded_calendar

CALENDAR = seeded_calendar()


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        # Friday 13 Feb 2026 + 1: Saturday 14 Feb is a make-up working day (调休上班)
        (date(2026, 2, 13), 1, date(2026, 2, 14)),
        # Saturday 14 Feb + 1: the festival runs 15-23 Feb, so Tuesday 24 Feb
        (date(2026, 2, 14), 1, date(2026, 2, 24)),
        # inside the festival, T+1 of a day off is the first working day after it
        (date(2026, 2, 17), 1, date(2026, 2, 24)),
        # Friday 27 Feb + 1: Saturday 28 Feb is a make-up day
        (date(2026, 2, 27), 1, date(2026, 2, 28)),
        (date(2026, 2, 13), 3, date(2026, 2, 25)),
        (date(2026, 2, 13), 6, date(2026, 2, 28)),
        (date(2026, 2, 13), 7, date(2026, 3, 2)),
        # Friday 18 Sep 2026 + 1: Sunday 20 Sep is a make-up day before National Day
        (date(2026, 9, 18), 1, date(2026, 9, 20)),
        # Mid-Autumn 25-27 Sep: Thursday 24 + 1 is Monday 28
        (date(2026, 9, 24), 1, date(2026, 9, 28)),
        # Wednesday 30 Sep + 1: 1-7 Oct off, Thursday 8 Oct
        (date(2026, 9, 30), 1, date(2026, 10, 8)),
        # Thursday 8 Oct + 2: Friday 9, Saturday 10 (make-up day)
        (date(2026, 10, 8), 2, date(2026, 10, 10)),
        (date(2026, 9, 30), 3, date(2026, 10, 10)),
        # going back over the festival
        (date(2026, 2, 24), -1, date(2026, 2, 14)),
        (date(2026, 10, 8), -1, date(2026, 9, 30)),
    ],
    ids=str,
)
def test_add_business_days_over_the_holidays(start: date, count: int, expected: date) -> None:
    assert CALENDAR.add_business_days(start, count) == expected


def test_make_up_days_are_working_days_and_festival_days_are_not() -> None:
    assert CALENDAR.is_business_day(date(2026, 2, 14))  # a Saturday
    assert CALENDAR.is_business_day(date(2026, 9, 20))  # a Sunday
    assert not CALENDAR.is_business_day(date(2026, 2, 16))  # a Monday in the festival
    assert not CALENDAR.is_business_day(date(2026, 10, 5))  # a Monday in National Day
    assert not CALENDAR.is_business_day(date(2026, 3, 7))  # an ordinary Saturday
    assert CALENDAR.is_business_day(date(2026, 3, 9))  # an ordinary Monday


def test_t_plus_zero_of_a_day_off_is_the_next_working_day() -> None:
    assert CALENDAR.add_business_days(date(2026, 10, 3), 0) == date(2026, 10, 8)
    assert CALENDAR.add_business_days(date(2026, 10, 9), 0) == date(2026, 10, 9)


def test_an_edit_overrides_the_seeded_days() -> None:
    # given: the platform makes 13 Feb 2026 a day off and a Saturday a working day
    edited = BusinessCalendar({**CALENDAR.special, date(2026, 2, 13): False})
    # then
    assert edited.add_business_days(date(2026, 2, 12), 1) == date(2026, 2, 14)


days = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))
counts = st.integers(min_value=0, max_value=30)


@given(days, counts)
def test_adding_lands_on_a_business_day_that_many_business_days_later(
    day: date, count: int
) -> None:
    later = CALENDAR.add_business_days(day, count)
    assert CALENDAR.is_business_day(later)
    assert later >= day
    if count > 0:
        assert CALENDAR.business_days_between(day, later) == count


@given(days, counts, counts)
def test_adding_in_two_steps_equals_adding_once(day: date, first: int, second: int) -> None:
    once = CALENDAR.add_business_days(day, first + second)
    if first > 0:
        stepped = CALENDAR.add_business_days(CALENDAR.add_business_days(day, first), second)
        assert stepped == once


@given(days, st.integers(min_value=1, max_value=30))
def test_going_forward_then_back_returns_to_a_business_day(day: date, count: int) -> None:
    forward = CALENDAR.add_business_days(day, count)
    back = CALENDAR.add_business_days(forward, -count)
    if CALENDAR.is_business_day(day):
        assert back == day
    else:  # from a day off, one step forward was only to reach a business day
        assert day - timedelta(days=15) <= back < day
