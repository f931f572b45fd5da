"""Who is calling: API keys (``Authorization: Bearer``) and console sessions -> ``Principal``.

CONTRACT (the identity part implements it; every router uses these names):

- ``PrincipalDep``: the authenticated caller, or 401 ``authentication_failed``.
- ``require_platform(*roles)`` / ``require_merchant(*roles)``: dependency factories that
  also check the kind of caller and a role; a missing role answers 403.
- ``ensure_same_merchant(principal, merchant_id)``: raises ``NotFound`` (404, never 403) and
  logs when a merchant caller touches another merchant's object; platform callers pass.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request

from tongka.errors import AuthenticationFailed, NotFound, PermissionDenied
from tongka.identity.principal import Principal, PrincipalKind

log = structlog.get_logger(__name__)


async def authenticate(request: Request) -> Principal:
    """Placeholder until the identity part lands: nobody is authenticated."""
    raise AuthenticationFailed("Missing or invalid credentials.", code="authentication_failed")


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def _require(
    kind: PrincipalKind, roles: tuple[str, ...]
) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def dependency(principal: PrincipalDep) -> Principal:
        if principal.kind is not kind:
            raise PermissionDenied(f"This endpoint is for {kind.value} callers.")
        if roles and not principal.has_role(*roles):
            raise PermissionDenied(f"Requires one of the roles: {', '.join(roles)}.")
        return principal

    return dependency


def require_platform(*roles: str) -> Any:
    return Depends(_require(PrincipalKind.PLATFORM, roles))


def require_merchant(*roles: str) -> Any:
    return Depends(_require(PrincipalKind.MERCHANT, roles))


def ensure_same_merchant(principal: Principal, merchant_id: str | None, *, what: str) -> None:
    """Tenants are walls: another merchant's object is reported as not found."""
    if principal.is_platform:
        return
    if principal.merchant_id is None or principal.merchant_id != merchant_id:
        log.warning("auth.cross_tenant_access", actor=principal.actor, object=what)
        raise NotFound(f"No such {what}.")
