"""Matching a run, in set operations: each step is one ``INSERT … SELECT`` or aggregate
that the database runs over all lines at once (hash joins, one window), never a Python
loop over lines — a day of a million lines matches in seconds.

1. ``snapshot_ledger``: the ledger's side — payments we hold as paid through the channel,
   and their succeeded refunds — over the run's date and a day either side, each with its
   business date (platform time zone).
2. ``channel_exceptions``: every statement line that is a repeat of an earlier one
   (``duplicate``), has no ledger line (``long``, 长款), or differs in amount, in fee (a
   fee we expected), or in business date (``date_shift``).
3. ``short_exceptions``: every ledger line of the run's date that no statement line of
   this run, or of the channel's runs of the day before or after, names (``short``, 短款).
4. ``settle_shifted_shorts``: a ``short`` of a neighbouring day that this run found as a
   ``date_shift`` gets a match by hand from the system (the two are one difference).

An exception's id derives from its run and line (``rce_<run>c<line>``, ``…s<n>``,
``…b1``, ``…r1``): matching again could not add a second copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast as cast_type
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Date,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db.base import UTCDateTime
from tongka.payments.models import PAID_STATUSES, Payment, PaymentRefund, RefundStatus
from tongka.reconciliation.kinds import CHANNEL_SIDE, ExceptionKind, ResolutionMethod
from tongka.reconciliation.models import (
    ChannelLine,
    LedgerLine,
    ReconciliationException,
    ReconciliationRun,
    Resolution,
)

SYSTEM_ACTOR = "system:reconciliation"
channel_lines = cast_type(Table, ChannelLine.__table__)
ledger_lines = cast_type(Table, LedgerLine.__table__)
exceptions = cast_type(Table, ReconciliationException.__table__)
EXCEPTION_COLUMNS = (
    "id",
    "run_id",
    "channel",
    "statement_date",
    "kind",
    "reference",
    "line_kind",
    "line_no",
    "channel_minor",
    "ledger_minor",
    "channel_fee_minor",
    "ledger_fee_minor",
    "ledger_date",
    "currency",
    "created_at",
)


def day_start(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)


def exception_prefix(run: ReconciliationRun) -> str:
    return "rce_" + run.id.split("_", 1)[1]


def _business_date(column, day: date, timezone: str):  # type: ignore[no-untyped-def]
    """Which of the three days a moment falls on (bounds bound as typed parameters)."""
    return case(
        (column < day_start(day, timezone), literal(day - timedelta(days=1), Date)),
        (column < day_start(day + timedelta(days=1), timezone), literal(day, Date)),
        else_=literal(day + timedelta(days=1), Date),
    )


async def snapshot_ledger(session: AsyncSession, run: ReconciliationRun, timezone: str) -> None:
    day = run.statement_date
    start = day_start(day - timedelta(days=1), timezone)
    end = day_start(day + timedelta(days=2), timezone)
    payment = Payment.__table__
    refund = PaymentRefund.__table__
    payments = select(
        literal(run.id),
        literal("payment"),
        payment.c.id,
        payment.c.id,
        payment.c.amount_minor,
        payment.c.fee_minor,
        payment.c.currency,
        _business_date(payment.c.paid_at, day, timezone),
    ).where(
        payment.c.channel == run.channel,
        payment.c.currency == run.currency,
        payment.c.status.in_([status.value for status in PAID_STATUSES]),
        payment.c.paid_at >= start,
        payment.c.paid_at < end,
    )
    refunds = (
        select(
            literal(run.id),
            literal("refund"),
            refund.c.id,
            refund.c.payment_id,
            refund.c.amount_minor,
            cast(null(), BigInteger),
            refund.c.currency,
            _business_date(refund.c.updated_at, day, timezone),
        )
        .join(payment, payment.c.id == refund.c.payment_id)
        .where(
            payment.c.channel == run.channel,
            refund.c.currency == run.currency,
            refund.c.status == RefundStatus.SUCCEEDED.value,
            refund.c.updated_at >= start,
            refund.c.updated_at < end,
        )
    )
    columns = [
        "run_id",
        "kind",
        "reference",
        "payment_id",
        "amount_minor",
        "fee_minor",
        "currency",
        "business_date",
    ]
    await session.execute(insert(ledger_lines).from_select(columns, union_all(payments, refunds)))


async def channel_exceptions(session: AsyncSession, run: ReconciliationRun, now: datetime) -> None:
    ranked = (
        select(
            channel_lines,
            func.row_number()
            .over(
                partition_by=(channel_lines.c.kind, channel_lines.c.reference),
                order_by=channel_lines.c.line_no,
            )
            .label("occurrence"),
        )
        .where(channel_lines.c.run_id == run.id)
        .subquery()
    )
    ledger = ledger_lines.alias("ledger")
    is_repeat = ranked.c.occurrence > 1
    is_missing = ledger.c.reference.is_(None)
    is_other_amount = ledger.c.amount_minor != ranked.c.amount_minor
    is_other_fee = and_(ledger.c.fee_minor.is_not(None), ledger.c.fee_minor != ranked.c.fee_minor)
    kind = case(
        (is_repeat, ExceptionKind.DUPLICATE.value),
        (is_missing, ExceptionKind.LONG.value),
        (is_other_amount, ExceptionKind.AMOUNT_MISMATCH.value),
        (is_other_fee, ExceptionKind.FEE_MISMATCH.value),
        else_=ExceptionKind.DATE_SHIFT.value,
    )
    found = (
        select(
            literal(exception_prefix(run) + "c") + cast(ranked.c.line_no, String),
            literal(run.id),
            literal(run.channel),
            literal(run.statement_date, Date),
            kind,
            ranked.c.reference,
            ranked.c.kind,
            ranked.c.line_no,
            ranked.c.amount_minor,
            ledger.c.amount_minor,
            ranked.c.fee_minor,
            ledger.c.fee_minor,
            ledger.c.business_date,
            ranked.c.currency,
            literal(now, UTCDateTime()),
        )
        .select_from(
            ranked.outerjoin(
                ledger,
                and_(
                    ledger.c.run_id == run.id,
                    ledger.c.kind == ranked.c.kind,
                    ledger.c.reference == ranked.c.reference,
                ),
            )
        )
        .where(
            or_(
                is_repeat,
                is_missing,
                is_other_amount,
                is_other_fee,
                ledger.c.business_date != ranked.c.trade_date,
            )
        )
    )
    await session.execute(insert(exceptions).from_select(EXCEPTION_COLUMNS, found))


async def short_exceptions(
    session: AsyncSession, run: ReconciliationRun, neighbours: list[str], now: datetime
) -> None:
    """Ledger lines of the run's date no statement line names (this run's or a
    neighbouring day's: a payment the channel booked a day off is a date shift there)."""
    ledger = ledger_lines.alias("ledger")
    named = exists(
        select(literal(1)).where(
            channel_lines.c.run_id.in_([run.id, *neighbours]),
            channel_lines.c.kind == ledger.c.kind,
            channel_lines.c.reference == ledger.c.reference,
        )
    )
    number = func.row_number().over(order_by=(ledger.c.kind, ledger.c.reference))
    found = select(
        literal(exception_prefix(run) + "s") + cast(number, String),
        literal(run.id),
        literal(run.channel),
        literal(run.statement_date, Date),
        literal(ExceptionKind.SHORT.value),
        ledger.c.reference,
        ledger.c.kind,
        cast(null(), BigInteger),
        cast(null(), BigInteger),
        ledger.c.amount_minor,
        cast(null(), BigInteger),
        ledger.c.fee_minor,
        ledger.c.business_date,
        ledger.c.currency,
        literal(now, UTCDateTime()),
    ).where(ledger.c.run_id == run.id, ledger.c.business_date == run.statement_date, ~named)
    await session.execute(insert(exceptions).from_select(EXCEPTION_COLUMNS, found))


async def settle_shifted_shorts(
    session: AsyncSession, run: ReconciliationRun, neighbours: list[str], now: datetime
) -> None:
    if not neighbours:
        return
    short = exceptions.alias("short")
    shift = exceptions.alias("shift")
    resolutions = cast_type(Table, Resolution.__table__)
    found = (
        select(
            literal("rcr_") + func.substr(short.c.id, 5),
            short.c.id,
            literal(ResolutionMethod.MANUAL_MATCH.value),
            literal(f"on the statement of another day (run {run.id})"),
            short.c.reference,
            short.c.currency,
            literal(SYSTEM_ACTOR),
            literal(now, UTCDateTime()),
        )
        .select_from(
            short.join(
                shift,
                and_(
                    shift.c.run_id == run.id,
                    shift.c.kind == ExceptionKind.DATE_SHIFT.value,
                    shift.c.reference == short.c.reference,
                ),
            )
        )
        .where(
            short.c.run_id.in_(neighbours),
            short.c.kind == ExceptionKind.SHORT.value,
            ~exists(select(literal(1)).where(resolutions.c.exception_id == short.c.id)),
        )
    )
    await session.execute(
        insert(resolutions).from_select(
            [
                "id",
                "exception_id",
                "method",
                "reason",
                "matched_reference",
                "currency",
                "proposed_by",
                "proposed_at",
            ],
            found,
        )
    )


@dataclass(frozen=True)
class Figures:
    line_count: int
    channel_minor: int
    channel_net_minor: int
    ledger_count: int
    ledger_minor: int
    unmatched_count: int  # statement lines with an exception
    unmatched_minor: int
    exception_count: int


async def figures(session: AsyncSession, run: ReconciliationRun) -> Figures:
    net = case(
        (
            channel_lines.c.kind == "payment",
            channel_lines.c.amount_minor - channel_lines.c.fee_minor,
        ),
        else_=-channel_lines.c.amount_minor - channel_lines.c.fee_minor,
    )
    lines = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(channel_lines.c.amount_minor), 0),
                func.coalesce(func.sum(net), 0),
            ).where(channel_lines.c.run_id == run.id)
        )
    ).one()
    ledger = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(ledger_lines.c.amount_minor), 0)).where(
                ledger_lines.c.run_id == run.id,
                ledger_lines.c.business_date == run.statement_date,
            )
        )
    ).one()
    found = exceptions.c.kind.in_([kind.value for kind in CHANNEL_SIDE])
    unmatched = (
        await session.execute(
            select(
                func.count().filter(found),
                func.coalesce(func.sum(exceptions.c.channel_minor).filter(found), 0),
                func.count(),
            ).where(exceptions.c.run_id == run.id)
        )
    ).one()
    return Figures(
        int(lines[0]),
        int(lines[1]),
        int(lines[2]),
        int(ledger[0]),
        int(ledger[1]),
        int(unmatched[0]),
        int(unmatched[1]),
        int(unmatched[2]),
    )
