"""The password-encrypted batch export."""

from __future__ import annotations

import pytest

from tongka.cards import export
from tongka.cards.export import ExportPasswordWrong
from tongka.errors import InvalidRequest

PASSWORD = "correct horse battery"


def _file(rows_by_chunk: list[list[tuple[str, ...]]]) -> str:
    key = export.export_key_from_password(PASSWORD)
    segments = [
        export.seal_segment(key.public_key, "cbt_1", index, export.csv_rows(rows))
        for index, rows in enumerate(rows_by_chunk)
    ]
    return export.build_file(key.header("cbt_1"), segments)


def test_the_right_password_gives_back_every_row_in_order() -> None:
    content = _file(
        [[("6288", "111", "100", "CNY", "none")], [("6289", "222", "100", "CNY", "none")]]
    )
    assert "111" not in content
    assert list(export.decrypt_file(content, PASSWORD)) == [
        export.CSV_HEADER,
        ["6288", "111", "100", "CNY", "none"],
        ["6289", "222", "100", "CNY", "none"],
    ]


def test_a_wrong_password_is_refused() -> None:
    content = _file([[("6288", "111", "100", "CNY", "none")]])
    with pytest.raises(ExportPasswordWrong):
        list(export.decrypt_file(content, "not the password"))


def test_a_segment_moved_to_another_position_does_not_open() -> None:
    key = export.export_key_from_password(PASSWORD)
    segment = export.seal_segment(key.public_key, "cbt_1", 0, b"a,b\n")
    content = export.build_file(key.header("cbt_2"), [segment])
    with pytest.raises(InvalidRequest, match="damaged"):
        list(export.decrypt_file(content, PASSWORD))


def test_a_short_password_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="at least 12"):
        export.export_key_from_password("short")
