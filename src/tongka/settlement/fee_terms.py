"""Fee terms of a contract: a ``Decimal`` rate, a minimum and a fixed part, with a named
rounding. Pure: ``FeeTerms.fee(amount)`` and ``fee_for(contract, kind, amount)``.

The fee is ``round(amount × rate, rounding) + fixed``, at least ``minimum``, never more
than the amount itself (a fee cannot make a movement negative).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tongka.money import Money, Rounding
from tongka.settlement.errors import ContractInvalid

MAX_RATE = Decimal("0.2")  # no contract fee is a fifth of the movement or more


class FeeKind(enum.StrEnum):
    REDEMPTION_OWN = "redemption_own"  # a card redeemed at its issuer's own stores
    REDEMPTION_OTHER_ISSUER = "redemption_other_issuer"  # another issuer's card (多用途)
    TOP_UP = "top_up"
    BUYBACK_RESALE = "buyback_resale"


@dataclass(frozen=True)
class FeeTerms:
    rate: Decimal
    minimum: int = 0
    fixed: int = 0
    rounding: Rounding = Rounding.HALF_UP

    def fee(self, amount: int, currency: str) -> int:
        if amount <= 0:
            return 0
        money = Money.of_minor(amount, currency)
        proportional = money.apply_rate(self.rate, rounding=self.rounding).minor_units
        return min(amount, max(self.minimum, proportional + self.fixed))

    def as_json(self) -> dict[str, Any]:
        return {
            "rate": str(self.rate),
            "minimum": self.minimum,
            "fixed": self.fixed,
            "rounding": self.rounding.name.lower(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeeTerms:
        return cls(
            rate=Decimal(str(data["rate"])),
            minimum=int(data.get("minimum", 0)),
            fixed=int(data.get("fixed", 0)),
            rounding=Rounding[str(data.get("rounding", "half_up")).upper()],
        )


def parse_rate(text: str | Decimal, *, param: str) -> Decimal:
    try:
        rate = text if isinstance(text, Decimal) else Decimal(str(text).strip())
    except InvalidOperation:
        raise ContractInvalid(f"{text!r} is not a rate like 0.006.", param=param) from None
    if not rate.is_finite() or not Decimal(0) <= rate < MAX_RATE:
        raise ContractInvalid(
            f"A rate is a fraction from 0 up to {MAX_RATE} (0.006 is 0.6 %).", param=param
        )
    return rate


def checked_terms(kind: str, terms: FeeTerms) -> FeeTerms:
    param = f"fees.{kind}"
    rate = parse_rate(terms.rate, param=f"{param}.rate")
    for name, value in (("minimum", terms.minimum), ("fixed", terms.fixed)):
        if type(value) is not int or not 0 <= value <= 1_000_000:
            raise ContractInvalid(
                f"The {name} part is whole fen from 0 to 1,000,000.", param=f"{param}.{name}"
            )
    return FeeTerms(rate, terms.minimum, terms.fixed, Rounding(terms.rounding))


def fee_schedule(fees: Mapping[str, Any]) -> dict[FeeKind, FeeTerms]:
    """A stored ``fees`` column back as terms per kind (unknown kinds are ignored)."""
    return {
        FeeKind(kind): FeeTerms.from_json(data)
        for kind, data in fees.items()
        if kind in FeeKind.__members__.values()
    }
