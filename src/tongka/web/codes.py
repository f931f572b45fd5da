"""Scannable codes drawn on the server as SVG: a QR code (``segno``) and a Code 128
barcode (``reportlab``'s encoder; our own few rectangles). No script, no CDN, no image
files: the markup goes straight into the page and scales with its box (``viewBox`` only).

The barcode is what a till's laser scanner reads; the QR code is for camera scanners and
phones. Both carry exactly the text given (a payment code: 18 digits, Code 128 set C).
"""

from __future__ import annotations

from html import escape

import segno
from reportlab.graphics.barcode.code128 import Code128

BAR_HEIGHT = 60  # in modules (the narrowest bar's width)
QUIET_ZONE = 10  # modules of white either side, as scanners need


def qr_svg(value: str, *, title: str) -> str:
    """A QR code (error correction M) as inline SVG sized by its box."""
    code = segno.make(value, error="m", micro=False)
    return str(code.svg_inline(scale=1, border=4, omitsize=True, title=title, svgclass="qr"))


def code128_modules(value: str) -> list[tuple[bool, int]]:
    """The symbol as (is_bar, width in modules) runs, start to stop (with its checksum).

    ``reportlab`` picks the code sets (digits pair up in set C) and spells each symbol as
    letters: ``A``-``D`` a bar of 1-4 modules, ``a``-``d`` a space of 1-4."""
    symbol = Code128(value, quiet=0)
    symbol.validate()
    symbol.encode()
    return [(letter.isupper(), ord(letter.lower()) - ord("a") + 1) for letter in symbol.decompose()]


def code128_svg(value: str, *, title: str) -> str:
    """A Code 128 barcode as inline SVG: integer rectangles in a ``viewBox`` of modules."""
    x = QUIET_ZONE
    bars = []
    for is_bar, width in code128_modules(value):
        if is_bar:
            bars.append(f'<rect x="{x}" y="0" width="{width}" height="{BAR_HEIGHT}"/>')
        x += width
    total = x + QUIET_ZONE
    return (
        f'<svg class="barcode" viewBox="0 0 {total} {BAR_HEIGHT}" preserveAspectRatio="none"'
        f' role="img" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<rect width="{total}" height="{BAR_HEIGHT}" fill="#fff"/><g fill="#000">'
        + "".join(bars)
        + "</g></svg>"
    )
