"""Console login, console and consumer sessions, lockout, CSRF tokens."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import ensure_utc
from tongka.crypto import keyed_hash, random_token
from tongka.identity.common import (
    identity_event,
    merchant_is_active,
    merchant_status,
    normalize_email,
)
from tongka.identity.consumers import principal_for_consumer
from tongka.identity.crypto import IdentityKeys
from tongka.identity.models import (
    ConsoleSession,
    Consumer,
    MerchantStatus,
    User,
    UserStatus,
)
from tongka.identity.passwords import verify_password
from tongka.identity.principal import Principal
from tongka.identity.user_access import replace_password
from tongka.identity.users import principal_for_user
from tongka.ids import new_id

log = structlog.get_logger(__name__)

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_IDLE_TIMEOUT = timedelta(hours=2)
SESSION_MAX_AGE = timedelta(hours=12)
SESSION_TOUCH_RESOLUTION = timedelta(minutes=1)
CONSUMER_TOKEN_PREFIX = "tk_con_"  # consumer session tokens (cookie and API bearer)


@dataclass(frozen=True)
class LoginResult:
    """A login attempt's outcome. Failures are returned, not raised, so the caller commits
    the failed-attempt counter (an exception would roll it back and defeat the lockout)."""

    user: User | None
    session_token: str | None = None
    console_session: ConsoleSession | None = None
    # "invalid_credentials" | "locked" | "merchant_not_active" | "merchant_rejected" (the
    # applicant may see and correct its application) | "password_change_required" (a reset
    # password: log in again with ``new_password``)
    failure: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.failure is None


async def login(
    session: AsyncSession,
    keys: IdentityKeys,
    *,
    email: str,
    password: str,
    now: datetime,
    new_password: str | None = None,
) -> LoginResult:
    """Check the password and open a console session; count failures and lock the account
    for ``LOCKOUT`` after ``MAX_FAILED_LOGINS`` in a row.

    A password an admin reset (``must_change_password``) opens no session by itself: the
    user logs in with it *and* a ``new_password``, which replaces it in the same step. A
    too-short new password raises ``InvalidRequest`` (nothing was counted or changed)."""
    user = await session.scalar(
        select(User).where(User.email == normalize_email(email)).with_for_update()
    )
    password_matches = verify_password(user.password_hash if user else None, password)
    if user is None or user.status != UserStatus.ACTIVE:
        return LoginResult(user=None, failure="invalid_credentials")
    if user.locked_until is not None and ensure_utc(user.locked_until) > now:
        log.info("identity.login_refused_locked", user_id=user.id)
        return LoginResult(user=user, failure="locked")
    if not password_matches:
        await _count_failed_login(session, user, now)
        return LoginResult(user=user, failure="invalid_credentials")
    if not await merchant_is_active(session, user.merchant_id):
        rejected = await merchant_status(session, user.merchant_id) == MerchantStatus.REJECTED
        return LoginResult(
            user=user, failure="merchant_rejected" if rejected else "merchant_not_active"
        )
    if user.must_change_password:
        if new_password is None:
            return LoginResult(user=user, failure="password_change_required")
        await _replace_temporary_password(session, user, new_password, now)
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    console_session, token = await _open_session(session, keys, now, user_id=user.id)
    return LoginResult(user=user, session_token=token, console_session=console_session)


async def _replace_temporary_password(
    session: AsyncSession, user: User, new_password: str, now: datetime
) -> None:
    replace_password(user, new_password, now)
    await identity_event(
        session,
        "user.password_changed",
        user,
        actor=f"user:{user.id}",
        now=now,
        merchant_id=user.merchant_id,
        data={"after_reset": True},
    )


async def _open_session(
    session: AsyncSession,
    keys: IdentityKeys,
    now: datetime,
    *,
    user_id: str | None = None,
    consumer_id: str | None = None,
    token_prefix: str = "",
) -> tuple[ConsoleSession, str]:
    """A new session of a user or a consumer, and its token (kept only as an HMAC)."""
    token = token_prefix + random_token(43)
    console_session = ConsoleSession(
        id=new_id("ses"),
        token_hash=keyed_hash(keys.session_hash, token),
        user_id=user_id,
        consumer_id=consumer_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_MAX_AGE,
    )
    session.add(console_session)
    await session.flush()
    return console_session, token


async def open_consumer_session(
    session: AsyncSession, keys: IdentityKeys, consumer: Consumer, *, now: datetime
) -> tuple[ConsoleSession, str]:
    """A consumer's session (after a verified sign-in code). Its token starts with
    ``CONSUMER_TOKEN_PREFIX`` and works as the console cookie and as an API bearer token;
    it expires like a console session (idle and absolute limits)."""
    return await _open_session(
        session, keys, now, consumer_id=consumer.id, token_prefix=CONSUMER_TOKEN_PREFIX
    )


async def _count_failed_login(session: AsyncSession, user: User, now: datetime) -> None:
    user.failed_login_count += 1
    if user.failed_login_count >= MAX_FAILED_LOGINS:
        user.failed_login_count = 0
        user.locked_until = now + LOCKOUT
        log.warning("identity.user_locked", user_id=user.id)
        await identity_event(
            session,
            "user.locked",
            user,
            actor="system",
            now=now,
            merchant_id=user.merchant_id,
            data={"locked_until": user.locked_until.isoformat()},
        )
    await session.flush()


@dataclass(frozen=True)
class SignedIn:
    """A live session and who it belongs to: a console user or a consumer."""

    console_session: ConsoleSession
    principal: Principal
    user: User | None = None
    consumer: Consumer | None = None


async def _session_subject(
    session: AsyncSession, console_session: ConsoleSession
) -> SignedIn | None:
    if console_session.consumer_id is not None:
        consumer = await session.get(Consumer, console_session.consumer_id)
        if consumer is None:
            return None
        return SignedIn(console_session, principal_for_consumer(consumer), consumer=consumer)
    user = await session.get(User, console_session.user_id)
    if user is None or user.status != UserStatus.ACTIVE:
        return None
    if not await merchant_is_active(session, user.merchant_id):
        return None
    return SignedIn(console_session, principal_for_user(user), user=user)


async def resolve_session(
    session: AsyncSession, keys: IdentityKeys, token: str, *, now: datetime
) -> SignedIn | None:
    """The live session for a cookie (or consumer bearer) token, or None if unknown, ended,
    idle for longer than ``SESSION_IDLE_TIMEOUT``, older than ``SESSION_MAX_AGE``, or its
    user (or merchant) can no longer log in."""
    console_session = await session.scalar(
        select(ConsoleSession).where(
            ConsoleSession.token_hash == keyed_hash(keys.session_hash, token)
        )
    )
    if console_session is None or console_session.ended_at is not None:
        return None
    last_seen = ensure_utc(console_session.last_seen_at)
    if ensure_utc(console_session.expires_at) <= now or last_seen + SESSION_IDLE_TIMEOUT <= now:
        return None
    signed_in = await _session_subject(session, console_session)
    if signed_in is None:
        return None
    if last_seen + SESSION_TOUCH_RESOLUTION <= now:
        console_session.last_seen_at = now
        await session.flush()
    return signed_in


async def resolve_console_session(
    session: AsyncSession, keys: IdentityKeys, token: str, *, now: datetime
) -> tuple[ConsoleSession, User] | None:
    """A console *user's* live session (see ``resolve_session``); None for consumers."""
    signed_in = await resolve_session(session, keys, token, now=now)
    if signed_in is None or signed_in.user is None:
        return None
    return signed_in.console_session, signed_in.user


async def end_console_session(
    session: AsyncSession, keys: IdentityKeys, token: str, *, now: datetime
) -> None:
    """Log out: the session's token stops working at once."""
    await session.execute(
        update(ConsoleSession)
        .where(
            ConsoleSession.token_hash == keyed_hash(keys.session_hash, token),
            ConsoleSession.ended_at.is_(None),
        )
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )


async def end_session(
    session: AsyncSession, console_session: ConsoleSession, *, now: datetime
) -> None:
    """Log out the session at hand (e.g. a consumer's API token): it stops working at once."""
    if console_session.ended_at is None:
        console_session.ended_at = now
        await session.flush()


def csrf_token_for(keys: IdentityKeys, console_session_id: str) -> str:
    """The synchronizer token of a console session: forms and HTMX requests must echo it."""
    return keyed_hash(keys.csrf, console_session_id)


def csrf_token_matches(keys: IdentityKeys, console_session_id: str, token: str | None) -> bool:
    if not token:
        return False
    return hmac.compare_digest(csrf_token_for(keys, console_session_id), token)
