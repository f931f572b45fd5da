"""``tongka payments``: import a channel's daily statement; pay bank-transfer orders from
the reserve account's statement (``match-transfers``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from tongka.cli.common import console, error_console, run_with_database
from tongka.clock import SystemClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.principal import SYSTEM
from tongka.money import Money, format_money
from tongka.payments import registry
from tongka.payments.channel import ChannelName
from tongka.payments.statement_transfers import StatementMatch, match_statement_transfers
from tongka.payments.statements import ImportResult, import_statement
from tongka.policy import Action, authorize

app = typer.Typer(help="Payments: channel statements.", no_args_is_help=True)


def _amount(minor: int | None, currency: str) -> str:
    return "" if minor is None else format_money(Money.of_minor(minor, currency))


def differences_table(result: ImportResult, title: str) -> Table:
    table = Table(title=title)
    for column in ("difference", "payment", "refund", "statement", "ledger", "detail"):
        table.add_column(column)
    for difference in result.differences:
        table.add_row(
            difference.kind.value,
            difference.payment_id,
            difference.refund_id or "",
            _amount(difference.statement_minor, difference.currency),
            _amount(difference.ledger_minor, difference.currency),
            difference.detail,
        )
    return table


@app.command("import-statement")
def import_statement_command(
    channel: ChannelName = typer.Option(..., help="wechat, alipay, unionpay or bank_transfer."),
    statement_date: str = typer.Option(..., "--date", help="The statement's date (YYYY-MM-DD)."),
    file: Path | None = typer.Option(None, help="The statement file (default: download it)."),
) -> None:
    """Move settled money from the channel's receivable to the reserve bank, less its fee,
    and list every difference between the statement and the books. Safe to run again."""
    try:
        day = date.fromisoformat(statement_date)
    except ValueError as exc:
        error_console.print(f"[red]error[/red]: --date must look like 2026-11-23 ({exc})")
        raise typer.Exit(2) from exc

    async def work(database: Database, settings: Settings) -> ImportResult:
        authorize(SYSTEM, Action.STATEMENT_IMPORT)
        adapter = registry.channel(settings, channel)
        content = file.read_bytes() if file else await adapter.download_statement(day)
        lines = list(adapter.parse_statement(content))
        with Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            MofNCompleteColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(f"{channel.value} {day}", total=len(lines))
            return await import_statement(
                database,
                channel,
                day,
                lines,
                now=SystemClock().now(),
                timezone=settings.timezone,
                on_chunk=lambda count: progress.advance(task, count),
            )

    result = run_with_database(work)
    console.print(
        f"{result.lines} lines: {result.posted} posted, {result.already} already imported, "
        f"{len(result.differences)} differences"
    )
    if result.differences:
        console.print(differences_table(result, f"differences: {channel.value} {day}"))


@app.command("match-transfers")
def match_transfers_command(
    file: Path = typer.Argument(..., help="The reserve bank account's statement CSV."),
) -> None:
    """Pay the bank-transfer orders the statement's credits name by their reference (as
    来账登记 does, once however often it runs) and list every credit that paid nothing."""

    async def work(database: Database, settings: Settings) -> StatementMatch:
        authorize(SYSTEM, Action.TRANSFER_RECORD)
        return await match_statement_transfers(
            database, file.read_bytes(), now=SystemClock().now(), settings=settings
        )

    result = run_with_database(work)
    console.print(
        f"{result.credits} credits: {len(result.paid)} paid, "
        f"{len(result.matched) - len(result.paid)} paid already, "
        f"{len(result.unmatched)} unmatched; {result.skipped} other lines"
    )
    if result.paid:
        paid = Table(title="paid")
        for column in ("line", "serial", "payment", "amount"):
            paid.add_column(column)
        for line in result.paid:
            paid.add_row(
                str(line.line), line.serial, line.payment_id, _amount(line.amount_minor, "CNY")
            )
        console.print(paid)
    if result.unmatched:
        unmatched = Table(title="unmatched")
        for column in ("line", "serial", "amount", "附言", "reason"):
            unmatched.add_column(column)
        for item in result.unmatched:
            unmatched.add_row(
                str(item.line),
                item.serial,
                _amount(item.amount_minor, "CNY"),
                item.note,
                item.reason,
            )
        console.print(unmatched)
