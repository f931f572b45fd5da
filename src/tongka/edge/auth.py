"""Who is calling: API keys and consumer tokens (``Authorization: Bearer``) and console
sessions (of staff or consumers) -> ``Principal``.

CONTRACT (every router uses these names):

- ``PrincipalDep``: the authenticated caller, or 401 ``authentication_failed``.
- Routes do not use ``PrincipalDep`` directly: they declare their action with
  ``tongka.edge.policy.Authorized(Action.X)``, which authenticates here and then asks
  ``tongka.policy.authorize`` (roles, kinds, store binding: one table). Consumers sign in
  with a phone and a one-time code (``POST /v1/consumer_sessions``) and call the API with
  the session token ``tk_con_...`` as bearer, or through a console session cookie.
- ``ensure_same_merchant(principal, merchant_id)``: raises ``NotFound`` (404, never 403) and
  logs when a merchant caller touches another merchant's object; platform callers pass.
- ``merchant_scope(principal, requested_merchant_id)``: the merchant an action is for —
  the caller's own for merchant callers (another id -> 404), the requested one (required)
  for platform callers.

A console session authenticates API calls too (the console's HTMX requests); then every
unsafe method must carry the session's CSRF token in ``X-CSRF-Token``. Keys, tokens and
passwords are never logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.edge.callers import mark_authenticated
from tongka.edge.deps import ClockDep, SessionDep
from tongka.errors import AuthenticationFailed, InvalidRequest, NotFound, PermissionDenied
from tongka.identity import service as identity
from tongka.identity.crypto import IdentityKeys
from tongka.identity.principal import Principal

log = structlog.get_logger(__name__)

SESSION_COOKIE = "tongka_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key (`Authorization: Bearer tk_live_...`, shown once when created) "
    "or a consumer's session token (`tk_con_...`, from `POST /v1/consumer_sessions`).",
)


async def get_identity_keys(request: Request) -> IdentityKeys:
    """Keys derived once per app from the configured root secret (a coroutine: see
    ``edge.deps.get_clock``)."""
    return identity_keys_of(request.app.state)


def identity_keys_of(state: Any) -> IdentityKeys:
    """The app's identity keys (``state``: the app's), derived on first use."""
    keys: IdentityKeys | None = getattr(state, "identity_keys", None)
    if keys is None:
        keys = IdentityKeys.from_settings(state.settings)
        state.identity_keys = keys
    return keys


IdentityKeysDep = Annotated[IdentityKeys, Depends(get_identity_keys)]


def _refuse(message: str, code: str = "authentication_failed") -> AuthenticationFailed:
    return AuthenticationFailed(message, code=code)


async def authenticate(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    keys: IdentityKeysDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from a Bearer API key or else a console session cookie; 401 otherwise."""
    now = clock.now()
    if credentials is not None:
        secret = credentials.credentials.strip()
        if secret.startswith(identity.CONSUMER_TOKEN_PREFIX):
            return await _consumer_bearer(request, session, keys, secret, now)
        principal = await identity.authenticate_api_key(session, keys, secret, now=now)
        if principal is None:
            log.info("auth.api_key_refused", path=request.url.path)
            raise _refuse("The API key is unknown or revoked.", "invalid_api_key")
        mark_authenticated(request)
        return principal
    if request.headers.get("authorization"):
        raise _refuse("Use `Authorization: Bearer <API key>`.", "invalid_authorization_header")
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise _refuse("Missing credentials: send `Authorization: Bearer <API key>`.")
    signed_in = await identity.resolve_session(session, keys, token, now=now)
    if signed_in is None:
        raise _refuse("The console session has expired; please log in again.", "session_expired")
    if request.method not in SAFE_METHODS and not identity.csrf_token_matches(
        keys, signed_in.console_session.id, request.headers.get(CSRF_HEADER)
    ):
        log.warning("auth.csrf_refused", actor=signed_in.principal.actor, path=request.url.path)
        raise PermissionDenied("Missing or wrong CSRF token.", code="csrf_token_invalid")
    request.state.console_session = signed_in.console_session
    request.state.user = signed_in.user
    mark_authenticated(request)
    return signed_in.principal


async def _consumer_bearer(
    request: Request, session: AsyncSession, keys: IdentityKeys, token: str, now: datetime
) -> Principal:
    """A consumer's session token sent as a bearer token (no cookie, so no CSRF check)."""
    signed_in = await identity.resolve_session(session, keys, token, now=now)
    if signed_in is None or signed_in.consumer is None:
        log.info("auth.consumer_token_refused", path=request.url.path)
        raise _refuse(
            "The consumer session has expired or ended; sign in again.", "session_expired"
        )
    request.state.console_session = signed_in.console_session
    mark_authenticated(request)
    return signed_in.principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def ensure_same_merchant(principal: Principal, merchant_id: str | None, *, what: str) -> None:
    """Tenants are walls: another merchant's object is reported as not found."""
    if principal.is_platform:
        return
    if principal.merchant_id is None or principal.merchant_id != merchant_id:
        log.warning("auth.cross_tenant_access", actor=principal.actor, object=what)
        raise NotFound(f"No such {what}.", details={"object": what})


def merchant_scope(principal: Principal, requested_merchant_id: str | None) -> str:
    """The merchant an action is for (see the module docstring)."""
    if principal.is_platform:
        if requested_merchant_id is None:
            raise InvalidRequest(
                "Platform callers must say which merchant: merchant_id.",
                code="merchant_id_required",
                param="merchant_id",
            )
        return requested_merchant_id
    if requested_merchant_id is not None:
        ensure_same_merchant(principal, requested_merchant_id, what="merchant")
    if principal.merchant_id is None:
        raise PermissionDenied(
            "This endpoint is for merchant or platform callers.",
            details={"problem": "merchant_or_platform_only"},
        )
    return principal.merchant_id
