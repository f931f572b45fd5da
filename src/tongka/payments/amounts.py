"""Exact conversions between our integer minor units and each channel's amount form.

WeChat Pay speaks fen as an integer; Alipay and UnionPay (in our message formats) speak yuan
as a decimal string with two places. Conversions go through ``Decimal`` and refuse anything
that would round: a channel amount of ``"1.005"`` is an error, never a guess.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from tongka.payments.channel import ChannelError

SUPPORTED_CURRENCY = "CNY"
_CENT = Decimal("0.01")


def require_cny(currency: str) -> None:
    if currency != SUPPORTED_CURRENCY:
        raise ChannelError(
            f"the channel takes CNY only, not {currency}", is_retryable=False, param="currency"
        )


def minor_to_yuan(amount_minor: int) -> str:
    """``12345`` -> ``"123.45"``; negative amounts keep their sign."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise TypeError("amount_minor must be an int")
    return str((Decimal(amount_minor) * _CENT).quantize(_CENT))


def yuan_to_minor(text: str) -> int:
    """``"123.45"`` -> ``12345``; refuses more than two decimals, exponents, NaN and floats."""
    if not isinstance(text, str):
        raise ChannelError(f"amount {text!r} is not a string", is_retryable=False)
    cleaned = text.strip()
    if not cleaned or any(ch in cleaned for ch in "eEnN_ "):
        raise ChannelError(f"amount {text!r} is not a yuan amount", is_retryable=False)
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ChannelError(f"amount {text!r} is not a yuan amount", is_retryable=False) from exc
    scaled = value * 100
    if scaled != scaled.to_integral_value():
        raise ChannelError(f"amount {text!r} has more than two decimals", is_retryable=False)
    return int(scaled)


def fen_to_minor(value: object) -> int:
    """WeChat's ``total`` (an int of fen) -> our minor units; refuses anything else."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ChannelError(f"amount {value!r} is not an integer of fen", is_retryable=False)
    return value
