"""``web.qr``: the inline SVG draws exactly the QR code of the data, with its quiet zone."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import segno

from tongka.web.qr import QUIET_ZONE, qr_svg

URL = "http://127.0.0.1:8100/pay/wechat/pay_01J0000000000000000000000?amount=50000&x=<y>"
COMMAND = re.compile(r"([Mmh])(-?\d+(?:\.\d+)?)(?:\s(-?\d+(?:\.\d+)?))?")


def _dark_modules(path: str) -> set[tuple[int, int]]:
    """The (row, column) of every dark module a segno path draws (``M``/``m`` moves,
    ``h`` a run of dark modules along the current row)."""
    x = y = 0.0
    dark = set()
    for command, first, second in COMMAND.findall(path):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:
            run = int(float(first))
            dark |= {(int(y), int(x) + offset) for offset in range(run)}
            x += run
    return dark


def test_the_svg_draws_the_qr_code_of_the_data() -> None:
    svg = ET.fromstring(str(qr_svg(URL, title="扫码支付")))
    matrix = segno.make(URL, error="m").matrix
    size = len(matrix) + 2 * QUIET_ZONE
    assert svg.get("viewBox") == f"0 0 {size} {size}"
    assert svg.get("width") is None  # CSS sizes it
    assert svg.get("role") == "img"
    title = svg.find("title")
    assert title is not None
    assert title.text == "扫码支付"
    path = svg.find("path")
    assert path is not None
    expected = {
        (row + QUIET_ZONE, column + QUIET_ZONE)
        for row, line in enumerate(matrix)
        for column, is_dark in enumerate(line)
        if is_dark
    }
    assert _dark_modules(path.get("d", "")) == expected


def test_the_title_is_escaped_and_the_markup_is_safe_for_templates() -> None:
    markup = qr_svg("x", title="<script>alert(1)</script> & 查验")
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    assert markup.__html__() == str(markup)


def test_nothing_to_encode_is_refused() -> None:
    with pytest.raises(ValueError, match="needs something"):
        qr_svg("", title="t")
