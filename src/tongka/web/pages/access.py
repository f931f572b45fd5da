"""Users and API keys: who may use the console and the API."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import Response
from sqlalchemy import Select

from tongka.edge.auth import ensure_same_merchant
from tongka.edge.no_store import shows_secret
from tongka.edge.schemas import ObjectId
from tongka.identity import service as identity
from tongka.identity.api_keys import available_actions as key_actions
from tongka.identity.models import ApiKey, ApiKeyRole, MerchantRole, PlatformRole, User
from tongka.policy import Action, scope_of
from tongka.web.console import (
    Console,
    FormDep,
    console_router,
    form_text,
    optional_text,
)
from tongka.web.forms import attempt_and_redirect, log_reason, required_reason, show_secret_once
from tongka.web.i18n import N_
from tongka.web.labels import LABELS
from tongka.web.pages.listing import Allowed, render_list, visible_stores

router = console_router()
USERS = "/console/users"
API_KEYS = "/console/api_keys"


def label_of_role(console: Console, role: str) -> str:
    words = LABELS["role"].get(role)
    return console.gettext(words) if words else role


async def _access_page(
    console: Console,
    name: str,
    statement: Select[Any],
    model: Any,
    merchant_roles: type[StrEnum],
    status_code: int,
    **context: Any,
) -> Response:
    """``<name>.html``: one page of users or keys, with the roles and stores its form offers
    (platform roles to platform callers, ``merchant_roles`` to a merchant's)."""
    roles = list(PlatformRole) if console.signed_in.is_platform else list(merchant_roles)
    stores = await visible_stores(console)
    return await render_list(
        console,
        f"{name}.html",
        name,
        statement,
        model,
        status_code,
        roles=roles,
        stores=stores,
        role_choices=[(role.value, label_of_role(console, role.value)) for role in roles],
        store_choices=[(store.id, store.name) for store in stores],
        key_actions=key_actions,
        **context,
    )


async def _users_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = identity.users_query(scope_of(console.signed_in).merchant())
    return await _access_page(
        console, "users", statement, User, MerchantRole, status_code, **context
    )


async def _api_keys_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = identity.api_keys_query(scope_of(console.signed_in).merchant())
    return await _access_page(
        console, "api_keys", statement, ApiKey, ApiKeyRole, status_code, **context
    )


@router.get("/users")
async def users_page(console: Annotated[Console, Allowed(Action.USER_MANAGE)]) -> Response:
    return await _users_page(console)


@router.post("/users")
async def create_user(
    console: Annotated[Console, Allowed(Action.USER_MANAGE)], form: FormDep
) -> Response:
    """Staff of the caller's own merchant, or (for platform admins) a platform operator."""
    principal = console.signed_in
    work = lambda: identity.create_user(  # noqa: E731
        console.session,
        email=form_text(form, "email"),
        display_name=form_text(form, "display_name"),
        role=form_text(form, "role"),
        password=str(form.get("password") or ""),
        merchant_id=principal.merchant_id,
        store_id=optional_text(form, "store_id"),
        actor=principal.actor,
        now=console.now,
    )
    return await attempt_and_redirect(
        console, work, form, success_url=USERS, success=N_("The user was created.")
    )


@router.get("/api_keys")
@shows_secret
async def api_keys_page(console: Annotated[Console, Allowed(Action.API_KEY_MANAGE)]) -> Response:
    return await _api_keys_page(console)


@router.post("/api_keys")
@shows_secret
async def create_api_key(
    console: Annotated[Console, Allowed(Action.API_KEY_MANAGE)], form: FormDep
) -> Response:
    """A key of the caller's own merchant (or a platform key for platform admins); its
    secret is shown on this response only."""
    principal = console.signed_in
    work = lambda: identity.create_api_key(  # noqa: E731
        console.session,
        console.keys,
        name=form_text(form, "name") or "console",
        role=form_text(form, "role") or ("admin" if principal.is_platform else "full"),
        merchant_id=principal.merchant_id,
        store_id=optional_text(form, "store_id"),
        actor=principal.actor,
        now=console.now,
    )
    return await show_secret_once(console, work, form, page=_api_keys_page, url=API_KEYS)


@router.post("/api_keys/{key_id}/revoke")
async def revoke_api_key(
    key_id: ObjectId, console: Annotated[Console, Allowed(Action.API_KEY_MANAGE)], form: FormDep
) -> Response:
    """Revoke a key for good, with a reason (logged: the key keeps none)."""
    principal = console.signed_in
    api_key = await identity.get_api_key(console.session, key_id)
    ensure_same_merchant(principal, api_key.merchant_id, what="API key")

    async def work() -> object:
        reason = required_reason(form)
        revoked = await identity.revoke_api_key(
            console.session, key_id, actor=principal.actor, now=console.now
        )
        log_reason(console, "api_key.revoke", key_id, reason)
        return revoked

    return await attempt_and_redirect(
        console, work, form, success_url=API_KEYS, success=N_("The key is revoked.")
    )
