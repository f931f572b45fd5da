"""A card product's own page: every term the issuer asked for, the regulation checks as
they stand today, the review history, and the reviewer's decision (a rejection needs a
note the issuer reads): the decision forms post to ``pages.cards``' review route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response
from sqlalchemy import select

from tongka.cards import numbers, service
from tongka.cards.products import (
    available_actions,
    parse_ratio,
    product_spec,
    regulation_problems,
)
from tongka.identity.models import Merchant, Store
from tongka.policy import Action, scope_of
from tongka.web.console import Console, console_router
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
        product_actions=available_actions(product),
    )
