"""``tongka settlement run --date`` and ``calendar-set``."""

from __future__ import annotations

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
    monkeypatch.setenv("TONGKA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TONGKA_SECRET_KEY", "cd" * 32)
    monkeypatch.delenv("TONGKA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    migrate.upgrade(get_settings().resolved_database_url)
    yield tmp_path
    get_settings.cache_clear()


def test_a_run_reports_what_it_did_and_twice_builds_nothing_new(data_dir: Path) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    first = runner.invoke(app, ["settlement", "run", "--date", "2026-10-09"])
    again = runner.invoke(app, ["settlement", "run", "--date", "2026-10-09"])
    assert first.exit_code == 0, first.output
    assert "batches built" in first.output
    assert again.exit_code == 0, again.output
    assert "2026-10-09: 0 batches built" in again.output


def test_a_day_made_a_holiday_is_not_settled(data_dir: Path) -> None:
    marked = runner.invoke(
        app, ["settlement", "calendar-set", "2026-10-09", "--name", "临时休假", "--day-off"]
    )
    refused = runner.invoke(app, ["settlement", "run", "--date", "2026-10-09"])
    assert marked.exit_code == 0, marked.output
    assert refused.exit_code == 1
    assert "not_a_business_day" in refused.output


def test_a_bad_date_is_a_usage_error(data_dir: Path) -> None:
    assert runner.invoke(app, ["settlement", "run", "--date", "10/09"]).exit_code == 2
