"""``tongka jobs``: the worker's dead letters (items parked after repeated failures)."""

from __future__ import annotations

import typer

from tongka.cli.common import console, error_console, run_with_database
from tongka.clock import SystemClock
from tongka.config import Settings
from tongka.db import Database
from tongka.worker import JOBS, DeadLetter

app = typer.Typer(help="Worker jobs: failed items and retries.", no_args_is_help=True)


async def all_failed(database: Database) -> list[DeadLetter]:
    """Every job's parked items, job by job."""
    failed: list[DeadLetter] = []
    async with database.transaction() as session:
        for job in JOBS:
            letters = job.resolve_dead_letters()
            if letters is not None:
                failed.extend(await letters.list_failed(session))
    return failed


async def retry_item(database: Database, item_id: str) -> str | None:
    """Re-queue the parked item ``item_id``; returns its job's name, or None if none has it."""
    now = SystemClock().now()
    async with database.transaction() as session:
        for job in JOBS:
            letters = job.resolve_dead_letters()
            if letters is not None and await letters.retry(session, item_id, now):
                return job.name
    return None


@app.command()
def failed() -> None:
    """List the items the worker parked after repeated failures, with their last error."""

    async def work(database: Database, settings: Settings) -> list[DeadLetter]:
        return await all_failed(database)

    letters = run_with_database(work)
    if not letters:
        console.print("no failed jobs")
        return
    for letter in letters:  # one line each, whole ids (a table would cut them)
        console.print(
            f"{letter.job}  {letter.id}  attempts={letter.attempts}  "
            f"failed_at={letter.failed_at.isoformat()}  error: {letter.last_error}",
            soft_wrap=True,
            markup=False,
        )


@app.command()
def retry(item_id: str = typer.Argument(..., help="The id `tongka jobs failed` shows.")) -> None:
    """Re-queue a parked item: the worker tries it again on its next run."""

    async def work(database: Database, settings: Settings) -> str | None:
        return await retry_item(database, item_id)

    job = run_with_database(work)
    if job is None:
        error_console.print(f"[red]error[/red]: no failed item {item_id}")
        raise typer.Exit(1)
    console.print(f"{item_id} ({job}) re-queued")
