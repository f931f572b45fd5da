"""Money: construction, parsing, formatting, arithmetic, rates and allocation.

Hypothesis covers the algebra (round trips, allocation sums, arithmetic laws); known cases
pin the exact outputs people read (formatting, rounding on .5 boundaries).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tongka.errors import InvalidRequest
from tongka.money import (
    CURRENCIES,
    CurrencyMismatch,
    InvalidAllocation,
    Money,
    MoneyError,
    MoneyModel,
    Rounding,
    UnknownCurrency,
    allocate,
    currency_exponent,
    format_money,
    from_json,
    percentage,
    split_evenly,
    to_json,
    total,
)

currencies = st.sampled_from(sorted(CURRENCIES))
minor_units = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def moneys(draw: st.DrawFn, currency: str | None = None) -> Money:
    return Money(draw(minor_units), currency or draw(currencies))


@st.composite
def same_currency_pair(draw: st.DrawFn) -> tuple[Money, Money]:
    currency = draw(currencies)
    return draw(moneys(currency)), draw(moneys(currency))


ratio_values = st.one_of(
    st.integers(min_value=0, max_value=1000),
    st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False),
)
ratio_lists = st.lists(ratio_values, min_size=1, max_size=8).filter(any)


# --- currencies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("CNY", 2), ("USD", 2), ("HKD", 2), ("EUR", 2), ("JPY", 0)],
)
def test_currency_exponents_are_the_iso_4217_ones(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize("code", ["XXX", "cny", "", "CN"])
def test_unknown_currency_is_refused_with_a_coded_error(code: str) -> None:
    with pytest.raises(UnknownCurrency) as raised:
        currency_exponent(code)
    assert raised.value.code == "unknown_currency"
    with pytest.raises(UnknownCurrency):
        Money(1, code)


def test_money_errors_are_invalid_requests() -> None:
    assert issubclass(MoneyError, InvalidRequest)
    assert MoneyError.code == "invalid_amount"
    assert issubclass(CurrencyMismatch, MoneyError)
    assert issubclass(InvalidAllocation, MoneyError)


# --- construction -------------------------------------------------------------------------


def test_default_currency_is_cny() -> None:
    assert Money(1234) == Money(1234, "CNY") == Money.of_minor(1234)
    assert Money.zero() == Money(0, "CNY")


def test_money_is_immutable_and_hashable() -> None:
    money = Money(100, "USD")
    with pytest.raises(AttributeError):
        money.minor_units = 5  # type: ignore[misc]
    assert {money, Money(100, "USD"), Money(100, "HKD")} == {money, Money(100, "HKD")}


NOT_INTEGERS = [
    pytest.param(12.34, id="float"),
    pytest.param(1.0, id="whole-float"),
    pytest.param(True, id="bool"),
    pytest.param(Decimal("12"), id="decimal"),
    pytest.param("1234", id="str"),
    pytest.param(None, id="none"),
]
CONSTRUCTORS = [
    pytest.param(lambda value: Money(value, "CNY"), id="Money"),
    pytest.param(lambda value: Money.of_minor(value, "CNY"), id="of_minor"),
    pytest.param(lambda value: from_json({"amount": value, "currency": "CNY"}), id="from_json"),
]


@pytest.mark.parametrize("value", NOT_INTEGERS)
@pytest.mark.parametrize("construct", CONSTRUCTORS)
def test_constructors_refuse_anything_but_int(construct, value) -> None:
    with pytest.raises(MoneyError) as raised:
        construct(value)
    assert raised.value.code == "invalid_amount"


@pytest.mark.parametrize("value", [12.34, 1.0, True, 1234, None])
def test_parse_refuses_non_text(value) -> None:
    with pytest.raises(MoneyError):
        Money.parse(value)


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("12.34", "CNY", 1234),
        ("12.3", "CNY", 1230),
        ("12", "CNY", 1200),
        ("0.01", "USD", 1),
        ("-0.05", "HKD", -5),
        ("-12.34", "CNY", -1234),
        ("1,234.56", "CNY", 123456),
        ("1,234,567", "EUR", 123456700),
        ("  7.5 ", "USD", 750),
        ("1234", "JPY", 1234),
        ("-1,234", "JPY", -1234),
        ("0.10", "CNY", 10),
        ("123456789012345678901234567890.12", "CNY", 12345678901234567890123456789012),
    ],
)
def test_parse_reads_major_units_exactly(text: str, currency: str, expected: int) -> None:
    assert Money.parse(text, currency) == Money(expected, currency)


def test_parse_accepts_a_decimal() -> None:
    assert Money.parse(Decimal("12.34"), "CNY") == Money(1234, "CNY")
    assert Money.parse(Decimal("1E+3"), "JPY") == Money(1000, "JPY")


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        pytest.param("12.345", "CNY", id="three-places-cny"),
        pytest.param("12.340", "CNY", id="surplus-zero"),
        pytest.param("12.5", "JPY", id="jpy-decimal"),
        pytest.param("12.0", "JPY", id="jpy-zero-decimal"),
        pytest.param("0.001", "USD", id="sub-cent"),
    ],
)
def test_parse_refuses_more_places_than_the_currency_has(text: str, currency: str) -> None:
    with pytest.raises(MoneyError) as raised:
        Money.parse(text, currency)
    assert raised.value.code == "invalid_amount"
    assert currency in raised.value.message


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "NaN",
        "nan",
        "inf",
        "-Infinity",
        "sNaN",
        "1e3",
        "+12.34",
        "--1",
        "12.",
        ".5",
        "12,34",
        "1,2345.00",
        ",123",
        "1 234",
        "¥12.34",
        "12.34 CNY",
        "0x10",
        "١٢",  # Arabic-Indic digits: Decimal would accept them, we do not
        "1_000",
    ],
)
def test_parse_refuses_garbage(text: str) -> None:
    with pytest.raises(MoneyError) as raised:
        Money.parse(text, "CNY")
    assert raised.value.code == "invalid_amount"


@given(st.text(max_size=20), currencies)
def test_parse_of_any_text_returns_money_or_raises_money_error(text: str, currency: str) -> None:
    try:
        money = Money.parse(text, currency)
    except MoneyError:
        return
    assert Money.parse(money.to_decimal_string(), currency) == money


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("1E+999999")])
def test_parse_refuses_non_finite_or_absurd_decimals(value: Decimal) -> None:
    with pytest.raises(MoneyError):
        Money.parse(value, "CNY")


def test_parse_never_touches_float() -> None:
    # 0.1 + 0.2 style drift would show up on amounts like this one
    assert Money.parse("90071992547409.93", "CNY").minor_units == 9007199254740993


@given(moneys())
def test_parse_reads_back_the_decimal_string(money: Money) -> None:
    assert Money.parse(money.to_decimal_string(), money.currency) == money


@given(moneys())
def test_parse_reads_back_the_formatted_digits(money: Money) -> None:
    assert Money.parse(format_money(money, with_symbol=False), money.currency) == money


@given(moneys())
def test_to_decimal_matches_the_decimal_string(money: Money) -> None:
    assert money.to_decimal() == Decimal(money.minor_units) / 10**money.exponent
    assert str(money.to_decimal()) == money.to_decimal_string()


# --- formatting ---------------------------------------------------------------------------


FORMAT_CASES = [
    (Money(123456, "CNY"), "¥1,234.56", "1234.56"),
    (Money(-123456, "CNY"), "-¥1,234.56", "-1234.56"),
    (Money(0, "CNY"), "¥0.00", "0.00"),
    (Money(5, "CNY"), "¥0.05", "0.05"),
    (Money(-5, "USD"), "-$0.05", "-0.05"),
    (Money(100000000, "USD"), "$1,000,000.00", "1000000.00"),
    (Money(1999, "HKD"), "HK$19.99", "19.99"),
    (Money(1234, "EUR"), "€12.34", "12.34"),
    (Money(1234567, "JPY"), "JP¥1,234,567", "1234567"),
    (Money(-7, "JPY"), "-JP¥7", "-7"),
]


@pytest.mark.parametrize(
    ("money", "display", "export"),
    [pytest.param(*case, id=f"{case[0].currency} {case[2]}") for case in FORMAT_CASES],
)
def test_format_for_people_and_for_exports(money: Money, display: str, export: str) -> None:
    assert format_money(money) == display
    assert str(money) == display
    assert money.to_decimal_string() == export


# --- arithmetic ---------------------------------------------------------------------------


@given(same_currency_pair(), st.data())
def test_addition_laws(pair: tuple[Money, Money], data: st.DataObject) -> None:
    first, second = pair
    third = data.draw(moneys(first.currency))
    zero = Money.zero(first.currency)
    assert first + second == second + first
    assert (first + second) + third == first + (second + third)
    assert first + zero == first
    assert first + (-first) == zero
    assert first - second == first + (-second)
    negated = -first
    assert -negated == first
    assert (first + second).minor_units == first.minor_units + second.minor_units


@given(moneys(), st.integers(min_value=-1000, max_value=1000), st.integers(-1000, 1000))
def test_multiplication_by_int_distributes(money: Money, left: int, right: int) -> None:
    assert money * (left + right) == money * left + money * right
    assert left * money == money * left
    assert (money * left).minor_units == money.minor_units * left


@given(same_currency_pair())
def test_ordering_follows_minor_units(pair: tuple[Money, Money]) -> None:
    first, second = pair
    assert (first < second) == (first.minor_units < second.minor_units)
    assert (first <= second) == (first.minor_units <= second.minor_units)
    assert (first > second) == (first.minor_units > second.minor_units)
    assert (first >= second) == (first.minor_units >= second.minor_units)


@given(st.lists(moneys("USD"), max_size=10))
def test_sum_with_a_start_value_and_total(amounts: list[Money]) -> None:
    expected = Money(sum(money.minor_units for money in amounts), "USD")
    assert sum(amounts, Money.zero("USD")) == expected
    assert total(amounts, "USD") == expected


def test_total_of_nothing_is_zero_in_the_named_currency() -> None:
    assert total([], "JPY") == Money(0, "JPY")


def test_sign_helpers_and_abs() -> None:
    assert Money(-5).is_negative
    assert not Money(-5).is_positive
    assert Money(0).is_zero
    assert abs(Money(-5)) == Money(5)
    assert +Money(3) == Money(3)


MIXED_OPERATIONS = [
    pytest.param(lambda first, second: first + second, id="add"),
    pytest.param(lambda first, second: first - second, id="subtract"),
    pytest.param(lambda first, second: first < second, id="less"),
    pytest.param(lambda first, second: first <= second, id="less-equal"),
    pytest.param(lambda first, second: first > second, id="greater"),
    pytest.param(lambda first, second: first >= second, id="greater-equal"),
    pytest.param(lambda first, second: sum([first, second], Money.zero()), id="sum"),
]


@pytest.mark.parametrize("operation", MIXED_OPERATIONS)
def test_mixed_currencies_are_refused(operation) -> None:
    with pytest.raises(CurrencyMismatch) as raised:
        operation(Money(100, "CNY"), Money(100, "USD"))
    assert raised.value.code == "currency_mismatch"
    assert raised.value.details == {"currencies": ["CNY", "USD"]}


def test_amounts_in_different_currencies_are_unequal_not_an_error() -> None:
    assert Money(100, "CNY") != Money(100, "USD")


@pytest.mark.parametrize("factor", [1.5, 2.0, Decimal("2"), True, "2", Fraction(1, 2)])
def test_multiplication_refuses_anything_but_int(factor) -> None:
    with pytest.raises(MoneyError):
        Money(100) * factor
    with pytest.raises(MoneyError):
        factor * Money(100)


@pytest.mark.parametrize("other", [1, 1.5, Decimal("1")])
def test_adding_a_plain_number_is_refused(other) -> None:
    with pytest.raises(MoneyError):
        Money(100) + other
    with pytest.raises(TypeError):
        other + Money(100)


# --- rates --------------------------------------------------------------------------------


HALF_UP, HALF_EVEN, HALF_DOWN = Rounding.HALF_UP, Rounding.HALF_EVEN, Rounding.HALF_DOWN
DOWN, UP, FLOOR, CEILING = Rounding.DOWN, Rounding.UP, Rounding.FLOOR, Rounding.CEILING
ROUNDING_CASES = [
    # (minor units, rate, {mode: expected minor units})
    # exact halves: 0.5 of 5 = 2.5, of 7 = 3.5, of -5 = -2.5
    (5, "0.5", {HALF_UP: 3, HALF_EVEN: 2, HALF_DOWN: 2, DOWN: 2, UP: 3, FLOOR: 2, CEILING: 3}),
    (7, "0.5", {HALF_UP: 4, HALF_EVEN: 4, HALF_DOWN: 3, DOWN: 3, UP: 4}),
    (-5, "0.5", {HALF_UP: -3, HALF_EVEN: -2, HALF_DOWN: -2, DOWN: -2, FLOOR: -3, CEILING: -2}),
    # 0.3% of ¥5.00 = 1.5 fen; of ¥15.00 = 4.5 fen; of ¥8.50 = 2.55 fen
    (500, "0.003", {HALF_UP: 2, HALF_EVEN: 2, DOWN: 1}),
    (1500, "0.003", {HALF_UP: 5, HALF_EVEN: 4, DOWN: 4}),
    (850, "0.003", {HALF_UP: 3, HALF_EVEN: 3, DOWN: 2, UP: 3}),
    # 0.6% of ¥1,234.56 = 740.736 fen
    (123456, "0.006", {HALF_UP: 741, HALF_EVEN: 741, DOWN: 740, FLOOR: 740}),
    (100, "0", {UP: 0}),
    (100, "1", {DOWN: 100}),
]


@pytest.mark.parametrize(
    ("minor", "rate", "rounding", "expected"),
    [
        pytest.param(minor, rate, mode, expected, id=f"{minor}x{rate}-{mode.name}")
        for minor, rate, by_mode in ROUNDING_CASES
        for mode, expected in by_mode.items()
    ],
)
def test_apply_rate_rounds_with_the_named_mode(
    minor: int, rate: str, rounding: Rounding, expected: int
) -> None:
    money = Money(minor, "CNY")
    assert money.apply_rate(Decimal(rate), rounding=rounding) == Money(expected, "CNY")
    assert percentage(money, Decimal(rate), rounding=rounding) == Money(expected, "CNY")


def test_apply_rate_is_exact_beyond_the_default_decimal_precision() -> None:
    # 29 significant digits times a rate: the default 28-digit context would round early
    big = Money(10**28 + 1, "USD")
    assert big.apply_rate(Decimal("0.5"), rounding=Rounding.HALF_UP) == Money(5 * 10**27 + 1, "USD")


@given(
    moneys(),
    st.decimals(min_value=-2, max_value=2, places=6, allow_nan=False, allow_infinity=False),
    st.sampled_from(list(Rounding)),
)
def test_apply_rate_is_within_one_minor_unit_of_the_exact_product(
    money: Money, rate: Decimal, rounding: Rounding
) -> None:
    exact = Fraction(money.minor_units) * Fraction(rate)
    result = money.apply_rate(rate, rounding=rounding)
    assert result.currency == money.currency
    assert abs(Fraction(result.minor_units) - exact) < 1


@pytest.mark.parametrize(
    "rate",
    [0.003, Decimal("NaN"), Decimal("Infinity"), "0.003", True, Fraction(3, 1000)],
)
def test_apply_rate_refuses_inexact_or_non_finite_rates(rate) -> None:
    with pytest.raises(MoneyError):
        Money(100).apply_rate(rate, rounding=Rounding.HALF_UP)


def test_apply_rate_requires_a_named_rounding() -> None:
    with pytest.raises(TypeError):
        Money(100).apply_rate(Decimal("0.1"))  # type: ignore[call-arg]


# --- allocation ---------------------------------------------------------------------------


@given(moneys(), ratio_lists)
def test_allocation_sums_to_the_whole_and_stays_near_each_share(
    money: Money, ratios: list[int | Decimal]
) -> None:
    parts = allocate(money, ratios)
    ratio_total = sum(Fraction(ratio) for ratio in ratios)
    assert len(parts) == len(ratios)
    assert total(parts, money.currency) == money
    for part, ratio in zip(parts, ratios, strict=True):
        exact_share = Fraction(money.minor_units) * Fraction(ratio) / ratio_total
        assert part.currency == money.currency
        assert abs(Fraction(part.minor_units) - exact_share) < 1
        if ratio == 0:
            assert part.is_zero


@given(moneys(), ratio_lists)
def test_allocating_a_negative_amount_mirrors_the_positive_one(
    money: Money, ratios: list[int | Decimal]
) -> None:
    assert allocate(-money, ratios) == [-part for part in allocate(money, ratios)]


@given(moneys(), ratio_lists, st.integers(min_value=1, max_value=50))
def test_allocation_depends_only_on_the_proportions(
    money: Money, ratios: list[int | Decimal], factor: int
) -> None:
    assert allocate(money, [ratio * factor for ratio in ratios]) == allocate(money, ratios)


@pytest.mark.parametrize(
    ("minor", "ratios", "expected"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (5, [3, 7], [2, 3]),  # 1.5 and 3.5: tie on .5, the earlier ratio wins the unit
        (100, [1, 0, 1], [50, 0, 50]),
        (101, [1, 0, 1], [51, 0, 50]),
        (1, [1, 1, 1], [1, 0, 0]),
        (2, [Decimal("0.2"), Decimal("0.5"), Decimal("0.3")], [0, 1, 1]),
        (1000, [Decimal("0.7"), 0, Decimal("0.3")], [700, 0, 300]),
        (0, [1, 2], [0, 0]),
        (10, [0, 0, 5], [0, 0, 10]),
    ],
)
def test_allocation_known_cases(minor: int, ratios: list, expected: list[int]) -> None:
    assert allocate(Money(minor, "CNY"), ratios) == [Money(part, "CNY") for part in expected]
    assert Money(minor, "CNY").allocate(ratios) == [Money(part, "CNY") for part in expected]


def test_allocation_keeps_the_currency() -> None:
    assert allocate(Money(7, "JPY"), [1, 1]) == [Money(4, "JPY"), Money(3, "JPY")]


@pytest.mark.parametrize(
    "ratios",
    [
        pytest.param([], id="empty"),
        pytest.param([0, 0], id="all-zero"),
        pytest.param([Decimal("0"), 0], id="all-zero-decimal"),
        pytest.param([1, -1], id="negative"),
        pytest.param([Decimal("-0.5"), 2], id="negative-decimal"),
        pytest.param([0.5, 0.5], id="float"),
        pytest.param([True, 1], id="bool"),
        pytest.param([Decimal("NaN"), 1], id="nan"),
        pytest.param([Decimal("Infinity"), 1], id="infinity"),
        pytest.param([Decimal("1E-999999"), 1], id="absurd-exponent"),
        pytest.param(["1", 1], id="str"),
    ],
)
def test_allocation_refuses_bad_ratios(ratios: list) -> None:
    with pytest.raises(MoneyError):
        allocate(Money(100), ratios)


def test_bad_ratios_have_the_allocation_code() -> None:
    with pytest.raises(InvalidAllocation) as raised:
        allocate(Money(100), [0, 0])
    assert raised.value.code == "invalid_allocation"


@given(moneys(), st.integers(min_value=1, max_value=40))
def test_split_evenly_parts_differ_by_at_most_one(money: Money, parts: int) -> None:
    pieces = split_evenly(money, parts)
    units = [piece.minor_units for piece in pieces]
    assert len(pieces) == parts
    assert total(pieces, money.currency) == money
    assert max(units) - min(units) <= 1
    assert units == sorted(units, key=abs, reverse=True)


@pytest.mark.parametrize("parts", [0, -1, 1.0, True])
def test_split_evenly_refuses_bad_part_counts(parts) -> None:
    with pytest.raises(MoneyError):
        split_evenly(Money(100), parts)


# --- JSON ---------------------------------------------------------------------------------


@given(moneys())
def test_json_round_trips(money: Money) -> None:
    assert from_json(to_json(money)) == money
    assert MoneyModel.from_money(money).to_money() == money
    assert MoneyModel.model_validate_json(MoneyModel.from_money(money).model_dump_json()) == (
        MoneyModel(amount=money.minor_units, currency=money.currency)
    )


def test_json_shape_is_integer_minor_units() -> None:
    money = Money(123456, "CNY")
    assert to_json(money) == {"amount": 123456, "currency": "CNY"}
    assert MoneyModel.from_money(money).model_dump() == {"amount": 123456, "currency": "CNY"}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"amount": 12.34, "currency": "CNY"}, id="float"),
        pytest.param({"amount": "1234", "currency": "CNY"}, id="string-amount"),
        pytest.param({"amount": True, "currency": "CNY"}, id="bool"),
        pytest.param({"amount": 1, "currency": "XXX"}, id="unknown-currency"),
        pytest.param({"amount": 1, "currency": "cny"}, id="lower-case-currency"),
        pytest.param({"amount": 1, "currency": "CNY", "extra": 1}, id="extra-field"),
    ],
)
def test_money_model_refuses_bad_payloads(payload: dict) -> None:
    with pytest.raises(ValidationError):
        MoneyModel.model_validate(payload)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"amount": 1}, id="missing-currency"),
        pytest.param({"amount": 1, "currency": "CNY", "extra": 1}, id="extra-field"),
        pytest.param([1, "CNY"], id="list"),
        pytest.param({"amount": 1, "currency": "XXX"}, id="unknown-currency"),
    ],
)
def test_from_json_refuses_bad_shapes_with_a_money_error(payload: object) -> None:
    with pytest.raises(MoneyError):
        from_json(payload)
