"""What the card routers share: the router shape, role dependencies, scoping, money, balances.

Money crosses the API in one shape, ``{"amount": <int minor units>, "currency": "CNY"}``
(docs/api-conventions.md): ``AmountIn`` / ``QuotaIn`` in requests (strict JSON integers, an
accepted currency), ``MoneyModel`` in responses. An amount's currency must be its
product's (or batch's): ``require_currency`` refuses another with 422 naming the field.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictInt

from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.cards import service
from tongka.currencies import EnabledCurrency
from tongka.edge.schemas import RequestModel
from tongka.errors import BusinessRuleViolation
from tongka.money import MoneyModel

MAX_MINOR = 10**15  # minor units: far above any card, well inside a 64-bit column


def new_router() -> APIRouter:
    """A card router: every creating or money-moving POST is idempotent."""
    return APIRouter(responses=ERROR_RESPONSES, tags=["cards"], route_class=IdempotentRoute)


# --- money -------------------------------------------------------------------------------


class AmountIn(RequestModel):
    """A positive amount in a request: ``{"amount": 5000, "currency": "CNY"}``."""

    amount: StrictInt = Field(gt=0, le=MAX_MINOR, description="Integer minor units (fen).")
    currency: EnabledCurrency


class QuotaIn(AmountIn):
    """An amount that may be zero (a quota withdrawn)."""

    amount: StrictInt = Field(ge=0, le=MAX_MINOR, description="Integer minor units (fen).")


class AmountCurrencyMismatch(BusinessRuleViolation):
    code = "currency_mismatch"


def require_currency(amount: AmountIn, currency: str, *, param: str) -> int:
    """``amount``'s minor units, if it is in ``currency`` (its product's); else 422."""
    if amount.currency != currency:
        raise AmountCurrencyMismatch(
            f"{param}: the amount is in {amount.currency}, but this is a {currency} product.",
            param=f"{param}.currency",
            details={
                "currency": amount.currency,
                "expected_currency": currency,
                "object": "card_product",
            },
        )
    return amount.amount


def money(amount: int, currency: str) -> MoneyModel:
    return MoneyModel(amount=amount, currency=currency)


def maybe_money(amount: int | None, currency: str) -> MoneyModel | None:
    return None if amount is None else money(amount, currency)


class BalanceOut(BaseModel):
    paid: MoneyModel
    bonus: MoneyModel
    total: MoneyModel
    currency: str


def balance_out(balance: service.CardBalance, currency: str) -> BalanceOut:
    return BalanceOut(
        paid=money(balance.paid, currency),
        bonus=money(balance.bonus, currency),
        total=money(balance.total, currency),
        currency=currency,
    )
