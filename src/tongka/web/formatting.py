"""Jinja filters: money, times in the platform's zone, masked card numbers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tongka.money import Money
from tongka.money import format_money as money_text


def format_money(amount: Money | int | None, currency: str | None = None) -> str:
    """``123456, "CNY"`` (integer minor units) or a ``Money`` -> ``¥1,234.56``.

    A bare integer needs its currency: there is no default, so a template can never show
    a USD amount with a ``¥`` (every amount is shown in its own currency).
    """
    if amount is None:
        return ""
    if isinstance(amount, Money):
        return money_text(amount)
    if currency is None:
        raise TypeError("format_money needs the currency of a bare integer amount")
    money = Money.of_minor(amount, currency)
    return money_text(money)


DEFAULT_TIMEZONE = "Asia/Shanghai"  # the platform's, unless the settings say otherwise


def format_time(moment: datetime | None, timezone: str = DEFAULT_TIMEZONE) -> str:
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
