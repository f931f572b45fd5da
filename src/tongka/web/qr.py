"""QR codes as inline SVG (segno): the receipt page's check link now, the payment pages'
"scan to pay" next (the consumer's phone opens the sandbox's payer page).

Why SVG inline: no image route, no file, no script; it scales crisply on a phone and
prints. The SVG has a ``viewBox`` and no fixed size (CSS sizes it: ``.qr`` in
``console.css``), a ``<title>`` for screen readers, and the quiet zone the standard asks
for (4 modules). Error correction "M" (15%): scanned from a screen or a printed receipt.
"""

from __future__ import annotations

import segno
from markupsafe import Markup

QUIET_ZONE = 4


def qr_svg(data: str, *, title: str, error: str = "m") -> Markup:
    """The QR code of ``data`` as an ``<svg>`` element safe to put in a template."""
    if not data:
        raise ValueError("a QR code needs something to encode")
    code = segno.make(data, error=error)
    svg = code.svg_inline(
        scale=1, border=QUIET_ZONE, omitsize=True, svgclass="qr", lineclass=None, title=title
    )
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # segno escapes the title
