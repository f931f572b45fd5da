"""付款记录 (``/console/payouts``): every attempt to pay a settlement batch out, newest first,
with its outcome — paid, rejected (with the bank's reason), returned days later (退票), or
awaiting the bank after a timeout — and the batch it pays. A merchant's managers see their
own; platform staff see all, filtered by merchant. The CSV has every row of the filter.

The page reads only: payouts are sent and followed up by the settlement run
(``tongka.settlement.payouts``); a held merchant is released on the contracts page."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response
from sqlalchemy import select

from tongka.policy import Action, scope_of
from tongka.settlement.models import Payout
from tongka.web.console import Console, console_router
from tongka.web.i18n import N_
from tongka.web.lists import (
    Column,
    Label,
    ListSpec,
    date_range,
    money,
    picker_filter,
    select_filter,
)
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed

router = console_router()
PAYOUT_STATUSES = ("submitting", "unknown", "paid", "rejected", "returned")

register_nav_item(NavItem("payouts", N_("Payouts"), "/console/payouts", Action.PAYOUT_READ))

PAYOUTS = ListSpec(
    name="payouts",
    id_column=Payout.id,
    columns=[
        Column("created_at", N_("Sent"), sort=Payout.created_at, csv=lambda r, x: r.created_at),
        Column("id", N_("Payout"), csv=lambda r, x: r.id),
        Column("batch", N_("Settlement batch"), csv=lambda r, x: r.batch_id),
        Column("attempt", N_("Attempt"), csv=lambda r, x: r.attempt),
        Column(
            "amount",
            N_("Amount"),
            sort=Payout.amount,
            csv=lambda r, x: money(r.amount, r.currency),
        ),
        Column("account", N_("Account"), csv=lambda r, x: f"**** {r.account_last4}"),
        Column("status", N_("Status"), csv=lambda r, x: Label("settlement.payout", r.status)),
        Column("reason", N_("Reason"), csv=lambda r, x: r.failure_reason or ""),
        Column("updated_at", N_("Updated"), sort=Payout.updated_at, csv=lambda r, x: r.updated_at),
        Column("merchant", N_("Merchant"), csv=lambda r, x: r.merchant_id, platform_only=True),
    ],
    filters=[
        select_filter("status", N_("Status"), Payout.status, PAYOUT_STATUSES, "settlement.payout"),
        picker_filter(
            "merchant_id", N_("Merchant"), "merchants", Payout.merchant_id, platform_only=True
        ),
        date_range("created", N_("Sent"), Payout.created_at),
    ],
)


@router.get("/payouts")
async def payouts_page(console: Annotated[Console, Allowed(Action.PAYOUT_READ)]) -> Response:
    statement = select(Payout)
    merchant_id = scope_of(console.signed_in).merchant()
    if merchant_id is not None:
        statement = statement.where(Payout.merchant_id == merchant_id)
    return await PAYOUTS.render(console, statement, "payouts.html")
