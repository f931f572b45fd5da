"""``tongka``: the command line. Each part adds its sub-commands in its own module."""

from __future__ import annotations

import typer

from tongka.cli import cards, db, jobs, ledger, payments, receipts, server, settlement
from tongka.cli import reconcile as reconcile_cli
from tongka.cli import sandbox as sandbox_cli

app = typer.Typer(
    name="tongka",
    help="Tongka (通卡): prepaid stored-value card platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(ledger.app, name="ledger")
app.add_typer(cards.app, name="cards")
app.add_typer(jobs.app, name="jobs")
app.add_typer(settlement.app, name="settlement")
app.add_typer(payments.app, name="payments")
app.add_typer(receipts.app, name="receipts")
server.register(app)
sandbox_cli.register(app)
reconcile_cli.register(app)


def main() -> None:
    app()
