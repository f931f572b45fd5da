"""What the card routers share: the router shape, role dependencies, scoping, balances."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.cards import service
from tongka.edge.auth import list_scope, require_merchant, require_platform
from tongka.identity.principal import Principal, PrincipalKind

MAX_MINOR = 10**15  # minor units: far above any card, well inside a 64-bit column

ManagerDep = Annotated[Principal, require_merchant("merchant_admin", "full")]
PlatformDep = Annotated[Principal, require_platform("admin")]
FinanceDep = Annotated[Principal, require_platform("admin", "finance")]


def new_router() -> APIRouter:
    """A card router: every creating or money-moving POST is idempotent."""
    return APIRouter(responses=ERROR_RESPONSES, tags=["cards"], route_class=IdempotentRoute)


# --- scoping -----------------------------------------------------------------------------


def holder_scope(principal: Principal) -> str | None:
    """A signed-in consumer sees only the cards they hold."""
    if principal.kind is PrincipalKind.CONSUMER:
        return principal.consumer_id or "-"
    return None


@dataclass(frozen=True)
class CardScope:
    merchant_id: str | None
    holder_id: str | None


def card_scope(principal: Principal) -> CardScope:
    """Merchants see their issuer's cards, consumers the cards they hold, the platform all."""
    if principal.kind is PrincipalKind.CONSUMER:
        return CardScope(merchant_id=None, holder_id=holder_scope(principal))
    return CardScope(merchant_id=list_scope(principal), holder_id=None)


class BalanceOut(BaseModel):
    paid: int
    bonus: int
    total: int
    currency: str


def balance_out(balance: service.CardBalance, currency: str) -> BalanceOut:
    return BalanceOut(
        paid=balance.paid, bonus=balance.bonus, total=balance.total, currency=currency
    )
