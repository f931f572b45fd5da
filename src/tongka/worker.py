"""The worker: scheduled and outbox jobs (block sealing, webhooks, expiry...).

Each part registers its jobs in ``JOBS`` below. Jobs must be safe to run in several worker
processes at once (``FOR UPDATE SKIP LOCKED`` or idempotent work), and each run does a
bounded amount of work in its own transaction.

Failures. A run that raises is logged and the job waits longer before the next run
(``backoff_seconds``: doubling, capped), so a broken job does not spin. An item that keeps
failing (a card batch, say) must not hold up the others: its job records each failure on
the item and schedules the next try with ``next_attempt``; after ``MAX_ATTEMPTS`` the item
is parked with its last error (a dead letter). A job that parks items names an object with
``list_failed(session)`` and ``retry(session, id, now)`` in ``Job.dead_letters``;
``tongka jobs failed`` lists every job's parked items and ``tongka jobs retry ID`` re-queues
one.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import structlog

from tongka import metrics
from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger(__name__)

JobFunction = Callable[[Database, Clock, Settings], Awaitable[int]]

MAX_ATTEMPTS = 8  # tries of one item before it is parked
BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 600.0


def backoff_seconds(failures: int, base: float = BASE_BACKOFF_SECONDS) -> float:
    """The wait after ``failures`` consecutive failures: ``base`` doubled each time, capped."""
    if failures <= 0:
        return base
    return min(base * 2 ** (failures - 1), MAX_BACKOFF_SECONDS)


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When an item that has now failed ``attempts`` times is tried again; ``None``: park it."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + timedelta(seconds=backoff_seconds(attempts))


@dataclass(frozen=True)
class DeadLetter:
    """One parked item, as ``tongka jobs failed`` shows it."""

    job: str
    id: str
    attempts: int
    last_error: str
    failed_at: datetime


class DeadLetters(Protocol):
    async def list_failed(self, session: AsyncSession) -> list[DeadLetter]: ...

    async def retry(self, session: AsyncSession, item_id: str, now: datetime) -> bool: ...


@dataclass(frozen=True)
class Job:
    """``target`` is "module:function"; the function returns how many items it handled."""

    name: str
    target: str
    interval_seconds: float
    interval_setting: str | None = None  # a Settings field that overrides interval_seconds
    dead_letters: str | None = None  # "module:object" (a DeadLetters) if the job parks items

    def interval(self, settings: Settings) -> float:
        if self.interval_setting is None:
            return self.interval_seconds
        return float(getattr(settings, self.interval_setting))

    def resolve(self) -> JobFunction:
        module_name, function_name = self.target.split(":")
        function: JobFunction = getattr(importlib.import_module(module_name), function_name)
        return function

    def resolve_dead_letters(self) -> DeadLetters | None:
        if self.dead_letters is None:
            return None
        module_name, name = self.dead_letters.split(":")
        letters: DeadLetters = getattr(importlib.import_module(module_name), name)
        return letters


# Parts add their jobs here.
JOBS: list[Job] = [
    Job("ledger.seal_blocks", "tongka.ledger.jobs:seal_blocks", 1.0, "seal_interval_seconds"),
    Job("ledger.expire_pending", "tongka.ledger.jobs:expire_pending_transfers", 5.0),
    Job("idempotency.purge", "tongka.api.idempotency:purge_expired", 600),
    Job("webhooks.deliver", "tongka.webhooks.delivery:deliver_due", 1),
    Job("cards.expire", "tongka.cards.jobs:expire_cards", 3600),
    Job(
        "cards.issue_batches",
        "tongka.cards.jobs:issue_batches",
        2,
        dead_letters="tongka.cards.jobs:failed_batches_letters",
    ),
    Job("settlement.settle_daily", "tongka.settlement.jobs:settle_daily", 600),
    Job("payments.poll_expiring", "tongka.payments.jobs:poll_expiring", 10),
    Job("payments.check_channels", "tongka.payments.jobs:check_channels", 30),
    Job("reserve.check_cover", "tongka.payments.cover_watch:check_cover", 3600),
    Job("settlement.record_deposits", "tongka.settlement.jobs:record_deposits", 3600),
    Job("sales.expire_orders", "tongka.sales.jobs:expire_orders", 15),
    Job("sales.activate_paid_batches", "tongka.sales.batch_orders:activate_paid_batches", 5),
    Job("promotions.end_expired", "tongka.sales.promotion_lifecycle:end_expired_promotions", 60),
    Job("reconciliation.daily", "tongka.reconciliation.daily:reconcile_daily", 900),
    Job("forms.purge_claims", "tongka.edge.form_once:purge_claims", 3600),
    Job("sales.pay_card_returns", "tongka.sales.return_payouts:pay_card_returns", 10),
]


async def run_job_forever(
    job: Job, database: Database, clock: Clock, settings: Settings, stop: asyncio.Event
) -> None:
    function = job.resolve()
    failures = 0
    while not stop.is_set():
        try:
            metrics.JOB_RUNS.labels(job=job.name).inc()
            handled = await function(database, clock, settings)
            failures = 0
            if handled:
                log.info("worker.job_ran", job=job.name, handled=handled)
        except Exception:  # a failing job must not stop the others; it is logged and retried
            failures += 1
            metrics.JOB_FAILURES.labels(job=job.name).inc()
            log.exception("worker.job_failed", job=job.name, failures=failures)
        wait = job.interval(settings)
        if failures:
            wait = max(wait, backoff_seconds(failures, base=wait))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)


async def run_worker(
    database: Database, clock: Clock, settings: Settings, stop: asyncio.Event
) -> None:
    """Run every registered job on its interval until ``stop`` is set."""
    from tongka.sales.fulfilment import register_order_listener  # payments' polls tell orders

    register_order_listener(settings)
    log.info("worker.started", jobs=[job.name for job in JOBS])
    await asyncio.gather(*(run_job_forever(job, database, clock, settings, stop) for job in JOBS))
