"""清算净额 (``/console/net_positions``): what merchants owe each other for one business day
— the platform's finance sees every pair, a merchant the pairs it is part of. The sums are
``tongka.settlement.net_positions``'s; the day defaults to yesterday (the last settled one).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Response

from tongka.clock import business_date
from tongka.policy import Action, scope_of
from tongka.settlement.net_positions import net_positions
from tongka.web.console import Console, console_router
from tongka.web.i18n import N_
from tongka.web.lists import typed_date
from tongka.web.names import load_names
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed

router = console_router()
PAGE = "/console/net_positions"
register_nav_item(NavItem("net_positions", N_("Net positions"), PAGE, Action.SETTLEMENT_READ))


@router.get("/net_positions")
async def net_positions_page(
    console: Annotated[Console, Allowed(Action.SETTLEMENT_READ)],
) -> Response:
    yesterday = business_date(console.now, console.timezone) - timedelta(days=1)
    day = typed_date(console.request.query_params.get("business_date")) or yesterday
    merchant_id = scope_of(console.signed_in).merchant()
    positions = await net_positions(console.session, day, merchant_id=merchant_id)
    names = await load_names(
        console.session,
        merchants=[p.debtor_id for p in positions] + [p.creditor_id for p in positions],
    )
    return console.render(
        "net_positions.html", positions=positions, names=names, day=day, page_url=PAGE
    )
