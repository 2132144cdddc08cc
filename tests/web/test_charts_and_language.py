"""Pure parts of the dashboard: language choice and chart geometry."""

from __future__ import annotations

import pytest

from bot.web.dashboard.charts import HEIGHT, MARGIN_BOTTOM, bar_chart, line_chart
from bot.web.dashboard.templating import choose_locale


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("nb-NO,nb;q=0.9,en;q=0.8", "nb"),
        ("no", "nb"),
        ("nn-NO,nb;q=0.5", "nn"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE,de;q=0.9,en;q=0.3", "en"),
        ("en;q=0.2,nn;q=0.8", "nn"),
        ("fr", "nb"),
        ("", "nb"),
        (None, "nb"),
        ("en;q=bad,nn", "nn"),
    ],
)
def test_the_browser_language_picks_one_of_ours(header: str | None, expected: str) -> None:
    assert choose_locale(header) == expected


def test_bars_share_one_scale_and_stand_on_the_baseline() -> None:
    chart = bar_chart([("1", 0), ("2", 2), ("3", 4)])
    empty, half, full = chart.bars
    assert chart.top == 4
    assert empty.height == 0 and half.height == pytest.approx(full.height / 2, abs=0.1)
    for bar in chart.bars:
        assert bar.y + bar.height == pytest.approx(HEIGHT - MARGIN_BOTTOM, abs=0.1)
    assert empty.x < half.x < full.x


def test_an_all_zero_distribution_draws_no_bars_and_no_division_by_zero() -> None:
    chart = bar_chart([("a", 0), ("b", 0)])
    assert [bar.height for bar in chart.bars] == [0, 0]


def test_withheld_rounds_break_the_trend_line() -> None:
    chart = line_chart([("#1", 3.0), ("#2", 4.0), ("#3", None), ("#4", 2.0), ("#5", 5.0)], 1, 5)
    assert len(chart.segments) == 2
    assert [p.y is None for p in chart.points] == [False, False, True, False, False]
    top, bottom = chart.points[4].y, chart.points[0].y
    assert top is not None and bottom is not None and top < bottom  # higher means up
    lone = line_chart([("#1", None), ("#2", 4.0), ("#3", None)], 1, 5)
    assert lone.segments == () and lone.points[1].y is not None
