"""What the card routers share: the router shape, role dependencies, scoping, balances."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.cards import service

MAX_MINOR = 10**15  # minor units: far above any card, well inside a 64-bit column


def new_router() -> APIRouter:
    """A card router: every creating or money-moving POST is idempotent."""
    return APIRouter(responses=ERROR_RESPONSES, tags=["cards"], route_class=IdempotentRoute)


class BalanceOut(BaseModel):
    paid: int
    bonus: int
    total: int
    currency: str


def balance_out(balance: service.CardBalance, currency: str) -> BalanceOut:
    return BalanceOut(
        paid=balance.paid, bonus=balance.bonus, total=balance.total, currency=currency
    )
