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
from tongka.web.lists import (
    Column,
    Label,
    ListSpec,
    date_range,
    matching,
    select_filter,
    text_filter,
)
from tongka.web.pages.listing import Allowed

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


_NAME = Column(
    "legal_name", N_("Legal name"), sort=Merchant.legal_name, csv=lambda row, x: row.legal_name
)
_CODE = Column("credit_code", N_("Unified social credit code"), csv=lambda row, x: row.credit_code)
_CREATED = Column(
    "created_at", N_("Created"), sort=Merchant.created_at, csv=lambda row, x: row.created_at
)
_SEARCH = text_filter(
    "q",
    N_("Search"),
    matching(
        Merchant.legal_name,
        Merchant.credit_code,
        Merchant.contact_name,
        Merchant.contact_phone,
        Merchant.contact_email,
        exact=(Merchant.id,),
    ),
    N_("Name, credit code or contact"),
)
_CREATED_RANGE = date_range("created", N_("Created"), Merchant.created_at)

REVIEW_QUEUE = ListSpec(
    name="review_queue",
    id_column=Merchant.id,
    columns=[
        _NAME,
        _CODE,
        Column("contact", N_("Contact name"), csv=lambda row, x: row.contact_name),
        _CREATED,
        Column("actions"),
    ],
    filters=[_SEARCH, _CREATED_RANGE],
    default_sort="created_at",  # the oldest application first
)
MERCHANTS = ListSpec(
    name="merchants",
    id_column=Merchant.id,
    columns=[
        _NAME,
        _CODE,
        Column(
            "status",
            N_("Status"),
            sort=Merchant.status,
            csv=lambda row, x: Label("status", row.status),
        ),
        _CREATED,
    ],
    filters=[
        _SEARCH,
        select_filter(
            "status", N_("Status"), Merchant.status, [s.value for s in MerchantStatus], "status"
        ),
        _CREATED_RANGE,
    ],
)


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
    return await REVIEW_QUEUE.render(console, statement, "review.html")


@router.get("/merchants")
async def merchants_page(console: Annotated[Console, Allowed(Action.MERCHANT_READ)]) -> Response:
    statement = identity.merchants_query(scope_of(console.signed_in).merchant())
    return await MERCHANTS.render(console, statement, "merchants.html")


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
