"""回单查验 (``/console/receipts``) and a receipt's page (``/console/receipts/{code}``).

Public, like the API's check (``tongka.api.receipts``) and with the same per-address budget
(``tongka.edge.throttle``, shared with it): the code is the credential, printed on the
receipt and in its QR code, which opens the receipt's page. An order's page links here. A
refusal is answered as a page (the check form with the error in words), never raised, so a
phone user can type the code again. The PDF is the API's (``/v1/receipts/{code}.pdf``).
"""

from __future__ import annotations

from fastapi import Response

from tongka.edge.policy import Public
from tongka.edge.throttle import count_public_check
from tongka.errors import DomainError
from tongka.sales.receipt_pdf import check_url
from tongka.sales.receipts import check_receipt, normalise_code
from tongka.web.console import Console, ConsoleDep, console_router
from tongka.web.forms import error_text
from tongka.web.qr import qr_svg

router = console_router()
PUBLIC = Public("receipt check by its code (limited per address)")
STATUS_BY_KIND = {"not_found": 404, "rate_limited": 429, "conflict": 409}


async def _receipt_page(console: Console, typed_code: str) -> Response:
    try:
        await count_public_check(
            console.request,
            console.settings,
            name="receipt_check",
            limit=console.settings.receipt_check_rate_limit,
            code="receipt_check_rate_limited",
        )
        checked = await check_receipt(console.session, typed_code, settings=console.settings)
    except DomainError as refused:
        return console.render(
            "receipts.html",
            status_code=STATUS_BY_KIND.get(refused.kind, 400),
            error=error_text(console, refused),
            is_unverified=refused.code == "receipt_not_verified",
            code=typed_code,
        )
    url = check_url(console.settings.public_base_url, checked.receipt.code)
    return console.render(
        "receipt.html",
        checked=checked,
        facts=checked.facts,
        check_address=url,
        qr=qr_svg(url, title=console.gettext("Scan to check this receipt")),
        pdf_url=f"/v1/receipts/{checked.receipt.code}.pdf",
    )


@router.get("/receipts", dependencies=[PUBLIC])
async def receipt_check(console: ConsoleDep, code: str = "") -> Response:
    """The form; with ``?code=`` (the form's GET) the receipt, or why not."""
    if not code.strip():
        return console.render("receipts.html")
    normalised = normalise_code(code)
    if normalised is not None:
        return console.redirect(f"/console/receipts/{normalised}")
    return await _receipt_page(console, code)  # refused alike, counted alike


@router.get("/receipts/{code}", dependencies=[PUBLIC])
async def receipt_page(code: str, console: ConsoleDep) -> Response:
    return await _receipt_page(console, code)
