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
from tongka.identity.models import (
    ApiKey,
    ApiKeyRole,
    MerchantRole,
    PlatformRole,
    User,
    UserStatus,
)
from tongka.policy import Action, scope_of
from tongka.web import pickers
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
from tongka.web.lists import (
    Column,
    Label,
    ListSpec,
    date_range,
    matching,
    picker_filter,
    select_filter,
    text_filter,
)
from tongka.web.names import names_of
from tongka.web.pages.listing import Allowed

router = console_router()
USERS_URL = "/console/users"
API_KEYS_URL = "/console/api_keys"


def label_of_role(console: Console, role: str) -> str:
    words = LABELS["role"].get(role)
    return console.gettext(words) if words else role


USER_ROLES = [role.value for role in (*PlatformRole, *MerchantRole)]


def _merchant_column() -> Column:
    return Column(
        "merchant",
        N_("Merchant"),
        csv=lambda row, x: x["names"].of("merchants", row.merchant_id),
        platform_only=True,
    )


USERS = ListSpec(
    name="users",
    id_column=User.id,
    columns=[
        Column(
            "display_name",
            N_("Full name"),
            sort=User.display_name,
            csv=lambda row, x: row.display_name,
        ),
        Column("email", N_("Email"), sort=User.email, csv=lambda row, x: row.email),
        Column("role", N_("Role"), sort=User.role, csv=lambda row, x: Label("role", row.role)),
        Column("store", N_("Store"), csv=lambda row, x: x["names"].of("stores", row.store_id)),
        _merchant_column(),
        Column(
            "status", N_("Status"), sort=User.status, csv=lambda row, x: Label("status", row.status)
        ),
        Column(
            "created_at", N_("Created"), sort=User.created_at, csv=lambda row, x: row.created_at
        ),
    ],
    filters=[
        text_filter(
            "q", N_("Search"), matching(User.display_name, User.email), N_("Name or email")
        ),
        select_filter("role", N_("Role"), User.role, USER_ROLES, "role"),
        select_filter("status", N_("Status"), User.status, [s.value for s in UserStatus], "status"),
        picker_filter("store_id", N_("Store"), "stores", User.store_id),
        date_range("created", N_("Created"), User.created_at),
    ],
    extras=names_of(merchants="merchant_id", stores="store_id"),
)
API_KEYS = ListSpec(
    name="api_keys",
    id_column=ApiKey.id,
    columns=[
        Column("name", N_("Name"), sort=ApiKey.name, csv=lambda row, x: row.name),
        Column("prefix", N_("Prefix"), csv=lambda row, x: f"{row.prefix}…"),
        Column("role", N_("Role"), sort=ApiKey.role, csv=lambda row, x: Label("role", row.role)),
        Column("store", N_("Store"), csv=lambda row, x: x["names"].of("stores", row.store_id)),
        _merchant_column(),
        Column(
            "created_at", N_("Created"), sort=ApiKey.created_at, csv=lambda row, x: row.created_at
        ),
        Column(
            "last_used_at",
            N_("Last used"),
            sort=ApiKey.last_used_at,
            csv=lambda row, x: row.last_used_at,
        ),
        Column("revoked_at", N_("Revoked"), csv=lambda row, x: row.revoked_at, in_page=False),
        Column("actions"),
    ],
    filters=[
        text_filter("q", N_("Search"), matching(ApiKey.name, ApiKey.prefix), N_("Name or prefix")),
        picker_filter("store_id", N_("Store"), "stores", ApiKey.store_id),
        date_range("created", N_("Created"), ApiKey.created_at),
    ],
    extras=names_of(merchants="merchant_id", stores="store_id"),
)


async def _access_page(
    console: Console,
    name: str,
    spec: ListSpec,
    statement: Select[Any],
    merchant_roles: type[StrEnum],
    status_code: int,
    **context: Any,
) -> Response:
    """``<name>.html``: one page of users or keys, with the roles and stores its form offers
    (platform roles to platform callers, ``merchant_roles`` to a merchant's)."""
    roles = list(PlatformRole) if console.signed_in.is_platform else list(merchant_roles)
    stores = (
        [] if console.signed_in.is_platform else await pickers.preloaded(console, "stores", None)
    )
    return await spec.render(
        console,
        statement,
        f"{name}.html",
        status_code,
        roles=roles,
        store_choices=stores,
        role_choices=[(role.value, label_of_role(console, role.value)) for role in roles],
        key_actions=key_actions,
        **context,
    )


async def _users_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = identity.users_query(scope_of(console.signed_in).merchant())
    return await _access_page(
        console, "users", USERS, statement, MerchantRole, status_code, **context
    )


async def _api_keys_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = identity.api_keys_query(scope_of(console.signed_in).merchant())
    return await _access_page(
        console, "api_keys", API_KEYS, statement, ApiKeyRole, status_code, **context
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
        console, work, form, success_url=USERS_URL, success=N_("The user was created.")
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
    return await show_secret_once(console, work, form, page=_api_keys_page, url=API_KEYS_URL)


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
        console, work, form, success_url=API_KEYS_URL, success=N_("The key is revoked.")
    )
