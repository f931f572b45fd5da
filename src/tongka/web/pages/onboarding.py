"""Merchant registration (public), the platform's review queue, the merchants pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response
from pydantic import ValidationError

from tongka.edge.auth import ensure_same_merchant
from tongka.edge.registration import MerchantRegistrationIn, registration_of
from tongka.edge.schemas import ObjectId
from tongka.errors import NotFound
from tongka.identity import service as identity
from tongka.identity.merchants import available_decisions
from tongka.identity.models import Merchant, MerchantStatus
from tongka.policy import Action, scope_of
from tongka.web import forms
from tongka.web.console import Console, ConsoleDep, FormDep, console_router, form_text
from tongka.web.forms import required_reason
from tongka.web.i18n import N_
from tongka.web.pages.listing import Allowed, page_of

router = console_router()

REGISTRATION_FIELDS = (
    "legal_name",
    "credit_code",
    "contact_name",
    "contact_phone",
    "contact_email",
    "admin_email",
    "admin_password",
)
ACCOUNT_FIELDS = ("bank_name", "account_name", "account_number")
REGISTER = "/console/register"
NOT_CARRIED = frozenset({"account_number"})  # typed again after an error, like passwords
DECISION_DONE = {
    "approve": N_("The merchant is approved: its staff can log in."),
    "reject": N_("The application was rejected; the merchant sees the reason."),
    "suspend": N_("The merchant is suspended."),
}


def validation_message(error: ValidationError) -> tuple[str, str | None]:
    """The first problem of a registration, and the form field it belongs to."""
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    field = (
        location[-1] if location and location[-1] in REGISTRATION_FIELDS + ACCOUNT_FIELDS else None
    )
    return f"{'.'.join(location)}: {first['msg']}", field


@router.get("/register")
async def registration_page(console: ConsoleDep) -> Response:
    return console.render("register.html")


@router.get("/register/done")
async def registration_done(console: ConsoleDep) -> Response:
    return console.render("register_done.html")


@router.post("/register")
async def register(console: ConsoleDep, form: FormDep) -> Response:
    """Public: an application for review. Errors come back with what was typed, except
    the password and the bank account number (never carried in a cookie)."""
    values = {name: form_text(form, name) for name in REGISTRATION_FIELDS + ACCOUNT_FIELDS}
    data: dict[str, object] = {name: values[name] for name in REGISTRATION_FIELDS}
    if values["account_number"]:
        data["settlement_account"] = {name: values[name] for name in ACCOUNT_FIELDS}
    try:
        body = MerchantRegistrationIn.model_validate(data)
    except ValidationError as exc:
        message, field = validation_message(exc)
        return forms.redirect_with_error(
            console, REGISTER, message, form, field=field, secret=NOT_CARRIED
        )
    _, error = await console.attempt_error(
        lambda: identity.register_merchant(
            console.session, console.keys, registration_of(body), now=console.now
        )
    )
    if error is not None:
        return forms.redirect_with_error(console, REGISTER, error, form, secret=NOT_CARRIED)
    return console.redirect("/console/register/done")


@router.get("/review")
async def review_queue(console: Annotated[Console, Allowed(Action.MERCHANT_REVIEW)]) -> Response:
    statement = identity.merchants_query(status=MerchantStatus.PENDING_REVIEW)
    merchants, next_after = await page_of(console, statement, Merchant)
    return console.render("review.html", merchants=merchants, next_after=next_after)


@router.get("/merchants")
async def merchants_page(console: Annotated[Console, Allowed(Action.MERCHANT_READ)]) -> Response:
    status = console.request.query_params.get("status")
    statement = identity.merchants_query(
        scope_of(console.signed_in).merchant(),
        MerchantStatus(status) if status in set(MerchantStatus) else None,
    )
    merchants, next_after = await page_of(console, statement, Merchant)
    return console.render("merchants.html", merchants=merchants, next_after=next_after)


@router.get("/merchants/{merchant_id}")
async def merchant_page(
    merchant_id: ObjectId, console: Annotated[Console, Allowed(Action.MERCHANT_READ)]
) -> Response:
    ensure_same_merchant(console.signed_in, merchant_id, what="merchant")
    merchant = await identity.get_merchant(console.session, merchant_id)
    return console.render(
        "merchant.html",
        merchant=merchant,
        decisions=available_decisions(merchant),
        account_number=identity.masked_account_number(merchant.settlement_account_last4),
    )


@router.post("/merchants/{merchant_id}/{decision}")
async def review(
    merchant_id: ObjectId,
    decision: str,
    console: Annotated[Console, Allowed(Action.MERCHANT_REVIEW)],
    form: FormDep,
) -> Response:
    """Approve, reject (with a reason) or suspend, from the review queue or a merchant page."""
    if decision not in DECISION_DONE:
        raise NotFound(N_("No such action."))
    back = form_text(form, "back")
    target = back if back.startswith("/console/") else "/console/review"

    async def work() -> object:
        # reject and suspend are destructive: they need a reason (kept with the merchant)
        reason = required_reason(form) if decision in ("reject", "suspend") else None
        return await identity.review_merchant(
            console.session,
            merchant_id,
            decision,
            actor=console.signed_in.actor,
            now=console.now,
            reason=reason,
        )

    return await forms.attempt_and_redirect(
        console, work, form, success_url=target, success=DECISION_DONE[decision]
    )
