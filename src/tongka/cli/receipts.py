"""``tongka receipts``: check a receipt by its code, write its PDF.

The same check as the public one (``tongka.sales.receipts.check_receipt``): an unknown code
exits 1 with ``receipt_not_found``, a receipt whose stored content changed exits 1 with
``receipt_not_verified``. No per-address budget: the caller is at the platform's shell.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tongka.cli.common import console, run_with_database
from tongka.config import Settings
from tongka.db import Database
from tongka.money import Money, format_money
from tongka.sales.receipt_pdf import render_receipt_pdf
from tongka.sales.receipts import CheckedReceipt, check_receipt

app = typer.Typer(help="Receipts (电子回单): check one, write its PDF.", no_args_is_help=True)


def _checked(code: str) -> CheckedReceipt:
    async def work(database: Database, settings: Settings) -> CheckedReceipt:
        async with database.transaction() as session:
            return await check_receipt(session, code, settings=settings)

    return run_with_database(work)


@app.command()
def show(code: str = typer.Argument(..., help="The verification code (XXXX-XXXX-…).")) -> None:
    """The receipt's facts, once its signature verified."""
    checked = _checked(code)
    facts, receipt = checked.facts, checked.receipt

    def yuan(minor: int) -> str:
        return format_money(Money.of_minor(minor, facts.currency))

    table = Table(title=f"receipt {receipt.code} — verified", show_header=False)
    rows = [
        ("kind", facts.kind.value),
        ("merchant", f"{facts.merchant_name} ({facts.merchant_id})"),
        ("order", facts.order_id),
        ("buyer", facts.buyer_display),
        ("amount", yuan(facts.amount_minor)),
        ("bonus", yuan(facts.bonus_minor)),
        ("channel", facts.channel),
        ("channel transaction", facts.channel_transaction_id or "—"),
        ("payer account", facts.payer_account_masked or "—"),
        ("paid at (UTC)", facts.paid_at.isoformat()),
        ("issued at (UTC)", receipt.issued_at.isoformat()),
    ]
    if checked.original_code:
        rows.append(("original receipt", checked.original_code))
    for line in facts.lines:
        rows.append(
            (
                "line",
                f"{line.product_name} {yuan(line.face_value_minor)} × {line.count} = "
                f"{yuan(line.amount_minor)}",
            )
        )
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


@app.command()
def pdf(
    code: str = typer.Argument(..., help="The verification code (XXXX-XXXX-…)."),
    out: Path = typer.Option(..., "--out", help="The PDF file to write."),
) -> None:
    """Write the receipt's PDF (A5, Chinese, with the check QR code)."""

    async def work(database: Database, settings: Settings) -> bytes:
        async with database.transaction() as session:
            checked = await check_receipt(session, code, settings=settings)
        return render_receipt_pdf(
            checked, base_url=settings.public_base_url, timezone=settings.timezone
        )

    out.write_bytes(run_with_database(work))
    console.print(f"wrote {out} ({out.stat().st_size} bytes)")
