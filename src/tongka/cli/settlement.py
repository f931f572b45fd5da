"""``tongka settlement``: run a business date's settlement (with a progress bar), and
edit the business-day calendar."""

from __future__ import annotations

from datetime import date

import httpx
import typer
from rich.progress import MofNCompleteColumn, Progress

from tongka.cli.common import console, run_with_database
from tongka.clock import SystemClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.principal import SYSTEM
from tongka.policy import Action, authorize
from tongka.settlement import calendar as business_calendar
from tongka.settlement.payout_channel import HttpPayoutChannel
from tongka.settlement.service import settle_date

app = typer.Typer(help="Settlement: batches, payouts, the business-day calendar.")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2026-10-08") from None


@app.command("run")
def run(
    day: str = typer.Option(..., "--date", help="The business date to settle (YYYY-MM-DD)."),
    pay_through: str = typer.Option(
        None, help="Pay batches due on or before this date (default: --date)."
    ),
) -> None:
    """Build every merchant's batch of --date, follow up open payouts, pay what is due."""
    settle_day = _date(day)
    through = _date(pay_through) if pay_through else None

    async def work(database: Database, settings: Settings) -> None:
        authorize(SYSTEM, Action.SETTLEMENT_RUN)
        now = SystemClock().now()
        with Progress(
            *Progress.get_default_columns(), MofNCompleteColumn(), console=console
        ) as bar:
            task = bar.add_task("merchants", total=None)

            def show(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            async with httpx.AsyncClient(timeout=10.0) as http:
                result = await settle_date(
                    database,
                    settle_day,
                    channel=HttpPayoutChannel(settings.sandbox_gateway_url, http),
                    settings=settings,
                    now=now,
                    pay_through=through,
                    progress=show,
                )
        payouts = result.payouts
        console.print(
            f"{settle_day}: {len(result.built)} batches built, {len(result.existing)} already "
            f"built; payouts {len(payouts.paid)} paid, {len(payouts.rejected)} rejected, "
            f"{len(payouts.unknown)} awaiting an answer, {len(payouts.returned)} returned, "
            f"{len(payouts.held)} held"
        )

    run_with_database(work)


@app.command("calendar-set")
def calendar_set(
    day: str = typer.Argument(..., help="The day (YYYY-MM-DD)."),
    name: str = typer.Option(..., help="What the day is, e.g. 春节 or 国庆节调休上班."),
    working: bool = typer.Option(
        False, "--working/--day-off", help="A make-up working day, or a day off."
    ),
) -> None:
    """Mark a day a holiday or a make-up working day (the platform's calendar edit)."""
    the_day = _date(day)

    async def work(database: Database, settings: Settings) -> None:
        authorize(SYSTEM, Action.CALENDAR_MANAGE)
        await database.run(
            lambda session: business_calendar.set_day(
                session,
                the_day,
                is_business_day=working,
                name=name,
                actor=SYSTEM.actor,
                now=SystemClock().now(),
            )
        )
        console.print(f"{the_day}: {'working day' if working else 'day off'} ({name})")

    run_with_database(work)
