"""A run's report and its exceptions with where each stands.

The report: counts and sums matched and unmatched, the match rate, the exceptions by kind
and by status, and the open ones by age. An exception's status is read from its
resolution and approval rows (``open``, ``awaiting_approval``, ``resolved``), never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.reconciliation.errors import ReconciliationNotFound
from tongka.reconciliation.kinds import ExceptionStatus, ResolutionMethod
from tongka.reconciliation.models import (
    Approval,
    ReconciliationException,
    ReconciliationRun,
    Resolution,
)

# (label, at least, less than) — the age of an open exception
AGE_BUCKETS: tuple[tuple[str, timedelta, timedelta | None], ...] = (
    ("under_1_day", timedelta(0), timedelta(days=1)),
    ("1_to_3_days", timedelta(days=1), timedelta(days=3)),
    ("3_to_7_days", timedelta(days=3), timedelta(days=7)),
    ("over_7_days", timedelta(days=7), None),
)


def status_column() -> Any:
    """The status of an exception, as SQL over the outer joins of ``with_status``."""
    return case(
        (Resolution.id.is_(None), literal(ExceptionStatus.OPEN.value)),
        (
            and_(
                Resolution.method == ResolutionMethod.ADJUSTMENT.value,
                Approval.resolution_id.is_(None),
            ),
            literal(ExceptionStatus.AWAITING_APPROVAL.value),
        ),
        else_=literal(ExceptionStatus.RESOLVED.value),
    )


def with_status(statement: Select[Any]) -> Select[Any]:
    return statement.outerjoin(
        Resolution, Resolution.exception_id == ReconciliationException.id
    ).outerjoin(Approval, Approval.resolution_id == Resolution.id)


def exceptions_of(run_id: str, status: ExceptionStatus | None = None) -> Select[Any]:
    """The run's exceptions with their resolution, approval and status, in id order."""
    statement = with_status(
        select(ReconciliationException, Resolution, Approval, status_column().label("status"))
    ).where(ReconciliationException.run_id == run_id)
    if status is not None:
        statement = statement.where(status_column() == status.value)
    return statement.order_by(ReconciliationException.id)


@dataclass(frozen=True)
class Report:
    run: ReconciliationRun
    unmatched_count: int
    unmatched_minor: int
    match_rate: Decimal  # percent, two places, rounded down (100.00 only when all match)
    by_kind: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    open_by_age: dict[str, int] = field(default_factory=dict)


def match_rate(run: ReconciliationRun) -> Decimal:
    if run.line_count == 0:
        return Decimal("100.00") if run.exception_count == 0 else Decimal("0.00")
    rate = Decimal(run.matched_count) * 100 / Decimal(run.line_count)
    return rate.quantize(Decimal("0.01"), ROUND_DOWN)


async def get_run(session: AsyncSession, run_id: str) -> ReconciliationRun:
    run = await session.get(ReconciliationRun, run_id)
    if run is None:
        raise ReconciliationNotFound(
            "No such reconciliation.", details={"object": "reconciliation"}
        )
    return run


def _age_bucket(age: timedelta) -> str:
    for label, low, high in AGE_BUCKETS:
        if age >= low and (high is None or age < high):
            return label
    return AGE_BUCKETS[0][0]


def _counts(run_id: str | None) -> Select[Any]:
    """Exceptions counted by kind, status and creation time (of one run, or of all)."""
    status = status_column()
    statement = with_status(
        select(
            ReconciliationException.kind, status, ReconciliationException.created_at, func.count()
        )
    ).group_by(ReconciliationException.kind, status, ReconciliationException.created_at)
    if run_id is not None:
        statement = statement.where(ReconciliationException.run_id == run_id)
    return statement


async def open_by_age(session: AsyncSession, *, now: datetime) -> dict[str, int]:
    """Every run's exceptions not resolved yet, by age (the runs page's summary)."""
    ages = {label: 0 for label, _, _ in AGE_BUCKETS}
    for _, state, created_at, count in (await session.execute(_counts(None))).all():
        if state != ExceptionStatus.RESOLVED.value:
            ages[_age_bucket(now - created_at)] += int(count)
    return ages


async def report_of(session: AsyncSession, run: ReconciliationRun, *, now: datetime) -> Report:
    rows = (await session.execute(_counts(run.id))).all()
    by_kind: dict[str, int] = {}
    by_status = {status.value: 0 for status in ExceptionStatus}
    open_by_age = {label: 0 for label, _, _ in AGE_BUCKETS}
    for kind, state, created_at, count in rows:
        by_kind[kind] = by_kind.get(kind, 0) + int(count)
        by_status[state] = by_status.get(state, 0) + int(count)
        if state != ExceptionStatus.RESOLVED.value:
            open_by_age[_age_bucket(now - created_at)] += int(count)
    return Report(
        run=run,
        unmatched_count=run.line_count - run.matched_count,
        unmatched_minor=run.channel_minor - run.matched_minor,
        match_rate=match_rate(run),
        by_kind=dict(sorted(by_kind.items())),
        by_status=by_status,
        open_by_age=open_by_age,
    )
