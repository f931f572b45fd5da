"""A console user's access after creation: change one's own password, an admin's password
reset (a temporary password, changed at the next login), disabling and enabling a user.

Every change that should lock someone out ends the user's console sessions in the same
transaction (``end_user_sessions``): a disabled user, or one whose password was reset or
changed elsewhere, is signed out at once, not when the session expires. See
``docs/decisions/0009-rejected-applicants-and-password-resets.md``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.errors import InvalidRequest, PermissionDenied
from tongka.identity.common import check_password_strength, identity_event
from tongka.identity.errors import IllegalTransition, InvalidCredentials, ObjectNotFound
from tongka.identity.models import (
    ConsoleSession,
    MerchantRole,
    PlatformRole,
    User,
    UserKind,
    UserStatus,
)
from tongka.identity.passwords import hash_password, verify_password
from tongka.identity.principal import Principal, PrincipalKind

log = structlog.get_logger(__name__)

TEMPORARY_PASSWORD_LENGTH = 16  # ~92 bits: typed once (read aloud, perhaps), then replaced
# letters and digits a person cannot mistake for one another (no 0/O, 1/l/I)
TEMPORARY_PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class PasswordReset:
    """A reset's outcome: ``temporary_password`` is shown to the admin once, never stored."""

    user: User
    temporary_password: str


async def end_user_sessions(
    session: AsyncSession, user_id: str, *, now: datetime, keep_session_id: str | None = None
) -> None:
    """Every live console session of the user stops working now (but ``keep_session_id``)."""
    statement = update(ConsoleSession).where(
        ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None)
    )
    if keep_session_id is not None:
        statement = statement.where(ConsoleSession.id != keep_session_id)
    await session.execute(
        statement.values(ended_at=now).execution_options(synchronize_session=False)
    )


async def _locked_user(session: AsyncSession, user_id: str) -> User:
    user = await session.scalar(
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None:
        raise ObjectNotFound("No such user.")
    return user


def replace_password(user: User, new_password: str, now: datetime) -> None:
    """The user's own new password, which must differ from the one it replaces (a changed
    or a temporary one); refused at the field ``new_password``."""
    if verify_password(user.password_hash, new_password):
        raise InvalidRequest(
            "The new password must differ from the current one.",
            code="password_unchanged",
            param="new_password",
        )
    try:
        _set_password(user, new_password, now, must_change=False)
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message, code=exc.code, param="new_password") from exc


def _set_password(user: User, new_password: str, now: datetime, *, must_change: bool) -> None:
    check_password_strength(new_password)
    user.password_hash = hash_password(new_password)
    user.must_change_password = must_change
    user.failed_login_count = 0
    user.locked_until = None
    user.updated_at = now


async def change_password(
    session: AsyncSession,
    user_id: str,
    *,
    current_password: str,
    new_password: str,
    now: datetime,
    keep_session_id: str | None = None,
) -> User:
    """The user sets a new password, proving the current one; their other sessions end
    (whoever else knew the old password is signed out)."""
    user = await _locked_user(session, user_id)
    if not verify_password(user.password_hash, current_password):
        raise InvalidCredentials(
            "The current password is wrong.",
            code="wrong_current_password",
            param="current_password",
        )
    replace_password(user, new_password, now)
    await session.flush()
    await end_user_sessions(session, user.id, now=now, keep_session_id=keep_session_id)
    await identity_event(
        session,
        "user.password_changed",
        user,
        actor=f"user:{user.id}",
        now=now,
        merchant_id=user.merchant_id,
    )
    return user


def ensure_manages(principal: Principal, user: User, *, platform_reaches_merchants: bool) -> None:
    """A merchant admin manages its own merchant's staff; a platform admin the platform's
    operators (and, when ``platform_reaches_merchants``, any merchant's staff). Another
    tenant's user is simply not found; nobody manages themselves here."""
    if principal.kind is PrincipalKind.MERCHANT:
        if user.merchant_id != principal.merchant_id:
            raise ObjectNotFound("No such user.")
    elif principal.kind is PrincipalKind.PLATFORM:
        if user.kind != UserKind.PLATFORM and not platform_reaches_merchants:
            raise PermissionDenied(
                "A merchant's staff have their passwords reset by the merchant's admin."
            )
    else:
        raise ObjectNotFound("No such user.")
    if principal.actor == f"user:{user.id}":
        raise IllegalTransition("You cannot do this to your own account.", code="own_account")


def _reason(reason: str | None) -> str:
    if not (reason and reason.strip()):
        raise InvalidRequest("Give a reason.", param="reason")
    return reason.strip()


async def reset_password(
    session: AsyncSession, user_id: str, *, principal: Principal, reason: str | None, now: datetime
) -> PasswordReset:
    """A temporary password for a user who forgot theirs: shown once to the admin, it only
    lets the user choose a new password at the next login; the user's sessions end."""
    why = _reason(reason)
    user = await _locked_user(session, user_id)
    ensure_manages(principal, user, platform_reaches_merchants=False)
    if user.status != UserStatus.ACTIVE:
        raise IllegalTransition("Enable the user before resetting their password.")
    temporary = "".join(
        secrets.choice(TEMPORARY_PASSWORD_ALPHABET) for _ in range(TEMPORARY_PASSWORD_LENGTH)
    )
    _set_password(user, temporary, now, must_change=True)
    await session.flush()
    await end_user_sessions(session, user.id, now=now)
    await identity_event(
        session,
        "user.password_reset",
        user,
        actor=principal.actor,
        now=now,
        merchant_id=user.merchant_id,
        data={"reason": why},
    )
    return PasswordReset(user, temporary)


def _admin_role(user: User) -> str:
    return PlatformRole.ADMIN if user.kind == UserKind.PLATFORM else MerchantRole.MERCHANT_ADMIN


async def _ensure_not_last_admin(session: AsyncSession, user: User) -> None:
    """Someone must stay able to manage the merchant (or the platform). The other active
    admins are locked (sorted, ``FOR UPDATE``) so two admins disabling each other at the
    same time cannot both succeed."""
    if user.role != _admin_role(user):
        return
    others = (
        select(User.id)
        .where(
            User.role == user.role,
            User.status == UserStatus.ACTIVE,
            User.id != user.id,
        )
        .order_by(User.id)
        .with_for_update()
    )
    if user.merchant_id is None:
        others = others.where(User.merchant_id.is_(None))
    else:
        others = others.where(User.merchant_id == user.merchant_id)
    if not list(await session.scalars(others)):
        raise IllegalTransition(
            "This is the last active admin: make another user admin first.",
            code="last_active_admin",
        )


async def set_user_enabled(
    session: AsyncSession,
    user_id: str,
    *,
    is_enabled: bool,
    principal: Principal,
    reason: str | None,
    now: datetime,
) -> User:
    """Disable a user (their sessions end at once and they can no longer log in) or enable
    them again. Nobody disables themselves; the last active admin stays."""
    why = _reason(reason) if not is_enabled else (reason or "").strip() or None
    user = await _locked_user(session, user_id)
    ensure_manages(principal, user, platform_reaches_merchants=True)
    target = UserStatus.ACTIVE if is_enabled else UserStatus.DISABLED
    if user.status == target:
        raise IllegalTransition(f"The user is already {target}.", param="status")
    if not is_enabled:
        await _ensure_not_last_admin(session, user)
    previous = user.status
    user.status = target
    user.updated_at = now
    await session.flush()
    if not is_enabled:
        await end_user_sessions(session, user.id, now=now)
    await identity_event(
        session,
        "user.enabled" if is_enabled else "user.disabled",
        user,
        actor=principal.actor,
        now=now,
        merchant_id=user.merchant_id,
        data={"previous_status": previous, "status": target, "reason": why},
    )
    return user


async def live_session_count(session: AsyncSession, user_id: str, now: datetime) -> int:
    """How many unexpired, unended sessions the user has (the users page shows it)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(ConsoleSession)
            .where(
                ConsoleSession.user_id == user_id,
                ConsoleSession.ended_at.is_(None),
                ConsoleSession.expires_at > now,
            )
        )
        or 0
    )
