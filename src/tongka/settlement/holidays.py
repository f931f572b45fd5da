"""The seeded mainland-China holiday calendar: the platform's editable starting data.

Each year's days off and make-up working days (调休上班) are published by the State Council
General Office every autumn (国务院办公厅关于<year>年部分节假日安排的通知). The platform edits
them in ``settlement_calendar_days`` (``calendar.set_day``); a row there overrides what is
written here, so a correction never needs a release.

2026: from the State Council General Office's notice on the 2026 holiday arrangements
(国务院办公厅关于2026年部分节假日安排的通知, published November 2025).

2027: PROVISIONAL — only the statutory holidays of the 全国年节及纪念日放假办法 (2024
revision: 元旦 1, 春节 4 incl. 除夕, 清明 1, 劳动节 2, 端午 1, 中秋 1, 国庆 3 days) on
their 2027 dates. The bridge days and make-up working days are not known until the 2027
notice is published; the platform must enter them (``tongka settlement calendar set``).
"""

from __future__ import annotations

from datetime import date, timedelta


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# (holiday name, days off, make-up working days)
SEEDED: dict[int, list[tuple[str, list[date], list[date]]]] = {
    2026: [
        ("元旦", _span(date(2026, 1, 1), date(2026, 1, 3)), [date(2026, 1, 4)]),
        (
            "春节",
            _span(date(2026, 2, 15), date(2026, 2, 23)),
            [date(2026, 2, 14), date(2026, 2, 28)],
        ),
        ("清明节", _span(date(2026, 4, 4), date(2026, 4, 6)), []),
        ("劳动节", _span(date(2026, 5, 1), date(2026, 5, 5)), [date(2026, 5, 9)]),
        ("端午节", _span(date(2026, 6, 19), date(2026, 6, 21)), []),
        ("中秋节", _span(date(2026, 9, 25), date(2026, 9, 27)), []),
        (
            "国庆节",
            _span(date(2026, 10, 1), date(2026, 10, 7)),
            [date(2026, 9, 20), date(2026, 10, 10)],
        ),
    ],
    2027: [  # provisional: statutory days only (see the module docstring)
        ("元旦", [date(2027, 1, 1)], []),
        ("春节", _span(date(2027, 2, 5), date(2027, 2, 8)), []),
        ("清明节", [date(2027, 4, 5)], []),
        ("劳动节", _span(date(2027, 5, 1), date(2027, 5, 2)), []),
        ("端午节", [date(2027, 6, 9)], []),
        ("中秋节", [date(2027, 9, 15)], []),
        ("国庆节", _span(date(2027, 10, 1), date(2027, 10, 3)), []),
    ],
}
PROVISIONAL_YEARS = frozenset({2027})


def seeded_days() -> dict[date, tuple[bool, str]]:
    """Every seeded special day: ``date -> (is_business_day, name)``."""
    days: dict[date, tuple[bool, str]] = {}
    for entries in SEEDED.values():
        for name, off, on in entries:
            days.update({day: (False, name) for day in off})
            days.update({day: (True, f"{name}调休上班") for day in on})
    return days
