"""A card product's own page: every term the issuer asked for, the regulation checks as
they stand today, the review history, and the reviewer's decision (a rejection needs a
note the issuer reads). Listed before ``pages.cards`` (its ``/{decision}`` route)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response
from sqlalchemy import select

from tongka.cards import numbers, service
from tongka.cards.products import parse_ratio, product_spec, regulation_problems
from tongka.identity.models import Merchant, Store
from tongka.policy import Action, scope_of
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import attempt_and_redirect, redirect_with_error, required_reason
from tongka.web.i18n import N_
from tongka.web.pages.listing import Allowed

router = console_router()


async def _names(
    console: Console, model: type[Merchant] | type[Store], ids: list[str]
) -> list[str]:
    """Names for the ids a product's acceptance lists (in their order; unknown: the id)."""
    if not ids:
        return []
    name = Merchant.legal_name if model is Merchant else Store.name
    found = await console.session.execute(select(model.id, name).where(model.id.in_(ids)))
    rows: dict[str, str] = {str(row[0]): str(row[1]) for row in found.all()}
    return [rows.get(one, one) for one in ids]


@router.get("/card_products/{product_id}")
async def product_page(
    product_id: str, console: Annotated[Console, Allowed(Action.PRODUCT_READ)]
) -> Response:
    product = await service.get_product(
        console.session, product_id, merchant_id=scope_of(console.signed_in).merchant()
    )
    rules = await service.get_regulation(console.session, console.now)
    issuer = await console.session.get(Merchant, product.merchant_id)
    return console.render(
        "card_product.html",
        product=product,
        issuer=issuer,
        ratio=parse_ratio(product.exchange_ratio),
        capacity=numbers.capacity(product.bin_prefix, product.number_length),
        violations=regulation_problems(product_spec(product), rules),
        rules=rules,
        accepted_merchants=await _names(console, Merchant, product.accepted_merchant_ids),
        accepted_stores=await _names(console, Store, product.accepted_store_ids),
        is_reviewable=product.status == service.ProductStatus.PENDING_REVIEW,
    )


@router.post("/card_products/{product_id}/review")
async def review(
    product_id: str, console: Annotated[Console, Allowed(Action.PRODUCT_REVIEW)], form: FormDep
) -> Response:
    """Approve or reject from the product's page; back there with the outcome."""
    url = f"/console/card_products/{product_id}"
    decision = form_text(form, "decision")
    if decision not in ("approve", "reject"):
        return redirect_with_error(console, url, N_("Choose approve or reject."), form)
    is_approved = decision == "approve"

    async def work() -> object:
        note = form_text(form, "note") or None if is_approved else required_reason(form, "note")
        return await service.review_product(
            console.session,
            product_id,
            is_approved=is_approved,
            note=note,
            principal=console.signed_in,
            now=console.now,
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=url,
        success=N_("Product approved.") if is_approved else N_("Product rejected."),
    )
