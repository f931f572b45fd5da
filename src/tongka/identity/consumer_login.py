"""Consumer (card holder) sign-in: phone number + one-time code sent by SMS.

A code is 6 digits from ``secrets``, kept only as an HMAC bound to its row, valid for
``LOGIN_CODE_LIFETIME``, good for one successful verification and at most
``MAX_CODE_ATTEMPTS`` tries; a new code supersedes the previous one. Sending is limited
per phone (``RESEND_INTERVAL`` between codes, ``DAILY_SEND_LIMIT`` in any 24 hours), and
the answer is the same whether the phone belongs to a consumer or not.

A verified phone signs the consumer in (creating them at KYC level 1 on first sign-in, or
raising their level to at least 1) and opens a session whose token works both as the
console cookie and as ``Authorization: Bearer tk_con_...`` for the API.

Like ``service.login``, verification *returns* its failures instead of raising, so the
caller commits the attempt counter (an exception would roll it back and defeat the limit).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import ensure_utc
from tongka.crypto import keyed_hash
from tongka.errors import RateLimited
from tongka.events import record_event
from tongka.identity import service as identity
from tongka.identity.crypto import IdentityKeys
from tongka.identity.models import (
    ConsoleSession,
    Consumer,
    ConsumerLoginCode,
    KycLevel,
    LoginCodeStatus,
)
from tongka.identity.sms import SmsSender, mask_phone, normalize_mobile
from tongka.ids import new_id

log = structlog.get_logger(__name__)

LOGIN_CODE_LENGTH = 6
LOGIN_CODE_LIFETIME = timedelta(minutes=5)
MAX_CODE_ATTEMPTS = 5
RESEND_INTERVAL = timedelta(seconds=60)
DAILY_SEND_LIMIT = 10
DAILY_WINDOW = timedelta(hours=24)

# Why a verification failed; each is also the error ``code`` the API answers with.
CODE_INVALID = "login_code_invalid"
CODE_EXPIRED = "login_code_expired"
CODE_LOCKED = "login_code_locked"


@dataclass(frozen=True)
class SentCode:
    """What the caller may know about a sent code (never the code itself)."""

    code_id: str
    phone: str
    expires_at: datetime


@dataclass(frozen=True)
class ConsumerSignIn:
    """A verification's outcome: a consumer with a fresh session, or a ``failure`` code."""

    consumer: Consumer | None = None
    session_token: str | None = None
    console_session: ConsoleSession | None = None
    failure: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.failure is None


def login_code_message(code: str) -> str:
    return f"【通卡】您的登录验证码为 {code}，5 分钟内有效，请勿告诉他人。"


def _code_hash(keys: IdentityKeys, code_id: str, code: str) -> str:
    """Bound to the row: the same six digits hash differently for every code."""
    return keyed_hash(keys.login_code, f"{code_id}:{code}")


def _new_code() -> str:
    return f"{secrets.randbelow(10**LOGIN_CODE_LENGTH):0{LOGIN_CODE_LENGTH}d}"


async def _code_event(
    session: AsyncSession,
    type: str,
    login_code: ConsumerLoginCode,
    *,
    actor: str,
    now: datetime,
    **data: object,
) -> None:
    """An event about a code: the phone masked, the code itself never."""
    await record_event(
        session,
        type=type,
        object_type="consumer_login_code",
        object_id=login_code.id,
        actor=actor,
        now=now,
        data={"phone": mask_phone(login_code.phone), **data},
    )


async def _check_send_rate(session: AsyncSession, phone: str, now: datetime) -> None:
    """At most one code per ``RESEND_INTERVAL`` and ``DAILY_SEND_LIMIT`` a day per phone.

    The phone's latest code row is locked first, so concurrent requests for one phone take
    turns and each counts what the one before it sent (a phone's very first request has no
    row to lock; at worst two first codes race, and the newer supersedes the other).
    """
    await _latest_code(session, phone)
    since_day = now - DAILY_WINDOW
    sent_today, latest = (
        await session.execute(
            select(func.count(), func.max(ConsumerLoginCode.created_at)).where(
                ConsumerLoginCode.phone == phone, ConsumerLoginCode.created_at > since_day
            )
        )
    ).one()
    if latest is not None:
        wait = ensure_utc(latest) + RESEND_INTERVAL - now
        if wait > timedelta(0):
            raise RateLimited(
                "A code was sent to this number a moment ago; wait before asking again.",
                code="login_code_rate_limited",
                param="phone",
                retry_after_seconds=max(1, int(wait.total_seconds() + 0.999)),
            )
    if sent_today >= DAILY_SEND_LIMIT:
        oldest = await session.scalar(
            select(func.min(ConsumerLoginCode.created_at)).where(
                ConsumerLoginCode.phone == phone, ConsumerLoginCode.created_at > since_day
            )
        )
        assert oldest is not None  # counted above
        wait = ensure_utc(oldest) + DAILY_WINDOW - now
        raise RateLimited(
            f"No more than {DAILY_SEND_LIMIT} codes a day go to one number; try again later.",
            code="login_code_daily_limit",
            details={"limit": DAILY_SEND_LIMIT},
            param="phone",
            retry_after_seconds=max(1, int(wait.total_seconds() + 0.999)),
        )


async def request_login_code(
    session: AsyncSession, keys: IdentityKeys, phone: str, *, now: datetime, sender: SmsSender
) -> SentCode:
    """Send a new sign-in code to ``phone`` (superseding any earlier one).

    Raises ``InvalidRequest`` (``invalid_phone``), ``RateLimited``
    (``login_code_rate_limited``, ``login_code_daily_limit``) or the sender's error; then
    nothing was written.
    """
    phone = normalize_mobile(phone)
    await _check_send_rate(session, phone, now)
    await session.execute(
        update(ConsumerLoginCode)
        .where(
            ConsumerLoginCode.phone == phone,
            ConsumerLoginCode.status == LoginCodeStatus.PENDING,
        )
        .values(status=LoginCodeStatus.SUPERSEDED)
        .execution_options(synchronize_session=False)
    )
    code = _new_code()
    login_code = ConsumerLoginCode(
        id=new_id("lgc"),
        phone=phone,
        status=LoginCodeStatus.PENDING,
        failed_attempts=0,
        created_at=now,
        expires_at=now + LOGIN_CODE_LIFETIME,
    )
    login_code.code_hash = _code_hash(keys, login_code.id, code)
    session.add(login_code)
    await session.flush()
    await sender.send(session, phone=phone, body=login_code_message(code), now=now)
    await _code_event(
        session,
        "consumer.login_code_sent",
        login_code,
        actor="public",
        now=now,
        expires_at=login_code.expires_at.isoformat(),
    )
    log.info("identity.login_code_sent", code_id=login_code.id, phone=mask_phone(phone))
    return SentCode(code_id=login_code.id, phone=phone, expires_at=login_code.expires_at)


async def _latest_code(session: AsyncSession, phone: str) -> ConsumerLoginCode | None:
    return await session.scalar(
        select(ConsumerLoginCode)
        .where(ConsumerLoginCode.phone == phone)
        .order_by(ConsumerLoginCode.created_at.desc(), ConsumerLoginCode.id.desc())
        .limit(1)
        .with_for_update()
    )


async def _count_wrong_code(
    session: AsyncSession, login_code: ConsumerLoginCode, now: datetime
) -> str:
    login_code.failed_attempts += 1
    if login_code.failed_attempts < MAX_CODE_ATTEMPTS:
        await session.flush()
        return CODE_INVALID
    login_code.status = LoginCodeStatus.LOCKED
    await session.flush()
    log.warning(
        "identity.login_code_locked", code_id=login_code.id, phone=mask_phone(login_code.phone)
    )
    await _code_event(
        session,
        "consumer.login_code_locked",
        login_code,
        actor="system",
        now=now,
        failed_attempts=MAX_CODE_ATTEMPTS,
    )
    return CODE_LOCKED


async def _check_code(
    session: AsyncSession, keys: IdentityKeys, phone: str, code: str, now: datetime
) -> str | None:
    """None when ``code`` is the live code of ``phone`` (now used up), else the failure."""
    login_code = await _latest_code(session, phone)
    if login_code is None or login_code.status in (
        LoginCodeStatus.USED,
        LoginCodeStatus.SUPERSEDED,
    ):
        return CODE_INVALID
    if login_code.status == LoginCodeStatus.LOCKED:
        return CODE_LOCKED
    if ensure_utc(login_code.expires_at) <= now:
        return CODE_EXPIRED
    given = _code_hash(keys, login_code.id, code.strip())
    if not hmac.compare_digest(given, login_code.code_hash):
        return await _count_wrong_code(session, login_code, now)
    login_code.status = LoginCodeStatus.USED
    login_code.used_at = now
    await session.flush()
    return None


async def _consumer_with_verified_phone(
    session: AsyncSession, phone: str, now: datetime
) -> Consumer:
    consumer = await identity.find_consumer_by_phone(session, phone)
    actor = "consumer_login"
    if consumer is None:
        return await identity.create_consumer(
            session, phone=phone, actor=actor, now=now, kyc_level=KycLevel.PHONE
        )
    if consumer.kyc_level < KycLevel.PHONE:
        consumer = await identity.set_kyc_level(
            session, consumer.id, KycLevel.PHONE, actor=actor, now=now
        )
    return consumer


async def verify_login_code(
    session: AsyncSession, keys: IdentityKeys, phone: str, code: str, *, now: datetime
) -> ConsumerSignIn:
    """Check ``code`` for ``phone``; on success sign the consumer in (see the module doc).

    Failures (``login_code_invalid|expired|locked``) are returned; a wrong code counts
    against the code's ``MAX_CODE_ATTEMPTS``. The comparison is constant-time.
    """
    phone = normalize_mobile(phone)
    failure = await _check_code(session, keys, phone, code, now)
    if failure is not None:
        log.info("identity.login_code_refused", phone=mask_phone(phone), reason=failure)
        return ConsumerSignIn(failure=failure)
    consumer = await _consumer_with_verified_phone(session, phone, now)
    console_session, token = await identity.open_consumer_session(session, keys, consumer, now=now)
    await record_event(
        session,
        type="consumer.signed_in",
        object_type="consumer",
        object_id=consumer.id,
        actor=f"consumer:{consumer.id}",
        now=now,
        data={"session_id": console_session.id},
    )
    return ConsumerSignIn(consumer=consumer, session_token=token, console_session=console_session)
