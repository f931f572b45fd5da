"""The redemption report (核销报表, ``/console/redemption_report``): per business day, store
and terminal over a date range in the platform's zone — count, amount, refunds, fees and
declines, the totals, a chart of each day's net amount, and the same rows as CSV.

A merchant sees its own redemptions (a store-bound user its store's); the platform sees
every merchant's or picks one. The sums are ``tongka.redemption.report``'s.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Response
from sqlalchemy import select

from tongka.clock import business_date
from tongka.currencies import enabled_currencies
from tongka.errors import DomainError
from tongka.identity.models import Terminal
from tongka.policy import Action, scope_of
from tongka.redemption import report
from tongka.web import charts, forms, pickers
from tongka.web.console import Console, console_router
from tongka.web.formatting import format_money
from tongka.web.i18n import N_
from tongka.web.lists import csv_download, money, typed_date
from tongka.web.names import Names, load_names
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed

router = console_router()
PAGE = "/console/redemption_report"
register_nav_item(
    NavItem("redemption_report", N_("Redemption report"), PAGE, Action.REDEMPTION_READ)
)
HEADER = (
    N_("Business day"),
    N_("Store"),
    N_("Terminal"),
    N_("Currency"),
    N_("Redemptions"),
    N_("Amount"),
    N_("Refunded"),
    N_("Net amount"),
    N_("Fees"),
    N_("Declined"),
)


async def terminal_names(console: Console, ids: list[str | None]) -> dict[str, str]:
    wanted = sorted({terminal_id for terminal_id in ids if terminal_id})
    if not wanted:
        return {}
    rows = await console.session.execute(
        select(Terminal.id, Terminal.name, Terminal.device_id).where(Terminal.id.in_(wanted))
    )
    return {row.id: row.name or row.device_id for row in rows}


def _csv_rows(found: report.Report, names: Names, terminals: dict[str, str]) -> list[list[object]]:
    return [
        [
            row.business_date.isoformat(),
            names.of("stores", row.store_id),
            terminals.get(row.terminal_id or "", ""),
            row.currency,
            row.count,
            money(row.amount, row.currency),
            money(row.refunded, row.currency),
            money(row.net, row.currency),
            money(row.fee, row.currency),
            row.declined,
        ]
        for row in found.rows
    ]


@router.get("/redemption_report")
async def redemption_report_page(
    console: Annotated[Console, Allowed(Action.REDEMPTION_READ)],
) -> Response:
    query = console.request.query_params
    scope = scope_of(console.signed_in)
    merchant_id = scope.merchant() or (query.get("merchant_id") or None)
    store_id = scope.store(query.get("store_id") or None)
    today = business_date(console.now, console.timezone)
    error = None
    try:
        first, last = report.checked_range(
            typed_date(query.get("from")), typed_date(query.get("to")), today
        )
    except DomainError as exc:
        error = forms.error_text(console, exc)
        first, last = report.checked_range(None, None, today)
    found = await report.redemption_report(
        console.session,
        report.ReportQuery(merchant_id, store_id, first, last, console.timezone),
    )
    names = await load_names(console.session, stores=[row.store_id for row in found.rows])
    terminals = await terminal_names(console, [row.terminal_id for row in found.rows])
    if query.get("format") == "csv":
        rows = _csv_rows(found, names, terminals)
        return csv_download(console, "redemption_report", HEADER, rows)
    return console.render(
        "redemption_report.html",
        report=found,
        totals=found.totals(),
        names=names,
        terminals=terminals,
        chart=_chart(console, found),
        first=first,
        last=last,
        store_id=store_id,
        merchant_id=merchant_id if scope.merchant() is None else None,
        store_choices=await pickers.preloaded(console, "stores", store_id),
        merchant_choices=(
            await pickers.preloaded(console, "merchants", merchant_id)
            if console.signed_in.is_platform
            else []
        ),
        csv_url=f"{PAGE}?{urlencode({**dict(query), 'format': 'csv'})}",
        error=error,
    )


def _chart(console: Console, found: report.Report) -> Any:
    currency = (found.totals()[0].currency if found.rows else None) or enabled_currencies()[0]
    days = found.days()
    return charts.bar_chart(
        [day.strftime("%m-%d") for day in days],
        found.amount_by_day(currency),
        title=console.gettext("Net amount redeemed per day"),
        value_format=lambda minor: format_money(minor, currency),
    )
