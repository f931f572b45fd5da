"""A batch's statement (对账单) as a PDF (A4 portrait) that shows Chinese on any machine.

The same lines as the CSV (``statements.statement_csv``), in the same order, each naming its
ledger transfer, so a merchant can trace every fen; the net at the end. Lines are read page
by page (``batch_lines``), so a batch of any size is drawn in bounded memory.
"""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.identity.models import Merchant
from tongka.pdf import FONT, fit, local_time, yuan, zone_words
from tongka.settlement.models import SettlementBatch, SettlementLine
from tongka.settlement.statements import batch_lines

MARGIN = 14 * mm
LINE = 5.6 * mm
KIND_WORDS = {
    "redemption": "核销",
    "fee": "手续费",
    "refund": "退款",
    "carried": "上期结转",
    "reserve_hold": "保证金留存",
    "reserve_release": "保证金释放",
    "payout_returned": "出款退票",
    "split": "分账",
}
# left edge of each column, as a share of the table's width; amounts are right-aligned at
# the next column's edge
COLUMNS = (("发生时间", 0.0), ("类型", 0.21), ("账务流水号", 0.33), ("金额", 0.86), ("手续费", 1.0))


class _Pages:
    """The canvas and where the next line goes; a new page starts when one is full."""

    def __init__(self, canvas: Canvas, title: str) -> None:
        self.canvas = canvas
        self.title = title
        self.width = A4[0] - 2 * MARGIN
        self.number = 0
        self.y = 0.0

    def start(self) -> None:
        if self.number:
            self.canvas.showPage()
        self.number += 1
        self.y = A4[1] - MARGIN
        self.canvas.setFont(FONT, 8)
        self.canvas.drawRightString(
            MARGIN + self.width, self.y, f"{self.title} · 第 {self.number} 页"
        )
        self.y -= LINE

    def need(self, lines: int) -> None:
        if self.y - lines * LINE < MARGIN + LINE:
            self.start()
            self.heading()

    def heading(self) -> None:
        self.canvas.setFont(FONT, 8.5)
        for label, share in COLUMNS:
            x = MARGIN + share * self.width
            if label in ("金额", "手续费"):
                self.canvas.drawRightString(x, self.y, label)
            else:
                self.canvas.drawString(x, self.y, label)
        self.canvas.line(MARGIN, self.y - 1.6 * mm, MARGIN + self.width, self.y - 1.6 * mm)
        self.y -= LINE


def _facts(batch: SettlementBatch, merchant_name: str) -> list[tuple[str, str]]:
    return [
        ("商户", merchant_name),
        ("商户编号", batch.merchant_id),
        ("结算批次", batch.id),
        ("业务日期", batch.business_date.isoformat()),
        ("出款日期", batch.payout_date.isoformat()),
        ("币种", batch.currency),
        ("明细笔数", str(batch.line_count)),
    ]


def _draw_line(pages: _Pages, line: SettlementLine, batch: SettlementBatch, zone: str) -> None:
    pages.need(1)
    canvas, width = pages.canvas, pages.width
    canvas.setFont(FONT, 8)
    x = [MARGIN + share * width for _label, share in COLUMNS]
    canvas.drawString(x[0], pages.y, local_time(line.occurred_at, zone))
    canvas.drawString(x[1], pages.y, KIND_WORDS.get(line.kind, line.kind))
    trace = line.transfer_id or line.source_id or ""
    canvas.drawString(x[2], pages.y, fit(trace, 7.5, x[3] - x[2] - 22 * mm))
    canvas.drawRightString(x[3], pages.y, yuan(line.amount, batch.currency))
    canvas.drawRightString(x[4], pages.y, yuan(line.fee, batch.currency))
    pages.y -= LINE


async def render_statement_pdf(
    session: AsyncSession, batch: SettlementBatch, *, merchant_name: str, timezone: str
) -> bytes:
    """The batch's statement as PDF bytes (starting ``%PDF``)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"结算对账单 {batch.id}")
    canvas.setAuthor("通卡 Tongka")
    canvas.setCreator("Tongka")
    pages = _Pages(canvas, f"结算对账单 {batch.id}")
    pages.start()
    canvas.setFont(FONT, 18)
    canvas.drawCentredString(A4[0] / 2, pages.y - 4 * mm, "结算对账单")
    pages.y -= 12 * mm
    canvas.setFont(FONT, 9)
    for label, value in _facts(batch, merchant_name):
        canvas.drawString(MARGIN, pages.y, label)
        canvas.drawString(MARGIN + 24 * mm, pages.y, fit(value, 9, pages.width - 24 * mm))
        pages.y -= LINE
    pages.y -= 2 * mm
    pages.heading()
    after = 0
    while lines := await batch_lines(session, batch.id, after=after):
        for line in lines:
            _draw_line(pages, line, batch, timezone)
        after = lines[-1].id
    pages.need(2)
    canvas.line(MARGIN, pages.y + 3.4 * mm, MARGIN + pages.width, pages.y + 3.4 * mm)
    canvas.setFont(FONT, 11)
    canvas.drawString(MARGIN, pages.y - 1 * mm, "应结净额")
    canvas.drawRightString(MARGIN + pages.width, pages.y - 1 * mm, yuan(batch.net, batch.currency))
    pages.y -= LINE * 2
    canvas.setFont(FONT, 7)
    canvas.drawString(
        MARGIN,
        MARGIN,
        f"时间均为{zone_words(timezone)}。每一行的账务流水号对应平台账本中的一笔转账。",
    )
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


async def statement_pdf(session: AsyncSession, batch: SettlementBatch, *, timezone: str) -> bytes:
    """The statement PDF of ``batch`` under its merchant's legal name (API and console)."""
    merchant = await session.get(Merchant, batch.merchant_id)
    name = merchant.legal_name if merchant is not None else batch.merchant_id
    return await render_statement_pdf(session, batch, merchant_name=name, timezone=timezone)
