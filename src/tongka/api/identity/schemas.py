"""Shapes and helpers shared by the identity endpoints."""

from __future__ import annotations

from typing import Any, Protocol, Self, TypeVar

from tongka.edge.auth import ensure_same_merchant
from tongka.edge.pagination import fetch_page
from tongka.edge.schemas import ObjectId, RequestModel, ResponseModel
from tongka.identity.principal import Principal

# The request base (unknown fields and NUL characters refused) and page fetcher, re-exported
# for the identity routers.
__all__ = ["ObjectId", "RequestModel", "RowOut", "fetch_page", "visible_to"]


class RowOut(ResponseModel):
    """A response whose fields are the ORM row's attributes of the same names."""

    @classmethod
    def of(cls, row: Any) -> Self:
        return cls.model_validate(row)


class _MerchantOwned(Protocol):
    @property
    def merchant_id(self) -> str | None: ...


Owned = TypeVar("Owned", bound=_MerchantOwned)


def visible_to(principal: Principal, owned: Owned, *, what: str) -> Owned:
    """``owned`` if the caller may see it; another merchant's object is reported as not found."""
    ensure_same_merchant(principal, owned.merchant_id, what=what)
    return owned
