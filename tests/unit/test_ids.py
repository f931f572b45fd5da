"""Ids take their time from ``tongka.clock``; business dates from the configured zone."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, timedelta

from tongka import ids
from tongka.clock import FixedClock, business_date
from tongka.config import Settings


def test_an_id_carries_the_time_of_the_clock_it_is_given() -> None:
    clock = FixedClock(datetime(2026, 11, 23, tzinfo=UTC))
    first = ids.new_id("card", clock=clock)
    clock.advance(timedelta(milliseconds=1))
    second = ids.new_id("card", clock=clock)
    assert first.startswith("card_")
    assert first[5:15] < second[5:15]  # time part: later clock, later id
    assert ids.new_id("card", clock=clock)[5:15] == second[5:15]


def test_ids_read_no_clock_of_their_own() -> None:
    source = inspect.getsource(ids)
    assert "time.time" not in source
    assert "datetime.now" not in source


def test_the_business_date_follows_the_zone_it_is_given() -> None:
    moment = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)  # 01:30 on the 24th in Shanghai
    assert business_date(moment, "Asia/Shanghai") == date(2026, 11, 24)
    assert business_date(moment, "Europe/London") == date(2026, 11, 23)
    assert business_date(moment, Settings(timezone="America/New_York").timezone) == date(
        2026, 11, 23
    )
    assert inspect.signature(business_date).parameters["timezone"].default is inspect._empty
