"""Checking raw pulse answers: ranges, options, and the text truncation rule."""

from __future__ import annotations

import pytest

from bot.core.pulse_values import ELLIPSIS, InvalidPulseValue, truncate, validate
from bot.core.vocabulary import PulseItemKind

OPTIONS = ("a", "b", "c")


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [("likert", "4", 4), ("likert", 1, 1), ("scale", " 0 ", 0), ("scale", 10, 10)],
)
def test_numbers_in_range_are_accepted(kind: str, raw: str | int, value: int) -> None:
    assert validate(kind, raw).value_int == value


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("likert", 6, "6 is out of range: expected a whole number from 1 to 5"),
        ("likert", "0", "0 is out of range: expected a whole number from 1 to 5"),
        ("scale", 11, "11 is out of range: expected a whole number from 0 to 10"),
        ("scale", "-1", "-1 is out of range: expected a whole number from 0 to 10"),
        ("scale", "7.5", "expected a whole number from 0 to 10, got '7.5'"),
        ("likert", True, "expected a whole number from 1 to 5, got True"),
    ],
)
def test_out_of_range_number_is_rejected_clearly(kind: str, raw: str | int, expected: str) -> None:
    with pytest.raises(InvalidPulseValue) as caught:
        validate(kind, raw, where="item energy")
    assert str(caught.value) == f"item energy: {expected}"


def test_single_choice_takes_one_known_option() -> None:
    assert validate(PulseItemKind.SINGLE, "b", OPTIONS).value_choices == ("b",)
    with pytest.raises(InvalidPulseValue, match="'d' is not an option: expected one of a, b, c"):
        validate(PulseItemKind.SINGLE, "d", OPTIONS)
    with pytest.raises(InvalidPulseValue, match="exactly one"):
        validate(PulseItemKind.SINGLE, ["a", "b"], OPTIONS)


def test_multi_choice_keeps_item_order_once_each() -> None:
    assert validate("multi", ["c", "a", "c"], OPTIONS).value_choices == ("a", "c")
    assert validate("multi", "b, a", OPTIONS).value_choices == ("a", "b")
    with pytest.raises(InvalidPulseValue, match="not an option: 'x'"):
        validate("multi", ["a", "x"], OPTIONS)
    with pytest.raises(InvalidPulseValue, match="at least one"):
        validate("multi", [], OPTIONS)


def test_text_is_stripped_and_empty_text_rejected() -> None:
    value = validate("text", "  Good week.  ")
    assert value.value_text == "Good week." and not value.truncated
    with pytest.raises(InvalidPulseValue, match="empty"):
        validate("text", "   ")


def test_over_long_text_is_cut_at_a_word_break_with_an_ellipsis() -> None:
    text = "word " * 30  # 150 characters
    value = validate("text", text, max_text_length=42)
    assert value.truncated
    assert value.value_text is not None and len(value.value_text) <= 42
    assert value.value_text == "word word word word word word word word" + ELLIPSIS


def test_over_long_text_without_breaks_is_cut_mid_word() -> None:
    assert truncate("x" * 100, 10) == "x" * 9 + ELLIPSIS


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="'stars'"):
        validate("stars", 3)
