"""Writing statement lines into their tables, streamed: lines arrive from a parser one at a
time and leave in chunks of ``CHUNK_LINES``, so memory stays bounded whatever the file's
size. On PostgreSQL a chunk is one ``COPY`` (asyncpg's binary copy, on the session's own
connection, inside its transaction), and a thread parses the next chunk meanwhile;
elsewhere one multi-row ``INSERT``.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db.statements import connection_of, dialect_of
from tongka.payments.channel import ChannelError, StatementLine, StatementLineKind
from tongka.reconciliation.bank import BankLineIn
from tongka.reconciliation.errors import StatementInvalid
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
T = TypeVar("T")


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


class _Ahead:
    """Chunks read by a worker thread, at most ``depth`` ahead of the writer: the next
    chunk is parsed while the database ingests this one (PostgreSQL works on its own core
    meanwhile), and memory stays bounded by ``depth + 1`` chunks."""

    _END = object()

    def __init__(self, chunks: Iterator[list[tuple[Any, ...]]], depth: int = 2) -> None:
        self._chunks = chunks
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._read, name="statement-reader", daemon=True)

    def _put(self, item: object) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for chunk in self._chunks:
                if not self._put(chunk):
                    return
        except BaseException as failed:  # handed to the writer, raised there
            self._put(failed)
            return
        self._put(self._END)

    async def __aiter__(self) -> AsyncIterator[list[tuple[Any, ...]]]:
        loop = asyncio.get_running_loop()
        self._thread.start()
        try:
            while True:
                item = await loop.run_in_executor(None, self._queue.get)
                if item is self._END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            self._stopped.set()
            self._thread.join()


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
    if dialect_of(session) != "postgresql":
        for chunk in _chunks(rows, chunk_lines):
            await session.execute(
                insert(table), [dict(zip(columns, row, strict=True)) for row in chunk]
            )
            if on_chunk is not None:
                on_chunk(len(chunk))
        return
    connection = await connection_of(session)
    raw = await connection.get_raw_connection()
    async for chunk in _Ahead(_chunks(rows, chunk_lines)):
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=chunk, columns=list(columns)
        )
        if on_chunk is not None:
            on_chunk(len(chunk))


def guarded(lines: Iterable[T]) -> Iterator[T]:
    """``lines`` as they are parsed; a line the parser cannot read stops the import as a
    ``StatementInvalid`` naming it (the run's transaction then leaves nothing behind)."""
    iterator = iter(lines)
    number = 0
    while True:
        number += 1
        try:
            line = next(iterator)
        except StopIteration:
            return
        except (ChannelError, ValueError, KeyError, IndexError, AssertionError) as failed:
            problem = f"line {number}: {failed.__class__.__name__} {failed}"[:200]
            raise StatementInvalid(
                f"The statement cannot be read at {problem}",
                param="statement",
                details={"line": number, "problem": problem},
            ) from None
        yield line


def channel_rows(
    run_id: str, lines: Iterable[StatementLine], totals: Totals
) -> Iterator[tuple[Any, ...]]:
    """A channel statement's lines as rows; a refund's reference is its refund id."""
    for number, line in enumerate(guarded(lines), start=1):
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
