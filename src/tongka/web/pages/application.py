"""A merchant's own application (入驻申请): a rejected applicant reads why, corrects it and
sends it back for review.

A rejected merchant's admin has no console session (only active merchants have): logging
in with the right password hands it an application pass (``identity.application_pass``,
cookie ``tongka_application``), which this page alone reads. A signed-in merchant admin
sees its (approved) application here too, read-only. The policy still decides: the pass's
user must be allowed ``merchant.resubmit``. Why: ``docs/decisions/0009-*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Response
from pydantic import ValidationError

from tongka.edge.registration import MerchantCorrectionsIn, corrections_of
from tongka.identity import service as identity
from tongka.identity.models import Merchant, MerchantStatus, User
from tongka.identity.principal import Principal
from tongka.policy import Action, authorize
from tongka.web.console import Console as ConsoleType
from tongka.web.console import ConsoleDep, FormDep, LoginRequired, console_router, form_text
from tongka.web.forms import redirect_after, redirect_with_error
from tongka.web.i18n import N_
from tongka.web.pages.account import APPLICATION_COOKIE
from tongka.web.pages.onboarding import ACCOUNT_FIELDS

router = console_router()

APPLICATION_PAGE = "/console/application"
INVALID_VALUE = N_("This value is not valid; check its format.")
NOT_REFILLED = frozenset({"account_number"})  # a bank account number is typed again


@dataclass
class Applicant:
    console: ConsoleType
    user: User
    merchant: Merchant
    principal: Principal
    has_pass: bool


async def get_applicant(console: ConsoleDep) -> Applicant:
    """The applicant: the holder of a live application pass, else the signed-in caller
    (who must be a merchant admin); nobody: the login page."""
    token = console.request.cookies.get(APPLICATION_COOKIE)
    user = None
    if token:
        user = await identity.resolve_application_pass(
            console.session, console.keys, token, now=console.now
        )
    has_pass = user is not None
    if user is None:
        authorize(console.signed_in, Action.MERCHANT_RESUBMIT)  # LoginRequired or 403
        user = console.user
    if user is None or user.merchant_id is None:
        raise LoginRequired()
    principal = identity.principal_for_user(user)
    authorize(principal, Action.MERCHANT_RESUBMIT)
    merchant = await identity.get_merchant(console.session, user.merchant_id)
    return Applicant(console, user, merchant, principal, has_pass)


get_applicant.policy_action = Action.MERCHANT_RESUBMIT  # type: ignore[attr-defined]
ApplicantDep = Annotated[Applicant, Depends(get_applicant)]


def _values(merchant: Merchant) -> dict[str, Any]:
    values = {name: getattr(merchant, name) or "" for name in identity.CORRECTABLE_FIELDS}
    values["bank_name"] = merchant.settlement_bank_name or ""
    values["account_name"] = merchant.settlement_account_name or ""
    return values


@router.get("/application")
async def application_page(applicant: ApplicantDep) -> Response:
    console, merchant = applicant.console, applicant.merchant
    return console.render(
        "application.html",
        merchant=merchant,
        current=_values(merchant),
        is_correctable=merchant.status == MerchantStatus.REJECTED,
        has_pass=applicant.has_pass,
        account_number=identity.masked_account_number(merchant.settlement_account_last4),
    )


@router.post("/application")
async def resubmit(applicant: ApplicantDep, form: FormDep) -> Response:
    """Correct and resubmit: back to ``pending_review``; errors land at their field."""
    console = applicant.console
    data: dict[str, object] = {name: form_text(form, name) for name in identity.CORRECTABLE_FIELDS}
    account = {name: form_text(form, name) for name in ACCOUNT_FIELDS}
    if account["account_number"]:
        data["settlement_account"] = account
    try:
        body = MerchantCorrectionsIn.model_validate(data)
    except ValidationError as exc:
        location = exc.errors()[0]["loc"]
        field = str(location[-1])
        return redirect_with_error(
            console, APPLICATION_PAGE, INVALID_VALUE, form, field=field, secret=NOT_REFILLED
        )

    async def work() -> object:
        return await identity.resubmit_merchant(
            console.session,
            console.keys,
            applicant.merchant.id,
            corrections_of(body),
            actor=applicant.principal.actor,
            now=console.now,
        )

    _, error = await console.attempt_error(work)
    if error is not None:
        return redirect_with_error(console, APPLICATION_PAGE, error, form, secret=NOT_REFILLED)
    return redirect_after(
        console,
        APPLICATION_PAGE,
        success=N_("Application sent for review again. We will let you know."),
    )


@router.post("/application/leave")
async def leave(console: ConsoleDep, form: FormDep) -> Response:
    """The applicant is done: its pass is dropped (it would expire anyway)."""
    console.cookies[APPLICATION_COOKIE] = ""
    return redirect_after(console, "/console/login")
