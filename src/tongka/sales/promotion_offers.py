"""Which promotions pay a load (read only): the candidates a claim tries, best first, and
the preview a page shows before an order is placed. Nothing here reserves anything; the
claim's conditional ``UPDATE`` (``promotions.py``) decides.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.models import CardProduct
from tongka.sales.promotion_lifecycle import PromotionStatus
from tongka.sales.promotion_models import Promotion
from tongka.sales.promotion_rules import bonus_for


async def paying_promotions(
    session: AsyncSession,
    merchant_id: str,
    product_id: str,
    currency: str,
    load_minor: int,
    holder_id: str | None,
    now: datetime,
) -> list[tuple[Promotion, int]]:
    """The promotions that would pay this load, best bonus first (then the oldest)."""
    rows = (
        await session.scalars(
            select(Promotion).where(
                Promotion.merchant_id == merchant_id,
                Promotion.currency == currency,
                Promotion.status == PromotionStatus.ACTIVE.value,
                Promotion.starts_at <= now,
                Promotion.ends_at > now,
            )
        )
    ).all()
    found = []
    for promotion in rows:
        if promotion.product_ids is not None and product_id not in promotion.product_ids:
            continue
        if is_capped(promotion) and holder_id is None:
            continue
        bonus = bonus_for(promotion.tiers, load_minor)
        if bonus > 0:
            found.append((promotion, bonus))
    return sorted(found, key=lambda pair: (-pair[1], pair[0].id))


def is_capped(promotion: Promotion) -> bool:
    return promotion.per_holder_count is not None or promotion.per_holder_amount_minor is not None


async def is_merchants_product(
    session: AsyncSession, merchant_id: str, product_id: str, currency: str
) -> bool:
    """Whether the load is of one of the merchant's own products in this currency (a
    merchant's promotion never pays for another issuer's card)."""
    found = await session.execute(
        select(CardProduct.merchant_id, CardProduct.currency).where(CardProduct.id == product_id)
    )
    return tuple(found.one_or_none() or ()) == (merchant_id, currency)


async def preview_bonus(
    session: AsyncSession,
    *,
    merchant_id: str,
    product_id: str,
    holder_id: str | None,
    load_minor: int,
    currency: str,
    now: datetime,
) -> int:
    """The bonus a load would earn now (0: none), for a page to show before the order is
    placed; nothing is reserved, so the claim at payment may still find the budget gone."""
    candidates = await paying_promotions(
        session, merchant_id, product_id, currency, load_minor, holder_id, now
    )
    live = [bonus for promotion, bonus in candidates if promotion.remaining_minor >= bonus]
    return live[0] if live else 0
