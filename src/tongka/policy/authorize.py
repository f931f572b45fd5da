"""``authorize(principal, action) -> Scope``: the only place a role is checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from tongka.errors import PermissionDenied
from tongka.identity.principal import Principal, PrincipalKind
from tongka.policy.table import TABLE, Action, Grant

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Scope:
    """What an allowed action may reach. ``None`` fields do not narrow: the platform's scope
    is all ``None``; a merchant's names its merchant (and its store, if store-bound); a
    holder's names the consumer. Services take these as ``merchant_id=`` / ``holder_id=`` /
    ``store_id=`` keyword arguments."""

    merchant_id: str | None = None
    store_id: str | None = None
    holder_id: str | None = None

    @property
    def is_all(self) -> bool:
        return self.merchant_id is None and self.store_id is None and self.holder_id is None

    def cards(self) -> dict[str, Any]:
        """The ``merchant_id=`` / ``holder_id=`` a card service call is scoped by."""
        return {"merchant_id": self.merchant_id, "holder_id": self.holder_id}

    def merchant(self) -> str | None:
        """The merchant a list or lookup is restricted to (None: all). A holder's scope has
        no merchant view: staff lists refuse it (403) rather than show everything."""
        if self.holder_id is not None:
            raise PermissionDenied(
                "This is for merchant or platform callers.",
                details={"problem": "merchant_or_platform_only"},
            )
        return self.merchant_id

    def store(self, requested: str | None = None) -> str | None:
        """The store a list is restricted to: a store-bound caller's own, else ``requested``."""
        return self.store_id if self.store_id is not None else requested

    def reaches(self, *, merchant_id: str | None, store_id: str | None = None) -> bool:
        """Whether an object of that merchant (and store) lies inside the scope."""
        if self.holder_id is not None:
            return False
        if self.merchant_id is not None and merchant_id != self.merchant_id:
            return False
        return self.store_id is None or store_id is None or store_id == self.store_id


def scope_of(principal: Principal) -> Scope:
    """The reach of a caller, whatever the action (``authorize`` has checked the action)."""
    if principal.kind is PrincipalKind.PLATFORM:
        return Scope()
    if principal.kind is PrincipalKind.CONSUMER:
        return Scope(holder_id=principal.consumer_id or "-")
    return Scope(merchant_id=principal.merchant_id or "-", store_id=principal.store_id)


def _grants(principal: Principal, grant: Grant) -> bool:
    if principal.kind is not grant.kind:
        return False
    if grant.roles and not principal.has_role(*grant.roles):
        return False
    if grant.kind is PrincipalKind.MERCHANT:
        if principal.merchant_id is None:
            return False
        if principal.store_id is not None and not grant.store_bound:
            return False
    return not (grant.kind is PrincipalKind.CONSUMER and principal.consumer_id is None)


def allowed(principal: Principal, action: Action) -> bool:
    return any(_grants(principal, grant) for grant in TABLE[action])


def authorize(principal: Principal, action: Action) -> Scope:
    """The scope ``principal`` may take ``action`` in; 403 ``permission_denied`` otherwise."""
    if not allowed(principal, action):
        log.info("policy.denied", actor=principal.actor, action=action.value)
        raise PermissionDenied(
            f"Not allowed to take the action {action.value}.", details={"action": action.value}
        )
    return scope_of(principal)
