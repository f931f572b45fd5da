"""``tongka cards``: batch issuing with a progress bar, the expiry job, export decryption."""

from __future__ import annotations

import csv
import os
import sys
from datetime import date
from pathlib import Path

import typer
from rich.progress import MofNCompleteColumn, Progress, TimeRemainingColumn

from tongka.cards import export, service
from tongka.cards.jobs import expire_cards
from tongka.cards.keys import card_keys
from tongka.cards.validity import end_of_business_date
from tongka.cli.common import console, error_console, run_with_database
from tongka.clock import Clock, FixedClock, SystemClock
from tongka.config import Settings
from tongka.db import Database
from tongka.errors import DomainError
from tongka.identity.principal import SYSTEM
from tongka.policy import Action, authorize

app = typer.Typer(help="Cards: batch issuing, expiry, exports.", no_args_is_help=True)
PASSWORD_ENV = "TONGKA_EXPORT_PASSWORD"


def _password(confirm: bool) -> str:
    """From TONGKA_EXPORT_PASSWORD (scripts) or a hidden prompt (people)."""
    if value := os.environ.get(PASSWORD_ENV):
        return value
    return str(typer.prompt("Export password", hide_input=True, confirmation_prompt=confirm))


@app.command("issue-batch")
def issue_batch(
    product: str = typer.Option(None, help="Product id (cpr_...) for a new batch."),
    count: int = typer.Option(None, help="How many cards (up to 100,000)."),
    face_value: int = typer.Option(None, help="Face value in minor units (fen)."),
    reference: str = typer.Option(None, help="The order this batch is for."),
    resume: str = typer.Option(None, help="Continue an interrupted batch (cbt_...)."),
    output: Path = typer.Option(None, help="Write the one-time encrypted export here."),
) -> None:
    """Issue a batch of cards (or resume one) with a progress bar; optionally take the export."""

    async def work(database: Database, settings: Settings) -> None:
        authorize(SYSTEM, Action.BATCH_RUN_OFFLINE)
        now = SystemClock().now()
        batch_id = resume
        if batch_id is None:
            if product is None or count is None or face_value is None:
                raise typer.BadParameter("give --product, --count and --face-value, or --resume")
            password = _password(confirm=True)

            async def create(session: object) -> str:
                batch = await service.create_batch(
                    session,  # type: ignore[arg-type]
                    product,
                    merchant_id=None,
                    count=count,
                    face_value=face_value,
                    export_password=password,
                    reference=reference,
                    actor=SYSTEM.actor,
                    now=now,
                )
                return batch.id

            batch_id = await database.run(create)
        console.print(f"batch [bold]{batch_id}[/bold]")
        columns = (
            *Progress.get_default_columns()[:-1],
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("issuing", total=None)

            def show(step: service.BatchProgress) -> None:
                progress.update(task, completed=step.issued_count, total=step.total)

            await service.run_batch(
                database, batch_id, keys=card_keys(settings), now=now, on_progress=show
            )
        if output is not None:

            async def take(session: object) -> str:
                return await service.take_export(
                    session,  # type: ignore[arg-type]
                    batch_id,
                    merchant_id=None,
                    actor=SYSTEM.actor,
                    now=SystemClock().now(),
                )

            output.write_text(await database.run(take))
            output.chmod(0o600)
            console.print(f"export written to {output} (decrypt: tongka cards decrypt-export)")

    run_with_database(work)


@app.command()
def expire(
    on: str = typer.Option(None, "--date", help="Business date YYYY-MM-DD (back-fill)."),
) -> None:
    """Run the daily expiry job now, or as of the end of a past business date."""

    async def work(database: Database, settings: Settings) -> None:
        authorize(SYSTEM, Action.CARD_EXPIRE)
        clock: Clock = SystemClock()
        if on is not None:
            clock = FixedClock(end_of_business_date(date.fromisoformat(on), settings.timezone))
        handled = await expire_cards(database, clock, settings)
        console.print(f"{handled} cards handled (expired, forfeited or reminded)")

    run_with_database(work)


@app.command("decrypt-export")
def decrypt_export(
    file: Path = typer.Argument(..., exists=True, readable=True, help="The .tkx export."),
    output: Path = typer.Option(None, help="CSV file to write (default: standard output)."),
    production: bool = typer.Option(
        False, "--production", help="The card printer's layout (physical cards)."
    ),
) -> None:
    """Decrypt a batch export with its password (from TONGKA_EXPORT_PASSWORD or a prompt)."""
    password = _password(confirm=False)
    try:
        rows = list(export.decrypt_file(file.read_text(), password))
        if production:
            rows = export.production_rows(rows)
    except DomainError as exc:
        error_console.print(f"[red]error[/red] ({exc.code}): {exc.message}")
        raise typer.Exit(1) from exc
    if output is None:
        csv.writer(sys.stdout, lineterminator="\n").writerows(rows)
        return
    with output.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    output.chmod(0o600)
    console.print(f"{len(rows) - 1} cards written to {output}")
