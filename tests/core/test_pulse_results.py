"""Pulse results: the maths, and that nothing is shown below the threshold."""

from __future__ import annotations

import pytest

from bot.core.anonymity import Withheld, WithheldReason
from bot.core.pulse_results import (
    WHOLE,
    ItemResult,
    ItemSpec,
    ResponseRecord,
    SplitBy,
    compare_cohorts,
    enps,
    item_report,
    item_result,
    round_results,
    summarise,
    trend,
)
from bot.core.vocabulary import PulseItemKind

LIKERT = ItemSpec("energy", PulseItemKind.LIKERT)
SCALE = ItemSpec("recommend", PulseItemKind.SCALE)
CHOICE = ItemSpec("format", PulseItemKind.MULTI, ("talk", "walk", "video"))
TEXT = ItemSpec("note", PulseItemKind.TEXT)


def scores(item: ItemSpec, values: list[int], **attrs: str) -> list[ResponseRecord]:
    return [ResponseRecord(item.key, value_int=v, **attrs) for v in values]


def test_enps_is_promoters_minus_detractors_in_percent() -> None:
    # 3 promoters (9, 10, 10), 2 passives (7, 8), 5 detractors (0..6): (3 - 5) / 10 = -20 %.
    assert enps([9, 10, 10, 7, 8, 0, 3, 5, 6, 6]) == pytest.approx(-20.0)
    assert enps([10] * 4) == 100.0
    assert enps([]) is None


def test_scale_item_has_rate_distribution_mean_and_enps() -> None:
    result = item_result(SCALE, scores(SCALE, [9, 10, 10, 7, 8, 0, 3, 5, 6, 6]), 40, 5)
    assert isinstance(result, ItemResult)
    assert result.respondents == 10 and result.invited == 40
    assert result.response_rate == pytest.approx(0.25)
    assert result.mean == pytest.approx(6.4)
    assert result.enps == pytest.approx(-20.0)
    assert dict(result.distribution) == {
        "0": 1,
        "1": 0,
        "2": 0,
        "3": 1,
        "4": 0,
        "5": 1,
        "6": 2,
        "7": 1,
        "8": 1,
        "9": 1,
        "10": 2,
    }


def test_likert_item_has_a_mean_but_no_enps() -> None:
    result = item_result(LIKERT, scores(LIKERT, [1, 2, 4, 4, 5, 5]), 6, 5)
    assert isinstance(result, ItemResult)
    assert result.mean == pytest.approx(3.5) and result.enps is None
    assert result.response_rate == 1.0
    assert [label for label, _ in result.distribution] == ["1", "2", "3", "4", "5"]


def test_multi_choice_counts_each_option() -> None:
    responses = [
        ResponseRecord("format", value_choices=c)
        for c in [("talk",), ("talk", "walk"), ("walk",), ("talk",), ("video", "talk")]
    ]
    result = summarise(CHOICE, responses, invited=10)
    assert result.distribution == (("talk", 4), ("walk", 2), ("video", 1))
    assert result.respondents == 5 and result.mean is None


def test_four_respondents_are_withheld_numbers_and_texts_alike() -> None:
    result = item_result(LIKERT, scores(LIKERT, [1, 2, 3, 4]), 20, 5)
    assert isinstance(result, Withheld) and result.reason is WithheldReason.TOO_FEW
    texts = [ResponseRecord("note", value_text=t) for t in ["a", "b", "c", "d"]]
    assert isinstance(item_result(TEXT, texts, 20, 5), Withheld)


def test_free_text_list_above_threshold_is_sorted_not_in_answer_order() -> None:
    texts = [ResponseRecord("note", value_text=t) for t in ["pear", "apple", "fig", "kiwi", "date"]]
    result = item_result(TEXT, texts, 9, 5)
    assert isinstance(result, ItemResult)
    assert result.texts == ("apple", "date", "fig", "kiwi", "pear")


def test_split_by_unit_gates_each_unit_and_blocks_the_complement() -> None:
    responses = (
        scores(LIKERT, [4] * 12, unit="Skole")
        + scores(LIKERT, [3] * 8, unit="Kultur")
        + scores(LIKERT, [5] * 10, unit="Teknisk")
        + scores(LIKERT, [1, 2], unit="Helse")
    )
    invited = {WHOLE: 40, "Skole": 15, "Kultur": 10, "Teknisk": 10, "Helse": 5}
    report = item_report(LIKERT, responses, invited, 5, SplitBy.UNIT)
    assert isinstance(report.whole, ItemResult) and report.whole.respondents == 32
    parts = dict(report.parts)
    assert isinstance(parts["Helse"], Withheld)  # 2 respondents
    assert isinstance(parts["Kultur"], Withheld)  # else Helse = whole - the rest
    assert isinstance(parts["Skole"], ItemResult) and parts["Skole"].mean == 4.0
    assert isinstance(parts["Teknisk"], ItemResult)
    assert parts["Skole"].response_rate == pytest.approx(0.8)


def test_responses_without_a_unit_count_for_the_complement() -> None:
    responses = (
        scores(LIKERT, [4] * 10, unit="A")
        + scores(LIKERT, [2] * 9, unit="B")
        + scores(LIKERT, [1, 1])
    )
    report = item_report(LIKERT, responses, {WHOLE: 30, "A": 12, "B": 12}, 5, SplitBy.UNIT)
    parts = dict(report.parts)
    assert set(parts) == {"A", "B"}
    assert isinstance(parts["B"], Withheld) and isinstance(parts["A"], ItemResult)


def test_round_results_cover_every_item() -> None:
    responses = scores(LIKERT, [3] * 6) + scores(SCALE, [9] * 3)
    reports = round_results([LIKERT, SCALE], responses, {WHOLE: 10}, 5)
    assert [r.item.key for r in reports] == ["energy", "recommend"]
    assert isinstance(reports[0].whole, ItemResult)
    assert isinstance(reports[1].whole, Withheld)


def test_trend_lists_each_round_mean_or_withheld_in_order() -> None:
    rounds = [
        (2, item_result(SCALE, scores(SCALE, [10] * 5), 10, 5)),
        (1, item_result(SCALE, scores(SCALE, [5, 6, 7, 8, 9]), 10, 5)),
        (3, item_result(SCALE, scores(SCALE, [10, 10]), 10, 5)),
    ]
    points = trend(rounds)
    assert [p.round_number for p in points] == [1, 2, 3]
    assert points[0].mean == pytest.approx(7.0) and points[0].enps == pytest.approx(-20.0)
    assert points[1].mean == 10.0 and points[1].enps == 100.0 and points[1].response_rate == 0.5
    assert isinstance(points[2].mean, Withheld) and isinstance(points[2].enps, Withheld)


def test_cohorts_side_by_side_each_gated() -> None:
    responses = (
        scores(SCALE, [9, 9, 10, 10, 8, 7], cohort="pilot-A")
        + scores(SCALE, [3, 5, 6, 7, 9], cohort="pilot-B")
        + scores(SCALE, [10, 10, 10], cohort="pilot-C")
        + scores(SCALE, [6] * 7, cohort="control")
    )
    invited = {WHOLE: 30, "pilot-A": 8, "pilot-B": 8, "pilot-C": 6, "control": 8}
    columns = dict(compare_cohorts(SCALE, responses, invited, 5))
    assert list(columns) == ["control", "pilot-A", "pilot-B", "pilot-C"]
    a, control = columns["pilot-A"], columns["control"]
    assert isinstance(a, ItemResult) and a.enps == pytest.approx(100 * 4 / 6)
    assert isinstance(control, ItemResult) and control.enps == -100.0 and control.mean == 6.0
    assert columns["pilot-C"] == Withheld(WithheldReason.TOO_FEW, 5)  # 3 respondents
    # pilot-B (5) would be enough alone, but with it shown pilot-C = total - the others.
    assert columns["pilot-B"] == Withheld(WithheldReason.COMPLEMENT, 5)
