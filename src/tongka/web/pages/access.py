"""Users and API keys: who may use the console and the API."""

from __future__ import annotations

from fastapi import Response

from tongka.api.auth import ensure_same_merchant, list_scope
from tongka.identity import service as identity
from tongka.identity.models import ApiKey, MerchantRole, PlatformRole, Store, User
from tongka.web.console import (
    Console,
    FormDep,
    SignedInDep,
    console_router,
    form_text,
    optional_text,
)
from tongka.web.pages.listing import page_of, require_role

router = console_router()
MANAGERS = ("merchant_admin", "admin")


def _roles_for(console: Console) -> list[str]:
    principal = console.signed_in
    return list(PlatformRole) if principal.is_platform else list(MerchantRole)


async def _users_page(console: Console, status_code: int = 200, **context: object) -> Response:
    require_role(console.signed_in, *MANAGERS)
    users, next_after = await page_of(
        console, identity.users_query(list_scope(console.signed_in)), User
    )
    stores, _ = await page_of(console, identity.stores_query(list_scope(console.signed_in)), Store)
    return console.render(
        "users.html",
        status_code=status_code,
        users=users,
        roles=_roles_for(console),
        stores=stores,
        next_after=next_after,
        **context,
    )


@router.get("/users")
async def users_page(console: SignedInDep) -> Response:
    return await _users_page(console)


@router.post("/users")
async def create_user(console: SignedInDep, form: FormDep) -> Response:
    principal = console.signed_in
    require_role(principal, *MANAGERS)
    _, error = await console.attempt(
        lambda: identity.create_user(
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
    )
    if error:
        return await _users_page(console, 400, error=error)
    return console.redirect("/console/users")


async def _api_keys_page(console: Console, status_code: int = 200, **context: object) -> Response:
    require_role(console.signed_in, *MANAGERS)
    api_keys, next_after = await page_of(
        console, identity.api_keys_query(list_scope(console.signed_in)), ApiKey
    )
    stores, _ = await page_of(console, identity.stores_query(list_scope(console.signed_in)), Store)
    response = console.render(
        "api_keys.html",
        status_code=status_code,
        api_keys=api_keys,
        stores=stores,
        roles=_roles_for(console) if console.signed_in.is_platform else ["full", "cashier"],
        next_after=next_after,
        **context,
    )
    response.headers["Cache-Control"] = "no-store"  # the page may show a new secret
    return response


@router.get("/api_keys")
async def api_keys_page(console: SignedInDep) -> Response:
    return await _api_keys_page(console)


@router.post("/api_keys")
async def create_api_key(console: SignedInDep, form: FormDep) -> Response:
    """Creates a key of the caller's own merchant (or a platform key for platform admins)
    and shows its secret on this response only."""
    principal = console.signed_in
    require_role(principal, *MANAGERS)
    issued, error = await console.attempt(
        lambda: identity.create_api_key(
            console.session,
            console.keys,
            name=form_text(form, "name") or "console",
            role=form_text(form, "role") or ("admin" if principal.is_platform else "full"),
            merchant_id=principal.merchant_id,
            store_id=optional_text(form, "store_id"),
            actor=principal.actor,
            now=console.now,
        )
    )
    if error or issued is None:
        return await _api_keys_page(console, 400, error=error)
    return await _api_keys_page(console, 201, created=issued)


@router.post("/api_keys/{key_id}/revoke")
async def revoke_api_key(key_id: str, console: SignedInDep, form: FormDep) -> Response:
    principal = console.signed_in
    api_key = await identity.get_api_key(console.session, key_id)
    ensure_same_merchant(principal, api_key.merchant_id, what="API key")
    require_role(principal, *MANAGERS)
    await identity.revoke_api_key(console.session, key_id, actor=principal.actor, now=console.now)
    return console.redirect("/console/api_keys")
