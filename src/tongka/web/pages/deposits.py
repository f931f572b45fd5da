"""预收资金存管 (``/console/deposit_ratios``): each classed single-purpose issuer against its
deposit ratio this quarter — the requirement, what the platform holds for it, whether it is
met — and a chart of each issuer's cover over the last 90 days (held as a percent of the
requirement; 100 is exactly met). The platform classes an issuer here too."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Response

from tongka.clock import business_date
from tongka.identity.models import Merchant
from tongka.policy import Action, scope_of
from tongka.settlement import deposits
from tongka.settlement.deposit_models import DepositDay, IssuerClass
from tongka.settlement.errors import ContractInvalid
from tongka.web import charts, pickers
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import attempt_and_redirect
from tongka.web.i18n import N_
from tongka.web.labels import label_text
from tongka.web.names import Names, load_names
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed

router = console_router()
PAGE = "/console/deposit_ratios"
CURRENCY = "CNY"
HISTORY_DAYS = 90
CHARTED = 4  # issuers on the chart (one colour each)
register_nav_item(NavItem("deposit_ratios", N_("Deposit ratios"), PAGE, Action.SETTLEMENT_READ))


def _cover_chart(console: Console, days: list[DepositDay], names: Names) -> Any:
    """Held as a percent of the requirement, per issuer per day (absent days count 0)."""
    dates = sorted({row.business_date for row in days})
    issuers = sorted({row.merchant_id for row in days})[:CHARTED]
    if not dates or not issuers:
        return None
    cover = {
        (row.merchant_id, row.business_date): row.held * 100 // row.required
        for row in days
        if row.required > 0
    }
    return charts.line_chart(
        [day.strftime("%m-%d") for day in dates],
        [
            charts.Series(names.of("merchants", issuer), [cover.get((issuer, d), 0) for d in dates])
            for issuer in issuers
        ],
        title=console.gettext("Held as a percent of the requirement"),
        value_format=lambda value: f"{value}%",
    )


@router.get("/deposit_ratios")
async def deposit_ratios_page(
    console: Annotated[Console, Allowed(Action.SETTLEMENT_READ)],
) -> Response:
    shown = scope_of(console.signed_in).merchant()
    figures = []
    for issuer in await deposits.classed_issuers(console.session):
        if shown is None or issuer.merchant_id == shown:
            found = await deposits.deposit_figures(
                console.session,
                issuer.merchant_id,
                CURRENCY,
                now=console.now,
                timezone=console.timezone,
            )
            if found is not None:
                figures.append(found)
    since = business_date(console.now, console.timezone) - timedelta(days=HISTORY_DAYS)
    history = [
        row
        for row in await deposits.deposit_history(console.session, since=since)
        if shown is None or row.merchant_id == shown
    ]
    names = await load_names(
        console.session,
        merchants=[f.merchant_id for f in figures] + [h.merchant_id for h in history],
    )
    return console.render(
        "deposit_ratios.html",
        figures=figures,
        names=names,
        chart=_cover_chart(console, history, names),
        currency=CURRENCY,
        merchant_choices=await pickers.preloaded(console, "merchants", None),
        class_choices=[
            (kind.value, label_text(console.language, "settlement.issuer_class", kind.value))
            for kind in deposits.IssuerKind
        ],
    )


@router.post("/issuer_classes")
async def set_issuer_class(
    console: Annotated[Console, Allowed(Action.CONTRACT_MANAGE)], form: FormDep
) -> Response:
    async def work() -> IssuerClass:
        merchant_id = form_text(form, "merchant_id")
        if not merchant_id or await console.session.get(Merchant, merchant_id) is None:
            raise ContractInvalid("Choose a merchant.", param="merchant_id")
        return await deposits.set_issuer_class(
            console.session,
            merchant_id,
            form_text(form, "issuer_class"),
            actor=console.signed_in.actor,
            now=console.now,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=PAGE, success=N_("The issuer's class is set.")
    )
