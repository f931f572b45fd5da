"""Money: an immutable amount of integer minor units in one ISO 4217 currency.

Why this module exists: every part of Tongka moves money, and floats cannot represent
``0.10`` exactly. So an amount is always an ``int`` count of the currency's minor unit (fen
for CNY, cents for USD, whole yen for JPY) plus the currency code, and nothing here ever
passes through ``float``:

- ``Money(1234, "CNY")`` / ``Money.of_minor(1234, "CNY")`` is the one constructor; it
  refuses floats, bools and unknown currencies.
- ``Money.parse("12.34", "CNY")`` reads decimal text (or a ``Decimal``) exactly and refuses
  more decimal places than the currency has, instead of rounding silently.
- ``format_money`` renders for people (``¥1,234.56``); ``Money.to_decimal_string`` renders
  for machines (``1234.56``: CSV and beancount exports).
- Arithmetic refuses mixed currencies (``CurrencyMismatch``) and multiplies by ``int`` only.
- ``Money.apply_rate`` / ``percentage`` compute fees from ``Decimal`` rates and round once,
  at a named place, with a ``Rounding`` mode the caller must name.
- ``allocate`` / ``split_evenly`` split an amount so the parts always sum to the whole.
- ``MoneyModel`` / ``to_json`` / ``from_json``: the API shape
  ``{"amount": <int minor units>, "currency": "CNY"}``.

Decisions (so callers need not guess):

- ``parse`` accepts an optional leading ``-``, and thousands separators only when every group
  is exactly three digits (``"1,234.56"`` yes, ``"12,34"`` no): that lets it read back what
  ``format_money(..., with_symbol=False)`` writes, while a misplaced comma -- more likely a
  decimal comma typed by mistake -- is refused rather than guessed at. No ``+``, no
  exponent notation, no currency symbols, no NaN/infinity. Surrounding whitespace is
  ignored.
- ``parse`` refuses surplus decimal places even when they are zeros (``"12.340"`` for CNY,
  ``"5.0"`` for JPY): text with more precision than the currency has usually means the
  wrong currency or a unit mix-up, which is worth a loud error.
- Symbols: ``¥`` means CNY (Tongka's home currency); JPY is written ``JP¥`` so that the two
  are never confused (as in the CLDR zh-Hans locale). USD ``$``, HKD ``HK$``, EUR ``€``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, StrictInt, field_validator

from tongka.errors import InvalidRequest

__all__ = [
    "CURRENCIES",
    "DEFAULT_CURRENCY",
    "Currency",
    "CurrencyMismatch",
    "InvalidAllocation",
    "Money",
    "MoneyError",
    "MoneyModel",
    "Rounding",
    "UnknownCurrency",
    "allocate",
    "currency_exponent",
    "format_money",
    "from_json",
    "get_currency",
    "percentage",
    "split_evenly",
    "to_json",
    "total",
]


class MoneyError(InvalidRequest):
    """An amount that cannot be built or used as asked (bad text, float, wrong type...)."""

    code = "invalid_amount"


class UnknownCurrency(MoneyError):
    """A currency code missing from ``CURRENCIES``: we only handle currencies we know the
    exponent of, since guessing it would misplace the decimal point."""

    code = "unknown_currency"


class CurrencyMismatch(MoneyError):
    """Two amounts in different currencies were combined; converting needs an explicit rate."""

    code = "currency_mismatch"


class InvalidAllocation(MoneyError):
    """Ratios that cannot split an amount (negative, all zero, not a number, no parts)."""

    code = "invalid_allocation"


@dataclass(frozen=True, slots=True)
class Currency:
    """What we need to know about an ISO 4217 currency: its minor-unit exponent and symbol."""

    code: str
    exponent: int
    symbol: str
    name: str


CURRENCIES: dict[str, Currency] = {
    currency.code: currency
    for currency in (
        Currency("CNY", 2, "¥", "Chinese yuan renminbi"),
        Currency("USD", 2, "$", "US dollar"),
        Currency("HKD", 2, "HK$", "Hong Kong dollar"),
        Currency("EUR", 2, "€", "Euro"),
        Currency("JPY", 0, "JP¥", "Japanese yen"),
    )
}
DEFAULT_CURRENCY = "CNY"


def get_currency(code: str) -> Currency:
    """The ``Currency`` for an exact upper-case ISO code; ``UnknownCurrency`` otherwise."""
    currency = CURRENCIES.get(code) if isinstance(code, str) else None
    if currency is None:
        known = ", ".join(sorted(CURRENCIES))
        raise UnknownCurrency(
            f"Unknown currency {code!r}; known currencies: {known}.",
            param="currency",
            details={"currency": str(code)},
        )
    return currency


def currency_exponent(code: str) -> int:
    """Number of decimal places of the currency's minor unit (CNY 2, JPY 0)."""
    return get_currency(code).exponent


class Rounding(StrEnum):
    """Named rounding modes (the values are the ``decimal`` module's constants).

    A fee calculation must say which one it uses, so this is an explicit choice at every
    call site rather than a hidden global context setting.
    """

    HALF_UP = "ROUND_HALF_UP"
    """Ties away from zero: the usual commercial rule for fees (0.5 fen -> 1 fen)."""
    HALF_EVEN = "ROUND_HALF_EVEN"
    """Ties to the even neighbour (banker's rounding): unbiased over many roundings."""
    HALF_DOWN = "ROUND_HALF_DOWN"
    """Ties toward zero."""
    DOWN = "ROUND_DOWN"
    """Toward zero (truncate): never charges more than the exact fee."""
    UP = "ROUND_UP"
    """Away from zero: never charges less than the exact fee."""
    FLOOR = "ROUND_FLOOR"
    """Toward negative infinity."""
    CEILING = "ROUND_CEILING"
    """Toward positive infinity."""


# ASCII: ``\d`` would otherwise accept any Unicode digit (Arabic-Indic, full-width...).
_PLAIN_NUMBER = re.compile(r"-?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?", re.ASCII)


def _require_int(value: object, what: str) -> int:
    """Refuse anything but a true ``int``: ``bool`` is an ``int`` subclass that is never an
    amount, and floats (or Decimals) would make the minor-unit count inexact."""
    if type(value) is not int:
        raise MoneyError(
            f"{what} must be an int, not {type(value).__name__} ({value!r}).", param="amount"
        )
    return value


def _require_rate(rate: object) -> Decimal:
    """A rate is an exact, finite ``Decimal`` (or ``int``); never a float."""
    if type(rate) is int:
        return Decimal(rate)
    if not isinstance(rate, Decimal):
        raise MoneyError(
            f"A rate must be a Decimal, not {type(rate).__name__} ({rate!r}).", param="rate"
        )
    if not rate.is_finite():
        raise MoneyError(f"A rate must be finite, not {rate}.", param="rate")
    _check_exponent(rate, "rate")
    return rate


_LARGEST_EXPONENT = 60
"""Decimal exponents beyond this (``1E+999999999``) are refused: they are never real amounts
or ratios, and scaling them to integers would take unbounded time and memory."""


def _check_exponent(value: Decimal, param: str) -> int:
    exponent = int(value.as_tuple().exponent)
    if abs(exponent) > _LARGEST_EXPONENT:
        raise MoneyError(
            f"{value} is out of range.", param=param, details={"problem": "out_of_range"}
        )
    return exponent


def _scaled_int(value: Decimal, places: int) -> int:
    """``value × 10**places`` as an exact int, computed on the digits (the ``decimal``
    context's 28-digit precision would round long amounts). Needs ``exponent + places >= 0``."""
    sign, digits, exponent = value.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    scaled = coefficient * 10 ** (int(exponent) + places)
    return -scaled if sign else scaled


def _multiply_and_round(amount: int, rate: Decimal, rounding: Rounding) -> int:
    """``amount × rate`` computed exactly, then rounded once to an int with ``rounding``."""
    exact_amount = Decimal(amount)
    digits = len(exact_amount.as_tuple().digits) + len(rate.as_tuple().digits)
    with localcontext(prec=digits + 2):
        product = exact_amount * rate
        return int(product.quantize(Decimal(1), rounding=Rounding(rounding).value))


@dataclass(frozen=True, slots=True)
class Money:
    """An immutable amount: ``minor_units`` of ``currency`` (``Money(1234, "CNY")`` is ¥12.34).

    Equality and hashing compare both fields, so amounts in different currencies are simply
    unequal; ordering and arithmetic across currencies raise ``CurrencyMismatch`` because
    there is no meaningful answer without an exchange rate.
    """

    minor_units: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        _require_int(self.minor_units, "Money minor_units")
        get_currency(self.currency)

    # --- construction -------------------------------------------------------------------

    @classmethod
    def of_minor(cls, minor_units: int, currency: str = DEFAULT_CURRENCY) -> Self:
        """Same as ``Money(minor_units, currency)``; reads better at call sites that build
        amounts from stored integer columns."""
        return cls(minor_units, currency)

    @classmethod
    def zero(cls, currency: str = DEFAULT_CURRENCY) -> Self:
        """Zero in ``currency``: the start value for ``sum(amounts, Money.zero(currency))``."""
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str | Decimal, currency: str = DEFAULT_CURRENCY) -> Self:
        """Read a major-unit amount (``"12.34"`` CNY -> 1234 fen) exactly, without floats.

        Accepts ``str`` (see the module docstring for the accepted syntax) or a finite
        ``Decimal``. Raises ``MoneyError`` (code ``invalid_amount``) for anything else,
        including more decimal places than the currency has: we refuse rather than round,
        because silently dropping a fraction of a fen is how ledgers drift.
        """
        exponent = currency_exponent(currency)
        number = _parse_decimal(text)
        places = -_check_exponent(number, "amount")
        if places > exponent:
            raise MoneyError(
                f"{text!r} has {places} decimal places; {currency} allows {exponent}.",
                param="amount",
                details={
                    "problem": "too_many_decimals",
                    "text": str(text),
                    "places": places,
                    "allowed": exponent,
                    "currency": currency,
                },
            )
        return cls(_scaled_int(number, exponent), currency)

    # --- views --------------------------------------------------------------------------

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def to_decimal(self) -> Decimal:
        """The major-unit value as an exact ``Decimal`` with the currency's places."""
        return Decimal(self.to_decimal_string())

    def to_decimal_string(self) -> str:
        """Plain major-unit text for machines (``"1234.56"``, ``"-0.05"``, JPY ``"1234"``):
        no symbol, no grouping, always exactly the currency's number of places. Used by the
        CSV and beancount exports; ``Money.parse`` reads it back."""
        return _format_digits(self, grouping=False)

    @property
    def is_zero(self) -> bool:
        return self.minor_units == 0

    @property
    def is_positive(self) -> bool:
        return self.minor_units > 0

    @property
    def is_negative(self) -> bool:
        return self.minor_units < 0

    def __str__(self) -> str:
        return format_money(self)

    # --- arithmetic ---------------------------------------------------------------------

    def _same_currency(self, other: object, operation: str) -> Money:
        if not isinstance(other, Money):
            raise MoneyError(
                f"Cannot {operation} Money and {type(other).__name__} ({other!r}).",
                param="amount",
            )
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"Cannot {operation} {self.currency} and {other.currency} amounts.",
                param="currency",
                details={"currencies": [self.currency, other.currency]},
            )
        return other

    def __add__(self, other: Money) -> Money:
        other = self._same_currency(other, "add")
        return Money(self.minor_units + other.minor_units, self.currency)

    def __sub__(self, other: Money) -> Money:
        other = self._same_currency(other, "subtract")
        return Money(self.minor_units - other.minor_units, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor_units, self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(abs(self.minor_units), self.currency)

    def __mul__(self, factor: int) -> Money:
        """Multiply by an ``int`` count only; fractional factors are rates and go through
        ``apply_rate`` so their rounding is named."""
        count = _require_int(factor, "A Money multiplier")
        return Money(self.minor_units * count, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.minor_units < self._same_currency(other, "compare").minor_units

    def __le__(self, other: Money) -> bool:
        return self.minor_units <= self._same_currency(other, "compare").minor_units

    def __gt__(self, other: Money) -> bool:
        return self.minor_units > self._same_currency(other, "compare").minor_units

    def __ge__(self, other: Money) -> bool:
        return self.minor_units >= self._same_currency(other, "compare").minor_units

    # --- rates and splitting ------------------------------------------------------------

    def apply_rate(self, rate: Decimal, *, rounding: Rounding) -> Money:
        """``self × rate``, rounded once to a whole minor unit with the named mode.

        ``rate`` is a fraction (``Decimal("0.003")`` is 0.3 %), exact and finite. There is
        deliberately no default ``rounding``: whether a fee rounds half-up, half-even or down
        is a business decision (and a contract with merchants), so every call site states it.
        The product is computed exactly first, so the only rounding is the named one.
        """
        exact_rate = _require_rate(rate)
        return Money(_multiply_and_round(self.minor_units, exact_rate, rounding), self.currency)

    def allocate(self, ratios: Sequence[int | Decimal]) -> list[Money]:
        """See ``allocate``."""
        return allocate(self, ratios)


def _parse_decimal(text: object) -> Decimal:
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise MoneyError(
                f"An amount must be finite, not {text}.",
                param="amount",
                details={"problem": "not_finite"},
            )
        return text
    if not isinstance(text, str):
        raise MoneyError(
            f"Money.parse takes text or a Decimal, not {type(text).__name__} ({text!r}).",
            param="amount",
        )
    stripped = text.strip()
    if _PLAIN_NUMBER.fullmatch(stripped) is None:
        raise MoneyError(
            f"{text!r} is not an amount like '1234.56'.",
            param="amount",
            details={"problem": "not_an_amount", "text": text},
        )
    try:
        return Decimal(stripped.replace(",", ""))
    except InvalidOperation as error:  # unreachable after the regex; kept for safety
        raise MoneyError(
            f"{text!r} is not an amount.",
            param="amount",
            details={"problem": "not_an_amount", "text": text},
        ) from error


def _format_digits(money: Money, *, grouping: bool) -> str:
    """Sign, integer part (optionally grouped by thousands) and exactly ``exponent`` places."""
    exponent = money.exponent
    whole, fraction = divmod(abs(money.minor_units), 10**exponent)
    integer_text = f"{whole:,}" if grouping else str(whole)
    fraction_text = f".{fraction:0{exponent}d}" if exponent else ""
    sign = "-" if money.minor_units < 0 else ""
    return f"{sign}{integer_text}{fraction_text}"


def format_money(money: Money, *, with_symbol: bool = True) -> str:
    """Display text: ``¥1,234.56``, ``-¥1,234.56``, ``HK$0.05``, ``JP¥1,235``.

    The minus sign goes before the symbol (``-¥5.00``), the convention of zh-CN and en
    locales. With ``with_symbol=False`` the output (``-1,234.56``) is valid ``Money.parse``
    input. For exports use ``Money.to_decimal_string`` instead (no grouping).
    """
    digits = _format_digits(money, grouping=True)
    if not with_symbol:
        return digits
    symbol = get_currency(money.currency).symbol
    if digits.startswith("-"):
        return f"-{symbol}{digits[1:]}"
    return f"{symbol}{digits}"


def total(amounts: Iterable[Money], currency: str = DEFAULT_CURRENCY) -> Money:
    """Sum of ``amounts`` in ``currency`` (zero when empty). Prefer this to bare ``sum``,
    whose int start value ``0`` Money refuses so that an empty sum never becomes an int."""
    return sum(amounts, Money.zero(currency))


def percentage(amount: Money, rate: Decimal, *, rounding: Rounding) -> Money:
    """``amount.apply_rate(rate, rounding=rounding)`` as a function (e.g. a fee schedule)."""
    return amount.apply_rate(rate, rounding=rounding)


def _ratios_as_integers(ratios: Sequence[int | Decimal]) -> list[int]:
    """Scale ratios to integers with the same proportions, so allocation is pure integer
    arithmetic. Refuses floats, bools, negative or non-finite ratios, and all-zero lists."""
    if len(ratios) == 0:
        raise InvalidAllocation("Allocation needs at least one ratio.", param="ratios")
    exact: list[Decimal] = []
    for ratio in ratios:
        if isinstance(ratio, bool) or not isinstance(ratio, int | Decimal):
            raise InvalidAllocation(
                f"Ratios must be int or Decimal, not {type(ratio).__name__} ({ratio!r}).",
                param="ratios",
            )
        value = Decimal(ratio)
        if not value.is_finite() or value < 0:
            raise InvalidAllocation(
                f"Ratios must be finite and not negative, got {ratio}.", param="ratios"
            )
        exact.append(value)
    if not any(exact):
        raise InvalidAllocation("At least one ratio must be positive.", param="ratios")
    places = max(-min(_check_exponent(value, "ratios"), 0) for value in exact)
    return [_scaled_int(value, places) for value in exact]


def allocate(money: Money, ratios: Sequence[int | Decimal]) -> list[Money]:
    """Split ``money`` into ``len(ratios)`` parts proportional to ``ratios``, exactly.

    Guarantees: the parts always sum to ``money``; each part is within one minor unit of its
    exact share (it is the share's magnitude rounded down, or that plus one); a zero ratio
    gets zero. The leftover minor units go by the largest-remainder method, ties to the
    earliest ratio, so the result is deterministic. A negative amount is split as its
    magnitude and negated, so ``allocate(-m, r) == [-p for p in allocate(m, r)]``.
    Raises ``InvalidAllocation`` for no ratios, negative, float or all-zero ratios.
    """
    weights = _ratios_as_integers(ratios)
    weight_total = sum(weights)
    magnitude = abs(money.minor_units)
    shares = [divmod(magnitude * weight, weight_total) for weight in weights]
    leftover = magnitude - sum(floor for floor, _ in shares)
    by_remainder = sorted(range(len(shares)), key=lambda index: (-shares[index][1], index))
    receivers = set(by_remainder[:leftover])
    sign = -1 if money.minor_units < 0 else 1
    return [
        Money(sign * (floor + (index in receivers)), money.currency)
        for index, (floor, _) in enumerate(shares)
    ]


def split_evenly(money: Money, parts: int) -> list[Money]:
    """``parts`` amounts as equal as possible (differing by at most one minor unit, the
    larger ones first) that sum to ``money``."""
    count = _require_int(parts, "The number of parts")
    if count < 1:
        raise InvalidAllocation(f"Cannot split into {count} parts.", param="parts")
    return allocate(money, [1] * count)


class MoneyModel(BaseModel):
    """The API's JSON shape of an amount: ``{"amount": 1234, "currency": "CNY"}``.

    ``amount`` is integer minor units (strict: ``12.34`` or ``"1234"`` are refused, so no
    client float ever becomes money); ``currency`` must be a known upper-case ISO code.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: StrictInt
    currency: str = DEFAULT_CURRENCY

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        if code not in CURRENCIES:
            raise ValueError(f"unknown currency {code!r}; known: {', '.join(sorted(CURRENCIES))}")
        return code

    @classmethod
    def from_money(cls, money: Money) -> MoneyModel:
        return cls(amount=money.minor_units, currency=money.currency)

    def to_money(self) -> Money:
        return Money(self.amount, self.currency)


def to_json(money: Money) -> dict[str, Any]:
    """``{"amount": <int minor units>, "currency": <ISO code>}``."""
    return {"amount": money.minor_units, "currency": money.currency}


def from_json(data: object) -> Money:
    """Inverse of ``to_json``; raises ``MoneyError`` (not a Pydantic error) on a bad shape,
    so domain code can call it without knowing about Pydantic."""
    if not isinstance(data, dict) or set(data) != {"amount", "currency"}:
        raise MoneyError(
            f"Money JSON must be {{'amount': int, 'currency': str}}, got {data!r}.",
            param="amount",
        )
    return Money(data["amount"], data["currency"])
