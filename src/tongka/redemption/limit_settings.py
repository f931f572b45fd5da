"""Setting limits: the platform's bounds per currency, and each product's limits within
them (set by the product's issuer). A value outside the bounds is refused, naming the
limit and the bound; nothing changes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.products import get_product
from tongka.currencies import require_enabled
from tongka.errors import InvalidRequest, amount_detail
from tongka.events import record_event
from tongka.redemption.control_models import RedemptionLimitBounds, RedemptionProductLimits

LIMIT_NAMES = (
    "per_transaction_max_minor",
    "card_daily_count",
    "card_daily_amount_minor",
    "card_terminal_daily_count",
    "terminal_daily_count",
    "terminal_daily_amount_minor",
)


@dataclass(frozen=True)
class LimitValues:
    """Limit values (``None``: no limit of this product's own / no platform bound)."""

    per_transaction_max_minor: int | None = None
    card_daily_count: int | None = None
    card_daily_amount_minor: int | None = None
    card_terminal_daily_count: int | None = None
    terminal_daily_count: int | None = None
    terminal_daily_amount_minor: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


class LimitOutOfBounds(InvalidRequest):
    code = "redemption_limit_out_of_bounds"


class InvalidLimit(InvalidRequest):
    code = "redemption_limit_invalid"


def _check_values(values: LimitValues) -> None:
    for name, value in values.as_dict().items():
        if value is not None and (isinstance(value, bool) or value < 1):
            raise InvalidLimit(
                f"{name} must be a positive whole number or empty (no limit).",
                param=name,
                details={"limit": name},
            )


def values_of(row: RedemptionLimitBounds | RedemptionProductLimits | None) -> LimitValues:
    if row is None:
        return LimitValues()
    return LimitValues(**{name: getattr(row, name) for name in LIMIT_NAMES})


async def get_bounds(session: AsyncSession, currency: str) -> LimitValues:
    return values_of(await session.get(RedemptionLimitBounds, currency))


async def set_bounds(
    session: AsyncSession, currency: str, values: LimitValues, *, actor: str, now: datetime
) -> LimitValues:
    """The platform's bounds for ``currency`` (products above a new bound are capped by it
    when limits are applied; their stored values are kept). ``currency`` must be one the
    platform accepts (the last line behind every edge)."""
    currency = require_enabled(currency)
    _check_values(values)
    row = await session.get(RedemptionLimitBounds, currency, with_for_update=True)
    if row is None:
        row = RedemptionLimitBounds(currency=currency, updated_by=actor, updated_at=now)
        session.add(row)
    for name, value in values.as_dict().items():
        setattr(row, name, value)
    row.updated_by, row.updated_at = actor, now
    await session.flush()
    await record_event(
        session,
        type="redemption.limit_bounds_set",
        object_type="redemption_limit_bounds",
        object_id=currency,
        actor=actor,
        now=now,
        data={"currency": currency, **values.as_dict()},
    )
    return values


@dataclass(frozen=True)
class ProductLimitSettings:
    product_id: str
    currency: str
    limits: LimitValues
    challenge_threshold_minor: int | None
    bounds: LimitValues


async def get_product_limits(
    session: AsyncSession, product_id: str, *, merchant_id: str | None
) -> ProductLimitSettings:
    product = await get_product(session, product_id, merchant_id=merchant_id)
    row = await session.get(RedemptionProductLimits, product_id)
    return ProductLimitSettings(
        product_id=product.id,
        currency=product.currency,
        limits=values_of(row),
        challenge_threshold_minor=row.challenge_threshold_minor if row else None,
        bounds=await get_bounds(session, product.currency),
    )


async def set_product_limits(
    session: AsyncSession,
    product_id: str,
    values: LimitValues,
    *,
    challenge_threshold_minor: int | None,
    merchant_id: str | None,
    actor: str,
    now: datetime,
) -> ProductLimitSettings:
    """The issuer's limits for its product, each within the platform's bound."""
    product = await get_product(session, product_id, merchant_id=merchant_id)
    _check_values(values)
    if challenge_threshold_minor is not None and challenge_threshold_minor < 0:
        raise InvalidLimit(
            "challenge_threshold_minor must be zero or more, or empty (no confirmation).",
            param="challenge_threshold_minor",
            details={"limit": "challenge_threshold_minor"},
        )
    bounds = await get_bounds(session, product.currency)
    for name, value in values.as_dict().items():
        bound = getattr(bounds, name)
        if value is not None and bound is not None and value > bound:
            shown = amount_detail(bound, product.currency) if name.endswith("_minor") else bound
            raise LimitOutOfBounds(
                f"{name} {value} is above the platform's bound of {bound}.",
                param=name,
                details={"limit": name, "bound": shown},
            )
    row = await session.get(RedemptionProductLimits, product_id, with_for_update=True)
    if row is None:
        row = RedemptionProductLimits(
            product_id=product.id,
            merchant_id=product.merchant_id,
            currency=product.currency,
            updated_by=actor,
            updated_at=now,
        )
        session.add(row)
    for name, value in values.as_dict().items():
        setattr(row, name, value)
    row.challenge_threshold_minor = challenge_threshold_minor
    row.updated_by, row.updated_at = actor, now
    await session.flush()
    await record_event(
        session,
        type="redemption.product_limits_set",
        object_type="card_product",
        object_id=product.id,
        merchant_id=product.merchant_id,
        actor=actor,
        now=now,
        data={
            "product_id": product.id,
            "merchant_id": product.merchant_id,
            "challenge_threshold_minor": challenge_threshold_minor,
            **values.as_dict(),
        },
    )
    return await get_product_limits(session, product_id, merchant_id=merchant_id)
