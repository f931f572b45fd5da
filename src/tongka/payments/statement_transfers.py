"""Bank transfers matched from the reserve account's statement CSV (对账单来账匹配).

An enterprise pays its bank-transfer order by quoting the order's reference
(``adapters.bank_transfer.bank_reference``) in 附言. Instead of finance typing each credit
in (来账登记), the reserve bank's statement CSV is imported: each credit line (贷) whose
附言 starts with a valid reference is recorded exactly as 来账登记 records it
(``incoming.record_incoming_transfer``), so it pays its order once however often the
statement is imported, and a wrong amount or a reference naming no bank-transfer payment
is refused and changes nothing. Every credit that pays nothing is listed with its reason;
debits (借) and the channels' settlements (附言 ``结算 <channel> <date>``) are not payers'
transfers and are only counted.

One short transaction per line, so a refused line leaves the others paid. Moving the
money from the bank-transfer receivable to the reserve follows with
``tongka payments import-statement --channel bank_transfer`` (``statements.py``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.config import Settings
from tongka.db import Database
from tongka.errors import DomainError
from tongka.payments.adapters._http import iter_lines, parse_china_time
from tongka.payments.adapters.bank_transfer import (
    STATEMENT_COLUMNS,
    TIME_FORMAT,
    payment_id_from_reference,
)
from tongka.payments.amounts import yuan_to_minor
from tongka.payments.channel import ChannelError
from tongka.payments.incoming import IncomingTransfer, record_incoming_transfer
from tongka.payments.models import PAID_STATUSES, Payment

__all__ = ["MatchedLine", "StatementMatch", "UnmatchedLine", "match_statement_transfers"]

SETTLEMENT_WORD = "结算"


@dataclass(frozen=True)
class MatchedLine:
    line: int
    serial: str
    payment_id: str
    amount_minor: int
    is_new: bool  # False: the payment was paid already (an earlier import, or 来账登记)


@dataclass(frozen=True)
class UnmatchedLine:
    line: int
    serial: str
    amount_minor: int | None
    note: str
    reason: str  # no_reference | not_matched (with the refusal) | unreadable


@dataclass
class StatementMatch:
    credits: int = 0
    skipped: int = 0  # debits and channel settlements
    matched: list[MatchedLine] = field(default_factory=list)
    unmatched: list[UnmatchedLine] = field(default_factory=list)

    @property
    def paid(self) -> list[MatchedLine]:
        return [line for line in self.matched if line.is_new]


@dataclass(frozen=True)
class _Credit:
    line: int
    transfer: IncomingTransfer
    payment_id: str


def _rows(content: bytes | Iterable[bytes]) -> Iterable[tuple[int, dict[str, str] | str]]:
    """``(line number, row)``, or ``(line number, problem)`` for a line that cannot be read."""
    header: list[str] | None = None
    for number, raw in enumerate(iter_lines(content), start=1):
        text = raw.decode("utf-8-sig", errors="replace")
        if not text.strip():
            continue
        cells = next(csv.reader(io.StringIO(text)))
        if header is None:
            missing = [name for name in STATEMENT_COLUMNS if name not in cells]
            if missing:
                yield number, f"the columns {', '.join(missing)} are missing"
                return
            header = cells
            continue
        if len(cells) != len(header):
            yield number, f"{len(cells)} cells, not {len(header)}"
            continue
        yield number, dict(zip(header, cells, strict=True))


def _is_settlement(note: str) -> bool:
    return note.split()[:1] == [SETTLEMENT_WORD]


async def match_statement_transfers(
    database: Database,
    content: bytes | Iterable[bytes],
    *,
    now: datetime,
    settings: Settings,
) -> StatementMatch:
    """Pay the orders the statement's credits name (see the module); safe to run again."""
    result = StatementMatch()
    for number, row in _rows(content):
        if isinstance(row, str):
            result.unmatched.append(UnmatchedLine(number, "", None, "", f"unreadable: {row}"))
            continue
        note = row["附言"].strip()
        if row["借贷"] == "借" or _is_settlement(note):
            result.skipped += 1
            continue
        result.credits += 1
        serial = row["流水号"].strip()
        try:
            amount = yuan_to_minor(row["金额"])
            received = parse_china_time(f"{row['交易日期']} {row['交易时间']}", TIME_FORMAT)
        except (ValueError, ChannelError) as exc:
            result.unmatched.append(UnmatchedLine(number, serial, None, note, f"unreadable: {exc}"))
            continue
        reference = note.split()[0] if note else ""
        payment_id = payment_id_from_reference(reference) if reference else None
        if payment_id is None or received is None:
            result.unmatched.append(UnmatchedLine(number, serial, amount, note, "no_reference"))
            continue
        credit = _Credit(
            number,
            IncomingTransfer(
                reference=reference,
                amount_minor=amount,
                currency="CNY",
                payer_account_name=row["对方户名"].strip(),
                payer_account_number=row["对方账号"].strip(),
                bank_transaction_id=serial,
                received_at=received,
            ),
            payment_id,
        )
        try:
            result.matched.append(await _record(database, credit, serial, now, settings))
        except DomainError as exc:
            result.unmatched.append(
                UnmatchedLine(number, serial, amount, note, f"not_matched: {exc.message}")
            )
    return result


async def _record(
    database: Database, credit: _Credit, serial: str, now: datetime, settings: Settings
) -> MatchedLine:
    async def work(session: AsyncSession) -> MatchedLine:
        before = await session.get(Payment, credit.payment_id)
        was_paid = before is not None and before.status in {s.value for s in PAID_STATUSES}
        await record_incoming_transfer(session, credit.transfer, now=now, settings=settings)
        return MatchedLine(
            credit.line, serial, credit.payment_id, credit.transfer.amount_minor, not was_paid
        )

    return await database.run(work, idempotent=True)
