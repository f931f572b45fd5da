"""``tongka serve``, ``tongka worker`` and ``tongka demo``."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import typer
import uvicorn

from tongka.cli.common import console, run_with_database
from tongka.clock import SystemClock
from tongka.config import Settings, get_settings
from tongka.db import Database
from tongka.demo import load_demo_data
from tongka.worker import run_worker


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.command()(demo)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="API processes (production: several, behind a proxy)."),
    with_worker: bool = typer.Option(
        False, "--with-worker", help="Also run the background worker in this process."
    ),
) -> None:
    """Serve the API (/v1, OpenAPI at /docs) and the web console."""
    settings = get_settings()
    settings.secret_key_bytes()  # fail fast in production without a key
    if with_worker:
        import os

        os.environ["TONGKA_RUN_WORKER_IN_PROCESS"] = "true"
    console.print(f"Tongka on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "tongka.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        **proxy_options(settings),
    )


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy handling from ``TONGKA_TRUSTED_PROXIES``, never from its own defaults.

    uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 unless told otherwise (and reads
    ``FORWARDED_ALLOW_IPS`` from the environment): then any local client, or a proxy that
    passes the header through, picks the address that rate limits and lockouts count. So
    proxy headers are off unless trusted proxies are configured, and then only theirs count.
    """
    trusted = settings.trusted_proxy_list
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": ",".join(trusted) or ""}


def worker() -> None:
    """Run scheduled and outbox jobs until interrupted (safe to run several)."""

    async def work(database: Database, settings: Settings) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(database, SystemClock(), settings, stop)

    run_with_database(work)


def demo() -> None:
    """Load idempotent demo data and write its credentials to demo.json."""

    async def work(database: Database, settings: Settings) -> None:
        path = await load_demo_data(database, settings, SystemClock().now())
        console.print(f"demo data loaded; credentials in {path}")

    run_with_database(work)
