"""``tongka ledger``: verify the books, export the journal for accountants."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from tongka.cli.common import console, error_console, run_with_database
from tongka.clock import SystemClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.principal import SYSTEM
from tongka.ledger.verify import VerifyReport, verify_ledger
from tongka.policy import Action, authorize

app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)


@app.command()
def verify() -> None:
    """Seal committed transfers, then check the books; exits 1 naming any breach."""

    async def work(database: Database, settings: Settings) -> VerifyReport:
        authorize(SYSTEM, Action.LEDGER_VERIFY)
        async with database.transaction() as session:
            return await verify_ledger(session, SystemClock().now())

    report = run_with_database(work)
    table = Table(title="tongka ledger verify")
    table.add_column("check")
    table.add_column("result")
    table.add_column("details")
    for check in report.checks:
        table.add_row(
            check.name, "[green]ok[/green]" if check.ok else "[red]FAILED[/red]", check.details
        )
    console.print(table)
    if not report.ok:
        for check in report.failures:
            error_console.print(f"[red]breach[/red] {check.name}: {check.details}")
        raise typer.Exit(1)
    console.print("[green]the books are in order[/green]")


@app.command()
def export(
    from_date: str = typer.Option(..., "--from", help="First business date (YYYY-MM-DD)."),
    to_date: str = typer.Option(..., "--to", help="Last business date, inclusive (YYYY-MM-DD)."),
    format: str = typer.Option("csv", "--format", help="csv (vouchers) or beancount."),
    output: Path | None = typer.Option(None, "--output", help="File to write (default: stdout)."),
) -> None:
    """Export the journal between two business dates as vouchers (CSV) or beancount."""
    from tongka.ledger.export import EXPORT_FORMATS, export_journal

    if format not in EXPORT_FORMATS:
        error_console.print(
            f"[red]error[/red]: --format must be one of {', '.join(EXPORT_FORMATS)}"
        )
        raise typer.Exit(2)
    try:
        first, last = date.fromisoformat(from_date), date.fromisoformat(to_date)
    except ValueError as exc:
        error_console.print(f"[red]error[/red]: dates must look like 2026-11-23 ({exc})")
        raise typer.Exit(2) from exc

    async def work(database: Database, settings: Settings) -> str:
        authorize(SYSTEM, Action.LEDGER_EXPORT)
        async with database.transaction() as session:
            return await export_journal(
                session, first, last, format=format, timezone=settings.timezone
            )

    content = run_with_database(work)
    if output is None:
        typer.echo(content, nl=False)
    else:
        output.write_text(content, encoding="utf-8")
        console.print(f"wrote {output}")
