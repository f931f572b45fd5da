"""The holder's 退卡 form at phone width (``/console/me/card_return``): one of their active
cards returned to a bank account in their own (verified) name.

The form goes through the service the ``/v1/card_returns`` route uses
(``sales.card_returns.start_return``), so the regulation's return rules refuse here as
there, each in its Chinese words next to the field it is about (``FIELD_OF_CODE``: the
account's name for a name that is not the holder's verified one, the card for a card that
cannot be returned). The form carries a token (``edge.form_once``): a double submit makes
one return. Success lands on the return's page (``/console/card_returns/{id}``), where the
payout's state shows once the worker has paid it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Response

from tongka.cards import service as cards
from tongka.cards.issuing import CardStatus
from tongka.cards.models import Card
from tongka.edge import form_once
from tongka.errors import DomainError
from tongka.ids import new_id
from tongka.payments.parties import mask_name
from tongka.policy import Action, scope_of
from tongka.sales.card_returns import BankAccount, ReturnRequest, start_return
from tongka.sales.return_rules import ReturnMethod
from tongka.web import forms
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.names import masked_card
from tongka.web.pages.listing import Allowed

router = console_router()

RETURN_FORM = "/console/me/card_return"
RETURNS_URL = "/console/card_returns"
SECRET_FIELDS = frozenset({"account_number"})
Returner = Annotated[Console, Allowed(Action.CONSUMER_RETURN_CARD)]

# The form's field each refusal is about (the service's ``param`` names the API's body).
FIELD_OF_CODE = {
    "return_card_not_named": "card_id",
    "return_nothing_to_pay": "card_id",
    "card_return_exists": "card_id",
    "card_movement_refused": "card_id",
    "return_holder_unverified": "account_name",
    "return_account_name_mismatch": "account_name",
}
FIELD_OF_PARAM = {
    "card_id": "card_id",
    "bank_account": "bank_name",
    "bank_account.bank_name": "bank_name",
    "bank_account.account_name": "account_name",
    "bank_account.account_number": "account_number",
}


def field_of(error: DomainError) -> str | None:
    """The form's field a refusal belongs to (None: the page's message)."""
    if error.code in FIELD_OF_CODE:
        return FIELD_OF_CODE[error.code]
    return FIELD_OF_PARAM.get(error.param or "")


async def returnable_cards(console: Console) -> list[Card]:
    """The holder's active cards (a closed, frozen or lost card is not returned)."""
    statement = cards.cards_query(**scope_of(console.signed_in).cards()).where(
        Card.status == CardStatus.ACTIVE
    )
    return list((await console.session.scalars(statement.order_by(Card.id.desc()))).all())


@router.get("/me/card_return")
async def card_return_form(console: Returner) -> Response:
    """退卡: pick a card (``?card_id=`` preselects one), name the bank account."""
    usable = await returnable_cards(console)
    wanted = console.request.query_params.get("card_id")
    chosen = next((card for card in usable if card.id == wanted), usable[0] if usable else None)
    balance = await cards.card_balance(console.session, chosen) if chosen is not None else None
    consumer = console.consumer
    verified_name = consumer.verified_name if consumer is not None else None
    return console.render(
        "consumer_card_return.html",
        cards=[(card.id, masked_card(card)) for card in usable],
        chosen=chosen,
        balance=balance,
        verified_name=verified_name,
        masked_verified_name=mask_name(verified_name) if verified_name else None,
        form_token=form_once.new_token(),
    )


@router.post("/me/card_return")
async def return_card(console: Returner, form: FormDep) -> Response:
    card_id = form_text(form, "card_id")
    back = f"{RETURN_FORM}?card_id={card_id}" if card_id else RETURN_FORM

    async def work() -> str:
        return await return_once(console, form, card_id)

    return_id, error = await console.attempt_error(work)
    if error is not None:
        forms.raise_page_errors(error, form)
        return forms.redirect_with_error(
            console, back, error, form, field=field_of(error), secret=SECRET_FIELDS
        )
    if not return_id:  # the first submit of this form is still being made
        return console.redirect(RETURNS_URL)
    return console.redirect(f"{RETURNS_URL}/{return_id}")


async def return_once(console: Console, form: Any, card_id: str) -> str:
    """The return of this form: made now, or the one its first submit made."""
    token = form_text(form, "form_token") or form_once.new_token()
    actor = console.signed_in.actor
    made = await form_once.claim(console.session, actor=actor, token=token, now=console.now)
    if made is not None:
        return made
    row = await start_return(
        console.session,
        ReturnRequest(
            card_id=card_id,
            method=ReturnMethod.BANK_ACCOUNT,
            actor=actor,
            account=BankAccount(
                form_text(form, "bank_name")[:100],
                form_text(form, "account_name")[:100],
                form_text(form, "account_number")[:40],
            ),
            holder_id=console.signed_in.consumer_id,
        ),
        return_id=new_id("ret"),
        now=console.now,
        settings=console.settings,
    )
    await form_once.record(console.session, actor=actor, token=token, object_id=row.id)
    return row.id
