"""Payouts through a bank batch payment file (批量代付文件; ``settings.payout_channel``
``file``). The layout and encoding are ``tongka.payments.batch_file``'s.

1. ``payout_file(day)``: the due batches are claimed and their payouts written as for any
   channel (``pay_due`` with ``FilePayoutChannel``: each payout is open, ``unknown``);
   then every open payout not in a file yet, of a batch due by ``day``, is put in the
   day's file ``PAY<yyyymmdd>`` (a conditional update: a payout is in one file, ever) and
   the file is written from them — the same file however often it is asked for (plus
   payouts claimed since). 业务参考号 is the payout's key, which the bank pays once.
2. The file goes to the bank (the sandbox gateway's ``/bank/batch_payouts/{name}``).
3. ``import_results(file)``: the bank's result file, a line per payout, recorded through
   the very functions that record the HTTP desk's answers (``payouts.record_answer``,
   ``record_return``): 成功 posts the payout, 失败 fails the batch (its net carried into
   the next batch, paid under that batch's own key), 退票 — in the same file or one days
   later — puts the money back on the merchant's payable for the next run. A line of a
   payout already closed changes nothing, so importing a file twice changes nothing. The
   file is read twice, streamed: first every line is checked (a bad line refuses the
   whole file, nothing applied), then each is applied in its own short transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.config import Settings
from tongka.db import Database
from tongka.payments.batch_file import (
    FAILED,
    PENDING,
    RETURNED,
    BatchFileInvalid,
    PaymentLine,
    ResultLine,
    read_results,
    write_payments,
)
from tongka.settlement.errors import PayoutResultsInvalid
from tongka.settlement.models import Payout, SettlementBatch
from tongka.settlement.payout_channel import FilePayoutChannel, PayoutAnswer
from tongka.settlement.payouts import OPEN, _order, pay_due, record_answer, record_return

PURPOSE = "结算款"


def file_name(day: date) -> str:
    return f"PAY{day:%Y%m%d}"


@dataclass
class PayoutFile:
    name: str
    lines: list[PaymentLine]

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    def content(self) -> bytes:
        return b"".join(write_payments(self.lines))


async def _assign(session: AsyncSession, name: str, through: date, now: datetime) -> None:
    due = select(SettlementBatch.id).where(SettlementBatch.payout_date <= through)
    await session.execute(
        update(Payout)
        .where(
            Payout.status.in_(OPEN),
            Payout.payout_file.is_(None),
            Payout.batch_id.in_(due.scalar_subquery()),
        )
        .values(payout_file=name, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def _lines(
    session: AsyncSession, name: str, settings: Settings, now: datetime
) -> list[PaymentLine]:
    payouts = await session.scalars(
        select(Payout).where(Payout.payout_file == name).order_by(Payout.created_at, Payout.id)
    )
    lines = []
    for number, payout in enumerate(payouts.all(), start=1):
        order = await _order(session, payout, settings, now)
        lines.append(
            PaymentLine(
                number=number,
                account_number=order.account_number,
                account_name=order.account_name,
                bank_name=order.bank_name,
                amount_minor=order.amount_minor,
                purpose=PURPOSE,
                reference=order.key,
            )
        )
    return lines


async def payout_file(
    database: Database, day: date, *, settings: Settings, now: datetime
) -> PayoutFile:
    """The day's bank batch payment file (see the module): pays what is due by ``day``
    into it first."""
    await pay_due(
        database, channel=FilePayoutChannel(), settings=settings, now=now, pay_through=day
    )
    name = file_name(day)
    await database.run(lambda session: _assign(session, name, day, now))
    lines = await database.run(lambda session: _lines(session, name, settings, now))
    return PayoutFile(name, lines)


async def submit_file(base_url: str, http: httpx.AsyncClient, file: PayoutFile) -> bool:
    """Send the file to the bank's batch payment desk: True when it answered that it has
    it; False when the answer timed out (the bank may have it: fetch its result later,
    or send it again, which pays nothing twice: the desk knows the file and the keys)."""
    try:
        response = await http.post(
            f"{base_url}/bank/batch_payouts/{file.name}", content=file.content()
        )
    except httpx.TransportError:
        return False
    if response.status_code == 504:
        return False
    response.raise_for_status()
    return True


async def fetch_results(base_url: str, http: httpx.AsyncClient, name: str) -> bytes | None:
    """The bank's result file of the payment file ``name`` (None: it has no such file)."""
    response = await http.get(f"{base_url}/bank/batch_payouts/{name}/result")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.content


@dataclass
class ResultSummary:
    paid: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # references that are no payout of ours
    mismatched: list[str] = field(default_factory=list)  # another amount than we paid

    @property
    def changed(self) -> int:
        return len(self.paid) + len(self.rejected) + len(self.returned)


def check_results(content: Iterable[bytes]) -> int:
    """Every line of a result file read (not applied); the count. Raises
    ``PayoutResultsInvalid`` naming the first bad line."""
    try:
        return sum(1 for _ in read_results(content))
    except BatchFileInvalid as bad:
        raise PayoutResultsInvalid(
            f"The result file cannot be read at {bad}",
            param="file",
            details={"line": bad.line, "problem": str(bad)},
        ) from None


def _answer(line: ResultLine) -> PayoutAnswer:
    reference = line.bank_serial or None
    if line.result == FAILED:
        return PayoutAnswer("rejected", reference, line.reason or "失败")
    if line.result == RETURNED:
        return PayoutAnswer("returned", reference, line.reason or "退票")
    return PayoutAnswer("accepted", reference)


async def _apply(session: AsyncSession, line: ResultLine, now: datetime) -> str:
    payout = await session.scalar(select(Payout).where(Payout.idempotency_key == line.reference))
    if payout is None:
        return "unknown"
    if line.amount_minor != payout.amount:
        return "mismatched"
    if line.result == PENDING:
        return "pending"
    answer = _answer(line)
    if payout.status in OPEN:
        return await record_answer(session, payout.id, answer, now)
    if answer.status == "returned" and payout.status == "paid":
        return "returned" if await record_return(session, payout.id, answer, now) else "unchanged"
    return "unchanged"


async def import_results(
    database: Database,
    content: Callable[[], Iterable[bytes]],
    *,
    now: datetime,
    on_line: Callable[[ResultLine], None] | None = None,
) -> ResultSummary:
    """Apply a bank result file (see the module). ``content()`` reads the file from its
    start (it is read twice); ``on_line`` after each line is applied."""
    check_results(content())
    summary = ResultSummary()
    for line in read_results(content()):
        outcome = await database.run(
            lambda session, line=line: _apply(session, line, now),  # type: ignore[misc]
            idempotent=True,
        )
        bucket = {
            "paid": summary.paid,
            "rejected": summary.rejected,
            "returned": summary.returned,
            "pending": summary.pending,
            "unknown": summary.unknown,
            "mismatched": summary.mismatched,
        }.get(outcome, summary.unchanged)
        bucket.append(line.reference)
        if on_line is not None:
            on_line(line)
    return summary
