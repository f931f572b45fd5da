"""A batch's lines, page by page, and its statement (对账单) as CSV: what the API and the
console both serve."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.money import Money
from tongka.settlement.models import SettlementBatch, SettlementLine

MAX_LINES = 1000


async def batch_lines(
    session: AsyncSession, batch_id: str, *, after: int = 0, limit: int = MAX_LINES
) -> list[SettlementLine]:
    return list(
        (
            await session.scalars(
                select(SettlementLine)
                .where(SettlementLine.batch_id == batch_id, SettlementLine.id > after)
                .order_by(SettlementLine.id)
                .limit(limit)
            )
        ).all()
    )


STATEMENT_COLUMNS = ("业务日期", "发生时间", "类型", "账务流水号", "关联单号", "金额", "手续费")


def _yuan(amount: int, currency: str) -> str:
    return Money.of_minor(amount, currency).to_decimal_string()


async def statement_csv(session: AsyncSession, batch: SettlementBatch) -> str:
    """The batch's statement (对账单): one row per line, then the net (UTF-8 with BOM, so
    a spreadsheet opens the Chinese headings right)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(STATEMENT_COLUMNS)
    after = 0
    while lines := await batch_lines(session, batch.id, after=after):
        for line in lines:
            writer.writerow(
                (
                    batch.business_date.isoformat(),
                    line.occurred_at.isoformat(),
                    line.kind,
                    line.transfer_id or line.source_id or "",
                    line.reference or "",
                    _yuan(line.amount, batch.currency),
                    _yuan(line.fee, batch.currency),
                )
            )
        after = lines[-1].id
    writer.writerow(
        (
            batch.business_date.isoformat(),
            "",
            "net",
            batch.id,
            "",
            _yuan(batch.net, batch.currency),
            "",
        )
    )
    return out.getvalue()
