"""The one dependency a route declares its action with, and the marker for public routes.

``principal: Annotated[Principal, Authorized(Action.CARD_FREEZE)]`` authenticates the
caller (401) and ``authorize``s the action (403 naming it); the route then narrows by
``scope_of(principal)``. Routes anyone may call say ``dependencies=[Public("why")]``. The
dependency keeps its action on itself (``policy_action`` / ``policy_public``) so tests walk
every route and fail on one that declares neither.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends

from tongka.edge.auth import PrincipalDep
from tongka.identity.principal import Principal, PrincipalKind
from tongka.policy import TABLE, Action, authorize


def _kinds(action: Action) -> frozenset[PrincipalKind]:
    return frozenset(grant.kind for grant in TABLE[action])


def authorized(action: Action) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def dependency(principal: PrincipalDep) -> Principal:
        authorize(principal, action)
        return principal

    dependency.policy_action = action  # type: ignore[attr-defined]
    kinds = _kinds(action)
    if kinds == {PrincipalKind.PLATFORM}:
        # The cross-tenant walk tells platform-only routes by this.
        dependency.required_kind = PrincipalKind.PLATFORM  # type: ignore[attr-defined]
    return dependency


def Authorized(action: Action) -> Any:  # noqa: N802 - reads as a type annotation
    """``Annotated[Principal, Authorized(Action.X)]``: the caller, allowed to take X."""
    return Depends(authorized(action))


def Public(reason: str) -> Any:  # noqa: N802
    """Marks a route anyone may call (health, sign-in, balance inquiry, registration)."""

    async def public() -> None:
        return None

    public.policy_public = reason  # type: ignore[attr-defined]
    return Depends(public)
