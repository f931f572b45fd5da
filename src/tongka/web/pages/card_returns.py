"""退卡记录 (``/console/card_returns``): cards returned under the regulation, newest first,
with their payout's state — paying, awaiting the bank, paid, rejected (with the bank's
reason), paid in cash at a till — and a return's page (``/console/card_returns/{id}``).

Everyone who may read returns sees those in their scope, exactly as ``GET /v1/card_returns``
does (``tongka.policy.scope_of``): the platform all (filtered by merchant), a merchant its
cards' returns, a till its store's, a holder their own. The CSV has every row of the
filter, the account masked as on the page. A return is made by the holder's form
(``consumer_returns``), the API or a till, and paid by the worker job; a payout the bank
rejected or returned (退票) is sent again from the return's page, to another account in the
holder's verified name (``sales.return_retries``, the holder or the platform's finance),
its form carrying a token (``edge.form_once``): a double submit makes one new attempt."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Response
from sqlalchemy import Select

from tongka.edge import form_once
from tongka.edge.schemas import ObjectId
from tongka.identity.merchants import masked_account_number
from tongka.ids import new_id
from tongka.policy import Action, scope_of
from tongka.sales.card_returns import BankAccount, card_returns_query, get_card_return
from tongka.sales.return_models import CardReturn
from tongka.sales.return_retries import RetryRequest, is_retryable, retry_return, return_retries
from tongka.web import forms
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.i18n import N_
from tongka.web.lists import (
    Column,
    Label,
    ListSpec,
    date_range,
    id_filter,
    money,
    picker_filter,
    select_filter,
)
from tongka.web.names import names_of
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed

router = console_router()
RETURNS_URL = "/console/card_returns"
RETURN_STATUSES = ("paying", "unknown", "paid", "rejected", "paid_cash")
RETURN_METHODS = ("bank_account", "cash")

# holders reach their returns from their card's page and the 退卡 form
register_nav_item(
    NavItem(
        "card_returns", N_("Card returns"), RETURNS_URL, Action.CARD_RETURN_READ, staff_only=True
    )
)

RETURNS = ListSpec(
    name="card_returns",
    id_column=CardReturn.id,
    columns=[
        Column(
            "created_at",
            N_("Returned"),
            sort=CardReturn.created_at,
            csv=lambda r, x: r.created_at,
        ),
        Column("id", N_("Return"), csv=lambda r, x: r.id),
        Column("card", N_("Card"), csv=lambda r, x: x["names"].of("cards", r.card_id)),
        Column("method", N_("Paid by"), csv=lambda r, x: Label("card_return.method", r.method)),
        Column(
            "amount",
            N_("Amount"),
            sort=CardReturn.amount_minor,
            csv=lambda r, x: money(r.amount_minor, r.currency),
        ),
        Column(
            "bonus",
            N_("Bonus forfeited"),
            csv=lambda r, x: money(r.bonus_minor, r.currency),
        ),
        Column(
            "account",
            N_("Account"),
            csv=lambda r, x: masked_account_number(r.account_last4) or "",
        ),
        Column("status", N_("Status"), csv=lambda r, x: Label("card_return.status", r.status)),
        Column("reason", N_("Reason"), csv=lambda r, x: r.failure_reason or ""),
        Column(
            "updated_at",
            N_("Updated"),
            sort=CardReturn.updated_at,
            csv=lambda r, x: r.updated_at,
        ),
        Column(
            "merchant",
            N_("Merchant"),
            csv=lambda r, x: x["names"].of("merchants", r.merchant_id),
            platform_only=True,
        ),
    ],
    filters=[
        select_filter(
            "status", N_("Status"), CardReturn.status, RETURN_STATUSES, "card_return.status"
        ),
        select_filter(
            "method", N_("Paid by"), CardReturn.method, RETURN_METHODS, "card_return.method"
        ),
        id_filter("card_id", N_("Card"), CardReturn.card_id),
        picker_filter(
            "merchant_id", N_("Merchant"), "merchants", CardReturn.merchant_id, platform_only=True
        ),
        date_range("created", N_("Returned"), CardReturn.created_at),
    ],
    extras=names_of(merchants="merchant_id", cards="card_id"),
)


def returns_in_scope(console: Console) -> Select[tuple[CardReturn]]:
    scope = scope_of(console.signed_in)
    return card_returns_query(
        merchant_id=scope.merchant_id, holder_id=scope.holder_id, store_id=scope.store_id
    )


async def card_return_in_scope(console: Console, return_id: str) -> CardReturn:
    """The return, if the caller's scope reaches it (``card_return_not_found`` otherwise)."""
    scope = scope_of(console.signed_in)
    return await get_card_return(
        console.session,
        return_id,
        merchant_id=scope.merchant_id,
        holder_id=scope.holder_id,
        store_id=scope.store_id,
    )


@router.get("/card_returns")
async def card_returns_page(
    console: Annotated[Console, Allowed(Action.CARD_RETURN_READ)],
) -> Response:
    return await RETURNS.render(console, returns_in_scope(console), "card_returns.html")


@router.get("/card_returns/{return_id}")
async def card_return_page(
    return_id: ObjectId, console: Annotated[Console, Allowed(Action.CARD_RETURN_READ)]
) -> Response:
    row = await card_return_in_scope(console, return_id)
    consumer = console.consumer
    return console.render(
        "card_return.html",
        card_return=row,
        account=masked_account_number(row.account_last4),
        retries=await return_retries(console.session, row.id),
        is_retryable=is_retryable(row),
        verified_name=consumer.verified_name if consumer is not None else None,
        form_token=form_once.new_token(),
    )


@router.post("/card_returns/{return_id}/retries")
async def retry(
    return_id: ObjectId,
    console: Annotated[Console, Allowed(Action.CARD_RETURN_RETRY)],
    form: FormDep,
) -> Response:
    """Send the rejected or returned payout again, to the account the form names."""
    page = f"{RETURNS_URL}/{return_id}"

    async def work() -> str:
        return await retry_once(console, form, return_id)

    _, error = await console.attempt_error(work)
    if error is not None:
        forms.raise_page_errors(error, form)
        return forms.redirect_with_error(
            console, page, error, form, field=retry_field_of(error), secret=SECRET_FIELDS
        )
    return forms.redirect_after(
        console, page, success=N_("The payout is sent again to the new account.")
    )


SECRET_FIELDS = frozenset({"account_number"})
FIELD_OF_CODE = {
    "return_holder_unverified": "account_name",
    "return_account_name_mismatch": "account_name",
}
FIELD_OF_PARAM = {
    "bank_account": "bank_name",
    "bank_account.bank_name": "bank_name",
    "bank_account.account_name": "account_name",
    "bank_account.account_number": "account_number",
}


def retry_field_of(error: Any) -> str | None:
    """The retry form's field a refusal belongs to (None: the page's message)."""
    return FIELD_OF_CODE.get(error.code) or FIELD_OF_PARAM.get(error.param or "")


async def retry_once(console: Console, form: Any, return_id: str) -> str:
    """The retry of this form: made now, or the one its first submit made."""
    token = form_text(form, "form_token") or form_once.new_token()
    actor = console.signed_in.actor
    made = await form_once.claim(console.session, actor=actor, token=token, now=console.now)
    if made is not None:
        return made
    retry_id = new_id("rrt")
    await retry_return(
        console.session,
        RetryRequest(
            return_id=return_id,
            account=BankAccount(
                form_text(form, "bank_name")[:100],
                form_text(form, "account_name")[:100],
                form_text(form, "account_number")[:40],
            ),
            actor=actor,
            holder_id=scope_of(console.signed_in).holder_id,
        ),
        retry_id=retry_id,
        now=console.now,
        settings=console.settings,
    )
    await form_once.record(console.session, actor=actor, token=token, object_id=retry_id)
    return retry_id
