"""Console filters: money from integer minor units, local times, masked card numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tongka.money import Money, MoneyError
from tongka.web.formatting import format_money, format_time, mask_card_number
from tongka.web.i18n import gettext


@pytest.mark.parametrize(
    ("minor_units", "currency", "shown"),
    [
        (123456, "CNY", "¥1,234.56"),
        (5, "CNY", "¥0.05"),
        (-100000000, "CNY", "-¥1,000,000.00"),
        (1500, "JPY", "JP¥1,500"),
    ],
)
def test_money_is_formatted_from_minor_units(minor_units: int, currency: str, shown: str) -> None:
    assert format_money(minor_units, currency) == shown


def test_money_accepts_money_and_refuses_floats_and_unknown_currencies() -> None:
    assert format_money(Money.of_minor(-5, "USD")) == "-$0.05"
    with pytest.raises(MoneyError):
        format_money(12.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        format_money(99, "XYZ")


def test_a_bare_integer_needs_its_currency() -> None:
    with pytest.raises(TypeError):
        format_money(100)


def test_times_show_in_the_platform_zone() -> None:
    assert format_time(datetime(2026, 1, 1, 16, 30, tzinfo=UTC)) == "2026-01-02 00:30"
    assert format_time(None) == ""


def test_card_numbers_are_masked() -> None:
    assert mask_card_number("6288123412341234") == "6288 **** **** 1234"
    assert mask_card_number("6288 1234 1234 1234") == "6288 **** **** 1234"


def test_texts_come_from_the_catalogs_with_their_parameters() -> None:
    assert gettext("en", "Stores") == "Stores"
    assert gettext("zh-CN", "Stores") == "门店"
    assert gettext("zh-CN", "No such text in any catalog") == "No such text in any catalog"
    assert gettext("fr", "Stores") == "门店"  # an unknown language gets the default
