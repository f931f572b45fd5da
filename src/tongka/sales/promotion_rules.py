"""What a promotion is, checked before anything is written (pure functions, no database).

A promotion pays the bonus of the highest tier a load reaches (load ≥ ``min_load_minor``);
promotions never stack: a load gets the one promotion that pays it most. Tiers rise: a
larger load never earns a smaller bonus, and a bonus is never larger than its load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tongka.currencies import require_enabled
from tongka.errors import amount_detail
from tongka.sales.promotion_errors import InvalidPromotion

MAX_TIERS = 10
MAX_PRODUCTS = 100
MAX_NAME = 120


@dataclass(frozen=True)
class Tier:
    """Load at least ``min_load_minor``, receive ``bonus_minor`` (e.g. load ¥500, get ¥50)."""

    min_load_minor: int
    bonus_minor: int


@dataclass(frozen=True)
class PromotionSpec:
    """What a merchant asks for. Amounts are minor units of ``currency``; ``product_ids``
    ``None`` (or empty): every product of the merchant in that currency; a cap ``None``:
    no cap. ``starts_at`` ``None``: at once."""

    name: str
    currency: str
    tiers: Sequence[Tier]
    budget_minor: int
    ends_at: datetime
    starts_at: datetime | None = None
    product_ids: Sequence[str] | None = None
    per_holder_count: int | None = None
    per_holder_amount_minor: int | None = None


def _invalid(message: str, problem: str, param: str, **details: object) -> InvalidPromotion:
    return InvalidPromotion(message, param=param, details={"problem": problem, **details})


def _is_minor(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_tiers(tiers: Sequence[Tier], currency: str) -> list[Tier]:
    """The tiers ascending by load; refused unless 1..10 rising tiers of positive amounts."""
    if not 1 <= len(tiers) <= MAX_TIERS:
        raise _invalid(f"Give 1 to {MAX_TIERS} tiers.", "tier_count", "tiers", count=len(tiers))
    ordered = sorted(tiers, key=lambda tier: tier.min_load_minor)
    for index, tier in enumerate(ordered):
        if not (_is_minor(tier.min_load_minor) and _is_minor(tier.bonus_minor)):
            raise _invalid(
                "A tier's load and bonus are positive whole minor units.", "tier_amount", "tiers"
            )
        if tier.bonus_minor > tier.min_load_minor:
            raise _invalid(
                "A bonus cannot be larger than the load that earns it.",
                "bonus_above_load",
                "tiers",
                load=amount_detail(tier.min_load_minor, currency),
                bonus=amount_detail(tier.bonus_minor, currency),
            )
        if index and ordered[index - 1].min_load_minor == tier.min_load_minor:
            raise _invalid(
                "Two tiers start at the same load.",
                "tier_duplicate",
                "tiers",
                load=amount_detail(tier.min_load_minor, currency),
            )
        if index and ordered[index - 1].bonus_minor > tier.bonus_minor:
            raise _invalid(
                "A larger load cannot earn a smaller bonus.",
                "tier_not_rising",
                "tiers",
                load=amount_detail(tier.min_load_minor, currency),
            )
    return ordered


def check_spec(spec: PromotionSpec, *, now: datetime) -> PromotionSpec:
    """The spec cleaned (name stripped, tiers ordered, start filled in) or ``InvalidPromotion``
    naming the field. Products are checked against the database by the service."""
    name = spec.name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise _invalid(f"Name the promotion (1 to {MAX_NAME} characters).", "name", "name")
    currency = require_enabled(spec.currency)
    tiers = check_tiers(spec.tiers, currency)
    smallest = tiers[0].bonus_minor
    if not _is_minor(spec.budget_minor) or spec.budget_minor < smallest:
        raise _invalid(
            "The budget must pay at least one bonus of the smallest tier.",
            "budget_too_small",
            "budget",
            budget=amount_detail(spec.budget_minor, currency),
            bonus=amount_detail(smallest, currency),
        )
    starts_at = spec.starts_at or now
    if not starts_at < spec.ends_at or spec.ends_at <= now:
        raise _invalid(
            "The promotion must end after it starts, and in the future.", "window", "ends_at"
        )
    if spec.per_holder_count is not None and not _is_minor(spec.per_holder_count):
        raise _invalid("A per-holder count is at least 1.", "holder_count", "per_holder_count")
    cap = spec.per_holder_amount_minor
    if cap is not None and (not _is_minor(cap) or cap < smallest):
        raise _invalid(
            "A per-holder amount must allow at least one bonus of the smallest tier.",
            "holder_amount",
            "per_holder_amount",
            bonus=amount_detail(smallest, currency),
        )
    products = sorted(set(spec.product_ids or ())) or None
    if products is not None and len(products) > MAX_PRODUCTS:
        raise _invalid(f"Name at most {MAX_PRODUCTS} products.", "product_count", "product_ids")
    return PromotionSpec(
        name=name,
        currency=currency,
        tiers=tiers,
        budget_minor=spec.budget_minor,
        ends_at=spec.ends_at,
        starts_at=starts_at,
        product_ids=products,
        per_holder_count=spec.per_holder_count,
        per_holder_amount_minor=cap,
    )


def bonus_for(tiers: Sequence[dict[str, int]], load_minor: int) -> int:
    """The bonus of the highest tier ``load_minor`` reaches (0: none)."""
    reached = [tier["bonus_minor"] for tier in tiers if load_minor >= tier["min_load_minor"]]
    return max(reached, default=0)


def tiers_json(tiers: Sequence[Tier]) -> list[dict[str, int]]:
    return [{"min_load_minor": t.min_load_minor, "bonus_minor": t.bonus_minor} for t in tiers]
