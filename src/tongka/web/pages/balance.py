"""The public balance check (``/console/balance``): no sign-in, a card's number and secret.

The console's twin of ``POST /v1/balance_inquiries`` with the same limits
(``tongka.cards.inquiry``: attempts per address, a card's inquiry paused after wrong
secrets, one answer for an unknown number and a wrong secret). The check runs in the
request's transaction and a refusal is *answered* (a page, not an exception), so the
attempt counters it wrote are committed with the refusal. The form is CSRF-protected (a
double-submit cookie, as the login page) and the result is shown in the POST's answer,
so the card number never appears in a URL; reloading shows the empty form.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response

from tongka.cards import numbers
from tongka.cards.inquiry import check_balance
from tongka.cards.keys import card_keys
from tongka.edge.callers import client_address
from tongka.edge.no_store import shows_secret
from tongka.edge.policy import Public
from tongka.errors import DomainError
from tongka.web.console import Console, ConsoleDep, FormDep, console_router, form_text
from tongka.web.i18n import N_

router = console_router()
PUBLIC = Public("the card's number and secret are the credential (strictly limited)")
TEMPLATE = "balance.html"
NUMBER_LENGTH = (12, 32)
SECRET_LENGTH = 32
# The inquiry's refusals in words (an unknown number and a wrong secret read the same).
REFUSALS = {
    "card_credentials_invalid": N_("The card number or the secret is wrong."),
    "card_locked": N_(
        "Too many wrong secrets: balance checks for this card are paused for a while."
    ),
    "balance_inquiry_rate_limited": N_("Too many balance checks from here; try again later."),
}


def _form(console: Console, status_code: int = 200, **context: Any) -> Response:
    return console.render(TEMPLATE, status_code=status_code, **context)


@router.get("/balance", dependencies=[PUBLIC])
async def balance_page(console: ConsoleDep) -> Response:
    return _form(console)


@router.post("/balance", dependencies=[PUBLIC])
@shows_secret
async def check(console: ConsoleDep, form: FormDep) -> Response:
    number = numbers.normalise(form_text(form, "number"))
    secret = form_text(form, "secret")
    if not (NUMBER_LENGTH[0] <= len(number) <= NUMBER_LENGTH[1]) or not (
        0 < len(secret) <= SECRET_LENGTH
    ):
        error = console.gettext("Enter the card number and the secret printed on the card.")
        return _form(console, 400, error=error, number=number)
    outcome = await check_balance(
        console.session,
        number,
        secret,
        client=client_address(console.request),
        keys=card_keys(console.settings),
        now=console.now,
    )
    if isinstance(outcome, DomainError):
        status = 429 if outcome.kind == "rate_limited" else 400
        message = console.gettext(REFUSALS.get(outcome.code, outcome.message))
        return _form(console, status, error=message, number=number)
    card = outcome.card
    return _form(
        console,
        answer=outcome,
        masked=numbers.mask(card.bin_prefix, card.last4, card.number_length),
    )
