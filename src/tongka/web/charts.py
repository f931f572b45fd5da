"""Server-side SVG charts for the console's home pages: no script, no CDN.

Pure functions from numbers to SVG markup (``Markup``, safe to put in a template as is):
``bar_chart`` (one series) and ``line_chart`` (one or more series, the first one filled as
an area). Every chart has a ``viewBox`` and no fixed size, so it scales to its container
(``svg.chart { width: 100%; height: auto }`` in console.css); an accessible ``<title>`` and
``<desc>`` (``role="img"``); a y axis with round ticks from zero and x labels thinned to
fit. Texts (title, labels, series names) come translated from the caller; every text is
escaped here.

Values are integers — counts, or money as integer minor units with a ``value_format`` that
shows them in yuan — never floats: the only floats here are SVG coordinates.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 56
MARGIN_RIGHT = 12
MARGIN_TOP = 28  # room for the legend above the plot
MARGIN_BOTTOM = 28
TICKS = 5  # with a 1, 2 or 5 top, every tick is a round number
MAX_X_LABELS = 8
MAX_BAR_WIDTH = 64
COLOURS = ("#c8102e", "#2b6cb0", "#1b7f3b", "#b7791f")
_ids = itertools.count(1)


@dataclass(frozen=True)
class Series:
    """A named row of values, one per x label."""

    name: str
    values: Sequence[int]


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 x 10^k at least ``value`` (the top of the y axis); 1 for 0."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def axis_top(values: Sequence[int]) -> int:
    """The top of the y axis: round, and at least ``TICKS``, so that every tick is a whole
    number (no "1.6 cards"; a top of 5, 10, 20, 50… splits into whole fifths)."""
    return max(nice_ceiling(max(values, default=0)), TICKS)


def _plain(value: int) -> str:
    return f"{value:,}"


def _number(coordinate: float) -> str:
    """An SVG coordinate, short (no more than a tenth of a pixel is needed)."""
    return f"{coordinate:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class _Frame:
    """The plotting area and the y scale shared by both kinds of chart."""

    count: int
    top: int

    @property
    def plot_width(self) -> float:
        return WIDTH - MARGIN_LEFT - MARGIN_RIGHT

    @property
    def plot_height(self) -> float:
        return HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def y(self, value: int) -> float:
        return MARGIN_TOP + self.plot_height * (1 - max(value, 0) / self.top)

    def slot(self) -> float:
        return self.plot_width / max(self.count, 1)

    def x_centre(self, index: int) -> float:
        return MARGIN_LEFT + self.slot() * (index + 0.5)


def _axes(frame: _Frame, labels: Sequence[str], value_format: Callable[[int], str]) -> list[str]:
    parts = []
    for tick in range(TICKS + 1):
        value = frame.top * tick // TICKS  # exact: the top is a multiple of TICKS
        y = _number(frame.y(value))
        parts.append(
            f'<line class="grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y}" y2="{y}"'
            ' stroke="#dde3ea" stroke-width="1"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y}" text-anchor="end" dominant-baseline="middle"'
            f' font-size="12" fill="#66758a">{escape(value_format(value))}</text>'
        )
    every = max(1, -(-len(labels) // MAX_X_LABELS))  # ceiling division
    for index, text in enumerate(labels):
        if (len(labels) - 1 - index) % every == 0:  # evenly spaced, the latest always shown
            parts.append(
                f'<text x="{_number(frame.x_centre(index))}" y="{HEIGHT - 8}"'
                f' text-anchor="middle" font-size="12" fill="#66758a">{escape(text)}</text>'
            )
    return parts


def _svg(title: str, description: str, body: list[str]) -> Markup:
    chart_id = f"chart-{next(_ids)}"
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc"'
        ' xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _description(labels: Sequence[str], series: Sequence[Series], fmt: Callable[..., str]) -> str:
    """The data in words, for screen readers (label: value per point)."""
    return "; ".join(
        f"{one.name}: "
        + ", ".join(
            f"{label} {fmt(value)}" for label, value in zip(labels, one.values, strict=True)
        )
        for one in series
    )


def bar_chart(
    labels: Sequence[str],
    values: Sequence[int],
    *,
    title: str,
    value_format: Callable[[int], str] = _plain,
) -> Markup:
    """One bar per label, heights from zero to a round top."""
    if len(labels) != len(values):
        raise ValueError("bar_chart needs one value per label")
    frame = _Frame(count=len(values), top=axis_top(values))
    body = _axes(frame, labels, value_format)
    bar_width = min(frame.slot() * 0.7, MAX_BAR_WIDTH)
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        top = frame.y(value)
        body.append(
            f'<rect x="{_number(frame.x_centre(index) - bar_width / 2)}" y="{_number(top)}"'
            f' width="{_number(bar_width)}" height="{_number(frame.y(0) - top)}"'
            f' fill="{COLOURS[0]}" rx="2"><title>{escape(label)}: {escape(value_format(value))}'
            "</title></rect>"
        )
    series = [Series(title, values)]
    return _svg(title, _description(labels, series, value_format), body)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    value_format: Callable[[int], str] = _plain,
) -> Markup:
    """A line per series over the labels; the first series is filled as an area. A legend
    names the series when there is more than one."""
    if any(len(one.values) != len(labels) for one in series):
        raise ValueError("line_chart needs one value per label in every series")
    frame = _Frame(count=len(labels), top=axis_top([v for one in series for v in one.values]))
    body = _axes(frame, labels, value_format)
    for number, one in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        points = [
            f"{_number(frame.x_centre(i))},{_number(frame.y(v))}" for i, v in enumerate(one.values)
        ]
        if number == 0 and points:
            base = _number(frame.y(0))
            first, last = _number(frame.x_centre(0)), _number(frame.x_centre(len(points) - 1))
            area = f"{first},{base} " + " ".join(points) + f" {last},{base}"
            body.append(f'<polygon points="{area}" fill="{colour}" fill-opacity="0.12"/>')
        body.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}"'
            ' stroke-width="2" stroke-linejoin="round"/>'
        )
    if len(series) > 1:
        for number, one in enumerate(series):
            x = MARGIN_LEFT + 8 + number * 120
            colour = COLOURS[number % len(COLOURS)]
            body.append(
                f'<rect x="{x}" y="6" width="10" height="10" fill="{colour}"/>'
                f'<text x="{x + 14}" y="15" font-size="12" fill="#1f2933">'
                f"{escape(one.name)}</text>"
            )
    return _svg(title, _description(labels, series, value_format), body)
