"""A receipt as a PDF (A5 portrait) that shows Chinese on any machine (``tongka.pdf``: the
reader's own CID font, nothing embedded). The QR code is drawn as vector squares from
segno's matrix (no image library), and points to the public check page of the receipt.

The words are Chinese (the receipt is a Chinese document); amounts in yuan from integer
minor units; times in the platform's zone.
"""

from __future__ import annotations

import io

import segno
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from tongka.pdf import FONT, local_time, zone_words
from tongka.pdf import fit as _fit
from tongka.pdf import yuan as _yuan
from tongka.sales.receipts import CheckedReceipt, ReceiptKind

KIND_WORDS = {
    ReceiptKind.PURCHASE: "购卡",
    ReceiptKind.TOP_UP: "充值",
    ReceiptKind.ENTERPRISE_BATCH: "企业批量购卡",
    ReceiptKind.REFUND: "退款",
}
CHANNEL_WORDS = {
    "wechat": "微信支付",
    "alipay": "支付宝",
    "unionpay": "银联",
    "bank_transfer": "银行转账",
    "cash": "现金",
}
MARGIN = 14 * mm
LINE = 6.2 * mm
QR_SIZE = 30 * mm


def check_url(base_url: str, code: str) -> str:
    """The public page where anyone checks the receipt with this code (the QR code's)."""
    return f"{base_url.rstrip('/')}/console/receipts/{code}"


def _field_rows(checked: CheckedReceipt, timezone: str) -> list[tuple[str, str]]:
    facts, receipt = checked.facts, checked.receipt
    rows = [
        ("回单类型", KIND_WORDS[facts.kind]),
        ("收款商户", facts.merchant_name),
        ("订单号", facts.order_id),
        ("付款人", facts.buyer_display or "—"),
        ("支付渠道", CHANNEL_WORDS.get(facts.channel, facts.channel)),
        ("渠道交易号", facts.channel_transaction_id or "—"),
        ("付款账户", facts.payer_account_masked or "—"),
        (
            "退款时间" if facts.kind is ReceiptKind.REFUND else "支付时间",
            local_time(facts.paid_at, timezone),
        ),
        ("开具时间", local_time(receipt.issued_at, timezone)),
    ]
    if facts.kind is ReceiptKind.REFUND:
        rows.append(("原回单验证码", checked.original_code or "—"))
    return rows


def _draw_qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    """The QR code of ``url`` as filled squares, lower-left corner at (x, y)."""
    matrix = segno.make(url, error="m").matrix
    quiet = 2  # modules of white border inside ``size``
    module = size / (len(matrix) + 2 * quiet)
    canvas.setFillColorRGB(0, 0, 0)
    for row_index, row in enumerate(matrix):
        for column_index, dark in enumerate(row):
            if dark:
                canvas.rect(
                    x + (column_index + quiet) * module,
                    y + size - (row_index + quiet + 1) * module,
                    module,
                    module,
                    stroke=0,
                    fill=1,
                )


def _draw_lines(canvas: Canvas, checked: CheckedReceipt, top: float, width: float) -> float:
    """The lines' table from ``top`` down; answers where it ended."""
    facts = checked.facts
    columns = (MARGIN, MARGIN + width * 0.50, MARGIN + width * 0.70, MARGIN + width)
    canvas.setFont(FONT, 9)
    y = top
    canvas.drawString(columns[0], y, "商品")
    canvas.drawRightString(columns[1] + 14 * mm, y, "面值")
    canvas.drawRightString(columns[2] + 10 * mm, y, "数量")
    canvas.drawRightString(columns[3], y, "金额")
    canvas.line(MARGIN, y - 2 * mm, MARGIN + width, y - 2 * mm)
    for line in facts.lines:
        y -= LINE
        canvas.drawString(columns[0], y, _fit(line.product_name, 9, width * 0.45))
        canvas.drawRightString(
            columns[1] + 14 * mm, y, _yuan(line.face_value_minor, facts.currency)
        )
        canvas.drawRightString(columns[2] + 10 * mm, y, str(line.count))
        canvas.drawRightString(columns[3], y, _yuan(line.amount_minor, facts.currency))
    canvas.line(MARGIN, y - 2 * mm, MARGIN + width, y - 2 * mm)
    y -= LINE + 1 * mm
    canvas.setFont(FONT, 11)
    total_label = "退款金额" if facts.kind is ReceiptKind.REFUND else "实付金额"
    canvas.drawString(MARGIN, y, total_label)
    canvas.drawRightString(MARGIN + width, y, _yuan(facts.amount_minor, facts.currency))
    if facts.bonus_minor:
        y -= LINE
        canvas.setFont(FONT, 9)
        canvas.drawString(MARGIN, y, "赠送金额（不可退现）")
        canvas.drawRightString(MARGIN + width, y, _yuan(facts.bonus_minor, facts.currency))
    return y


def render_receipt_pdf(checked: CheckedReceipt, *, base_url: str, timezone: str) -> bytes:
    """The receipt's PDF (bytes starting ``%PDF``)."""
    buffer = io.BytesIO()
    page_width, page_height = A5
    width = page_width - 2 * MARGIN
    canvas = Canvas(buffer, pagesize=A5, pageCompression=1)
    canvas.setTitle(f"电子回单 {checked.receipt.code}")
    canvas.setAuthor("通卡 Tongka")
    canvas.setSubject(checked.facts.order_id)
    canvas.setCreator("Tongka")
    y = page_height - MARGIN - 6 * mm
    canvas.setFont(FONT, 20)
    canvas.drawCentredString(page_width / 2, y, "电子回单")
    y -= 6 * mm
    canvas.setFont(FONT, 8)
    canvas.drawCentredString(page_width / 2, y, "通卡预付卡平台 · 本回单由平台签发")
    y -= 5 * mm
    canvas.line(MARGIN, y, MARGIN + width, y)
    canvas.setFont(FONT, 9)
    for label, value in _field_rows(checked, timezone):
        y -= LINE
        canvas.drawString(MARGIN, y, label)
        canvas.drawString(MARGIN + 26 * mm, y, _fit(value, 9, width - 26 * mm))
    y = _draw_lines(canvas, checked, y - LINE - 2 * mm, width)
    url = check_url(base_url, checked.receipt.code)
    qr_y = max(MARGIN + 12 * mm, y - 6 * mm - QR_SIZE)
    _draw_qr(canvas, url, MARGIN + width - QR_SIZE, qr_y, QR_SIZE)
    canvas.setFont(FONT, 9)
    canvas.drawString(MARGIN, qr_y + QR_SIZE - 5 * mm, "验证码")
    canvas.setFont(FONT, 12)
    canvas.drawString(MARGIN, qr_y + QR_SIZE - 11 * mm, checked.receipt.code)
    canvas.setFont(FONT, 7.5)
    canvas.drawString(MARGIN, qr_y + QR_SIZE - 17 * mm, "扫码或在回单查验页输入验证码，")
    canvas.drawString(MARGIN, qr_y + QR_SIZE - 21 * mm, "可确认本回单由平台签发且未被改动。")
    canvas.setFont(FONT, 7)
    canvas.drawString(MARGIN, qr_y - 5 * mm, f"查验地址：{url}")
    zone = zone_words(timezone)
    canvas.drawString(MARGIN, MARGIN, f"时间均为{zone}。持有验证码者可查看本回单，请妥善保管。")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
