"""What every Tongka PDF shares: Chinese text in a font every PDF reader carries.

Why STSong-Light: it is one of the Adobe CID fonts every PDF reader carries; reportlab names
it without embedding a font file, so no system font is needed to make the PDF (a fresh server
has none) and the reader supplies the glyphs. Amounts are shown in yuan from integer minor
units; times in the platform's zone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

from tongka.money import Money, format_money

FONT = "STSong-Light"

pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def yuan(minor: int, currency: str) -> str:
    # the full-width yuan sign: GB2312 has it, so every reader's STSong shows it
    return format_money(Money.of_minor(minor, currency)).replace("¥", "￥")


def fit(text: str, size: float, width: float) -> str:
    """``text``, cut with an ellipsis where it would run past ``width`` points."""
    if pdfmetrics.stringWidth(text, FONT, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", FONT, size) > width:
        text = text[:-1]
    return text + "…"


def local_time(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def zone_words(timezone: str) -> str:
    return "北京时间" if timezone == "Asia/Shanghai" else timezone
