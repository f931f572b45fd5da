"""Importing a channel's daily statement (对账单): money moves from the channel's receivable
to the reserve bank, less what the channel kept (an expense), and every difference between
the statement and our books is listed.

Per payment line that matches a succeeded payment of ours (same channel, same amount): one
atomic group — reserve bank (amount − fee) and channel fee expense (fee), both against the
channel receivable. Per refund line that matches one of our refunds: the reverse — the
channel receivable against the reserve bank (refund − fee given back) and the fee expense
(fee given back). Transfer ids are derived from the line (``stmt:<channel>:<payment>:…``),
so importing a statement again posts nothing twice.

Differences (nothing is posted for the first three kinds):

* ``not_in_ledger`` — the statement names a payment or refund we do not have as paid;
* ``amount_mismatch`` — the amounts differ;
* ``fee_mismatch`` — posted with the statement's fee (what the channel kept), but it is not
  the fee our configuration expected;
* ``not_in_statement`` — a payment we have as paid through the channel on that business
  date that the statement does not list.

Full reconciliation (settlement) builds on these; this import only moves the money.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db import Database
from tongka.ledger import TransferRequest, post_transfers
from tongka.ledger.queries import find_transfers
from tongka.payments.accounts import (
    channel_fee_expense_account,
    channel_receivable_account,
    reserve_bank_account,
)
from tongka.payments.channel import ChannelName, StatementLine, StatementLineKind
from tongka.payments.models import PAID_STATUSES, Payment, PaymentRefund, RefundStatus

CHUNK_LINES = 500  # lines per transaction when a command imports a large statement


class DifferenceKind(StrEnum):
    NOT_IN_LEDGER = "not_in_ledger"
    AMOUNT_MISMATCH = "amount_mismatch"
    FEE_MISMATCH = "fee_mismatch"
    NOT_IN_STATEMENT = "not_in_statement"


@dataclass(frozen=True)
class Difference:
    kind: DifferenceKind
    payment_id: str
    refund_id: str | None
    statement_minor: int | None
    ledger_minor: int | None
    currency: str
    detail: str


@dataclass
class ImportResult:
    lines: int = 0
    posted: int = 0  # lines whose transfers this import posted
    already: int = 0  # lines an earlier import had posted
    differences: list[Difference] = field(default_factory=list)
    seen_payments: set[str] = field(default_factory=set)

    def merge(self, other: ImportResult) -> None:
        self.lines += other.lines
        self.posted += other.posted
        self.already += other.already
        self.differences.extend(other.differences)
        self.seen_payments |= other.seen_payments


def line_transfer_ids(line: StatementLine) -> tuple[str, str]:
    base = f"stmt:{line.channel.value}:{line.payment_id}"
    if line.kind is StatementLineKind.REFUND:
        base += f":refund:{line.refund_id}"
    return f"{base}:reserve", f"{base}:fee"


def _requests(
    line: StatementLine, receivable: str, reserve: str, expense: str
) -> list[TransferRequest]:
    """The line's transfers (a zero part is left out: the ledger moves no zero amounts)."""
    reserve_id, fee_id = line_transfer_ids(line)
    meta = {"statement_date": line.trade_date.isoformat(), "channel": line.channel.value}
    refund = line.kind is StatementLineKind.REFUND
    fee = -line.fee_minor if refund else line.fee_minor  # a refund gives the fee back
    net = line.amount_minor - fee
    parts = []
    if net > 0:
        parts.append(
            TransferRequest(
                reserve_id,
                receivable if refund else reserve,
                reserve if refund else receivable,
                net,
                line.currency,
                "statement_refund" if refund else "statement_settlement",
                reference=line.payment_id,
                metadata=meta,
            )
        )
    if fee > 0:
        parts.append(
            TransferRequest(
                fee_id,
                receivable if refund else expense,
                expense if refund else receivable,
                fee,
                line.currency,
                "channel_fee_returned" if refund else "channel_fee",
                reference=line.payment_id,
                metadata=meta,
            )
        )
    return parts


async def _check_line(
    session: AsyncSession, line: StatementLine
) -> tuple[Payment | None, Difference | None]:
    payment = await session.get(Payment, line.payment_id)
    what = f"refund {line.refund_id}" if line.kind is StatementLineKind.REFUND else "payment"

    def difference(kind: DifferenceKind, ledger: int | None, detail: str) -> Difference:
        return Difference(
            kind, line.payment_id, line.refund_id, line.amount_minor, ledger, line.currency, detail
        )

    if payment is None or payment.channel != line.channel.value:
        return None, difference(DifferenceKind.NOT_IN_LEDGER, None, f"{what}: no such payment")
    if line.kind is StatementLineKind.PAYMENT:
        if payment.status not in PAID_STATUSES:
            return payment, difference(
                DifferenceKind.NOT_IN_LEDGER, None, f"payment is {payment.status} here"
            )
        if (payment.amount_minor, payment.currency) != (line.amount_minor, line.currency):
            return payment, difference(
                DifferenceKind.AMOUNT_MISMATCH, payment.amount_minor, "payment amount differs"
            )
        return payment, None
    refund = await session.get(PaymentRefund, line.refund_id or "")
    if refund is None or refund.payment_id != payment.id or refund.status == RefundStatus.FAILED:
        return payment, difference(DifferenceKind.NOT_IN_LEDGER, None, f"{what}: not ours")
    if (refund.amount_minor, refund.currency) != (line.amount_minor, line.currency):
        return payment, difference(
            DifferenceKind.AMOUNT_MISMATCH, refund.amount_minor, f"{what}: amount differs"
        )
    return payment, None


async def import_lines(
    session: AsyncSession, lines: Iterable[StatementLine], *, now: datetime
) -> ImportResult:
    """Post the lines' transfers (see the module); one chunk, in the caller's transaction."""
    result = ImportResult()
    for line in lines:
        result.lines += 1
        if line.kind is StatementLineKind.PAYMENT:
            result.seen_payments.add(line.payment_id)
        payment, difference = await _check_line(session, line)
        if difference is not None:
            result.differences.append(difference)
            continue
        assert payment is not None
        if line.kind is StatementLineKind.PAYMENT and line.fee_minor != payment.fee_minor:
            result.differences.append(
                Difference(
                    DifferenceKind.FEE_MISMATCH,
                    line.payment_id,
                    None,
                    line.fee_minor,
                    payment.fee_minor,
                    line.currency,
                    "the channel kept another fee than configured",
                )
            )
        receivable = await channel_receivable_account(session, line.channel, line.currency, now=now)
        reserve = await reserve_bank_account(session, line.currency, now=now)
        expense = await channel_fee_expense_account(session, line.currency, now=now)
        requests = _requests(line, receivable, reserve, expense)
        if not requests:
            continue
        if await find_transfers(session, [requests[0].transfer_id]):
            result.already += 1
        else:
            result.posted += 1
        await post_transfers(session, requests, now=now)
    return result


async def missing_from_statement(
    session: AsyncSession,
    channel: ChannelName,
    statement_date: date,
    seen_payments: set[str],
    *,
    timezone: str,
) -> list[Difference]:
    """Payments we have as paid through ``channel`` on that business date that the
    statement does not list."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(statement_date, time(0), zone)
    rows = await session.scalars(
        select(Payment)
        .where(
            Payment.channel == channel.value,
            Payment.paid_at >= start,
            Payment.paid_at < start + timedelta(days=1),
            Payment.status.in_([status.value for status in PAID_STATUSES]),
        )
        .order_by(Payment.paid_at, Payment.id)
    )
    return [
        Difference(
            DifferenceKind.NOT_IN_STATEMENT,
            payment.id,
            None,
            None,
            payment.amount_minor,
            payment.currency,
            "paid here, not on the statement",
        )
        for payment in rows
        if payment.id not in seen_payments
    ]


def chunks(
    lines: Iterable[StatementLine], size: int = CHUNK_LINES
) -> Iterator[list[StatementLine]]:
    chunk: list[StatementLine] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def import_statement(
    database: Database,
    channel: ChannelName,
    statement_date: date,
    lines: Iterable[StatementLine],
    *,
    now: datetime,
    timezone: str,
    on_chunk: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a whole statement: a transaction per ``CHUNK_LINES`` lines (each line is
    idempotent, so an interrupted import is simply run again), then the payments the
    statement leaves out. ``on_chunk(lines)`` reports progress."""
    result = ImportResult()
    for chunk in chunks(line for line in lines if line.channel is channel):

        async def work(session: AsyncSession, chunk: list[StatementLine] = chunk) -> ImportResult:
            return await import_lines(session, chunk, now=now)

        result.merge(await database.run(work, idempotent=True))
        if on_chunk is not None:
            on_chunk(len(chunk))
    async with database.transaction() as session:
        result.differences.extend(
            await missing_from_statement(
                session, channel, statement_date, result.seen_payments, timezone=timezone
            )
        )
    return result
