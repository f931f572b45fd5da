"""Factories for the redemption tests: a funded card at a merchant's store, a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.cards_support import KEYS, active_product, ensure_merchant, funded_card
from tongka.identity import service as identity
from tongka.redemption import service
from tongka.redemption.service import CardCredential, RedeemRequest

RATE = Decimal("0.006")


@dataclass(frozen=True)
class Till:
    merchant_id: str
    store_id: str
    card_id: str
    number: str
    secret: str
    product_id: str


async def make_store(session: AsyncSession, merchant_id: str, now: datetime) -> str:
    await ensure_merchant(session, merchant_id, now)
    store = await identity.create_store(
        session,
        merchant_id=merchant_id,
        name="门店",
        address="南京东路1号",
        city="上海",
        actor="test",
        now=now,
    )
    return store.id


async def make_till(
    session: AsyncSession, now: datetime, *, amount: int = 10_000, bonus: int = 0, **product: Any
) -> Till:
    prod = await active_product(session, now, **product)
    store_id = await make_store(session, prod.merchant_id, now)
    issued = await funded_card(session, now, prod, amount=amount, bonus=bonus)
    return Till(prod.merchant_id, store_id, issued.card.id, issued.number, issued.secret, prod.id)


def request(till: Till, amount: int, key: str, **overrides: Any) -> RedeemRequest:
    values: dict[str, Any] = {
        "merchant_id": till.merchant_id,
        "store_id": till.store_id,
        "terminal_id": None,
        "idempotency_key": key,
        "amount": amount,
        "currency": "CNY",
        "cards": [CardCredential(number=till.number, secret=till.secret)],
        "actor": "test",
    }
    values.update(overrides)
    return RedeemRequest(**values)


async def redeem(session: AsyncSession, req: RedeemRequest, now: datetime) -> service.Purchase:
    return await service.redeem(session, req, keys=KEYS, fee_rate=RATE, now=now)
