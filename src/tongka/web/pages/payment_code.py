"""The holder's payment code (付款码, ``/console/me/payment_code``), at phone width.

The holder picks one of their active cards; the page then asks for a fresh code at once and
every 60 seconds (HTMX ``hx-post``, trigger ``load, every 60s``), because a code lives 60
seconds and works once (``redemption.payment_codes``; a new code ends the card's earlier
ones). The code is shown as a QR code, a Code 128 barcode and its digits (``web.codes``:
SVG drawn on the server). Issuing writes (a new code), so it is a POST, and its answer is
never cached (``@shows_secret``): a code is a bearer credential for its minute.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Response

from tongka.cards import service
from tongka.cards.models import Card
from tongka.edge.no_store import shows_secret
from tongka.policy import Action, scope_of
from tongka.redemption.payment_codes import USABLE_CARD_STATUSES, issue_payment_code
from tongka.web import codes
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.names import masked_card
from tongka.web.pages.listing import Allowed

router = console_router()
PAGE = "/console/me/payment_code"
REFRESH_SECONDS = 60


async def _usable_cards(console: Console) -> list[Card]:
    statement = service.cards_query(**scope_of(console.signed_in).cards()).where(
        Card.status.in_(USABLE_CARD_STATUSES)
    )
    return list((await console.session.scalars(statement.order_by(Card.id.desc()))).all())


def grouped(code: str) -> str:
    """``8812 3456 7890 1234 56``: digits a cashier can read out."""
    return " ".join(code[start : start + 4] for start in range(0, len(code), 4))


@router.get("/me/payment_code")
async def payment_code_page(
    console: Annotated[Console, Allowed(Action.PAYMENT_CODE_ISSUE)],
) -> Response:
    return await _page(console, console.request.query_params.get("card_id"))


async def _page(console: Console, wanted: str | None, **shown: Any) -> Response:
    cards = await _usable_cards(console)
    chosen = next((card for card in cards if card.id == wanted), cards[0] if cards else None)
    return console.render(
        "payment_code.html",
        cards=[(card.id, masked_card(card)) for card in cards],
        chosen=chosen,
        refresh_seconds=REFRESH_SECONDS,
        **shown,
    )


@router.post("/me/payment_code")
@shows_secret
async def fresh_code(
    console: Annotated[Console, Allowed(Action.PAYMENT_CODE_ISSUE)], form: FormDep
) -> Response:
    """A fresh code for the holder's card, as the page's code box (another holder's card,
    or one that cannot pay, is refused in words inside the box)."""
    card_id = form_text(form, "card_id")
    consumer_id = str(console.signed_in.consumer_id)
    issued, error = await console.attempt(
        lambda: issue_payment_code(console.session, consumer_id, card_id, now=console.now)
    )
    shown: dict[str, Any] = {"error": error}
    if issued is not None:
        title = console.gettext("Payment code")
        shown = {
            "issued": issued,
            "digits": grouped(issued.code),
            "qr": codes.qr_svg(issued.code, title=title),
            "barcode": codes.code128_svg(issued.code, title=title),
        }
    if console.request.headers.get("HX-Request"):
        return console.render("_payment_code.html", **shown)
    # without JavaScript the form posted here: the whole page, with the code in it
    return await _page(console, card_id, **shown)
