"""``tongka settlement``: run a business date's settlement (with a progress bar), and
edit the business-day calendar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import typer
from rich.progress import MofNCompleteColumn, Progress

from tongka.cli.common import console, error_console, run_with_database
from tongka.clock import SystemClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.principal import SYSTEM
from tongka.money import Money, format_money
from tongka.policy import Action, authorize
from tongka.settlement import calendar as business_calendar
from tongka.settlement import contracts
from tongka.settlement import payout_file as files
from tongka.settlement.payout_channel import channel_of
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
                    channel=channel_of(settings, http),
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


@app.command("hold")
def hold(
    merchant_id: str = typer.Argument(..., help="The merchant (mch_...)."),
    reason: str = typer.Option(..., help="Why (recorded with the hold)."),
    release: bool = typer.Option(False, "--release", help="Lift the hold instead."),
) -> None:
    """Hold a merchant's payouts (延迟结算), or lift the hold; batches carry meanwhile."""

    async def work(database: Database, settings: Settings) -> None:
        authorize(SYSTEM, Action.PAYOUT_HOLD)
        await database.run(
            lambda session: contracts.set_payout_hold(
                session,
                merchant_id,
                is_held=not release,
                reason=reason,
                actor=SYSTEM.actor,
                now=SystemClock().now(),
            )
        )
        console.print(f"{merchant_id}: payouts {'released' if release else 'held'} ({reason})")

    run_with_database(work)


def _yuan(minor: int) -> str:
    return format_money(Money.of_minor(minor, "CNY"))


@app.command("payout-file")
def payout_file(
    day: str = typer.Option(..., "--date", help="Pay what is due by this date (YYYY-MM-DD)."),
    out: Path | None = typer.Option(None, help="Where to write it (default: PAY<date>.csv)."),
    submit: bool = typer.Option(False, help="Also send it to the (sandbox) bank."),
) -> None:
    """Write the day's bank batch payment file (批量代付文件, GBK): every payout due by
    --date, 业务参考号 = the payout's key. Asked again, the same file (plus payouts due
    since); a payout is in one file only, and the bank pays a key once."""
    the_day = _date(day)

    async def work(database: Database, settings: Settings) -> None:
        authorize(SYSTEM, Action.SETTLEMENT_RUN)
        if settings.payout_channel != "file":
            # an open payout of the http channel may be at the bank's desk already
            error_console.print(
                "[red]error[/red]: payouts go through the http channel; set "
                "TONGKA_PAYOUT_CHANNEL=file (when no payout is open) to pay through files"
            )
            raise typer.Exit(2)
        made = await files.payout_file(
            database, the_day, settings=settings, now=SystemClock().now()
        )
        target = out or Path(f"{made.name}.csv")
        target.write_bytes(made.content())
        console.print(
            f"{made.name}: {len(made.lines)} payouts, {_yuan(made.total_minor)} -> {target}"
        )
        if submit and made.lines:
            async with httpx.AsyncClient(timeout=30.0) as http:
                received = await files.submit_file(settings.sandbox_gateway_url, http, made)
            console.print(
                f"sent to {settings.sandbox_gateway_url}: "
                + ("received" if received else "no answer (fetch its result later)")
            )

    run_with_database(work)


@app.command("payout-results")
def payout_results(
    file: Path = typer.Argument(..., help="The bank's result file (代付结果文件)."),
    fetch: str | None = typer.Option(
        None, help="First download the result of this payment file (PAY<yyyymmdd>) to FILE."
    ),
) -> None:
    """Import the bank's result file: 成功 paid, 失败 carried into the next batch, 退票
    owed again; a line of a payout already recorded changes nothing (import it again at
    will). The whole file is checked first: a bad line applies nothing."""

    async def work(database: Database, settings: Settings) -> None:
        authorize(SYSTEM, Action.SETTLEMENT_RUN)
        if fetch is not None:
            async with httpx.AsyncClient(timeout=30.0) as http:
                content = await files.fetch_results(settings.sandbox_gateway_url, http, fetch)
            if content is None:
                error_console.print(f"[red]error[/red]: the bank has no payment file {fetch}")
                raise typer.Exit(1)
            file.write_bytes(content)
        if not file.exists():
            error_console.print(f"[red]error[/red]: {file} does not exist")
            raise typer.Exit(2)

        def read() -> Iterator[bytes]:
            with file.open("rb") as handle:
                while piece := handle.read(1 << 20):
                    yield piece

        total = files.check_results(read())
        with Progress(
            *Progress.get_default_columns(), MofNCompleteColumn(), console=console
        ) as bar:
            task = bar.add_task("result lines", total=total)
            summary = await files.import_results(
                database, read, now=SystemClock().now(), on_line=lambda _: bar.advance(task)
            )
        console.print(
            f"{file.name}: {len(summary.paid)} paid, {len(summary.rejected)} rejected, "
            f"{len(summary.returned)} returned, {len(summary.pending)} pending, "
            f"{len(summary.unchanged)} unchanged, {len(summary.unknown)} not ours, "
            f"{len(summary.mismatched)} with another amount"
        )

    run_with_database(work)
