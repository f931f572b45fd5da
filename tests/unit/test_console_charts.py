"""The console's SVG charts: pure functions, so their markup is checked exactly enough."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from tongka.web.charts import Series, bar_chart, line_chart, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0, 1),
        (1, 1),
        (3, 5),
        (7, 10),
        (10, 10),
        (11, 20),
        (150, 200),
        (999, 1000),
        (123_456, 200_000),
    ],
)
def test_the_y_axis_ends_at_a_round_number(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling  # integers: counts, or money in minor units


def test_counts_get_whole_number_ticks() -> None:
    root = ElementTree.fromstring(str(bar_chart(["正常"], [2], title="商户")))
    assert [text.text for text in root.findall(f"{SVG}text")][:6] == ["0", "1", "2", "3", "4", "5"]
    (bar,) = root.findall(f"{SVG}rect")
    assert float(bar.get("width")) == 64  # one bar does not fill the whole chart


def test_a_bar_chart_is_accessible_scalable_svg_with_axis_labels() -> None:
    svg = bar_chart(["待审核", "已通过"], [3, 7], title="商户 <状态>")
    root = ElementTree.fromstring(str(svg))  # well-formed, every text escaped
    assert root.get("viewBox") == "0 0 640 240"
    assert root.get("width") is None  # sized by its container (CSS)
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby", "").split()
    assert root.find(f"{SVG}title").text == "商户 <状态>"
    assert root.find(f"{SVG}title").get("id") == title_id
    assert root.find(f"{SVG}desc").get("id") == desc_id
    assert "待审核 3" in root.find(f"{SVG}desc").text
    bars = root.findall(f"{SVG}rect")
    assert [bar.find(f"{SVG}title").text for bar in bars] == ["待审核: 3", "已通过: 7"]
    # heights in proportion: the axis tops at 10, the plot is 200 high
    assert [float(bar.get("height")) for bar in bars] == [55.2, 128.8]
    ticks = [text.text for text in root.findall(f"{SVG}text")]
    assert ticks[:6] == ["0", "2", "4", "6", "8", "10"]
    assert "待审核" in ticks
    assert "已通过" in ticks


def test_a_line_chart_fills_its_first_series_and_names_them_all() -> None:
    labels = [f"11-{day:02d}" for day in range(1, 31)]
    svg = line_chart(
        labels,
        [Series("发卡", [day % 4 for day in range(30)]), Series("交易", [1] * 30)],
        title="近 30 日",
        value_format=lambda value: f"{value:.0f}",
    )
    root = ElementTree.fromstring(str(svg))
    assert len(root.findall(f"{SVG}polyline")) == 2
    assert len(root.findall(f"{SVG}polygon")) == 1
    shown = [text.text for text in root.findall(f"{SVG}text")]
    assert "发卡" in shown
    assert "交易" in shown
    x_labels = [label for label in shown if label and re.fullmatch(r"11-\d\d", label)]
    assert x_labels == ["11-02", "11-06", "11-10", "11-14", "11-18", "11-22", "11-26", "11-30"]


def test_a_chart_refuses_values_that_do_not_match_the_labels() -> None:
    with pytest.raises(ValueError, match="one value per label"):
        bar_chart(["a"], [1, 2], title="x")
    with pytest.raises(ValueError, match="one value per label"):
        line_chart(["a", "b"], [Series("s", [1])], title="x")


def test_an_empty_chart_is_still_a_chart() -> None:
    root = ElementTree.fromstring(str(bar_chart([], [], title="空")))
    assert root.find(f"{SVG}title").text == "空"
    assert root.findall(f"{SVG}rect") == []
