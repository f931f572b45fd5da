"""``tongka demo`` seeds the ledger idempotently; ``tongka ledger verify`` and ``export``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tongka.cli import app
from tongka.config import get_settings
from tongka.db import migrate

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated SQLite database in a fresh data directory, used by the CLI."""
    monkeypatch.setenv("TONGKA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TONGKA_SECRET_KEY", "cd" * 32)
    monkeypatch.delenv("TONGKA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    migrate.upgrade(get_settings().resolved_database_url)
    yield tmp_path
    get_settings.cache_clear()


def test_demo_twice_then_verify_and_export(data_dir: Path) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    assert runner.invoke(app, ["demo"]).exit_code == 0  # idempotent

    verified = runner.invoke(app, ["ledger", "verify"])
    exported = runner.invoke(
        app,
        ["ledger", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--format", "csv"],
    )

    assert verified.exit_code == 0, verified.output
    assert "hash chain recomputes" in verified.output
    assert "the books are in order" in verified.output
    assert exported.exit_code == 0, exported.output
    ledger_lines = [line for line in exported.output.splitlines() if "demo:cards:" not in line]
    # header + the ledger's 5 transfers and the sales demo's 5 paid orders, 2 lines each
    assert len(ledger_lines) == 1 + 2 * 5 + 2 * 5


def test_verify_exits_non_zero_naming_the_breach(data_dir: Path) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    with sqlite3.connect(data_dir / "tongka.db") as connection:
        connection.execute(
            "UPDATE ledger_balances SET credits_posted = credits_posted + 1 "
            "WHERE account_id = 'demo:card:2'"
        )

    verified = runner.invoke(app, ["ledger", "verify"])

    assert verified.exit_code == 1
    assert "breach stored balances equal the sum of transfers" in verified.output
    assert "demo:card:2" in verified.output


def test_export_refuses_an_unknown_format(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["ledger", "export", "--from", "2026-01-01", "--to", "2026-01-02", "--format", "xls"]
    )
    assert result.exit_code == 2
