"""``tongka reconcile``: a day from files (the channel's bill, the reserve account's bank
statement), streamed, then a table of the runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.reconciliation_support import DAY, add_payments, at, line, payment_row
from tongka.cli import app
from tongka.cli.common import console
from tongka.config import get_settings
from tongka.db import Database, migrate
from tongka.reconciliation.bank import settlement_note
from tongka.reconciliation.writers import BankEntry, bank_statement, wechat_bill


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TONGKA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TONGKA_SECRET_KEY", "cd" * 32)
    get_settings.cache_clear()
    migrate.upgrade(get_settings().resolved_database_url)
    yield tmp_path
    get_settings.cache_clear()


def _seed() -> None:
    async def work() -> None:
        database = Database.from_settings(get_settings())
        try:
            async with database.transaction() as session:
                await add_payments(session, [payment_row("pay_1", 10_000, 60, at())])
        finally:
            await database.dispose()

    asyncio.run(work())


def test_reconcile_files_prints_the_runs(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the table is as wide as it needs: a worker's console may have no terminal to measure
    monkeypatch.setattr(console, "_width", 200)
    _seed()
    bill = data_dir / "wechat.csv"
    bill.write_bytes(b"".join(wechat_bill([line("pay_1", 10_000, 60), line("pay_x", 500, 3)])))
    bank = data_dir / "bank.csv"
    entries = [BankEntry(at(DAY, 10), True, 9_940, settlement_note("wechat", DAY - timedelta(1)))]
    bank.write_bytes(b"".join(bank_statement(entries, opening_minor=0)))

    result = CliRunner().invoke(
        app,
        [
            "reconcile",
            "--date",
            DAY.isoformat(),
            "--channel",
            "wechat",
            "--file",
            str(bill),
            "--bank-file",
            str(bank),
        ],
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 0, result.output
    assert "wechat" in result.output
    assert "long 1" in result.output
    assert "reserve" in result.output
    assert "reserve_balance 1" in result.output
    assert "pay_x" in result.output  # the long line, in the exceptions table


def test_reconcile_refuses_a_bad_date() -> None:
    result = CliRunner().invoke(app, ["reconcile", "--date", "tomorrow"])
    assert result.exit_code == 2
    assert "--date must look like" in result.output
