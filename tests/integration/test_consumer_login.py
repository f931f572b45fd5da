"""Consumer sign-in codes, service level, on SQLite and PostgreSQL: the code's life
(expiry, attempts, single use, superseding), send limits, consumer creation at KYC 1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import structlog
from sqlalchemy import func, select

from tests.factories import TEST_KEYS, read_sandbox_code
from tongka.config import Settings
from tongka.db import Database
from tongka.errors import InvalidRequest, RateLimited, ServiceUnavailable
from tongka.events.models import Event
from tongka.identity import consumer_login, sms
from tongka.identity import service as identity
from tongka.identity.consumer_login import CODE_EXPIRED, CODE_INVALID, CODE_LOCKED
from tongka.identity.models import (
    ConsoleSession,
    Consumer,
    ConsumerLoginCode,
    KycLevel,
    SandboxSmsMessage,
)
from tongka.identity.principal import PrincipalKind
from tongka.identity.sms import SandboxSmsSender, normalize_mobile, sms_sender_for

NOW = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
PHONE = "13812345678"


async def _request(database: Database, phone: str = PHONE, at: datetime = NOW) -> str:
    """Send a code; returns it as read from the sandbox SMS table."""
    async with database.transaction() as session:
        await consumer_login.request_login_code(
            session, TEST_KEYS, phone, now=at, sender=SandboxSmsSender()
        )
    return await read_sandbox_code(database, normalize_mobile(phone))


async def _verify(
    database: Database, code: str, phone: str = PHONE, at: datetime = NOW
) -> consumer_login.ConsumerSignIn:
    async with database.transaction() as session:
        return await consumer_login.verify_login_code(session, TEST_KEYS, phone, code, now=at)


async def _count(database: Database, model: type) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _events(database: Database) -> list[Event]:
    async with database.transaction() as session:
        return list((await session.scalars(select(Event).order_by(Event.sequence))).all())


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_a_first_sign_in_creates_the_consumer_at_kyc_1_with_a_session(
    database: Database,
) -> None:
    code = await _request(database)
    result = await _verify(database, code, at=NOW + timedelta(minutes=1))
    assert result.succeeded
    assert result.consumer is not None
    assert result.consumer.phone == PHONE
    assert result.consumer.kyc_level == KycLevel.PHONE
    assert result.session_token is not None
    assert result.session_token.startswith("tk_con_")
    async with database.transaction() as session:
        signed_in = await identity.resolve_session(
            session, TEST_KEYS, result.session_token, now=NOW + timedelta(minutes=2)
        )
        login_code = await session.scalar(select(ConsumerLoginCode))
    assert signed_in is not None
    assert signed_in.consumer is not None
    assert signed_in.principal.kind is PrincipalKind.CONSUMER
    assert signed_in.principal.consumer_id == result.consumer.id
    assert signed_in.principal.actor == f"consumer:{result.consumer.id}"
    assert signed_in.principal.merchant_id is None
    assert login_code is not None
    assert login_code.status == "used"
    assert [event.type for event in await _events(database)] == [
        "consumer.login_code_sent",
        "consumer.created",
        "consumer.signed_in",
    ]


async def test_the_code_is_stored_only_as_a_keyed_hash_and_never_in_events_or_logs(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = structlog.testing.LogCapture()  # module loggers are cached: swap them
    for module in (consumer_login, sms):
        logger = structlog.wrap_logger(structlog.PrintLogger(), processors=[capture])
        monkeypatch.setattr(module, "log", logger)
    code = await _request(database)
    await _verify(database, _wrong(code))
    await _verify(database, code)
    logs = capture.entries
    async with database.transaction() as session:
        login_code = await session.scalar(select(ConsumerLoginCode))
    assert login_code is not None
    assert code not in login_code.code_hash
    assert len(login_code.code_hash) == 64
    events = await _events(database)
    sent = events[0]
    assert sent.type == "consumer.login_code_sent"
    assert sent.data == {"phone": "138****5678", "expires_at": "2026-01-01T08:05:00+00:00"}
    assert all(code not in repr(event.data) for event in events)
    assert [entry["event"] for entry in logs] == [
        "sms.sandbox_delivered",
        "identity.login_code_sent",
        "identity.login_code_refused",
    ]
    assert all(code not in repr(entry) and PHONE not in repr(entry) for entry in logs)


async def test_a_code_expires_after_five_minutes(database: Database) -> None:
    code = await _request(database)
    assert (await _verify(database, code, at=NOW + timedelta(minutes=5))).failure == CODE_EXPIRED
    assert (await _verify(database, code, at=NOW + timedelta(minutes=4, seconds=59))).succeeded


async def test_a_code_works_once(database: Database) -> None:
    code = await _request(database)
    assert (await _verify(database, code)).succeeded
    assert (await _verify(database, code)).failure == CODE_INVALID
    assert await _count(database, ConsoleSession) == 1


async def test_five_wrong_codes_lock_the_code_even_for_the_right_one(database: Database) -> None:
    code = await _request(database)
    failures = [(await _verify(database, _wrong(code))).failure for _ in range(5)]
    assert failures == [CODE_INVALID] * 4 + [CODE_LOCKED]
    assert (await _verify(database, code)).failure == CODE_LOCKED
    assert (await _verify(database, "not digits")).failure == CODE_LOCKED
    async with database.transaction() as session:
        login_code = await session.scalar(select(ConsumerLoginCode))
    assert login_code is not None
    assert (login_code.status, login_code.failed_attempts) == ("locked", 5)
    assert [event.type for event in await _events(database)] == [
        "consumer.login_code_sent",
        "consumer.login_code_locked",
    ]
    assert await _count(database, Consumer) == 0
    assert await _count(database, ConsoleSession) == 0
    # a new code (after the resend interval) works again
    fresh = await _request(database, at=NOW + timedelta(minutes=1))
    assert (await _verify(database, fresh, at=NOW + timedelta(minutes=1))).succeeded


async def test_a_new_code_supersedes_the_previous_one(database: Database) -> None:
    first = await _request(database)
    second = await _request(database, at=NOW + timedelta(seconds=60))
    later = NOW + timedelta(seconds=61)
    if first != second:
        assert (await _verify(database, first, at=later)).failure == CODE_INVALID
    assert (await _verify(database, second, at=later)).succeeded


async def test_no_code_for_a_phone_is_just_invalid(database: Database) -> None:
    assert (await _verify(database, "123456")).failure == CODE_INVALID
    assert await _count(database, ConsumerLoginCode) == 0


async def test_sending_is_limited_per_phone_and_a_refusal_writes_nothing(
    database: Database,
) -> None:
    await _request(database)
    rows = await _count(database, ConsumerLoginCode), await _count(database, SandboxSmsMessage)
    with pytest.raises(RateLimited) as too_soon:
        await _request(database, at=NOW + timedelta(seconds=20))
    assert too_soon.value.code == "login_code_rate_limited"
    assert too_soon.value.retry_after_seconds == 40
    assert (
        await _count(database, ConsumerLoginCode),
        await _count(database, SandboxSmsMessage),
    ) == rows
    assert len(await _events(database)) == 1
    # another phone is not affected
    await _request(database, phone="13900001111", at=NOW + timedelta(seconds=20))
    for minute in range(1, 10):  # ten in all within 24 hours
        await _request(database, at=NOW + timedelta(minutes=minute))
    with pytest.raises(RateLimited) as daily:
        await _request(database, at=NOW + timedelta(hours=1))
    assert daily.value.code == "login_code_daily_limit"
    assert daily.value.retry_after_seconds == 23 * 3600
    await _request(database, at=NOW + timedelta(hours=24, seconds=1))


async def test_an_existing_consumer_is_raised_to_kyc_1_never_lowered(database: Database) -> None:
    async with database.transaction() as session:
        unverified = await identity.create_consumer(session, phone=PHONE, actor="test", now=NOW)
        verified = await identity.create_consumer(
            session, phone="13900002222", actor="test", now=NOW, kyc_level=KycLevel.ID_CARD
        )
    result = await _verify(database, await _request(database))
    assert result.consumer is not None
    assert (result.consumer.id, result.consumer.kyc_level) == (unverified.id, KycLevel.PHONE)
    other = await _verify(database, await _request(database, "13900002222"), "13900002222")
    assert other.consumer is not None
    assert (other.consumer.id, other.consumer.kyc_level) == (verified.id, KycLevel.ID_CARD)
    changes = [e for e in await _events(database) if e.type == "consumer.kyc_level_changed"]
    assert [(e.object_id, e.data) for e in changes] == [
        (unverified.id, {"previous_kyc_level": 0, "kyc_level": 1})
    ]


async def test_a_consumer_registered_with_a_formatted_number_is_the_same_person(
    database: Database,
) -> None:
    async with database.transaction() as session:
        registered = await identity.create_consumer(
            session, phone="+86 138-1234-5678", actor="test", now=NOW
        )
    assert registered.phone == PHONE
    result = await _verify(database, await _request(database))
    assert result.consumer is not None
    assert result.consumer.id == registered.id
    assert await _count(database, Consumer) == 1


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("8613812345678", "13812345678"),
    ],
)
def test_mobile_numbers_are_normalized(given: str, normalized: str) -> None:
    assert normalize_mobile(given) == normalized


@pytest.mark.parametrize(
    "given", ["", "1381234567", "23812345678", "+44 7700 900123", "１３８１２３４５６７８"]
)
def test_other_numbers_are_refused(given: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        normalize_mobile(given)
    assert refused.value.code == "invalid_phone"


def test_production_without_a_gateway_refuses_to_send(settings: Settings) -> None:
    assert isinstance(sms_sender_for(settings), SandboxSmsSender)
    with pytest.raises(ServiceUnavailable) as refused:
        sms_sender_for(settings.model_copy(update={"environment": "production"}))
    assert refused.value.code == "sms_not_configured"
