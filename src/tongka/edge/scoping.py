"""Scoping both edges (API and console) share: one object checked against the caller's
``Scope`` (``tongka.policy``), and the merchant a webhook secret may be shown to."""

from __future__ import annotations

from typing import Protocol, TypeVar

import structlog

from tongka.errors import NotFound, PermissionDenied
from tongka.identity.principal import Principal
from tongka.policy import scope_of

log = structlog.get_logger(__name__)


class _MerchantOwned(Protocol):
    @property
    def merchant_id(self) -> str | None: ...


Owned = TypeVar("Owned", bound=_MerchantOwned)


def visible_to(
    principal: Principal, owned: Owned, *, what: str, store_id: str | None = None
) -> Owned:
    """``owned`` if it lies in the caller's scope (its merchant and, for a store-bound
    caller, its store ``store_id``); otherwise reported as not found (tenants are walls)."""
    if not scope_of(principal).reaches(merchant_id=owned.merchant_id, store_id=store_id):
        log.warning("auth.out_of_scope_access", actor=principal.actor, object=what)
        raise NotFound(f"No such {what}.", details={"object": what})
    return owned


def endpoint_owner(principal: Principal) -> str:
    """The caller's merchant: secrets are only ever shown to the merchant owning the endpoint."""
    if principal.merchant_id is None:
        raise PermissionDenied(
            "Webhook endpoints are registered by merchants.",
            details={"problem": "webhook_endpoints_merchant_only"},
        )
    return principal.merchant_id
