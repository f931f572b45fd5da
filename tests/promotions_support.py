"""Factories for the promotion tests: a merchant with money in its own account, a product,
a promotion (load ¥500 → ¥50 unless told otherwise), a claim in a few words."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.cards_support import MERCHANT, active_product, ensure_merchant
from tongka import ledger
from tongka.cards.models import CardProduct
from tongka.db import Database
from tongka.ledger import AccountCode, TransferRequest
from tongka.ledger.system_accounts import system_account
from tongka.redemption.fees import merchant_payable_account, merchant_payable_id
from tongka.sales import promotions
from tongka.sales.promotion_models import Promotion
from tongka.sales.promotion_rules import PromotionSpec, Tier

_deposits = itertools.count(1)
_orders = itertools.count(1)
LOAD_500 = Tier(min_load_minor=50_000, bonus_minor=5_000)
LOAD_1000 = Tier(min_load_minor=100_000, bonus_minor=12_000)


async def fund_merchant(
    session: AsyncSession, now: datetime, amount: int, merchant_id: str = MERCHANT
) -> str:
    """Money the platform owes the merchant (as if its redemptions had been settled into the
    reserve): reserve bank → merchant payable, so customer money still covers it."""
    await ensure_merchant(session, merchant_id, now)
    payable = await merchant_payable_account(session, merchant_id, "CNY", now=now)
    reserve = await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
    await ledger.post_transfers(
        session,
        [
            TransferRequest(
                transfer_id=f"test_deposit:{merchant_id}:{next(_deposits)}",
                debit_account_id=reserve,
                credit_account_id=payable,
                amount=amount,
                currency="CNY",
                code="test_deposit",
            )
        ],
        now=now,
    )
    return payable


def promotion_spec(now: datetime, **overrides: Any) -> PromotionSpec:
    values: dict[str, Any] = {
        "name": "充值500送50",
        "currency": "CNY",
        "tiers": [LOAD_500],
        "budget_minor": 20_000,
        "ends_at": now + timedelta(days=30),
    }
    values.update(overrides)
    return PromotionSpec(**values)


async def product_and_promotion(
    database: Database,
    now: datetime,
    *,
    funds: int = 10**8,
    merchant_id: str = MERCHANT,
    **overrides: Any,
) -> tuple[CardProduct, Promotion]:
    """An active product of a funded merchant and a promotion on it."""
    async with database.transaction() as session:
        product = await active_product(session, now, merchant_id=merchant_id)
        await fund_merchant(session, now, funds, merchant_id)
        promotion = await promotions.create_promotion(
            session, merchant_id, promotion_spec(now, **overrides), actor="user:test", now=now
        )
        return product, promotion


def new_order_id() -> str:
    return f"ord_test{next(_orders):06d}"


async def claim(
    database: Database,
    product: CardProduct,
    now: datetime,
    *,
    load: int = 50_000,
    holder_id: str | None = "con_holder",
    order_id: str | None = None,
) -> promotions.BonusGrant | None:
    async with database.transaction() as session:
        return await promotions.claim_bonus(
            session,
            merchant_id=product.merchant_id,
            product_id=product.id,
            holder_id=holder_id,
            load_minor=load,
            currency="CNY",
            order_id=order_id or new_order_id(),
            now=now,
        )


async def promotion_now(database: Database, promotion_id: str) -> Promotion:
    async with database.transaction() as session:
        return await promotions.get_promotion(session, promotion_id, merchant_id=None)


async def available(database: Database, account_id: str) -> int:
    async with database.transaction() as session:
        return (await ledger.get_balance(session, account_id)).available


def payable_of(merchant_id: str = MERCHANT) -> str:
    return merchant_payable_id(merchant_id, "CNY")
