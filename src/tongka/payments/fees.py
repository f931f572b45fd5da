"""What a channel charges for a payment: a ``Decimal`` rate of the amount, rounded once with
a named mode, plus a fixed part in minor units.

``ROUND_HALF_UP`` is the channels' own rule (WeChat Pay, Alipay and UnionPay round their
fee to the fen half up), so our expected fee equals the one on their statement and a
difference on import means something real. The fee never exceeds the amount: a channel
cannot keep more than it took.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tongka.errors import InvalidRequest
from tongka.money import Money, Rounding

FEE_ROUNDING = Rounding.HALF_UP
MAX_FEE_RATE = Decimal("0.2")


@dataclass(frozen=True)
class FeeSchedule:
    rate: Decimal  # a fraction: 0.006 = 0.6%
    fixed_minor: int = 0
    rounding: Rounding = FEE_ROUNDING


def check_fee_schedule(rate: Decimal, fixed_minor: int) -> None:
    """A rate is a finite ``Decimal`` in [0, 0.2]; the fixed part a non-negative int."""
    if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 <= rate <= MAX_FEE_RATE:
        raise InvalidRequest(
            f"A fee rate is a decimal fraction from 0 to {MAX_FEE_RATE}, not {rate}.",
            code="invalid_fee_rate",
            param="fee_rate",
            details={"rate": str(rate), "maximum": str(MAX_FEE_RATE)},
        )
    if isinstance(fixed_minor, bool) or not isinstance(fixed_minor, int) or fixed_minor < 0:
        raise InvalidRequest(
            "The fixed part of a fee is a non-negative amount in minor units.",
            code="invalid_fee_fixed",
            param="fee_fixed",
        )


def fee_of(amount_minor: int, currency: str, schedule: FeeSchedule) -> int:
    """``round(rate × amount, schedule.rounding) + fixed``, at most ``amount``."""
    proportional = (
        Money.of_minor(amount_minor, currency)
        .apply_rate(schedule.rate, rounding=schedule.rounding)
        .minor_units
    )
    return min(proportional + schedule.fixed_minor, amount_minor)
