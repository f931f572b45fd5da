"""The staff home page (``/console/home``, where staff land): the figures each role looks at.

- platform: reviews waiting, merchants by status, outstanding liability by product;
- merchant: cards issued and active, outstanding balance, activity over the last 30
  business days (a chart);
- a store-bound user (a till): the store and the jobs it may do there.

The figures come from ``tongka.cards.figures`` (a few aggregate queries); the charts are
SVG drawn on the server (``tongka.web.charts``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Response

from tongka.cards import figures
from tongka.identity import service as identity
from tongka.identity.principal import PrincipalKind
from tongka.policy import Action
from tongka.web import charts
from tongka.web.console import Console, console_router
from tongka.web.i18n import N_
from tongka.web.labels import LABELS
from tongka.web.nav import NavItem, nav_for, register_nav_item
from tongka.web.pages.listing import Allowed

router = console_router()
HOME = "/console/home"
register_nav_item(NavItem("home", N_("Home"), HOME, Action.DASHBOARD_READ), before="review")


def _activity_chart(console: Console, activity: list[figures.DayActivity]) -> str:
    labels = [day.business_date.strftime("%m-%d") for day in activity]
    series = [
        charts.Series(console.gettext("Issued"), [day.issued for day in activity]),
        charts.Series(console.gettext("Activations"), [day.activated for day in activity]),
        charts.Series(console.gettext("Card transactions"), [day.transactions for day in activity]),
    ]
    title = console.gettext("Activity in the last %(days)s days", days=len(activity))
    return charts.line_chart(labels, series, title=title)


async def _merchant_home(console: Console, merchant_id: str) -> Response:
    found = await figures.merchant_figures(
        console.session, merchant_id, now=console.now, timezone=console.settings.timezone
    )
    return console.render(
        "home_merchant.html",
        figures=found,
        activity_chart=_activity_chart(console, found.activity),
        merchant=await identity.get_merchant(console.session, merchant_id),
    )


async def _platform_home(console: Console) -> Response:
    found = await figures.platform_figures(console.session)
    statuses = sorted(found.merchants_by_status.items())
    merchants_chart = charts.bar_chart(
        [console.gettext(LABELS["status"].get(status, status)) for status, _ in statuses],
        [count for _, count in statuses],
        title=console.gettext("Merchants by status"),
    )
    return console.render("home_platform.html", figures=found, merchants_chart=merchants_chart)


async def _store_home(console: Console, merchant_id: str, store_id: str) -> Response:
    store = await identity.get_store(console.session, store_id, merchant_id=merchant_id)
    jobs = [item for item in nav_for(console.signed_in) if item.path != HOME]
    return console.render("home_store.html", store=store, jobs=jobs)


@router.get("/home")
async def home_page(console: Annotated[Console, Allowed(Action.DASHBOARD_READ)]) -> Response:
    principal = console.signed_in
    if principal.kind is PrincipalKind.PLATFORM:
        return await _platform_home(console)
    assert principal.merchant_id is not None  # the policy lets only merchants' staff in
    if principal.store_id is not None:
        return await _store_home(console, principal.merchant_id, principal.store_id)
    return await _merchant_home(console, principal.merchant_id)
