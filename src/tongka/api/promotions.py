"""``/v1/promotions``: a merchant's bonus offers (充值赠送) — load ¥500, receive ¥50.

Creating one (``Idempotency-Key``) moves its budget from the merchant's own account into the
promotion at once; ending it (``POST /v1/promotions/{id}/end``) gives back what no order
claimed. Orders claim and post bonuses (``tongka.sales.promotions``); nothing here does.
Amounts are ``{"amount", "currency"}`` in the promotion's currency; times RFC 3339 (a time
without an offset is read in the platform's time zone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body
from pydantic import Field, StrictInt

from tongka.api.cards.common import AmountIn, money, require_currency
from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.currencies import EnabledCurrency
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep
from tongka.edge.pagination import ListResponse, PageParamsDep, fetch_page, platform_instant
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ObjectId, RequestModel, ResponseModel
from tongka.identity.principal import Principal
from tongka.money import MoneyModel
from tongka.policy import Action, scope_of
from tongka.sales import promotions
from tongka.sales.promotion_models import Promotion, PromotionClaim

router = APIRouter(
    prefix="/v1/promotions",
    tags=["promotions"],
    route_class=IdempotentRoute,
    responses=ERROR_RESPONSES,
)


class TierIn(RequestModel):
    min_load: AmountIn = Field(description="Load at least this much (充值满)…")
    bonus: AmountIn = Field(description="…and receive this bonus (送).")


class PromotionIn(RequestModel):
    name: str = Field(min_length=1, max_length=120, examples=["充值500送50"])
    currency: EnabledCurrency = "CNY"
    tiers: list[TierIn] = Field(min_length=1, max_length=10)
    budget: AmountIn = Field(description="Moved from your account into the promotion now.")
    starts_at: datetime | None = Field(default=None, description="Default: now.")
    ends_at: datetime
    product_ids: list[ObjectId] | None = Field(
        default=None, max_length=100, description="Card products it applies to; null: all."
    )
    per_holder_count: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    per_holder_amount: AmountIn | None = None

    def to_spec(self, timezone: str) -> promotions.PromotionSpec:
        currency = self.currency
        tiers = [
            promotions.Tier(
                require_currency(tier.min_load, currency, param=f"tiers.{index}.min_load"),
                require_currency(tier.bonus, currency, param=f"tiers.{index}.bonus"),
            )
            for index, tier in enumerate(self.tiers)
        ]
        cap = self.per_holder_amount
        ends_at = platform_instant(self.ends_at, timezone, param="ends_at")
        assert ends_at is not None
        return promotions.PromotionSpec(
            name=self.name,
            currency=currency,
            tiers=tiers,
            budget_minor=require_currency(self.budget, currency, param="budget"),
            starts_at=platform_instant(self.starts_at, timezone, param="starts_at"),
            ends_at=ends_at,
            product_ids=self.product_ids,
            per_holder_count=self.per_holder_count,
            per_holder_amount_minor=(
                require_currency(cap, currency, param="per_holder_amount") if cap else None
            ),
        )


class TierOut(ResponseModel):
    min_load: MoneyModel
    bonus: MoneyModel


class PromotionOut(ResponseModel):
    id: str
    object: Literal["promotion"] = "promotion"
    merchant_id: str
    name: str
    status: Literal["active", "exhausted", "ended"]
    currency: str
    tiers: list[TierOut]
    product_ids: list[str] | None = Field(description="null: every product.")
    budget: MoneyModel
    remaining: MoneyModel = Field(description="Not yet claimed by any order.")
    returned: MoneyModel = Field(description="Given back to your account.")
    per_holder_count: int | None
    per_holder_amount: MoneyModel | None
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, row: Promotion) -> PromotionOut:
        currency = row.currency
        cap = row.per_holder_amount_minor
        return cls(
            id=row.id,
            merchant_id=row.merchant_id,
            name=row.name,
            status=row.status,  # type: ignore[arg-type]
            currency=currency,
            tiers=[
                TierOut(
                    min_load=money(tier["min_load_minor"], currency),
                    bonus=money(tier["bonus_minor"], currency),
                )
                for tier in row.tiers
            ],
            product_ids=row.product_ids,
            budget=money(row.budget_minor, currency),
            remaining=money(row.remaining_minor, currency),
            returned=money(row.returned_minor, currency),
            per_holder_count=row.per_holder_count,
            per_holder_amount=money(cap, currency) if cap is not None else None,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            created_at=row.created_at,
            ended_at=row.ended_at,
        )


EXAMPLE = {
    "name": "充值500送50",
    "tiers": [
        {
            "min_load": {"amount": 50_000, "currency": "CNY"},
            "bonus": {"amount": 5_000, "currency": "CNY"},
        }
    ],
    "budget": {"amount": 1_000_000, "currency": "CNY"},
    "ends_at": "2027-01-31T23:59:59+08:00",
}


@router.post("", status_code=201, summary="Start a promotion (its budget is funded at once)")
async def create_promotion(
    body: Annotated[PromotionIn, Body(openapi_examples={"load 500, get 50": {"value": EXAMPLE}})],
    principal: Annotated[Principal, Authorized(Action.PROMOTION_MANAGE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> PromotionOut:
    promotion = await promotions.create_promotion(
        session,
        str(principal.merchant_id),  # the grant is for merchants only
        body.to_spec(settings.timezone),
        actor=principal.actor,
        now=clock.now(),
    )
    return PromotionOut.of(promotion)


@router.get("", summary="List promotions")
async def list_promotions(
    principal: Annotated[Principal, Authorized(Action.PROMOTION_READ)],
    session: SessionDep,
    page: PageParamsDep,
) -> ListResponse[PromotionOut]:
    statement = promotions.promotions_query(scope_of(principal).merchant())
    return await fetch_page(session, statement, page, Promotion, PromotionOut.of)


@router.get("/{promotion_id}", summary="Retrieve a promotion")
async def get_promotion(
    promotion_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.PROMOTION_READ)],
    session: SessionDep,
) -> PromotionOut:
    promotion = await promotions.get_promotion(
        session, promotion_id, merchant_id=scope_of(principal).merchant()
    )
    return PromotionOut.of(promotion)


@router.post("/{promotion_id}/end", summary="End a promotion (the unclaimed budget returns)")
async def end_promotion(
    promotion_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.PROMOTION_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> PromotionOut:
    promotion = await promotions.end_promotion(
        session,
        promotion_id,
        merchant_id=scope_of(principal).merchant(),
        actor=principal.actor,
        now=clock.now(),
    )
    return PromotionOut.of(promotion)


class ClaimOut(ResponseModel):
    id: str
    object: Literal["promotion_claim"] = "promotion_claim"
    order_id: str
    holder_id: str | None
    product_id: str
    load: MoneyModel
    bonus: MoneyModel
    status: Literal["claimed", "posted", "released"] = Field(
        description="claimed: reserved for the order (or loaded with it); released: given back."
    )
    card_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: PromotionClaim, status: str) -> ClaimOut:
        return cls(
            id=row.id,
            order_id=row.order_id,
            holder_id=row.holder_id,
            product_id=row.product_id,
            load=money(row.load_minor, row.currency),
            bonus=money(row.amount_minor, row.currency),
            status=status,  # type: ignore[arg-type]
            card_id=row.card_id,
            created_at=row.created_at,
        )


@router.get("/{promotion_id}/claims", summary="The orders that claimed a bonus of a promotion")
async def list_claims(
    promotion_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.PROMOTION_READ)],
    session: SessionDep,
    page: PageParamsDep,
) -> ListResponse[ClaimOut]:
    promotion = await promotions.get_promotion(
        session, promotion_id, merchant_id=scope_of(principal).merchant()
    )
    statement = promotions.claims_query(promotion.id)
    listed = await fetch_page(session, statement, page, PromotionClaim, lambda row: row)
    statuses = await promotions.shown_statuses(session, listed.data)
    return ListResponse[ClaimOut](
        data=[ClaimOut.of(row, statuses[row.id]) for row in listed.data],
        has_more=listed.has_more,
    )
