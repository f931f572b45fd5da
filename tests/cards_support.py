"""Factories for the card tests: products and cards in a few words."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import TEST_SECRET_KEY
from tongka.cards import service
from tongka.cards.keys import CardKeys
from tongka.cards.models import CardProduct
from tongka.db import Database
from tongka.events.models import Event
from tongka.identity.principal import SYSTEM

KEYS = CardKeys.from_root(bytes.fromhex(TEST_SECRET_KEY))
MERCHANT = "mch_alpha"
OTHER_MERCHANT = "mch_beta"
_bins = itertools.count(100)

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
