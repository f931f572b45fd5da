"""Platform and merchant users (console logins) and their roles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.errors import InvalidRequest
from tongka.identity.common import (
    check_password_strength,
    flush_unique,
    get_object,
    identity_event,
    normalize_email,
)
from tongka.identity.errors import (
    AlreadyExists,
)
from tongka.identity.models import (
    Merchant,
    MerchantRole,
    PlatformRole,
    User,
    UserKind,
    UserStatus,
)
from tongka.identity.passwords import hash_password
from tongka.identity.principal import Principal, PrincipalKind, expand_role
from tongka.identity.stores import get_store
from tongka.ids import new_id

log = structlog.get_logger(__name__)


async def ensure_email_free(session: AsyncSession, email: str) -> None:
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AlreadyExists(
            "A user with this email already exists.", param="email", details={"object": "user"}
        )


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    display_name: str,
    role: str,
    password: str,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    store_id: str | None = None,
) -> User:
    """A console user: a platform operator when ``merchant_id`` is None, else merchant staff.

    Merchant staff may be tied to one of the merchant's stores (cashiers usually are).
    """
    email = normalize_email(email)
    check_password_strength(password)
    if merchant_id is None:
        if role not in PlatformRole.__members__.values():
            raise InvalidRequest(
                f"A platform user's role is one of {', '.join(PlatformRole)}.",
                code="invalid_role",
                param="role",
                details={"roles": list(PlatformRole)},
            )
        if store_id is not None:
            raise InvalidRequest(
                "Platform users have no store.", code="platform_has_no_store", param="store_id"
            )
    else:
        if role not in MerchantRole.__members__.values():
            raise InvalidRequest(
                f"A merchant user's role is one of {', '.join(MerchantRole)}.",
                code="invalid_role",
                param="role",
                details={"roles": list(MerchantRole)},
            )
        await get_object(session, Merchant, merchant_id, "merchant")
        if store_id is not None:
            await get_store(session, store_id, merchant_id=merchant_id)
    await ensure_email_free(session, email)
    user = User(
        id=new_id("usr"),
        kind=UserKind.PLATFORM if merchant_id is None else UserKind.MERCHANT,
        merchant_id=merchant_id,
        store_id=store_id,
        email=email,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
        status=UserStatus.ACTIVE,
        failed_login_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    await flush_unique(session, "user", "email")
    await identity_event(
        session,
        "user.created",
        user,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data={"email": email, "role": role, "kind": user.kind, "store_id": store_id},
    )
    return user


async def get_user(session: AsyncSession, user_id: str) -> User:
    user: User = await get_object(session, User, user_id, "user")
    return user


def users_query(merchant_id: str | None) -> Select[Any]:
    """All users (platform) or one merchant's staff."""
    statement = select(User)
    if merchant_id is not None:
        statement = statement.where(User.merchant_id == merchant_id)
    return statement


def principal_for_user(user: User) -> Principal:
    return Principal(
        kind=PrincipalKind(user.kind),
        actor=f"user:{user.id}",
        roles=expand_role(user.role),
        merchant_id=user.merchant_id,
        store_id=user.store_id,
    )
