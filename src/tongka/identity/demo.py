"""Demo data for identity: a platform admin, two active merchants with a store, a terminal,
an admin, a cashier and an API key each, and a card holder (consumer) who signs in by phone.

Idempotent: objects are found by their natural keys (email, credit code, device id) before
anything is created. Passwords and API keys are derived from the platform's secret key
(HMAC with a purpose label), so a second run, or a run after ``demo.json`` was deleted,
writes the same working credentials without being able to read any secret back from a hash.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.demo import DemoContext
from tongka.identity import service as identity
from tongka.identity.credit_code import check_character
from tongka.identity.crypto import IdentityKeys
from tongka.identity.models import (
    Consumer,
    KycLevel,
    Merchant,
    MerchantStatus,
    Store,
    Terminal,
    User,
)
from tongka.identity.passwords import hash_password, verify_password

ACTOR = "demo"
DEMO_CONSUMER_PHONE = "13800000001"
_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

DEMO_MERCHANTS: list[dict[str, Any]] = [
    {
        "slug": "canteen",
        "legal_name": "上海通卡示范餐饮有限公司",
        "credit_code_body": "91310106MA1FL0001",
        "contact_name": "王经理",
        "account_number": "6222021001000000001",
        "store": ("南京西路店", "上海市静安区南京西路1266号", "上海", "31.229000", "121.455000"),
    },
    {
        "slug": "books",
        "legal_name": "杭州西湖示范书店有限公司",
        "credit_code_body": "91330106MA2B00002",
        "contact_name": "陈店长",
        "account_number": "6222021202000000002",
        "store": ("湖滨店", "杭州市上城区湖滨路20号", "杭州", "30.256000", "120.163000"),
    },
]


def demo_secret(keys: IdentityKeys, label: str, length: int = 16) -> str:
    """A stable secret for ``label``: the same on every run with the same platform key."""
    digest = hmac.new(keys.demo, label.encode(), hashlib.sha512).digest()
    return "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:length])


async def _user(
    session: AsyncSession,
    keys: IdentityKeys,
    now: datetime,
    *,
    email: str,
    role: str,
    display_name: str,
    merchant_id: str | None = None,
    store_id: str | None = None,
) -> dict[str, str]:
    """The demo user with a known password (reset if the platform key changed)."""
    password = demo_secret(keys, f"password:{email}")
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        await identity.create_user(
            session,
            email=email,
            display_name=display_name,
            role=role,
            password=password,
            merchant_id=merchant_id,
            store_id=store_id,
            actor=ACTOR,
            now=now,
        )
    elif not verify_password(user.password_hash, password):
        user.password_hash = hash_password(password)
        user.updated_at = now
    return {"email": email, "password": password, "role": role}


async def _api_key(
    session: AsyncSession,
    keys: IdentityKeys,
    now: datetime,
    *,
    label: str,
    name: str,
    role: str,
    merchant_id: str | None = None,
) -> str:
    secret = identity.API_KEY_PREFIX + demo_secret(
        keys, f"api-key:{label}", identity.API_KEY_RANDOM_LENGTH
    )
    if await identity.find_api_key(session, keys, secret) is None:
        await identity.create_api_key(
            session,
            keys,
            name=name,
            role=role,
            merchant_id=merchant_id,
            actor=ACTOR,
            now=now,
            secret=secret,
        )
    return secret


async def _merchant(
    session: AsyncSession, keys: IdentityKeys, now: datetime, spec: dict[str, Any]
) -> dict[str, Any]:
    credit_code = spec["credit_code_body"] + check_character(spec["credit_code_body"])
    admin_email = f"admin@{spec['slug']}.demo.tongka.cn"
    merchant = await session.scalar(select(Merchant).where(Merchant.credit_code == credit_code))
    if merchant is None:
        merchant, _admin = await identity.register_merchant(
            session,
            keys,
            identity.MerchantRegistration(
                legal_name=spec["legal_name"],
                credit_code=credit_code,
                contact_name=spec["contact_name"],
                contact_phone="021-60000000",
                contact_email=f"contact@{spec['slug']}.demo.tongka.cn",
                admin_email=admin_email,
                admin_password=demo_secret(keys, f"password:{admin_email}"),
                admin_display_name=spec["contact_name"],
                settlement_account=identity.SettlementAccount(
                    bank_name="中国工商银行",
                    account_name=spec["legal_name"],
                    account_number=spec["account_number"],
                ),
            ),
            now=now,
            actor=ACTOR,
        )
    if merchant.status != MerchantStatus.ACTIVE:
        await identity.review_merchant(session, merchant.id, "approve", actor=ACTOR, now=now)
    name, address, city, latitude, longitude = spec["store"]
    store = await session.scalar(
        select(Store).where(Store.merchant_id == merchant.id, Store.name == name)
    )
    if store is None:
        store = await identity.create_store(
            session,
            merchant_id=merchant.id,
            name=name,
            address=address,
            city=city,
            latitude=Decimal(latitude),
            longitude=Decimal(longitude),
            actor=ACTOR,
            now=now,
        )
    terminal = await session.scalar(
        select(Terminal).where(
            Terminal.merchant_id == merchant.id, Terminal.device_id == "DEMO-POS-1"
        )
    )
    if terminal is None:
        terminal = await identity.create_terminal(
            session,
            merchant_id=merchant.id,
            store_id=store.id,
            device_id="DEMO-POS-1",
            name="收银台 1",
            actor=ACTOR,
            now=now,
        )
    admin = await _user(
        session,
        keys,
        now,
        email=admin_email,
        role="merchant_admin",
        display_name=spec["contact_name"],
        merchant_id=merchant.id,
    )
    cashier = await _user(
        session,
        keys,
        now,
        email=f"cashier@{spec['slug']}.demo.tongka.cn",
        role="cashier",
        display_name="收银员",
        merchant_id=merchant.id,
        store_id=store.id,
    )
    api_key = await _api_key(
        session, keys, now, label=spec["slug"], name="demo", role="full", merchant_id=merchant.id
    )
    return {
        "id": merchant.id,
        "legal_name": merchant.legal_name,
        "store_id": store.id,
        "terminal_id": terminal.id,
        "admin": admin,
        "cashier": cashier,
        "api_key": api_key,
    }


async def _consumer(session: AsyncSession, now: datetime) -> Consumer:
    """The demo card holder, phone verified (KYC 1); signs in with a texted code."""
    consumer = await identity.find_consumer_by_phone(session, DEMO_CONSUMER_PHONE)
    if consumer is None:
        consumer = await identity.create_consumer(
            session,
            phone=DEMO_CONSUMER_PHONE,
            display_name="示范持卡人",
            kyc_level=KycLevel.PHONE,
            actor=ACTOR,
            now=now,
        )
    return consumer


async def seed(session: AsyncSession, context: DemoContext, now: datetime) -> None:
    keys = IdentityKeys.from_settings(context.settings)
    platform_admin = await _user(
        session, keys, now, email="admin@demo.tongka.cn", role="admin", display_name="平台管理员"
    )
    platform_key = await _api_key(
        session, keys, now, label="platform-admin", name="demo platform admin", role="admin"
    )
    merchants = [await _merchant(session, keys, now, spec) for spec in DEMO_MERCHANTS]
    consumer = await _consumer(session, now)
    context.credentials["console"] = "/console/login"
    context.credentials["consumer"] = {
        "id": consumer.id,
        "phone": consumer.phone,
        "console": "/console/consumer/login",
        "how_to_sign_in": (
            "Ask for a code (console page, or POST /v1/consumer_sessions/codes); no SMS is sent "
            "outside production: read the code as the platform admin on /console/sandbox_sms, or "
            'run: sqlite3 var/tongka.db "SELECT body FROM sandbox_sms_messages ORDER BY '
            'created_at DESC LIMIT 1". Then POST /v1/consumer_sessions {phone, code} for a '
            "bearer token, or enter it on the page."
        ),
    }
    context.credentials["platform_admin"] = {**platform_admin, "api_key": platform_key}
    context.credentials["merchants"] = merchants
    context.objects["merchant_ids"] = [merchant["id"] for merchant in merchants]
    context.objects["merchants"] = merchants
    context.objects["consumer_id"] = consumer.id
