"""订单 pages: the orders list (``/console/orders``: filters, CSV) and an order's page with
its history, refunds, receipt links, the refund form and, while unpaid, a cancel button
(``/console/orders/{order_id}``).

Staff see their merchant's orders (the platform all); a holder sees their own. A refund
form carries a token made with the page, so a double submit refunds once (the token is the
refund's id, ``sales.order_refunds``)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Response
from sqlalchemy import select

from tongka.edge.schemas import ObjectId
from tongka.errors import InvalidRequest
from tongka.payments.service import get_payment
from tongka.policy import Action, scope_of
from tongka.sales.models import Order
from tongka.sales.order_refunds import order_refunds, refund_order, refundable_minor
from tongka.sales.order_states import REFUNDABLE, UNPAID, OrderKind, OrderStatus
from tongka.sales.orders import cancel_order, get_order, order_history, orders_query
from tongka.sales.receipt_models import Receipt
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import attempt_and_redirect, money_minor, required_reason
from tongka.web.i18n import N_
from tongka.web.lists import Column, Label, ListSpec, date_range, id_filter, money, select_filter
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed
from tongka.web.qr import qr_svg

router = console_router()
ORDERS_URL = "/console/orders"

# holders have 我的订单 (``consumer_orders``) in their menu
register_nav_item(NavItem("orders", N_("Orders"), ORDERS_URL, Action.ORDER_READ, staff_only=True))

ORDERS = ListSpec(
    name="orders",
    id_column=Order.id,
    columns=[
        Column("created_at", N_("Created"), sort=Order.created_at, csv=lambda r, x: r.created_at),
        Column("id", N_("Order"), csv=lambda r, x: r.id),
        Column("kind", N_("Kind"), csv=lambda r, x: Label("order.kind", r.kind)),
        Column("status", N_("Status"), csv=lambda r, x: Label("order.status", r.status)),
        Column(
            "amount",
            N_("Amount"),
            sort=Order.amount_minor,
            csv=lambda r, x: money(r.amount_minor, r.currency),
        ),
        Column("refunded", N_("Refunded"), csv=lambda r, x: money(r.refunded_minor, r.currency)),
        Column("channel", N_("Channel"), csv=lambda r, x: r.channel or ""),
        Column("merchant", N_("Merchant"), csv=lambda r, x: r.merchant_id, platform_only=True),
    ],
    filters=[
        select_filter(
            "status", N_("Status"), Order.status, [s.value for s in OrderStatus], "order.status"
        ),
        select_filter("kind", N_("Kind"), Order.kind, [k.value for k in OrderKind], "order.kind"),
        id_filter("card_id", N_("Card"), Order.card_id),
        date_range("created", N_("Created"), Order.created_at),
    ],
)


def _query(console: Console):  # type: ignore[no-untyped-def]
    scope = scope_of(console.signed_in)
    return orders_query(
        merchant_id=scope.merchant_id, holder_id=scope.holder_id, store_id=scope.store_id
    )


async def _order(console: Console, order_id: str) -> Order:
    scope = scope_of(console.signed_in)
    return await get_order(
        console.session,
        order_id,
        merchant_id=scope.merchant_id,
        holder_id=scope.holder_id,
        store_id=scope.store_id,
    )


@router.get("/orders")
async def orders_page(console: Annotated[Console, Allowed(Action.ORDER_READ)]) -> Response:
    return await ORDERS.render(console, _query(console), "orders.html")


@router.get("/orders/{order_id}")
async def order_page(
    order_id: ObjectId, console: Annotated[Console, Allowed(Action.ORDER_READ)]
) -> Response:
    order = await _order(console, order_id)
    receipts = (
        await console.session.scalars(
            select(Receipt).where(Receipt.order_id == order.id).order_by(Receipt.issued_at)
        )
    ).all()
    payment = await get_payment(console.session, order.payment_id) if order.payment_id else None
    code_url = payment.instructions.get("code_url") if payment is not None else None
    return console.render(
        "order.html",
        order=order,
        payment=payment,
        payment_qr=qr_svg(code_url, title=console.gettext("Scan to pay"))
        if code_url and order.status in UNPAID
        else None,
        history=await order_history(console.session, order.id),
        refunds=await order_refunds(console.session, order.id),
        receipts=receipts,
        is_refundable=order.status in REFUNDABLE and order.card_id is not None,
        is_cancellable=order.status in UNPAID,
        refundable=refundable_minor(order),
        refund_token=f"web-{secrets.token_hex(12)}",
    )


@router.post("/orders/{order_id}/refunds")
async def refund(
    order_id: ObjectId,
    console: Annotated[Console, Allowed(Action.ORDER_REFUND)],
    form: FormDep,
) -> Response:
    """Refund part (an amount in yuan) or, left blank, all that may be refunded."""
    order = await _order(console, order_id)
    url = f"{ORDERS_URL}/{order.id}"

    async def work() -> object:
        reason = required_reason(form)
        token = form_text(form, "refund_id")[:64]
        if not token.startswith("web-"):
            raise InvalidRequest("The form has expired; reload the page.", param="refund_id")
        return await refund_order(
            console.session,
            order.id,
            refund_id=token,
            amount_minor=money_minor(form, "amount", order.currency, required=False),
            reason=reason,
            actor=console.signed_in.actor,
            now=console.now,
            settings=console.settings,
            merchant_id=scope_of(console.signed_in).merchant_id,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=url, success=N_("The refund is on its way back.")
    )


@router.post("/orders/{order_id}/cancel")
async def cancel(
    order_id: ObjectId,
    console: Annotated[Console, Allowed(Action.ORDER_CANCEL)],
    form: FormDep,
) -> Response:
    """Cancel an unpaid order (its payment is closed at the channel first)."""
    order = await _order(console, order_id)

    async def work() -> object:
        return await cancel_order(
            console.session,
            order,
            actor=console.signed_in.actor,
            reason=form_text(form, "reason")[:500] or None,
            now=console.now,
            settings=console.settings,
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=f"{ORDERS_URL}/{order.id}",
        success=N_("The order is cancelled."),
    )
