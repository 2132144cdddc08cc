"""Anonymity: the threshold, differencing between splits, and complementary splits."""

from __future__ import annotations

import pytest

from bot.core.anonymity import (
    DEFAULT_MIN_RESPONSES,
    Split,
    WithheldReason,
    check_min_responses,
    disclose,
    effective_min_responses,
)
from bot.core.problems import InvalidInput


def units(total: int, **parts: int) -> list[Split]:
    return [Split("all", total)] + [
        Split(name, n, parent="all", partition="unit") for name, n in parts.items()
    ]


def test_split_with_4_respondents_is_withheld_at_threshold_5() -> None:
    result = disclose([Split("unit:Helse", 4)], min_responses=5)
    assert result.shown == frozenset()
    verdict = result.verdict("unit:Helse")
    assert verdict is not None and verdict.reason is WithheldReason.TOO_FEW
    assert "fewer than 5" in verdict.explain()


def test_split_with_5_respondents_is_shown() -> None:
    assert disclose([Split("unit:Helse", 5)], 5).shown == {"unit:Helse"}


def test_all_minus_one_unit_is_withheld_when_the_unit_is_small() -> None:
    # 30 answered; "everyone but Skole" has 27: subtracting would expose Skole's 3 answers.
    splits = [Split("all", 30), Split("all-but:Skole", 27, parent="all")]
    result = disclose(splits, 5)
    assert result.shown == {"all"}
    verdict = result.verdict("all-but:Skole")
    assert verdict is not None and verdict.reason is WithheldReason.DIFFERENCING


def test_child_far_enough_from_parent_is_shown() -> None:
    splits = [Split("all", 30), Split("all-but:Skole", 25, parent="all")]
    assert disclose(splits, 5).shown == {"all", "all-but:Skole"}


def test_child_identical_to_parent_gives_nothing_away() -> None:
    assert disclose([Split("all", 9), Split("c", 9, parent="all")], 5).shown == {"all", "c"}


def test_one_small_unit_hidden_takes_the_smallest_other_unit_with_it() -> None:
    # Helse (2) is too small; showing all other units would let anyone derive it from the total.
    result = disclose(units(32, Helse=2, Skole=12, Kultur=8, Teknisk=10), 5)
    assert result.shown == {"all", "Skole", "Teknisk"}
    assert result.withheld["Helse"].reason is WithheldReason.TOO_FEW
    assert result.withheld["Kultur"].reason is WithheldReason.COMPLEMENT


def test_complement_grows_until_the_hidden_parts_reach_the_threshold() -> None:
    result = disclose(units(19, A=1, B=1, C=5, D=6, E=6), 5)
    # Hidden A+B = 2; hiding C too makes 7 >= 5.
    assert result.shown == {"all", "D", "E"}


def test_hidden_unrequested_parts_count_for_the_complement() -> None:
    result = disclose(units(24, A=3, B=10, C=11), 5, requested=["all", "B", "C"])
    assert result.shown == {"all", "C"}
    assert result.withheld["B"].reason is WithheldReason.COMPLEMENT


def test_parts_are_shown_when_the_parent_is_not() -> None:
    result = disclose(units(24, A=4, B=10, C=10), 5, requested=["B", "C"])
    assert result.shown == {"B", "C"}


def test_empty_unrequested_part_hides_nothing() -> None:
    assert disclose(units(20, A=0, B=10, C=10), 5).shown == {"all", "B", "C"}


def test_threshold_below_3_is_rejected_with_where_and_what() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_min_responses(2, where="programme.yaml:14:20")
    message = str(caught.value)
    assert message.startswith("programme.yaml:14:20: ")
    assert "at least 3" in message and "got 2" in message
    assert check_min_responses(3) == 3


def test_threshold_is_clamped_when_applied() -> None:
    assert effective_min_responses(None) == DEFAULT_MIN_RESPONSES == 5
    assert effective_min_responses(1) == 3
    result = disclose([Split("x", 2), Split("y", 3)], min_responses=1)
    assert result.shown == {"y"}


def test_unknown_parent_or_request_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown parent"):
        disclose([Split("x", 5, parent="nope")], 5)
    with pytest.raises(ValueError, match="unknown splits"):
        disclose([Split("x", 5)], 5, requested=["y"])
