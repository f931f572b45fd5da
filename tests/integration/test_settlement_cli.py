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


def test_payouts_are_held_and_released_with_a_reason(data_dir: Path) -> None:
    held = runner.invoke(app, ["settlement", "hold", "mch_x", "--reason", "风控复核"])
    released = runner.invoke(
        app, ["settlement", "hold", "mch_x", "--reason", "复核通过", "--release"]
    )
    assert held.exit_code == 0, held.output
    assert "payouts held" in held.output
    assert released.exit_code == 0, released.output
    assert "payouts released" in released.output
    assert runner.invoke(app, ["settlement", "hold", "mch_x", "--reason", " "]).exit_code == 1


def test_a_payout_file_and_its_result_file(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tongka.payments.sandbox.batch_payouts import BatchDesk
    from tongka.payments.sandbox.payouts import PayoutSimulator

    assert runner.invoke(app, ["demo"]).exit_code == 0
    out = data_dir / "pay.csv"
    args = ["settlement", "payout-file", "--date", "2030-01-02", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 2  # the channel is http (the default)
    monkeypatch.setenv("TONGKA_PAYOUT_CHANNEL", "file")
    get_settings.cache_clear()
    made = runner.invoke(app, args)
    assert made.exit_code == 0, made.output
    assert "PAY20300102:" in made.output
    assert out.read_bytes().decode("gb18030").startswith("序号,收款账号,收款户名")
    assert runner.invoke(app, args).exit_code == 0
    desk = BatchDesk(PayoutSimulator())
    desk.receive("PAY20300102", out.read_bytes())
    results = data_dir / "result.csv"
    results.write_bytes(desk.result("PAY20300102") or b"")
    first = runner.invoke(app, ["settlement", "payout-results", str(results)])
    again = runner.invoke(app, ["settlement", "payout-results", str(results)])
    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    assert " 0 paid" in again.output
    results.write_bytes("序号,业务参考号\n".encode("gb18030"))
    refused = runner.invoke(app, ["settlement", "payout-results", str(results)])
    assert refused.exit_code == 1
    assert "payout_results_invalid" in refused.output
