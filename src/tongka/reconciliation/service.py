"""Running a reconciliation: a channel's day, the reserve account's day, and the bank
statement both depend on.

A run is one transaction: its row is claimed with ``INSERT … ON CONFLICT DO NOTHING`` on
the unique (channel, date, currency), the statement streams into its lines, matching runs
in SQL (``matching``), and the run's figures are written. Running the same day again (or
at the same moment in another worker) answers the run that exists and changes nothing,
except that a channel run whose bank leg could not be checked yet is checked once the bank
statement that shows the settlement is in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db.statements import dialect_of
from tongka.ids import new_id
from tongka.ledger.export import POSTED_KINDS
from tongka.ledger.models import LedgerTransfer
from tongka.ledger.system_accounts import system_account_id
from tongka.ledger.types import AccountCode
from tongka.payments.channel import StatementLine
from tongka.reconciliation import matching
from tongka.reconciliation.bank import BankLineIn
from tongka.reconciliation.errors import ReconciliationInProgress, StatementInvalid
from tongka.reconciliation.imports import Progress, import_bank_lines, import_channel_lines
from tongka.reconciliation.kinds import RESERVE, BankStatus, ExceptionKind, RunStatus
from tongka.reconciliation.models import (
    BankLine,
    BankStatement,
    ReconciliationException,
    ReconciliationRun,
)

DEFAULT_CURRENCY = "CNY"
SELF_SETTLED = "bank_transfer"  # paid straight into the reserve account: no settlement
MATCH_WORK_MEM = "64MB"  # PostgreSQL: per sort or hash, in this transaction only


async def find_run(
    session: AsyncSession, channel: str, statement_date: date, currency: str = DEFAULT_CURRENCY
) -> ReconciliationRun | None:
    row: ReconciliationRun | None = await session.scalar(
        select(ReconciliationRun).where(
            ReconciliationRun.channel == channel,
            ReconciliationRun.statement_date == statement_date,
            ReconciliationRun.currency == currency,
        )
    )
    return row


async def _claim_run(
    session: AsyncSession,
    channel: str,
    statement_date: date,
    currency: str,
    *,
    actor: str,
    now: datetime,
) -> ReconciliationRun | None:
    """A new run's row, or ``None`` when the day's run exists (ours waits for theirs)."""
    dialect = postgresql if dialect_of(session) == "postgresql" else sqlite
    run_id = new_id("rcn")
    inserted = await session.execute(
        dialect.insert(ReconciliationRun.__table__)
        .values(
            id=run_id,
            channel=channel,
            statement_date=statement_date,
            currency=currency,
            status=RunStatus.IMPORTING.value,
            line_count=0,
            channel_minor=0,
            ledger_count=0,
            ledger_minor=0,
            matched_count=0,
            matched_minor=0,
            exception_count=0,
            channel_net_minor=0,
            bank_status=BankStatus.UNCHECKED.value,
            created_by=actor,
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(ReconciliationRun.__table__.c.id)
    )
    if inserted.scalar() is None:
        return None
    return await session.get(ReconciliationRun, run_id)


async def _existing(
    session: AsyncSession, channel: str, statement_date: date, currency: str
) -> ReconciliationRun:
    run = await find_run(session, channel, statement_date, currency)
    if run is None or run.status != RunStatus.MATCHED:
        raise ReconciliationInProgress(
            "This day's reconciliation is running: wait for it to finish.",
            details={"channel": channel, "statement_date": statement_date.isoformat()},
        )
    return run


async def _neighbours(session: AsyncSession, run: ReconciliationRun) -> list[str]:
    day = run.statement_date
    rows = await session.scalars(
        select(ReconciliationRun.id).where(
            ReconciliationRun.channel == run.channel,
            ReconciliationRun.currency == run.currency,
            ReconciliationRun.statement_date.in_(
                [day - timedelta(days=1), day + timedelta(days=1)]
            ),
            ReconciliationRun.id != run.id,
        )
    )
    return list(rows)


async def reconcile_channel(
    session: AsyncSession,
    channel: str,
    statement_date: date,
    lines: Iterable[StatementLine],
    *,
    actor: str,
    now: datetime,
    timezone: str,
    currency: str = DEFAULT_CURRENCY,
    on_chunk: Progress | None = None,
) -> ReconciliationRun:
    """Import the channel's statement of ``statement_date`` (streamed) and match it three
    ways. Lines of another channel or currency are not this run's and are left out."""
    run = await _claim_run(session, channel, statement_date, currency, actor=actor, now=now)
    if run is None:
        existing = await _existing(session, channel, statement_date, currency)
        await check_bank(session, existing, now=now)
        return existing
    if dialect_of(session) == "postgresql":
        # the matching sorts and hashes a day of lines: in memory, not in temporary files
        await session.execute(text(f"SET LOCAL work_mem = '{MATCH_WORK_MEM}'"))
    ours = (line for line in lines if line.channel.value == channel and line.currency == currency)
    await import_channel_lines(session, run.id, ours, on_chunk=on_chunk)
    await matching.snapshot_ledger(session, run, timezone)
    neighbours = await _neighbours(session, run)
    await matching.channel_exceptions(session, run, now)
    await matching.short_exceptions(session, run, neighbours, now)
    await matching.settle_shifted_shorts(session, run, neighbours, now)
    found = await matching.figures(session, run)
    run.line_count = found.line_count
    run.channel_minor = found.channel_minor
    run.channel_net_minor = found.channel_net_minor
    run.ledger_count = found.ledger_count
    run.ledger_minor = found.ledger_minor
    run.matched_count = found.line_count - found.unmatched_count
    run.matched_minor = found.channel_minor - found.unmatched_minor
    run.exception_count = found.exception_count
    run.status = RunStatus.MATCHED.value
    run.finished_at = now
    await session.flush()
    await check_bank(session, run, now=now)
    return run


def _exception(
    run: ReconciliationRun, suffix: str, kind: ExceptionKind, now: datetime, **values: int | None
) -> ReconciliationException:
    return ReconciliationException(
        id=matching.exception_prefix(run) + suffix,
        run_id=run.id,
        channel=run.channel,
        statement_date=run.statement_date,
        kind=kind.value,
        currency=run.currency,
        created_at=now,
        **values,
    )


async def check_bank(session: AsyncSession, run: ReconciliationRun, *, now: datetime) -> None:
    """The bank leg: what the channel settled for the day (its net) against what the
    reserve account received for it. Unchecked until a bank statement of a later day is
    in (channels settle the next day); then a missing settlement is a ``bank_mismatch``."""
    if run.channel == RESERVE or run.bank_status != BankStatus.UNCHECKED:
        return
    if run.channel == SELF_SETTLED or run.channel_net_minor == 0:
        # a bank transfer's statement is the bank's own; a day that nets nothing owes nothing
        run.bank_status = BankStatus.MATCHED.value
        run.bank_minor = run.channel_net_minor
        await session.flush()
        return
    lines = BankLine.__table__.c
    signed = case((lines.direction == "credit", lines.amount_minor), else_=-lines.amount_minor)
    credit = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(signed), 0)).where(
                lines.channel == run.channel, lines.settles_date == run.statement_date
            )
        )
    ).one()
    count, received = int(credit[0]), int(credit[1])
    if count == 0:
        later = await session.scalar(
            select(func.count()).where(
                BankStatement.statement_date > run.statement_date,
                BankStatement.currency == run.currency,
            )
        )
        if not later:
            return
    run.bank_minor = received
    if count and received == run.channel_net_minor:
        run.bank_status = BankStatus.MATCHED.value
    else:
        run.bank_status = BankStatus.MISMATCH.value
        run.exception_count += 1
        session.add(
            _exception(
                run,
                "b1",
                ExceptionKind.BANK_MISMATCH,
                now,
                channel_minor=run.channel_net_minor,
                bank_minor=received,
            )
        )
    await session.flush()


async def import_bank_statement(
    session: AsyncSession,
    statement_date: date,
    lines: Iterable[BankLineIn],
    *,
    actor: str,
    now: datetime,
    currency: str = DEFAULT_CURRENCY,
) -> BankStatement:
    """The reserve account's statement of a day (streamed); a day's statement is imported
    once (again: the first answers). Then every channel run it may settle is checked."""
    existing = await session.scalar(
        select(BankStatement).where(
            BankStatement.statement_date == statement_date, BankStatement.currency == currency
        )
    )
    if existing is not None:
        return existing
    statement_id = new_id("rcb")
    totals = await import_bank_lines(session, statement_id, lines)
    statement = BankStatement(
        id=statement_id,
        statement_date=statement_date,
        currency=currency,
        line_count=totals.count,
        credit_minor=totals.credit_minor,
        debit_minor=totals.debit_minor,
        closing_minor=totals.last_balance_minor,
        imported_by=actor,
        imported_at=now,
    )
    session.add(statement)
    await session.flush()
    waiting = await session.scalars(
        select(ReconciliationRun).where(
            ReconciliationRun.bank_status == BankStatus.UNCHECKED.value,
            ReconciliationRun.channel != RESERVE,
            ReconciliationRun.statement_date < statement_date,
            ReconciliationRun.currency == currency,
        )
    )
    for run in waiting.all():
        await check_bank(session, run, now=now)
    return statement


async def reserve_ledger_balance(session: AsyncSession, currency: str, before: datetime) -> int:
    """The reserve bank account's posted balance (debits − credits) before a moment."""
    account_id = system_account_id(AccountCode.RESERVE_BANK, currency)
    transfers = LedgerTransfer.__table__.c
    total = 0
    for column, sign in ((transfers.debit_account_id, 1), (transfers.credit_account_id, -1)):
        amount = await session.scalar(
            select(func.coalesce(func.sum(transfers.amount), 0)).where(
                column == account_id,
                transfers.kind.in_(POSTED_KINDS),
                transfers.created_at < before,
            )
        )
        total += sign * int(amount or 0)
    return total


async def reconcile_reserve(
    session: AsyncSession,
    statement_date: date,
    *,
    actor: str,
    now: datetime,
    timezone: str,
    currency: str = DEFAULT_CURRENCY,
) -> ReconciliationRun:
    """The reserve account's ledger balance at the end of the day against the closing
    balance of the bank's statement of that day; a difference is an exception."""
    statement = await session.scalar(
        select(BankStatement).where(
            BankStatement.statement_date == statement_date, BankStatement.currency == currency
        )
    )
    if statement is None or statement.closing_minor is None:
        raise StatementInvalid(
            "Import the reserve account's bank statement of that day, with its balances, first.",
            param="bank_statement",
            details={"statement_date": statement_date.isoformat()},
        )
    run = await _claim_run(session, RESERVE, statement_date, currency, actor=actor, now=now)
    if run is None:
        return await _existing(session, RESERVE, statement_date, currency)
    end = matching.day_start(statement_date + timedelta(days=1), timezone)
    ledger = await reserve_ledger_balance(session, currency, end)
    run.ledger_balance_minor = ledger
    run.bank_balance_minor = statement.closing_minor
    run.line_count = statement.line_count
    # the day's movements match as a whole, or not at all (the report's rate is 100 or 0)
    run.matched_count = statement.line_count if ledger == statement.closing_minor else 0
    run.status = RunStatus.MATCHED.value
    run.finished_at = now
    if ledger == statement.closing_minor:
        run.bank_status = BankStatus.MATCHED.value
    else:
        run.bank_status = BankStatus.MISMATCH.value
        run.exception_count = 1
        session.add(
            _exception(
                run,
                "r1",
                ExceptionKind.RESERVE_BALANCE,
                now,
                ledger_minor=ledger,
                bank_minor=statement.closing_minor,
            )
        )
    await session.flush()
    return run
