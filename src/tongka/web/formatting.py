"""Jinja filters: money, times in the platform's zone, masked card numbers.

Money is formatted from integer minor units with integer arithmetic only (no float ever
touches an amount). When ``tongka.money`` lands its formatting can replace ``format_money``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# symbol and minor-unit exponent per ISO 4217 currency the console shows
CURRENCIES: dict[str, tuple[str, int]] = {
    "CNY": ("¥", 2),
    "HKD": ("HK$", 2),
    "USD": ("$", 2),
    "EUR": ("€", 2),
    "JPY": ("¥", 0),
}


def format_money(minor_units: int | None, currency: str = "CNY") -> str:
    """``123456, "CNY"`` -> ``¥1,234.56``; negative amounts get a leading minus."""
    if minor_units is None:
        return ""
    if isinstance(minor_units, bool) or not isinstance(minor_units, int):
        raise TypeError("money is formatted from integer minor units only")
    symbol, exponent = CURRENCIES.get(currency, (f"{currency} ", 2))
    sign = "-" if minor_units < 0 else ""
    major, minor = divmod(abs(minor_units), 10**exponent)
    fraction = f".{minor:0{exponent}d}" if exponent else ""
    return f"{sign}{symbol}{major:,}{fraction}"


def format_time(moment: datetime | None, timezone: str = "Asia/Shanghai") -> str:
    """An instant as the platform's local time, to the minute (``2026-01-01 08:00``)."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def mask_card_number(number: str | None) -> str:
    """``6288123412341234`` -> ``6288 **** **** 1234``: only the first and last four show."""
    if not number:
        return ""
    digits = number.replace(" ", "")
    if len(digits) <= 8:
        return "*" * len(digits)
    return f"{digits[:4]} **** **** {digits[-4:]}"
