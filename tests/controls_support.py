"""Helpers for the redemption controls' tests: a product with limits, contexts, usage."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from tests.cards_support import MERCHANT, active_product, ensure_merchant, make_holder
from tongka.db import Database
from tongka.redemption.control_models import RedemptionLimitBreach, RedemptionUsage
from tongka.redemption.decision import RedemptionContext
from tongka.redemption.limit_settings import LimitValues, set_bounds, set_product_limits

_cards = itertools.count(1)


async def product_with_limits(
    database: Database,
    now: datetime,
    *,
    bounds: LimitValues | None = None,
    challenge_threshold_minor: int | None = None,
    **limits: Any,
) -> tuple[str, str]:
    """A product of MERCHANT with these limits (and platform bounds); a holder's id."""
    async with database.transaction() as session:
        await ensure_merchant(session, MERCHANT, now)
        product = await active_product(session, now)
        if bounds is not None:
            await set_bounds(session, "CNY", bounds, actor="user:op", now=now)
        await set_product_limits(
            session,
            product.id,
            LimitValues(**limits),
            challenge_threshold_minor=challenge_threshold_minor,
            merchant_id=MERCHANT,
            actor="user:issuer",
            now=now,
        )
        holder_id = await make_holder(session, now)
    return product.id, holder_id


def context(product_id: str, amount_minor: int, **overrides: Any) -> RedemptionContext:
    base = RedemptionContext(
        card_id="crd_test_1",
        product_id=product_id,
        issuer_merchant_id=MERCHANT,
        merchant_id=MERCHANT,
        store_id="sto_1",
        terminal_id="trm_1",
        amount_minor=amount_minor,
        currency="CNY",
    )
    return replace(base, **overrides)


def new_card_id() -> str:
    return f"crd_test_{next(_cards) + 1000}"


async def usage(database: Database, scope: str, subject: str) -> tuple[int, int]:
    async with database.transaction() as session:
        row = (
            await session.execute(
                select(RedemptionUsage.used_count, RedemptionUsage.used_amount_minor).where(
                    RedemptionUsage.scope == scope, RedemptionUsage.subject == subject
                )
            )
        ).one_or_none()
    return (row[0], row[1]) if row is not None else (0, 0)


async def breaches(database: Database) -> list[str]:
    async with database.transaction() as session:
        rows = await session.execute(
            select(RedemptionLimitBreach.limit_name).order_by(RedemptionLimitBreach.created_at)
        )
        return [row[0] for row in rows]


async def breach_count(database: Database) -> int:
    async with database.transaction() as session:
        return int(
            (
                await session.execute(select(func.count()).select_from(RedemptionLimitBreach))
            ).scalar_one()
        )
