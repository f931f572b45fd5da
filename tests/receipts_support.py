"""Receipt facts for tests, and a receipt issued in its own transaction."""

from __future__ import annotations

import base64
import dataclasses
import re
import zlib
from datetime import UTC, datetime
from typing import Any

from tongka.config import Settings
from tongka.db import Database
from tongka.sales.receipts import Receipt, ReceiptFacts, ReceiptKind, ReceiptLine, issue_receipt

PAID_AT = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai


def sample_facts(**overrides: Any) -> ReceiptFacts:
    """A purchase of two ¥500 cards paid by WeChat Pay, with a ¥50 bonus."""
    facts = ReceiptFacts(
        order_id="ord_01testorder0000000000000000",
        merchant_id="mch_01testmerchant000000000000",
        merchant_name="上海测试百货有限公司",
        buyer_display="张*（138****5678）",
        kind=ReceiptKind.PURCHASE,
        lines=(
            ReceiptLine(
                product_name="通卡礼品卡", face_value_minor=50000, count=2, amount_minor=100000
            ),
        ),
        amount_minor=100000,
        bonus_minor=5000,
        currency="CNY",
        channel="wechat",
        channel_transaction_id="4200001234202603011234567890",
        payer_account_masked="招商银行 **** 1234",
        paid_at=PAID_AT,
    )
    return dataclasses.replace(facts, **overrides)


def refund_facts(
    amount_minor: int = 50000, refund_id: str = "rfd_1", **overrides: Any
) -> ReceiptFacts:
    line = ReceiptLine(
        product_name="通卡礼品卡", face_value_minor=50000, count=1, amount_minor=amount_minor
    )
    return sample_facts(
        kind=ReceiptKind.REFUND,
        refund_id=refund_id,
        lines=(line,),
        amount_minor=amount_minor,
        bonus_minor=0,
        **overrides,
    )


async def issued(
    database: Database, settings: Settings, now: datetime, facts: ReceiptFacts | None = None
) -> Receipt:
    async with database.transaction() as session:
        return await issue_receipt(session, facts or sample_facts(), now=now, settings=settings)


_STREAM = re.compile(
    rb"/Filter \[ /ASCII85Decode /FlateDecode \].*?stream\r?\n(.*?)~>\s*endstream", re.S
)
_SHOWN = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _literal(body: bytes) -> bytes:
    """A PDF literal string's bytes (escapes: ``\\ooo`` octal, ``\\n``…, ``\\(``)."""
    out, index = bytearray(), 0
    while index < len(body):
        char = body[index : index + 1]
        if char != b"\\":
            out += char
            index += 1
            continue
        octal = re.match(rb"[0-7]{1,3}", body[index + 1 : index + 4])
        if octal:
            out.append(int(octal.group(0), 8))
            index += 1 + len(octal.group(0))
        else:
            following = body[index + 1 : index + 2]
            out += _ESCAPES.get(following, following)
            index += 2
    return bytes(out)


def pdf_text(pdf: bytes) -> str:
    """The text a reportlab PDF shows in its CID font (UTF-16BE strings), one string a line:
    the content streams inflated, every ``(…) Tj`` decoded. Enough for reportlab's output."""
    shown = []
    for encoded in _STREAM.findall(pdf):
        content = zlib.decompress(base64.a85decode(encoded.replace(b"\n", b"")))
        shown += [_literal(body).decode("utf-16-be") for body in _SHOWN.findall(content)]
    return "\n".join(shown)
