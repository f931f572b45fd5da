"""单位批量购卡: a merchant's manager orders an enterprise batch for a unit, paid by bank
transfer (``/console/orders/batch``). The order's page then shows the reserve account and
the reference the unit quotes; once finance records the transfer (``pages.incoming``), the
worker issues and activates the batch (``sales.batch_orders``).

The form carries a token (``edge.form_once``): a double submit makes one order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Response
from sqlalchemy import select

from tongka.cards.models import CardProduct
from tongka.cards.products import ProductStatus
from tongka.edge import form_once
from tongka.errors import InvalidRequest
from tongka.payments.channel import ChannelName, PaymentMethod
from tongka.policy import Action, scope_of
from tongka.sales.order_states import OrderKind
from tongka.sales.orders import OrderRequest
from tongka.sales.purchase_rules import BuyerKind
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import money_minor, redirect_with_error
from tongka.web.pages.consumer_orders import create_order_once
from tongka.web.pages.listing import Allowed

router = console_router()
BATCH_URL = "/console/orders/batch"
ORDERS_URL = "/console/orders"
MAX_COUNT = 100_000

Manager = Annotated[Console, Allowed(Action.BATCH_CREATE)]


async def _products(console: Console) -> Sequence[CardProduct]:
    """The merchant's active products, by name."""
    statement = select(CardProduct).where(
        CardProduct.merchant_id == scope_of(console.signed_in).merchant_id,
        CardProduct.status == ProductStatus.ACTIVE.value,
    )
    return (await console.session.scalars(statement.order_by(CardProduct.name))).all()


def _count(form: FormDep) -> int:
    text = form_text(form, "count")
    if not text.isdigit() or not 1 <= int(text) <= MAX_COUNT:
        raise InvalidRequest(
            "Type how many cards, a whole number from 1 to 100,000.",
            code="batch_count_invalid",
            param="count",
        )
    return int(text)


@router.get("/orders/batch")
async def batch_order_page(console: Manager) -> Response:
    products = await _products(console)
    return console.render(
        "order_batch.html",
        products=[(product.id, product.name) for product in products],
        form_token=form_once.new_token(),
    )


@router.post("/orders/batch")
async def create_batch_order(console: Manager, form: FormDep) -> Response:
    """The order, held batch and bank-transfer payment; then the order's page."""
    merchant_id = scope_of(console.signed_in).merchant_id
    products = {product.id: product for product in await _products(console)}

    async def order() -> str:
        product = products.get(form_text(form, "product_id"))
        if product is None:
            raise InvalidRequest(
                "Pick one of your cards on sale.", code="order_product_required", param="product_id"
            )
        unit = form_text(form, "buyer_name")[:120]
        if not unit:
            raise InvalidRequest(
                "Type the buying unit's name.", code="order_buyer_required", param="buyer_name"
            )
        return await create_order_once(
            console,
            form,
            OrderRequest(
                kind=OrderKind.BATCH,
                method=PaymentMethod.BANK_TRANSFER,
                channel=ChannelName.BANK_TRANSFER.value,
                actor=console.signed_in.actor,
                buyer_key=f"unit:{unit}",
                merchant_id=merchant_id,
                product_id=product.id,
                face_value_minor=money_minor(form, "face_value", product.currency),
                currency=product.currency,
                card_count=_count(form),
                buyer_kind=BuyerKind.UNIT,
                buyer_name=unit,
                export_password=form_text(form, "export_password") or None,
            ),
        )

    order_id, error = await console.attempt_error(order)
    if error is not None:
        return redirect_with_error(console, BATCH_URL, error, form)
    return console.redirect(f"{ORDERS_URL}/{order_id}" if order_id else ORDERS_URL)
