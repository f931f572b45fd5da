"""A promotion's life: created (its budget funded at once: ``active``), ``exhausted`` when
what is left cannot pay the smallest bonus (claims given back may make it ``active``
again), ``ended`` by the merchant or, past ``ends_at``, by the worker — then what no order
claimed goes back to the merchant. Claims are in ``promotions.py``.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.models import CardProduct
from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database
from tongka.events import record_event
from tongka.ids import new_id
from tongka.sales import promotion_budget
from tongka.sales.promotion_errors import InvalidPromotion, PromotionNotFound
from tongka.sales.promotion_models import Promotion, PromotionClaim
from tongka.sales.promotion_rules import PromotionSpec, check_spec, tiers_json

EXPIRY_BATCH = 100  # promotions the worker ends per run


class PromotionStatus(enum.StrEnum):
    ACTIVE = "active"
    EXHAUSTED = "exhausted"
    ENDED = "ended"


async def _check_products(
    session: AsyncSession, merchant_id: str, currency: str, product_ids: list[str]
) -> None:
    found = set(
        (
            await session.scalars(
                select(CardProduct.id).where(
                    CardProduct.id.in_(product_ids),
                    CardProduct.merchant_id == merchant_id,
                    CardProduct.currency == currency,
                )
            )
        ).all()
    )
    missing = [product_id for product_id in product_ids if product_id not in found]
    if missing:
        raise InvalidPromotion(
            f"Not a card product of yours in {currency}: {', '.join(missing)}.",
            param="product_ids",
            details={"problem": "unknown_product", "product_ids": missing},
        )


async def create_promotion(
    session: AsyncSession, merchant_id: str, spec: PromotionSpec, *, actor: str, now: datetime
) -> Promotion:
    """Create and start a promotion: its budget moves from the merchant's payable into the
    promotion's budget account in the same transaction. Refused (nothing written):
    ``InvalidPromotion``, ``PromotionFundsInsufficient``."""
    spec = check_spec(spec, now=now)
    if spec.product_ids:
        await _check_products(session, merchant_id, spec.currency, list(spec.product_ids))
    promotion_id = new_id("prm")
    budget_account = await promotion_budget.fund_budget(
        session,
        merchant_id=merchant_id,
        promotion_id=promotion_id,
        currency=spec.currency,
        amount_minor=spec.budget_minor,
        now=now,
    )
    assert spec.starts_at is not None  # check_spec fills it in
    promotion = Promotion(
        id=promotion_id,
        merchant_id=merchant_id,
        name=spec.name,
        currency=spec.currency,
        product_ids=list(spec.product_ids) if spec.product_ids else None,
        tiers=tiers_json(spec.tiers),
        min_bonus_minor=spec.tiers[0].bonus_minor,
        budget_minor=spec.budget_minor,
        remaining_minor=spec.budget_minor,
        returned_minor=0,
        per_holder_count=spec.per_holder_count,
        per_holder_amount_minor=spec.per_holder_amount_minor,
        status=PromotionStatus.ACTIVE.value,
        budget_account_id=budget_account,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(promotion)
    await session.flush()
    await _event(session, promotion, "promotion.created", actor=actor, now=now)
    return promotion


async def _event(
    session: AsyncSession, promotion: Promotion, type: str, *, actor: str, now: datetime
) -> None:
    await record_event(
        session,
        type=type,
        object_type="promotion",
        object_id=promotion.id,
        actor=actor,
        now=now,
        merchant_id=promotion.merchant_id,
        data={
            "budget": {"amount": promotion.budget_minor, "currency": promotion.currency},
            "remaining": {"amount": promotion.remaining_minor, "currency": promotion.currency},
            "returned": {"amount": promotion.returned_minor, "currency": promotion.currency},
            "status": promotion.status,
        },
    )


def promotions_query(merchant_id: str | None) -> Select[tuple[Promotion]]:
    """Every promotion, or one merchant's (the caller's scope)."""
    statement = select(Promotion)
    if merchant_id is not None:
        statement = statement.where(Promotion.merchant_id == merchant_id)
    return statement


def claims_query(promotion_id: str) -> Select[tuple[PromotionClaim]]:
    """The orders that claimed a bonus of the promotion (orders no promotion paid: none)."""
    return select(PromotionClaim).where(PromotionClaim.promotion_id == promotion_id)


async def get_promotion(
    session: AsyncSession, promotion_id: str, *, merchant_id: str | None, lock: bool = False
) -> Promotion:
    """A promotion, scoped to ``merchant_id`` (another merchant's: not found)."""
    statement = promotions_query(merchant_id).where(Promotion.id == promotion_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    promotion = await session.scalar(statement)
    if promotion is None:
        raise PromotionNotFound("No such promotion.", param="promotion_id")
    return promotion


async def end_promotion(
    session: AsyncSession,
    promotion_id: str,
    *,
    merchant_id: str | None,
    actor: str,
    now: datetime,
) -> Promotion:
    """End a promotion (idempotent: an ended one is answered as it is). Under the row's
    lock no claim can take from the budget any more; what is left goes back to the
    merchant. Claims still open keep their bonus in the budget account: posted, it reaches
    the card; given back, it returns to the merchant then."""
    promotion = await get_promotion(session, promotion_id, merchant_id=merchant_id, lock=True)
    if promotion.status == PromotionStatus.ENDED:
        return promotion
    left = promotion.remaining_minor
    await promotion_budget.return_budget(
        session,
        merchant_id=promotion.merchant_id,
        promotion_id=promotion.id,
        budget_account=promotion.budget_account_id,
        currency=promotion.currency,
        amount_minor=left,
        part="end",
        now=now,
    )
    promotion.remaining_minor = 0
    promotion.returned_minor += left
    promotion.status = PromotionStatus.ENDED.value
    promotion.ended_at = now
    promotion.ended_by = actor
    promotion.updated_at = now
    await session.flush()
    await _event(session, promotion, "promotion.ended", actor=actor, now=now)
    return promotion


async def end_expired(session: AsyncSession, *, now: datetime, limit: int = EXPIRY_BATCH) -> int:
    """End up to ``limit`` promotions past their end (skipping rows another worker holds)."""
    due = (
        await session.scalars(
            select(Promotion.id)
            .where(Promotion.status != PromotionStatus.ENDED.value, Promotion.ends_at <= now)
            .order_by(Promotion.ends_at, Promotion.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for promotion_id in due:
        await end_promotion(
            session, promotion_id, merchant_id=None, actor="job:promotions", now=now
        )
    return len(due)


async def end_expired_promotions(database: Database, clock: Clock, settings: Settings) -> int:
    """The worker job (``promotions.end_expired``): one bounded transaction per run; the
    next run (seconds later) takes the rest."""
    now = clock.now()

    async def work(session: AsyncSession) -> int:
        return await end_expired(session, now=now)

    return await database.run(work)
