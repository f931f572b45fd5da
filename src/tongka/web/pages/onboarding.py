"""Merchant registration (public), the platform's review queue, the merchants pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response
from pydantic import ValidationError

from tongka.edge.auth import ensure_same_merchant
from tongka.edge.registration import MerchantRegistrationIn, registration_of
from tongka.edge.schemas import ObjectId
from tongka.identity import service as identity
from tongka.identity.models import Merchant, MerchantStatus
from tongka.policy import Action, scope_of
from tongka.web.console import Console, ConsoleDep, FormDep, console_router, form_text
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


def validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"


@router.get("/register")
async def registration_page(console: ConsoleDep) -> Response:
    return console.render("register.html", values={})


@router.post("/register")
async def register(console: ConsoleDep, form: FormDep) -> Response:
    values = {name: form_text(form, name) for name in REGISTRATION_FIELDS + ACCOUNT_FIELDS}
    data: dict[str, object] = {name: values[name] for name in REGISTRATION_FIELDS}
    if values["account_number"]:
        data["settlement_account"] = {name: values[name] for name in ACCOUNT_FIELDS}
    try:
        body = MerchantRegistrationIn.model_validate(data)
    except ValidationError as exc:
        error: str | None = validation_message(exc)
    else:
        _, error = await console.attempt(
            lambda: identity.register_merchant(
                console.session, console.keys, registration_of(body), now=console.now
            )
        )
    if error:
        values["admin_password"] = ""
        return console.render("register.html", status_code=400, values=values, error=error)
    return console.render("register_done.html")


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
    if decision not in ("approve", "reject", "suspend"):
        return console.render("error.html", status_code=404, message="No such action.")
    _, error = await console.attempt(
        lambda: identity.review_merchant(
            console.session,
            merchant_id,
            decision,
            actor=console.signed_in.actor,
            now=console.now,
            reason=form_text(form, "reason") or None,
        )
    )
    if error:
        return console.render("error.html", status_code=400, message=error)
    back = form_text(form, "back")
    return console.redirect(back if back.startswith("/console/") else "/console/review")
