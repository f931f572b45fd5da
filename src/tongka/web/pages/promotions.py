"""营销活动 — a merchant's promotions (充值赠送): the list, the form that starts one (its
budget leaves the merchant's account at once) and ending one (the unclaimed budget comes
back). Dates are business dates in the platform's zone: a promotion runs from the start of
its first day to the end of its last.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Response
from sqlalchemy import select
from starlette.datastructures import FormData

from tongka import ledger
from tongka.cards.models import CardProduct
from tongka.clock import business_date
from tongka.edge.schemas import ObjectId
from tongka.errors import InvalidRequest
from tongka.ledger.accounts import load_accounts
from tongka.money import Money
from tongka.policy import Action, scope_of
from tongka.redemption.fees import merchant_payable_id
from tongka.sales import promotions
from tongka.sales.promotion_models import Promotion, PromotionClaim
from tongka.web.console import Console, FormDep, console_router, form_text, optional_whole_number
from tongka.web.forms import attempt_and_redirect, log_reason, money_minor, required_reason
from tongka.web.i18n import N_
from tongka.web.lists import (
    Column,
    Label,
    ListSpec,
    date_range,
    matching,
    select_filter,
    text_filter,
)
from tongka.web.names import names_of
from tongka.web.pages.listing import Allowed

router = console_router()
URL = "/console/promotions"
TIERS = 3  # tier rows on the form
CURRENCY = "CNY"


def _money(minor: int, row: Promotion) -> Money:
    return Money(minor, row.currency)


PROMOTIONS = ListSpec(
    name="promotions",
    id_column=Promotion.id,
    columns=[
        Column("name", N_("Name"), sort=Promotion.name, csv=lambda row, x: row.name),
        Column("tiers", N_("Tiers")),
        Column("budget", N_("Budget"), csv=lambda row, x: _money(row.budget_minor, row)),
        Column(
            "remaining",
            N_("Not yet claimed"),
            sort=Promotion.remaining_minor,
            csv=lambda row, x: _money(row.remaining_minor, row),
        ),
        Column("returned", N_("Returned"), csv=lambda row, x: _money(row.returned_minor, row)),
        Column("currency", N_("Currency"), csv=lambda row, x: row.currency, in_page=False),
        Column("starts_at", N_("Starts"), sort=Promotion.starts_at, csv=lambda r, x: r.starts_at),
        Column("ends_at", N_("Ends"), sort=Promotion.ends_at, csv=lambda row, x: row.ends_at),
        Column(
            "status",
            N_("Status"),
            sort=Promotion.status,
            csv=lambda row, x: Label("promotion", row.status),
        ),
        Column(
            "merchant",
            N_("Merchant"),
            csv=lambda row, x: x["names"].of("merchants", row.merchant_id),
            platform_only=True,
        ),
        Column(
            "created_at",
            N_("Created"),
            sort=Promotion.created_at,
            csv=lambda row, x: row.created_at,
            in_page=False,
        ),
        Column("actions"),
    ],
    filters=[
        text_filter("q", N_("Search"), matching(Promotion.name), N_("Name")),
        select_filter(
            "status",
            N_("Status"),
            Promotion.status,
            [status.value for status in promotions.PromotionStatus],
            "promotion",
        ),
        date_range("created", N_("Created"), Promotion.created_at),
    ],
    extras=names_of(merchants="merchant_id"),
)


async def _claim_statuses(session: Any, rows: Sequence[PromotionClaim]) -> dict[str, Any]:
    """Each row's status as shown (a bonus on the card reads so, marked or not)."""
    return {"statuses": await promotions.shown_statuses(session, rows)}


CLAIMS = ListSpec(
    name="promotion_claims",
    id_column=PromotionClaim.id,
    columns=[
        Column(
            "created_at",
            N_("Created"),
            sort=PromotionClaim.created_at,
            csv=lambda row, x: row.created_at,
        ),
        Column("order", N_("Order"), csv=lambda row, x: row.order_id),
        Column("holder", N_("Holder"), csv=lambda row, x: row.holder_id),
        Column("load", N_("Load"), sort=PromotionClaim.load_minor, csv=lambda r, x: _load(r)),
        Column("bonus", N_("Bonus"), sort=PromotionClaim.amount_minor, csv=lambda r, x: _bonus(r)),
        Column("currency", N_("Currency"), csv=lambda row, x: row.currency, in_page=False),
        Column(
            "status",
            N_("Status"),
            sort=PromotionClaim.status,
            csv=lambda row, x: Label("promotion_claim", row.status),
        ),
    ],
    filters=[
        text_filter("q", N_("Search"), matching(PromotionClaim.order_id), N_("Order")),
        date_range("created", N_("Created"), PromotionClaim.created_at),
    ],
    extras=_claim_statuses,
)


def _load(row: PromotionClaim) -> Money:
    return Money(row.load_minor, row.currency)


def _bonus(row: PromotionClaim) -> Money:
    return Money(row.amount_minor, row.currency)


async def _products(console: Console, merchant_id: str | None) -> list[tuple[str, str]]:
    """The merchant's products a promotion may name (value, name) — none for the platform."""
    if merchant_id is None:
        return []
    rows = await console.session.execute(
        select(CardProduct.id, CardProduct.name)
        .where(CardProduct.merchant_id == merchant_id, CardProduct.currency == CURRENCY)
        .order_by(CardProduct.name)
    )
    return [(row.id, row.name) for row in rows]


async def _funds(console: Console, merchant_id: str | None) -> Money | None:
    """What the merchant's own account holds now (a budget can be at most this)."""
    if merchant_id is None:
        return None
    account_id = merchant_payable_id(merchant_id, CURRENCY)
    if account_id not in await load_accounts(console.session, [account_id], missing_ok=True):
        return Money(0, CURRENCY)
    return Money((await ledger.get_balance(console.session, account_id)).available, CURRENCY)


async def _page(console: Console, status_code: int = 200) -> Response:
    merchant_id = scope_of(console.signed_in).merchant()
    return await PROMOTIONS.render(
        console,
        promotions.promotions_query(merchant_id),
        "promotions.html",
        status_code,
        products=await _products(console, merchant_id),
        funds=await _funds(console, merchant_id),
        today=business_date(console.now, console.settings.timezone),
        tier_rows=range(1, TIERS + 1),
    )


@router.get("/promotions")
async def promotions_page(
    console: Annotated[Console, Allowed(Action.PROMOTION_READ)],
) -> Response:
    return await _page(console)


@router.get("/promotions/{promotion_id}")
async def promotion_page(
    promotion_id: ObjectId, console: Annotated[Console, Allowed(Action.PROMOTION_READ)]
) -> Response:
    """One promotion and the orders that claimed its bonus."""
    promotion = await promotions.get_promotion(
        console.session, promotion_id, merchant_id=scope_of(console.signed_in).merchant()
    )
    return await CLAIMS.render(
        console, promotions.claims_query(promotion.id), "promotion.html", promotion=promotion
    )


def _day(form: FormData, name: str, *, required: bool) -> date | None:
    text = form_text(form, name)
    if not text:
        if required:
            raise InvalidRequest(N_("%(field)s is required."), code="field_required", param=name)
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidRequest(
            N_("%(field)s is not valid."), code="validation_failed", param=name
        ) from exc


def _start_of(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(timezone))


def _tiers(form: FormData) -> list[promotions.Tier]:
    """The tier rows filled in (a row with neither amount is skipped)."""
    tiers = []
    for index in range(1, TIERS + 1):
        load, bonus = f"tier{index}_load", f"tier{index}_bonus"
        if index > 1 and not (form_text(form, load) or form_text(form, bonus)):
            continue
        tiers.append(
            promotions.Tier(
                int(money_minor(form, load, CURRENCY) or 0),
                int(money_minor(form, bonus, CURRENCY) or 0),
            )
        )
    return tiers


def spec_from_form(form: FormData, timezone: str, today: date) -> promotions.PromotionSpec:
    """The form as a spec; the last day is whole (it ends at the next day's midnight)."""
    first = _day(form, "starts_on", required=False) or today
    last = _day(form, "ends_on", required=True)
    assert last is not None
    product_id = form_text(form, "product_id")
    return promotions.PromotionSpec(
        name=form_text(form, "name"),
        currency=CURRENCY,
        tiers=_tiers(form),
        budget_minor=int(money_minor(form, "budget", CURRENCY) or 0),
        starts_at=None if first <= today else _start_of(first, timezone),
        ends_at=_start_of(last + timedelta(days=1), timezone),
        product_ids=[product_id] if product_id else None,
        per_holder_count=optional_whole_number(form, "per_holder_count"),
        per_holder_amount_minor=money_minor(form, "per_holder_amount", CURRENCY, required=False),
    )


@router.post("/promotions")
async def create_promotion(
    console: Annotated[Console, Allowed(Action.PROMOTION_MANAGE)], form: FormDep
) -> Response:
    principal = console.signed_in
    timezone = console.settings.timezone

    async def work() -> Any:
        spec = spec_from_form(form, timezone, business_date(console.now, timezone))
        merchant_id = str(principal.merchant_id)  # the grant is for merchants only
        return await promotions.create_promotion(
            console.session, merchant_id, spec, actor=principal.actor, now=console.now
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=URL,
        success=N_("The promotion has started: its budget left your account."),
    )


@router.post("/promotions/{promotion_id}/end")
async def end_promotion(
    promotion_id: ObjectId,
    console: Annotated[Console, Allowed(Action.PROMOTION_MANAGE)],
    form: FormDep,
) -> Response:
    principal = console.signed_in
    merchant_id = scope_of(principal).merchant()
    await promotions.get_promotion(console.session, promotion_id, merchant_id=merchant_id)

    async def work() -> Any:
        reason = required_reason(form)
        ended = await promotions.end_promotion(
            console.session,
            promotion_id,
            merchant_id=merchant_id,
            actor=principal.actor,
            now=console.now,
        )
        log_reason(console, "promotion.end", promotion_id, reason)
        return ended

    back = form_text(form, "back")
    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=back if back.startswith("/console/promotions") else URL,
        success=N_("The promotion has ended: what no order claimed is back in your account."),
    )
