"""Helpers every command shares: settings, a database, running async code, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from tongka import currencies
from tongka.config import Settings, get_settings
from tongka.db import Database
from tongka.errors import DomainError

T = TypeVar("T")
console = Console()
error_console = Console(stderr=True)


def run_with_database(work: Callable[[Database, Settings], Awaitable[T]]) -> T:
    """Open the configured database, run ``work``, close it; domain errors exit 1 cleanly."""
    settings = get_settings()
    currencies.configure(settings)

    async def runner() -> T:
        database = Database.from_settings(settings)
        try:
            return await work(database, settings)
        finally:
            await database.dispose()

    try:
        return asyncio.run(runner())
    except DomainError as exc:
        error_console.print(f"[red]error[/red] ({exc.code}): {exc.message}")
        raise typer.Exit(1) from exc
