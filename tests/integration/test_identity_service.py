"""Identity services on SQLite and PostgreSQL: onboarding, login and lockout, keys, secrets."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from tests.factories import (
    DEFAULT_NOW,
    TEST_KEYS,
    TEST_PASSWORD,
    make_merchant_with_key,
    make_platform_user,
    registration,
)
from tongka.db import Database
from tongka.errors import InvalidRequest
from tongka.events.models import Event
from tongka.identity import service as identity
from tongka.identity.errors import AlreadyExists, IllegalTransition, MerchantNotActive
from tongka.identity.models import ApiKey, Merchant, Store
from tongka.identity.principal import PrincipalKind

TIME_CAP_SECONDS = 30  # fails only on a hang

NOW = DEFAULT_NOW


async def _count(database: Database, model: type, *conditions: object) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*conditions)))


async def _event_types(database: Database) -> list[str]:
    async with database.transaction() as session:
        return list(await session.scalars(select(Event.type).order_by(Event.sequence)))


# --- onboarding ---------------------------------------------------------------------------


async def test_registration_is_pending_until_approved(database: Database) -> None:
    # given a registered merchant
    async with database.transaction() as session:
        merchant, admin = await identity.register_merchant(
            session, TEST_KEYS, registration(), now=NOW
        )
    assert merchant.status == "pending_review"
    assert admin.role == "merchant_admin"
    assert admin.merchant_id == merchant.id
    # then it cannot do business, and the refused store leaves nothing behind
    with pytest.raises(MerchantNotActive):
        async with database.transaction() as session:
            await identity.create_store(
                session,
                merchant_id=merchant.id,
                name="x",
                address="y",
                city="z",
                actor="test",
                now=NOW,
            )
    assert await _count(database, Store) == 0
    # when the platform approves it
    async with database.transaction() as session:
        approved = await identity.review_merchant(
            session, merchant.id, "approve", actor="user:usr_admin", now=NOW
        )
        assert (await identity.require_active_merchant(session, merchant.id)).id == merchant.id
    assert approved.status == "active"
    assert approved.reviewed_by == "user:usr_admin"
    assert await _event_types(database) == [
        "merchant.registered",
        "user.created",
        "merchant.approved",
    ]


async def test_rejection_needs_a_reason_and_only_pending_merchants_are_rejected(
    database: Database,
) -> None:
    async with database.transaction() as session:
        merchant, _ = await identity.register_merchant(session, TEST_KEYS, registration(), now=NOW)
    with pytest.raises(InvalidRequest, match="reason"):
        async with database.transaction() as session:
            await identity.review_merchant(session, merchant.id, "reject", actor="a", now=NOW)
    async with database.transaction() as session:
        rejected = await identity.review_merchant(
            session, merchant.id, "reject", actor="a", now=NOW, reason="营业执照不清晰"
        )
    assert (rejected.status, rejected.rejection_reason) == ("rejected", "营业执照不清晰")
    with pytest.raises(IllegalTransition):
        async with database.transaction() as session:
            await identity.review_merchant(session, merchant.id, "suspend", actor="a", now=NOW)


async def test_duplicate_credit_code_and_bad_credit_code_are_refused(database: Database) -> None:
    details = registration()
    async with database.transaction() as session:
        await identity.register_merchant(session, TEST_KEYS, details, now=NOW)
    with pytest.raises(AlreadyExists):
        async with database.transaction() as session:
            await identity.register_merchant(session, TEST_KEYS, details, now=NOW)
    bad = registration()
    bad = identity.MerchantRegistration(**{**bad.__dict__, "credit_code": "91350100M000100Y44"})
    with pytest.raises(InvalidRequest) as refused:
        async with database.transaction() as session:
            await identity.register_merchant(session, TEST_KEYS, bad, now=NOW)
    assert refused.value.code == "invalid_credit_code"
    assert await _count(database, Merchant) == 1


async def test_bank_account_is_stored_encrypted(database: Database) -> None:
    async with database.transaction() as session:
        merchant, _ = await identity.register_merchant(session, TEST_KEYS, registration(), now=NOW)
    async with database.transaction() as session:
        row = (
            await session.execute(
                text("SELECT * FROM merchants WHERE id = :id"), {"id": merchant.id}
            )
        ).one()
        stored = await session.get(Merchant, merchant.id)
    assert not any("6222021234567890" in str(value) for value in row)
    assert stored is not None
    assert stored.settlement_account_last4 == "7890"
    assert identity.reveal_settlement_account_number(stored, TEST_KEYS) == "6222021234567890"
    assert identity.masked_account_number(stored.settlement_account_last4) == "**** **** **** 7890"


# --- login, lockout and sessions ----------------------------------------------------------


async def _login(database: Database, email: str, password: str, now=NOW) -> identity.LoginResult:
    async with database.transaction() as session:
        return await identity.login(session, TEST_KEYS, email=email, password=password, now=now)


async def test_login_checks_the_password_and_locks_after_five_failures(
    database: Database,
) -> None:
    email, password = await make_platform_user(database)
    for attempt in range(4):
        result = await _login(database, email, "wrong password!", NOW + timedelta(seconds=attempt))
        assert result.failure == "invalid_credentials"
    # the fifth failure locks the account for 15 minutes
    assert (await _login(database, email, "wrong password!", NOW)).failure == "invalid_credentials"
    assert (
        await _login(database, email, password, NOW + timedelta(minutes=14))
    ).failure == "locked"
    assert (await _event_types(database)).count("user.locked") == 1
    # after the lockout the right password works again and resets the counter
    result = await _login(database, email, password, NOW + timedelta(minutes=15, seconds=1))
    assert result.succeeded
    assert result.user is not None
    assert result.user.failed_login_count == 0
    assert (await _login(database, "nobody@example.com", password)).failure == "invalid_credentials"


async def test_console_session_expires_when_idle_or_too_old_and_on_logout(
    database: Database,
) -> None:
    email, password = await make_platform_user(database)
    token = (await _login(database, email, password)).session_token
    assert token is not None

    async def resolve(at: timedelta) -> bool:
        async with database.transaction() as session:
            found = await identity.resolve_console_session(session, TEST_KEYS, token, now=NOW + at)
        return found is not None

    # active use keeps it alive (idle limit 2 h) until the absolute limit (12 h)
    for hour in range(1, 12):
        assert await resolve(timedelta(hours=hour, minutes=30))
    assert not await resolve(timedelta(hours=12))
    # an idle session dies after 2 hours
    second = (await _login(database, email, password)).session_token
    assert second is not None
    token = second
    assert await resolve(timedelta(hours=1, minutes=59))
    assert not await resolve(timedelta(hours=3, minutes=59, seconds=1))
    # logout ends it at once
    third = (await _login(database, email, password)).session_token
    assert third is not None
    token = third
    async with database.transaction() as session:
        await identity.end_console_session(session, TEST_KEYS, token, now=NOW)
    assert not await resolve(timedelta(seconds=1))


async def test_users_of_a_pending_merchant_cannot_log_in(database: Database) -> None:
    merchant = await make_merchant_with_key(database, active=False)
    result = await _login(database, merchant.admin_email, TEST_PASSWORD)
    assert result.failure == "merchant_not_active"
    assert result.session_token is None


# --- API keys -----------------------------------------------------------------------------


async def test_api_key_is_stored_as_keyed_hash_and_authenticates(database: Database) -> None:
    merchant = await make_merchant_with_key(database)
    assert merchant.api_key.startswith("tk_live_")
    async with database.transaction() as session:
        row = await session.get(ApiKey, merchant.api_key_id)
        principal = await identity.authenticate_api_key(
            session, TEST_KEYS, merchant.api_key, now=NOW
        )
    assert row is not None
    assert merchant.api_key not in (row.secret_hash, row.prefix)
    assert merchant.api_key.startswith(row.prefix)
    assert principal is not None
    assert principal.kind is PrincipalKind.MERCHANT
    assert principal.merchant_id == merchant.merchant_id
    assert principal.actor == f"api_key:{merchant.api_key_id}"
    assert principal.has_role("cashier")  # a full key may do what a cashier may


async def test_last_used_is_written_at_most_once_a_minute(database: Database) -> None:
    merchant = await make_merchant_with_key(database)

    async def use(at: timedelta) -> object:
        async with database.transaction() as session:
            await identity.authenticate_api_key(session, TEST_KEYS, merchant.api_key, now=NOW + at)
        async with database.transaction() as session:
            return (await session.get(ApiKey, merchant.api_key_id)).last_used_at  # type: ignore[union-attr]

    assert await use(timedelta(0)) == NOW
    assert await use(timedelta(seconds=59)) == NOW
    assert await use(timedelta(seconds=61)) == NOW + timedelta(seconds=61)


@pytest.mark.pg
async def test_a_key_another_transaction_is_noting_does_not_wait(pg_database: Database) -> None:
    """Once a minute a key's use is written; a request that finds the row being written by
    another transaction goes on (``SKIP LOCKED``) instead of queueing behind it."""
    merchant = await make_merchant_with_key(pg_database)
    async with pg_database.transaction() as holder:
        await holder.execute(
            select(ApiKey).where(ApiKey.id == merchant.api_key_id).with_for_update()
        )
        async with pg_database.transaction() as session:
            principal = await asyncio.wait_for(
                identity.authenticate_api_key(
                    session, TEST_KEYS, merchant.api_key, now=NOW + timedelta(hours=1)
                ),
                TIME_CAP_SECONDS,
            )
    assert principal is not None
    assert principal.merchant_id == merchant.merchant_id


async def test_revoked_keys_and_keys_of_suspended_merchants_stop_working(
    database: Database,
) -> None:
    first = await make_merchant_with_key(database)
    second = await make_merchant_with_key(database)
    async with database.transaction() as session:
        await identity.revoke_api_key(session, first.api_key_id, actor="test", now=NOW)
        await identity.revoke_api_key(session, first.api_key_id, actor="test", now=NOW)
        await identity.review_merchant(
            session, second.merchant_id, "suspend", actor="test", now=NOW
        )
    async with database.transaction() as session:
        for secret in (first.api_key, second.api_key, "tk_live_unknown", "not-a-key"):
            assert await identity.authenticate_api_key(session, TEST_KEYS, secret, now=NOW) is None
    assert (await _event_types(database)).count("api_key.revoked") == 1


async def test_platform_key_has_platform_roles(database: Database) -> None:
    async with database.transaction() as session:
        issued = await identity.create_api_key(
            session, TEST_KEYS, name="ops", role="finance", actor="test", now=NOW
        )
        principal = await identity.authenticate_api_key(session, TEST_KEYS, issued.secret, now=NOW)
    assert principal is not None
    assert principal.is_platform
    assert principal.roles == frozenset({"finance"})
    with pytest.raises(InvalidRequest):
        async with database.transaction() as session:
            await identity.create_api_key(
                session, TEST_KEYS, name="bad", role="full", actor="test", now=NOW
            )
