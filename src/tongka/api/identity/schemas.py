"""Shapes and helpers shared by the identity endpoints."""

from __future__ import annotations

from typing import Any, Protocol, Self, TypeVar

from tongka.api.auth import ensure_same_merchant
from tongka.api.errors import ERROR_RESPONSES
from tongka.api.pagination import fetch_page
from tongka.api.schemas import ObjectId, RequestModel, ResponseModel
from tongka.identity.principal import Principal

# The shared error responses (400/401/403/404/409/422/429), request base (unknown fields
# and NUL characters refused) and page fetcher, under the names the identity routers use.
RESPONSES: dict[int | str, dict[str, Any]] = ERROR_RESPONSES
__all__ = ["RESPONSES", "ObjectId", "RequestModel", "RowOut", "fetch_page", "visible_to"]


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
