"""Factories for the card tests: products and cards in a few words."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import TEST_SECRET_KEY
from tests.factories import unique_email, unique_phone, valid_credit_code
from tongka.cards import service
from tongka.cards.keys import CardKeys
from tongka.cards.models import CardProduct
from tongka.cards.validity import add_months
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.events.models import Event
from tongka.identity import service as identity
from tongka.identity.models import Consumer, KycLevel, Merchant, MerchantStatus
from tongka.identity.principal import SYSTEM, Principal, PrincipalKind
from tongka.ledger import AccountCode
from tongka.ledger.system_accounts import system_account
from tongka.ledger.verify import verify_ledger

KEYS = CardKeys.from_root(bytes.fromhex(TEST_SECRET_KEY))
MERCHANT = "mch_alpha"
OTHER_MERCHANT = "mch_beta"
_bins = itertools.count(100)
# the three sides of a freeze (lifecycle actions take a principal)
OPERATOR = Principal(kind=PrincipalKind.PLATFORM, actor="user:test", roles=frozenset({"admin"}))
ISSUER = Principal(
    kind=PrincipalKind.MERCHANT,
    actor="user:issuer",
    roles=frozenset({"merchant_admin"}),
    merchant_id=MERCHANT,
)


def holder_principal(consumer_id: str) -> Principal:
    return Principal(
        kind=PrincipalKind.CONSUMER,
        actor=f"consumer:{consumer_id}",
        roles=frozenset(),
        consumer_id=consumer_id,
    )


ANONYMOUS = service.ProductSpec(
    name="Gift card",
    currency="CNY",
    bin_prefix="628801",
    number_length=16,
    max_balance=100_000,
    is_named=False,
    face_values=[10_000, 50_000],
    validity_months=36,
)
NAMED = replace(
    ANONYMOUS, name="Member card", is_named=True, max_balance=500_000, validity_months=None
)


def spec(**overrides: Any) -> service.ProductSpec:
    """An anonymous product spec with a fresh BIN unless one is given."""
    overrides.setdefault("bin_prefix", f"62{next(_bins):04d}")
    return replace(ANONYMOUS, **overrides)


async def active_product(
    session: AsyncSession, now: datetime, merchant_id: str = MERCHANT, **overrides: Any
) -> CardProduct:
    product = await service.create_product(
        session, merchant_id, spec(**overrides), actor="user:test", now=now
    )
    await service.submit_product(session, product.id, merchant_id=merchant_id, actor="t", now=now)
    return await service.review_product(
        session, product.id, is_approved=True, note=None, principal=SYSTEM, now=now
    )


async def issue(
    session: AsyncSession,
    product_id: str,
    now: datetime,
    *,
    merchant_id: str | None = MERCHANT,
    face_value: int = 10_000,
    holder_id: str | None = None,
) -> service.IssuedCard:
    """One issued card of ``product_id`` (scoped to ``merchant_id``)."""
    return await service.issue_card(
        session,
        product_id,
        merchant_id=merchant_id,
        face_value=face_value,
        holder_id=holder_id,
        keys=KEYS,
        actor="user:test",
        now=now,
    )


async def ensure_merchant(session: AsyncSession, merchant_id: str, now: datetime) -> str:
    """An active merchant row with this id (the card tests name merchants ``mch_alpha``...),
    for the services that check a merchant exists (quotas, agreements)."""
    if await session.get(Merchant, merchant_id) is None:
        session.add(
            Merchant(
                id=merchant_id,
                legal_name=f"{merchant_id} 有限公司",
                credit_code=valid_credit_code(),
                contact_name="张三",
                contact_phone="13800138000",
                contact_email=unique_email("contact"),
                status=MerchantStatus.ACTIVE,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
    return merchant_id


async def ensure_consumer(
    session: AsyncSession, consumer_id: str, now: datetime, kyc_level: KycLevel = KycLevel.PHONE
) -> str:
    """A consumer row with this id (tests name holders ``con_holder``...), for the services
    that check a holder exists before binding a card to them."""
    if await session.get(Consumer, consumer_id) is None:
        session.add(
            Consumer(
                id=consumer_id,
                phone=unique_phone(),
                kyc_level=kyc_level,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
    return consumer_id


async def grant_quota(
    session: AsyncSession, now: datetime, quota: int, merchant_id: str = MERCHANT
) -> None:
    """The platform grants the (test) issuer ``quota`` CNY minor units."""
    await ensure_merchant(session, merchant_id, now)
    await service.set_quota(session, merchant_id, "CNY", quota, actor="ops", now=now)


async def make_holder(
    session: AsyncSession, now: datetime, kyc_level: KycLevel = KycLevel.PHONE
) -> str:
    """A consumer who can hold named cards (phone verified unless told otherwise)."""
    consumer = await identity.create_consumer(
        session, phone=unique_phone(), actor="test", now=now, kyc_level=kyc_level
    )
    return consumer.id


async def count(database: Database, model: Any, *where: Any) -> int:
    async with database.transaction() as session:
        statement = select(func.count()).select_from(model)
        for condition in where:
            statement = statement.where(condition)
        return int((await session.execute(statement)).scalar_one())


async def event_types(database: Database, object_id: str | None = None) -> list[str]:
    async with database.transaction() as session:
        statement = select(Event.type).order_by(Event.sequence)
        if object_id is not None:
            statement = statement.where(Event.object_id == object_id)
        return list((await session.execute(statement)).scalars().all())


async def reserve_account(session: AsyncSession, now: datetime) -> str:
    return await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)


async def funded_card(
    session: AsyncSession,
    now: datetime,
    product: CardProduct,
    *,
    amount: int,
    bonus: int = 0,
    holder_id: str | None = None,
) -> service.IssuedCard:
    """An active card of ``product`` loaded from the reserve bank, its bonus too (as if the
    merchant had paid its promotion into the reserve: customer money covers both, which
    ``ledger verify`` checks)."""
    await grant_quota(session, now, 10**12, product.merchant_id)
    issued = await service.issue_card(
        session,
        product.id,
        merchant_id=product.merchant_id,
        face_value=(product.face_values or [amount])[0],
        holder_id=holder_id,
        keys=KEYS,
        actor="user:test",
        now=now,
    )
    funding = service.CardFunding(
        transfer_id=f"load:{issued.card.id}",
        debit_account_id=await reserve_account(session, now),
        amount=amount,
        bonus=bonus,
        bonus_account_id=await reserve_account(session, now),
    )
    await service.activate_card(
        session, issued.card.id, actor="user:test", now=now, funding=funding
    )
    return issued


async def balance_of(database: Database, card_id: str) -> service.CardBalance:
    async with database.transaction() as session:
        card = await service.get_card(session, card_id)
        return await service.card_balance(session, card)


async def assert_ledger_verifies(database: Database, now: datetime) -> None:
    async with database.transaction() as session:
        report = await verify_ledger(session, now)
    assert report.ok, report.failures


STATUSES = ["issued", "active", "frozen", "lost", "closed", "expired"]


async def card_in_status(database: Database, clock: FixedClock, status: str) -> str:
    """A card in ``status`` reached through the service (not by writing the column)."""
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await funded_card(session, clock.now(), product, amount=5_000)
        card_id = issued.card.id
        if status == "issued":
            return (await issue(session, product.id, clock.now())).card.id
        if status == "frozen":
            await service.freeze_card(session, card_id, principal=OPERATOR, now=clock.now())
        if status == "lost":
            await service.report_lost(session, card_id, principal=OPERATOR, now=clock.now())
        if status == "closed":
            await service.report_lost(session, card_id, principal=OPERATOR, now=clock.now())
            await service.reissue_card(
                session, card_id, keys=KEYS, actor="user:test", now=clock.now()
            )
        if status == "expired":
            await service.expire_due_cards(session, now=add_months(clock.now(), 37))
    return card_id


def cny(amount: int) -> dict[str, Any]:
    """An amount in the API's money shape: ``{"amount": 5000, "currency": "CNY"}``."""
    return {"amount": amount, "currency": "CNY"}
