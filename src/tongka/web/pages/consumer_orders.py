"""The holder's orders at phone width: 购卡 (buy a card), 充值 (top one up) and the payment
page of an order (``/console/me/orders/{id}``).

The forms go through the same service the ``/v1/orders`` route uses (``sales.orders``), so
the product checks and the purchase rules refuse here as there, in their Chinese words,
next to the form. Each form carries a token (``edge.form_once``): a double submit makes one
order. The payment page shows the channel's QR code (``web.qr``; on a phone it is also a
link: the sandbox's payer page), the amount and the order's status, which it asks again
every few seconds (HTMX polling) until the order is paid (then: the card and its receipt)
or ends unpaid; an unpaid order can be cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Response
from sqlalchemy import select

from tongka.cards import service as cards
from tongka.cards.issuing import CardStatus
from tongka.cards.models import Card, CardProduct
from tongka.cards.products import CardForm, ProductStatus
from tongka.edge import form_once
from tongka.errors import DomainError, InvalidRequest
from tongka.money import Money
from tongka.payments.channel import ChannelName, PaymentMethod
from tongka.payments.service import get_payment
from tongka.policy import Action, scope_of
from tongka.sales.models import Order
from tongka.sales.order_states import UNPAID, OrderKind, OrderStatus
from tongka.sales.orders import OrderRequest, cancel_order, create_order, get_order, orders_query
from tongka.sales.receipt_models import Receipt
from tongka.web import forms, qr
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.consumer_home import HomeSection, consumer_home_section
from tongka.web.formatting import format_money
from tongka.web.i18n import N_
from tongka.web.labels import LABELS
from tongka.web.names import masked_card
from tongka.web.pages.listing import Allowed

router = console_router()

BUY = "/console/me/buy"
TOP_UP = "/console/me/top_up"
ORDERS = "/console/me/orders"
POLL_SECONDS = 3
LIST_LIMIT = 30
HOME_SHOWN = 10  # products in the home page's 购卡 section
# What a phone pays with here: the payer scans (or, on the phone itself, opens) a QR code.
CHANNELS = (ChannelName.WECHAT.value, ChannelName.ALIPAY.value)
PAID = (
    OrderStatus.PAID.value,
    OrderStatus.FULFILLED.value,
    OrderStatus.REFUNDED.value,
    OrderStatus.PARTLY_REFUNDED.value,
)
Buyer = Annotated[Console, Allowed(Action.CONSUMER_BUY)]
Holder = Annotated[Console, Allowed(Action.CONSUMER_ORDERS)]


def holder_id(console: Console) -> str:
    return str(console.signed_in.consumer_id)


async def _buyable_products(console: Console) -> Sequence[CardProduct]:
    """The products a holder may buy now (approved, active), by name."""
    statement = select(CardProduct).where(CardProduct.status == ProductStatus.ACTIVE)
    return (await console.session.scalars(statement.order_by(CardProduct.name))).all()


async def _top_up_cards(console: Console) -> list[Card]:
    statement = cards.cards_query(**scope_of(console.signed_in).cards()).where(
        Card.status == CardStatus.ACTIVE
    )
    return list((await console.session.scalars(statement.order_by(Card.id.desc()))).all())


def _channel_options(console: Console) -> list[tuple[str, str]]:
    return [(name, console.gettext(LABELS["payment_channel"][name])) for name in CHANNELS]


def _channel(form: Any) -> str:
    """WeChat or Alipay, as picked (anything else is refused at the field)."""
    picked = form_text(form, "channel")
    if picked not in CHANNELS:
        raise InvalidRequest(
            "Pick how to pay: WeChat Pay or Alipay.", code="order_channel_required", param="channel"
        )
    return picked


def face_value_options(product: CardProduct) -> list[tuple[str, str]]:
    """The face values a product lists, as (yuan typed, words) pairs; none for a range
    (the holder types the amount)."""
    return [
        (
            Money.of_minor(value, product.currency).to_decimal_string(),
            format_money(value, product.currency),
        )
        for value in product.face_values or []
    ]


@router.get("/me/buy")
async def buy_page(console: Buyer) -> Response:
    """购卡: the products; once one is picked (``?product_id=``), its face values."""
    products = await _buyable_products(console)
    wanted = console.request.query_params.get("product_id")
    chosen = next((product for product in products if product.id == wanted), None)
    if chosen is None and len(products) == 1:
        chosen = products[0]
    return console.render(
        "consumer_buy.html",
        products=products,
        chosen=chosen,
        face_values=face_value_options(chosen) if chosen is not None else [],
        channels_options=_channel_options(console),
        form_token=form_once.new_token(),
    )


@router.post("/me/buy")
async def buy(console: Buyer, form: FormDep) -> Response:
    product_id = form_text(form, "product_id")
    back = f"{BUY}?product_id={product_id}" if product_id else BUY

    async def order() -> str:
        product = await cards.get_product(console.session, product_id)
        face_value = forms.money_minor(form, "face_value", product.currency)
        return await create_order_once(
            console,
            form,
            OrderRequest(
                kind=OrderKind.PURCHASE,
                method=PaymentMethod.NATIVE_QR,
                channel=_channel(form),
                actor=console.signed_in.actor,
                buyer_key=f"consumer:{holder_id(console)}",
                product_id=product.id,
                face_value_minor=face_value,
                currency=product.currency,
                holder_id=holder_id(console),
            ),
        )

    return await _ordered(console, form, order, back, "face_value")


@router.get("/me/top_up")
async def top_up_page(console: Buyer) -> Response:
    """充值: one of the holder's active cards (``?card_id=``), an amount, a channel."""
    usable = await _top_up_cards(console)
    wanted = console.request.query_params.get("card_id")
    chosen = next((card for card in usable if card.id == wanted), usable[0] if usable else None)
    return console.render(
        "consumer_top_up_pick.html",
        cards=[(card.id, masked_card(card)) for card in usable],
        chosen=chosen,
        channels_options=_channel_options(console),
        form_token=form_once.new_token(),
    )


@router.post("/me/top_up")
async def top_up(console: Buyer, form: FormDep) -> Response:
    card_id = form_text(form, "card_id")
    back = f"{TOP_UP}?card_id={card_id}" if card_id else TOP_UP

    async def order() -> str:
        card = await cards.get_card(console.session, card_id, **scope_of(console.signed_in).cards())
        amount = forms.money_minor(form, "amount", card.currency)
        return await create_order_once(
            console,
            form,
            OrderRequest(
                kind=OrderKind.TOP_UP,
                method=PaymentMethod.NATIVE_QR,
                channel=_channel(form),
                actor=console.signed_in.actor,
                buyer_key=f"consumer:{holder_id(console)}",
                card_id=card.id,
                amount_minor=amount,
                currency=card.currency,
                holder_id=holder_id(console),
            ),
        )

    return await _ordered(console, form, order, back, "amount")


async def create_order_once(console: Console, form: Any, request: OrderRequest) -> str:
    """The order of this form: made now, or the one its first submit made."""
    token = form_text(form, "form_token") or form_once.new_token()
    actor = console.signed_in.actor
    made = await form_once.claim(console.session, actor=actor, token=token, now=console.now)
    if made is not None:
        return made
    created = await create_order(
        console.session, request, now=console.now, settings=console.settings
    )
    await form_once.record(console.session, actor=actor, token=token, object_id=created.order.id)
    return created.order.id


async def _ordered(
    console: Console, form: Any, work: Any, back: str, amount_field: str
) -> Response:
    """To the new order's payment page, or back to the form with the refusal's words."""
    order_id, error = await console.attempt_error(work)
    if error is not None:
        field = _field_of(error, form, amount_field)
        return forms.redirect_with_error(console, back, error, form, field=field)
    if not order_id:  # the first submit of this form is still being made
        return console.redirect(ORDERS)
    return console.redirect(f"{ORDERS}/{order_id}")


# The service's names for what the form calls otherwise (the API's body fields).
FIELD_OF_PARAM = {"method": "channel", "face_value": "face_value", "amount": "amount"}


def _field_of(error: DomainError, form: Any, amount_field: str) -> str | None:
    """The form's field a refusal belongs to: the one its ``param`` names, or — a refusal
    of the amount itself, such as the card's maximum balance (no ``param``) — the amount."""
    if error.param is None:
        return amount_field
    param = error.param.split(".")[0]
    param = FIELD_OF_PARAM.get(param, param)
    return param if param in form or param == "channel" else None


@router.get("/me/orders")
async def my_orders(console: Holder) -> Response:
    statement = orders_query(merchant_id=None, holder_id=holder_id(console))
    rows = await console.session.scalars(
        statement.order_by(Order.created_at.desc(), Order.id.desc()).limit(LIST_LIMIT)
    )
    return console.render("consumer_orders.html", orders=rows.all())


async def _order_context(console: Console, order_id: str) -> dict[str, Any]:
    order = await get_order(console.session, order_id, holder_id=holder_id(console))
    receipt_code = None
    if order.receipt_id is not None:
        receipt_code = await console.session.scalar(
            select(Receipt.code).where(Receipt.id == order.receipt_id)
        )
    return {
        "order": order,
        "product": await cards.get_product(console.session, order.product_id),
        "is_unpaid": order.status in UNPAID,
        "is_paid": order.status in PAID,
        "receipt_code": receipt_code,
        "poll_seconds": POLL_SECONDS,
    }


@router.get("/me/orders/{order_id}")
async def order_page(order_id: str, console: Holder) -> Response:
    """The payment page: the QR code while unpaid, the status (polled), then the results."""
    context = await _order_context(console, order_id)
    code_url = None
    order = context["order"]
    if context["is_unpaid"] and order.payment_id is not None:
        payment = await get_payment(console.session, order.payment_id)
        code_url = payment.instructions.get("code_url")
    qr_code = qr.qr_svg(code_url, title=console.gettext("Scan to pay")) if code_url else None
    return console.render("consumer_order.html", code_url=code_url, qr_code=qr_code, **context)


@router.get("/me/orders/{order_id}/status")
async def order_status(order_id: str, console: Holder) -> Response:
    """The status box alone (HTMX polls it; it stops asking once the order is settled, and
    takes the QR code away then: out of band, ``#pay-qr``)."""
    context = await _order_context(console, order_id)
    return console.render("_consumer_order_status.html", polled=True, **context)


@router.post("/me/orders/{order_id}/cancel")
async def cancel(order_id: str, console: Holder, form: FormDep) -> Response:
    page = f"{ORDERS}/{order_id}"

    async def work() -> Order:
        order = await get_order(console.session, order_id, holder_id=holder_id(console))
        return await cancel_order(
            console.session,
            order,
            actor=console.signed_in.actor,
            reason=None,
            now=console.now,
            settings=console.settings,
        )

    return await forms.attempt_and_redirect(
        console, work, form, success_url=page, success=N_("The order was cancelled.")
    )


@consumer_home_section("buy")
async def buy_section(console: Console) -> HomeSection | None:
    """购卡 on the holder's home page: the virtual cards on sale, each linking to the 购卡
    page with the product chosen."""
    products = (
        await console.session.scalars(
            select(CardProduct)
            .where(
                CardProduct.status == ProductStatus.ACTIVE.value,
                CardProduct.form == CardForm.VIRTUAL.value,
            )
            .order_by(CardProduct.name, CardProduct.id)
            .limit(HOME_SHOWN)
        )
    ).all()
    if not products:
        return None
    return HomeSection(
        title=N_("Buy a card"), template="_consumer_buy.html", context={"products": products}
    )
