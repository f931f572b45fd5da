"""Card holders' own pages under ``/console/me`` (phone first): a card's detail with its
balance and history, and its top-up (充值: an order paid by scanning a QR code). Scoped by
the signed-in consumer through ``scope_of(...).cards()``: another holder's card is simply
not found (404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response

from tongka.cards import numbers, service
from tongka.payments.channel import PaymentMethod
from tongka.policy import Action, authorize, scope_of
from tongka.sales.order_states import OrderKind
from tongka.sales.orders import CreatedOrder, OrderRequest, create_order
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import money_minor, raise_page_errors, redirect_with_error
from tongka.web.i18n import N_
from tongka.web.labels import LABELS
from tongka.web.pages.listing import Allowed

router = console_router()
HISTORY_PAGE = 30


def movement_word(code: str) -> str:
    """What a movement is, in words (its bonus part reads as its paid part; a kind this page
    does not know yet reads as a plain card transaction, never as a code)."""
    return LABELS["movement"].get(code.removesuffix("_bonus"), N_("Card transaction"))


@router.get("/me/cards/{card_id}")
async def my_card(
    card_id: str, console: Annotated[Console, Allowed(Action.CONSUMER_SELF)]
) -> Response:
    card = await service.get_card(console.session, card_id, **scope_of(console.signed_in).cards())
    after = console.request.query_params.get("after", "")
    history = await service.card_history(
        console.session,
        card,
        limit=HISTORY_PAGE,
        after_sequence=int(after) if after.isdigit() else None,
    )
    product = await service.get_product(console.session, card.product_id)
    return console.render(
        "consumer_card.html",
        card=card,
        masked=numbers.mask(card.bin_prefix, card.last4, card.number_length),
        balance=await service.card_balance(console.session, card),
        product=product,
        history=history,
        words={
            movement.transfer.code: console.gettext(movement_word(movement.transfer.code))
            for movement in history.data
        },
        next_after=history.data[-1].transfer.sequence if history.has_more else None,
    )


TOP_UP_CHANNELS = ("wechat", "alipay", "unionpay")


@router.get("/me/cards/{card_id}/top_up")
async def top_up_form(
    card_id: str, console: Annotated[Console, Allowed(Action.CONSUMER_SELF)]
) -> Response:
    """充值: the amount and the wallet to pay with; the order's page then shows the QR code."""
    card = await service.get_card(console.session, card_id, **scope_of(console.signed_in).cards())
    product = await service.get_product(console.session, card.product_id)
    return console.render(
        "consumer_top_up.html",
        card=card,
        product=product,
        masked=numbers.mask(card.bin_prefix, card.last4, card.number_length),
        channels=TOP_UP_CHANNELS,
    )


@router.post("/me/cards/{card_id}/top_up")
async def top_up(
    card_id: str, console: Annotated[Console, Allowed(Action.CONSUMER_SELF)], form: FormDep
) -> Response:
    """Create the top-up order (checked against the product and the purchase rules before
    any payment) and go to its page, where the payer scans the QR code."""
    authorize(console.signed_in, Action.ORDER_CREATE)
    holder_id = console.signed_in.consumer_id
    card = await service.get_card(console.session, card_id, **scope_of(console.signed_in).cards())
    back = f"/console/me/cards/{card.id}/top_up"

    async def work() -> CreatedOrder:
        channel = form_text(form, "channel")
        return await create_order(
            console.session,
            OrderRequest(
                kind=OrderKind.TOP_UP,
                method=PaymentMethod.NATIVE_QR,
                channel=channel if channel in TOP_UP_CHANNELS else None,
                actor=console.signed_in.actor,
                buyer_key=f"consumer:{holder_id}",
                holder_id=holder_id,
                card_id=card.id,
                amount_minor=money_minor(form, "amount", card.currency),
                currency=card.currency,
            ),
            now=console.now,
            settings=console.settings,
        )

    created, error = await console.attempt_error(work)
    if error is not None:
        raise_page_errors(error, form)
        return redirect_with_error(console, back, error, form)
    assert created is not None
    return console.redirect(f"/console/orders/{created.order.id}")
