"""Card holders' own pages under ``/console/me`` (phone first): a card's detail with its
balance and history, and its top-up (充值: an order paid by scanning a QR code). Scoped by
the signed-in consumer through ``scope_of(...).cards()``: another holder's card is simply
not found (404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response
from sqlalchemy import select

from tongka.cards import numbers, service
from tongka.policy import Action, scope_of
from tongka.sales.return_models import CardReturn
from tongka.web.console import Console, console_router
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
        card_return=await console.session.scalar(
            select(CardReturn).where(CardReturn.card_id == card.id)
        ),
    )
