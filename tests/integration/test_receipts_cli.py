"""``tongka receipts show`` / ``pdf``: the verified receipt, or exit 1 naming why not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from tests.receipts_support import issued, pdf_text
from tongka.cli import app
from tongka.clock import FixedClock
from tongka.config import Settings, get_settings
from tongka.db import Database, migrate
from tongka.sales.receipts import Receipt

runner = CliRunner()


@pytest.fixture
def cli_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("TONGKA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TONGKA_SECRET_KEY", "cd" * 32)
    monkeypatch.setenv("TONGKA_PUBLIC_BASE_URL", "https://tongka.example")
    monkeypatch.delenv("TONGKA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    migrate.upgrade(get_settings().resolved_database_url)
    yield get_settings()
    get_settings.cache_clear()


def _issue(settings: Settings) -> Receipt:
    async def run() -> Receipt:
        database = Database.from_settings(settings)
        try:
            return await issued(database, settings, FixedClock().now())
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_show_and_pdf_of_a_receipt(cli_settings: Settings, tmp_path: Path) -> None:
    receipt = _issue(cli_settings)
    shown = runner.invoke(app, ["receipts", "show", receipt.code.lower()])
    assert shown.exit_code == 0, shown.output
    assert "verified" in shown.output
    assert "上海测试百货有限公司" in shown.output
    assert "¥1,000.00" in shown.output
    out = tmp_path / "receipt.pdf"
    written = runner.invoke(app, ["receipts", "pdf", receipt.code, "--out", str(out)])
    assert written.exit_code == 0, written.output
    text = pdf_text(out.read_bytes())
    assert "电子回单" in text
    assert f"https://tongka.example/console/receipts/{receipt.code}" in text


def test_an_unknown_or_altered_receipt_exits_1(cli_settings: Settings, tmp_path: Path) -> None:
    receipt = _issue(cli_settings)
    unknown = runner.invoke(app, ["receipts", "show", "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ"])
    assert unknown.exit_code == 1
    assert "receipt_not_found" in unknown.output

    async def tamper() -> None:
        database = Database.from_settings(cli_settings)
        try:
            async with database.transaction() as session:
                await session.execute(
                    update(Receipt).where(Receipt.id == receipt.id).values(amount_minor=1)
                )
        finally:
            await database.dispose()

    asyncio.run(tamper())
    out = tmp_path / "altered.pdf"
    altered = runner.invoke(app, ["receipts", "pdf", receipt.code, "--out", str(out)])
    assert altered.exit_code == 1
    assert "receipt_not_verified" in altered.output
    assert not out.exists()
