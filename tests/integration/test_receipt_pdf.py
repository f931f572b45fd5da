"""A receipt's PDF: Chinese in the built-in CID font (no font file), amounts in yuan, the
platform's time, the code and the check address."""

from __future__ import annotations

from tests.receipts_support import issued, pdf_text, refund_facts
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.sales.receipt_pdf import check_url, render_receipt_pdf
from tongka.sales.receipts import check_receipt


async def _pdf(database: Database, settings: Settings, code: str) -> bytes:
    async with database.transaction() as session:
        checked = await check_receipt(session, code, settings=settings)
    return render_receipt_pdf(checked, base_url="https://tongka.example/", timezone="Asia/Shanghai")


async def test_the_pdf_shows_the_receipt_in_chinese_without_a_font_file(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipt = await issued(sqlite_database, settings, clock.now())
    pdf = await _pdf(sqlite_database, settings, receipt.code)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert b"/BaseFont /STSong-Light" in pdf
    assert b"/FontFile" not in pdf  # the reader's own CID font: nothing embedded
    text = pdf_text(pdf)
    for expected in (
        "电子回单",
        "上海测试百货有限公司",
        "ord_01testorder0000000000000000",
        "购卡",
        "微信支付",
        "招商银行 **** 1234",
        "张*（138****5678）",
        "￥500.00",
        "￥1,000.00",
        "￥50.00",
        "2026-03-01 10:30:00",  # paid 02:30 UTC: 10:30 in Shanghai
        receipt.code,
        f"https://tongka.example/console/receipts/{receipt.code}",
    ):
        assert expected in text, expected
    assert "4200001234202603011234567890" in text
    assert "退款" not in text


async def test_a_refund_pdf_says_refund_and_names_the_original(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    original = await issued(sqlite_database, settings, clock.now())
    refund = await issued(sqlite_database, settings, clock.now(), refund_facts(30000))
    text = pdf_text(await _pdf(sqlite_database, settings, refund.code))
    assert "退款金额" in text
    assert "￥300.00" in text
    assert original.code in text
    assert "赠送金额" not in text


def test_the_check_address_is_the_console_page_of_the_code() -> None:
    assert check_url("http://127.0.0.1:8000/", "AAAA-BBBB") == (
        "http://127.0.0.1:8000/console/receipts/AAAA-BBBB"
    )
