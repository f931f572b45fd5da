"""``tongka cards``: a batch issued from the command line, its export decrypted, expiry."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tongka.cards import numbers, service
from tongka.cards.keys import card_keys
from tongka.cards.validity import end_of_business_date
from tongka.cli import app
from tongka.config import get_settings
from tongka.db import Database, migrate

runner = CliRunner()
PASSWORD = "a long export password"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TONGKA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TONGKA_SECRET_KEY", "cd" * 32)
    monkeypatch.setenv("TONGKA_EXPORT_PASSWORD", PASSWORD)
    monkeypatch.delenv("TONGKA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    migrate.upgrade(get_settings().resolved_database_url)
    yield tmp_path
    get_settings.cache_clear()


def test_a_batch_from_the_command_line_decrypts_to_working_cards(data_dir: Path) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    demo = json.loads((data_dir / "demo.json").read_text())
    product_id = demo["cards"]["62880101"]["product_id"]
    export_file = data_dir / "batch.tkx"

    issued = runner.invoke(
        app,
        [
            "cards",
            "issue-batch",
            "--product",
            product_id,
            "--count",
            "7",
            "--face-value",
            "10000",
            "--output",
            str(export_file),
        ],
    )
    decrypted = runner.invoke(app, ["cards", "decrypt-export", str(export_file)])
    production = runner.invoke(app, ["cards", "decrypt-export", str(export_file), "--production"])

    assert issued.exit_code == 0, issued.output
    assert decrypted.exit_code == 0, decrypted.output
    rows = list(csv.reader(io.StringIO(decrypted.stdout)))
    assert rows[0] == ["number", "secret", "face_value", "currency", "expiry"]
    assert len(rows) == 8
    assert all(numbers.luhn_is_valid(row[0]) and row[0].startswith("62880101") for row in rows[1:])
    printed = list(csv.reader(io.StringIO(production.stdout)))
    assert printed[1][0] == " ".join(rows[1][0][i : i + 4] for i in range(0, 16, 4))
    again = runner.invoke(
        app, ["cards", "issue-batch", "--resume", "cbt_x", "--output", str(export_file)]
    )
    assert again.exit_code == 1


def test_a_wrong_password_is_refused(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    product_id = json.loads((data_dir / "demo.json").read_text())["cards"]["62880101"]["product_id"]
    export_file = data_dir / "batch.tkx"
    runner.invoke(
        app,
        [
            "cards",
            "issue-batch",
            "--product",
            product_id,
            "--count",
            "1",
            "--face-value",
            "10000",
            "--output",
            str(export_file),
        ],
    )
    monkeypatch.setenv("TONGKA_EXPORT_PASSWORD", "not the right password")
    refused = runner.invoke(app, ["cards", "decrypt-export", str(export_file)])
    assert refused.exit_code == 1
    assert "export_password_wrong" in refused.output


def test_expire_back_fills_a_business_date(data_dir: Path) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    result = runner.invoke(app, ["cards", "expire", "--date", "2099-12-31"])
    assert result.exit_code == 0, result.output
    # the four demo cards, the sales demo's two e-cards and the settled week's two, long
    # past 36 months
    assert "8 cards handled" in result.output


def test_a_business_date_ends_at_midnight_in_shanghai() -> None:
    assert end_of_business_date(date(2026, 11, 23), "Asia/Shanghai").astimezone(UTC) == datetime(
        2026, 11, 23, 15, 59, 59, 999999, tzinfo=UTC
    )


def test_the_demo_cards_answer_the_balance_inquiry(data_dir: Path) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    cards = json.loads((data_dir / "demo.json").read_text())["cards"]
    settings = get_settings()

    async def inquire(number: str, secret: str) -> int:
        database = Database.from_settings(settings)
        try:
            answer = await service.inquire_balance(
                database,
                number,
                secret,
                client="test",
                keys=card_keys(settings),
                now=datetime.now(UTC),
            )
        finally:
            await database.dispose()
        return answer.balance.total

    for product in cards.values():
        for card in product["cards"]:
            expected = card["balance"]["paid"] + card["balance"]["bonus"]
            assert asyncio.run(inquire(card["number"], card["secret"])) == expected
    assert (
        cards["62880103"]["holder_id"]
        == json.loads((data_dir / "demo.json").read_text())["consumer"]["id"]
    )
