"""Writing statement lines into their tables, streamed: lines arrive from a parser one at a
time and leave in chunks of ``CHUNK_LINES``, so memory stays bounded whatever the file's
size. On PostgreSQL a chunk is one ``COPY`` (asyncpg's binary copy, on the session's own
connection, inside its transaction); elsewhere one multi-row ``INSERT``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db.statements import connection_of, dialect_of
from tongka.payments.channel import StatementLine, StatementLineKind
from tongka.reconciliation.bank import BankLineIn
from tongka.reconciliation.models import BankLine, ChannelLine

CHUNK_LINES = 20_000
CHANNEL_COLUMNS = (
    "run_id",
    "line_no",
    "kind",
    "reference",
    "payment_id",
    "amount_minor",
    "fee_minor",
    "currency",
    "trade_date",
    "occurred_at",
    "channel_transaction_id",
)
BANK_COLUMNS = (
    "statement_id",
    "line_no",
    "direction",
    "amount_minor",
    "fee_minor",
    "serial",
    "note",
    "channel",
    "settles_date",
    "balance_minor",
    "occurred_at",
)

Progress = Callable[[int], None]


@dataclass
class Totals:
    """What an import wrote: lines, their amounts, and (bank) the last balance seen."""

    count: int = 0
    amount_minor: int = 0
    credit_minor: int = 0
    debit_minor: int = 0
    last_balance_minor: int | None = None


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def write_rows(
    session: AsyncSession,
    model: type[Any],
    columns: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    *,
    on_chunk: Progress | None = None,
    chunk_lines: int = CHUNK_LINES,
) -> None:
    """Write ``rows`` (tuples in ``columns`` order) into ``model``'s table, chunk by chunk."""
    table = model.__table__
    is_postgresql = dialect_of(session) == "postgresql"
    for chunk in _chunks(rows, chunk_lines):
        if is_postgresql:
            connection = await connection_of(session)
            raw = await connection.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                table.name, records=chunk, columns=list(columns)
            )
        else:
            await session.execute(
                insert(table), [dict(zip(columns, row, strict=True)) for row in chunk]
            )
        if on_chunk is not None:
            on_chunk(len(chunk))


def channel_rows(
    run_id: str, lines: Iterable[StatementLine], totals: Totals
) -> Iterator[tuple[Any, ...]]:
    """A channel statement's lines as rows; a refund's reference is its refund id."""
    for number, line in enumerate(lines, start=1):
        totals.count += 1
        totals.amount_minor += line.amount_minor
        is_refund = line.kind is StatementLineKind.REFUND
        yield (
            run_id,
            number,
            line.kind.value,
            (line.refund_id or "") if is_refund else line.payment_id,
            line.payment_id,
            line.amount_minor,
            line.fee_minor,
            line.currency,
            line.trade_date,
            line.occurred_at,
            line.channel_transaction_id,
        )


def bank_rows(
    statement_id: str, lines: Iterable[BankLineIn], totals: Totals
) -> Iterator[tuple[Any, ...]]:
    for number, line in enumerate(lines, start=1):
        totals.count += 1
        if line.direction == "credit":
            totals.credit_minor += line.amount_minor
        else:
            totals.debit_minor += line.amount_minor
        if line.balance_minor is not None:
            totals.last_balance_minor = line.balance_minor
        yield (
            statement_id,
            number,
            line.direction,
            line.amount_minor,
            line.fee_minor,
            line.serial,
            line.note,
            line.channel,
            line.settles_date,
            line.balance_minor,
            line.occurred_at,
        )


async def import_channel_lines(
    session: AsyncSession,
    run_id: str,
    lines: Iterable[StatementLine],
    *,
    on_chunk: Progress | None = None,
) -> Totals:
    totals = Totals()
    await write_rows(
        session,
        ChannelLine,
        CHANNEL_COLUMNS,
        channel_rows(run_id, lines, totals),
        on_chunk=on_chunk,
    )
    return totals


async def import_bank_lines(
    session: AsyncSession, statement_id: str, lines: Iterable[BankLineIn]
) -> Totals:
    totals = Totals()
    await write_rows(session, BankLine, BANK_COLUMNS, bank_rows(statement_id, lines, totals))
    return totals
