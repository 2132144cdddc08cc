"""Geometry of the dashboard's SVG charts, computed on the server so no script is needed.

The templates draw these shapes; every chart also gets a data table for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 480
HEIGHT = 200
MARGIN_LEFT = 36
MARGIN_BOTTOM = 28
MARGIN_TOP = 22
INSET = 24  # keeps the first and last trend points off the axes
MARGIN_RIGHT = 12


@dataclass(frozen=True)
class Bar:
    """One bar of a distribution: its label, count and rectangle."""

    label: str
    count: int
    x: float
    y: float
    width: float
    height: float

    @property
    def centre(self) -> float:
        """Return the bar's horizontal middle, for its label."""
        return self.x + self.width / 2


@dataclass(frozen=True)
class BarChart:
    """A distribution as bars, with the largest count for the axis."""

    bars: tuple[Bar, ...]
    top: int
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - MARGIN_BOTTOM
    left: float = MARGIN_LEFT
    top_y: float = MARGIN_TOP


@dataclass(frozen=True)
class Point:
    """A round on the trend line: its number, value and position (None when withheld)."""

    label: str
    value: float | None
    x: float
    y: float | None


@dataclass(frozen=True)
class LineChart:
    """A trend as points joined where consecutive rounds are shown."""

    points: tuple[Point, ...]
    segments: tuple[str, ...]  # SVG polyline point lists
    low: float
    high: float
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - MARGIN_BOTTOM
    left: float = MARGIN_LEFT
    top_y: float = MARGIN_TOP


def bar_chart(distribution: Sequence[tuple[str, int]]) -> BarChart:
    """Lay out bars for (label, count) pairs on a shared scale."""
    top = max((count for _label, count in distribution), default=0) or 1
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_width / max(len(distribution), 1)
    bars = []
    for index, (label, count) in enumerate(distribution):
        height = plot_height * count / top
        bars.append(
            Bar(
                label=label,
                count=count,
                x=round(MARGIN_LEFT + index * slot + slot * 0.15, 1),
                y=round(HEIGHT - MARGIN_BOTTOM - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
            )
        )
    return BarChart(tuple(bars), top)


def line_chart(values: Sequence[tuple[str, float | None]], low: float, high: float) -> LineChart:
    """Lay out a trend on a fixed scale; None values leave a gap in the line."""
    span = (high - low) or 1.0
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT - 2 * INSET
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    step = plot_width / max(len(values) - 1, 1)
    points = []
    for index, (label, value) in enumerate(values):
        offset = index * step if len(values) > 1 else plot_width / 2
        x = round(MARGIN_LEFT + INSET + offset, 1)
        y = None
        if value is not None:
            clamped = min(max(value, low), high)
            y = round(HEIGHT - MARGIN_BOTTOM - plot_height * (clamped - low) / span, 1)
        points.append(Point(label, value, x, y))
    segments: list[str] = []
    run: list[str] = []
    for point in points:
        if point.y is None:
            if len(run) > 1:
                segments.append(" ".join(run))
            run = []
            continue
        run.append(f"{point.x},{point.y}")
    if len(run) > 1:
        segments.append(" ".join(run))
    return LineChart(tuple(points), tuple(segments), low, high)
