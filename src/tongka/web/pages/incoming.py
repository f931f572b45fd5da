"""来账登记: platform finance records a transfer that arrived on the reserve account,
matched to its payment by the reference the payer quoted (``payments.incoming``); the
payment's order then goes on as if the bank had told us (a batch: issued and activated by
the worker). The form is on the 备付金 page; a second record of one transfer changes
nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response

from tongka.errors import InvalidRequest
from tongka.payments.incoming import IncomingTransfer, record_incoming_transfer
from tongka.payments.models import Payment
from tongka.policy import Action
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import money_minor, redirect_with_error
from tongka.web.i18n import N_
from tongka.web.pages.listing import Allowed
from tongka.web.pages.payments import CURRENCY, RESERVE_URL

router = console_router()


def _required(form: FormDep, name: str, limit: int) -> str:
    text = form_text(form, name)[:limit]
    if not text:
        raise InvalidRequest(
            "Fill in this field as the bank shows it.", code="transfer_field_required", param=name
        )
    return text


@router.post("/reserve/incoming")
async def record_incoming(
    console: Annotated[Console, Allowed(Action.TRANSFER_RECORD)], form: FormDep
) -> Response:
    """To the paid order's page (another purpose: back to the reserve page)."""

    async def work() -> Payment:
        transfer = IncomingTransfer(
            reference=_required(form, "reference", 64),
            amount_minor=money_minor(form, "amount", CURRENCY) or 0,
            currency=CURRENCY,
            payer_account_name=_required(form, "payer_account_name", 80),
            payer_account_number=_required(form, "payer_account_number", 40),
            bank_transaction_id=_required(form, "bank_transaction_id", 64),
            received_at=console.now,
        )
        return await record_incoming_transfer(
            console.session, transfer, now=console.now, settings=console.settings
        )

    payment, error = await console.attempt_error(work)
    if error is not None:
        return redirect_with_error(console, RESERVE_URL, error, form)
    assert payment is not None
    is_order = payment.purpose_kind == "order"
    url = f"/console/orders/{payment.purpose_id}" if is_order else RESERVE_URL
    return console.redirect_after(url, success=N_("The transfer is recorded."))
