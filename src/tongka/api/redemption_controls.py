"""The redemption controls' API: limits and payment codes (see ``tongka.redemption``).

``GET/PUT /v1/products/{id}/redemption_limits`` (the product's issuer; staff read),
``GET /v1/redemption_limit_bounds`` and ``PUT /v1/redemption_limit_bounds/{currency}``
(the platform), ``POST /v1/me/payment_codes`` (a signed-in holder: a code for one of
their cards, valid 60 seconds, once). Amounts are ``{"amount", "currency"}``; an empty
limit means none of the product's own (the platform's bound applies).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy import select

from tongka.api.errors import ERROR_RESPONSES
from tongka.currencies import require_enabled
from tongka.edge.deps import ClockDep, SessionDep, UnitOfWorkRoute
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ObjectId, RequestModel
from tongka.errors import InvalidRequest
from tongka.identity.principal import Principal, PrincipalKind
from tongka.money import MoneyModel
from tongka.policy import Action
from tongka.redemption import limit_settings
from tongka.redemption.control_models import RedemptionLimitBounds
from tongka.redemption.payment_codes import issue_payment_code

router = APIRouter(
    responses=ERROR_RESPONSES, tags=["redemption controls"], route_class=UnitOfWorkRoute
)

_COUNTS = ("card_daily_count", "card_terminal_daily_count", "terminal_daily_count")
_AMOUNTS = {
    "per_transaction_max": "per_transaction_max_minor",
    "card_daily_amount": "card_daily_amount_minor",
    "terminal_daily_amount": "terminal_daily_amount_minor",
}


class LimitsIn(RequestModel):
    """Every limit; ``null`` (or absent) = no limit of this level."""

    per_transaction_max: MoneyModel | None = None
    card_daily_count: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    card_daily_amount: MoneyModel | None = None
    card_terminal_daily_count: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    terminal_daily_count: StrictInt | None = Field(default=None, ge=1, le=100_000_000)
    terminal_daily_amount: MoneyModel | None = None

    def values(self, currency: str) -> limit_settings.LimitValues:
        minor: dict[str, int | None] = {name: getattr(self, name) for name in _COUNTS}
        for field_name, column in _AMOUNTS.items():
            amount: MoneyModel | None = getattr(self, field_name)
            if amount is not None and amount.currency != currency:
                raise InvalidRequest(
                    f"{field_name} must be in {currency}.",
                    param=field_name,
                    code="currency_mismatch",
                )
            minor[column] = amount.amount if amount is not None else None
        return limit_settings.LimitValues(**minor)


class ProductLimitsIn(LimitsIn):
    challenge_threshold: MoneyModel | None = Field(
        default=None,
        description="Above this amount the holder confirms with a texted code; null: never.",
    )


class LimitsOut(BaseModel):
    per_transaction_max: MoneyModel | None
    card_daily_count: int | None
    card_daily_amount: MoneyModel | None
    card_terminal_daily_count: int | None
    terminal_daily_count: int | None
    terminal_daily_amount: MoneyModel | None

    @classmethod
    def of(cls, values: limit_settings.LimitValues, currency: str) -> LimitsOut:
        def money(value: int | None) -> MoneyModel | None:
            return MoneyModel(amount=value, currency=currency) if value is not None else None

        return cls(
            per_transaction_max=money(values.per_transaction_max_minor),
            card_daily_count=values.card_daily_count,
            card_daily_amount=money(values.card_daily_amount_minor),
            card_terminal_daily_count=values.card_terminal_daily_count,
            terminal_daily_count=values.terminal_daily_count,
            terminal_daily_amount=money(values.terminal_daily_amount_minor),
        )


class BoundsOut(LimitsOut):
    object: Literal["redemption_limit_bounds"] = "redemption_limit_bounds"
    currency: str


class ProductLimitsOut(BaseModel):
    object: Literal["redemption_limits"] = "redemption_limits"
    product_id: str
    limits: LimitsOut
    challenge_threshold: MoneyModel | None
    bounds: LimitsOut = Field(description="The platform's bounds (null: no bound).")

    @classmethod
    def of(cls, found: limit_settings.ProductLimitSettings) -> ProductLimitsOut:
        threshold = found.challenge_threshold_minor
        return cls(
            product_id=found.product_id,
            limits=LimitsOut.of(found.limits, found.currency),
            challenge_threshold=(
                MoneyModel(amount=threshold, currency=found.currency)
                if threshold is not None
                else None
            ),
            bounds=LimitsOut.of(found.bounds, found.currency),
        )


def _issuer(principal: Principal) -> str | None:
    return principal.merchant_id if principal.kind is PrincipalKind.MERCHANT else None


@router.get("/v1/products/{product_id}/redemption_limits", summary="A product's redemption limits")
async def get_product_limits(
    product_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_LIMITS_READ)],
    session: SessionDep,
) -> ProductLimitsOut:
    found = await limit_settings.get_product_limits(
        session, product_id, merchant_id=_issuer(principal)
    )
    return ProductLimitsOut.of(found)


@router.put(
    "/v1/products/{product_id}/redemption_limits",
    summary="Set a product's redemption limits (each within the platform's bound)",
)
async def put_product_limits(
    product_id: ObjectId,
    body: ProductLimitsIn,
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_LIMITS_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> ProductLimitsOut:
    current = await limit_settings.get_product_limits(
        session, product_id, merchant_id=_issuer(principal)
    )
    threshold = body.challenge_threshold
    if threshold is not None and threshold.currency != current.currency:
        raise InvalidRequest(
            f"challenge_threshold must be in {current.currency}.",
            param="challenge_threshold",
            code="currency_mismatch",
        )
    found = await limit_settings.set_product_limits(
        session,
        product_id,
        body.values(current.currency),
        challenge_threshold_minor=threshold.amount if threshold is not None else None,
        merchant_id=_issuer(principal),
        actor=principal.actor,
        now=clock.now(),
    )
    return ProductLimitsOut.of(found)


@router.get("/v1/redemption_limit_bounds", summary="The platform's bounds, per currency")
async def list_bounds(
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_LIMITS_READ)],
    session: SessionDep,
) -> list[BoundsOut]:
    rows = (
        await session.scalars(
            select(RedemptionLimitBounds).order_by(RedemptionLimitBounds.currency)
        )
    ).all()
    return [
        BoundsOut(
            currency=row.currency,
            **LimitsOut.of(limit_settings.values_of(row), row.currency).__dict__,
        )
        for row in rows
    ]


@router.put("/v1/redemption_limit_bounds/{currency}", summary="Set the platform's bounds")
async def put_bounds(
    currency: str,
    body: LimitsIn,
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_BOUNDS_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> BoundsOut:
    # any text can arrive in a path: refused (400 naming the field) unless an accepted code
    currency = require_enabled(currency.strip().upper(), param="currency")
    values = await limit_settings.set_bounds(
        session, currency, body.values(currency), actor=principal.actor, now=clock.now()
    )
    return BoundsOut(currency=currency, **LimitsOut.of(values, currency).__dict__)


class PaymentCodeIn(RequestModel):
    card_id: ObjectId


class PaymentCodeOut(BaseModel):
    object: Literal["payment_code"] = "payment_code"
    code: str = Field(description="18 digits; show as QR code and barcode; works once.")
    card_id: str
    expires_at: datetime


@router.post(
    "/v1/me/payment_codes",
    status_code=201,
    summary="Holder: a payment code for one of my cards (60 seconds, once)",
)
async def create_payment_code(
    body: PaymentCodeIn,
    principal: Annotated[Principal, Authorized(Action.PAYMENT_CODE_ISSUE)],
    session: SessionDep,
    clock: ClockDep,
) -> PaymentCodeOut:
    issued = await issue_payment_code(
        session, str(principal.consumer_id), body.card_id, now=clock.now()
    )
    return PaymentCodeOut(code=issued.code, card_id=issued.card_id, expires_at=issued.expires_at)
