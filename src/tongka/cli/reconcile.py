"""``tongka reconcile --date D [--channel C] [--file F] [--bank-file B]``: a day's
reconciliation (对账) from the shell, with a progress bar over the statement's bytes, then
each run's report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from sqlalchemy import select

from tongka.cli.common import console, error_console, run_with_database
from tongka.clock import SystemClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.principal import SYSTEM
from tongka.money import Money, format_money
from tongka.payments.channel import ChannelError
from tongka.payments.errors import UnknownChannel
from tongka.policy import Action, authorize
from tongka.reconciliation.daily import import_bank_file, run_channel, run_reserve
from tongka.reconciliation.errors import StatementUnavailable
from tongka.reconciliation.kinds import CHANNELS
from tongka.reconciliation.models import ReconciliationException, ReconciliationRun
from tongka.reconciliation.reports import Report, get_run, report_of

READ_BYTES = 1 << 20


def _read(path: Path, advance: Callable[[int], None]) -> Iterator[bytes]:
    """The file in 1 MiB pieces (never whole), advancing the bar as they are read."""
    with path.open("rb") as handle:
        while piece := handle.read(READ_BYTES):
            advance(len(piece))
            yield piece


def _pieces(content: bytes, advance: Callable[[int], None]) -> Iterator[bytes]:
    for start in range(0, len(content), READ_BYTES):
        piece = content[start : start + READ_BYTES]
        advance(len(piece))
        yield piece


def report_table(reports: list[Report]) -> Table:
    table = Table(title="reconciliation")
    for column in ("channel", "date", "lines", "matched", "rate %", "exceptions", "bank"):
        table.add_column(column)
    for report in reports:
        run = report.run
        kinds = ", ".join(f"{kind} {count}" for kind, count in report.by_kind.items())
        table.add_row(
            run.channel,
            run.statement_date.isoformat(),
            str(run.line_count),
            str(run.matched_count),
            str(report.match_rate),
            kinds or "0",
            run.bank_status,
        )
    return table


def _amount(minor: int | None, currency: str) -> str:
    return "" if minor is None else format_money(Money.of_minor(minor, currency))


def exceptions_table(run: ReconciliationRun, rows: list[ReconciliationException]) -> Table:
    table = Table(title=f"exceptions: {run.channel} {run.statement_date}")
    for column in ("kind", "reference", "statement", "ledger", "bank", "fee (stmt / ledger)"):
        table.add_column(column)
    for row in rows:
        fees = " / ".join(
            _amount(fee, row.currency) for fee in (row.channel_fee_minor, row.ledger_fee_minor)
        )
        table.add_row(
            row.kind,
            row.reference or "",
            _amount(row.channel_minor, row.currency),
            _amount(row.ledger_minor, row.currency),
            _amount(row.bank_minor, row.currency),
            fees if fees != " / " else "",
        )
    return table


async def _one_channel(
    database: Database, settings: Settings, channel: str, day: date, file: Path | None
) -> str:
    now = SystemClock().now()
    with Progress(
        TextColumn(f"{channel} {day}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        if file is not None:
            task = progress.add_task("read", total=file.stat().st_size)
            pieces = _read(file, lambda size: progress.advance(task, size))
        else:
            from tongka.payments import registry

            content = await registry.channel(settings, channel).download_statement(day)
            task = progress.add_task("read", total=len(content))
            pieces = _pieces(content, lambda size: progress.advance(task, size))
        return await run_channel(
            database, settings, channel, day, actor=SYSTEM.actor, now=now, content=pieces
        )


def reconcile_command(
    statement_date: str = typer.Option(..., "--date", help="The day (YYYY-MM-DD)."),
    channel: str | None = typer.Option(
        None, help="wechat, alipay, unionpay or bank_transfer (default: every channel)."
    ),
    file: Path | None = typer.Option(None, help="The channel's statement (default: download)."),
    bank_file: Path | None = typer.Option(
        None, help="The reserve account's bank statement of the day (CSV with 余额)."
    ),
    show: int = typer.Option(20, min=0, max=1000, help="Exceptions listed per run."),
) -> None:
    """Import the day's statements (streamed) and match channel ↔ ledger ↔ bank; then the
    reserve account's balance if its bank statement is in. Safe to run again."""
    try:
        day = date.fromisoformat(statement_date)
    except ValueError as exc:
        error_console.print(f"[red]error[/red]: --date must look like 2026-11-23 ({exc})")
        raise typer.Exit(2) from exc
    if channel is not None and channel not in CHANNELS:
        error_console.print(f"[red]error[/red]: --channel must be one of {', '.join(CHANNELS)}")
        raise typer.Exit(2)
    if file is not None and channel is None:
        error_console.print("[red]error[/red]: --file needs --channel")
        raise typer.Exit(2)

    async def work(
        database: Database, settings: Settings
    ) -> list[tuple[Report, list[ReconciliationException]]]:
        authorize(SYSTEM, Action.RECONCILIATION_RUN)
        now = SystemClock().now()
        if bank_file is not None:
            await import_bank_file(
                database, day, _read(bank_file, lambda _: None), actor=SYSTEM.actor, now=now
            )
        run_ids = []
        for name in [channel] if channel else CHANNELS:
            try:
                run_ids.append(await _one_channel(database, settings, name, day, file))
            except (ChannelError, StatementUnavailable, UnknownChannel) as failed:
                if channel is not None:
                    raise
                error_console.print(f"[yellow]skipped[/yellow] {name}: {failed.message}")
        if channel is None or bank_file is not None:
            reserve = await run_reserve(database, settings, day, actor=SYSTEM.actor, now=now)
            run_ids += [reserve] if reserve else []
        shown = []
        async with database.transaction() as session:
            for run_id in run_ids:
                run = await get_run(session, run_id)
                rows = await session.scalars(
                    select(ReconciliationException)
                    .where(ReconciliationException.run_id == run_id)
                    .order_by(ReconciliationException.id)
                    .limit(show)
                )
                shown.append((await report_of(session, run, now=now), list(rows)))
        return shown

    results = run_with_database(work)
    console.print(report_table([report for report, _ in results]))
    for report, rows in results:
        if rows:
            console.print(exceptions_table(report.run, rows))


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile_command)
