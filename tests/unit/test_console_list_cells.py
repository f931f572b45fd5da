"""The list component's CSV cells (``tongka.web.lists``): people's formats, spreadsheet-safe."""

from __future__ import annotations

from datetime import UTC, datetime

from tongka.web.lists import Label, _CsvWriter, money


def test_cells_are_written_for_people_and_never_run_as_formulas() -> None:
    writer = _CsvWriter("zh-CN", "Asia/Shanghai")
    assert writer.cell(datetime(2026, 1, 1, 16, 30, tzinfo=UTC)) == "2026-01-02 00:30:00"
    assert writer.cell(money(55_000, "CNY")) == "550.00"
    assert writer.cell(money(None, "CNY")) == ""
    assert writer.cell(Label("card_status", "frozen")) == "已冻结"
    assert _CsvWriter("en", "UTC").cell(Label("card_status", "frozen")) == "Frozen"
    assert writer.cell(None) == ""
    for formula in ("=HYPERLINK(1)", "+1", "-2", "@SUM(A1)"):
        assert writer.cell(formula) == f"'{formula}"
    assert writer.line(["a,b", '"x"']) == '"a,b","""x"""\r\n'
