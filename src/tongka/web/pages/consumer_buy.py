"""A holder buys a virtual card (购卡) from their home page: a section listing the products
on sale (active, virtual) with a face value and a wallet to pick; the order's page then
shows the QR code to scan (``web.pages.orders``). The product and the purchase rules are
checked before any payment; a refusal comes back to the home page in words."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response
from sqlalchemy import select
from starlette.datastructures import FormData

from tongka.cards.models import CardProduct
from tongka.cards.products import CardForm, ProductStatus
from tongka.payments.channel import PaymentMethod
from tongka.policy import Action, authorize
from tongka.sales.order_states import OrderKind
from tongka.sales.orders import CreatedOrder, OrderRequest, create_order
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.consumer_home import HomeSection, consumer_home_section
from tongka.web.forms import money_minor, raise_page_errors, redirect_with_error
from tongka.web.i18n import N_
from tongka.web.pages.holder import TOP_UP_CHANNELS
from tongka.web.pages.listing import Allowed

router = console_router()
SHOWN = 10
HOME = "/console/me"


@consumer_home_section("buy")
async def buy_section(console: Console) -> HomeSection | None:
    products = (
        await console.session.scalars(
            select(CardProduct)
            .where(
                CardProduct.status == ProductStatus.ACTIVE.value,
                CardProduct.form == CardForm.VIRTUAL.value,
            )
            .order_by(CardProduct.name, CardProduct.id)
            .limit(SHOWN)
        )
    ).all()
    if not products:
        return None
    return HomeSection(
        title=N_("Buy a card"),
        template="_consumer_buy.html",
        context={"products": products, "channels": TOP_UP_CHANNELS},
    )


def _face_value(form: FormData, currency: str) -> int | None:
    """A listed face value (minor units, from the select) or one typed in yuan."""
    listed = form_text(form, "face_value_minor")
    if listed:
        return int(listed) if listed.isdigit() and len(listed) < 16 else -1  # -1: refused
    return money_minor(form, "face_value", currency)


@router.post("/me/orders")
async def buy(
    console: Annotated[Console, Allowed(Action.CONSUMER_SELF)], form: FormDep
) -> Response:
    """Create the purchase order and go to its page (the QR code)."""
    authorize(console.signed_in, Action.ORDER_CREATE)
    holder_id = console.signed_in.consumer_id

    async def work() -> CreatedOrder:
        channel = form_text(form, "channel")
        currency = form_text(form, "currency") or "CNY"
        return await create_order(
            console.session,
            OrderRequest(
                kind=OrderKind.PURCHASE,
                method=PaymentMethod.NATIVE_QR,
                channel=channel if channel in TOP_UP_CHANNELS else None,
                actor=console.signed_in.actor,
                buyer_key=f"consumer:{holder_id}",
                holder_id=holder_id,
                product_id=form_text(form, "product_id")[:40] or None,
                face_value_minor=_face_value(form, currency),
                currency=currency,
            ),
            now=console.now,
            settings=console.settings,
        )

    created, error = await console.attempt_error(work)
    if error is not None:
        raise_page_errors(error, form)
        return redirect_with_error(console, HOME, error, form)
    assert created is not None
    return console.redirect(f"/console/orders/{created.order.id}")
