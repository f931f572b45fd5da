"""The worker: scheduled and outbox jobs (block sealing, webhooks, expiry...).

Each part registers its jobs in ``JOBS`` below. Jobs must be safe to run in several worker
processes at once (``FOR UPDATE SKIP LOCKED`` or idempotent work), and each run does a
bounded amount of work in its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from tongka import metrics
from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database

log = structlog.get_logger(__name__)

JobFunction = Callable[[Database, Clock, Settings], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    """``target`` is "module:function"; the function returns how many items it handled."""

    name: str
    target: str
    interval_seconds: float
    interval_setting: str | None = None  # a Settings field that overrides interval_seconds

    def interval(self, settings: Settings) -> float:
        if self.interval_setting is None:
            return self.interval_seconds
        return float(getattr(settings, self.interval_setting))

    def resolve(self) -> JobFunction:
        module_name, function_name = self.target.split(":")
        function: JobFunction = getattr(importlib.import_module(module_name), function_name)
        return function


# Parts add their jobs here.
JOBS: list[Job] = [
    Job("ledger.seal_blocks", "tongka.ledger.jobs:seal_blocks", 1.0, "seal_interval_seconds"),
    Job("ledger.expire_pending", "tongka.ledger.jobs:expire_pending_transfers", 5.0),
    Job("idempotency.purge", "tongka.api.idempotency:purge_expired", 600),
    Job("webhooks.deliver", "tongka.webhooks.delivery:deliver_due", 1),
    Job("cards.expire", "tongka.cards.jobs:expire_cards", 3600),
    Job("cards.issue_batches", "tongka.cards.jobs:issue_batches", 2),
]


async def run_job_forever(
    job: Job, database: Database, clock: Clock, settings: Settings, stop: asyncio.Event
) -> None:
    function = job.resolve()
    while not stop.is_set():
        try:
            metrics.JOB_RUNS.labels(job=job.name).inc()
            handled = await function(database, clock, settings)
            if handled:
                log.info("worker.job_ran", job=job.name, handled=handled)
        except Exception:  # a failing job must not stop the others; it is logged and retried
            log.exception("worker.job_failed", job=job.name)
            metrics.JOB_FAILURES.labels(job=job.name).inc()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=job.interval(settings))


async def run_worker(
    database: Database, clock: Clock, settings: Settings, stop: asyncio.Event
) -> None:
    """Run every registered job on its interval until ``stop`` is set."""
    log.info("worker.started", jobs=[job.name for job in JOBS])
    await asyncio.gather(*(run_job_forever(job, database, clock, settings, stop) for job in JOBS))
