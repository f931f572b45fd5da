"""Factories for tests of every part: merchants with API keys, platform operators, clients.

Usage::

    merchant = await make_merchant_with_key(database)          # active merchant + full key
    async with api_client(app, merchant.api_key) as client:
        response = await client.get("/v1/stores")

    holder = await make_consumer_with_token(database)           # signed-in card holder
    async with api_client(app, holder.token) as client:
        response = await client.get("/v1/consumers/me")

Objects are made through the identity services (one committed transaction each), with the
same root secret as the ``settings`` fixture, so an app built from ``settings`` accepts the
keys. Each call makes distinct emails and credit codes.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from tests.conftest import TEST_SECRET_KEY
from tongka.db import Database
from tongka.identity import service as identity
from tongka.identity.credit_code import check_character
from tongka.identity.crypto import IdentityKeys
from tongka.identity.models import KycLevel, SandboxSmsMessage
from tongka.identity.sms import sandbox_messages_query

TEST_KEYS = IdentityKeys.from_root(bytes.fromhex(TEST_SECRET_KEY))
TEST_PASSWORD = "correct horse battery"
DEFAULT_NOW = datetime(2026, 1, 1, tzinfo=UTC)
_sequence = itertools.count(1)


def valid_credit_code(number: int | None = None) -> str:
    """A unified social credit code with a correct check character, distinct per number."""
    number = next(_sequence) if number is None else number
    body = f"91310000{number:09d}"
    return body + check_character(body)


def unique_email(label: str = "user") -> str:
    return f"{label}-{next(_sequence)}@example.com"


@dataclass(frozen=True)
class MerchantWithKey:
    merchant_id: str
    api_key: str
    api_key_id: str
    admin_email: str
    admin_password: str
    store_id: str | None = None


def registration(legal_name: str = "测试商户有限公司") -> identity.MerchantRegistration:
    return identity.MerchantRegistration(
        legal_name=legal_name,
        credit_code=valid_credit_code(),
        contact_name="张三",
        contact_phone="13800138000",
        contact_email=unique_email("contact"),
        admin_email=unique_email("admin"),
        admin_password=TEST_PASSWORD,
        settlement_account=identity.SettlementAccount(
            bank_name="中国工商银行", account_name=legal_name, account_number="6222021234567890"
        ),
    )


async def make_merchant_with_key(
    database: Database,
    *,
    legal_name: str = "测试商户有限公司",
    role: str = "full",
    with_store: bool = False,
    active: bool = True,
    now: datetime = DEFAULT_NOW,
) -> MerchantWithKey:
    """An approved (or, with ``active=False``, pending) merchant with a ``role`` API key.

    A pending merchant cannot get a key (only active merchants do business): its
    ``api_key`` is then an empty string.
    """
    details = registration(legal_name)
    async with database.transaction() as session:
        merchant, _admin = await identity.register_merchant(session, TEST_KEYS, details, now=now)
        if not active:
            return MerchantWithKey(merchant.id, "", "", details.admin_email, TEST_PASSWORD)
        await identity.review_merchant(session, merchant.id, "approve", actor="test", now=now)
        store_id = None
        if with_store:
            store = await identity.create_store(
                session,
                merchant_id=merchant.id,
                name="测试门店",
                address="上海市黄浦区南京东路1号",
                city="上海",
                actor="test",
                now=now,
            )
            store_id = store.id
        issued = await identity.create_api_key(
            session,
            TEST_KEYS,
            name="test",
            role=role,
            merchant_id=merchant.id,
            actor="test",
            now=now,
        )
    return MerchantWithKey(
        merchant.id, issued.secret, issued.api_key.id, details.admin_email, TEST_PASSWORD, store_id
    )


async def make_platform_key(
    database: Database, *, role: str = "admin", now: datetime = DEFAULT_NOW
) -> str:
    """A platform operator API key with ``role``."""
    async with database.transaction() as session:
        issued = await identity.create_api_key(
            session, TEST_KEYS, name=f"platform {role}", role=role, actor="test", now=now
        )
    return issued.secret


async def make_platform_user(
    database: Database, *, role: str = "admin", now: datetime = DEFAULT_NOW
) -> tuple[str, str]:
    """A platform console user; returns (email, password)."""
    email = unique_email(role)
    async with database.transaction() as session:
        await identity.create_user(
            session,
            email=email,
            display_name=f"Platform {role}",
            role=role,
            password=TEST_PASSWORD,
            actor="test",
            now=now,
        )
    return email, TEST_PASSWORD


def unique_phone() -> str:
    """A distinct mainland mobile number per call (``139`` + 8 digits)."""
    return f"139{next(_sequence):08d}"


@dataclass(frozen=True)
class ConsumerWithToken:
    """A card holder and a live session token: send it as ``Authorization: Bearer`` (via
    ``api_client(app, holder.token)``) or as the ``tongka_session`` console cookie."""

    consumer_id: str
    phone: str
    token: str


async def make_consumer_with_token(
    database: Database,
    *,
    phone: str | None = None,
    kyc_level: KycLevel = KycLevel.PHONE,
    now: datetime = DEFAULT_NOW,
) -> ConsumerWithToken:
    """A consumer signed in at ``now`` (the ``clock`` fixture's default time): the session
    lives 2 hours idle and 12 hours at most, like one opened by a verified sign-in code."""
    phone = phone or unique_phone()
    async with database.transaction() as session:
        consumer = await identity.find_consumer_by_phone(session, phone)
        if consumer is None:
            consumer = await identity.create_consumer(
                session, phone=phone, actor="test", now=now, kyc_level=kyc_level
            )
        _console_session, token = await identity.open_consumer_session(
            session, TEST_KEYS, consumer, now=now
        )
    return ConsumerWithToken(consumer.id, phone, token)


async def read_sandbox_code(database: Database, phone: str) -> str:
    """The sign-in code last texted to ``phone`` by the sandbox SMS sender (as a developer
    reads it on the console's Sandbox SMS page)."""
    async with database.transaction() as session:
        body = await session.scalar(
            sandbox_messages_query()
            .where(SandboxSmsMessage.phone == phone)
            .order_by(SandboxSmsMessage.created_at.desc(), SandboxSmsMessage.id.desc())
            .limit(1)
            .with_only_columns(SandboxSmsMessage.body)
        )
    assert body is not None, f"no sandbox SMS to {phone}"
    match = re.search(r"[0-9]{6}", body)
    assert match is not None, body
    return match.group(0)


@asynccontextmanager
async def api_client(app: FastAPI, api_key: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in-process, authenticated with ``api_key`` if given."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://test",
        headers=headers,
        event_hooks={"request": [add_idempotency_key]},
    ) as client:
        yield client


async def add_idempotency_key(request: httpx.Request) -> None:
    """Give every POST a fresh ``Idempotency-Key`` unless the test set one (or "" for none)."""
    if request.method == "POST" and "idempotency-key" not in request.headers:
        request.headers["Idempotency-Key"] = str(uuid.uuid4())


__all__ = [
    "ConsumerWithToken",
    "MerchantWithKey",
    "TEST_KEYS",
    "TEST_PASSWORD",
    "api_client",
    "make_consumer_with_token",
    "make_merchant_with_key",
    "make_platform_key",
    "make_platform_user",
    "read_sandbox_code",
    "unique_email",
    "unique_phone",
    "valid_credit_code",
]
